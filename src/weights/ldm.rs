//! Single-file checkpoints of SD1.x/2.x in the original LDM (CompVis / Stability) layout, mapped onto
//! diffusers names so that the same graph serves both.
//!
//! A checkpoint holds three models under three prefixes:
//! - `model.diffusion_model.*`: the U-Net (`input_blocks.N.M.*`, `middle_block.*`, `output_blocks.N.M.*`,
//!   `time_embed.*`, `out.*`);
//! - `first_stage_model.*`: the VAE (`encoder.down.N.*`, `decoder.up.N.*`, `mid.attn_1.*`, ...);
//! - `cond_stage_model.*`: the text encoder, as transformers' CLIP under `cond_stage_model.transformer.`
//!   (SD1) or as OpenCLIP under `cond_stage_model.model.` (SD2).
//!
//! Everything else (EMA weights `model_ema.*`, schedule buffers such as `alphas_cumprod`, OpenCLIP's
//! `text_projection`) is reported by [`LdmCheckpoint::unmapped_keys`] or as unused by
//! [`Weights::validate`].
//!
//! # The key mapping
//! Every diffusers tensor is one source tensor, through a [`Mapping`]:
//!
//! U-Net, with `L` levels and `n` = `layers_per_block`:
//! - `input_blocks.0.0` → `conv_in`; `input_blocks.i` for `i ≥ 1` is entry `j = (i-1) mod (n+1)` of level
//!   `l = (i-1) / (n+1)`: for `j < n`, `.0` → `down_blocks.l.resnets.j` and `.1` →
//!   `down_blocks.l.attentions.j`; for `j = n`, `.0.op` → `down_blocks.l.downsamplers.0.conv`;
//! - `middle_block.0/1/2` → `mid_block.resnets.0`, `mid_block.attentions.0`, `mid_block.resnets.1`;
//! - `output_blocks.i` is entry `j = i mod (n+1)` of level `l = i / (n+1)` (deepest level first, as
//!   diffusers' `up_blocks`): `.0` → `up_blocks.l.resnets.j`, `.1` → `up_blocks.l.attentions.j`, and the
//!   child holding `conv` (`.1` or `.2`) → `up_blocks.l.upsamplers.0.conv`;
//! - resnets: `in_layers.0` → `norm1`, `in_layers.2` → `conv1`, `emb_layers.1` → `time_emb_proj`,
//!   `out_layers.0` → `norm2`, `out_layers.3` → `conv2`, `skip_connection` → `conv_shortcut`;
//! - attentions keep their inner names (`norm`, `proj_in`, `transformer_blocks.K.*`, `proj_out`);
//! - `time_embed.0/2` → `time_embedding.linear_1/2`; `out.0` → `conv_norm_out`; `out.2` → `conv_out`.
//!
//! VAE, with `L` levels:
//! - `{encoder,decoder}.conv_in/conv_out`, `quant_conv`, `post_quant_conv`: same names;
//!   `norm_out` → `conv_norm_out`;
//! - `encoder.down.N.block.M` → `encoder.down_blocks.N.resnets.M`; `encoder.down.N.downsample.conv` →
//!   `encoder.down_blocks.N.downsamplers.0.conv`;
//! - `decoder.up.N.block.M` → `decoder.up_blocks.(L-1-N).resnets.M` (LDM numbers the decoder's levels
//!   from the lowest resolution up, diffusers in execution order); `decoder.up.N.upsample.conv` →
//!   `decoder.up_blocks.(L-1-N).upsamplers.0.conv`;
//! - resnets: `norm1`, `conv1`, `norm2`, `conv2` keep their names, `nin_shortcut` → `conv_shortcut`;
//! - `mid.block_1/2` → `mid_block.resnets.0/1`; `mid.attn_1.norm` → `mid_block.attentions.0.group_norm`;
//!   `mid.attn_1.{q,k,v,proj_out}` → `mid_block.attentions.0.{to_q,to_k,to_v,to_out.0}`, the weights
//!   reshaped from 1×1 convolutions `[C, C, 1, 1]` to linear `[C, C]`.
//!
//! Text encoder:
//! - SD1: `cond_stage_model.transformer.X` → `X`, with `text_model.` added where the file lacks it;
//! - SD2 (OpenCLIP): `token_embedding.weight` → `text_model.embeddings.token_embedding.weight`,
//!   `positional_embedding` → `text_model.embeddings.position_embedding.weight`, `ln_final` →
//!   `text_model.final_layer_norm`, and `transformer.resblocks.N` → `text_model.encoder.layers.N` with
//!   `ln_1/ln_2` → `layer_norm1/2`, `attn.in_proj_{weight,bias}` (`[3C, C]`, `[3C]`) split into
//!   `self_attn.{q,k,v}_proj`, `attn.out_proj` → `self_attn.out_proj`, `mlp.c_fc/c_proj` →
//!   `mlp.fc1/fc2`. SD2 reads the penultimate layer's output (the original `FrozenOpenCLIPEmbedder` with
//!   `layer: penultimate` runs all resblocks but the last), so the file's last resblock is dropped
//!   (reported unused): ViT-H/14's 24 become diffusers' 23, as in diffusers' SD2 text encoder. A file
//!   converted back from diffusers, which holds only the 23 used layers, therefore maps to 22, and
//!   [`Weights::validate`] against a 23-layer graph names the missing layer 22.
//!
//! # Architecture detection
//! [`Arch`] comes from the text encoder's key style (transformers CLIP → SD1, OpenCLIP → SD2), or from
//! the cross-attention context dimension (768 → SD1, 1024 → SD2) when the file has no text encoder; the
//! context dimension must match the text encoder's width. Levels, channels, `layers_per_block`,
//! `use_linear_projection` (2-D vs 4-D `proj_in`) and the other numbers in [`UNetDims`], [`VaeDims`] and
//! [`TextDims`] are read from tensor shapes. Attention head counts and SD2-768 (v-prediction) vs SD2-base
//! (epsilon) are *not* detectable from weights: see [`LdmInfo`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::weights::safetensors_file::SafetensorsFile;
use crate::weights::store::{Mapping, Weights};
use crate::weights::Component;

/// The U-Net's key prefix in an LDM checkpoint.
const UNET_PREFIX: &str = "model.diffusion_model.";
/// The VAE's key prefix.
const VAE_PREFIX: &str = "first_stage_model.";
/// SD1's text encoder: transformers' `CLIPTextModel` under this prefix.
const HF_CLIP_PREFIX: &str = "cond_stage_model.transformer.";
/// SD2's text encoder: OpenCLIP's text tower under this prefix.
const OPEN_CLIP_PREFIX: &str = "cond_stage_model.model.";
/// Any text encoder key.
const COND_PREFIX: &str = "cond_stage_model.";

/// The Stable Diffusion generation of a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// SD1.x: CLIP ViT-L/14 text encoder (768 wide), convolutional `proj_in`.
    Sd1,
    /// SD2.x: OpenCLIP ViT-H/14 text encoder (1024 wide), linear `proj_in`.
    Sd2,
}

/// What the U-Net predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PredictionType {
    /// The noise (`epsilon`): SD1.x, SD2-base.
    Epsilon,
    /// The velocity (`v_prediction`): SD2-768.
    VPrediction,
}

/// U-Net numbers read from tensor shapes (except `num_attention_heads`, a default by architecture).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UNetDims {
    /// Latent channels in (`conv_in` input).
    pub in_channels: usize,
    /// Latent channels out (`conv_out` output).
    pub out_channels: usize,
    /// Channels per level, highest resolution first (SD: `[320, 640, 1280, 1280]`).
    pub block_out_channels: Vec<usize>,
    /// Resnets per down level (up levels have one more).
    pub layers_per_block: usize,
    /// Whether each down level has cross-attention (`CrossAttnDownBlock2D`) or not (`DownBlock2D`);
    /// up levels mirror it in reverse.
    pub cross_attention: Vec<bool>,
    /// Whether the mid block has an attention.
    pub mid_block_attention: bool,
    /// Width of the text embeddings the cross-attention reads (SD1 768, SD2 1024).
    pub cross_attention_dim: usize,
    /// `proj_in`/`proj_out` are linear (SD2) rather than 1×1 convolutions (SD1).
    pub use_linear_projection: bool,
    /// Transformer blocks per attention.
    pub transformer_layers_per_block: usize,
    /// Width of the time embedding (`4 × block_out_channels[0]` in SD).
    pub time_embed_dim: usize,
    /// Attention heads per level. Not detectable from weights: SD1 uses 8 heads everywhere (diffusers'
    /// `attention_head_dim: 8`), SD2 uses 64-wide heads (`attention_head_dim: [5, 10, 20, 20]`).
    pub num_attention_heads: Vec<usize>,
}

/// VAE numbers read from tensor shapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaeDims {
    /// Image channels in.
    pub in_channels: usize,
    /// Image channels out.
    pub out_channels: usize,
    /// Latent channels.
    pub latent_channels: usize,
    /// Channels per encoder level (SD: `[128, 256, 512, 512]`).
    pub block_out_channels: Vec<usize>,
    /// Resnets per encoder level (the decoder has one more).
    pub layers_per_block: usize,
}

/// Text encoder numbers read from tensor shapes (except `num_attention_heads` and `hidden_act`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextDims {
    /// Token vocabulary (49408).
    pub vocab_size: usize,
    /// Width (SD1 768, SD2 1024).
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Sequence length (77).
    pub max_position_embeddings: usize,
    /// Layers mapped (SD2: all but the file's last, e.g. 23 of OpenCLIP ViT-H's 24).
    pub num_hidden_layers: usize,
    /// Layers in the file.
    pub layers_in_file: usize,
    /// Not detectable from weights: `hidden_size / 64` (SD1 12, SD2 16).
    pub num_attention_heads: usize,
    /// Not detectable from weights: `quick_gelu` for SD1's CLIP, `gelu` for SD2's OpenCLIP.
    pub hidden_act: &'static str,
}

/// What [`LdmCheckpoint::open`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct LdmInfo {
    /// SD1 or SD2.
    pub arch: Arch,
    /// Not detectable from weights: SD2-768 and SD2-base have identical shapes. SD1 is `Epsilon`. SD2
    /// defaults to `VPrediction`, as the original conversion script does when it cannot read the
    /// training step (`global_step == 875000` marks the base model; safetensors files do not carry it)
    /// and as diffusers' `from_single_file` does for SD2 (the stable-diffusion-2-1 config). Override it
    /// for SD2-base checkpoints.
    pub prediction_type: PredictionType,
    /// Latent size the model was trained at, following `prediction_type`: 64 (512 px) for SD1 and
    /// SD2-base, 96 (768 px) for SD2-768.
    pub sample_size: usize,
    /// The U-Net.
    pub unet: UNetDims,
    /// The VAE, when the file has one.
    pub vae: Option<VaeDims>,
    /// The text encoder, when the file has one.
    pub text: Option<TextDims>,
}

/// A single-file LDM checkpoint, mapped onto diffusers names.
#[derive(Debug)]
pub struct LdmCheckpoint {
    path: PathBuf,
    info: LdmInfo,
    unet: Weights,
    vae: Weights,
    text_encoder: Weights,
    /// Keys outside the three models (EMA weights, schedule buffers, ...), sorted.
    unmapped: Vec<String>,
}

/// The two text encoder key styles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TextStyle {
    HfClip,
    OpenClip,
}

impl LdmCheckpoint {
    /// Maps `path`, detects the architecture and maps every key onto diffusers names. Fails, naming the
    /// file, on malformed files and on layouts that are not SD1.x/2.x (SDXL, a diffusers U-Net file, ...).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = Arc::new(SafetensorsFile::open(&path)?);
        let unknown = |why: String| Error::format(&path, format!("unknown architecture: {why}"));

        if file
            .names()
            .any(|k| k.starts_with("conditioner.embedders."))
            || file.contains("model.diffusion_model.label_emb.0.0.weight")
        {
            return Err(unknown(
                "this looks like an SDXL (or class-conditioned) checkpoint; only SD1.x/2.x are supported"
                    .into(),
            ));
        }
        if !file.names().any(|k| k.starts_with(UNET_PREFIX)) {
            let hint = if file.contains("conv_in.weight") || file.contains("unet.conv_in.weight") {
                " (this looks like a diffusers model file: open its folder instead)"
            } else {
                ""
            };
            return Err(unknown(format!(
                "no `{UNET_PREFIX}*` tensors, so this is not an SD1.x/2.x LDM checkpoint{hint}"
            )));
        }

        // 1. U-Net: the layout of input_blocks gives levels and layers_per_block.
        let layout = UnetLayout::detect(&file).map_err(unknown)?;
        let mut unet = Weights::new(Component::Unet, &path);
        let unet_file = unet.add_file(Arc::clone(&file));
        // 2. VAE: the number of decoder levels is needed to reverse their order.
        let vae_levels = count_indices(&file, &format!("{VAE_PREFIX}decoder.up."));
        let mut vae = Weights::new(Component::Vae, &path);
        let vae_file = vae.add_file(Arc::clone(&file));
        // 3. Text encoder: key style and depth.
        let style = if file.names().any(|k| k.starts_with(HF_CLIP_PREFIX)) {
            Some(TextStyle::HfClip)
        } else if file.names().any(|k| k.starts_with(OPEN_CLIP_PREFIX)) {
            Some(TextStyle::OpenClip)
        } else {
            None
        };
        let open_clip_layers =
            count_indices(&file, &format!("{OPEN_CLIP_PREFIX}transformer.resblocks."));
        // The last resblock is not used (penultimate-layer output).
        let open_clip_kept = open_clip_layers.saturating_sub(1);
        let mut text_encoder = Weights::new(Component::TextEncoder, &path);
        let text_file = text_encoder.add_file(Arc::clone(&file));

        let mut unmapped = Vec::new();
        for key in file.names() {
            if let Some(rest) = key.strip_prefix(UNET_PREFIX) {
                match layout.map_key(rest) {
                    Some(name) => unet.insert(&name, unet_file, key, Mapping::Rename)?,
                    None => unet.add_unmapped(key),
                }
            } else if let Some(rest) = key.strip_prefix(VAE_PREFIX) {
                match map_vae_key(rest, vae_levels) {
                    Some((name, mapping)) => vae.insert(&name, vae_file, key, mapping)?,
                    None => vae.add_unmapped(key),
                }
            } else if let Some(rest) = key.strip_prefix(COND_PREFIX) {
                let mapped = match style {
                    Some(TextStyle::HfClip) => rest
                        .strip_prefix("transformer.")
                        .map(|r| vec![(r.to_string(), Mapping::Rename)]),
                    Some(TextStyle::OpenClip) => rest
                        .strip_prefix("model.")
                        .and_then(|r| map_open_clip_key(r, open_clip_kept)),
                    None => None,
                };
                match mapped {
                    Some(targets) => {
                        for (name, mapping) in targets {
                            text_encoder.insert(&name, text_file, key, mapping)?;
                        }
                    }
                    None => text_encoder.add_unmapped(key),
                }
            } else {
                unmapped.push(key.to_string());
            }
        }

        // 4. Numbers from the mapped (diffusers-named) shapes; the architecture from the key style,
        // cross-checked against the context width.
        let context_dim = find_context_dim(&unet)?;
        let arch = match style {
            Some(TextStyle::HfClip) => Arch::Sd1,
            Some(TextStyle::OpenClip) => Arch::Sd2,
            None => match context_dim {
                768 => Arch::Sd1,
                1024 => Arch::Sd2,
                other => {
                    return Err(unknown(format!(
                        "no text encoder, and a cross-attention width of {other} is neither SD1's 768 nor SD2's 1024"
                    )))
                }
            },
        };
        let unet_dims = UNetDims::from_weights(&unet, arch)?;
        let vae_dims = if vae.is_empty() {
            None
        } else {
            Some(VaeDims::from_weights(&vae)?)
        };
        let text_dims = if text_encoder.is_empty() {
            None
        } else {
            let mut dims = TextDims::from_weights(&text_encoder, arch)?;
            if style == Some(TextStyle::OpenClip) {
                dims.layers_in_file = open_clip_layers;
            }
            Some(dims)
        };
        if let Some(text) = &text_dims {
            if text.hidden_size != unet_dims.cross_attention_dim {
                return Err(unknown(format!(
                    "the U-Net's cross-attention reads {}-wide context but the text encoder is {} wide",
                    unet_dims.cross_attention_dim, text.hidden_size
                )));
            }
        }
        let (prediction_type, sample_size) = match arch {
            Arch::Sd1 => (PredictionType::Epsilon, 64),
            Arch::Sd2 => (PredictionType::VPrediction, 96),
        };
        Ok(LdmCheckpoint {
            path,
            info: LdmInfo {
                arch,
                prediction_type,
                sample_size,
                unet: unet_dims,
                vae: vae_dims,
                text: text_dims,
            },
            unet,
            vae,
            text_encoder,
            unmapped,
        })
    }

    /// The checkpoint file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The detected architecture and numbers.
    pub fn info(&self) -> &LdmInfo {
        &self.info
    }

    /// The U-Net under diffusers names.
    pub fn unet(&self) -> &Weights {
        &self.unet
    }

    /// The VAE under diffusers names (empty when the file has none).
    pub fn vae(&self) -> &Weights {
        &self.vae
    }

    /// The text encoder under diffusers (transformers) names, with the `text_model.` prefix (empty when
    /// the file has none).
    pub fn text_encoder(&self) -> &Weights {
        &self.text_encoder
    }

    /// The weights of `component`; an error for the tokenizer and scheduler, which have none.
    pub fn weights(&self, component: Component) -> Result<&Weights> {
        match component {
            Component::Unet => Ok(&self.unet),
            Component::Vae => Ok(&self.vae),
            Component::TextEncoder => Ok(&self.text_encoder),
            Component::Tokenizer | Component::Scheduler => Err(Error::Invalid(format!(
                "the `{component}` component has no weights"
            ))),
        }
    }

    /// Keys outside the three models (EMA weights `model_ema.*`, schedule buffers, ...): a warning list.
    pub fn unmapped_keys(&self) -> &[String] {
        &self.unmapped
    }
}

/// `input_blocks` layout of an LDM U-Net.
#[derive(Clone, Copy, Debug)]
struct UnetLayout {
    levels: usize,
    layers_per_block: usize,
}

impl UnetLayout {
    /// Reads levels and `layers_per_block` from which `input_blocks.i` are downsamplers (`.0.op`).
    fn detect(file: &SafetensorsFile) -> std::result::Result<Self, String> {
        let prefix = format!("{UNET_PREFIX}input_blocks.");
        let inputs = count_indices(file, &prefix);
        let outputs = count_indices(file, &format!("{UNET_PREFIX}output_blocks."));
        let downs: Vec<usize> = (0..inputs)
            .filter(|i| file.contains(&format!("{prefix}{i}.0.op.weight")))
            .collect();
        let layers_per_block = match downs.first() {
            Some(&first) => first.saturating_sub(1),
            None => inputs.saturating_sub(1),
        };
        let levels = downs.len() + 1;
        let stride = layers_per_block + 1;
        let regular = layers_per_block > 0
            && inputs == levels * stride
            && downs
                .iter()
                .enumerate()
                .all(|(l, &i)| i == (l + 1) * stride);
        if !regular {
            return Err(format!(
                "U-Net `input_blocks` are not laid out as SD's (conv_in, then per level resnets and a downsampler): {inputs} blocks, downsamplers at {downs:?}"
            ));
        }
        if outputs != levels * stride {
            return Err(format!(
                "U-Net has {outputs} `output_blocks` but {levels} levels of {layers_per_block} layers need {}",
                levels * stride
            ));
        }
        Ok(UnetLayout {
            levels,
            layers_per_block,
        })
    }

    /// The diffusers name of U-Net key `rest` (without `model.diffusion_model.`), or `None`.
    fn map_key(&self, rest: &str) -> Option<String> {
        let stride = self.layers_per_block + 1;
        let renames = [
            ("time_embed.0.", "time_embedding.linear_1."),
            ("time_embed.2.", "time_embedding.linear_2."),
            ("out.0.", "conv_norm_out."),
            ("out.2.", "conv_out."),
        ];
        for (from, to) in renames {
            if let Some(tail) = rest.strip_prefix(from) {
                return Some(format!("{to}{tail}"));
            }
        }
        if let Some(r) = rest.strip_prefix("input_blocks.") {
            let (i, child, tail) = split_block(r)?;
            if i == 0 {
                return (child == 0).then(|| format!("conv_in.{tail}"));
            }
            let (level, j) = ((i - 1) / stride, (i - 1) % stride);
            if level >= self.levels {
                return None;
            }
            if j == self.layers_per_block {
                let tail = tail.strip_prefix("op.")?;
                return (child == 0)
                    .then(|| format!("down_blocks.{level}.downsamplers.0.conv.{tail}"));
            }
            return match child {
                0 => resnet_tail(tail).map(|t| format!("down_blocks.{level}.resnets.{j}.{t}")),
                1 => Some(format!("down_blocks.{level}.attentions.{j}.{tail}")),
                _ => None,
            };
        }
        if let Some(r) = rest.strip_prefix("middle_block.") {
            let (child, tail) = r.split_once('.')?;
            return match child {
                "0" => resnet_tail(tail).map(|t| format!("mid_block.resnets.0.{t}")),
                "1" => Some(format!("mid_block.attentions.0.{tail}")),
                "2" => resnet_tail(tail).map(|t| format!("mid_block.resnets.1.{t}")),
                _ => None,
            };
        }
        if let Some(r) = rest.strip_prefix("output_blocks.") {
            let (i, child, tail) = split_block(r)?;
            let (level, j) = (i / stride, i % stride);
            if level >= self.levels {
                return None;
            }
            if let Some(conv) = tail.strip_prefix("conv.") {
                return (child > 0).then(|| format!("up_blocks.{level}.upsamplers.0.conv.{conv}"));
            }
            return match child {
                0 => resnet_tail(tail).map(|t| format!("up_blocks.{level}.resnets.{j}.{t}")),
                1 => Some(format!("up_blocks.{level}.attentions.{j}.{tail}")),
                _ => None,
            };
        }
        None
    }
}

/// `"3.1.proj_in.weight"` → `(3, 1, "proj_in.weight")`.
fn split_block(r: &str) -> Option<(usize, usize, &str)> {
    let (i, r) = r.split_once('.')?;
    let (child, tail) = r.split_once('.')?;
    Some((i.parse().ok()?, child.parse().ok()?, tail))
}

/// An LDM U-Net resnet's inner key → diffusers' `ResnetBlock2D` name.
fn resnet_tail(tail: &str) -> Option<String> {
    let renames = [
        ("in_layers.0.", "norm1."),
        ("in_layers.2.", "conv1."),
        ("emb_layers.1.", "time_emb_proj."),
        ("out_layers.0.", "norm2."),
        ("out_layers.3.", "conv2."),
        ("skip_connection.", "conv_shortcut."),
    ];
    renames
        .iter()
        .find_map(|(from, to)| tail.strip_prefix(from).map(|t| format!("{to}{t}")))
}

/// The diffusers name and mapping of VAE key `rest` (without `first_stage_model.`), or `None`.
fn map_vae_key(rest: &str, levels: usize) -> Option<(String, Mapping)> {
    let rename = |name: String| Some((name, Mapping::Rename));
    for same in ["quant_conv.", "post_quant_conv."] {
        if rest.starts_with(same) {
            return rename(rest.to_string());
        }
    }
    let (coder, r) = rest.split_once('.')?;
    if coder != "encoder" && coder != "decoder" {
        return None;
    }
    if r.starts_with("conv_in.") || r.starts_with("conv_out.") {
        return rename(rest.to_string());
    }
    if let Some(t) = r.strip_prefix("norm_out.") {
        return rename(format!("{coder}.conv_norm_out.{t}"));
    }
    if let Some(m) = r.strip_prefix("mid.") {
        if let Some(t) = m.strip_prefix("block_1.") {
            return rename(format!(
                "{coder}.mid_block.resnets.0.{}",
                vae_resnet_tail(t)?
            ));
        }
        if let Some(t) = m.strip_prefix("block_2.") {
            return rename(format!(
                "{coder}.mid_block.resnets.1.{}",
                vae_resnet_tail(t)?
            ));
        }
        let a = m.strip_prefix("attn_1.")?;
        let attn = format!("{coder}.mid_block.attentions.0");
        if let Some(t) = a.strip_prefix("norm.") {
            return rename(format!("{attn}.group_norm.{t}"));
        }
        let (proj, t) = a.split_once('.')?;
        let to = match proj {
            "q" => "to_q",
            "k" => "to_k",
            "v" => "to_v",
            "proj_out" => "to_out.0",
            _ => return None,
        };
        let mapping = if t == "weight" {
            Mapping::Reshape
        } else {
            Mapping::Rename
        };
        return Some((format!("{attn}.{to}.{t}"), mapping));
    }
    let (level_word, r) = match coder {
        "encoder" => ("down", r.strip_prefix("down.")?),
        _ => ("up", r.strip_prefix("up.")?),
    };
    let (n, r) = r.split_once('.')?;
    let n: usize = n.parse().ok()?;
    if n >= levels && coder == "decoder" {
        return None;
    }
    let level = if coder == "decoder" {
        levels - 1 - n
    } else {
        n
    };
    let blocks = format!("{coder}.{level_word}_blocks.{level}");
    if let Some(r) = r.strip_prefix("block.") {
        let (m, t) = r.split_once('.')?;
        let m: usize = m.parse().ok()?;
        return rename(format!("{blocks}.resnets.{m}.{}", vae_resnet_tail(t)?));
    }
    let sampler = if coder == "encoder" {
        ("downsample.conv.", "downsamplers")
    } else {
        ("upsample.conv.", "upsamplers")
    };
    let t = r.strip_prefix(sampler.0)?;
    rename(format!("{blocks}.{}.0.conv.{t}", sampler.1))
}

/// An LDM VAE resnet's inner key → diffusers' name (`nin_shortcut` → `conv_shortcut`).
fn vae_resnet_tail(tail: &str) -> Option<String> {
    if let Some(t) = tail.strip_prefix("nin_shortcut.") {
        return Some(format!("conv_shortcut.{t}"));
    }
    ["norm1.", "conv1.", "norm2.", "conv2."]
        .iter()
        .any(|p| tail.starts_with(p))
        .then(|| tail.to_string())
}

/// The diffusers names and mappings of OpenCLIP key `rest` (without `cond_stage_model.model.`): one
/// name, or three slices of a fused q/k/v tensor; `None` for unused keys and dropped layers.
fn map_open_clip_key(rest: &str, kept_layers: usize) -> Option<Vec<(String, Mapping)>> {
    let one = |name: &str| Some(vec![(name.to_string(), Mapping::Rename)]);
    match rest {
        "token_embedding.weight" => return one("text_model.embeddings.token_embedding.weight"),
        "positional_embedding" => return one("text_model.embeddings.position_embedding.weight"),
        "ln_final.weight" => return one("text_model.final_layer_norm.weight"),
        "ln_final.bias" => return one("text_model.final_layer_norm.bias"),
        _ => {}
    }
    let r = rest.strip_prefix("transformer.resblocks.")?;
    let (n, t) = r.split_once('.')?;
    let n: usize = n.parse().ok()?;
    if n >= kept_layers {
        return None;
    }
    let layer = format!("text_model.encoder.layers.{n}");
    let fused = |kind: &str| {
        Some(
            ["q_proj", "k_proj", "v_proj"]
                .iter()
                .enumerate()
                .map(|(index, proj)| {
                    (
                        format!("{layer}.self_attn.{proj}.{kind}"),
                        Mapping::Slice { index, count: 3 },
                    )
                })
                .collect(),
        )
    };
    match t {
        "attn.in_proj_weight" => return fused("weight"),
        "attn.in_proj_bias" => return fused("bias"),
        _ => {}
    }
    let renames = [
        ("ln_1.", "layer_norm1."),
        ("ln_2.", "layer_norm2."),
        ("attn.out_proj.", "self_attn.out_proj."),
        ("mlp.c_fc.", "mlp.fc1."),
        ("mlp.c_proj.", "mlp.fc2."),
    ];
    renames.iter().find_map(|(from, to)| {
        t.strip_prefix(from)
            .map(|s| vec![(format!("{layer}.{to}{s}"), Mapping::Rename)])
    })
}

/// Number of consecutive indices `0, 1, ...` that appear as `{prefix}{i}.` in some key.
fn count_indices(file: &SafetensorsFile, prefix: &str) -> usize {
    indices(file.names(), prefix).len()
}

/// The distinct indices `i` of names `{prefix}{i}.*`, if they are exactly `0..n` (else those up to the
/// first gap).
fn indices<'a>(names: impl Iterator<Item = &'a str>, prefix: &str) -> Vec<usize> {
    let found: BTreeSet<usize> = names
        .filter_map(|k| k.strip_prefix(prefix)?.split_once('.')?.0.parse().ok())
        .collect();
    (0..).take_while(|i| found.contains(i)).collect()
}

/// The cross-attention context width: `attn2.to_k.weight` is `[inner, context]`.
fn find_context_dim(unet: &Weights) -> Result<usize> {
    let name = unet
        .names()
        .find(|n| n.ends_with(".attn2.to_k.weight"))
        .ok_or_else(|| {
            Error::format(
                unet.origin(),
                "unknown architecture: the U-Net has no cross-attention (`attn2.to_k.weight`)",
            )
        })?;
    dim(unet, name, 1)
}

/// Axis `axis` of tensor `name`, or an error naming both.
fn dim(w: &Weights, name: &str, axis: usize) -> Result<usize> {
    let view = w.get(name).ok_or_else(|| {
        Error::format(
            w.origin(),
            format!(
                "unknown architecture: {} has no tensor `{name}`",
                w.component()
            ),
        )
    })?;
    view.shape().get(axis).copied().ok_or_else(|| {
        Error::format(
            w.origin(),
            format!(
                "unknown architecture: {} tensor `{name}` has shape {:?}, with no axis {axis}",
                w.component(),
                view.shape()
            ),
        )
    })
}

/// The levels `0..n` of `{prefix}{i}.*` names in `w`.
fn count_levels(w: &Weights, prefix: &str) -> usize {
    indices(w.names(), prefix).len()
}

impl UNetDims {
    /// Reads the numbers from a U-Net under diffusers names (a diffusers folder's or a mapped LDM
    /// checkpoint's); `arch` picks the head-count default.
    pub fn from_weights(w: &Weights, arch: Arch) -> Result<Self> {
        let levels = count_levels(w, "down_blocks.");
        let layers_per_block = count_levels(w, "down_blocks.0.resnets.");
        if levels == 0 || layers_per_block == 0 {
            return Err(Error::format(
                w.origin(),
                "unknown architecture: the U-Net has no `down_blocks.N.resnets.M`",
            ));
        }
        let mut block_out_channels = Vec::with_capacity(levels);
        let mut cross_attention = Vec::with_capacity(levels);
        for l in 0..levels {
            block_out_channels.push(dim(
                w,
                &format!("down_blocks.{l}.resnets.0.conv2.weight"),
                0,
            )?);
            cross_attention.push(
                w.get(&format!("down_blocks.{l}.attentions.0.norm.weight"))
                    .is_some(),
            );
        }
        let proj_in = w
            .names()
            .find(|n| n.ends_with(".proj_in.weight"))
            .and_then(|n| w.get(n));
        let use_linear_projection = proj_in.is_some_and(|v| v.shape().len() == 2);
        let transformer_layers_per_block = w
            .names()
            .find(|n| n.contains(".transformer_blocks.0."))
            .and_then(|n| {
                n.split_once(".transformer_blocks.")
                    .map(|(p, _)| p.to_string())
            })
            .map_or(0, |attn| {
                count_levels(w, &format!("{attn}.transformer_blocks."))
            });
        let num_attention_heads = block_out_channels
            .iter()
            .map(|&c| match arch {
                Arch::Sd1 => 8,
                Arch::Sd2 => (c / 64).max(1),
            })
            .collect();
        Ok(UNetDims {
            in_channels: dim(w, "conv_in.weight", 1)?,
            out_channels: dim(w, "conv_out.weight", 0)?,
            block_out_channels,
            layers_per_block,
            cross_attention,
            mid_block_attention: w.get("mid_block.attentions.0.norm.weight").is_some(),
            cross_attention_dim: find_context_dim(w)?,
            use_linear_projection,
            transformer_layers_per_block,
            time_embed_dim: dim(w, "time_embedding.linear_1.weight", 0)?,
            num_attention_heads,
        })
    }
}

impl VaeDims {
    /// Reads the numbers from a VAE under diffusers names.
    pub fn from_weights(w: &Weights) -> Result<Self> {
        let levels = count_levels(w, "encoder.down_blocks.");
        let layers_per_block = count_levels(w, "encoder.down_blocks.0.resnets.");
        if levels == 0 || layers_per_block == 0 {
            return Err(Error::format(
                w.origin(),
                "unknown architecture: the VAE has no `encoder.down_blocks.N.resnets.M`",
            ));
        }
        let block_out_channels = (0..levels)
            .map(|l| {
                dim(
                    w,
                    &format!("encoder.down_blocks.{l}.resnets.0.conv2.weight"),
                    0,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(VaeDims {
            in_channels: dim(w, "encoder.conv_in.weight", 1)?,
            out_channels: dim(w, "decoder.conv_out.weight", 0)?,
            latent_channels: dim(w, "decoder.conv_in.weight", 1)?,
            block_out_channels,
            layers_per_block,
        })
    }
}

impl TextDims {
    /// Reads the numbers from a CLIP text encoder under transformers names (with or without the
    /// `text_model.` prefix); `arch` picks the activation default.
    pub fn from_weights(w: &Weights, arch: Arch) -> Result<Self> {
        let layers = count_levels(w, "text_model.encoder.layers.");
        let hidden_size = dim(w, "text_model.embeddings.token_embedding.weight", 1)?;
        Ok(TextDims {
            vocab_size: dim(w, "text_model.embeddings.token_embedding.weight", 0)?,
            hidden_size,
            intermediate_size: dim(w, "text_model.encoder.layers.0.mlp.fc1.weight", 0)?,
            max_position_embeddings: dim(w, "text_model.embeddings.position_embedding.weight", 0)?,
            num_hidden_layers: layers,
            layers_in_file: layers,
            num_attention_heads: (hidden_size / 64).max(1),
            hidden_act: match arch {
                Arch::Sd1 => "quick_gelu",
                Arch::Sd2 => "gelu",
            },
        })
    }
}
