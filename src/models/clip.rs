//! transformers `models/clip/modeling_clip.py`: `CLIPTextModel` and `CLIPTextModelWithProjection`.
//!
//! Weight keys are the canonical transformers-5 `state_dict()` form (checked against
//! `tests/data/weight_names/`): `CLIPTextModel` saves its body *without* the `text_model.` prefix that
//! published SD 1.x/2.x folders carry (`embeddings.token_embedding.weight`), while
//! `CLIPTextModelWithProjection` (SDXL's `text_encoder_2`) keeps it (`text_model.embeddings...`) and adds
//! `text_projection.weight` at the root. A loader maps the other forms onto these.

use super::config::ClipTextConfig;
use super::nn;
use crate::graph::{Activation, GraphBuilder, Scope, TensorId};
use crate::Result;

/// What the text encoder hands on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClipOutputs {
    /// `last_hidden_state` `[B, N, C]`, after `final_layer_norm`.
    pub last_hidden_state: TensorId,
    /// `hidden_states[-2]` `[B, N, C]`: the input of the last layer (SDXL conditions on it).
    pub penultimate: TensorId,
    /// `CLIPTextModelWithProjection`: `text_projection` of every token `[B, N, P]`. The pooled
    /// `text_embeds` is its row at the end-of-text token, a gather the op set does not have; the caller
    /// picks it.
    pub projected: Option<TensorId>,
}

/// transformers' `CLIPTextModel` (plus `text_projection` when the config's class has it).
#[derive(Clone, Debug, PartialEq)]
pub struct ClipTextModel {
    /// The config it mirrors.
    pub config: ClipTextConfig,
}

impl ClipTextModel {
    /// Checks the config and wraps it.
    pub fn new(config: ClipTextConfig) -> Result<Self> {
        config.activation()?;
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err(crate::Error::Invalid(format!(
                "text encoder: {} heads do not divide hidden_size {}",
                config.num_attention_heads, config.hidden_size
            )));
        }
        Ok(ClipTextModel { config })
    }

    /// `input_ids [B, N]` (u32) → the outputs; causal self-attention.
    pub fn forward(&self, b: &mut GraphBuilder, p: &Scope, ids: TensorId) -> Result<ClipOutputs> {
        let c = &self.config;
        let root = p;
        let body = if c.with_projection() {
            p.pp("text_model")
        } else {
            p.clone()
        };
        let p = &body;
        let (d, eps, none) = (c.hidden_size, c.layer_norm_eps, Activation::None);
        // 1. embeddings
        let e = p.pp("embeddings");
        let tok = b.weight(&e.pp("token_embedding").key("weight"), &[c.vocab_size, d])?; // [V, C]
        let pos = b.weight(
            &e.pp("position_embedding").key("weight"),
            &[c.max_position_embeddings, d],
        )?; // [P, C]
        let mut h = b.token_embedding(&e.key("out"), ids, tok, pos)?; // [B, N, C]
                                                                      // 2. encoder layers
        let mut penultimate = h;
        for i in 0..c.num_hidden_layers {
            penultimate = h;
            let l = p.pp("encoder").pp("layers").pp(i);
            let a = l.pp("self_attn");
            let n = nn::layer_norm(b, &l.pp("layer_norm1"), h, eps)?; // [B, N, C]
            let q = nn::linear(b, &a.pp("q_proj"), n, (d, d), true, none)?; // [B, N, C]
            let k = nn::linear(b, &a.pp("k_proj"), n, (d, d), true, none)?; // [B, N, C]
            let v = nn::linear(b, &a.pp("v_proj"), n, (d, d), true, none)?; // [B, N, C]
            let o = nn::sdpa(b, &a.key("sdpa"), (q, k, v), c.num_attention_heads, true)?; // [B, N, C]
            let o = nn::linear(b, &a.pp("out_proj"), o, (d, d), true, none)?; // [B, N, C]
            h = b.add(&l.key("add1"), h, o)?; // [B, N, C]
            let n = nn::layer_norm(b, &l.pp("layer_norm2"), h, eps)?; // [B, N, C]
            let m = l.pp("mlp");
            let f = nn::linear(
                b,
                &m.pp("fc1"),
                n,
                (d, c.intermediate_size),
                true,
                c.activation()?,
            )?; // [B, N, I]
            let f = nn::linear(b, &m.pp("fc2"), f, (c.intermediate_size, d), true, none)?; // [B, N, C]
            h = b.add(&l.key("add2"), h, f)?; // [B, N, C]
        }
        // 3. final layer norm
        let last_hidden_state = nn::layer_norm(b, &p.pp("final_layer_norm"), h, eps)?; // [B, N, C]
        let projected = if c.with_projection() {
            let pr = root.pp("text_projection");
            Some(nn::linear(
                b,
                &pr,
                last_hidden_state,
                (d, c.projection_dim),
                false,
                none,
            )?) // [B, N, P]
        } else {
            None
        };
        Ok(ClipOutputs {
            last_hidden_state,
            penultimate,
            projected,
        })
    }
}
