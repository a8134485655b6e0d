//! diffusers `models/unets/unet_2d_condition.py`: `UNet2DConditionModel`, one denoising step.

use super::config::UNetConfig;
use super::nn;
use super::unet_blocks::{BlockCommon, CrossAttn, DownBlock, UNetMidBlock2DCrossAttn, UpBlock};
use crate::graph::{Activation, DType, GraphBuilder, Padding, Scope, TensorId};
use crate::{Error, Result};

/// The U-Net's graph inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UNetInputs {
    /// Noisy latents `[B, in_channels, h, w]`.
    pub sample: TensorId,
    /// Timesteps `[B]` (f32).
    pub timestep: TensorId,
    /// Text embeddings `[B, 77, cross_attention_dim]`.
    pub encoder_hidden_states: TensorId,
    /// SDXL: pooled text embeddings `[B, 1280]`.
    pub text_embeds: Option<TensorId>,
    /// SDXL: size and crop conditioning `[B, 6]` (f32).
    pub time_ids: Option<TensorId>,
}

/// diffusers' `UNet2DConditionModel`, built from its config.
#[derive(Clone, Debug, PartialEq)]
pub struct UNet2DConditionModel {
    /// The config it mirrors.
    pub config: UNetConfig,
}

impl UNet2DConditionModel {
    /// Checks the config and wraps it.
    pub fn new(config: UNetConfig) -> Result<Self> {
        config.validate()?;
        Ok(UNet2DConditionModel { config })
    }

    /// Creates the graph inputs for a batch of `batch` latents of `h × w` and 77 text tokens. In a
    /// pipeline the sample and the text embeddings come from elsewhere, so both can be given.
    pub fn inputs(
        &self,
        b: &mut GraphBuilder,
        batch: u32,
        (h, w): (u32, u32),
        (sample, timestep, encoder_hidden_states): (
            Option<TensorId>,
            Option<TensorId>,
            Option<TensorId>,
        ),
    ) -> Result<UNetInputs> {
        let c = &self.config;
        let sample = match sample {
            Some(s) => s,
            None => b.input("sample", &[batch, c.in_channels, h, w])?, // [B, 4, h, w]
        };
        let timestep = match timestep {
            Some(t) => t,
            None => b.input_typed("timestep", &[batch], DType::F32)?, // [B]
        };
        let encoder_hidden_states = match encoder_hidden_states {
            Some(e) => e,
            None => b.input("encoder_hidden_states", &[batch, 77, c.cross_attention_dim])?, // [B, 77, Cc]
        };
        let (text_embeds, time_ids) = if c.addition_embed_type.is_some() {
            let (pool, _) = self.text_time_dims()?;
            let te = b.input("text_embeds", &[batch, pool])?; // [B, 1280]
            let ti = b.input_typed("time_ids", &[batch, 6], DType::F32)?; // [B, 6]
            (Some(te), Some(ti))
        } else {
            (None, None)
        };
        Ok(UNetInputs {
            sample,
            timestep,
            encoder_hidden_states,
            text_embeds,
            time_ids,
        })
    }

    /// SDXL's `text_time`: (pooled text width, per-id embedding width).
    fn text_time_dims(&self) -> Result<(u32, u32)> {
        let c = &self.config;
        match (c.projection_class_embeddings_input_dim, c.addition_time_embed_dim) {
            (Some(total), Some(per)) if total > 6 * per => Ok((total - 6 * per, per)),
            _ => Err(Error::Invalid(
                "unet config: addition_embed_type text_time needs projection_class_embeddings_input_dim > 6 × addition_time_embed_dim"
                    .into(),
            )),
        }
    }

    /// One U-Net evaluation: returns the predicted noise (or v) `[B, out_channels, h, w]`.
    pub fn forward(&self, b: &mut GraphBuilder, p: &Scope, inp: &UNetInputs) -> Result<TensorId> {
        let c = &self.config;
        let n = c.down_block_types.len();
        let boc = &c.block_out_channels;
        let heads = c.heads_per_block()?;
        let layers = c
            .transformer_layers_per_block
            .expand(n, "transformer_layers_per_block")?;
        let ss = b.shape(inp.sample).to_vec();
        let (batch, h, w) = (ss[0], ss[2], ss[3]);
        let f = c.downsample_factor();
        if h % f != 0 || w % f != 0 {
            return Err(Error::Invalid(format!(
                "unet: latent {h}×{w} is not a multiple of the U-Net's down-sampling {f}"
            )));
        }
        let none = Activation::None;
        let temb_dim = boc[0] * 4;

        // 1. time
        let t = b.timestep_embedding(
            &p.key("time_proj"),
            inp.timestep,
            boc[0],
            c.flip_sin_to_cos,
            c.freq_shift,
        )?; // [B, C0]
        let te = p.pp("time_embedding");
        let t = nn::linear(
            b,
            &te.pp("linear_1"),
            t,
            (boc[0], temb_dim),
            true,
            Activation::Silu,
        )?; // [B, 4·C0]
        let mut emb = nn::linear(b, &te.pp("linear_2"), t, (temb_dim, temb_dim), true, none)?; // [B, 4·C0]
        if let (Some(text_embeds), Some(time_ids)) = (inp.text_embeds, inp.time_ids) {
            let (pool, per) = self.text_time_dims()?;
            let ids = b.view(&p.key("time_ids_flat"), time_ids, &[batch * 6])?; // [B·6]
            let ids = b.timestep_embedding(
                &p.key("add_time_proj"),
                ids,
                per,
                c.flip_sin_to_cos,
                c.freq_shift,
            )?; // [B·6, 256]
            let ids = b.view(&p.key("time_embeds"), ids, &[batch, 6 * per, 1, 1])?; // [B, 1536, 1, 1]
            let te4 = b.view(&p.key("text_embeds_4d"), text_embeds, &[batch, pool, 1, 1])?; // [B, 1280, 1, 1]
            let add = b.concat(&p.key("add_embeds"), te4, ids)?; // [B, 2816, 1, 1]
            let add = b.view(&p.key("add_embeds_2d"), add, &[batch, pool + 6 * per])?; // [B, 2816]
            let ae = p.pp("add_embedding");
            let a = nn::linear(
                b,
                &ae.pp("linear_1"),
                add,
                (pool + 6 * per, temb_dim),
                true,
                Activation::Silu,
            )?; // [B, 4·C0]
            let a = nn::linear(b, &ae.pp("linear_2"), a, (temb_dim, temb_dim), true, none)?; // [B, 4·C0]
            emb = b.add(&p.key("emb_plus_aug"), emb, a)?; // [B, 4·C0]
        }

        // 2. pre-process
        let same = Padding::symmetric(1);
        let mut x = nn::conv2d(
            b,
            &p.pp("conv_in"),
            inp.sample,
            (c.in_channels, boc[0], 3),
            1,
            same,
        )?; // [B, C0, h, w]

        // 3. down
        let common = BlockCommon {
            temb_channels: temb_dim,
            groups: c.norm_num_groups,
            eps: c.norm_eps,
        };
        let attn = |i: usize, cross: bool| {
            cross.then_some(CrossAttn {
                heads: heads[i],
                layers: layers[i],
                cross_attention_dim: c.cross_attention_dim,
                use_linear_projection: c.use_linear_projection,
            })
        };
        let ctx = inp.encoder_hidden_states;
        let mut skips = vec![x];
        for (i, kind) in c.down_block_types.iter().enumerate() {
            let block = DownBlock {
                in_channels: if i == 0 { boc[0] } else { boc[i - 1] },
                out_channels: boc[i],
                layers: c.layers_per_block,
                add_downsample: i + 1 < n,
                attn: attn(i, kind == "CrossAttnDownBlock2D"),
            };
            x = block.forward(
                b,
                &p.pp("down_blocks").pp(i),
                &common,
                (x, emb, ctx),
                &mut skips,
            )?; // [B, Ci, h/2^i, w/2^i]
        }

        // 4. mid
        let mid = UNetMidBlock2DCrossAttn {
            channels: boc[n - 1],
            attn: attn(n - 1, true).expect("mid block has attention"),
        };
        x = mid.forward(b, &p.pp("mid_block"), &common, (x, emb, ctx))?; // [B, C_last, h/2^(n-1), ..]

        // 5. up (reversed channels, heads and layers)
        for (i, kind) in c.up_block_types.iter().enumerate() {
            let r = n - 1 - i;
            let block = UpBlock {
                prev_output_channels: if i == 0 { boc[n - 1] } else { boc[r + 1] },
                out_channels: boc[r],
                in_channels: boc[r.saturating_sub(1)],
                layers: c.layers_per_block + 1,
                add_upsample: i + 1 < n,
                attn: attn(r, kind == "CrossAttnUpBlock2D"),
            };
            x = block.forward(
                b,
                &p.pp("up_blocks").pp(i),
                &common,
                (x, emb, ctx),
                &mut skips,
            )?; // [B, C_r, ..]
        }

        // 6. post-process
        let x = nn::group_norm(
            b,
            &p.pp("conv_norm_out"),
            x,
            (c.norm_num_groups, c.norm_eps),
            true,
        )?; // [B, C0, h, w]
        nn::conv2d(
            b,
            &p.pp("conv_out"),
            x,
            (boc[0], c.out_channels, 3),
            1,
            same,
        ) // [B, 4, h, w]
    }
}
