//! References for [`Op::Linear`] and the batched matmul: plain triple loops in f64.
//!
//! [`Op::Linear`]: crate::graph::Op::Linear

use crate::graph::Activation;

use super::elementwise::activate;

/// Shape of a batched matmul `y[b] = act(a[b] · op(w[b]) + bias)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulShape {
    /// Number of products.
    pub batch: usize,
    /// Rows of `a` and `y`.
    pub m: usize,
    /// Columns of `y` (rows of `w` when `w_transposed`).
    pub n: usize,
    /// The reduced dimension.
    pub k: usize,
    /// `true`: `w[b]` is `[n, k]` (torch's linear weight) and `op(w) = wᵀ`; `false`: `w[b]` is `[k, n]`.
    pub w_transposed: bool,
    /// `false`: one `w` shared by every batch; `true`: `batch` stacked matrices.
    pub w_batched: bool,
}

/// `y[b, m, n] = act(Σ_k a[b, m, k] · op(w[b])[k, n] + bias[n])`. `a` is `[batch, m, k]`; `w` is one
/// or `batch` matrices as `shape` says; `bias` is `[n]`. Returns `[batch, m, n]`.
pub fn matmul(
    a: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    shape: MatmulShape,
    act: Activation,
) -> Vec<f32> {
    let MatmulShape { batch, m, n, k, .. } = shape;
    let mut y = vec![0f32; batch * m * n];
    for b in 0..batch {
        let wb = if shape.w_batched { b * n * k } else { 0 };
        for i in 0..m {
            for j in 0..n {
                let mut s = 0f64;
                for l in 0..k {
                    let wv = if shape.w_transposed {
                        w[wb + j * k + l]
                    } else {
                        w[wb + l * n + j]
                    };
                    s += a[(b * m + i) * k + l] as f64 * wv as f64;
                }
                if let Some(bias) = bias {
                    s += bias[j] as f64;
                }
                y[(b * m + i) * n + j] = activate(s, act) as f32;
            }
        }
    }
    y
}

/// `y[r, o] = act(Σ_i x[r, i] · weight[o, i] + bias[o])` over `rows` rows of `x` `[rows, in_features]`,
/// weight `[out_features, in_features]`.
pub fn linear(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    out_features: usize,
    act: Activation,
) -> Vec<f32> {
    let in_features = weight.len() / out_features;
    let shape = MatmulShape {
        batch: 1,
        m: x.len() / in_features,
        n: out_features,
        k: in_features,
        w_transposed: true,
        w_batched: false,
    };
    matmul(x, weight, bias, shape, act)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_by_two() {
        // [[1, 2], [3, 4]] · [[5, 6], [7, 8]] = [[19, 22], [43, 50]] (numpy).
        let shape = MatmulShape {
            batch: 1,
            m: 2,
            n: 2,
            k: 2,
            w_transposed: false,
            w_batched: false,
        };
        let y = matmul(
            &[1., 2., 3., 4.],
            &[5., 6., 7., 8.],
            None,
            shape,
            Activation::None,
        );
        assert_eq!(y, vec![19., 22., 43., 50.]);
        // Linear with weight [[5, 7], [6, 8]] ([out, in]) and bias [1, -1] is the same product plus bias.
        let y = linear(
            &[1., 2., 3., 4.],
            &[5., 7., 6., 8.],
            Some(&[1., -1.]),
            2,
            Activation::None,
        );
        assert_eq!(y, vec![20., 21., 44., 49.]);
    }
}
