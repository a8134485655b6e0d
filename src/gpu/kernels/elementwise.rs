//! Elementwise kernels (`shaders/elementwise.wgsl`): [`Op::Add`], [`Op::Mul`], [`Op::Scale`],
//! [`Op::Unary`], [`Op::Geglu`].
//!
//! [`Op::Add`]: crate::graph::Op::Add
//! [`Op::Mul`]: crate::graph::Op::Mul
//! [`Op::Scale`]: crate::graph::Op::Scale
//! [`Op::Unary`]: crate::graph::Op::Unary
//! [`Op::Geglu`]: crate::graph::Op::Geglu

use crate::error::{Error, Result};
use crate::gpu::shaders::ELEMENTWISE;
use crate::gpu::{Gpu, TensorView};
use crate::graph::{Activation, BroadcastShape};

use super::{common_dtype, dispatch, expect_len, grid_1d, Dispatch, ParamArena};

/// Threads per workgroup (`WG` in the shader).
const WG: u64 = 256;

/// Mirrors `Params` in `shaders/elementwise.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    code: u32,
    half_width: u32,
    _pad: u32,
    a_dims: [u32; 4],
    b_strides: [u32; 4],
    alpha: f32,
    beta: f32,
    _pad2: [u32; 2],
}

/// Which binary operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// `a + b`.
    Add,
    /// `a · b`.
    Mul,
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
    let pipeline = gpu.pipeline(&ELEMENTWISE, entry, elem, &[])?;
    let grid = grid_1d(gpu, (params.n as u64).div_ceil(WG), entry)?;
    let label = format!(
        "{entry} -> {}",
        tensors.last().map(|t| &*t.1.name).unwrap_or("")
    );
    dispatch(
        gpu,
        label,
        pipeline,
        arena.push(gpu, &params)?,
        tensors,
        grid,
    )
}

/// Element strides of `b` against `a`'s 4-D shape, 0 where `b` broadcasts.
fn broadcast_strides(shape: &BroadcastShape) -> Result<[u32; 4]> {
    let mut strides = [0u32; 4];
    let mut stride = 1u32;
    for d in (0..4).rev() {
        let (a, b) = (shape.a[d], shape.b[d]);
        if b != a && b != 1 {
            return Err(Error::Invalid(format!(
                "cannot broadcast {:?} against {:?}",
                shape.b, shape.a
            )));
        }
        strides[d] = if b == 1 { 0 } else { stride };
        stride *= b;
    }
    Ok(strides)
}

/// `y = a ∘ b` with `b` broadcast as `shape` says.
pub fn binary(
    gpu: &Gpu,
    arena: &ParamArena,
    op: Binary,
    a: &TensorView,
    b: &TensorView,
    y: &TensorView,
    shape: BroadcastShape,
) -> Result<Dispatch> {
    let n: u64 = shape.a.iter().map(|&d| d as u64).product();
    let nb: u64 = shape.b.iter().map(|&d| d as u64).product();
    expect_len(a, n, "binary op")?;
    expect_len(b, nb, "binary op")?;
    expect_len(y, n, "binary op")?;
    let params = Params {
        n: n as u32,
        code: (op == Binary::Mul) as u32,
        a_dims: shape.a,
        b_strides: broadcast_strides(&shape)?,
        ..Default::default()
    };
    launch(gpu, arena, "binary", params, &[(1, a), (2, b), (3, y)])
}

/// `y = alpha · x + beta`.
pub fn scale(
    gpu: &Gpu,
    arena: &ParamArena,
    x: &TensorView,
    y: &TensorView,
    alpha: f32,
    beta: f32,
) -> Result<Dispatch> {
    expect_len(y, x.len, "scale")?;
    let params = Params {
        n: x.len as u32,
        alpha,
        beta,
        ..Default::default()
    };
    launch(gpu, arena, "scale", params, &[(1, x), (3, y)])
}

/// `y = f(x)`.
pub fn unary(
    gpu: &Gpu,
    arena: &ParamArena,
    x: &TensorView,
    y: &TensorView,
    f: Activation,
) -> Result<Dispatch> {
    expect_len(y, x.len, "unary")?;
    let params = Params {
        n: x.len as u32,
        code: f.code(),
        ..Default::default()
    };
    launch(gpu, arena, "unary", params, &[(1, x), (3, y)])
}

/// GEGLU: x `[rows, 2F]` → y `[rows, F]`, `y = x[:, :F] · gelu(x[:, F:])`.
pub fn geglu(
    gpu: &Gpu,
    arena: &ParamArena,
    x: &TensorView,
    y: &TensorView,
    half_width: u32,
) -> Result<Dispatch> {
    if half_width == 0 || !x.len.is_multiple_of(2 * half_width as u64) {
        return Err(Error::Invalid(format!(
            "geglu: {} elements are not rows of 2×{half_width}",
            x.len
        )));
    }
    expect_len(y, x.len / 2, "geglu")?;
    let params = Params {
        n: y.len as u32,
        half_width,
        ..Default::default()
    };
    launch(gpu, arena, "geglu", params, &[(1, x), (3, y)])
}
