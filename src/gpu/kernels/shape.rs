//! Shape kernels (`shaders/shape.wgsl`): [`Op::Upsample2x`], [`Op::Concat`], [`Op::Transpose`].
//!
//! [`Op::Upsample2x`]: crate::graph::Op::Upsample2x
//! [`Op::Concat`]: crate::graph::Op::Concat
//! [`Op::Transpose`]: crate::graph::Op::Transpose

use crate::error::{Error, Result};
use crate::gpu::shaders::SHAPE;
use crate::gpu::{Gpu, TensorView};

use super::{common_dtype, dispatch, expect_len, grid_1d, Dispatch, ParamArena};

/// Threads per workgroup of the elementwise-style entries (`WG` in the shader).
const WG: u64 = 256;
/// Transpose tile edge (`TILE` in the shader).
const TILE: u64 = 32;

/// Mirrors `Params` in `shaders/shape.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    d0: u32,
    d1: u32,
    _pad: u32,
}

fn checked_u32(n: u64, what: &str) -> Result<u32> {
    u32::try_from(n)
        .map_err(|_| Error::Invalid(format!("{what}: {n} elements overflow 32-bit indexing")))
}

fn launch(
    gpu: &Gpu,
    arena: &ParamArena,
    entry: &'static str,
    params: Params,
    tensors: &[(u32, &TensorView)],
) -> Result<Dispatch> {
    let views: Vec<&TensorView> = tensors.iter().map(|t| t.1).collect();
    let elem = common_dtype(&views, entry)?;
    let out = tensors.last().map(|t| &*t.1.name).unwrap_or("");
    dispatch(
        gpu,
        format!("{entry} -> {out}"),
        gpu.pipeline(&SHAPE, entry, elem, &[])?,
        arena.push(gpu, &params)?,
        tensors,
        grid_1d(gpu, (params.n as u64).div_ceil(WG), entry)?,
    )
}

/// Nearest-neighbour 2× upsampling: x `[planes, h, w]` (planes = B·C) → y `[planes, 2h, 2w]`.
pub fn upsample2x(
    gpu: &Gpu,
    arena: &ParamArena,
    x: &TensorView,
    y: &TensorView,
    h: u32,
    w: u32,
) -> Result<Dispatch> {
    let plane = h as u64 * w as u64;
    if plane == 0 || !x.len.is_multiple_of(plane) {
        return Err(Error::Invalid(format!(
            "upsample2x: tensor {} of {} elements is not planes of {h}×{w}",
            x.name, x.len
        )));
    }
    expect_len(y, x.len * 4, "upsample2x")?;
    let params = Params {
        n: checked_u32(y.len, "upsample2x")?,
        d0: h,
        d1: w,
        _pad: 0,
    };
    launch(gpu, arena, "upsample2x", params, &[(1, x), (3, y)])
}

/// Concatenation along channels: a `[B, Ca, H, W]`, b `[B, Cb, H, W]` → y `[B, Ca + Cb, H, W]`. `batch`
/// is B; the per-batch sizes Ca·H·W and Cb·H·W follow from the lengths.
pub fn concat(
    gpu: &Gpu,
    arena: &ParamArena,
    a: &TensorView,
    b: &TensorView,
    y: &TensorView,
    batch: u32,
) -> Result<Dispatch> {
    let bt = batch as u64;
    if bt == 0 || !a.len.is_multiple_of(bt) || !b.len.is_multiple_of(bt) || a.len == 0 || b.len == 0
    {
        return Err(Error::Invalid(format!(
            "concat: tensors {} ({}) and {} ({}) are not {batch} batches",
            a.name, a.len, b.name, b.len
        )));
    }
    expect_len(y, a.len + b.len, "concat")?;
    let params = Params {
        n: checked_u32(y.len, "concat")?,
        d0: (a.len / bt) as u32,
        d1: (b.len / bt) as u32,
        _pad: 0,
    };
    launch(gpu, arena, "concat", params, &[(1, a), (2, b), (3, y)])
}

/// Swap of the last two dims: x `[batch, m, n]` → y `[batch, n, m]` (NCHW `[B, C, HW]` ↔ `[B, HW, C]`).
pub fn transpose(
    gpu: &Gpu,
    arena: &ParamArena,
    x: &TensorView,
    y: &TensorView,
    batch: u32,
    m: u32,
    n: u32,
) -> Result<Dispatch> {
    let len = batch as u64 * m as u64 * n as u64;
    if len == 0 {
        return Err(Error::Invalid(format!(
            "transpose: empty shape [{batch}, {m}, {n}]"
        )));
    }
    expect_len(x, len, "transpose")?;
    expect_len(y, len, "transpose")?;
    let elem = common_dtype(&[x, y], "transpose")?;
    let grid = [
        (n as u64).div_ceil(TILE),
        (m as u64).div_ceil(TILE),
        batch as u64,
    ];
    let max = gpu.limits().max_compute_workgroups_per_dimension as u64;
    if let Some(&g) = grid.iter().find(|&&g| g > max) {
        return Err(Error::Limit {
            what: format!("transpose grid {grid:?}"),
            limit: "max_compute_workgroups_per_dimension",
            needed: g,
            max,
        });
    }
    let params = Params {
        n: checked_u32(len, "transpose")?,
        d0: m,
        d1: n,
        _pad: 0,
    };
    dispatch(
        gpu,
        format!("transpose -> {}", y.name),
        gpu.pipeline(&SHAPE, "transpose", elem, &[])?,
        arena.push(gpu, &params)?,
        &[(1, x), (3, y)],
        grid.map(|g| g as u32),
    )
}
