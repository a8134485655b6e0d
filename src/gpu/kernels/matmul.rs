//! Matmul kernels (`shaders/matmul.wgsl`, `shaders/matmul_subgroup.wgsl`): [`Op::Linear`] and the
//! batched matmul `y[b] = act(a[b] · op(w[b]) + bias)` it is a special case of.
//!
//! Two implementations sit behind one interface, picked per adapter by [`choose_variant`]:
//! - [`MatmulVariant::Tiled`]: 64×64 tiles staged in workgroup memory. What real GPUs want, and the
//!   fallback where subgroups are missing.
//! - [`MatmulVariant::Subgroup`]: 32×32 register tiles per 8-lane subgroup, sharing `a` by broadcasts.
//!   What software adapters (lavapipe) want: there workgroup memory is slow and one subgroup is one SIMD
//!   register. It has two entry points in `shaders/matmul_subgroup.wgsl`: where K is a multiple of 4
//!   ([`vec4_aligned`]), `matmul_vec4` reads every operand as whole vec4s with no branch in the loop
//!   (twice as fast on lavapipe, whose storage loads go lane by lane with a bounds check each); any
//!   other shape runs `matmul`, which reads guarded scalars.
//!
//! The conv2d kernels ([`super::conv2d`]) are the same two designs applied to an implicit GEMM.
//!
//! [`Op::Linear`]: crate::graph::Op::Linear

use crate::error::{Error, Result};
use crate::gpu::shaders::{Shader, MATMUL, MATMUL_SUBGROUP};
use crate::gpu::{Gpu, TensorView};
use crate::graph::Activation;

pub use crate::cpu::matmul::MatmulShape;

use super::{common_dtype, dispatch, expect_len, grid_1d, Dispatch, ParamArena};

/// Environment variable that forces a variant: `tiled` or `subgroup`.
pub const VARIANT_ENV: &str = "WGSD_MATMUL";

/// Which GEMM implementation a matmul or conv2d dispatch uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulVariant {
    /// Workgroup-memory tiles (real GPUs; no subgroups needed).
    Tiled,
    /// Subgroup-broadcast register tiles (software adapters; needs subgroups of ≥ 8 lanes).
    Subgroup,
}

impl MatmulVariant {
    /// Tile size `(rows, columns)` of `y` one workgroup computes.
    pub const fn tile(self) -> (u32, u32) {
        match self {
            MatmulVariant::Tiled => (64, 64),
            MatmulVariant::Subgroup => (32, 32),
        }
    }

    /// Lower-case name, as [`VARIANT_ENV`] spells it.
    pub const fn name(self) -> &'static str {
        match self {
            MatmulVariant::Tiled => "tiled",
            MatmulVariant::Subgroup => "subgroup",
        }
    }
}

/// Whether the device can run [`MatmulVariant::Subgroup`]: subgroup operations, and subgroups of at least
/// 8 lanes (its 8-invocation workgroups must lie in one subgroup; WARP's 4-lane subgroups do not qualify).
pub fn subgroup_supported(gpu: &Gpu) -> bool {
    gpu.caps().subgroups && gpu.adapter_info().subgroup_min_size >= 8
}

/// The variant for this device: [`VARIANT_ENV`] if set (`tiled` / `subgroup`), otherwise
/// [`MatmulVariant::Subgroup`] on software adapters that support it and [`MatmulVariant::Tiled`]
/// everywhere else.
pub fn choose_variant(gpu: &Gpu) -> Result<MatmulVariant> {
    match std::env::var(VARIANT_ENV).ok().as_deref() {
        None | Some("") => {}
        Some("tiled") => return Ok(MatmulVariant::Tiled),
        Some("subgroup") => return Ok(MatmulVariant::Subgroup),
        Some(other) => {
            return Err(Error::Invalid(format!(
                "{VARIANT_ENV}={other}: expected `tiled` or `subgroup`"
            )))
        }
    }
    Ok(if gpu.is_software() && subgroup_supported(gpu) {
        MatmulVariant::Subgroup
    } else {
        MatmulVariant::Tiled
    })
}

/// Checks that `variant` can run on `gpu` and returns its shader.
pub(crate) fn variant_shader(
    gpu: &Gpu,
    variant: MatmulVariant,
    tiled: &'static Shader,
    subgroup: &'static Shader,
) -> Result<&'static Shader> {
    match variant {
        MatmulVariant::Tiled => Ok(tiled),
        MatmulVariant::Subgroup if subgroup_supported(gpu) => Ok(subgroup),
        MatmulVariant::Subgroup => Err(Error::Device(format!(
            "the subgroup matmul needs subgroups of at least 8 lanes; {} has {} (subgroup ops: {})",
            gpu.adapter_name(),
            gpu.adapter_info().subgroup_min_size,
            gpu.caps().subgroups
        ))),
    }
}

/// The tensors of a matmul, linear or convolution, named after [`Op::Linear`]'s fields.
///
/// [`Op::Linear`]: crate::graph::Op::Linear
#[derive(Clone, Copy, Debug)]
pub struct Operands<'a> {
    /// The input (`a` of a matmul).
    pub x: &'a TensorView,
    /// The weight (`w` of a matmul).
    pub weight: &'a TensorView,
    /// Optional bias, one value per output feature (channel).
    pub bias: Option<&'a TensorView>,
    /// The output.
    pub y: &'a TensorView,
}

/// Mirrors `Params` in `shaders/matmul.wgsl` and `shaders/matmul_subgroup.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    tiles_m: u32,
    tiles_n: u32,
    bias_mode: u32,
    act: u32,
    a_batch: u32,
    lda: u32,
    y_batch: u32,
    ldy: u32,
    w_batch: u32,
    w_sk: u32,
    w_sn: u32,
    _pad: u32,
}

/// `v` as u32, or an error naming `what`.
pub(crate) fn to_u32(v: usize, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Invalid(format!("{what} = {v} does not fit in 32 bits")))
}

/// Batched matmul `y[b, m, n] = act(Σ_k x[b, m, k] · op(weight[b])[k, n] + bias[n])`.
///
/// - `x` is `[batch, m, k]`, `y` is `[batch, m, n]`, `bias` is `[n]`.
/// - `weight` is `[n, k]` when `shape.w_transposed` (torch's linear weight) or `[k, n]` otherwise; one
///   matrix shared by the batch, or `batch` of them when `shape.w_batched`.
pub fn matmul(
    gpu: &Gpu,
    arena: &ParamArena,
    t: Operands<'_>,
    shape: MatmulShape,
    act: Activation,
    variant: MatmulVariant,
) -> Result<Dispatch> {
    let what = "matmul";
    let MatmulShape { batch, m, n, k, .. } = shape;
    if batch == 0 || m == 0 || n == 0 || k == 0 {
        return Err(Error::Invalid(format!("{what}: empty shape {shape:?}")));
    }
    expect_len(t.x, (batch * m * k) as u64, what)?;
    let w_len = if shape.w_batched {
        batch * n * k
    } else {
        n * k
    };
    expect_len(t.weight, w_len as u64, what)?;
    expect_len(t.y, (batch * m * n) as u64, what)?;
    let mut views = vec![t.x, t.weight, t.y];
    if let Some(bias) = t.bias {
        expect_len(bias, n as u64, what)?;
        views.push(bias);
    }
    let elem = common_dtype(&views, what)?;
    // Every element index must fit the shaders' u32 arithmetic.
    to_u32(batch * m * k.max(n), "matmul elements")?;
    to_u32(w_len, "matmul weight elements")?;

    let shader = variant_shader(gpu, variant, &MATMUL, &MATMUL_SUBGROUP)?;
    // Where every row of `x` and of the weight starts on a vec4, the subgroup kernel reads whole vec4s.
    let vec4 = variant == MatmulVariant::Subgroup && vec4_aligned(shape);
    let (tile_m, tile_n) = variant.tile();
    let (m32, n32, k32) = (to_u32(m, "m")?, to_u32(n, "n")?, to_u32(k, "k")?);
    let (w_sk, w_sn) = if shape.w_transposed {
        (1, k32)
    } else {
        (n32, 1)
    };
    let params = Params {
        m: m32,
        n: n32,
        k: k32,
        batch: to_u32(batch, "batch")?,
        tiles_m: m32.div_ceil(tile_m),
        tiles_n: n32.div_ceil(tile_n),
        bias_mode: t.bias.is_some() as u32,
        act: act.code(),
        a_batch: m32 * k32,
        lda: k32,
        y_batch: m32 * n32,
        ldy: n32,
        w_batch: if shape.w_batched { n32 * k32 } else { 0 },
        w_sk,
        w_sn,
        _pad: 0,
    };
    let tiles = params.tiles_m as u64 * params.tiles_n as u64 * batch as u64;
    let grid = grid_1d(gpu, tiles, what)?;
    let (entry, constants) = if vec4 {
        ("matmul_vec4", vec![("W_KN", !shape.w_transposed as u64)])
    } else {
        ("matmul", Vec::new())
    };
    let pipeline = gpu.pipeline(shader, entry, elem, &constants)?;
    let label = format!(
        "matmul {batch}×{m}×{n}×{k} ({}, {entry}) -> {}",
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

/// Whether `shape` suits `matmul_vec4` in `shaders/matmul_subgroup.wgsl`: K a multiple of 4, so that
/// every row of `x` and of an `[N, K]` weight starts on a vec4; for a `[K, N]` weight, N as well.
pub fn vec4_aligned(shape: MatmulShape) -> bool {
    shape.k.is_multiple_of(4) && (shape.w_transposed || shape.n.is_multiple_of(4))
}

/// [`Op::Linear`]: `y[r, o] = act(Σ_i x[r, i] · weight[o, i] + bias[o])`, x `[rows, in]` (any leading
/// dims flattened into rows), weight `[out_features, in]`, bias `[out_features]`, y `[rows, out_features]`.
///
/// [`Op::Linear`]: crate::graph::Op::Linear
pub fn linear(
    gpu: &Gpu,
    arena: &ParamArena,
    t: Operands<'_>,
    out_features: usize,
    act: Activation,
    variant: MatmulVariant,
) -> Result<Dispatch> {
    let w_len = t.weight.len as usize;
    if out_features == 0 || !w_len.is_multiple_of(out_features) {
        return Err(Error::Invalid(format!(
            "linear: weight {} has {w_len} elements, not a multiple of {out_features} output features",
            t.weight.name
        )));
    }
    let in_features = w_len / out_features;
    if in_features == 0 || !(t.x.len as usize).is_multiple_of(in_features) {
        return Err(Error::Invalid(format!(
            "linear: input {} has {} elements, not rows of {in_features}",
            t.x.name, t.x.len
        )));
    }
    let shape = MatmulShape {
        batch: 1,
        m: t.x.len as usize / in_features,
        n: out_features,
        k: in_features,
        w_transposed: true,
        w_batched: false,
    };
    matmul(gpu, arena, t, shape, act, variant)
}
