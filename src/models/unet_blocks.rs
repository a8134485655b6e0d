//! diffusers `models/unets/unet_2d_blocks.py`: the U-Net's down, mid and up blocks.

use super::resnet::{downsample_2d, upsample_2d, ResnetBlock2D};
use super::transformer::Transformer2DModel;
use crate::graph::{GraphBuilder, Scope, TensorId};
use crate::Result;

/// The attention part of a cross-attention block (absent for `DownBlock2D` / `UpBlock2D`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrossAttn {
    /// Heads of each `Transformer2DModel`.
    pub heads: u32,
    /// `transformer_layers_per_block` of this block.
    pub layers: u32,
    /// Width of the text embeddings.
    pub cross_attention_dim: u32,
    /// `use_linear_projection`.
    pub use_linear_projection: bool,
}

/// What every U-Net block shares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockCommon {
    /// Width of the time embedding.
    pub temb_channels: u32,
    /// `norm_num_groups`.
    pub groups: u32,
    /// `norm_eps` of the resnets.
    pub eps: f32,
}

impl BlockCommon {
    fn resnet(&self, in_channels: u32, out_channels: u32) -> ResnetBlock2D {
        ResnetBlock2D {
            in_channels,
            out_channels,
            temb_channels: Some(self.temb_channels),
            groups: self.groups,
            eps: self.eps,
        }
    }

    fn transformer(&self, channels: u32, a: &CrossAttn) -> Transformer2DModel {
        Transformer2DModel {
            channels,
            heads: a.heads,
            layers: a.layers,
            cross_attention_dim: a.cross_attention_dim,
            groups: self.groups,
            use_linear_projection: a.use_linear_projection,
        }
    }
}

/// `CrossAttnDownBlock2D` (with `attn`) or `DownBlock2D` (without).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DownBlock {
    /// Channels in.
    pub in_channels: u32,
    /// Channels out.
    pub out_channels: u32,
    /// Resnets (`layers_per_block`).
    pub layers: u32,
    /// Whether a `downsamplers.0` follows (all but the last block).
    pub add_downsample: bool,
    /// The attentions, for `CrossAttnDownBlock2D`.
    pub attn: Option<CrossAttn>,
}

impl DownBlock {
    /// `x [B, Ci, H, W]` → `[B, Co, H/2, W/2]` (or `H` for the last block); pushes every resnet or
    /// attention output and the downsampler's output onto `skips`.
    pub fn forward(
        &self,
        b: &mut GraphBuilder,
        p: &Scope,
        common: &BlockCommon,
        (mut x, temb, context): (TensorId, TensorId, TensorId),
        skips: &mut Vec<TensorId>,
    ) -> Result<TensorId> {
        let co = self.out_channels;
        for j in 0..self.layers {
            let ci = if j == 0 { self.in_channels } else { co };
            x = common
                .resnet(ci, co)
                .forward(b, &p.pp("resnets").pp(j), x, Some(temb))?; // [B, Co, H, W]
            if let Some(a) = &self.attn {
                x = common
                    .transformer(co, a)
                    .forward(b, &p.pp("attentions").pp(j), x, context)?; // [B, Co, H, W]
            }
            skips.push(x);
        }
        if self.add_downsample {
            x = downsample_2d(b, &p.pp("downsamplers").pp(0), x, co, 1)?; // [B, Co, H/2, W/2]
            skips.push(x);
        }
        Ok(x)
    }
}

/// `UNetMidBlock2DCrossAttn`: resnet, transformer, resnet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UNetMidBlock2DCrossAttn {
    /// Channels (the last block's).
    pub channels: u32,
    /// The attention.
    pub attn: CrossAttn,
}

impl UNetMidBlock2DCrossAttn {
    /// `x [B, C, h, w]` → `[B, C, h, w]`.
    pub fn forward(
        &self,
        b: &mut GraphBuilder,
        p: &Scope,
        common: &BlockCommon,
        (x, temb, context): (TensorId, TensorId, TensorId),
    ) -> Result<TensorId> {
        let c = self.channels;
        let x = common
            .resnet(c, c)
            .forward(b, &p.pp("resnets").pp(0), x, Some(temb))?; // [B, C, h, w]
        let x =
            common
                .transformer(c, &self.attn)
                .forward(b, &p.pp("attentions").pp(0), x, context)?; // [B, C, h, w]
        common
            .resnet(c, c)
            .forward(b, &p.pp("resnets").pp(1), x, Some(temb)) // [B, C, h, w]
    }
}

/// `CrossAttnUpBlock2D` (with `attn`) or `UpBlock2D` (without).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpBlock {
    /// Channels of the block's input (the previous up block's output).
    pub prev_output_channels: u32,
    /// Channels out.
    pub out_channels: u32,
    /// Channels of the skip consumed by the last resnet (the matching down block's input).
    pub in_channels: u32,
    /// Resnets (`layers_per_block + 1`).
    pub layers: u32,
    /// Whether an `upsamplers.0` follows (all but the last block).
    pub add_upsample: bool,
    /// The attentions, for `CrossAttnUpBlock2D`.
    pub attn: Option<CrossAttn>,
}

impl UpBlock {
    /// `x [B, Cp, H, W]` → `[B, Co, 2H, 2W]` (or `H` for the last block), popping one skip per resnet.
    pub fn forward(
        &self,
        b: &mut GraphBuilder,
        p: &Scope,
        common: &BlockCommon,
        (mut x, temb, context): (TensorId, TensorId, TensorId),
        skips: &mut Vec<TensorId>,
    ) -> Result<TensorId> {
        let co = self.out_channels;
        for j in 0..self.layers {
            let skip = skips.pop().ok_or_else(|| {
                crate::Error::Invalid(format!("{}: no skip connection left", p.as_str()))
            })?;
            let cs = b.shape(skip)[1];
            let ci = if j == 0 {
                self.prev_output_channels
            } else {
                co
            };
            let r = p.pp("resnets").pp(j);
            let cat = b.concat(&r.key("cat"), x, skip)?; // [B, Ci + Cs, H, W]
            x = common.resnet(ci + cs, co).forward(b, &r, cat, Some(temb))?; // [B, Co, H, W]
            if let Some(a) = &self.attn {
                x = common
                    .transformer(co, a)
                    .forward(b, &p.pp("attentions").pp(j), x, context)?; // [B, Co, H, W]
            }
        }
        if self.add_upsample {
            x = upsample_2d(b, &p.pp("upsamplers").pp(0), x, co)?; // [B, Co, 2H, 2W]
        }
        Ok(x)
    }
}
