//! Reference for [`Op::Conv2d`]: the direct definition, in f64.
//!
//! [`Op::Conv2d`]: crate::graph::Op::Conv2d

use crate::graph::Padding;

/// Shape of a 2-D convolution over NCHW input with a square kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dShape {
    /// Batch.
    pub batch: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Kernel size (1 or 3 in SD).
    pub k: usize,
    /// Stride (1 or 2 in SD).
    pub stride: usize,
    /// Zero padding, the same for H and W.
    pub pad: Padding,
}

impl Conv2dShape {
    /// Output height `(h + begin + end − k) / stride + 1`.
    pub fn out_h(&self) -> usize {
        (self.h + (self.pad.begin + self.pad.end) as usize - self.k) / self.stride + 1
    }

    /// Output width.
    pub fn out_w(&self) -> usize {
        (self.w + (self.pad.begin + self.pad.end) as usize - self.k) / self.stride + 1
    }
}

/// `y[b, o, i, j] = bias[o] + Σ_{c, u, v} x[b, c, i·s + u − p, j·s + v − p] · w[o, c, u, v]`, with zero
/// outside the input. x `[B, Ci, H, W]`, w `[Co, Ci, k, k]`, bias `[Co]`; returns `[B, Co, OH, OW]`.
pub fn conv2d(x: &[f32], w: &[f32], bias: Option<&[f32]>, s: Conv2dShape) -> Vec<f32> {
    let (oh, ow) = (s.out_h(), s.out_w());
    let p = s.pad.begin as isize;
    let mut y = vec![0f32; s.batch * s.c_out * oh * ow];
    for b in 0..s.batch {
        for o in 0..s.c_out {
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = bias.map_or(0.0, |bias| bias[o] as f64);
                    for c in 0..s.c_in {
                        for u in 0..s.k {
                            for v in 0..s.k {
                                let iy = (i * s.stride + u) as isize - p;
                                let ix = (j * s.stride + v) as isize - p;
                                if iy < 0 || ix < 0 || iy >= s.h as isize || ix >= s.w as isize {
                                    continue;
                                }
                                let xi = ((b * s.c_in + c) * s.h + iy as usize) * s.w + ix as usize;
                                let wi = ((o * s.c_in + c) * s.k + u) * s.k + v;
                                acc += x[xi] as f64 * w[wi] as f64;
                            }
                        }
                    }
                    y[((b * s.c_out + o) * oh + i) * ow + j] = acc as f32;
                }
            }
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_by_three_sum_with_padding() {
        // All-ones 3×3 input and kernel, padding 1: each output counts the input pixels in its window
        // (corners 4, edges 6, centre 9), as torch.nn.functional.conv2d gives.
        let s = Conv2dShape {
            batch: 1,
            c_in: 1,
            c_out: 1,
            h: 3,
            w: 3,
            k: 3,
            stride: 1,
            pad: Padding { begin: 1, end: 1 },
        };
        let y = conv2d(&[1.0; 9], &[1.0; 9], Some(&[0.5]), s);
        assert_eq!(y, vec![4.5, 6.5, 4.5, 6.5, 9.5, 6.5, 4.5, 6.5, 4.5]);
        // Asymmetric (0, 1) padding with stride 2 on all-ones 4×4: output 2×2, the windows past the end
        // see the padding: torch `conv2d(pad(ones(1, 1, 4, 4), (0, 1, 0, 1)), ones(1, 1, 3, 3), stride=2)`.
        let s = Conv2dShape {
            h: 4,
            w: 4,
            stride: 2,
            pad: Padding { begin: 0, end: 1 },
            ..s
        };
        assert_eq!((s.out_h(), s.out_w()), (2, 2));
        assert_eq!(conv2d(&[1.0; 16], &[1.0; 9], None, s), vec![9., 6., 6., 4.]);
    }
}
