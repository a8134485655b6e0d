//! diffusers `models/resnet.py`: `ResnetBlock2D`, `Downsample2D`, `Upsample2D`.

use super::nn;
use crate::graph::{Activation, GraphBuilder, Padding, Scope, TensorId};
use crate::Result;

/// diffusers' `ResnetBlock2D` (`pre_norm`, `output_scale_factor` 1, SiLU, no up/down).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResnetBlock2D {
    /// Channels in.
    pub in_channels: u32,
    /// Channels out; a 1×1 `conv_shortcut` exists when they differ from `in_channels`.
    pub out_channels: u32,
    /// Width of the time embedding fed to `time_emb_proj` (`None` in the VAE).
    pub temb_channels: Option<u32>,
    /// Groups of `norm1` and `norm2`.
    pub groups: u32,
    /// Epsilon of `norm1` and `norm2`.
    pub eps: f32,
}

impl ResnetBlock2D {
    /// `x [B, Ci, H, W]`, `temb [B, T]` → `[B, Co, H, W]`.
    pub fn forward(
        &self,
        b: &mut GraphBuilder,
        p: &Scope,
        x: TensorId,
        temb: Option<TensorId>,
    ) -> Result<TensorId> {
        let (ci, co) = (self.in_channels, self.out_channels);
        let norm = (self.groups, self.eps);
        let same = Padding::symmetric(1);
        let h = nn::group_norm(b, &p.pp("norm1"), x, norm, true)?; // [B, Ci, H, W]
        let mut h = nn::conv2d(b, &p.pp("conv1"), h, (ci, co, 3), 1, same)?; // [B, Co, H, W]
        if let (Some(tc), Some(temb)) = (self.temb_channels, temb) {
            let bsz = b.shape(temb)[0];
            let t = b.unary(&p.key("temb_silu"), temb, Activation::Silu)?; // [B, T]
            let t = nn::linear(
                b,
                &p.pp("time_emb_proj"),
                t,
                (tc, co),
                true,
                Activation::None,
            )?; // [B, Co]
            let t = b.view(&p.key("temb_4d"), t, &[bsz, co, 1, 1])?; // [B, Co, 1, 1]
            h = b.add(&p.key("add_temb"), h, t)?; // [B, Co, H, W]
        }
        let h = nn::group_norm(b, &p.pp("norm2"), h, norm, true)?; // [B, Co, H, W]
        let h = nn::conv2d(b, &p.pp("conv2"), h, (co, co, 3), 1, same)?; // [B, Co, H, W]
        let shortcut = if ci != co {
            nn::conv2d(
                b,
                &p.pp("conv_shortcut"),
                x,
                (ci, co, 1),
                1,
                Padding::symmetric(0),
            )? // [B, Co, H, W]
        } else {
            x
        };
        b.add(&p.key("out"), shortcut, h) // [B, Co, H, W]
    }
}

/// diffusers' `Downsample2D` with a convolution: 3×3, stride 2, `padding` on each side, or, with
/// padding 0 (the VAE encoder), the asymmetric (0, 1) pad diffusers applies with `F.pad` first.
pub fn downsample_2d(
    b: &mut GraphBuilder,
    p: &Scope,
    x: TensorId,
    channels: u32,
    padding: u32,
) -> Result<TensorId> {
    let pad = if padding == 0 {
        Padding { begin: 0, end: 1 }
    } else {
        Padding::symmetric(padding)
    };
    nn::conv2d(b, &p.pp("conv"), x, (channels, channels, 3), 2, pad) // [B, C, H/2, W/2]
}

/// diffusers' `Upsample2D` with a convolution: nearest 2×, then 3×3 `conv`.
pub fn upsample_2d(
    b: &mut GraphBuilder,
    p: &Scope,
    x: TensorId,
    channels: u32,
) -> Result<TensorId> {
    let up = b.upsample2x(&p.key("nearest"), x)?; // [B, C, 2H, 2W]
    nn::conv2d(
        b,
        &p.pp("conv"),
        up,
        (channels, channels, 3),
        1,
        Padding::symmetric(1),
    ) // [B, C, 2H, 2W]
}
