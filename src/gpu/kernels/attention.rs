//! Flash attention (`shaders/attention.wgsl`): [`Op::Attention`].
//!
//! The score matrix `[heads, Nq, Nk]` is never stored. Two kernels compute the same thing:
//! - [`AttentionKernel::Tiled`], for GPUs: each workgroup streams key tiles through workgroup memory and
//!   keeps an online softmax. Any head size D works: the score phase loops over D in chunks of 64 and the
//!   output's D columns are split into slices of at most 64 (one workgroup per slice).
//! - [`AttentionKernel::Rows`], for software adapters: one invocation per query, its rows in registers,
//!   no workgroup memory and no barriers. Where D is a multiple of 4 and the device has subgroups of ≥ 8
//!   lanes, `shaders/attention_rows_vec4.wgsl` reads whole vec4s and shares each key and value row
//!   across the subgroup by broadcasts (9.5–17 GFLOP/s on 2-core lavapipe at SD1.5's three U-Net levels,
//!   against 1.5 for the scalar rows kernel and 0.26 for the tiled one); past D = 160 its
//!   `attention_rows_wide` splits the output row into slices (the VAE's D = 512: 2.8–5.0 GFLOP/s
//!   against 0.2). Otherwise `attention_rows` in `shaders/attention.wgsl` reads scalars, for D ≤ 64
//!   ([`rows_supported`]).
//!
//! [`attention`] picks one with [`default_kernel`].
//!
//! [`Op::Attention`]: crate::graph::Op::Attention

use crate::error::{Error, Result};
use crate::gpu::shaders::{ATTENTION, ATTENTION_ROWS_VEC4};
use crate::gpu::{Gpu, TensorView};

use super::matmul::subgroup_supported;
use super::{common_dtype, dispatch, expect_len, Dispatch, ParamArena};

/// Queries per workgroup (`BQ` in the shader).
const BQ: u32 = 16;
/// Widest output slice per workgroup (`BQ · DV_MAX / WG = VPT` in the shader).
const DV_MAX: u32 = 64;
/// Bytes of workgroup memory the shader declares: qs 1024 + kvs 2080 + ps 512 + 3 · BQ f32s.
const WORKGROUP_BYTES: u32 = (1024 + 2080 + 512 + 3 * BQ) * 4;

/// Mirrors `Params` in `shaders/attention.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    nq: u32,
    nk: u32,
    heads: u32,
    head_dim: u32,
    dv: u32,
    slices: u32,
    causal: u32,
    scale: f32,
}

/// The shape and options of one attention call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionShape {
    /// B.
    pub batch: u32,
    /// Query tokens per batch.
    pub nq: u32,
    /// Key/value tokens per batch.
    pub nk: u32,
    /// H.
    pub heads: u32,
    /// D, the head size (any value ≥ 1).
    pub head_dim: u32,
    /// Multiplies `Q Kᵀ`; `1/√D` for SD and CLIP.
    pub scale: f32,
    /// Key j is visible to query i iff j ≤ i (CLIP's text encoder).
    pub causal: bool,
}

/// Which attention kernel to run. Both compute the same thing to f32 rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttentionKernel {
    /// The GPU kernel: 16 queries per workgroup, 32-key tiles staged in workgroup memory.
    Tiled,
    /// One query per invocation with its rows in registers, no workgroup memory or barriers: faster on
    /// software adapters (lavapipe). Needs [`rows_supported`].
    Rows,
}

/// The largest head size [`AttentionKernel::Rows`] handles.
pub const ROWS_MAX_HEAD_DIM: u32 = 64;

/// The largest head size `attention_rows` of `shaders/attention_rows_vec4.wgsl` keeps in registers;
/// wider heads (multiples of 4) run its `attention_rows_wide`.
pub const ROWS_VEC4_MAX_HEAD_DIM: u32 = 160;

/// Most quads of an output slice of `attention_rows_wide` (`WIDE_SV_MAX` in the shader).
const WIDE_SV_MAX: u32 = 32;

/// Whether `shaders/attention_rows_vec4.wgsl` runs head size `d` on `gpu`: a multiple of 4, and
/// subgroups of at least 8 lanes (its workgroup is one subgroup).
fn rows_vec4(gpu: &Gpu, d: u32) -> bool {
    d.is_multiple_of(4) && subgroup_supported(gpu)
}

/// Whether [`AttentionKernel::Rows`] handles head size `d` on `gpu`.
pub fn rows_supported(gpu: &Gpu, d: u32) -> bool {
    d <= ROWS_MAX_HEAD_DIM || rows_vec4(gpu, d)
}

/// Invocations per workgroup of `attention_rows` (`ROW_WG` in the shader).
const ROW_WG: u32 = 32;

/// Invocations per workgroup of `shaders/attention_rows_vec4.wgsl`: one subgroup.
const ROW_WG_VEC4: u32 = 8;

/// The kernel [`attention`] picks: [`AttentionKernel::Rows`] on a software adapter when D allows it,
/// otherwise [`AttentionKernel::Tiled`].
pub fn default_kernel(gpu: &Gpu, head_dim: u32) -> AttentionKernel {
    if gpu.is_software() && rows_supported(gpu, head_dim) {
        AttentionKernel::Rows
    } else {
        AttentionKernel::Tiled
    }
}

/// `y = softmax(scale · Q Kᵀ [causal mask]) V` for every (batch, head): q `[B, Nq, H·D]`, k and v
/// `[B, Nk, H·D]`, y `[B, Nq, H·D]`. y must not overlap q, k or v. Runs [`default_kernel`].
pub fn attention(
    gpu: &Gpu,
    arena: &ParamArena,
    q: &TensorView,
    k: &TensorView,
    v: &TensorView,
    y: &TensorView,
    shape: AttentionShape,
) -> Result<Dispatch> {
    let kernel = default_kernel(gpu, shape.head_dim);
    attention_with(gpu, arena, [q, k, v, y], shape, kernel)
}

/// [`attention`] with the kernel chosen by the caller (tests and benchmarks run both); `qkvy` is
/// `[q, k, v, y]`.
pub fn attention_with(
    gpu: &Gpu,
    arena: &ParamArena,
    qkvy: [&TensorView; 4],
    shape: AttentionShape,
    kernel: AttentionKernel,
) -> Result<Dispatch> {
    let [q, k, v, y] = qkvy;
    let AttentionShape {
        batch,
        nq,
        nk,
        heads,
        head_dim,
        scale,
        causal,
    } = shape;
    if batch == 0 || nq == 0 || nk == 0 || heads == 0 || head_dim == 0 {
        return Err(Error::Invalid(format!("attention: empty shape {shape:?}")));
    }
    let hd = heads as u64 * head_dim as u64;
    let q_len = batch as u64 * nq as u64 * hd;
    let kv_len = batch as u64 * nk as u64 * hd;
    if q_len.max(kv_len) > u32::MAX as u64 {
        return Err(Error::Invalid(format!(
            "attention: {} elements overflow 32-bit indexing",
            q_len.max(kv_len)
        )));
    }
    expect_len(q, q_len, "attention")?;
    expect_len(k, kv_len, "attention")?;
    expect_len(v, kv_len, "attention")?;
    expect_len(y, q_len, "attention")?;
    let elem = common_dtype(&[q, k, v, y], "attention")?;
    let limits = gpu.limits();
    // Which entry point runs, its pipeline constants, queries per workgroup, and output slices per head
    // (one workgroup each).
    let (shader, entry, constants, queries, slices) = match kernel {
        AttentionKernel::Tiled => {
            if limits.max_compute_workgroup_storage_size < WORKGROUP_BYTES {
                return Err(Error::Limit {
                    what: "attention workgroup memory".into(),
                    limit: "max_compute_workgroup_storage_size",
                    needed: WORKGROUP_BYTES as u64,
                    max: limits.max_compute_workgroup_storage_size as u64,
                });
            }
            let slices = head_dim.div_ceil(DV_MAX);
            (&ATTENTION, "attention", vec![], BQ, slices)
        }
        AttentionKernel::Rows => {
            if !rows_supported(gpu, head_dim) {
                return Err(Error::Invalid(format!(
                    "attention: the rows kernel handles head sizes up to {ROWS_MAX_HEAD_DIM}, and \
                     multiples of 4 with subgroups of ≥ 8 lanes; not {head_dim}"
                )));
            }
            let row_d = ("ROW_D", head_dim as u64);
            if !rows_vec4(gpu, head_dim) {
                (&ATTENTION, "attention_rows", vec![row_d], ROW_WG, 1)
            } else if head_dim <= ROWS_VEC4_MAX_HEAD_DIM {
                let wg = ROW_WG_VEC4;
                (&ATTENTION_ROWS_VEC4, "attention_rows", vec![row_d], wg, 1)
            } else {
                // Output slices of at most WIDE_SV_MAX quads, as even as they go.
                let quads = head_dim / 4;
                let slices = quads.div_ceil(WIDE_SV_MAX);
                let sv = ("WIDE_SV", quads.div_ceil(slices) as u64);
                let entry = "attention_rows_wide";
                (
                    &ATTENTION_ROWS_VEC4,
                    entry,
                    vec![row_d, sv],
                    ROW_WG_VEC4,
                    slices,
                )
            }
        }
    };
    let grid = [
        nq.div_ceil(queries) as u64,
        heads as u64 * slices as u64,
        batch as u64,
    ];
    let max = limits.max_compute_workgroups_per_dimension as u64;
    if let Some(&n) = grid.iter().find(|&&n| n > max) {
        return Err(Error::Limit {
            what: format!("{entry} grid {grid:?}"),
            limit: "max_compute_workgroups_per_dimension",
            needed: n,
            max,
        });
    }
    let params = Params {
        nq,
        nk,
        heads,
        head_dim,
        dv: head_dim.div_ceil(slices),
        slices,
        causal: causal as u32,
        scale,
    };
    dispatch(
        gpu,
        format!("{entry} -> {}", y.name),
        gpu.pipeline(shader, entry, elem, &constants)?,
        arena.push(gpu, &params)?,
        &[(1, q), (2, k), (3, v), (4, y)],
        grid.map(|g| g as u32),
    )
}
