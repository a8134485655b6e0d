//! diffusers `models/attention.py`, `attention_processor.py` and `transformers/transformer_2d.py`:
//! `Transformer2DModel`, `BasicTransformerBlock`, `Attention`, `FeedForward` with `GEGLU`.

use super::nn;
use crate::graph::{Activation, GraphBuilder, Padding, Scope, TensorId};
use crate::Result;

/// diffusers' `Attention` as SD uses it: `to_q`, `to_k`, `to_v` without bias, `to_out.0` with bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attention {
    /// Width of the queries (and of the output).
    pub query_dim: u32,
    /// Width of the keys' source: `query_dim` for self-attention, `cross_attention_dim` otherwise.
    pub context_dim: u32,
    /// Number of heads.
    pub heads: u32,
}

impl Attention {
    /// `x [B, N, C]`, `context [B, M, Cc]` (`None`: self-attention) → `[B, N, C]`.
    pub fn forward(
        &self,
        b: &mut GraphBuilder,
        p: &Scope,
        x: TensorId,
        context: Option<TensorId>,
    ) -> Result<TensorId> {
        let (c, cc) = (self.query_dim, self.context_dim);
        let ctx = context.unwrap_or(x);
        let none = Activation::None;
        let q = nn::linear(b, &p.pp("to_q"), x, (c, c), false, none)?; // [B, N, C]
        let k = nn::linear(b, &p.pp("to_k"), ctx, (cc, c), false, none)?; // [B, M, C]
        let v = nn::linear(b, &p.pp("to_v"), ctx, (cc, c), false, none)?; // [B, M, C]
        let a = nn::sdpa(b, &p.key("sdpa"), (q, k, v), self.heads, false)?; // [B, N, C]
        nn::linear(b, &p.pp("to_out").pp(0), a, (c, c), true, none) // [B, N, C]
    }
}

/// diffusers' `BasicTransformerBlock` (layer norms, self-attention, cross-attention, GEGLU feed-forward).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicTransformerBlock {
    /// Width of the residual stream.
    pub dim: u32,
    /// Heads of both attentions.
    pub heads: u32,
    /// Width of the text embeddings.
    pub cross_attention_dim: u32,
}

impl BasicTransformerBlock {
    /// `x [B, N, C]`, `context [B, M, Cc]` → `[B, N, C]`.
    pub fn forward(
        &self,
        b: &mut GraphBuilder,
        p: &Scope,
        x: TensorId,
        context: TensorId,
    ) -> Result<TensorId> {
        let (c, eps) = (self.dim, 1e-5);
        let attn1 = Attention {
            query_dim: c,
            context_dim: c,
            heads: self.heads,
        };
        let attn2 = Attention {
            query_dim: c,
            context_dim: self.cross_attention_dim,
            heads: self.heads,
        };
        // 1. self-attention
        let n = nn::layer_norm(b, &p.pp("norm1"), x, eps)?; // [B, N, C]
        let a = attn1.forward(b, &p.pp("attn1"), n, None)?; // [B, N, C]
        let x = b.add(&p.key("add1"), a, x)?; // [B, N, C]
                                              // 2. cross-attention
        let n = nn::layer_norm(b, &p.pp("norm2"), x, eps)?; // [B, N, C]
        let a = attn2.forward(b, &p.pp("attn2"), n, Some(context))?; // [B, N, C]
        let x = b.add(&p.key("add2"), a, x)?; // [B, N, C]
                                              // 3. feed-forward: GEGLU to 4C, back to C
        let n = nn::layer_norm(b, &p.pp("norm3"), x, eps)?; // [B, N, C]
        let ff = p.pp("ff").pp("net");
        let inner = 4 * c;
        let chunk = b.options().ff_chunk_rows;
        let rows = b.shape(n).iter().product::<u32>() / c;
        let h = if chunk == 0 || rows <= chunk {
            let h = nn::linear(
                b,
                &ff.pp(0).pp("proj"),
                n,
                (c, 2 * inner),
                true,
                Activation::None,
            )?; // [B, N, 8C]
            let h = b.geglu(&ff.key("geglu"), h)?; // [B, N, 4C]
            nn::linear(b, &ff.pp(2), h, (inner, c), true, Activation::None)? // [B, N, C]
        } else {
            feed_forward_chunked(b, &ff, n, (c, inner), chunk)? // [B, N, C]
        };
        b.add(&p.key("add3"), h, x) // [B, N, C]
    }
}

/// diffusers' `Transformer2DModel` for continuous inputs: group norm, `proj_in`, blocks, `proj_out`,
/// residual.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transformer2DModel {
    /// Channels in and out (= heads × head dim).
    pub channels: u32,
    /// Heads.
    pub heads: u32,
    /// Number of `transformer_blocks`.
    pub layers: u32,
    /// Width of the text embeddings.
    pub cross_attention_dim: u32,
    /// Groups of `norm`.
    pub groups: u32,
    /// `proj_in`/`proj_out` are linear (SD 2.x, SDXL) instead of 1×1 convolutions.
    pub use_linear_projection: bool,
}

impl Transformer2DModel {
    /// `x [B, C, H, W]`, `context [B, M, Cc]` → `[B, C, H, W]`.
    pub fn forward(
        &self,
        b: &mut GraphBuilder,
        p: &Scope,
        x: TensorId,
        context: TensorId,
    ) -> Result<TensorId> {
        let c = self.channels;
        let s = b.shape(x).to_vec();
        let (h, w) = (s[2], s[3]);
        let none = Activation::None;
        let one = Padding::symmetric(0);
        let n = nn::group_norm(b, &p.pp("norm"), x, (self.groups, 1e-6), false)?; // [B, C, H, W]
        let mut t = if self.use_linear_projection {
            let seq = nn::to_sequence(b, &p.key("seq"), n)?; // [B, HW, C]
            nn::linear(b, &p.pp("proj_in"), seq, (c, c), true, none)? // [B, HW, C]
        } else {
            let y = nn::conv2d(b, &p.pp("proj_in"), n, (c, c, 1), 1, one)?; // [B, C, H, W]
            nn::to_sequence(b, &p.key("seq"), y)? // [B, HW, C]
        };
        let block = BasicTransformerBlock {
            dim: c,
            heads: self.heads,
            cross_attention_dim: self.cross_attention_dim,
        };
        for i in 0..self.layers {
            t = block.forward(b, &p.pp("transformer_blocks").pp(i), t, context)?;
            // [B, HW, C]
        }
        let y = if self.use_linear_projection {
            let y = nn::linear(b, &p.pp("proj_out"), t, (c, c), true, none)?; // [B, HW, C]
            nn::to_image(b, &p.key("image"), y, (h, w))? // [B, C, H, W]
        } else {
            let y = nn::to_image(b, &p.key("image"), t, (h, w))?; // [B, C, H, W]
            nn::conv2d(b, &p.pp("proj_out"), y, (c, c, 1), 1, one)? // [B, C, H, W]
        };
        b.add(&p.key("out"), y, x) // [B, C, H, W]
    }
}

/// The GEGLU feed-forward `net.2(geglu(net.0.proj(x)))` of `x` `[B, N, C]`, `chunk` rows (of B·N) at a
/// time: each chunk's 8C-wide projection and 4C-wide GEGLU are separate small tensors, and its output
/// rows are written straight into the result. Every row is computed exactly as unchunked.
fn feed_forward_chunked(
    b: &mut GraphBuilder,
    ff: &Scope,
    x: TensorId,
    (c, inner): (u32, u32),
    chunk: u32,
) -> Result<TensorId> {
    let shape = b.shape(x).to_vec();
    let rows = shape.iter().product::<u32>() / c;
    let w1 = b.weight(&ff.pp(0).pp("proj").key("weight"), &[2 * inner, c])?; // [8C, C]
    let b1 = b.weight(&ff.pp(0).pp("proj").key("bias"), &[2 * inner])?; // [8C]
    let w2 = b.weight(&ff.pp(2).key("weight"), &[c, inner])?; // [C, 4C]
    let b2 = b.weight(&ff.pp(2).key("bias"), &[c])?; // [C]
    let out = b.empty(&ff.key("out"), &[rows, c])?; // [B·N, C]
    let none = Activation::None;
    for r0 in (0..rows).step_by(chunk as usize) {
        let r1 = (r0 + chunk).min(rows);
        let xi = b.rows(&ff.key(format!("rows{r0}")), x, r0, r1)?; // [r, C]
        let h = b.linear(ff.pp(0).pp("proj").as_str(), xi, w1, Some(b1), none)?; // [r, 8C]
        let h = b.geglu(&ff.key("geglu"), h)?; // [r, 4C]
        let yi = b.rows(&ff.key(format!("out{r0}")), out, r0, r1)?; // [r, C]
        b.linear_into(yi, h, w2, Some(b2), none)?; // [r, C]
    }
    b.view(&ff.key("out_seq"), out, &shape) // [B, N, C]
}
