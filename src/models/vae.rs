//! diffusers `models/autoencoders/autoencoder_kl.py` and `vae.py`: `AutoencoderKL`'s `Encoder` and
//! `Decoder`, with `quant_conv` and `post_quant_conv`.

use super::config::VaeConfig;
use super::nn;
use super::resnet::{downsample_2d, upsample_2d, ResnetBlock2D};
use crate::graph::{Activation, GraphBuilder, Padding, Scope, TensorId};
use crate::{Error, Result};

/// diffusers' `Attention` as the VAE mid block uses it: one head over all channels, group norm, biased
/// projections, residual.
fn vae_attention(
    b: &mut GraphBuilder,
    p: &Scope,
    x: TensorId,
    (groups, eps): (u32, f32),
) -> Result<TensorId> {
    let s = b.shape(x).to_vec();
    let (c, h, w) = (s[1], s[2], s[3]);
    let none = Activation::None;
    let n = nn::group_norm(b, &p.pp("group_norm"), x, (groups, eps), false)?; // [B, C, H, W]
    let seq = nn::to_sequence(b, &p.key("seq"), n)?; // [B, HW, C]
    let q = nn::linear(b, &p.pp("to_q"), seq, (c, c), true, none)?; // [B, HW, C]
    let k = nn::linear(b, &p.pp("to_k"), seq, (c, c), true, none)?; // [B, HW, C]
    let v = nn::linear(b, &p.pp("to_v"), seq, (c, c), true, none)?; // [B, HW, C]
    let a = nn::sdpa(b, &p.key("sdpa"), (q, k, v), 1, false)?; // [B, HW, C]
    let o = nn::linear(b, &p.pp("to_out").pp(0), a, (c, c), true, none)?; // [B, HW, C]
    let o = nn::to_image(b, &p.key("image"), o, (h, w))?; // [B, C, H, W]
    b.add(&p.key("out"), o, x) // [B, C, H, W]
}

/// diffusers' `UNetMidBlock2D` without time embedding: resnet, attention (unless disabled), resnet.
fn mid_block(b: &mut GraphBuilder, p: &Scope, x: TensorId, c: &VaeConfig) -> Result<TensorId> {
    let ch = *c.block_out_channels.last().expect("validated");
    let norm = (c.norm_num_groups, 1e-6);
    let resnet = vae_resnet(ch, ch, c);
    let x = resnet.forward(b, &p.pp("resnets").pp(0), x, None)?; // [B, C, h, w]
    let x = if c.mid_block_add_attention {
        vae_attention(b, &p.pp("attentions").pp(0), x, norm)? // [B, C, h, w]
    } else {
        x
    };
    resnet.forward(b, &p.pp("resnets").pp(1), x, None) // [B, C, h, w]
}

fn vae_resnet(in_channels: u32, out_channels: u32, c: &VaeConfig) -> ResnetBlock2D {
    ResnetBlock2D {
        in_channels,
        out_channels,
        temb_channels: None,
        groups: c.norm_num_groups,
        eps: 1e-6,
    }
}

/// diffusers' `AutoencoderKL`, built from its config.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoencoderKL {
    /// The config it mirrors.
    pub config: VaeConfig,
}

impl AutoencoderKL {
    /// Checks the config and wraps it.
    pub fn new(config: VaeConfig) -> Result<Self> {
        config.validate()?;
        Ok(AutoencoderKL { config })
    }

    /// `AutoencoderKL.encode` up to the latent distribution's parameters: image `[B, 3, H, W]` →
    /// moments `[B, 2·latent, H/f, W/f]` (mean, then log-variance), after `quant_conv`.
    pub fn encode(&self, b: &mut GraphBuilder, p: &Scope, image: TensorId) -> Result<TensorId> {
        let h = self.encode_head(b, p, image)?; // [B, C_last, h, w]
        self.encode_tail(b, p, h) // [B, 2L, h, w]
    }

    /// The encoder's part at image resolution: `conv_in` and the down blocks, image `[B, 3, H, W]` →
    /// `[B, C_last, H/f, W/f]`. A tiled VAE runs it tile by tile ([`AutoencoderKL::encode_tail`]
    /// then runs once on the blended result).
    pub fn encode_head(
        &self,
        b: &mut GraphBuilder,
        p: &Scope,
        image: TensorId,
    ) -> Result<TensorId> {
        let c = &self.config;
        let boc = &c.block_out_channels;
        let n = boc.len();
        let s = b.shape(image).to_vec();
        let f = c.scale_factor();
        if s.len() != 4 || !s[2].is_multiple_of(f) || !s[3].is_multiple_of(f) {
            return Err(Error::Invalid(format!(
                "vae: image {s:?} must be [B, C, H, W] with H and W multiples of {f}"
            )));
        }
        let e = p.pp("encoder");
        let same = Padding::symmetric(1);
        // 1. conv_in
        let mut x = nn::conv2d(
            b,
            &e.pp("conv_in"),
            image,
            (c.in_channels, boc[0], 3),
            1,
            same,
        )?; // [B, C0, H, W]
            // 2. down (DownEncoderBlock2D)
        for i in 0..n {
            let p_i = e.pp("down_blocks").pp(i);
            let ci = if i == 0 { boc[0] } else { boc[i - 1] };
            for j in 0..c.layers_per_block {
                let r = vae_resnet(if j == 0 { ci } else { boc[i] }, boc[i], c);
                x = r.forward(b, &p_i.pp("resnets").pp(j), x, None)?; // [B, Ci, H/2^i, W/2^i]
            }
            if i + 1 < n {
                x = downsample_2d(b, &p_i.pp("downsamplers").pp(0), x, boc[i], 0)?;
                // [B, Ci, H/2^(i+1), ..]
            }
        }
        Ok(x)
    }

    /// The encoder's part at latent resolution: the mid block (with its attention over the whole
    /// latent), `conv_norm_out`, `conv_out` and `quant_conv`, `[B, C_last, h, w]` → moments
    /// `[B, 2L, h, w]`.
    pub fn encode_tail(&self, b: &mut GraphBuilder, p: &Scope, x: TensorId) -> Result<TensorId> {
        let c = &self.config;
        let boc = &c.block_out_channels;
        let n = boc.len();
        let e = p.pp("encoder");
        let same = Padding::symmetric(1);
        // 3. mid
        let x = mid_block(b, &e.pp("mid_block"), x, c)?; // [B, C_last, h, w]
                                                         // 4. post-process
        let x = nn::group_norm(
            b,
            &e.pp("conv_norm_out"),
            x,
            (c.norm_num_groups, 1e-6),
            true,
        )?; // [B, C_last, h, w]
        let l2 = 2 * c.latent_channels;
        let x = nn::conv2d(b, &e.pp("conv_out"), x, (boc[n - 1], l2, 3), 1, same)?; // [B, 2L, h, w]
        if c.use_quant_conv {
            nn::conv2d(
                b,
                &p.pp("quant_conv"),
                x,
                (l2, l2, 1),
                1,
                Padding::symmetric(0),
            ) // [B, 2L, h, w]
        } else {
            Ok(x)
        }
    }

    /// `AutoencoderKL.decode` of latents already divided by `scaling_factor`: `[B, L, h, w]` →
    /// image `[B, 3, h·f, w·f]`.
    pub fn decode(&self, b: &mut GraphBuilder, p: &Scope, z: TensorId) -> Result<TensorId> {
        let x = self.decode_head(b, p, z)?; // [B, C_last, h, w]
        self.decode_tail(b, p, x) // [B, 3, H, W]
    }

    /// The decoder's part at latent resolution: `post_quant_conv`, `conv_in`, the mid block (with its
    /// attention over the whole latent) and the first up block's resnets, `[B, L, h, w]` →
    /// `[B, C_last, h, w]`. A tiled VAE runs it once, then [`AutoencoderKL::decode_tail`] tile by tile.
    pub fn decode_head(&self, b: &mut GraphBuilder, p: &Scope, z: TensorId) -> Result<TensorId> {
        let c = &self.config;
        let boc = &c.block_out_channels;
        let n = boc.len();
        let l = c.latent_channels;
        let same = Padding::symmetric(1);
        let z = if c.use_post_quant_conv {
            nn::conv2d(
                b,
                &p.pp("post_quant_conv"),
                z,
                (l, l, 1),
                1,
                Padding::symmetric(0),
            )? // [B, L, h, w]
        } else {
            z
        };
        let d = p.pp("decoder");
        // 1. conv_in
        let x = nn::conv2d(b, &d.pp("conv_in"), z, (l, boc[n - 1], 3), 1, same)?; // [B, C_last, h, w]
                                                                                  // 2. mid
        let mut x = mid_block(b, &d.pp("mid_block"), x, c)?; // [B, C_last, h, w]
                                                             // 3. the first up block's resnets
        let p_0 = d.pp("up_blocks").pp(0);
        let co = boc[n - 1];
        for j in 0..=c.layers_per_block {
            let r = vae_resnet(co, co, c);
            x = r.forward(b, &p_0.pp("resnets").pp(j), x, None)?; // [B, C_last, h, w]
        }
        Ok(x)
    }

    /// The rest of the decoder, from the first up block's upsampler to `conv_out`:
    /// `[B, C_last, h, w]` → image `[B, 3, h·f, w·f]`.
    pub fn decode_tail(&self, b: &mut GraphBuilder, p: &Scope, x: TensorId) -> Result<TensorId> {
        let c = &self.config;
        let boc = &c.block_out_channels;
        let n = boc.len();
        let same = Padding::symmetric(1);
        let d = p.pp("decoder");
        // 3. up (UpDecoderBlock2D, reversed channels), the first block's resnets done
        let mut x = x;
        let mut prev = boc[n - 1];
        for i in 0..n {
            let p_i = d.pp("up_blocks").pp(i);
            let co = boc[n - 1 - i];
            if i > 0 {
                for j in 0..=c.layers_per_block {
                    let r = vae_resnet(if j == 0 { prev } else { co }, co, c);
                    x = r.forward(b, &p_i.pp("resnets").pp(j), x, None)?; // [B, Co, h·2^i, w·2^i]
                }
            }
            if i + 1 < n {
                x = upsample_2d(b, &p_i.pp("upsamplers").pp(0), x, co)?; // [B, Co, h·2^(i+1), ..]
            }
            prev = co;
        }
        // 4. post-process
        let x = nn::group_norm(
            b,
            &d.pp("conv_norm_out"),
            x,
            (c.norm_num_groups, 1e-6),
            true,
        )?; // [B, C0, H, W]
        nn::conv2d(
            b,
            &d.pp("conv_out"),
            x,
            (boc[0], c.out_channels, 3),
            1,
            same,
        ) // [B, 3, H, W]
    }
}
