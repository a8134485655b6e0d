//! The `wgsd` command line: argument parsing only; the work is in the library.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use wgsd::generate_cmd::{self, GenerateArgs};
use wgsd::graph::DType;
use wgsd::plan_cmd::{self, ModelSource, PlanArgs};
use wgsd::scheduler::Schedule;
use wgsd::size::parse_size;
use wgsd::{Error, Result};

/// Stable Diffusion in hand-written WGSL on wgpu, inside a statically planned memory budget.
#[derive(Parser, Debug)]
#[command(name = "wgsd", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List every GPU adapter with the limits and features wgsd uses.
    Devices {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Show only the adapter wgsd would use for this name substring or backend (vulkan, metal,
        /// dx12, gl); `WGSD_ADAPTER` does the same for every command.
        #[arg(long)]
        adapter: Option<String>,
    },
    /// Plan the memory of a pipeline from its configs alone (no weights), or of a MiniMalloc CSV.
    Plan(PlanCli),
    /// Generate images (txt2img, or img2img with --init-image).
    Generate(GenerateCli),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ScheduleArg {
    Discrete,
    Karras,
}

#[derive(Args, Debug)]
struct GenerateCli {
    /// A diffusers folder or a single-file SD1.x/2.x .safetensors (default: $WGSD_MODEL, then the tiny
    /// demo model in the repo).
    #[arg(long)]
    model: Option<PathBuf>,
    /// With a single-file --model: a diffusers folder whose configs, scheduler and tokenizer to use.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The prompt.
    #[arg(short = 'p', long)]
    prompt: String,
    /// The negative prompt.
    #[arg(short = 'n', long, default_value = "")]
    negative_prompt: String,
    /// Image width (default: the model's native size, or the init image's).
    #[arg(short = 'W', long)]
    width: Option<u32>,
    /// Image height (default: the model's native size, or the init image's).
    #[arg(short = 'H', long)]
    height: Option<u32>,
    /// Denoising steps.
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Classifier-free guidance scale; 1 runs a single U-Net pass per step.
    #[arg(long, default_value_t = 7.5)]
    cfg_scale: f32,
    /// Seed (default: from the clock, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Sampler: ddim, euler, euler-a, dpm++2m, lcm.
    #[arg(long, default_value = "euler")]
    sampler: String,
    /// Timestep schedule.
    #[arg(long, value_enum, default_value = "discrete")]
    schedule: ScheduleArg,
    /// Storage precision of weights and activations; auto: f32, or f16 when only f16 fits --budget
    /// (and the device has SHADER_F16).
    #[arg(long, value_enum, default_value = "auto")]
    precision: GeneratePrecision,
    /// Device memory the run may use (SIZE: 512MiB, 2GiB, ...).
    #[arg(long)]
    budget: Option<String>,
    /// VAE tiling: auto (only when the budget needs it), off, or a tile side in latents.
    #[arg(long, default_value = "auto")]
    vae_tiling: String,
    /// U-Net feed-forward chunking: auto (only when the budget needs it), off, or rows per chunk (a
    /// multiple of 128).
    #[arg(long, default_value = "auto")]
    ff_chunking: String,
    /// Adapter name substring or backend (vulkan, metal, dx12, gl); also $WGSD_ADAPTER.
    #[arg(long)]
    adapter: Option<String>,
    /// Output PNG (with --batch-count N: out-0001.png, ...).
    #[arg(short = 'o', long, default_value = "out.png")]
    output: PathBuf,
    /// img2img: the init image (PNG, JPEG, WebP, BMP).
    #[arg(long)]
    init_image: Option<PathBuf>,
    /// img2img: how much of the schedule runs, in (0, 1].
    #[arg(long, default_value_t = 0.75, requires = "init_image")]
    strength: f64,
    /// The initial latent noise: a float32 .npy of shape [1, C, H/f, W/f], as diffusers' latents=.
    #[arg(long)]
    noise: Option<PathBuf>,
    /// Images to generate, with seeds seed, seed + 1, ...
    #[arg(long, default_value_t = 1)]
    batch_count: u32,
    /// Write a JSON report: budget, planned bytes, wgpu's reserved/allocated bytes after setup and
    /// every phase, strategy, times, adapter.
    #[arg(long)]
    report: Option<PathBuf>,
}

fn generate(cli: GenerateCli) -> Result<bool> {
    let args = GenerateArgs {
        model: cli.model,
        config: cli.config,
        prompt: cli.prompt,
        negative_prompt: cli.negative_prompt,
        width: cli.width,
        height: cli.height,
        steps: cli.steps,
        cfg_scale: cli.cfg_scale,
        seed: cli.seed,
        sampler: cli.sampler,
        schedule: match cli.schedule {
            ScheduleArg::Discrete => Schedule::Discrete,
            ScheduleArg::Karras => Schedule::Karras,
        },
        precision: match cli.precision {
            GeneratePrecision::Auto => None,
            GeneratePrecision::F32 => Some(DType::F32),
            GeneratePrecision::F16 => Some(DType::F16),
        },
        budget: cli.budget.as_deref().map(parse_size).transpose()?,
        adapter: cli.adapter,
        output: cli.output,
        init_image: cli.init_image,
        strength: cli.strength,
        noise: cli.noise,
        batch_count: cli.batch_count,
        report: cli.report,
        vae_tiling: generate_cmd::parse_tiling(&cli.vae_tiling)?,
        ff_chunking: generate_cmd::parse_chunking(&cli.ff_chunking)?,
    };
    let summary = generate_cmd::run(&args, |line| eprintln!("{line}"))?;
    eprintln!("{}", generate_cmd::format_summary(&summary));
    Ok(true)
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Precision {
    F32,
    F16,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum GeneratePrecision {
    Auto,
    F32,
    F16,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum AttentionKind {
    Flash,
    Materialised,
}

#[derive(Args, Debug)]
struct PlanCli {
    /// Named architecture: sd15, sd21 or sdxl.
    #[arg(long, conflicts_with_all = ["model", "intervals"])]
    arch: Option<String>,
    /// A diffusers folder (reads unet/, vae/, text_encoder/ config.json).
    #[arg(long, conflicts_with = "intervals")]
    model: Option<PathBuf>,
    /// A MiniMalloc CSV (id,lower,upper,size; half-open [lower, upper)).
    #[arg(long)]
    intervals: Option<PathBuf>,
    /// With --intervals: the capacity the arena must fit (SIZE).
    #[arg(long, requires = "intervals")]
    capacity: Option<String>,
    /// Image width in pixels (default: the model's native size).
    #[arg(long)]
    width: Option<u32>,
    /// Image height in pixels (default: the model's native size).
    #[arg(long)]
    height: Option<u32>,
    /// Storage precision.
    #[arg(long, value_enum, default_value = "f32")]
    precision: Precision,
    /// Text-encoder and U-Net batch; 2 = one image with classifier-free guidance, odd = no guidance.
    #[arg(long, default_value_t = 2)]
    batch: u32,
    /// Device memory the run must fit (SIZE: 300MiB, 2GiB, 1.5GB, 512M, bytes).
    #[arg(long)]
    budget: Option<String>,
    /// max_storage_buffer_binding_size (SIZE); tensors over it are named as needing a rewrite.
    #[arg(long, default_value = "128MiB")]
    max_binding: String,
    /// min_storage_buffer_offset_alignment in bytes.
    #[arg(long, default_value_t = plan_cmd::DEFAULT_ALIGNMENT)]
    alignment: u64,
    /// Attention model: flash (never stores scores) or materialised (scores tensor, in-place softmax).
    #[arg(long, value_enum, default_value = "flash")]
    attention: AttentionKind,
    /// Print only the smallest workable budget and its strategy.
    #[arg(long, conflicts_with = "intervals")]
    min_budget: bool,
    /// The most denoising steps a run may take (sizes the per-step parameter slots; the cost model
    /// counts a streamed U-Net's uploads over this many steps).
    #[arg(long, default_value_t = 50)]
    max_steps: usize,
    /// Write the arena timeline as SVG.
    #[arg(long)]
    timeline: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| Error::Invalid(e.to_string()))
}

fn plan(cli: PlanCli) -> Result<bool> {
    if let Some(path) = &cli.intervals {
        let capacity = cli.capacity.as_deref().map(parse_size).transpose()?;
        let r = plan_cmd::plan_intervals(path, capacity)?;
        if cli.json {
            println!("{}", json(&r)?);
        } else {
            print!("{}", plan_cmd::format_intervals(&r));
        }
        return Ok(r.fits != Some(false));
    }
    let source = match (cli.arch, cli.model) {
        (Some(a), None) => ModelSource::Arch(a),
        (None, Some(m)) => ModelSource::Dir(m),
        _ => {
            return Err(Error::Invalid(
                "wgsd plan needs --arch sd15|sd21|sdxl, --model PATH or --intervals FILE.csv"
                    .into(),
            ))
        }
    };
    let args = PlanArgs {
        width: cli.width,
        height: cli.height,
        precision: match cli.precision {
            Precision::F32 => DType::F32,
            Precision::F16 => DType::F16,
        },
        batch: cli.batch,
        budget: cli.budget.as_deref().map(parse_size).transpose()?,
        max_binding: parse_size(&cli.max_binding)?,
        alignment: cli.alignment,
        materialised_attention: matches!(cli.attention, AttentionKind::Materialised),
        min_budget: cli.min_budget,
        max_steps: cli.max_steps,
        ..PlanArgs::new(source)
    };
    let report = plan_cmd::plan_model(&args)?;
    if let (Some(path), Some(t)) = (&cli.timeline, &report.timeline) {
        let svg = wgsd::timeline::render_svg(t);
        std::fs::write(path, svg).map_err(|e| Error::io(path, e))?;
    }
    if cli.json {
        println!("{}", json(&report)?);
    } else {
        print!("{}", plan_cmd::format_report(&report));
    }
    Ok(report.fits_budget != Some(false))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Plan(p) => plan(p),
        Command::Generate(g) => generate(g),
        Command::Devices { json, adapter } => wgsd::devices::report(json, adapter.as_deref())
            .map(|s| println!("{}", s.trim_end()))
            .map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
