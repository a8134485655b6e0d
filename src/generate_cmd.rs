//! `wgsd generate`: check every argument, load the model onto the GPU once, run the generations and
//! write each PNG atomically with its parameters.
//!
//! Everything that can be checked without the GPU is checked first (the model, the init image, the
//! noise file, the output directory, steps and strength), so bad input fails at once with a message
//! naming the file or value.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuOptions};
use crate::graph::DType;
use crate::image_io::{self, Parameters};
use crate::models::pipeline_graph::VaeTiling;
use crate::models::pipeline_graph::{check_size, RunShape};
use crate::npy;
use crate::pipeline::{
    ChunkChoice, InitImage, Model, PhaseTimes, Pipeline, PipelineOptions, Request, TilingChoice,
};
use crate::scheduler::{Sampler, Schedule};
use crate::size::format_mib;

/// The demo model shipped in the repository (random weights: it shows the pipeline runs, not a
/// picture), used when neither `--model` nor `WGSD_MODEL` names one.
pub const DEMO_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-sd1");

/// The arguments of `wgsd generate`.
#[derive(Clone, Debug)]
pub struct GenerateArgs {
    /// A diffusers folder or a single-file `.safetensors` (default: `WGSD_MODEL`, then the demo).
    pub model: Option<PathBuf>,
    /// With a single file: a diffusers folder whose configs, scheduler and tokenizer to use.
    pub config: Option<PathBuf>,
    /// The prompt.
    pub prompt: String,
    /// The negative prompt.
    pub negative_prompt: String,
    /// Image width (default: the model's native size).
    pub width: Option<u32>,
    /// Image height (default: the model's native size).
    pub height: Option<u32>,
    /// Denoising steps.
    pub steps: usize,
    /// Classifier-free guidance scale; ≤ 1 runs a single U-Net pass per step.
    pub cfg_scale: f32,
    /// Seed (default: drawn from the clock and printed).
    pub seed: Option<u64>,
    /// `ddim`, `euler`, `euler-a`, `dpm++2m`, `lcm`.
    pub sampler: String,
    /// `discrete` or `karras`.
    pub schedule: Schedule,
    /// Storage precision; `None`: f32, or f16 when only f16 fits the budget.
    pub precision: Option<DType>,
    /// Device memory budget in bytes.
    pub budget: Option<u64>,
    /// Adapter name substring or backend.
    pub adapter: Option<String>,
    /// The output PNG (`out-0001.png`, … with `batch_count` > 1).
    pub output: PathBuf,
    /// img2img's init image.
    pub init_image: Option<PathBuf>,
    /// img2img's strength in (0, 1].
    pub strength: f64,
    /// The initial latent noise, `[1, C, H/f, W/f]` float32.
    pub noise: Option<PathBuf>,
    /// Images to generate, with seeds `seed`, `seed + 1`, ….
    pub batch_count: u32,
    /// Where to write the JSON run report (`--report`).
    pub report: Option<PathBuf>,
    /// Whether the VAE runs tile by tile (`--vae-tiling auto|off|N`).
    pub vae_tiling: TilingChoice,
    /// Whether the U-Net's feed-forward runs in chunks of rows (`--ff-chunking auto|off|N`).
    pub ff_chunking: ChunkChoice,
}

/// `--ff-chunking`: `auto` (chunks only when the budget needs them), `off`, or rows per chunk (a
/// positive multiple of 128, so every chunk starts at an aligned offset).
pub fn parse_chunking(s: &str) -> Result<ChunkChoice> {
    match s {
        "auto" => Ok(ChunkChoice::Auto),
        "off" => Ok(ChunkChoice::Off),
        n => match n.parse::<u32>() {
            Ok(r) if r > 0 && r % 128 == 0 => Ok(ChunkChoice::Rows(r)),
            _ => Err(Error::Invalid(format!(
                "--ff-chunking {n}: expected auto, off or rows per chunk (a positive multiple of 128)"
            ))),
        },
    }
}

/// `--vae-tiling`: `auto` (tiles only when the budget needs them), `off`, or a tile side in latents
/// (overlapping by a quarter of it).
pub fn parse_tiling(s: &str) -> Result<TilingChoice> {
    match s {
        "auto" => Ok(TilingChoice::Auto),
        "off" => Ok(TilingChoice::Off),
        n => match n.parse::<u32>() {
            Ok(t) if t >= 2 => Ok(TilingChoice::Fixed(VaeTiling::with_tile(t))),
            _ => Err(Error::Invalid(format!(
                "--vae-tiling {n}: expected auto, off or a tile side of at least 2 latents"
            ))),
        },
    }
}

/// wgpu's allocator report at one point of the run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MemorySample {
    /// Where: `setup`, then `<image>/text_encode`, `<image>/denoise`, `<image>/vae_decode`.
    pub at: String,
    /// `total_reserved_bytes`.
    pub reserved: u64,
    /// `total_allocated_bytes`.
    pub allocated: u64,
}

/// A refusal of the pipeline's share of `--budget`, restated for the whole budget: the device's own
/// reservation `baseline` added to the minimum.
fn with_device_baseline(e: Error, budget: Option<u64>, baseline: u64) -> Error {
    match e {
        Error::Budget {
            minimum, message, ..
        } => {
            let minimum = minimum + baseline;
            Error::Budget {
                budget: budget.unwrap_or(0),
                minimum,
                minimum_mib: minimum as f64 / (1u64 << 20) as f64,
                message: format!(
                    "{message}; plus {baseline} bytes the device itself reserved before any of wgsd's buffers"
                ),
            }
        }
        other => other,
    }
}

/// The `--report` JSON: the budget, the plan, what wgpu reported, and the times.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunReport {
    /// `--budget` in bytes.
    pub budget: Option<u64>,
    /// The VAE's tiles, when it ran tile by tile.
    pub vae_tiling: Option<VaeTiling>,
    /// Rows per U-Net feed-forward chunk (0: whole).
    pub ff_chunk_rows: u32,
    /// Planned device bytes by category.
    pub planned: crate::gpu::ExecutorMemory,
    /// What wgpu reserved for the device itself before any of wgsd's buffers (part of the budget).
    pub device_baseline: u64,
    /// The most reserved bytes seen at any sample, the device's own included.
    pub peak_reserved: u64,
    /// The most allocated bytes seen at any sample.
    pub peak_allocated: u64,
    /// Every sample, in order.
    pub samples: Vec<MemorySample>,
    /// The strategy the planner chose.
    pub strategy: String,
    /// The run summary (outputs, times, adapter).
    pub summary: GenerateSummary,
}

/// What one `wgsd generate` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GenerateSummary {
    /// The files written.
    pub outputs: Vec<PathBuf>,
    /// The first seed.
    pub seed: u64,
    /// Load time (planning, buffers, weight upload, shader compilation).
    pub load: Duration,
    /// Phase times summed over the generations.
    pub times: PhaseTimes,
    /// Denoising steps per generation.
    pub steps: usize,
    /// The most device bytes wgpu's allocator reported reserved, sampled after setup and every phase.
    pub device_reserved: u64,
    /// The adapter.
    pub adapter: String,
    /// Where the weights live, as the budget planner chose.
    pub strategy: String,
}

/// The weights' residency, and the rewrites: the VAE's tiles, the feed-forward's chunks.
fn strategy(pipeline: &Pipeline) -> String {
    let mut s = pipeline.strategy().to_string();
    if let Some(t) = pipeline.vae_tiling() {
        s += &format!(
            ", VAE in {0}×{0}-latent tiles (overlap {1}{2})",
            t.tile,
            t.overlap,
            if t.shared_stats {
                ", group-norm statistics shared"
            } else {
                ""
            }
        );
    }
    if pipeline.ff_chunk_rows() > 0 {
        s += &format!(
            ", feed-forward in chunks of {} rows",
            pipeline.ff_chunk_rows()
        );
    }
    if pipeline.options().f16_fallback && pipeline.options().precision == DType::F16 {
        s += ", f16 (no f32 plan fits the budget)";
    }
    s
}

/// Where the model comes from: `--model`, `WGSD_MODEL`, or the demo (and whether it is the demo).
fn model_path(arg: &Option<PathBuf>) -> (PathBuf, bool) {
    if let Some(p) = arg {
        return (p.clone(), false);
    }
    match std::env::var_os("WGSD_MODEL") {
        Some(p) if !p.is_empty() => (PathBuf::from(p), false),
        _ => (PathBuf::from(DEMO_MODEL), true),
    }
}

/// The output's directory must exist (wgsd never creates directories).
fn check_output(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::Invalid(format!(
            "output directory {} does not exist",
            dir.display()
        )));
    }
    if path.is_dir() {
        return Err(Error::Invalid(format!(
            "output {} is a directory; give a file name such as {}/out.png",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// Runs `wgsd generate`. `status` receives one-line messages meant for stderr.
pub fn run(args: &GenerateArgs, mut status: impl FnMut(&str)) -> Result<GenerateSummary> {
    // 1. Everything that needs no GPU.
    let sampler = Sampler::parse(&args.sampler)?;
    if args.steps == 0 {
        return Err(Error::Invalid("--steps must be at least 1".into()));
    }
    if args.batch_count == 0 {
        return Err(Error::Invalid("--batch-count must be at least 1".into()));
    }
    if args.init_image.is_some() && !(args.strength > 0.0 && args.strength <= 1.0) {
        return Err(Error::Invalid(format!(
            "--strength must be in (0, 1], got {}",
            args.strength
        )));
    }
    check_output(&args.output)?;
    if let Some(report) = &args.report {
        check_output(report)?;
    }
    let (path, demo) = model_path(&args.model);
    if demo {
        if !path.is_dir() {
            return Err(Error::Invalid(
                "no model given: pass --model PATH (a diffusers folder or an SD1.x/2.x .safetensors \
                 file) or set WGSD_MODEL"
                    .into(),
            ));
        }
        status(&format!(
            "no --model given: running the tiny demo model shipped in the repo ({}); its weights are \
             random, so the image is noise-like. Pass --model PATH for a real model.",
            path.display()
        ));
    }
    let model = match &args.config {
        Some(dir) => Model::open_single_file_with_config(&path, dir)?,
        None => Model::open(&path)?,
    };
    let init = args
        .init_image
        .as_deref()
        .map(image_io::read_image)
        .transpose()?;
    let native = model.config.native_size();
    let (width, height) = match (&init, args.width, args.height) {
        (_, Some(w), Some(h)) => (w, h),
        (Some(img), None, None) => (img.width, img.height),
        (_, w, h) => (w.unwrap_or(native), h.unwrap_or(native)),
    };
    check_size(
        &model.config,
        &RunShape {
            width,
            height,
            batch: 1,
        },
    )?;
    let noise = match &args.noise {
        Some(p) => Some(read_noise(p, &model, width, height)?),
        None => None,
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64 & 0xffff_ffff)
    });
    let init = init
        .map(|img| -> Result<InitImage> {
            Ok(InitImage {
                pixels: image_io::to_model_input(&img, width, height)?,
                strength: args.strength,
            })
        })
        .transpose()?;

    // 2. The GPU: plan, buffers, weights, once.
    let t0 = Instant::now();
    let gpu = Arc::new(Gpu::new(&GpuOptions {
        adapter: args.adapter.clone(),
        ..Default::default()
    })?);
    // wgsd created this device, so what wgpu reserved for it before any pipeline buffer (4 MiB on
    // lavapipe) is part of what the process reserves: `--budget` covers it, and the pipeline gets the
    // rest. (A host that brings its own device budgets the pipeline alone.)
    gpu.wait()?;
    let device_baseline = gpu.memory().map_or(0, |m| m.reserved);
    let guidance = args.cfg_scale > 1.0;
    let mut options = PipelineOptions::new(&model, width, height);
    options.precision = args.precision.unwrap_or(DType::F32);
    options.f16_fallback = args.precision.is_none();
    options.guidance = guidance;
    options.img2img = init.is_some();
    options.max_steps = args.steps;
    options.budget = args.budget.map(|b| b.saturating_sub(device_baseline));
    options.vae_tiling = args.vae_tiling;
    options.ff_chunking = args.ff_chunking;
    let model_name = model.name.clone();
    let mut pipeline = Pipeline::new(Arc::clone(&gpu), model, options)
        .map_err(|e| with_device_baseline(e, args.budget, device_baseline))?;
    let load = t0.elapsed();
    let mut samples = vec![];
    let mut sample = |at: String| {
        if let Some(m) = gpu.memory() {
            samples.push(MemorySample {
                at,
                reserved: m.reserved,
                allocated: m.allocated,
            });
        }
    };
    gpu.wait()?;
    sample("setup".into());

    // 3. The generations.
    let mut outputs = vec![];
    let mut times = PhaseTimes::default();
    let mut steps_run = 0;
    for i in 0..args.batch_count {
        let request = Request {
            prompt: args.prompt.clone(),
            negative_prompt: args.negative_prompt.clone(),
            steps: args.steps,
            cfg_scale: args.cfg_scale,
            seed: seed + u64::from(i),
            sampler,
            schedule: args.schedule,
            init: init.clone(),
            noise: noise.clone(),
        };
        let bar = progress_bar(i, args.batch_count);
        let mut generation = pipeline.start(&request)?;
        sample(format!("{}/text_encode", i + 1));
        for w in generation.warnings() {
            status(&format!("warning: {w}"));
        }
        steps_run = generation.total_steps();
        bar.set_length(steps_run as u64);
        while generation.step()? {
            bar.set_position(generation.steps_done() as u64);
        }
        sample(format!("{}/denoise", i + 1));
        bar.set_message("decode");
        let (image, t) = generation.decode_timed()?;
        sample(format!("{}/vae_decode", i + 1));
        bar.finish_and_clear();
        times.text_encode += t.text_encode;
        times.vae_encode += t.vae_encode;
        times.denoise += t.denoise;
        times.vae_decode += t.vae_decode;
        let rgb = image_io::from_decoded(&image, width, height)?;
        let params = Parameters {
            prompt: args.prompt.clone(),
            negative_prompt: args.negative_prompt.clone(),
            steps: args.steps as u32,
            sampler: sampler.name().to_string(),
            schedule: (args.schedule == Schedule::Karras).then(|| "Karras".to_string()),
            cfg_scale: args.cfg_scale,
            seed: seed + u64::from(i),
            width,
            height,
            model: model_name.clone(),
            denoising_strength: init.as_ref().map(|x| x.strength as f32),
        };
        let out = if args.batch_count > 1 {
            image_io::numbered_path(&args.output, i + 1)
        } else {
            args.output.clone()
        };
        image_io::write_png_atomic(&out, &rgb, &[("parameters", &params.to_a1111())])?;
        outputs.push(out);
    }
    gpu.wait()?;
    let summary = GenerateSummary {
        outputs,
        seed,
        load,
        times,
        steps: steps_run,
        device_reserved: samples.iter().map(|s| s.reserved).max().unwrap_or(0),
        adapter: gpu.adapter_name(),
        strategy: strategy(&pipeline),
    };
    if let Some(path) = &args.report {
        let report = RunReport {
            budget: args.budget,
            planned: pipeline.memory(),
            device_baseline,
            peak_reserved: summary.device_reserved,
            peak_allocated: samples.iter().map(|s| s.allocated).max().unwrap_or(0),
            samples,
            strategy: pipeline.strategy().to_string(),
            vae_tiling: pipeline.vae_tiling(),
            ff_chunk_rows: pipeline.ff_chunk_rows(),
            summary: summary.clone(),
        };
        let json = serde_json::to_vec_pretty(&report)
            .map_err(|e| Error::Invalid(format!("--report: {e}")))?;
        image_io::write_atomic(path, |w| {
            std::io::Write::write_all(w, &json).map_err(|e| Error::io(path, e))
        })?;
    }
    Ok(summary)
}

/// Reads `--noise`: float32 `[1, C, H/f, W/f]`.
fn read_noise(path: &Path, model: &Model, width: u32, height: u32) -> Result<Vec<f32>> {
    let (shape, data) = npy::read_f32(path)?;
    let f = model.config.vae.scale_factor();
    let want = [
        1,
        model.config.vae.latent_channels as usize,
        (height / f) as usize,
        (width / f) as usize,
    ];
    if shape != want {
        return Err(Error::Invalid(format!(
            "{}: noise of shape {shape:?}; a {width}×{height} image with this model needs {want:?} \
             (as passed to diffusers' latents=)",
            path.display()
        )));
    }
    Ok(data)
}

/// A bar on stderr, hidden when stderr is not a terminal.
fn progress_bar(index: u32, count: u32) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        None,
        if std::io::stderr().is_terminal() {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    let prefix = if count > 1 {
        format!("image {}/{count} ", index + 1)
    } else {
        String::new()
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{prefix}{{msg:8}} [{{bar:30}}] step {{pos}}/{{len}} · {{per_sec}} · ETA {{eta}}"
    )) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("denoise");
    bar
}

/// The one-line summary printed at the end.
pub fn format_summary(s: &GenerateSummary) -> String {
    let secs = |d: Duration| d.as_secs_f64();
    let steps = s.steps.max(1) as f64 * s.outputs.len().max(1) as f64;
    let files: Vec<String> = s.outputs.iter().map(|p| p.display().to_string()).collect();
    format!(
        "wrote {} (seed {}) · {} · load {:.2} s · text {:.2} s · {}denoise {:.2} s ({:.2} it/s) · decode {:.2} s · \
         device memory {} reserved (wgpu allocator) on {}",
        files.join(", "),
        s.seed,
        s.strategy,
        secs(s.load),
        secs(s.times.text_encode),
        if s.times.vae_encode > Duration::from_millis(1) {
            format!("encode {:.2} s · ", secs(s.times.vae_encode))
        } else {
            String::new()
        },
        secs(s.times.denoise),
        steps / secs(s.times.denoise).max(1e-9),
        secs(s.times.vae_decode),
        format_mib(s.device_reserved),
        s.adapter
    )
}
