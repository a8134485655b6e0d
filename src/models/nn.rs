//! torch.nn layers (`Linear`, `Conv2d`, `GroupNorm`, `LayerNorm`) and the attention core, as graph
//! fragments: each creates its weights under the module's checkpoint path and its op.

use crate::graph::{Activation, GraphBuilder, Padding, Scope, TensorId};
use crate::Result;

/// `nn.Linear(in, out, bias)` at `p`: `p.weight [out, in]`, `p.bias [out]`. x `[.., in]` → `[.., out]`.
pub fn linear(
    b: &mut GraphBuilder,
    p: &Scope,
    x: TensorId,
    (cin, cout): (u32, u32),
    bias: bool,
    act: Activation,
) -> Result<TensorId> {
    let w = b.weight(&p.key("weight"), &[cout, cin])?; // [out, in]
    let bias = if bias {
        Some(b.weight(&p.key("bias"), &[cout])?) // [out]
    } else {
        None
    };
    b.linear(p.as_str(), x, w, bias, act) // [.., out]
}

/// `nn.Conv2d(in, out, k, stride, padding)` at `p`, with bias: `p.weight [out, in, k, k]`, `p.bias [out]`.
pub fn conv2d(
    b: &mut GraphBuilder,
    p: &Scope,
    x: TensorId,
    (cin, cout, k): (u32, u32, u32),
    stride: u32,
    pad: Padding,
) -> Result<TensorId> {
    let w = b.weight(&p.key("weight"), &[cout, cin, k, k])?; // [out, in, k, k]
    let bias = b.weight(&p.key("bias"), &[cout])?; // [out]
    b.conv2d(p.as_str(), x, w, Some(bias), stride, pad) // [B, out, H', W']
}

/// `nn.GroupNorm(groups, c, eps)` at `p` (`p.weight`, `p.bias` `[c]`), SiLU fused when `silu`.
pub fn group_norm(
    b: &mut GraphBuilder,
    p: &Scope,
    x: TensorId,
    (groups, eps): (u32, f32),
    silu: bool,
) -> Result<TensorId> {
    let c = b.shape(x).get(1).copied().unwrap_or(0);
    let gamma = b.weight(&p.key("weight"), &[c])?; // [C]
    let beta = b.weight(&p.key("bias"), &[c])?; // [C]
    b.group_norm(p.as_str(), x, gamma, beta, groups, eps, silu) // like x
}

/// `nn.LayerNorm(c, eps)` at `p` over the last dimension.
pub fn layer_norm(b: &mut GraphBuilder, p: &Scope, x: TensorId, eps: f32) -> Result<TensorId> {
    let c = b.shape(x).last().copied().unwrap_or(0);
    let gamma = b.weight(&p.key("weight"), &[c])?; // [C]
    let beta = b.weight(&p.key("bias"), &[c])?; // [C]
    b.layer_norm(p.as_str(), x, gamma, beta, eps) // like x
}

/// Scaled dot-product attention of q `[B, Nq, heads·D]` with k, v `[B, Nk, heads·D]`, scale `1/√D`:
/// the flash-style [`crate::graph::Op::Attention`], or, when the options ask for materialised attention,
/// scores `[B·heads, Nq, Nk]`, softmax in place, then values.
pub fn sdpa(
    b: &mut GraphBuilder,
    name: &str,
    (q, k, v): (TensorId, TensorId, TensorId),
    heads: u32,
    causal: bool,
) -> Result<TensorId> {
    let width = b.shape(q).last().copied().unwrap_or(0);
    let head_dim = width.checked_div(heads).unwrap_or(0);
    let scale = 1.0 / (head_dim.max(1) as f32).sqrt();
    if b.options().materialised_attention {
        let s = b.attention_scores(&format!("{name}.scores"), q, k, heads, scale)?; // [B·heads, Nq, Nk]
        let p = b.softmax_in_place(&format!("{name}.probs"), s, causal)?; // [B·heads, Nq, Nk]
        b.attention_values(name, p, v, heads) // [B, Nq, heads·D]
    } else {
        b.attention(name, q, k, v, heads, causal, scale) // [B, Nq, heads·D]
    }
}

/// NCHW `[B, C, H, W]` → sequence `[B, H·W, C]` (a view, then a transpose).
pub fn to_sequence(b: &mut GraphBuilder, name: &str, x: TensorId) -> Result<TensorId> {
    let s = b.shape(x).to_vec();
    let [n, c, h, w] = s[..] else {
        return Err(crate::Error::Invalid(format!(
            "{name}: expected [B, C, H, W], got {s:?}"
        )));
    };
    let flat = b.view(&format!("{name}.flat"), x, &[n, c, h * w])?; // [B, C, H·W]
    b.transpose(name, flat) // [B, H·W, C]
}

/// Sequence `[B, H·W, C]` → NCHW `[B, C, H, W]` (a transpose, then a view).
pub fn to_image(
    b: &mut GraphBuilder,
    name: &str,
    x: TensorId,
    (h, w): (u32, u32),
) -> Result<TensorId> {
    let t = b.transpose(&format!("{name}.t"), x)?; // [B, C, H·W]
    let s = b.shape(t).to_vec();
    b.view(name, t, &[s[0], s[1], h, w]) // [B, C, H, W]
}
