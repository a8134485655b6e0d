//! The closed op vocabulary. Each variant has, under the same name, a WGSL kernel
//! (`shaders/<family>.wgsl`, `src/gpu/kernels/<family>.rs`) and a plain CPU reference (`src/cpu/`).
//! Matching on [`Op`] is exhaustive everywhere, so a missing kernel or reference is a compile error.

use super::TensorId;

/// Activation applied elementwise, alone ([`Op::Unary`]) or fused into a [`Op::Linear`] epilogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Activation {
    /// Identity.
    None,
    /// `x * sigmoid(x)`.
    Silu,
    /// `0.5 x (1 + erf(x / √2))`, torch's default `gelu`.
    Gelu,
    /// `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`, torch's `gelu(approximate="tanh")`.
    GeluTanh,
    /// `x * sigmoid(1.702 x)`, CLIP's `quick_gelu`.
    QuickGelu,
}

impl Activation {
    /// The code the kernels use for this activation (the `act` field of their params).
    pub const fn code(self) -> u32 {
        match self {
            Activation::None => 0,
            Activation::Silu => 1,
            Activation::Gelu => 2,
            Activation::GeluTanh => 3,
            Activation::QuickGelu => 4,
        }
    }
}

/// Zero padding of a convolution: `begin` rows/columns before, `end` after, the same for H and W.
/// SD's convolutions use (1, 1) for 3×3 and (0, 0) for 1×1; the VAE encoder's downsampler uses (0, 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Padding {
    /// Before (top / left).
    pub begin: u32,
    /// After (bottom / right).
    pub end: u32,
}

impl Padding {
    /// The same padding before and after: (1, 1) for SD's 3×3 convolutions, (0, 0) for 1×1.
    pub const fn symmetric(p: u32) -> Self {
        Padding { begin: p, end: p }
    }
}

/// How the second operand of a binary op broadcasts against the first.
///
/// Both operands are viewed as 4-D `[d0, d1, d2, d3]` (leading dims of 1 where the tensor has fewer); a
/// dimension of `b` is either equal to `a`'s or 1. Per-channel bias on NCHW is `b = [1, C, 1, 1]`; a time
/// embedding `[B, C]` added to `[B, C, H, W]` is `b = [B, C, 1, 1]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct BroadcastShape {
    /// Shape of `a` (and of the output).
    pub a: [u32; 4],
    /// Shape of `b`: each dim equal to `a`'s or 1.
    pub b: [u32; 4],
}

/// How a tiled VAE splits the latent plane `height × width`: tiles of `tile_h × tile_w` latents in
/// raster order. Along each axis there are as many tiles as a stride of `tile - overlap` needs to
/// reach the edge, spread evenly between the first (at 0) and the last (ending at the edge), so
/// neighbours share at least `overlap` latents and every seam gets the same share. Tile ops
/// ([`Op::TileCrop`], [`Op::TileBlend`], a group norm with [`TileStats`]) run once per slot: the
/// executor replays their phase with the slot index ([`TileGrid::slots`]).
///
/// With `shared_stats`, the phase runs in two passes over the tiles. The first (gathering) pass folds
/// each tile's group-norm statistics into one shared summary per group norm and normalises the tile
/// with the summary of the tiles so far; the second normalises every tile with the summaries of all
/// tiles, which stand for the whole plane's statistics, and only it blends. So every tile is
/// normalised the same way and no tile's tone differs from its neighbours'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TileGrid {
    /// Latent rows of the whole plane.
    pub height: u32,
    /// Latent columns of the whole plane.
    pub width: u32,
    /// Latent rows of one tile (≤ `height`).
    pub tile_h: u32,
    /// Latent columns of one tile (≤ `width`).
    pub tile_w: u32,
    /// Latents shared by neighbouring tiles (at least; less than the tile).
    pub overlap: u32,
    /// Two passes: gather group-norm statistics over all tiles, then normalise with them.
    pub shared_stats: bool,
}

impl TileGrid {
    /// Tiles of `tile × tile` latents (clamped to the plane) overlapping by `overlap`, or an error when
    /// the overlap leaves no stride.
    pub fn new(height: u32, width: u32, tile: u32, overlap: u32) -> crate::Result<TileGrid> {
        let (tile_h, tile_w) = (tile.min(height), tile.min(width));
        let strided = |size: u32, t: u32| size > t && overlap >= t;
        if height == 0
            || width == 0
            || tile == 0
            || strided(height, tile_h)
            || strided(width, tile_w)
        {
            return Err(crate::Error::Invalid(format!(
                "VAE tiles of {tile} latents overlapping by {overlap} do not tile a {height}×{width} latent plane"
            )));
        }
        Ok(TileGrid {
            height,
            width,
            tile_h,
            tile_w,
            overlap,
            shared_stats: false,
        })
    }

    /// The same grid, with group-norm statistics shared across tiles or not.
    pub fn with_shared_stats(self, shared_stats: bool) -> TileGrid {
        TileGrid {
            shared_stats,
            ..self
        }
    }

    /// Passes over the tiles: 2 with shared statistics (gather, then normalise and blend), else 1.
    pub fn passes(&self) -> u32 {
        1 + self.shared_stats as u32
    }

    /// Runs of a tiled phase: every tile in every pass.
    pub fn slots(&self) -> u32 {
        self.passes() * self.count()
    }

    /// The (pass, tile) of run `slot`.
    pub fn slot(&self, slot: u32) -> (u32, u32) {
        (slot / self.count(), slot % self.count())
    }

    /// True when `slot` is in the last pass, the one that blends.
    pub fn is_final(&self, slot: u32) -> bool {
        self.slot(slot).0 + 1 == self.passes()
    }

    fn axis(size: u32, tile: u32, overlap: u32) -> u32 {
        if size <= tile {
            1
        } else {
            (size - tile).div_ceil(tile - overlap) + 1
        }
    }

    /// Tile rows.
    pub fn rows(&self) -> u32 {
        Self::axis(self.height, self.tile_h, self.overlap)
    }

    /// Tile columns.
    pub fn cols(&self) -> u32 {
        Self::axis(self.width, self.tile_w, self.overlap)
    }

    /// Tiles in all.
    pub fn count(&self) -> u32 {
        self.rows() * self.cols()
    }

    /// The latent (row, column) where tile `t` starts.
    pub fn origin(&self, t: u32) -> (u32, u32) {
        let (i, j) = (t / self.cols(), t % self.cols());
        (
            Self::axis_origin(i, self.rows(), self.height, self.tile_h),
            Self::axis_origin(j, self.cols(), self.width, self.tile_w),
        )
    }

    /// Where tile `i` of `n` starts on an axis of `size` with tiles of `len`: evenly spread, rounded
    /// to the nearest latent.
    pub fn axis_origin(i: u32, n: u32, size: u32, len: u32) -> u32 {
        if n <= 1 {
            0
        } else {
            (i * (size - len) + (n - 1) / 2) / (n - 1)
        }
    }

    /// Latents decoded (or encoded) in all tiles, over the plane's: the work tiling adds (≥ 1).
    pub fn overhead(&self) -> f64 {
        f64::from(self.count() * self.tile_h * self.tile_w) / f64::from(self.height * self.width)
    }
}

/// The group-norm statistics a tiled phase shares across its tiles ([`TileGrid::shared_stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TileStats {
    /// f32 `[B·G, 4]`: per (batch, group) the (count, mean, M2, 0) of every tile so far, persistent.
    pub stats: TensorId,
    /// The grid of the phase.
    pub grid: TileGrid,
}

/// One operation. Shapes are those of the tensors named; the comment on each variant gives them.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub enum Op {
    /// `y[m, o] = act(Σ_i x[m, i] · weight[o, i] + bias[o])`. x: `[.., in]`, weight: `[out, in]`,
    /// bias: `[out]`, y: `[.., out]`.
    Linear {
        x: TensorId,
        weight: TensorId,
        bias: Option<TensorId>,
        y: TensorId,
        act: Activation,
    },
    /// 2-D convolution. x: `[B, Ci, H, W]`, weight: `[Co, Ci, k, k]`, bias: `[Co]`,
    /// y: `[B, Co, (H + pad.begin + pad.end - k) / stride + 1, ..]`.
    Conv2d {
        x: TensorId,
        weight: TensorId,
        bias: Option<TensorId>,
        y: TensorId,
        stride: u32,
        pad: Padding,
    },
    /// Group normalisation over `[B, C, *]` with `groups` dividing C, affine, SiLU optionally fused.
    /// In a tiled phase whose grid shares statistics, `shared` names the summary it gathers in the
    /// first pass and normalises with in the second.
    GroupNorm {
        x: TensorId,
        gamma: TensorId,
        beta: TensorId,
        y: TensorId,
        groups: u32,
        eps: f32,
        silu: bool,
        shared: Option<TileStats>,
    },
    /// Layer normalisation over the last dimension, affine.
    LayerNorm {
        x: TensorId,
        gamma: TensorId,
        beta: TensorId,
        y: TensorId,
        eps: f32,
    },
    /// Multi-head attention, flash-style (the score matrix is never stored).
    /// q: `[B, Nq, heads·D]`, k and v: `[B, Nk, heads·D]`, y: `[B, Nq, heads·D]`.
    Attention {
        q: TensorId,
        k: TensorId,
        v: TensorId,
        y: TensorId,
        heads: u32,
        causal: bool,
        scale: f32,
    },
    /// `y = a + b`, b broadcast as `shape` says.
    Add {
        a: TensorId,
        b: TensorId,
        y: TensorId,
        shape: BroadcastShape,
    },
    /// `y = a · b`, b broadcast as `shape` says.
    Mul {
        a: TensorId,
        b: TensorId,
        y: TensorId,
        shape: BroadcastShape,
    },
    /// `y = alpha · x + beta`.
    Scale {
        x: TensorId,
        y: TensorId,
        alpha: f32,
        beta: f32,
    },
    /// `y = f(x)` elementwise.
    Unary {
        x: TensorId,
        y: TensorId,
        f: Activation,
    },
    /// diffusers' GEGLU after its projection: x `[.., 2F]` → y `[.., F]`, `y = x[.., :F] · gelu(x[.., F:])`.
    Geglu { x: TensorId, y: TensorId },
    /// Nearest-neighbour 2× upsampling. x: `[B, C, H, W]` → y: `[B, C, 2H, 2W]`.
    Upsample2x { x: TensorId, y: TensorId },
    /// Concatenation along channels. a: `[B, Ca, H, W]`, b: `[B, Cb, H, W]` → y: `[B, Ca+Cb, H, W]`.
    Concat {
        a: TensorId,
        b: TensorId,
        y: TensorId,
    },
    /// Swap of the last two dims. x: `[B, M, N]` → y: `[B, N, M]` (NCHW ↔ `[B, HW, C]`).
    Transpose { x: TensorId, y: TensorId },
    /// diffusers' `get_timestep_embedding`: t `[B]` (f32) → y `[B, dim]`, max period 10000.
    TimestepEmbedding {
        t: TensorId,
        y: TensorId,
        flip_sin_to_cos: bool,
        downscale_freq_shift: f32,
    },
    /// Materialised attention, step 1 (only when [`crate::graph::GraphOptions::materialised_attention`]
    /// models the score matrix): `y[b·heads + h, i, j] = scale · Σ_d q[b, i, h·D + d] · k[b, j, h·D + d]`.
    /// q: `[B, Nq, heads·D]`, k: `[B, Nk, heads·D]`, y: `[B·heads, Nq, Nk]`.
    AttentionScores {
        q: TensorId,
        k: TensorId,
        y: TensorId,
        heads: u32,
        scale: f32,
    },
    /// Softmax over the last dimension, with the causal mask (`j > i` → −∞) when `causal`. x and y have the
    /// same shape; y may be a view of x (in place).
    Softmax {
        x: TensorId,
        y: TensorId,
        causal: bool,
    },
    /// Materialised attention, step 2: `y[b, i, h·D + d] = Σ_j p[b·heads + h, i, j] · v[b, j, h·D + d]`.
    /// p: `[B·heads, Nq, Nk]`, v: `[B, Nk, heads·D]`, y: `[B, Nq, heads·D]`.
    AttentionValues {
        p: TensorId,
        v: TensorId,
        y: TensorId,
        heads: u32,
    },
    /// CLIP's embeddings: `y[b, n] = token[ids[b, n]] + position[n]`. ids: `[B, N]` (u32),
    /// token: `[V, C]`, position: `[P ≥ N, C]`, y: `[B, N, C]`.
    TokenEmbedding {
        ids: TensorId,
        token: TensorId,
        position: TensorId,
        y: TensorId,
    },
    /// `y = alpha · x`, converting f32 `x` to `y`'s dtype (the VAE decoder's input from the f32 latents).
    Convert {
        x: TensorId,
        y: TensorId,
        alpha: f32,
    },
    /// The U-Net's inputs for one denoising step: `y = copies × (input_scale · latents)` in `y`'s dtype
    /// and `timestep[..] = t`. `input_scale` and `t` change every step: the pipeline sets them with
    /// [`crate::gpu::Executor::set_schedule`]. latents: `[I, C, h, w]` f32, y: `[copies·I, C, h, w]`,
    /// timestep: `[copies·I]` f32 (written as well; it is listed with the inputs so liveness sees it).
    SamplerInput {
        latents: TensorId,
        timestep: TensorId,
        y: TensorId,
    },
    /// Fresh standard normal noise for a stochastic sampler step (seed and draw set per step).
    /// y: `[I, C, h, w]` f32.
    SamplerNoise { y: TensorId },
    /// One scheduler step with classifier-free guidance, in place: updates `latents` (its output) and
    /// `x0_prev` from the U-Net's `model_out` (`[2I, C, h, w]` = (uncond, cond) when guided, else
    /// `[I, C, h, w]`) and `noise`. The coefficients change every step (see [`Op::SamplerInput`]).
    SamplerStep {
        latents: TensorId,
        model_out: TensorId,
        x0_prev: TensorId,
        noise: TensorId,
    },
    /// One tile of a tiled VAE: `y = alpha · x[.., rows, cols]` in `y`'s dtype, the window of tile
    /// `slot` of `grid`, scaled by `scale` (1 for latents, the VAE factor for images).
    /// x: `[B, C, height·scale, width·scale]` (f32 or the graph's dtype),
    /// y: `[B, C, tile_h·scale, tile_w·scale]`.
    TileCrop {
        x: TensorId,
        y: TensorId,
        grid: TileGrid,
        scale: u32,
        alpha: f32,
    },
    /// Blends tile `slot` of `grid` (`x`, scaled by `scale`) into `y` in place, so that after the last
    /// tile `y = Σ_t w_t x_t / Σ_t w_t`. Across each overlap with a neighbour, a tile's weight is 0 over
    /// the quarter nearest its edge (where the tile border's zero padding reaches), then ramps to 1
    /// over the middle half ([`crate::cpu::tile::blend`] defines it). x:
    /// `[B, C, tile_h·scale, tile_w·scale]`, y: `[B, C, height·scale, width·scale]`, both the graph's
    /// dtype.
    TileBlend {
        x: TensorId,
        y: TensorId,
        grid: TileGrid,
        scale: u32,
    },
}

impl Op {
    /// Run slots of a tile op ([`TileGrid::slots`]), or `None` for an op that runs the same way every
    /// time its phase runs.
    pub fn tiles(&self) -> Option<u32> {
        match self {
            Op::TileCrop { grid, .. } | Op::TileBlend { grid, .. } => Some(grid.slots()),
            Op::GroupNorm {
                shared: Some(s), ..
            } => Some(s.grid.slots()),
            _ => None,
        }
    }

    /// Uniform parameter blocks the executor gives the op: two, plus one per tile of a tile op, or
    /// four for a group norm sharing statistics (its statistics, the first tile's gather, the other
    /// tiles', and the shared normalisation).
    pub fn param_blocks(&self) -> u64 {
        match self {
            Op::TileCrop { grid, .. } | Op::TileBlend { grid, .. } => 2 + u64::from(grid.count()),
            Op::GroupNorm {
                shared: Some(_), ..
            } => 4,
            _ => 2,
        }
    }

    /// True for the sampler ops whose values the pipeline sets per step.
    pub fn is_stepped(&self) -> bool {
        matches!(
            self,
            Op::SamplerInput { .. } | Op::SamplerNoise { .. } | Op::SamplerStep { .. }
        )
    }

    /// The tensors the op reads, weights included, in operand order.
    pub fn inputs(&self) -> Vec<TensorId> {
        match *self {
            Op::Linear {
                x, weight, bias, ..
            }
            | Op::Conv2d {
                x, weight, bias, ..
            } => {
                let mut v = vec![x, weight];
                v.extend(bias);
                v
            }
            Op::GroupNorm {
                x,
                gamma,
                beta,
                shared,
                ..
            } => {
                // The shared summary is read and written in place, across the phase's runs.
                let mut v = vec![x, gamma, beta];
                v.extend(shared.map(|s| s.stats));
                v
            }
            Op::LayerNorm { x, gamma, beta, .. } => vec![x, gamma, beta],
            Op::Attention { q, k, v, .. } => vec![q, k, v],
            Op::Add { a, b, .. } | Op::Mul { a, b, .. } | Op::Concat { a, b, .. } => vec![a, b],
            Op::Scale { x, .. }
            | Op::Unary { x, .. }
            | Op::Geglu { x, .. }
            | Op::Upsample2x { x, .. }
            | Op::Transpose { x, .. }
            | Op::Softmax { x, .. } => vec![x],
            Op::TimestepEmbedding { t, .. } => vec![t],
            Op::AttentionScores { q, k, .. } => vec![q, k],
            Op::AttentionValues { p, v, .. } => vec![p, v],
            Op::TokenEmbedding {
                ids,
                token,
                position,
                ..
            } => vec![ids, token, position],
            Op::Convert { x, .. } | Op::TileCrop { x, .. } => vec![x],
            // In place: the blend reads what earlier tiles wrote.
            Op::TileBlend { x, y, .. } => vec![x, y],
            Op::SamplerInput {
                latents, timestep, ..
            } => vec![latents, timestep],
            Op::SamplerNoise { .. } => vec![],
            Op::SamplerStep {
                latents,
                model_out,
                x0_prev,
                noise,
            } => vec![latents, model_out, x0_prev, noise],
        }
    }

    /// The tensor the op writes.
    pub fn output(&self) -> TensorId {
        match *self {
            Op::Linear { y, .. }
            | Op::Conv2d { y, .. }
            | Op::GroupNorm { y, .. }
            | Op::LayerNorm { y, .. }
            | Op::Attention { y, .. }
            | Op::Add { y, .. }
            | Op::Mul { y, .. }
            | Op::Scale { y, .. }
            | Op::Unary { y, .. }
            | Op::Geglu { y, .. }
            | Op::Upsample2x { y, .. }
            | Op::Concat { y, .. }
            | Op::Transpose { y, .. }
            | Op::TimestepEmbedding { y, .. }
            | Op::TokenEmbedding { y, .. }
            | Op::AttentionScores { y, .. }
            | Op::Softmax { y, .. }
            | Op::AttentionValues { y, .. }
            | Op::Convert { y, .. }
            | Op::SamplerInput { y, .. }
            | Op::SamplerNoise { y }
            | Op::TileCrop { y, .. }
            | Op::TileBlend { y, .. } => y,
            Op::SamplerStep { latents, .. } => latents,
        }
    }

    /// The variant's name in snake_case, as the builder method and the kernel file spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Linear { .. } => "linear",
            Op::Conv2d { .. } => "conv2d",
            Op::GroupNorm { .. } => "group_norm",
            Op::LayerNorm { .. } => "layer_norm",
            Op::Attention { .. } => "attention",
            Op::Add { .. } => "add",
            Op::Mul { .. } => "mul",
            Op::Scale { .. } => "scale",
            Op::Unary { .. } => "unary",
            Op::Geglu { .. } => "geglu",
            Op::Upsample2x { .. } => "upsample2x",
            Op::Concat { .. } => "concat",
            Op::Transpose { .. } => "transpose",
            Op::TimestepEmbedding { .. } => "timestep_embedding",
            Op::TokenEmbedding { .. } => "token_embedding",
            Op::AttentionScores { .. } => "attention_scores",
            Op::Softmax { .. } => "softmax",
            Op::AttentionValues { .. } => "attention_values",
            Op::Convert { .. } => "convert",
            Op::SamplerInput { .. } => "sampler_input",
            Op::SamplerNoise { .. } => "sampler_noise",
            Op::SamplerStep { .. } => "sampler_step",
            Op::TileCrop { .. } => "tile_crop",
            Op::TileBlend { .. } => "tile_blend",
        }
    }
}
