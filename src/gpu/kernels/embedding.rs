//! Embedding kernels (`shaders/embedding.wgsl`): [`Op::TimestepEmbedding`] and [`Op::TokenEmbedding`].
//!
//! [`Op::TimestepEmbedding`]: crate::graph::Op::TimestepEmbedding
//! [`Op::TokenEmbedding`]: crate::graph::Op::TokenEmbedding

use crate::error::{Error, Result};
use crate::gpu::shaders::EMBEDDING;
use crate::gpu::{Gpu, TensorView};
use crate::graph::DType;

use super::{common_dtype, dispatch, expect_len, grid_1d, Dispatch, ParamArena};

/// Threads per workgroup (`WG` in the shader).
const WG: u64 = 256;

/// diffusers' `max_period` default, the only value SD uses.
pub const MAX_PERIOD: f64 = 10000.0;

/// Mirrors `Params` in `shaders/embedding.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    dim: u32,
    half: u32,
    flip: u32,
    shift: f32,
    log_period: f32,
    rows0: u32,
    _pad: u32,
}

fn checked_u32(n: u64, what: &str) -> Result<u32> {
    u32::try_from(n)
        .map_err(|_| Error::Invalid(format!("{what}: {n} elements overflow 32-bit indexing")))
}

/// diffusers' `get_timestep_embedding(t, dim, flip_sin_to_cos, downscale_freq_shift, scale=1,
/// max_period=10000)`: t `[B]` (always F32) → y `[B, dim]`.
pub fn timestep_embedding(
    gpu: &Gpu,
    arena: &ParamArena,
    t: &TensorView,
    y: &TensorView,
    dim: u32,
    flip_sin_to_cos: bool,
    downscale_freq_shift: f32,
) -> Result<Dispatch> {
    if t.dtype != DType::F32 {
        return Err(Error::Invalid(format!(
            "timestep_embedding: timesteps {} must be F32, not {:?}",
            t.name, t.dtype
        )));
    }
    let half = dim / 2;
    if half == 0 || half as f32 == downscale_freq_shift {
        return Err(Error::Invalid(format!(
            "timestep_embedding: dim {dim} with downscale_freq_shift {downscale_freq_shift} divides by zero"
        )));
    }
    expect_len(y, t.len * dim as u64, "timestep_embedding")?;
    if y.dtype == DType::U32 {
        return Err(Error::Invalid(format!(
            "timestep_embedding: output {} must be a float tensor",
            y.name
        )));
    }
    let params = Params {
        n: checked_u32(y.len, "timestep_embedding")?,
        dim,
        half,
        flip: flip_sin_to_cos as u32,
        shift: downscale_freq_shift,
        log_period: MAX_PERIOD.ln() as f32,
        ..Default::default()
    };
    dispatch(
        gpu,
        format!("timestep_embedding -> {}", y.name),
        gpu.pipeline(&EMBEDDING, "timestep_embedding", y.dtype, &[])?,
        arena.push(gpu, &params)?,
        &[(1, t), (6, y)],
        grid_1d(gpu, y.len.div_ceil(WG), "timestep_embedding")?,
    )
}

/// Checks host-side token ids against the vocabulary, naming the first bad one. The kernel clamps ids
/// anyway (it can never read out of bounds); this turns a bad prompt into an error instead.
pub fn check_token_ids(ids: &[u32], vocab: u32) -> Result<()> {
    match ids.iter().position(|&id| id >= vocab) {
        Some(i) => Err(Error::Invalid(format!(
            "token id {} at position {i} is outside the vocabulary of {vocab}",
            ids[i]
        ))),
        None => Ok(()),
    }
}

/// Where the token table is cut so that each part fits one binding: the rows of the first part.
/// `row_bytes` per row, parts start at multiples of `align`, each at most `max_binding` bytes.
pub fn token_table_split(rows: u64, row_bytes: u64, align: u64, max_binding: u64) -> Result<u64> {
    let padded = |r: u64| (r * row_bytes).div_ceil(4) * 4;
    if padded(rows) <= max_binding {
        return Ok(rows);
    }
    // The second part must start at an aligned offset: cut at a multiple of `step` rows.
    let step = align / gcd(align, row_bytes);
    let rows0 = (max_binding / row_bytes) / step * step;
    if rows0 == 0 || padded(rows - rows0) > max_binding {
        return Err(Error::Limit {
            what: format!("token table ({rows} rows of {row_bytes} bytes, in two bindings)"),
            limit: "max_storage_buffer_binding_size",
            needed: padded(rows),
            max: 2 * max_binding,
        });
    }
    Ok(rows0)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// CLIP's embeddings: `y[b, n] = token[ids[b, n]] + position[n]`. ids `[B, N]` (U32), token `[V, C]`,
/// position `[P ≥ N, C]`, y `[B, N, C]`; `tokens` is N. Ids ≥ V are clamped to V − 1 on the device; use
/// [`check_token_ids`] on host ids first. The token table may exceed one binding: it is bound as two row
/// ranges (up to twice `max_storage_buffer_binding_size`).
pub fn token_embedding(
    gpu: &Gpu,
    arena: &ParamArena,
    ids: &TensorView,
    token: &TensorView,
    position: &TensorView,
    y: &TensorView,
    tokens: u32,
) -> Result<Dispatch> {
    if ids.dtype != DType::U32 {
        return Err(Error::Invalid(format!(
            "token_embedding: ids {} must be U32, not {:?}",
            ids.name, ids.dtype
        )));
    }
    if tokens == 0 || !ids.len.is_multiple_of(tokens as u64) || ids.len == 0 {
        return Err(Error::Invalid(format!(
            "token_embedding: ids {} ({} elements) are not rows of {tokens} tokens",
            ids.name, ids.len
        )));
    }
    let rows = ids.len;
    if !y.len.is_multiple_of(rows) || y.len == 0 {
        return Err(Error::Invalid(format!(
            "token_embedding: output {} ({} elements) is not {rows} rows",
            y.name, y.len
        )));
    }
    let channels = y.len / rows;
    if !token.len.is_multiple_of(channels) || token.len == 0 {
        return Err(Error::Invalid(format!(
            "token_embedding: token table {} ({} elements) is not rows of {channels}",
            token.name, token.len
        )));
    }
    if !position.len.is_multiple_of(channels) || position.len / channels < tokens as u64 {
        return Err(Error::Invalid(format!(
            "token_embedding: position table {} ({} elements) has fewer than {tokens} rows of {channels}",
            position.name, position.len
        )));
    }
    let elem = common_dtype(&[token, position, y], "token_embedding")?;
    let vocab = token.len / channels;
    let limits = gpu.limits();
    let row_bytes = channels * elem.size();
    let rows0 = token_table_split(
        vocab,
        row_bytes,
        limits.min_storage_buffer_offset_alignment as u64,
        limits.max_storage_buffer_binding_size,
    )?;
    let (part0, part1) = if rows0 == vocab {
        (token.clone(), token.clone())
    } else {
        let name = &*token.name;
        (
            TensorView::new(
                &token.buffer,
                token.offset,
                rows0 * channels,
                elem,
                &format!("{name}[..{rows0}]"),
            ),
            TensorView::new(
                &token.buffer,
                token.offset + rows0 * row_bytes,
                (vocab - rows0) * channels,
                elem,
                &format!("{name}[{rows0}..]"),
            ),
        )
    };
    let params = Params {
        n: checked_u32(y.len, "token_embedding")?,
        dim: checked_u32(channels, "token_embedding")?,
        half: tokens,
        flip: checked_u32(vocab, "token_embedding")?,
        rows0: rows0 as u32,
        ..Default::default()
    };
    dispatch(
        gpu,
        format!("token_embedding -> {}", y.name),
        gpu.pipeline(&EMBEDDING, "token_embedding", elem, &[])?,
        arena.push(gpu, &params)?,
        &[(2, ids), (3, &part0), (4, &part1), (5, position), (6, y)],
        grid_1d(gpu, y.len.div_ceil(WG), "token_embedding")?,
    )
}
