//! Model configs, deserialised from a diffusers folder's `config.json` files.
//!
//! Every field SD 1.x, 2.x and SDXL use is here, with the default diffusers (or transformers) gives it
//! when the file leaves it out. Unknown fields are ignored. The named constructors mirror published
//! configs; when a model folder is given, its own config.json wins.

use crate::graph::Activation;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A config value diffusers accepts as one integer for all blocks or as one per block.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum PerBlock {
    /// The same value for every block.
    All(u32),
    /// One value per down block (up blocks read the list reversed).
    Each(Vec<u32>),
}

impl PerBlock {
    /// One value per block for `n` blocks; an error names `field` when a list has the wrong length.
    pub fn expand(&self, n: usize, field: &str) -> Result<Vec<u32>> {
        match self {
            PerBlock::All(v) => Ok(vec![*v; n]),
            PerBlock::Each(v) if v.len() == n => Ok(v.clone()),
            PerBlock::Each(v) => Err(Error::Invalid(format!(
                "{field} has {} entries but there are {n} down blocks",
                v.len()
            ))),
        }
    }
}

/// Reads `null` as the type's default (`false` for a flag), as Python treats `None` in a flag.
fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::format(path, e.to_string()))
}

/// transformers' `CLIPTextConfig` (defaults from `configuration_clip.py`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct ClipTextConfig {
    /// Width of the residual stream.
    pub hidden_size: u32,
    /// Number of encoder layers.
    pub num_hidden_layers: u32,
    /// Attention heads per layer.
    pub num_attention_heads: u32,
    /// Width of the MLP.
    pub intermediate_size: u32,
    /// MLP activation: `quick_gelu` (SD 1.x) or `gelu` (SD 2.x, SDXL's second encoder).
    pub hidden_act: String,
    /// Length of the position table (77).
    pub max_position_embeddings: u32,
    /// Size of the token table (49408).
    pub vocab_size: u32,
    /// Epsilon of every layer norm.
    pub layer_norm_eps: f32,
    /// Output width of `text_projection` (only for `CLIPTextModelWithProjection`).
    pub projection_dim: u32,
    /// The model class; `CLIPTextModelWithProjection` adds `text_projection` (SDXL's second encoder).
    pub architectures: Vec<String>,
}

impl Default for ClipTextConfig {
    fn default() -> Self {
        ClipTextConfig {
            hidden_size: 512,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            intermediate_size: 2048,
            hidden_act: "quick_gelu".into(),
            max_position_embeddings: 77,
            vocab_size: 49408,
            layer_norm_eps: 1e-5,
            projection_dim: 512,
            architectures: vec!["CLIPTextModel".into()],
        }
    }
}

impl ClipTextConfig {
    /// `openai/clip-vit-large-patch14`, as in `stable-diffusion-v1-5/stable-diffusion-v1-5`
    /// `text_encoder/config.json` (and SDXL base's `text_encoder/config.json`).
    pub fn sd_v1_5() -> Self {
        ClipTextConfig {
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: "quick_gelu".into(),
            projection_dim: 768,
            ..Default::default()
        }
    }

    /// OpenCLIP ViT-H/14 with its last layer dropped, as in `stabilityai/stable-diffusion-2-1`
    /// `text_encoder/config.json`.
    pub fn sd_v2_1() -> Self {
        ClipTextConfig {
            hidden_size: 1024,
            num_hidden_layers: 23,
            num_attention_heads: 16,
            intermediate_size: 4096,
            hidden_act: "gelu".into(),
            projection_dim: 512,
            ..Default::default()
        }
    }

    /// SDXL base's first encoder, `stabilityai/stable-diffusion-xl-base-1.0` `text_encoder/config.json`
    /// (CLIP ViT-L/14, like SD 1.5's).
    pub fn sdxl_base_1_0() -> Self {
        Self::sd_v1_5()
    }

    /// SDXL base's second encoder, OpenCLIP ViT-bigG/14 with projection,
    /// `stabilityai/stable-diffusion-xl-base-1.0` `text_encoder_2/config.json`.
    pub fn sdxl_base_1_0_2() -> Self {
        ClipTextConfig {
            hidden_size: 1280,
            num_hidden_layers: 32,
            num_attention_heads: 20,
            intermediate_size: 5120,
            hidden_act: "gelu".into(),
            projection_dim: 1280,
            architectures: vec!["CLIPTextModelWithProjection".into()],
            ..Default::default()
        }
    }

    /// Reads a transformers `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        read_json(path)
    }

    /// The MLP activation as an op activation.
    pub fn activation(&self) -> Result<Activation> {
        match self.hidden_act.as_str() {
            "quick_gelu" => Ok(Activation::QuickGelu),
            "gelu" => Ok(Activation::Gelu),
            "gelu_pytorch_tanh" | "gelu_new" => Ok(Activation::GeluTanh),
            other => Err(Error::Invalid(format!(
                "text encoder hidden_act {other:?} is not supported (quick_gelu, gelu, gelu_pytorch_tanh)"
            ))),
        }
    }

    /// True for `CLIPTextModelWithProjection`.
    pub fn with_projection(&self) -> bool {
        self.architectures
            .iter()
            .any(|a| a == "CLIPTextModelWithProjection")
    }
}

/// diffusers' `UNet2DConditionModel` config (defaults from `unet_2d_condition.py`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct UNetConfig {
    /// Latent height and width the model was trained at.
    pub sample_size: Option<u32>,
    /// Latent channels in.
    pub in_channels: u32,
    /// Latent channels out.
    pub out_channels: u32,
    /// Timestep embedding: cos before sin.
    #[serde(deserialize_with = "null_as_default")]
    pub flip_sin_to_cos: bool,
    /// Timestep embedding: `downscale_freq_shift`.
    pub freq_shift: f32,
    /// `CrossAttnDownBlock2D` or `DownBlock2D`, one per resolution.
    pub down_block_types: Vec<String>,
    /// `UNetMidBlock2DCrossAttn`.
    pub mid_block_type: Option<String>,
    /// `CrossAttnUpBlock2D` or `UpBlock2D`, one per resolution, deepest first.
    pub up_block_types: Vec<String>,
    /// Channels of each down block.
    pub block_out_channels: Vec<u32>,
    /// Resnets per down block (up blocks have one more).
    pub layers_per_block: u32,
    /// Padding of the down-sampling convolutions.
    pub downsample_padding: u32,
    /// Block activation (`silu`).
    pub act_fn: String,
    /// Groups of every group norm.
    pub norm_num_groups: u32,
    /// Epsilon of the resnets' group norms.
    pub norm_eps: f32,
    /// Width of the text embeddings.
    pub cross_attention_dim: u32,
    /// Transformer blocks per attention (SDXL: `[1, 2, 10]`).
    pub transformer_layers_per_block: PerBlock,
    /// Despite its name, the number of heads when `num_attention_heads` is unset (diffusers' quirk).
    pub attention_head_dim: PerBlock,
    /// The number of heads; diffusers leaves it unset for SD 1.x/2.x/XL.
    pub num_attention_heads: Option<PerBlock>,
    /// `proj_in`/`proj_out` are linear (SD 2.x, SDXL) rather than 1×1 convolutions.
    #[serde(deserialize_with = "null_as_default")]
    pub use_linear_projection: bool,
    /// Attention computed in f32 (SD 2.1): a numerics note only, kernels accumulate in f32 anyway.
    #[serde(deserialize_with = "null_as_default")]
    pub upcast_attention: bool,
    /// `text_time` for SDXL's added size/crop conditioning.
    pub addition_embed_type: Option<String>,
    /// Width of each sinusoidal embedding of SDXL's time ids.
    pub addition_time_embed_dim: Option<u32>,
    /// Input width of `add_embedding` (SDXL: 2816 = 1280 + 6·256).
    pub projection_class_embeddings_input_dim: Option<u32>,
    /// `2·x − 1` on the input; must be false (no SD model uses it).
    #[serde(deserialize_with = "null_as_default")]
    pub center_input_sample: bool,
    /// Kernel of `conv_in`; must be 3.
    pub conv_in_kernel: u32,
    /// Kernel of `conv_out`; must be 3.
    pub conv_out_kernel: u32,
    /// `positional` (sinusoidal); others are not supported.
    pub time_embedding_type: String,
    /// `default` (time embedding added); `scale_shift` is not supported.
    pub resnet_time_scale_shift: String,
    /// Class conditioning; must be unset.
    pub class_embed_type: Option<String>,
    /// Guidance-embedding projection (LCM); must be unset.
    pub time_cond_proj_dim: Option<u32>,
    /// Projection of the text embeddings; must be unset.
    pub encoder_hid_dim_type: Option<String>,
    /// Two cross-attentions per block; must be false.
    #[serde(deserialize_with = "null_as_default")]
    pub dual_cross_attention: bool,
}

impl Default for UNetConfig {
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        UNetConfig {
            sample_size: None,
            in_channels: 4,
            out_channels: 4,
            flip_sin_to_cos: true,
            freq_shift: 0.0,
            down_block_types: s(&[
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "DownBlock2D",
            ]),
            mid_block_type: Some("UNetMidBlock2DCrossAttn".into()),
            up_block_types: s(&[
                "UpBlock2D",
                "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D",
            ]),
            block_out_channels: vec![320, 640, 1280, 1280],
            layers_per_block: 2,
            downsample_padding: 1,
            act_fn: "silu".into(),
            norm_num_groups: 32,
            norm_eps: 1e-5,
            cross_attention_dim: 1280,
            transformer_layers_per_block: PerBlock::All(1),
            attention_head_dim: PerBlock::All(8),
            num_attention_heads: None,
            use_linear_projection: false,
            upcast_attention: false,
            addition_embed_type: None,
            addition_time_embed_dim: None,
            projection_class_embeddings_input_dim: None,
            center_input_sample: false,
            conv_in_kernel: 3,
            conv_out_kernel: 3,
            time_embedding_type: "positional".into(),
            resnet_time_scale_shift: "default".into(),
            class_embed_type: None,
            time_cond_proj_dim: None,
            encoder_hid_dim_type: None,
            dual_cross_attention: false,
        }
    }
}

impl UNetConfig {
    /// `stable-diffusion-v1-5/stable-diffusion-v1-5` `unet/config.json`.
    pub fn sd_v1_5() -> Self {
        UNetConfig {
            sample_size: Some(64),
            cross_attention_dim: 768,
            ..Default::default()
        }
    }

    /// `stabilityai/stable-diffusion-2-1` `unet/config.json` (768², v-prediction).
    pub fn sd_v2_1() -> Self {
        UNetConfig {
            sample_size: Some(96),
            cross_attention_dim: 1024,
            attention_head_dim: PerBlock::Each(vec![5, 10, 20, 20]),
            use_linear_projection: true,
            upcast_attention: true,
            ..Default::default()
        }
    }

    /// `stabilityai/stable-diffusion-xl-base-1.0` `unet/config.json`.
    pub fn sdxl_base_1_0() -> Self {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        UNetConfig {
            sample_size: Some(128),
            down_block_types: s(&[
                "DownBlock2D",
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
            ]),
            up_block_types: s(&["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"]),
            block_out_channels: vec![320, 640, 1280],
            cross_attention_dim: 2048,
            transformer_layers_per_block: PerBlock::Each(vec![1, 2, 10]),
            attention_head_dim: PerBlock::Each(vec![5, 10, 20]),
            use_linear_projection: true,
            addition_embed_type: Some("text_time".into()),
            addition_time_embed_dim: Some(256),
            projection_class_embeddings_input_dim: Some(2816),
            ..Default::default()
        }
    }

    /// Reads a diffusers `unet/config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        read_json(path)
    }

    /// Heads of each down block's attentions. diffusers' quirk: `num_attention_heads` defaults to
    /// `attention_head_dim`, which SD 1.x/2.x/XL configs use as the head *count*
    /// (`num_attention_heads = num_attention_heads or attention_head_dim` in `UNet2DConditionModel`).
    pub fn heads_per_block(&self) -> Result<Vec<u32>> {
        let n = self.down_block_types.len();
        let heads = match &self.num_attention_heads {
            Some(h) => h.expand(n, "num_attention_heads")?,
            None => self.attention_head_dim.expand(n, "attention_head_dim")?,
        };
        for (h, c) in heads.iter().zip(&self.block_out_channels) {
            if *h == 0 || c % h != 0 {
                return Err(Error::Invalid(format!(
                    "unet: {h} attention heads do not divide {c} channels"
                )));
            }
        }
        Ok(heads)
    }

    /// Down-sampling factor of the U-Net: 2^(number of down blocks − 1).
    pub fn downsample_factor(&self) -> u32 {
        1 << self.down_block_types.len().saturating_sub(1)
    }

    /// Checks the lists agree in length and name known blocks.
    pub fn validate(&self) -> Result<()> {
        let n = self.down_block_types.len();
        let bad = |m: String| Err(Error::Invalid(format!("unet config: {m}")));
        if n == 0 {
            return bad("down_block_types is empty".into());
        }
        if self.block_out_channels.len() != n || self.up_block_types.len() != n {
            return bad(format!(
                "{n} down_block_types, {} up_block_types and {} block_out_channels must agree",
                self.up_block_types.len(),
                self.block_out_channels.len()
            ));
        }
        for t in &self.down_block_types {
            if t != "CrossAttnDownBlock2D" && t != "DownBlock2D" {
                return bad(format!("down block type {t:?} is not supported"));
            }
        }
        for t in &self.up_block_types {
            if t != "CrossAttnUpBlock2D" && t != "UpBlock2D" {
                return bad(format!("up block type {t:?} is not supported"));
            }
        }
        match self.mid_block_type.as_deref() {
            Some("UNetMidBlock2DCrossAttn") => {}
            other => return bad(format!("mid_block_type {other:?} is not supported")),
        }
        if self.act_fn != "silu" {
            return bad(format!("act_fn {:?} is not supported (silu)", self.act_fn));
        }
        let unsupported = [
            ("center_input_sample", self.center_input_sample),
            ("conv_in_kernel != 3", self.conv_in_kernel != 3),
            ("conv_out_kernel != 3", self.conv_out_kernel != 3),
            (
                "time_embedding_type other than positional",
                self.time_embedding_type != "positional",
            ),
            (
                "resnet_time_scale_shift other than default",
                self.resnet_time_scale_shift != "default",
            ),
            ("class_embed_type", self.class_embed_type.is_some()),
            ("time_cond_proj_dim", self.time_cond_proj_dim.is_some()),
            ("encoder_hid_dim_type", self.encoder_hid_dim_type.is_some()),
            ("dual_cross_attention", self.dual_cross_attention),
        ];
        if let Some((what, _)) = unsupported.iter().find(|(_, on)| *on) {
            return bad(format!("{what} is not supported"));
        }
        match self.addition_embed_type.as_deref() {
            None | Some("text_time") => {}
            Some(other) => return bad(format!("addition_embed_type {other:?} is not supported")),
        }
        self.heads_per_block()?;
        self.transformer_layers_per_block
            .expand(n, "transformer_layers_per_block")?;
        Ok(())
    }
}

/// diffusers' `AutoencoderKL` config (defaults from `autoencoder_kl.py`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct VaeConfig {
    /// Image channels in (3).
    pub in_channels: u32,
    /// Image channels out (3).
    pub out_channels: u32,
    /// `DownEncoderBlock2D`, one per resolution.
    pub down_block_types: Vec<String>,
    /// `UpDecoderBlock2D`, one per resolution.
    pub up_block_types: Vec<String>,
    /// Channels of each encoder block (the decoder reads them reversed).
    pub block_out_channels: Vec<u32>,
    /// Resnets per encoder block (decoder blocks have one more).
    pub layers_per_block: u32,
    /// Block activation (`silu`).
    pub act_fn: String,
    /// Latent channels (4).
    pub latent_channels: u32,
    /// Groups of every group norm.
    pub norm_num_groups: u32,
    /// Image size the model was trained at.
    pub sample_size: u32,
    /// Latents are `scaling_factor · z` (SD 1.x/2.x 0.18215, SDXL 0.13025).
    pub scaling_factor: f32,
    /// Whether `quant_conv` exists.
    #[serde(deserialize_with = "null_as_default")]
    pub use_quant_conv: bool,
    /// Whether `post_quant_conv` exists.
    #[serde(deserialize_with = "null_as_default")]
    pub use_post_quant_conv: bool,
    /// Whether the mid blocks have their attention.
    #[serde(deserialize_with = "null_as_default")]
    pub mid_block_add_attention: bool,
}

impl Default for VaeConfig {
    fn default() -> Self {
        VaeConfig {
            in_channels: 3,
            out_channels: 3,
            down_block_types: vec!["DownEncoderBlock2D".into()],
            up_block_types: vec!["UpDecoderBlock2D".into()],
            block_out_channels: vec![64],
            layers_per_block: 1,
            act_fn: "silu".into(),
            latent_channels: 4,
            norm_num_groups: 32,
            sample_size: 32,
            scaling_factor: 0.18215,
            use_quant_conv: true,
            use_post_quant_conv: true,
            mid_block_add_attention: true,
        }
    }
}

impl VaeConfig {
    /// `stable-diffusion-v1-5/stable-diffusion-v1-5` `vae/config.json`.
    pub fn sd_v1_5() -> Self {
        VaeConfig {
            down_block_types: vec!["DownEncoderBlock2D".into(); 4],
            up_block_types: vec!["UpDecoderBlock2D".into(); 4],
            block_out_channels: vec![128, 256, 512, 512],
            layers_per_block: 2,
            sample_size: 512,
            ..Default::default()
        }
    }

    /// `stabilityai/stable-diffusion-2-1` `vae/config.json`.
    pub fn sd_v2_1() -> Self {
        VaeConfig {
            sample_size: 768,
            ..Self::sd_v1_5()
        }
    }

    /// `stabilityai/stable-diffusion-xl-base-1.0` `vae/config.json`.
    pub fn sdxl_base_1_0() -> Self {
        VaeConfig {
            sample_size: 1024,
            scaling_factor: 0.13025,
            ..Self::sd_v1_5()
        }
    }

    /// Reads a diffusers `vae/config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        read_json(path)
    }

    /// Pixels per latent: 2^(len(block_out_channels) − 1).
    pub fn scale_factor(&self) -> u32 {
        1 << self.block_out_channels.len().saturating_sub(1)
    }

    /// Checks the lists agree and name known blocks.
    pub fn validate(&self) -> Result<()> {
        let n = self.block_out_channels.len();
        let bad = |m: String| Err(Error::Invalid(format!("vae config: {m}")));
        if n == 0 || self.down_block_types.len() != n || self.up_block_types.len() != n {
            return bad(format!(
                "{} down_block_types, {} up_block_types and {n} block_out_channels must agree",
                self.down_block_types.len(),
                self.up_block_types.len()
            ));
        }
        if self
            .down_block_types
            .iter()
            .any(|t| t != "DownEncoderBlock2D")
            || self.up_block_types.iter().any(|t| t != "UpDecoderBlock2D")
        {
            return bad("only DownEncoderBlock2D / UpDecoderBlock2D are supported".into());
        }
        if self.act_fn != "silu" {
            return bad(format!("act_fn {:?} is not supported (silu)", self.act_fn));
        }
        Ok(())
    }
}

/// The configs of one Stable Diffusion pipeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PipelineConfig {
    /// Short name (`sd15`, `sd21`, `sdxl`, or the folder's name).
    pub name: String,
    /// `text_encoder/config.json`.
    pub text_encoder: ClipTextConfig,
    /// `text_encoder_2/config.json` (SDXL).
    pub text_encoder_2: Option<ClipTextConfig>,
    /// `unet/config.json`.
    pub unet: UNetConfig,
    /// `vae/config.json`.
    pub vae: VaeConfig,
}

impl PipelineConfig {
    /// Stable Diffusion 1.5 (`stable-diffusion-v1-5/stable-diffusion-v1-5`).
    pub fn sd_v1_5() -> Self {
        PipelineConfig {
            name: "sd15".into(),
            text_encoder: ClipTextConfig::sd_v1_5(),
            text_encoder_2: None,
            unet: UNetConfig::sd_v1_5(),
            vae: VaeConfig::sd_v1_5(),
        }
    }

    /// Stable Diffusion 2.1 (`stabilityai/stable-diffusion-2-1`, 768², v-prediction).
    pub fn sd_v2_1() -> Self {
        PipelineConfig {
            name: "sd21".into(),
            text_encoder: ClipTextConfig::sd_v2_1(),
            text_encoder_2: None,
            unet: UNetConfig::sd_v2_1(),
            vae: VaeConfig::sd_v2_1(),
        }
    }

    /// SDXL 1.0 base (`stabilityai/stable-diffusion-xl-base-1.0`).
    pub fn sdxl_base_1_0() -> Self {
        PipelineConfig {
            name: "sdxl".into(),
            text_encoder: ClipTextConfig::sdxl_base_1_0(),
            text_encoder_2: Some(ClipTextConfig::sdxl_base_1_0_2()),
            unet: UNetConfig::sdxl_base_1_0(),
            vae: VaeConfig::sdxl_base_1_0(),
        }
    }

    /// The named architecture: `sd15`, `sd21` or `sdxl`.
    pub fn by_name(arch: &str) -> Result<Self> {
        match arch {
            "sd15" => Ok(Self::sd_v1_5()),
            "sd21" => Ok(Self::sd_v2_1()),
            "sdxl" => Ok(Self::sdxl_base_1_0()),
            other => Err(Error::Invalid(format!(
                "unknown arch {other:?}: expected sd15, sd21 or sdxl"
            ))),
        }
    }

    /// Reads a diffusers folder: `unet/`, `vae/`, `text_encoder/` and, if present, `text_encoder_2/`.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let te2 = dir.join("text_encoder_2/config.json");
        Ok(PipelineConfig {
            name: dir
                .file_name()
                .map_or("model".into(), |n| n.to_string_lossy().into_owned()),
            text_encoder: ClipTextConfig::from_file(&dir.join("text_encoder/config.json"))?,
            text_encoder_2: if te2.exists() {
                Some(ClipTextConfig::from_file(&te2)?)
            } else {
                None
            },
            unet: UNetConfig::from_file(&dir.join("unet/config.json"))?,
            vae: VaeConfig::from_file(&dir.join("vae/config.json"))?,
        })
    }

    /// Native image size: `unet.sample_size × vae factor` (or the VAE's own `sample_size`).
    pub fn native_size(&self) -> u32 {
        self.unet
            .sample_size
            .map_or(self.vae.sample_size, |s| s * self.vae.scale_factor())
    }

    /// Image sizes must be multiples of this: VAE factor × U-Net down-sampling.
    pub fn size_multiple(&self) -> u32 {
        self.vae.scale_factor() * self.unet.downsample_factor()
    }
}
