//! The pipeline: tokenize → encode the prompts → denoise → decode, on one planned arena.
//!
//! A [`Model`] is the configs, tokenizer, scheduler config and weights of a diffusers folder or a
//! single-file checkpoint. A [`Pipeline`] loads it onto a [`Gpu`] for one image size: it chooses and
//! builds the generation graph for its budget ([`GenerationSpec`]: the VAE whole or tiled, the
//! feed-forward whole or chunked, f32 or f16) and plans it, creates every buffer and uploads the
//! weights. It then runs any number of generations without creating anything on the device:
//!
//! ```text
//! Pipeline::start(request)   tokens → text encoder            (phase text_encode)
//!                            [img2img: image → VAE encoder, latents = a·(sf·mean) + b·noise]
//!                            latents = noise · init_noise_sigma, the schedule's per-step values
//! Generation::step() × N     sampler input → U-Net → sampler step   (phase unet_step, replayed)
//! Generation::decode()       latents / sf → VAE decoder        (phase vae_decode; per tile when tiled)
//! ```
//!
//! The latents stay on the GPU from the first step to the decoded image; a host application drives
//! one denoising step per call ([`Generation::step`]) and may leave the image on the GPU
//! ([`Pipeline::decoded_view`]).
//!
//! # Example usage
//! ```no_run
//! use wgsd::gpu::{Gpu, GpuOptions};
//! use wgsd::pipeline::{Model, Pipeline, PipelineOptions, Request};
//!
//! # fn main() -> wgsd::Result<()> {
//! let model = Model::open("models/sd15")?;
//! let gpu = std::sync::Arc::new(Gpu::new(&GpuOptions::default())?);
//! let options = PipelineOptions::new(&model, 512, 512);
//! let mut pipeline = Pipeline::new(gpu, model, options)?;
//! let mut generation = pipeline.start(&Request::new("a photo of a cat"))?;
//! while generation.step()? {}
//! let image = generation.decode()?; // [3, 512, 512] in [-1, 1]
//! # let _ = image;
//! # Ok(())
//! # }
//! ```

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::gpu::kernels::sampler::StepValues;
use crate::gpu::{
    Executor, ExecutorMemory, ExecutorOptions, Gpu, MemoryReport, TensorView, WeightSource,
};
use crate::graph::{DType, Graph, GraphOptions};
use crate::models::config::PipelineConfig;
use crate::models::pipeline_graph::{GenerationTensors, RunShape, VaeTiling, PHASES};

mod planning;
use crate::planner::Options;
use crate::scheduler::{Sampler, Schedule, Scheduler, SchedulerConfig};
use crate::tokenizer::{ClipTokenizer, TokenizerConfig};
use crate::weights::{self, Arch, Component, DiffusersFolder, LdmCheckpoint, Weights};
pub use planning::{ChunkChoice, GenerationSpec, PlannedGeneration, TilingChoice, FF_CHUNK_ROWS};

/// The weights of a model, by component. (One per model, so the size difference of the variants does not
/// matter.)
#[allow(clippy::large_enum_variant)]
enum ModelWeights {
    /// A diffusers folder's `text_encoder/`, `unet/` and `vae/`.
    Folder {
        text_encoder: Weights,
        unet: Weights,
        vae: Weights,
    },
    /// A single-file LDM checkpoint mapped onto diffusers names.
    Single(Box<LdmCheckpoint>),
}

/// A Stable Diffusion 1.x/2.x model: configs, tokenizer, scheduler config and weights.
pub struct Model {
    /// A short name (the folder or file stem), written into the image's parameters.
    pub name: String,
    /// Where it was read from.
    pub path: PathBuf,
    /// The architecture.
    pub config: PipelineConfig,
    /// `scheduler/scheduler_config.json`, or SD's published schedule for single files.
    pub scheduler: SchedulerConfig,
    /// The prompt tokenizer.
    pub tokenizer: ClipTokenizer,
    weights: ModelWeights,
}

impl Model {
    /// Opens a diffusers folder or a single-file `.safetensors` checkpoint.
    pub fn open(path: impl AsRef<Path>) -> Result<Model> {
        let path = path.as_ref();
        if path.is_dir() {
            Self::open_folder(path)
        } else if path.is_file() {
            Self::open_single_file(path)
        } else {
            Err(Error::Invalid(format!(
                "model {} does not exist: give a diffusers folder (with model_index.json) or a \
                 single-file .safetensors checkpoint",
                path.display()
            )))
        }
    }

    /// Opens a diffusers folder: `text_encoder/`, `tokenizer/`, `unet/`, `vae/`, `scheduler/`.
    pub fn open_folder(dir: &Path) -> Result<Model> {
        let folder = DiffusersFolder::open(dir)?;
        let config = PipelineConfig::from_dir(dir)?;
        refuse_sdxl(&config, dir)?;
        let scheduler_path = folder.config_path(Component::Scheduler)?;
        Ok(Model {
            name: stem(dir),
            path: dir.to_path_buf(),
            scheduler: SchedulerConfig::from_file(&scheduler_path)?,
            tokenizer: ClipTokenizer::from_folder(&folder.component_dir(Component::Tokenizer)?)?,
            weights: ModelWeights::Folder {
                text_encoder: folder.weights(Component::TextEncoder)?,
                unet: folder.weights(Component::Unet)?,
                vae: folder.weights(Component::Vae)?,
            },
            config,
        })
    }

    /// Opens a single-file SD1.x/2.x checkpoint with SD 1.5's or SD 2.1's published configs, schedule
    /// and tokenizer (SD2 files are taken as v-prediction, as diffusers does; see [`weights::LdmInfo`]).
    /// A checkpoint whose shapes differ from the published architecture needs its configs:
    /// [`Model::open_single_file_with_config`].
    pub fn open_single_file(path: &Path) -> Result<Model> {
        let ldm = LdmCheckpoint::open(path)?;
        let info = ldm.info().clone();
        let (mut config, scheduler, tokenizer) = match info.arch {
            Arch::Sd1 => (
                PipelineConfig::sd_v1_5(),
                SchedulerConfig::sd_v1_5(),
                TokenizerConfig::sd_v1_5(),
            ),
            Arch::Sd2 => {
                let mut s = SchedulerConfig::sd_v2_1();
                if info.prediction_type == weights::PredictionType::Epsilon {
                    s.prediction_type = crate::scheduler::PredictionType::Epsilon;
                }
                (PipelineConfig::sd_v2_1(), s, TokenizerConfig::sd_v2_1())
            }
        };
        config.unet.sample_size = Some(info.sample_size as u32);
        let expected: Vec<usize> = config
            .unet
            .block_out_channels
            .iter()
            .map(|&c| c as usize)
            .collect();
        if info.unet.block_out_channels != expected
            || info.unet.layers_per_block != config.unet.layers_per_block as usize
        {
            return Err(Error::format(
                path,
                format!(
                    "the U-Net has block_out_channels {:?} and {} layers per block, not the published \
                     {:?} architecture's {expected:?}: open it with its diffusers configs",
                    info.unet.block_out_channels, info.unet.layers_per_block, config.name
                ),
            ));
        }
        config.name = stem(path);
        Ok(Model {
            name: stem(path),
            path: path.to_path_buf(),
            config,
            scheduler,
            tokenizer: ClipTokenizer::embedded(&tokenizer)?,
            weights: ModelWeights::Single(Box::new(ldm)),
        })
    }

    /// Opens a single-file checkpoint with the configs, scheduler and tokenizer of the diffusers folder
    /// `config_dir` (as diffusers' `from_single_file(path, config=...)`).
    pub fn open_single_file_with_config(path: &Path, config_dir: &Path) -> Result<Model> {
        let folder = DiffusersFolder::open(config_dir)?;
        let config = PipelineConfig::from_dir(config_dir)?;
        refuse_sdxl(&config, config_dir)?;
        Ok(Model {
            name: stem(path),
            path: path.to_path_buf(),
            scheduler: SchedulerConfig::from_file(&folder.config_path(Component::Scheduler)?)?,
            tokenizer: ClipTokenizer::from_folder(&folder.component_dir(Component::Tokenizer)?)?,
            weights: ModelWeights::Single(Box::new(LdmCheckpoint::open(path)?)),
            config,
        })
    }

    /// The component holding the pipeline graph's weight `name` (`unet.*`, `vae.*`, `text_encoder.*`)
    /// and the name inside it.
    fn route<'n>(&self, name: &'n str) -> Result<(&Weights, &'n str)> {
        let (component, rest) = name
            .split_once('.')
            .ok_or_else(|| Error::Invalid(format!("weight {name} names no component")))?;
        let component = match component {
            "unet" => Component::Unet,
            "vae" => Component::Vae,
            "text_encoder" => Component::TextEncoder,
            other => {
                return Err(Error::Invalid(format!(
                    "weight {name}: no component {other} in {}",
                    self.path.display()
                )))
            }
        };
        let weights = match &self.weights {
            ModelWeights::Folder {
                text_encoder,
                unet,
                vae,
            } => match component {
                Component::Unet => unet,
                Component::Vae => vae,
                _ => text_encoder,
            },
            ModelWeights::Single(ldm) => ldm.weights(component)?,
        };
        Ok((weights, rest))
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or("model".into(), |s| s.to_string_lossy().into_owned())
}

fn refuse_sdxl(config: &PipelineConfig, dir: &Path) -> Result<()> {
    if config.text_encoder_2.is_some() {
        return Err(Error::format(
            dir,
            "SDXL (two text encoders) can be planned with `wgsd plan --arch sdxl` but not generated yet; \
             wgsd generates with SD 1.x and 2.x models"
                .to_string(),
        ));
    }
    Ok(())
}

impl WeightSource for Model {
    fn check(&self, required: &[(&str, &[u32])]) -> Result<()> {
        for prefix in ["text_encoder", "unet", "vae"] {
            let part: Vec<(&str, &[u32])> = required
                .iter()
                .filter_map(|&(name, shape)| {
                    name.strip_prefix(prefix)
                        .and_then(|r| r.strip_prefix('.'))
                        .map(|r| (r, shape))
                })
                .collect();
            if let Some(&(first, _)) = part.first() {
                let (weights, _) = self.route(&format!("{prefix}.{first}"))?;
                WeightSource::check(weights, &part)?;
            }
        }
        Ok(())
    }

    fn fill(&self, name: &str, shape: &[u32], dtype: DType, dst: &mut [u8]) -> Result<()> {
        let (weights, inner) = self.route(name)?;
        weights.fill(inner, shape, dtype, dst)
    }
}

/// How a [`Pipeline`] is loaded: the image size, precision and the largest generation it must run.
#[derive(Clone, Debug)]
pub struct PipelineOptions {
    /// Image width in pixels (a multiple of [`PipelineConfig::size_multiple`]).
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Storage type of weights and activations (`F16` needs the device's `SHADER_F16`).
    pub precision: DType,
    /// Classifier-free guidance: conditional and unconditional in one batch-2 U-Net pass. Without it
    /// each step is a single pass (`--cfg-scale 1`).
    pub guidance: bool,
    /// Include the VAE encoder for img2img.
    pub img2img: bool,
    /// The most denoising steps a generation may run (one parameter slot per step and sampler op).
    pub max_steps: usize,
    /// The planner's options.
    pub planner: Options,
    /// Device bytes the pipeline may hold (`--budget`); checked against the plan before any buffer is
    /// created.
    pub budget: Option<u64>,
    /// Whether the VAE runs tile by tile ([`TilingChoice::Auto`]: only when that fits a budget the
    /// whole VAE does not, or uploads less).
    pub vae_tiling: TilingChoice,
    /// Whether the U-Net's feed-forward runs in chunks of rows ([`ChunkChoice::Auto`]: only when that
    /// fits a budget the whole one does not, or uploads less).
    pub ff_chunking: ChunkChoice,
    /// With `precision` f32: store in f16 instead when no f32 plan fits the budget and the device has
    /// `SHADER_F16` (the pipeline's [`Pipeline::options`] then say f16).
    pub f16_fallback: bool,
}

impl PipelineOptions {
    /// The model's native size, f32, guided, txt2img, up to 50 steps.
    pub fn new(model: &Model, width: u32, height: u32) -> Self {
        let _ = model;
        PipelineOptions {
            width,
            height,
            precision: DType::F32,
            guidance: true,
            img2img: false,
            max_steps: 50,
            planner: Options::default(),
            budget: None,
            vae_tiling: TilingChoice::Auto,
            ff_chunking: ChunkChoice::Auto,
            f16_fallback: false,
        }
    }
}

/// The init image of an img2img request.
#[derive(Clone, Debug)]
pub struct InitImage {
    /// `[3, H, W]` in [-1, 1], the pipeline's size.
    pub pixels: Vec<f32>,
    /// How much of the schedule runs, in (0, 1]: diffusers' `strength`.
    pub strength: f64,
}

/// One generation's settings.
#[derive(Clone, Debug)]
pub struct Request {
    /// The prompt.
    pub prompt: String,
    /// The negative prompt (the unconditional branch of guidance; "" is encoded as diffusers does).
    pub negative_prompt: String,
    /// Denoising steps before img2img's strength.
    pub steps: usize,
    /// Classifier-free guidance scale (used when the pipeline was loaded with guidance).
    pub cfg_scale: f32,
    /// Seed of the initial noise and of stochastic samplers' noise.
    pub seed: u64,
    /// The sampler.
    pub sampler: Sampler,
    /// Timestep schedule.
    pub schedule: Schedule,
    /// img2img's init image.
    pub init: Option<InitImage>,
    /// The initial latent noise `[C, h, w]` (unit variance, as passed to diffusers' `latents=`); drawn
    /// from `seed` when `None`.
    pub noise: Option<Vec<f32>>,
}

impl Request {
    /// `prompt` with wgsd's defaults: 20 steps of Euler, CFG 7.5, seed 0.
    pub fn new(prompt: &str) -> Self {
        Request {
            prompt: prompt.to_string(),
            negative_prompt: String::new(),
            steps: 20,
            cfg_scale: 7.5,
            seed: 0,
            sampler: Sampler::Euler,
            schedule: Schedule::Discrete,
            init: None,
            noise: None,
        }
    }
}

/// Wall time of each phase of one generation.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct PhaseTimes {
    /// Tokenizing and the text encoder.
    pub text_encode: Duration,
    /// The VAE encoder and the first latents (img2img).
    pub vae_encode: Duration,
    /// All denoising steps.
    pub denoise: Duration,
    /// The VAE decoder.
    pub vae_decode: Duration,
}

/// A model loaded onto the GPU for one image size, ready to generate.
pub struct Pipeline {
    gpu: Arc<Gpu>,
    model: Arc<Model>,
    options: PipelineOptions,
    graph: Graph,
    tensors: GenerationTensors,
    executor: Executor,
    phases: [Range<usize>; 4],
    images: u32,
    tiling: Option<VaeTiling>,
    ff_chunk_rows: u32,
}

impl Pipeline {
    /// Plans the generation graph, creates every buffer and uploads the weights. Nothing is created on
    /// the device after this returns.
    pub fn new(gpu: Arc<Gpu>, model: Model, options: PipelineOptions) -> Result<Pipeline> {
        gpu.check_dtype(options.precision)?;
        if options.max_steps == 0 {
            return Err(Error::Invalid("max_steps must be at least 1".into()));
        }
        let run = RunShape {
            width: options.width,
            height: options.height,
            batch: if options.guidance { 2 } else { 1 },
        };
        let (limits, param_slot) = Executor::device_limits(&gpu);
        let mut options = options;
        let spec = |precision: DType| GenerationSpec {
            config: &model.config,
            run,
            graph: GraphOptions {
                dtype: precision,
                ..Default::default()
            },
            img2img: options.img2img,
            tiling: options.vae_tiling,
            ff_chunking: options.ff_chunking,
            limits,
            param_slot,
        };
        let executor_options = ExecutorOptions {
            planner: options.planner.clone(),
            max_steps: options.max_steps,
            budget: options.budget,
        };
        let planned = match spec(options.precision).plan(&executor_options) {
            Err(Error::Budget { .. })
                if options.f16_fallback
                    && options.precision == DType::F32
                    && gpu.check_dtype(DType::F16).is_ok() =>
            {
                let planned = spec(DType::F16)
                    .plan(&executor_options)
                    .map_err(|e| match e {
                        Error::Budget {
                            budget,
                            minimum,
                            minimum_mib,
                            message,
                        } => Error::Budget {
                            budget,
                            minimum,
                            minimum_mib,
                            message: format!("{message} (in f16; f32 needs more)"),
                        },
                        e => e,
                    })?;
                options.precision = DType::F16;
                planned
            }
            other => other?,
        };
        let PlannedGeneration {
            graph,
            tensors,
            tiling,
            ff_chunk_rows,
            plan,
        } = planned;
        let phase = |name: &str| {
            graph
                .phases
                .iter()
                .find(|p| p.name == name)
                .map_or(0..0, |p| p.ops.clone())
        };
        let phases = PHASES.map(phase);
        // Shared, so streamed weights are read from the model's memory maps at each upload, through
        // one host buffer the size of the largest upload group.
        let model = Arc::new(model);
        let executor = Executor::with_plan(
            &gpu,
            &graph,
            Arc::clone(&model) as Arc<dyn WeightSource + Send + Sync>,
            &executor_options,
            plan,
        )?;
        Ok(Pipeline {
            images: run.images(),
            gpu,
            model,
            options,
            graph,
            tensors,
            executor,
            phases,
            tiling,
            ff_chunk_rows,
        })
    }

    /// The GPU it runs on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The options it was loaded with.
    pub fn options(&self) -> &PipelineOptions {
        &self.options
    }

    /// The generation graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Device bytes the executor holds, by category.
    pub fn memory(&self) -> ExecutorMemory {
        self.executor.memory()
    }

    /// Where each phase's weights live (resident, phase-resident or streamed), as the budget planner
    /// chose.
    pub fn strategy(&self) -> &crate::planner::budget::Strategy {
        self.executor.strategy()
    }

    /// wgpu's allocator report for the whole device.
    pub fn device_memory(&self) -> Option<MemoryReport> {
        self.gpu.memory()
    }

    /// The decoded image after [`Generation::decode`]: `[1, 3, H, W]` in [-1, 1], in the precision's
    /// storage type, inside the arena. It stays valid until the next generation starts.
    pub fn decoded_view(&self) -> Result<&TensorView> {
        self.executor.view(self.tensors.decoded)
    }

    /// Latent elements of one image.
    fn latent_len(&self) -> usize {
        let f = self.model.config.vae.scale_factor();
        (self.model.config.vae.latent_channels
            * (self.options.height / f)
            * (self.options.width / f)) as usize
    }

    /// Token ids of the text encoder's batch: the negative prompt first when guided.
    fn token_ids(&self, request: &Request, warnings: &mut Vec<String>) -> Result<Vec<f32>> {
        let mut prompts = vec![];
        if self.options.guidance {
            prompts.push(request.negative_prompt.as_str());
        }
        prompts.push(request.prompt.as_str());
        let mut ids = Vec::with_capacity(prompts.len() * 77);
        for p in prompts {
            let e = self.model.tokenizer.encode(p)?;
            if let Some(t) = &e.truncated {
                warnings.push(format!("{t}"));
            }
            ids.extend(e.ids.iter().map(|&i| i as f32));
        }
        Ok(ids)
    }

    /// Checks `request` against the pipeline, encodes the prompts, makes the first latents and sets
    /// the schedule. The returned [`Generation`] runs the steps.
    pub fn start(&mut self, request: &Request) -> Result<Generation<'_>> {
        let t0 = Instant::now();
        let mut scheduler = Scheduler::new(
            &self.model.scheduler,
            request.sampler,
            request.schedule,
            request.steps,
        )?;
        let n = self.latent_len();
        if let Some(noise) = &request.noise {
            if noise.len() != n {
                return Err(Error::Invalid(format!(
                    "the initial noise has {} values; this model at {}×{} needs {n}",
                    noise.len(),
                    self.options.width,
                    self.options.height
                )));
            }
        }
        let (a, b) = match &request.init {
            Some(init) => {
                if !self.options.img2img {
                    return Err(Error::Invalid(
                        "this pipeline was loaded without the VAE encoder (img2img off)".into(),
                    ));
                }
                scheduler.start_at_strength(init.strength)?
            }
            None => (0.0, scheduler.init_noise_sigma()),
        };
        if scheduler.len() > self.options.max_steps {
            return Err(Error::Invalid(format!(
                "{} steps requested; the pipeline was loaded for at most {}",
                scheduler.len(),
                self.options.max_steps
            )));
        }
        let seed = (request.seed ^ (request.seed >> 32)) as u32;
        let noise = match &request.noise {
            Some(noise) => noise.clone(),
            None => crate::cpu::sampler::gaussian(seed, 0, n),
        };

        // 1. text encoder
        let mut warnings = vec![];
        let ids = self.token_ids(request, &mut warnings)?;
        self.executor
            .write(&self.gpu, self.tensors.input_ids, &ids)?;
        self.executor.run(&self.gpu, self.phases[0].clone())?;
        let text_encode = t0.elapsed();

        // 2. the first latents: noise, or the init image's latents noised to the start timestep
        let t1 = Instant::now();
        let latents: Vec<f32> = match (&request.init, self.tensors.image, self.tensors.moments) {
            (Some(init), Some(image), Some(moments)) => {
                self.executor.write(&self.gpu, image, &init.pixels)?;
                self.run_vae(1)?;
                let m = self.executor.read(&self.gpu, moments)?; // [1, 2L, h, w]: mean first
                let sf = self.model.config.vae.scaling_factor as f64;
                m[..n]
                    .iter()
                    .zip(&noise)
                    .map(|(&mean, &z)| (a * sf * mean as f64 + b * z as f64) as f32)
                    .collect()
            }
            _ => noise.iter().map(|&z| (b * z as f64) as f32).collect(),
        };
        self.executor
            .write(&self.gpu, self.tensors.latents, &latents)?;

        // 3. the schedule: every step's values in one upload
        let values: Vec<StepValues> = (0..scheduler.len())
            .map(|i| StepValues {
                timestep: scheduler.timesteps()[i] as f32,
                guidance: request.cfg_scale,
                coefficients: scheduler.step(i),
                seed,
                counter: i as u32 + 1,
            })
            .collect();
        self.executor.set_schedule(&self.gpu, &values)?;
        let vae_encode = t1.elapsed();
        Ok(Generation {
            total: scheduler.len(),
            timesteps: scheduler.timesteps().to_vec(),
            pipeline: self,
            step: 0,
            warnings,
            times: PhaseTimes {
                text_encode,
                vae_encode,
                ..Default::default()
            },
        })
    }

    /// Runs a whole request: start, every step (calling `progress(done, total)` after each), decode.
    /// Returns the image `[3, H, W]` in [-1, 1] and the phase times.
    pub fn generate(
        &mut self,
        request: &Request,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<(Vec<f32>, PhaseTimes, Vec<String>)> {
        let mut g = self.start(request)?;
        while g.step()? {
            progress(g.steps_done(), g.total_steps());
        }
        let warnings = g.warnings().to_vec();
        let (image, times) = g.decode_timed()?;
        Ok((image, times, warnings))
    }
}

/// One generation in progress: [`Generation::step`] runs one denoising step per call.
pub struct Generation<'p> {
    pipeline: &'p mut Pipeline,
    step: usize,
    total: usize,
    timesteps: Vec<f64>,
    warnings: Vec<String>,
    times: PhaseTimes,
}

impl Generation<'_> {
    /// Runs the next denoising step. Returns `false` once every step has run (and runs nothing).
    pub fn step(&mut self) -> Result<bool> {
        if self.step >= self.total {
            return Ok(false);
        }
        let t = Instant::now();
        let p = &*self.pipeline;
        p.executor
            .run_step(&p.gpu, p.phases[2].clone(), self.step)?;
        self.step += 1;
        self.times.denoise += t.elapsed();
        Ok(true)
    }

    /// Steps run so far.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Steps this generation runs.
    pub fn total_steps(&self) -> usize {
        self.total
    }

    /// The timesteps of the steps, as the U-Net sees them.
    pub fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    /// Warnings about the request (a prompt truncated to the tokenizer's length).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The current latents `[C, h, w]` (f32), read back.
    pub fn latents(&self) -> Result<Vec<f32>> {
        let p = &*self.pipeline;
        p.executor.read(&p.gpu, p.tensors.latents)
    }

    /// Runs the remaining steps, then the VAE decoder, and reads the image back: `[3, H, W]` in
    /// [-1, 1]. To keep the image on the GPU, use [`Generation::decode_on_gpu`].
    pub fn decode(self) -> Result<Vec<f32>> {
        Ok(self.decode_timed()?.0)
    }

    /// As [`Generation::decode`], with the phase times.
    pub fn decode_timed(mut self) -> Result<(Vec<f32>, PhaseTimes)> {
        self.decode_on_gpu()?;
        let p = &*self.pipeline;
        let image = p.executor.read(&p.gpu, p.tensors.decoded)?;
        Ok((image, self.times))
    }

    /// Runs the remaining steps and the VAE decoder; the image stays in the arena at
    /// [`Pipeline::decoded_view`]. Returns the phase times.
    pub fn decode_on_gpu(&mut self) -> Result<PhaseTimes> {
        while self.step()? {}
        let t = Instant::now();
        self.pipeline.run_vae(3)?;
        self.times.vae_decode = t.elapsed();
        Ok(self.times)
    }
}

impl Pipeline {
    /// Runs VAE phase `phase` (an index of [`PHASES`]): once, or tiled. A tiled phase runs its ops
    /// before the first tile op once (the decoder's latent-resolution head), the ops from the first to
    /// the last tile op once per slot ([`crate::graph::TileGrid::slots`]), and the ops after once (the encoder's
    /// latent-resolution tail).
    fn run_vae(&self, phase: usize) -> Result<()> {
        let range = self.phases[phase].clone();
        let Some(grid) = self.tensors.vae_tiles else {
            return self.executor.run(&self.gpu, range);
        };
        let tiled = |&i: &usize| self.graph.ops[i].tiles().is_some();
        let (Some(first), Some(last)) = (range.clone().find(tiled), range.clone().rfind(tiled))
        else {
            return self.executor.run(&self.gpu, range);
        };
        self.executor.run(&self.gpu, range.start..first)?;
        for slot in 0..grid.slots() as usize {
            self.executor.run_step(&self.gpu, first..last + 1, slot)?;
        }
        self.executor.run(&self.gpu, last + 1..range.end)
    }

    /// The VAE's tiles, when it runs tile by tile.
    pub fn vae_tiling(&self) -> Option<VaeTiling> {
        self.tiling
    }

    /// Rows per U-Net feed-forward chunk (0: whole).
    pub fn ff_chunk_rows(&self) -> u32 {
        self.ff_chunk_rows
    }

    /// Images per generation (one; the batch axis holds guidance's two branches).
    pub fn images(&self) -> u32 {
        self.images
    }
}

impl Pipeline {
    /// Times every op of one denoising step alone (median of `reps`), slowest first: `(label, seconds)`.
    /// Run a generation first so the step's values are set.
    pub fn profile_step(&self, reps: usize) -> Result<Vec<(String, f64)>> {
        let mut ops = self
            .executor
            .profile(&self.gpu, self.phases[2].clone(), 0, reps)?;
        ops.sort_by(|a, b| b.2.total_cmp(&a.2));
        Ok(ops.into_iter().map(|(_, label, s)| (label, s)).collect())
    }
}
