//! Convolution kernels (`shaders/conv2d.wgsl`, `shaders/conv2d_subgroup.wgsl`): [`Op::Conv2d`] as an
//! implicit GEMM (output channels × output pixels, K = input channels × taps; the im2col matrix is read
//! straight from the input, never stored). The variants are those of [`super::matmul`], chosen the same
//! way ([`choose_variant`](super::matmul::choose_variant)). Like the matmul, the subgroup variant reads
//! whole vec4s where the shape allows ([`vec4_entry`]: 3×3 and 1×1 at stride 1 with 4-aligned rows; at
//! widths that are multiples of 4 that is every convolution of SD but the strided downsamplers and the VAE
//! encoder's `conv_in`, which has 3 input channels) and guarded scalars elsewhere.
//!
//! [`Op::Conv2d`]: crate::graph::Op::Conv2d

use crate::error::{Error, Result};
use crate::gpu::shaders::{CONV2D, CONV2D_SUBGROUP};
use crate::gpu::Gpu;

pub use crate::cpu::conv2d::Conv2dShape;

use super::matmul::{to_u32, variant_shader, MatmulVariant, Operands};
use super::{common_dtype, dispatch, expect_len, grid_1d, Dispatch, ParamArena};

/// Mirrors `Params` in `shaders/conv2d.wgsl` and `shaders/conv2d_subgroup.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    tiles_m: u32,
    tiles_n: u32,
    has_bias: u32,
    ks: u32,
    c_in: u32,
    h: u32,
    w: u32,
    out_w: u32,
    stride: u32,
    pad: u32,
    _pad0: u32,
    _pad1: u32,
}

/// The vec4 entry point of `shaders/conv2d_subgroup.wgsl` that computes `s`, if one does: `conv3x3` for
/// a 3×3 kernel at stride 1 with padding 1 on every side, W and Ci multiples of 4; `conv1x1` for a 1×1
/// kernel at stride 1 without padding, H·W and Ci multiples of 4. Their loads are whole vec4s.
pub fn vec4_entry(s: Conv2dShape) -> Option<&'static str> {
    let pad = (s.pad.begin, s.pad.end);
    if s.stride != 1 || !s.c_in.is_multiple_of(4) {
        return None;
    }
    match (s.k, pad) {
        (3, (1, 1)) if s.w.is_multiple_of(4) => Some("conv3x3"),
        (1, (0, 0)) if (s.h * s.w).is_multiple_of(4) => Some("conv1x1"),
        _ => None,
    }
}

/// [`Op::Conv2d`]: x `[B, Ci, H, W]`, weight `[Co, Ci, k, k]`, bias `[Co]`, y `[B, Co, OH, OW]` with
/// `OH = (H + pad.begin + pad.end − k) / stride + 1` (likewise OW). k ∈ {1, 3}, stride ∈ {1, 2}.
///
/// [`Op::Conv2d`]: crate::graph::Op::Conv2d
pub fn conv2d(
    gpu: &Gpu,
    arena: &ParamArena,
    t: Operands<'_>,
    shape: Conv2dShape,
    variant: MatmulVariant,
) -> Result<Dispatch> {
    let what = "conv2d";
    let s = shape;
    if !matches!(s.k, 1 | 3) || !matches!(s.stride, 1 | 2) {
        return Err(Error::Invalid(format!(
            "{what}: kernel {} stride {} (supported: kernel 1 or 3, stride 1 or 2)",
            s.k, s.stride
        )));
    }
    if s.batch == 0 || s.c_in == 0 || s.c_out == 0 || s.pad.begin as usize >= s.k {
        return Err(Error::Invalid(format!("{what}: unsupported shape {s:?}")));
    }
    let padding = (s.pad.begin + s.pad.end) as usize;
    if s.h + padding < s.k || s.w + padding < s.k {
        return Err(Error::Invalid(format!(
            "{what}: input {}×{} is smaller than the kernel",
            s.h, s.w
        )));
    }
    let (oh, ow) = (s.out_h(), s.out_w());
    let taps = s.c_in * s.k * s.k;
    expect_len(t.x, (s.batch * s.c_in * s.h * s.w) as u64, what)?;
    expect_len(t.weight, (s.c_out * taps) as u64, what)?;
    expect_len(t.y, (s.batch * s.c_out * oh * ow) as u64, what)?;
    let mut views = vec![t.x, t.weight, t.y];
    if let Some(bias) = t.bias {
        expect_len(bias, s.c_out as u64, what)?;
        views.push(bias);
    }
    let elem = common_dtype(&views, what)?;
    to_u32(s.batch * s.c_in * s.h * s.w, "conv2d input elements")?;
    to_u32(s.batch * s.c_out * oh * ow, "conv2d output elements")?;
    to_u32(s.c_out * taps, "conv2d weight elements")?;

    let shader = variant_shader(gpu, variant, &CONV2D, &CONV2D_SUBGROUP)?;
    let mut entry = "conv2d";
    let mut constants = vec![("KS", s.k as u64)];
    if variant == MatmulVariant::Subgroup {
        if let Some(e) = vec4_entry(s) {
            (entry, constants) = (e, Vec::new());
        }
    }
    let (tile_m, tile_n) = variant.tile();
    let (m, n) = (s.c_out as u32, (oh * ow) as u32);
    let params = Params {
        m,
        n,
        k: taps as u32,
        batch: s.batch as u32,
        tiles_m: m.div_ceil(tile_m),
        tiles_n: n.div_ceil(tile_n),
        has_bias: t.bias.is_some() as u32,
        ks: s.k as u32,
        c_in: s.c_in as u32,
        h: s.h as u32,
        w: s.w as u32,
        out_w: ow as u32,
        stride: s.stride as u32,
        pad: s.pad.begin,
        _pad0: 0,
        _pad1: 0,
    };
    let tiles = params.tiles_m as u64 * params.tiles_n as u64 * s.batch as u64;
    let grid = grid_1d(gpu, tiles, what)?;
    let pipeline = gpu.pipeline(shader, entry, elem, &constants)?;
    let label = format!(
        "conv2d {}×{}×{}×{} k{} s{} -> {}×{}×{} ({}, {entry}) -> {}",
        s.batch,
        s.c_in,
        s.h,
        s.w,
        s.k,
        s.stride,
        s.c_out,
        oh,
        ow,
        variant.name(),
        t.y.name
    );
    // Without a bias the shader never reads binding 3; the weight stands in for it.
    let bias = t.bias.unwrap_or(t.weight);
    dispatch(
        gpu,
        label,
        pipeline,
        arena.push(gpu, &params)?,
        &[(1, t.x), (2, t.weight), (3, bias), (4, t.y)],
        grid,
    )
}
