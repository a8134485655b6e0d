//! Normalisation kernels (`shaders/norm.wgsl`): [`Op::GroupNorm`] and [`Op::LayerNorm`].
//!
//! Group norm is a split reduction in two dispatches, so that a VAE-decoder group of 8 M elements is
//! reduced by hundreds of workgroups rather than one. The partial statistics go to a small f32 scratch
//! tensor that the caller places (the planner puts it in the arena): its length is
//! [`group_norm_scratch_len`], which depends on the shape only, never on the device.
//!
//! [`Op::GroupNorm`]: crate::graph::Op::GroupNorm
//! [`Op::LayerNorm`]: crate::graph::Op::LayerNorm

use crate::error::{Error, Result};
use crate::gpu::shaders::NORM;
use crate::gpu::{Gpu, TensorView};
use crate::graph::DType;

use super::{common_dtype, dispatch, expect_len, grid_1d, Dispatch, ParamArena};

/// Most threads per group-norm workgroup (`WG_MAX` in the shader); also the most splits a group can have.
/// Chunks are whole multiples of `4 · WG` so that any power-of-two workgroup size up to it divides them.
const WG: u64 = 256;

/// Group-norm threads per workgroup on software adapters (the `WG` override), where one CPU thread runs
/// a workgroup and each barrier of the reduction tree switches between all its subgroups.
const SOFTWARE_WG: u64 = 32;

/// Elements one group-norm split aims at: 32 per thread. Enough work per workgroup to hide its two
/// reductions, small enough that a U-Net group (10 channels × 64² = 40 960 elements) still gets 5 splits.
const TARGET_CHUNK: u64 = 32 * WG;

/// f32 values per partial summary in the scratch tensor: (count, mean, M2, unused).
const PARTIAL_F32S: u64 = 4;

/// Mirrors `Params` in `shaders/norm.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    groups: u32,
    group_len: u32,
    chunk: u32,
    splits: u32,
    spatial: u32,
    ch_per_group: u32,
    num_groups: u32,
    silu: u32,
    eps: f32,
    rows: u32,
    width: u32,
    first: u32,
}

/// The shape of a group norm: x is `[batch, channels, *spatial]` with `spatial` elements per channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupNormShape {
    /// B.
    pub batch: u32,
    /// C.
    pub channels: u32,
    /// H·W (product of the spatial dims).
    pub spatial: u32,
    /// G, dividing C.
    pub groups: u32,
}

impl GroupNormShape {
    fn group_len(&self) -> u64 {
        (self.channels / self.groups) as u64 * self.spatial as u64
    }

    fn len(&self) -> u64 {
        self.batch as u64 * self.channels as u64 * self.spatial as u64
    }

    /// (elements per split, splits per group).
    fn split(&self) -> (u64, u64) {
        let len = self.group_len();
        let splits = len.div_ceil(TARGET_CHUNK).clamp(1, WG);
        // Whole blocks of four strided values per thread, so only a chunk's last block is ragged.
        let chunk = len.div_ceil(splits).div_ceil(4 * WG) * 4 * WG;
        (chunk, len.div_ceil(chunk))
    }

    fn check(&self) -> Result<()> {
        if self.batch == 0 || self.channels == 0 || self.spatial == 0 || self.groups == 0 {
            return Err(Error::Invalid(format!("group_norm: empty shape {self:?}")));
        }
        if !self.channels.is_multiple_of(self.groups) {
            return Err(Error::Invalid(format!(
                "group_norm: {} groups do not divide {} channels",
                self.groups, self.channels
            )));
        }
        if self.len() > u32::MAX as u64 {
            return Err(Error::Invalid(format!(
                "group_norm: {} elements overflow 32-bit indexing",
                self.len()
            )));
        }
        Ok(())
    }
}

/// Length in f32 elements of the scratch tensor [`group_norm`] needs for `shape`: four f32s per
/// (batch, group, split). A pure function of the shape, for the planner. Zero for an invalid shape.
pub fn group_norm_scratch_len(shape: GroupNormShape) -> u64 {
    if shape.check().is_err() {
        return 0;
    }
    let (_, splits) = shape.split();
    shape.batch as u64 * shape.groups as u64 * splits * PARTIAL_F32S
}

/// Layer-norm threads per workgroup (`LN_WG` in the shader) on a GPU.
const LN_WG: u64 = 128;

/// Layer-norm threads per workgroup on software adapters. A row of 320–1280 is short, so the two
/// reduction trees are most of the work, and on a CPU adapter each barrier costs a switch between all the
/// workgroup's subgroups: measured on lavapipe at 4096 × 320, 8 threads took 40 ms, 32 took 90 and 128
/// took 158.
const SOFTWARE_LN_WG: u64 = 8;

/// The tensors of a normalisation: `y = (x − mean) / sqrt(var + eps) · gamma + beta`.
#[derive(Clone, Copy, Debug)]
pub struct NormTensors<'a> {
    /// Input.
    pub x: &'a TensorView,
    /// Scale: `[C]` for group norm, `[width]` for layer norm.
    pub gamma: &'a TensorView,
    /// Shift, shaped like `gamma`.
    pub beta: &'a TensorView,
    /// Output, shaped like `x`.
    pub y: &'a TensorView,
}

/// Options of [`group_norm_with`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroupNormOptions {
    /// Added to the variance.
    pub eps: f32,
    /// Apply SiLU after the affine transform (diffusers' `norm` + `nonlinearity` in `ResnetBlock2D`).
    pub silu: bool,
    /// Threads per workgroup: a power of two from 1 to 256. [`group_norm_threads`] is the adapter's best.
    pub threads: u32,
}

/// The group-norm workgroup size [`group_norm`] uses on `gpu`: 256, or 32 on a software adapter.
pub fn group_norm_threads(gpu: &Gpu) -> u32 {
    if gpu.is_software() {
        SOFTWARE_WG as u32
    } else {
        WG as u32
    }
}

/// Group normalisation, affine, SiLU optionally fused: x `[B, C, *]` → y, statistics per
/// (batch, group) over (C/G)·spatial elements in f32. `scratch` is an f32 tensor of exactly
/// [`group_norm_scratch_len`] elements, overwritten; it must not overlap x or y. Returns the two
/// dispatches (statistics, then normalisation), to be run in that order.
pub fn group_norm(
    gpu: &Gpu,
    arena: &ParamArena,
    t: NormTensors<'_>,
    scratch: &TensorView,
    shape: GroupNormShape,
    eps: f32,
    silu: bool,
) -> Result<[Dispatch; 2]> {
    let options = GroupNormOptions {
        eps,
        silu,
        threads: group_norm_threads(gpu),
    };
    group_norm_with(gpu, arena, t, scratch, shape, options)
}

/// A checked group norm: its storage type, parameters, grid `(splits, B·G)`, workgroup size and the
/// dispatch of its first stage (this input's partial statistics into `scratch`).
struct Prepared {
    elem: DType,
    params: Params,
    grid: [u32; 3],
    constants: [(&'static str, u64); 1],
    stats: Dispatch,
}

/// Checks the tensors and the shape of a group norm and builds its statistics dispatch.
fn prepare(
    gpu: &Gpu,
    arena: &ParamArena,
    t: NormTensors<'_>,
    scratch: &TensorView,
    shape: GroupNormShape,
    options: GroupNormOptions,
) -> Result<Prepared> {
    let GroupNormOptions { eps, silu, threads } = options;
    if !threads.is_power_of_two() || threads as u64 > WG {
        return Err(Error::Invalid(format!(
            "group_norm: {threads} threads per workgroup is not a power of two up to {WG}"
        )));
    }
    let NormTensors { x, gamma, beta, y } = t;
    shape.check()?;
    expect_len(x, shape.len(), "group_norm")?;
    expect_len(gamma, shape.channels as u64, "group_norm")?;
    expect_len(beta, shape.channels as u64, "group_norm")?;
    expect_len(y, shape.len(), "group_norm")?;
    expect_len(scratch, group_norm_scratch_len(shape), "group_norm scratch")?;
    if scratch.dtype != DType::F32 {
        return Err(Error::Invalid(format!(
            "group_norm: scratch tensor {} must be F32, not {:?}",
            scratch.name, scratch.dtype
        )));
    }
    let elem = common_dtype(&[x, gamma, beta, y], "group_norm")?;
    let pairs = shape.batch as u64 * shape.groups as u64;
    let max = gpu.limits().max_compute_workgroups_per_dimension as u64;
    if pairs > max {
        return Err(Error::Limit {
            what: format!("group_norm grid ({pairs} batch·group pairs)"),
            limit: "max_compute_workgroups_per_dimension",
            needed: pairs,
            max,
        });
    }
    let (chunk, splits) = shape.split();
    let params = Params {
        groups: pairs as u32,
        group_len: shape.group_len() as u32,
        chunk: chunk as u32,
        splits: splits as u32,
        spatial: shape.spatial,
        ch_per_group: shape.channels / shape.groups,
        num_groups: shape.groups,
        silu: silu as u32,
        eps,
        ..Default::default()
    };
    let grid = [splits as u32, pairs as u32, 1];
    let constants = [("WG", threads as u64)];
    let stats = dispatch(
        gpu,
        format!("group_norm_stats {} -> {}", x.name, scratch.name),
        gpu.pipeline(&NORM, "group_norm_stats", elem, &constants)?,
        arena.push(gpu, &params)?,
        &[(1, x), (5, scratch)],
        grid,
    )?;
    Ok(Prepared {
        elem,
        params,
        grid,
        constants,
        stats,
    })
}

/// [`group_norm`] with an explicit workgroup size (tests run every size on any adapter).
pub fn group_norm_with(
    gpu: &Gpu,
    arena: &ParamArena,
    t: NormTensors<'_>,
    scratch: &TensorView,
    shape: GroupNormShape,
    options: GroupNormOptions,
) -> Result<[Dispatch; 2]> {
    let p = prepare(gpu, arena, t, scratch, shape, options)?;
    let NormTensors { x, gamma, beta, y } = t;
    let apply = dispatch(
        gpu,
        format!("group_norm -> {}", y.name),
        gpu.pipeline(&NORM, "group_norm_apply", p.elem, &p.constants)?,
        arena.push(gpu, &p.params)?,
        &[(1, x), (2, gamma), (3, beta), (4, y), (5, scratch)],
        p.grid,
    )?;
    Ok([p.stats, apply])
}

/// The dispatches of a group norm whose statistics are shared across the tiles of a tiled phase
/// ([`group_norm_tiled`]).
pub struct TiledGroupNorm {
    /// This tile's partial statistics into the scratch tensor (as [`group_norm`]'s first dispatch).
    pub stats: Dispatch,
    /// Overwrites the shared summary with this tile's (the first tile of the gathering pass).
    pub gather_first: Dispatch,
    /// Folds this tile's statistics into the shared summary (the other tiles of the gathering pass).
    pub gather: Dispatch,
    /// Normalises x with the shared summary.
    pub apply: Dispatch,
}

impl TiledGroupNorm {
    /// The indices into [`TiledGroupNorm::into_vec`] of the dispatches of run `slot` of `grid`, in
    /// order. The gathering pass folds each tile into the summary and normalises the tile with all
    /// tiles so far (the first with its own statistics); the final pass normalises with the summary of
    /// every tile.
    pub fn slot(grid: &crate::graph::TileGrid, slot: u32) -> &'static [usize] {
        match grid.slot(slot) {
            _ if grid.is_final(slot) => &[3],
            (_, 0) => &[0, 1, 3],
            _ => &[0, 2, 3],
        }
    }

    /// stats, gather_first, gather, apply.
    pub fn into_vec(self) -> Vec<Dispatch> {
        vec![self.stats, self.gather_first, self.gather, self.apply]
    }
}

/// Length in f32 elements of the shared summary of [`group_norm_tiled`]: four per (batch, group).
pub fn group_norm_shared_len(shape: GroupNormShape) -> u64 {
    shape.batch as u64 * shape.groups as u64 * PARTIAL_F32S
}

/// Group norm with statistics shared across tiles: like [`group_norm`], plus `shared`, an f32 tensor
/// of [`group_norm_shared_len`] elements that holds the (count, mean, M2) summary of every tile
/// gathered into it. It must outlive the tiled phase and overlap none of x, y and `scratch`. A grid
/// that shares statistics has two passes ([`crate::graph::TileGrid::passes`]); with one pass, every
/// run only normalises with the summary, which must then have been gathered before.
#[allow(clippy::too_many_arguments)]
pub fn group_norm_tiled(
    gpu: &Gpu,
    arena: &ParamArena,
    t: NormTensors<'_>,
    scratch: &TensorView,
    shared: &TensorView,
    shape: GroupNormShape,
    eps: f32,
    silu: bool,
) -> Result<TiledGroupNorm> {
    let options = GroupNormOptions {
        eps,
        silu,
        threads: group_norm_threads(gpu),
    };
    let p = prepare(gpu, arena, t, scratch, shape, options)?;
    expect_len(
        shared,
        group_norm_shared_len(shape),
        "group_norm shared statistics",
    )?;
    if shared.dtype != DType::F32 {
        return Err(Error::Invalid(format!(
            "group_norm: shared statistics {} must be F32, not {:?}",
            shared.name, shared.dtype
        )));
    }
    let NormTensors { x, gamma, beta, y } = t;
    let gather = |first: bool| {
        let params = Params {
            first: first as u32,
            ..p.params
        };
        dispatch(
            gpu,
            format!("group_norm_gather {} -> {}", x.name, shared.name),
            gpu.pipeline(&NORM, "group_norm_gather", p.elem, &p.constants)?,
            arena.push(gpu, &params)?,
            &[(1, x), (5, scratch), (6, shared)],
            [1, p.grid[1], 1],
        )
    };
    let apply = dispatch(
        gpu,
        format!("group_norm_apply_shared -> {}", y.name),
        gpu.pipeline(&NORM, "group_norm_apply_shared", p.elem, &p.constants)?,
        arena.push(gpu, &p.params)?,
        &[(1, x), (2, gamma), (3, beta), (4, y), (6, shared)],
        p.grid,
    )?;
    Ok(TiledGroupNorm {
        stats: p.stats,
        gather_first: gather(true)?,
        gather: gather(false)?,
        apply,
    })
}

/// The layer-norm workgroup size [`layer_norm`] uses on `gpu`: 128, or 8 on a software adapter.
pub fn layer_norm_threads(gpu: &Gpu) -> u32 {
    if gpu.is_software() {
        SOFTWARE_LN_WG as u32
    } else {
        LN_WG as u32
    }
}

/// Layer normalisation over the last dimension (`width`), affine: x `[rows, width]` → y, gamma and beta
/// `[width]`. Exact two-pass statistics in f32.
pub fn layer_norm(
    gpu: &Gpu,
    arena: &ParamArena,
    t: NormTensors<'_>,
    width: u32,
    eps: f32,
) -> Result<Dispatch> {
    layer_norm_with(gpu, arena, t, width, eps, layer_norm_threads(gpu))
}

/// [`layer_norm`] with an explicit workgroup size, a power of two from 1 to 128 (tests run every size
/// on any adapter).
pub fn layer_norm_with(
    gpu: &Gpu,
    arena: &ParamArena,
    t: NormTensors<'_>,
    width: u32,
    eps: f32,
    threads: u32,
) -> Result<Dispatch> {
    if !threads.is_power_of_two() || threads as u64 > LN_WG {
        return Err(Error::Invalid(format!(
            "layer_norm: {threads} threads per workgroup is not a power of two up to {LN_WG}"
        )));
    }
    let NormTensors { x, gamma, beta, y } = t;
    if width == 0 || !x.len.is_multiple_of(width as u64) || x.len == 0 {
        return Err(Error::Invalid(format!(
            "layer_norm: tensor {} of {} elements is not rows of {width}",
            x.name, x.len
        )));
    }
    if x.len > u32::MAX as u64 {
        return Err(Error::Invalid(format!(
            "layer_norm: {} elements overflow 32-bit indexing",
            x.len
        )));
    }
    expect_len(gamma, width as u64, "layer_norm")?;
    expect_len(beta, width as u64, "layer_norm")?;
    expect_len(y, x.len, "layer_norm")?;
    let elem = common_dtype(&[x, gamma, beta, y], "layer_norm")?;
    let rows = x.len / width as u64;
    let params = Params {
        eps,
        rows: rows as u32,
        width,
        ..Default::default()
    };
    dispatch(
        gpu,
        format!("layer_norm -> {}", y.name),
        gpu.pipeline(&NORM, "layer_norm", elem, &[("LN_WG", threads as u64)])?,
        arena.push(gpu, &params)?,
        &[(1, x), (2, gamma), (3, beta), (4, y)],
        grid_1d(gpu, rows, "layer_norm")?,
    )
}
