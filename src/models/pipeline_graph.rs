//! The whole pipeline as one graph of phases planned together: text encode, VAE encode (img2img), one
//! U-Net step (replayed every step) and VAE decode. Tensors that cross phases (text embeddings, latents,
//! the encoder's moments) are persistent.

use super::clip::ClipTextModel;
use super::config::PipelineConfig;
use super::unet::{UNet2DConditionModel, UNetInputs};
use super::vae::AutoencoderKL;
use crate::graph::{DType, Graph, GraphBuilder, GraphOptions, Scope, TensorId, TileGrid};
use crate::{Error, Result};

/// Tokens per prompt (CLIP's context length).
pub const TOKENS: u32 = 77;

/// The run a pipeline graph is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunShape {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Batch of the text encoder and U-Net. With classifier-free guidance (even batch) it holds
    /// `batch / 2` images, each as a (conditional, unconditional) pair; an odd batch means no guidance.
    pub batch: u32,
}

impl RunShape {
    /// Images the VAE decodes (and encodes).
    pub fn images(&self) -> u32 {
        if self.batch.is_multiple_of(2) {
            self.batch / 2
        } else {
            self.batch
        }
    }
}

/// Phase names, in graph order.
pub const PHASES: [&str; 4] = ["text_encode", "vae_encode", "unet_step", "vae_decode"];

/// Checks that `width × height` works for `config`, naming the multiples that do.
pub fn check_size(config: &PipelineConfig, run: &RunShape) -> Result<()> {
    let m = config.size_multiple();
    for (what, v) in [("width", run.width), ("height", run.height)] {
        if v == 0 || v % m != 0 {
            let lo = (v / m) * m;
            let hint = if lo == 0 {
                format!("{m}")
            } else {
                format!("{lo} or {}", lo + m)
            };
            return Err(Error::Invalid(format!(
                "{what} {v} is not a multiple of {m} (VAE factor {} × U-Net down-sampling {}): try {hint}",
                config.vae.scale_factor(),
                config.unet.downsample_factor()
            )));
        }
    }
    if run.batch == 0 {
        return Err(Error::Invalid("batch must be at least 1".into()));
    }
    Ok(())
}

/// The text encoder phase: token ids → the U-Net's `encoder_hidden_states`. SD 1.x/2.x use the last
/// hidden state; SDXL concatenates both encoders' penultimate hidden states.
fn text_phase(
    b: &mut GraphBuilder,
    config: &PipelineConfig,
    batch: u32,
) -> Result<(TensorId, TensorId)> {
    let te = ClipTextModel::new(config.text_encoder.clone())?;
    let ids = b.input_typed("input_ids", &[batch, TOKENS], DType::U32)?; // [B, 77]
    let out = te.forward(b, &Scope::new("text_encoder"), ids)?;
    let Some(te2) = &config.text_encoder_2 else {
        return Ok((ids, out.last_hidden_state)); // [B, 77, C]
    };
    let te2 = ClipTextModel::new(te2.clone())?;
    let ids2 = b.input_typed("input_ids_2", &[batch, TOKENS], DType::U32)?; // [B, 77]
    let out2 = te2.forward(b, &Scope::new("text_encoder_2"), ids2)?;
    if let Some(p) = out2.projected {
        b.mark_output(p);
    }
    let (c1, c2) = (b.shape(out.penultimate)[2], b.shape(out2.penultimate)[2]);
    let rows = batch * TOKENS;
    let a = b.view("prompt_embeds_1", out.penultimate, &[rows, c1, 1, 1])?; // [B·77, C1, 1, 1]
    let c = b.view("prompt_embeds_2", out2.penultimate, &[rows, c2, 1, 1])?; // [B·77, C2, 1, 1]
    let cat = b.concat("prompt_embeds_cat", a, c)?; // [B·77, C1 + C2, 1, 1]
    let seq = b.view("prompt_embeds_seq", cat, &[batch, TOKENS, c1 + c2])?; // [B, 77, C1 + C2]
    Ok((ids, seq))
}

/// A tiled VAE: the decoder (and encoder) run once per tile of `tile × tile` latents, tiles
/// overlapping by `overlap` latents and blended where they overlap ([`TileGrid`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VaeTiling {
    /// Latents per tile side.
    pub tile: u32,
    /// Latents neighbouring tiles share.
    pub overlap: u32,
    /// Normalise every tile with group-norm statistics gathered over all tiles
    /// ([`TileGrid::shared_stats`]): two passes over the tiles instead of one, and no tone shift
    /// between tiles. Without it, each tile normalises with its own statistics.
    pub shared_stats: bool,
}

impl VaeTiling {
    /// Tile sides the planner tries, largest first. With statistics shared across tiles, the tiled
    /// VAE differs from the whole one only where a tile's border cuts a receptive field (the overlap
    /// blends that away) and in the mid block's attention, which attends within the tile. Measured
    /// against the whole VAE (`tests/pipeline_rewrites.rs`, `tests/budget_pipeline.rs`; the README
    /// has the real SD1.5 architecture's figures).
    pub const SIDES: [u32; 4] = [96, 64, 48, 32];

    /// Tiles of `tile` latents overlapping by a quarter of a tile (diffusers' `tile_overlap_factor`),
    /// sharing group-norm statistics.
    pub const fn with_tile(tile: u32) -> VaeTiling {
        VaeTiling {
            tile,
            overlap: tile / 4,
            shared_stats: true,
        }
    }

    /// The tilings worth trying for an `h × w` latent, largest tile first: those smaller than its
    /// longer side.
    pub fn candidates(h: u32, w: u32) -> Vec<VaeTiling> {
        Self::SIDES
            .iter()
            .filter(|&&t| t < h.max(w))
            .map(|&t| Self::with_tile(t))
            .collect()
    }

    /// The tile grid over an `h × w` latent.
    pub fn grid(&self, h: u32, w: u32) -> Result<TileGrid> {
        Ok(TileGrid::new(h, w, self.tile, self.overlap)?.with_shared_stats(self.shared_stats))
    }
}

/// The stages a generation graph holds besides text encoding, denoising and decoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stages {
    /// The VAE encoder phase, for img2img.
    pub img2img: bool,
    /// Decode (and encode) tile by tile; `None` runs the VAE on the whole latent at once.
    pub vae_tiling: Option<VaeTiling>,
}

/// The tensors a pipeline writes before and reads after the phases of a generation graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerationTensors {
    /// Token ids `[B, 77]` (u32): the unconditional prompts first when guided.
    pub input_ids: TensorId,
    /// The init image `[I, 3, H, W]` in [-1, 1] (img2img).
    pub image: Option<TensorId>,
    /// The VAE encoder's moments `[I, 2L, h, w]`: mean, then log-variance (img2img).
    pub moments: Option<TensorId>,
    /// The latents `[I, L, h, w]` (f32), written before the first step, updated in place every step.
    pub latents: TensorId,
    /// The decoded images `[I, 3, H, W]` in [-1, 1].
    pub decoded: TensorId,
    /// The VAE phases' tile grid: they run once per slot ([`TileGrid::slots`]: every tile, in two
    /// passes when statistics are shared), the slot index as the step
    /// ([`crate::gpu::Executor::run_step`]). `None`: once.
    pub vae_tiles: Option<TileGrid>,
}

/// Builds the pipeline graph of [`pipeline_graph`] with img2img's VAE encoder phase included, as
/// `wgsd plan` models it.
pub fn pipeline_graph(
    config: &PipelineConfig,
    run: &RunShape,
    options: GraphOptions,
) -> Result<Graph> {
    let stages = Stages {
        img2img: true,
        vae_tiling: None,
    };
    Ok(generation_graph(config, run, options, stages)?.0)
}

/// Builds the graph of a whole generation, phases in [`PHASES`] order (`vae_encode` only with
/// `stages.img2img`). The U-Net phase is one denoising step, replayed every step: the sampler ops
/// ([`GraphBuilder::sampler_input`], [`GraphBuilder::sampler_step`]) surround the U-Net, so the latents
/// never leave the GPU.
pub fn generation_graph(
    config: &PipelineConfig,
    run: &RunShape,
    options: GraphOptions,
    stages: Stages,
) -> Result<(Graph, GenerationTensors)> {
    check_size(config, run)?;
    let unet = UNet2DConditionModel::new(config.unet.clone())?;
    let vae = AutoencoderKL::new(config.vae.clone())?;
    let f = config.vae.scale_factor();
    let (h, w) = (run.height / f, run.width / f);
    let (batch, images) = (run.batch, run.images());
    let latent = config.vae.latent_channels;
    if latent != config.unet.in_channels || latent != config.unet.out_channels {
        return Err(Error::Invalid(format!(
            "vae latent_channels {latent} differ from the unet's in/out channels {}/{}",
            config.unet.in_channels, config.unet.out_channels
        )));
    }
    let grid = stages.vae_tiling.map(|t| t.grid(h, w)).transpose()?;
    let vae_scope = Scope::new("vae");
    let mut b = GraphBuilder::new(options);

    // 1. text encode
    b.begin_phase(PHASES[0]);
    let (input_ids, prompt_embeds) = text_phase(&mut b, config, batch)?; // [B, 77, Cc]
    b.mark_persistent(prompt_embeds);

    // 2. VAE encode (img2img): the moments persist; the pipeline draws the first latents from them
    let (mut image_in, mut moments) = (None, None);
    if stages.img2img {
        b.begin_phase(PHASES[1]);
        let image = b.input(
            "image",
            &[images, config.vae.in_channels, run.height, run.width],
        )?; // [I, 3, H, W]
        let m = match grid {
            None => vae.encode(&mut b, &vae_scope, image)?, // [I, 2L, h, w]
            Some(grid) => {
                // Every tile's replay reads the image: it must live over the whole phase.
                b.mark_output(image);
                b.begin_tiles(grid);
                let tile = b.tile_crop("image_tile", image, grid, f, 1.0)?; // [I, 3, th·f, tw·f]
                let h = vae.encode_head(&mut b, &vae_scope, tile)?; // [I, C, th, tw]
                let h = b.tile_blend("vae_encoder_features", h, grid, 1)?; // [I, C, h, w]
                b.end_tiles();
                vae.encode_tail(&mut b, &vae_scope, h)? // [I, 2L, h, w]
            }
        };
        b.mark_persistent(m);
        (image_in, moments) = (Some(image), Some(m));
    }

    // 3. one denoising step; the latents and the previous x0 persist across steps
    b.begin_phase(PHASES[2]);
    let latent_shape = [images, latent, h, w];
    let latents = b.input_typed("latents", &latent_shape, DType::F32)?; // [I, L, h, w]
    b.mark_persistent(latents);
    let x0_prev = b.input_typed("x0_prev", &latent_shape, DType::F32)?; // [I, L, h, w]
    b.mark_persistent(x0_prev);
    let (sample, timestep) = b.sampler_input("latent_model_input", latents, batch / images)?; // [B, L, h, w], [B]
    let inputs: UNetInputs = unet.inputs(
        &mut b,
        batch,
        (h, w),
        (Some(sample), Some(timestep), Some(prompt_embeds)),
    )?;
    if let Some(te) = inputs.text_embeds {
        b.mark_persistent(te);
    }
    let noise_pred = unet.forward(&mut b, &Scope::new("unet"), &inputs)?; // [B, L, h, w]
    let noise = b.sampler_noise("noise", &latent_shape)?; // [I, L, h, w]
    b.sampler_step(latents, noise_pred, x0_prev, noise)?;

    // 4. VAE decode
    b.begin_phase(PHASES[3]);
    let unscale = 1.0 / config.vae.scaling_factor;
    let decoded = match grid {
        None => {
            let z = b.convert("latents_unscaled", latents, unscale)?; // [I, L, h, w]
            vae.decode(&mut b, &vae_scope, z)? // [I, 3, H, W]
        }
        Some(grid) => {
            let z = b.convert("latents_unscaled", latents, unscale)?; // [I, L, h, w]
            let h = vae.decode_head(&mut b, &vae_scope, z)?; // [I, C, h, w]
            b.mark_persistent(h);
            b.begin_tiles(grid);
            let tile = b.tile_crop("vae_decoder_tile", h, grid, 1, 1.0)?; // [I, C, th, tw]
            let tile = vae.decode_tail(&mut b, &vae_scope, tile)?; // [I, 3, th·f, tw·f]
            let decoded = b.tile_blend("decoded", tile, grid, f)?; // [I, 3, H, W]
            b.end_tiles();
            decoded
        }
    };
    b.mark_output(decoded);
    let tensors = GenerationTensors {
        input_ids,
        image: image_in,
        moments,
        latents,
        decoded,
        vae_tiles: grid,
    };
    Ok((b.finish(), tensors))
}

/// One model alone, with root-level weight keys as in its own checkpoint file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// `text_encoder` (CLIP).
    TextEncoder,
    /// `text_encoder_2` (SDXL's second CLIP).
    TextEncoder2,
    /// `unet`, one step.
    UNet,
    /// `vae`, decoder (with `post_quant_conv`).
    VaeDecoder,
    /// `vae`, encoder (with `quant_conv`).
    VaeEncoder,
}

/// The graph of one component alone at `run`'s size (for weight-name checks and per-model figures).
/// Weight keys are those of the component's own `diffusion_pytorch_model.safetensors` / `model.safetensors`.
pub fn component_graph(
    config: &PipelineConfig,
    component: Component,
    run: &RunShape,
    options: GraphOptions,
) -> Result<Graph> {
    // The U-Net's down-sampling constrains sizes only where the U-Net runs; a VAE alone needs whole
    // latents, and the text encoder no image at all.
    match component {
        Component::UNet => check_size(config, run)?,
        Component::VaeDecoder | Component::VaeEncoder => {
            let f = config.vae.scale_factor();
            if run.width == 0
                || run.height == 0
                || !run.width.is_multiple_of(f)
                || !run.height.is_multiple_of(f)
                || run.batch == 0
            {
                return Err(Error::Invalid(format!(
                    "{}×{} batch {} does not fit the VAE: sizes must be positive multiples of {f}",
                    run.width, run.height, run.batch
                )));
            }
        }
        Component::TextEncoder | Component::TextEncoder2 => {
            if run.batch == 0 {
                return Err(Error::Invalid("batch must be at least 1".into()));
            }
        }
    }
    let f = config.vae.scale_factor();
    let (h, w) = (run.height / f, run.width / f);
    let mut b = GraphBuilder::new(options);
    let root = Scope::root();
    let out = match component {
        Component::TextEncoder | Component::TextEncoder2 => {
            let cfg = if component == Component::TextEncoder {
                config.text_encoder.clone()
            } else {
                config.text_encoder_2.clone().ok_or_else(|| {
                    Error::Invalid(format!("{} has no text_encoder_2", config.name))
                })?
            };
            let ids = b.input_typed("input_ids", &[run.batch, TOKENS], DType::U32)?; // [B, 77]
            let out = ClipTextModel::new(cfg)?.forward(&mut b, &root, ids)?;
            if let Some(p) = out.projected {
                b.mark_output(p);
            }
            out.last_hidden_state // [B, 77, C]
        }
        Component::UNet => {
            let unet = UNet2DConditionModel::new(config.unet.clone())?;
            let inputs = unet.inputs(&mut b, run.batch, (h, w), (None, None, None))?;
            unet.forward(&mut b, &root, &inputs)? // [B, 4, h, w]
        }
        Component::VaeDecoder => {
            let vae = AutoencoderKL::new(config.vae.clone())?;
            let z = b.input("z", &[run.batch, config.vae.latent_channels, h, w])?; // [B, L, h, w]
            vae.decode(&mut b, &root, z)? // [B, 3, H, W]
        }
        Component::VaeEncoder => {
            let vae = AutoencoderKL::new(config.vae.clone())?;
            let image = b.input(
                "image",
                &[run.batch, config.vae.in_channels, run.height, run.width],
            )?; // [B, 3, H, W]
            vae.encode(&mut b, &root, image)? // [B, 2L, h, w]
        }
    };
    b.mark_output(out);
    Ok(b.finish())
}
