//! `wgsd plan`: build the pipeline graph from configs alone, plan every phase and the whole pipeline in
//! one arena, and report the figures (as text or JSON). Also plans MiniMalloc interval files.
//!
//! Every report also carries the budget planner's two bounds ([`crate::planner::budget`]): the
//! all-resident plan and the smallest plan (the minimum budget, and what dominates it); with
//! `--budget`, the strategy chosen for it, or the refusal naming the minimum.
//!
//! # Example usage
//! ```
//! use wgsd::plan_cmd::{plan_model, ModelSource, PlanArgs};
//! let args = PlanArgs { width: Some(256), height: Some(256), ..PlanArgs::new(ModelSource::Arch("sd15".into())) };
//! let report = plan_model(&args).unwrap();
//! assert_eq!(report.phases.len(), 4);
//! assert!(report.pipeline.arena >= report.pipeline.load);
//! assert!(report.minimum.total < report.all_resident.total);
//! assert_eq!(report.all_resident.strategy, "resident");
//! ```

use crate::gpu::{Executor, ExecutorOptions};
use crate::graph::{liveness, DType, Graph, GraphOptions, Role};
use crate::models::pipeline_graph::{pipeline_graph, RunShape, VaeTiling, PHASES};
use crate::models::PipelineConfig;
use crate::pipeline::{ChunkChoice, GenerationSpec, PlannedGeneration, TilingChoice};
use crate::planner::budget::{self, Peak, PhaseChoice};
use crate::planner::{self, Limits, Options, Usage};
use crate::size::{format_mib, mib};
use crate::{Error, Result};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The portable `max_storage_buffer_binding_size` (lavapipe's; WebGPU's default is 128 MiB too).
pub const DEFAULT_MAX_BINDING: u64 = 128 << 20;
/// The default `min_storage_buffer_offset_alignment` (wgpu's default limit).
pub const DEFAULT_ALIGNMENT: u64 = 256;
/// Time the planner may search per plan, so a whole SDXL report stays well under a second.
pub const PLAN_TIME_LIMIT: Duration = Duration::from_millis(40);
/// The uniform parameter block the executor gives each dispatch (`ParamArena::SLOT`, which is also
/// wgpu's default `min_uniform_buffer_offset_alignment`).
pub const DEFAULT_PARAM_SLOT: u64 = 256;
/// Denoising steps a pipeline is loaded for by default (`PipelineOptions::new`).
pub const DEFAULT_MAX_STEPS: usize = 50;

/// Where the configs come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSource {
    /// A named architecture: `sd15`, `sd21`, `sdxl`.
    Arch(String),
    /// A diffusers folder with `unet/`, `vae/`, `text_encoder/` config.json files.
    Dir(PathBuf),
}

/// What to plan and how to report it.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanArgs {
    /// The model.
    pub source: ModelSource,
    /// Image width (default: the model's native size).
    pub width: Option<u32>,
    /// Image height (default: the model's native size).
    pub height: Option<u32>,
    /// Storage precision (`F32` or `F16`).
    pub precision: DType,
    /// Batch of the text encoder and U-Net (2 = one image with classifier-free guidance).
    pub batch: u32,
    /// Device memory the run must fit in, if any.
    pub budget: Option<u64>,
    /// `max_storage_buffer_binding_size`.
    pub max_binding: u64,
    /// `min_storage_buffer_offset_alignment`.
    pub alignment: u64,
    /// Model the attention score matrix instead of flash attention.
    pub materialised_attention: bool,
    /// The most denoising steps a generation may run: one parameter block per step and sampler op,
    /// and the steps the upload cost model assumes.
    pub max_steps: usize,
    /// Report only the smallest budget that works (`--min-budget`).
    pub min_budget: bool,
}

impl PlanArgs {
    /// Defaults: native size, f32, batch 2, no budget, 128 MiB binding, 256 B alignment, flash attention.
    pub fn new(source: ModelSource) -> Self {
        PlanArgs {
            source,
            width: None,
            height: None,
            precision: DType::F32,
            batch: 2,
            budget: None,
            max_binding: DEFAULT_MAX_BINDING,
            alignment: DEFAULT_ALIGNMENT,
            materialised_attention: false,
            max_steps: DEFAULT_MAX_STEPS,
            min_budget: false,
        }
    }
}

/// A named tensor and its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NamedSize {
    /// The tensor's name.
    pub name: String,
    /// Its bytes.
    pub bytes: u64,
}

/// The figures of one planned set of tensors (a phase, or the whole pipeline).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhaseReport {
    /// Phase name, or `pipeline`.
    pub name: String,
    /// Ops in the phase.
    pub ops: usize,
    /// Activation tensors planned (views excluded; persistent tensors from earlier phases included).
    pub tensors: usize,
    /// Distinct weights the phase reads.
    pub weights: usize,
    /// LOAD: the most bytes live at one op (aligned), a lower bound on the arena.
    pub load: u64,
    /// Arena bytes the planner found.
    pub arena: u64,
    /// arena / LOAD.
    pub ratio: f64,
    /// Whether the arena is certified optimal.
    pub optimal: bool,
    /// The planner's strategy.
    pub method: String,
    /// The largest activation.
    pub largest: Option<NamedSize>,
    /// Bytes of the weights the phase reads.
    pub weight_bytes: u64,
    /// LOAD of the same phase under the other attention model (materialised when planning flash, and the
    /// reverse), for comparison.
    pub load_other_attention: u64,
}

/// A tensor over `max_storage_buffer_binding_size`, which the runtime must rewrite (split or chunk).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Oversized {
    /// The tensor.
    pub name: String,
    /// Its bytes.
    pub bytes: u64,
    /// `weight` or `activation`.
    pub kind: String,
}

/// One budget plan's figures: the strategy and the planned device bytes by category.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BudgetReport {
    /// The VAE's tiles, when it runs tile by tile.
    pub vae_tiling: Option<VaeTiling>,
    /// Rows per U-Net feed-forward chunk (0: whole).
    pub ff_chunk_rows: u32,
    /// `resident`, `phase-resident`, `streamed` or `mixed`.
    pub strategy: String,
    /// The strategy phase by phase, as one line.
    pub description: String,
    /// The residency of each phase's weights.
    pub phases: Vec<PhaseChoice>,
    /// All device bytes: arena + parameters + staging. The smallest budget this plan fits.
    pub total: u64,
    /// The arena (activations and weights).
    pub arena: u64,
    /// Arena bytes besides the weights (activations, scratch, packing slack).
    pub activations: u64,
    /// Weights resident for the whole run.
    pub weights_resident: u64,
    /// Arena bytes holding non-resident weights where the arena peaks.
    pub weights_streamed: u64,
    /// Uniform parameter blocks.
    pub params: u64,
    /// The staging buffer uploads go through.
    pub staging: u64,
    /// What the allocator reserves beyond the buffers (small buffers share 4 MiB blocks).
    pub allocator: u64,
    /// Weight bytes uploaded per generation (of `steps` steps).
    pub upload_bytes_per_generation: u64,
    /// Staging round trips per generation.
    pub uploads_per_generation: u64,
    /// The cost model's seconds of uploads per generation.
    pub upload_seconds_per_generation: f64,
    /// Steps the cost assumes.
    pub steps: u64,
    /// Where the arena peaks: what dominates this plan.
    pub peak: Peak,
}

impl BudgetReport {
    fn new(planned: &PlannedGeneration) -> Self {
        let plan = &planned.plan;
        let m = &plan.memory;
        BudgetReport {
            vae_tiling: planned.tiling,
            ff_chunk_rows: planned.ff_chunk_rows,
            strategy: plan.strategy.name().to_string(),
            description: plan.strategy.to_string(),
            phases: plan.strategy.phases.clone(),
            total: m.total(),
            arena: m.arena(),
            activations: m.activations,
            weights_resident: m.weights_resident,
            weights_streamed: m.weights_streamed,
            params: m.params,
            staging: m.staging,
            allocator: m.allocator,
            upload_bytes_per_generation: plan.cost.bytes,
            uploads_per_generation: plan.cost.copies,
            upload_seconds_per_generation: plan.cost.seconds,
            steps: plan.cost.steps,
            peak: plan.peak.clone(),
        }
    }
}

/// Everything `wgsd plan` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanReport {
    /// Model name.
    pub model: String,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// Text encoder and U-Net batch.
    pub batch: u32,
    /// Images decoded.
    pub images: u32,
    /// `f32` or `f16`.
    pub precision: String,
    /// `flash` or `materialised`.
    pub attention: String,
    /// Offset alignment used.
    pub alignment: u64,
    /// Binding limit used.
    pub max_binding: u64,
    /// One report per phase, in graph order.
    pub phases: Vec<PhaseReport>,
    /// The whole pipeline in one arena.
    pub pipeline: PhaseReport,
    /// Bytes of all weights, resident for the whole run.
    pub weight_bytes: u64,
    /// Pipeline arena + resident weights.
    pub total_device_bytes: u64,
    /// The budget asked for, if any.
    pub budget: Option<u64>,
    /// Whether some strategy fits the budget.
    pub fits_budget: Option<bool>,
    /// Every weight resident and the VAE whole: the fastest plan, and the most memory.
    pub all_resident: BudgetReport,
    /// Every weight resident, the VAE in the tiles that make this smallest.
    pub resident_tiled: BudgetReport,
    /// The smallest plan: its total is the smallest budget that works.
    pub minimum: BudgetReport,
    /// The fastest plan within `budget`, when one fits.
    pub budget_plan: Option<BudgetReport>,
    /// Per phase, the smallest arena it could run in alone (activations + its weights streamed per
    /// op): the largest is what the minimum budget is made of.
    pub phase_floors: Vec<NamedSize>,
    /// Why nothing fits `budget`, naming the minimum.
    pub budget_refusal: Option<String>,
    /// Only the minimum was asked for (`--min-budget`): the text report is one line.
    #[serde(skip)]
    pub min_budget_only: bool,
    /// Tensors over the binding limit, largest first.
    pub oversized: Vec<Oversized>,
    /// Wall time of building and planning the graph's arena, in seconds.
    pub seconds: f64,
    /// Wall time of the budget planner's search over residency, VAE tiling and feed-forward chunking
    /// (all resident, the minimum, the plan for `--budget`), in seconds.
    pub budget_seconds: f64,
    /// The pipeline plan's placements (offset of each planned tensor), for the timeline.
    #[serde(skip)]
    pub timeline: Option<Timeline>,
}

/// The pipeline plan in a form the timeline drawing reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    /// One rectangle per tensor: (name, first op, last op, offset, bytes).
    pub tensors: Vec<TimelineTensor>,
    /// Phases: (name, first op, end op).
    pub phases: Vec<(String, usize, usize)>,
    /// Arena bytes.
    pub arena: u64,
    /// LOAD bytes.
    pub load: u64,
    /// Budget for activations (total budget − weights), if any.
    pub budget: Option<u64>,
    /// Title.
    pub title: String,
}

/// One tensor of a [`Timeline`].
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineTensor {
    /// Name.
    pub name: String,
    /// First op.
    pub first: u32,
    /// Last op (inclusive).
    pub last: u32,
    /// Offset in the arena.
    pub offset: u64,
    /// Bytes.
    pub bytes: u64,
}

fn planner_limits(alignment: u64) -> Limits {
    Limits {
        alignment,
        max_buffer_size: u64::MAX,
        // Oversized tensors are reported by name instead of failing the plan.
        max_binding_size: u64::MAX,
    }
}

fn run_planner(usages: &[Usage], alignment: u64) -> Result<planner::Plan> {
    let opts = Options {
        time_limit: PLAN_TIME_LIMIT,
    };
    Ok(planner::plan(usages, &planner_limits(alignment), &opts)?)
}

fn phase_report(
    graph: &Graph,
    name: &str,
    ops: std::ops::Range<usize>,
    intervals: &[liveness::Interval],
    alignment: u64,
    load_other: u64,
) -> Result<(PhaseReport, planner::Plan)> {
    let plan = run_planner(&liveness::usages(intervals), alignment)?;
    let load = liveness::load(intervals, alignment);
    let arena = plan.arena();
    let largest = intervals
        .iter()
        .max_by_key(|iv| iv.size)
        .map(|iv| NamedSize {
            name: graph.tensor(iv.tensor).name.clone(),
            bytes: iv.size,
        });
    let mut used = vec![false; graph.tensors.len()];
    for op in &graph.ops[ops.clone()] {
        for t in op.inputs() {
            let s = graph.storage(t);
            if graph.tensor(s).role == Role::Weight {
                used[s.index()] = true;
            }
        }
    }
    let weight_ids: Vec<usize> = (0..used.len()).filter(|&i| used[i]).collect();
    let report = PhaseReport {
        name: name.to_string(),
        ops: ops.len(),
        tensors: intervals.len(),
        weights: weight_ids.len(),
        load,
        arena,
        ratio: if load == 0 {
            1.0
        } else {
            arena as f64 / load as f64
        },
        optimal: plan.optimal || arena == load,
        method: plan.method.to_string(),
        largest,
        weight_bytes: weight_ids.iter().map(|&i| graph.tensors[i].bytes()).sum(),
        load_other_attention: load_other,
    };
    Ok((report, plan))
}

fn resolve(args: &PlanArgs) -> Result<(PipelineConfig, RunShape)> {
    let config = match &args.source {
        ModelSource::Arch(a) => PipelineConfig::by_name(a)?,
        ModelSource::Dir(d) => PipelineConfig::from_dir(d)?,
    };
    let native = config.native_size();
    let run = RunShape {
        width: args.width.unwrap_or(native),
        height: args.height.unwrap_or(native),
        batch: args.batch,
    };
    if !matches!(args.precision, DType::F32 | DType::F16) {
        return Err(Error::Invalid("precision must be f32 or f16".into()));
    }
    if args.alignment == 0 || !args.alignment.is_power_of_two() {
        return Err(Error::Invalid(format!(
            "alignment {} is not a power of two",
            args.alignment
        )));
    }
    Ok((config, run))
}

/// Builds and plans the pipeline `args` describes.
pub fn plan_model(args: &PlanArgs) -> Result<PlanReport> {
    let start = Instant::now();
    let (config, run) = resolve(args)?;
    let opts = GraphOptions {
        dtype: args.precision,
        materialised_attention: args.materialised_attention,
        ff_chunk_rows: 0,
    };
    let other = GraphOptions {
        materialised_attention: !args.materialised_attention,
        ..opts
    };
    let graph = pipeline_graph(&config, &run, opts)?;
    let other_graph = pipeline_graph(&config, &run, other)?;
    let all = liveness::intervals(&graph);
    let all_other = liveness::intervals(&other_graph);
    let align = args.alignment;

    let mut phases = Vec::new();
    for (p, po) in graph.phases.iter().zip(&other_graph.phases) {
        let iv = liveness::clip(&all, p.ops.clone());
        let load_other = liveness::load(&liveness::clip(&all_other, po.ops.clone()), align);
        phases.push(phase_report(&graph, &p.name, p.ops.clone(), &iv, align, load_other)?.0);
    }
    debug_assert_eq!(
        phases.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        PHASES
    );
    let load_other = liveness::load(&all_other, align);
    let (pipeline, plan) = phase_report(
        &graph,
        "pipeline",
        0..graph.ops.len(),
        &all,
        align,
        load_other,
    )?;

    let weight_bytes = graph.weight_bytes();
    let total = pipeline.arena + weight_bytes;
    let seconds = start.elapsed().as_secs_f64();
    let budget_start = Instant::now();
    let (all_resident, resident_tiled, minimum, budget_plan, phase_floors) =
        budget_plans(&graph, &config, run, opts, args)?;
    let budget_seconds = budget_start.elapsed().as_secs_f64();
    let (budget_plan, budget_refusal) = match budget_plan {
        None => (None, None),
        Some(Ok(p)) => (Some(p), None),
        Some(Err(e)) => (None, Some(e)),
    };
    let mut oversized: Vec<Oversized> = graph
        .tensors
        .iter()
        .enumerate()
        .filter(|(_, t)| t.alias_of.is_none() && t.bytes() > args.max_binding)
        .filter(|(i, t)| t.is_weight() || all.iter().any(|iv| iv.tensor.index() == *i))
        .map(|(_, t)| Oversized {
            name: t.name.clone(),
            bytes: t.bytes(),
            kind: if t.is_weight() {
                "weight"
            } else {
                "activation"
            }
            .into(),
        })
        .collect();
    oversized.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));

    let precision = if args.precision == DType::F16 {
        "f16"
    } else {
        "f32"
    };
    let attention = if args.materialised_attention {
        "materialised"
    } else {
        "flash"
    };
    let timeline = Timeline {
        tensors: all
            .iter()
            .zip(&plan.placements)
            .map(|(iv, pl)| TimelineTensor {
                name: graph.tensor(iv.tensor).name.clone(),
                first: iv.first,
                last: iv.last,
                offset: pl.offset + plan.buffer_sizes[..pl.buffer as usize].iter().sum::<u64>(),
                bytes: iv.size,
            })
            .collect(),
        phases: graph
            .phases
            .iter()
            .map(|p| (p.name.clone(), p.ops.start, p.ops.end))
            .collect(),
        arena: pipeline.arena,
        load: pipeline.load,
        budget: args.budget.map(|b| b.saturating_sub(weight_bytes)),
        title: format!(
            "{} {}×{} batch {} {precision} {attention} attention",
            config.name, run.width, run.height, run.batch
        ),
    };
    Ok(PlanReport {
        model: config.name.clone(),
        width: run.width,
        height: run.height,
        batch: run.batch,
        images: run.images(),
        precision: precision.into(),
        attention: attention.into(),
        alignment: align,
        max_binding: args.max_binding,
        phases,
        pipeline,
        weight_bytes,
        total_device_bytes: total,
        budget: args.budget,
        fits_budget: args.budget.map(|_| budget_plan.is_some()),
        all_resident,
        resident_tiled,
        minimum,
        budget_plan,
        phase_floors,
        budget_refusal,
        min_budget_only: args.min_budget,
        oversized,
        seconds,
        budget_seconds,
        timeline: Some(timeline),
    })
}

/// The budget planner on the pipeline `args` describes, with default device limits (no binding limit:
/// oversized tensors are reported by name instead): all resident with the whole VAE, all resident with
/// the smallest VAE tiles, the minimum over every tiling, and the plan for `args.budget` (or why nothing
/// fits it). The phase floors are the untiled `graph`'s.
#[allow(clippy::type_complexity)]
fn budget_plans(
    graph: &Graph,
    config: &PipelineConfig,
    run: RunShape,
    graph_options: GraphOptions,
    args: &PlanArgs,
) -> Result<(
    BudgetReport,
    BudgetReport,
    BudgetReport,
    Option<Result<BudgetReport, String>>,
    Vec<NamedSize>,
)> {
    let options = ExecutorOptions {
        planner: Options {
            time_limit: PLAN_TIME_LIMIT,
        },
        max_steps: args.max_steps,
        budget: args.budget,
    };
    let limits = Limits {
        alignment: args.alignment,
        max_buffer_size: u64::MAX,
        max_binding_size: u64::MAX,
    };
    let spec = |tiling, ff_chunking| GenerationSpec {
        config,
        run,
        graph: graph_options,
        img2img: true,
        tiling,
        ff_chunking,
        limits,
        param_slot: DEFAULT_PARAM_SLOT,
    };
    let unbounded = ExecutorOptions {
        budget: None,
        ..options.clone()
    };
    let all = BudgetReport::new(&spec(TilingChoice::Off, ChunkChoice::Off).plan(&unbounded)?);
    let resident_tiled = BudgetReport::new(
        &spec(TilingChoice::Auto, ChunkChoice::Auto).smallest_resident(&unbounded)?,
    );
    let min = BudgetReport::new(&spec(TilingChoice::Auto, ChunkChoice::Auto).minimum(&options)?);
    let chosen = match args.budget {
        None => None,
        Some(_) => Some(
            match spec(TilingChoice::Auto, ChunkChoice::Auto).plan(&options) {
                Ok(p) => Ok(BudgetReport::new(&p)),
                Err(e @ Error::Budget { .. }) => Err(e.to_string()),
                Err(e) => return Err(e),
            },
        ),
    };
    let scratch = Executor::scratch(graph);
    let inputs = Executor::budget_inputs(graph, &scratch, limits, DEFAULT_PARAM_SLOT, &options);
    let floors = budget::phase_floors(&inputs)?
        .into_iter()
        .map(|(name, bytes)| NamedSize { name, bytes })
        .collect();
    Ok((all, resident_tiled, min, chosen, floors))
}

/// One budget plan as a line: total = the categories.
fn budget_line(b: &BudgetReport) -> String {
    let mut parts = vec![format!("activations {:.2}", mib(b.activations))];
    if b.weights_resident > 0 {
        parts.push(format!("resident weights {:.2}", mib(b.weights_resident)));
    }
    if b.weights_streamed > 0 {
        parts.push(format!("streamed weights {:.2}", mib(b.weights_streamed)));
    }
    parts.push(format!("params {:.2}", mib(b.params)));
    parts.push(format!("staging {:.2}", mib(b.staging)));
    if b.allocator > 0 {
        parts.push(format!("allocator blocks {:.2}", mib(b.allocator)));
    }
    format!("{:>10.2} MiB = {}", mib(b.total), parts.join(" + "))
}

/// The VAE's tiling of one plan, as a phrase.
fn tiling_phrase(b: &BudgetReport) -> String {
    let vae = match b.vae_tiling {
        None => "VAE whole".to_string(),
        Some(t) => format!(
            "VAE in {0}×{0}-latent tiles overlapping by {1}{2}",
            t.tile,
            t.overlap,
            if t.shared_stats {
                " (group-norm statistics shared)"
            } else {
                ""
            }
        ),
    };
    match b.ff_chunk_rows {
        0 => vae,
        rows => format!("{vae}, feed-forward in chunks of {rows} rows"),
    }
}

/// Uploads of one plan per generation, as a phrase.
fn uploads_line(b: &BudgetReport) -> String {
    if b.upload_bytes_per_generation == 0 {
        "no uploads while generating".to_string()
    } else {
        format!(
            "uploads {} per {}-step generation in {} copies (≈ {:.2} s by the cost model)",
            format_mib(b.upload_bytes_per_generation),
            b.steps,
            b.uploads_per_generation,
            b.upload_seconds_per_generation
        )
    }
}

/// The `--min-budget` report: the smallest budget, its strategy and what dominates it.
pub fn format_min_budget(r: &PlanReport) -> String {
    format!(
        "{} at {}×{} {}: minimum budget {} ({} bytes), {}, {}; {}\n",
        r.model,
        r.width,
        r.height,
        r.precision,
        format_mib(r.minimum.total),
        r.minimum.total,
        r.minimum.description,
        tiling_phrase(&r.minimum),
        r.minimum.peak
    )
}

fn row(out: &mut String, p: &PhaseReport) {
    let largest = p.largest.as_ref().map_or("-".to_string(), |l| {
        format!("{} ({:.2})", l.name, mib(l.bytes))
    });
    let _ = writeln!(
        out,
        "{:<12} {:>5} {:>7} {:>10.2} {:>10.2} {:>6.3} {:>7} {:>10.2} {:>12.2}  {}",
        p.name,
        p.ops,
        p.tensors,
        mib(p.load),
        mib(p.arena),
        p.ratio,
        if p.optimal { "yes" } else { "no" },
        mib(p.weight_bytes),
        mib(p.load_other_attention),
        largest
    );
}

/// The report as the text `wgsd plan` prints (one line with `--min-budget`).
pub fn format_report(r: &PlanReport) -> String {
    if r.min_budget_only {
        return format_min_budget(r);
    }
    let mut out = String::new();
    let cfg = if r.batch == 2 * r.images {
        format!("{} image(s) with classifier-free guidance", r.images)
    } else {
        format!("{} image(s), no guidance", r.images)
    };
    let other = if r.attention == "flash" {
        "materialised"
    } else {
        "flash"
    };
    let _ = writeln!(
        out,
        "wgsd plan: {} at {}×{}, batch {} ({cfg}), {}, {} attention",
        r.model, r.width, r.height, r.batch, r.precision, r.attention
    );
    let _ = writeln!(
        out,
        "limits: alignment {} B, max binding {}; planner: {}; sizes in MiB",
        r.alignment,
        format_mib(r.max_binding),
        r.pipeline.method
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<12} {:>5} {:>7} {:>10} {:>10} {:>6} {:>7} {:>10} {:>12}  largest tensor",
        "phase",
        "ops",
        "tensors",
        "LOAD",
        "arena",
        "ratio",
        "optimal",
        "weights",
        format!("LOAD {}", if other == "flash" { "flash" } else { "mat." }),
    );
    for p in &r.phases {
        row(&mut out, p);
    }
    row(&mut out, &r.pipeline);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "device bytes: arena {} + resident weights {} = {}",
        format_mib(r.pipeline.arena),
        format_mib(r.weight_bytes),
        format_mib(r.total_device_bytes)
    );
    let _ = writeln!(
        out,
        "all resident: {}  ({})",
        budget_line(&r.all_resident),
        uploads_line(&r.all_resident)
    );
    if r.resident_tiled.vae_tiling.is_some() {
        let _ = writeln!(
            out,
            "resident, {}: {}",
            tiling_phrase(&r.resident_tiled),
            budget_line(&r.resident_tiled),
        );
    }
    let _ = writeln!(
        out,
        "minimum:      {}  ({}; {}; {})",
        budget_line(&r.minimum),
        r.minimum.description,
        tiling_phrase(&r.minimum),
        uploads_line(&r.minimum)
    );
    let _ = writeln!(out, "  dominated by: {}", r.minimum.peak);
    let floors: Vec<String> = r
        .phase_floors
        .iter()
        .map(|f| format!("{} {:.2}", f.name, mib(f.bytes)))
        .collect();
    let _ = writeln!(
        out,
        "  smallest arena per phase (activations + its weights streamed per op): {}",
        floors.join(", ")
    );
    if let Some(b) = r.budget {
        match (&r.budget_plan, &r.budget_refusal) {
            (Some(p), _) => {
                let _ = writeln!(
                    out,
                    "budget {}: fits ({} spare) with {}, {}",
                    format_mib(b),
                    format_mib(b - p.total),
                    p.description,
                    tiling_phrase(p)
                );
                let _ = writeln!(out, "  planned:    {}", budget_line(p));
                let _ = writeln!(out, "  {}", uploads_line(p));
            }
            (None, refusal) => {
                let _ = writeln!(
                    out,
                    "budget {}: does NOT fit ({} under the minimum): {}",
                    format_mib(b),
                    format_mib(r.minimum.total.saturating_sub(b)),
                    refusal.as_deref().unwrap_or("")
                );
            }
        }
    }
    if !r.oversized.is_empty() {
        let _ = writeln!(
            out,
            "needs a rewrite: {} tensor(s) over the {} max_storage_buffer_binding_size:",
            r.oversized.len(),
            format_mib(r.max_binding)
        );
        for o in r.oversized.iter().take(12) {
            let _ = writeln!(out, "  {:<10} {:>10.2}  {}", o.kind, mib(o.bytes), o.name);
        }
        if r.oversized.len() > 12 {
            let _ = writeln!(
                out,
                "  ... and {} more (see --json)",
                r.oversized.len() - 12
            );
        }
    }
    let _ = writeln!(
        out,
        "planned in {:.3} s (the arena), {:.3} s (the budget search)",
        r.seconds, r.budget_seconds
    );
    out
}

/// The figures of a MiniMalloc interval file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IntervalsReport {
    /// The file.
    pub file: String,
    /// Buffers in it.
    pub buffers: usize,
    /// LOAD.
    pub load: u64,
    /// Arena found.
    pub arena: u64,
    /// arena / LOAD.
    pub ratio: f64,
    /// Certified optimal.
    pub optimal: bool,
    /// Planner strategy.
    pub method: String,
    /// Planning time in seconds.
    pub seconds: f64,
    /// The capacity asked for, if any.
    pub capacity: Option<u64>,
    /// Whether the arena fits the capacity.
    pub fits: Option<bool>,
}

/// Parses a MiniMalloc CSV (`id,lower,upper,size`, half-open `[lower, upper)`) into usages, with errors
/// that name the file and line.
pub fn parse_intervals(path: &Path, text: &str) -> Result<Vec<Usage>> {
    let usages = planner::parse_minimalloc_csv(text)
        .map_err(|e| Error::format(path, format!("line {}: {}", e.line, e.reason)))?;
    if usages.is_empty() {
        return Err(Error::format(path, "no intervals"));
    }
    Ok(usages)
}

/// Time the exact search may take for `--intervals` (the MiniMalloc suite's budget per instance).
const INTERVALS_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Plans an interval file with alignment 1. With a capacity, searches for a packing within it
/// ([`planner::pack_into`]); without, for the smallest arena it can certify.
pub fn plan_intervals(path: &Path, capacity: Option<u64>) -> Result<IntervalsReport> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let usages = parse_intervals(path, &text)?;
    let start = Instant::now();
    let options = Options {
        time_limit: INTERVALS_TIME_LIMIT,
    };
    let (arena, optimal, method) = match capacity {
        None => {
            let plan = planner::plan(&usages, &planner_limits(1), &options)?;
            (plan.arena(), plan.optimal, plan.method.to_string())
        }
        Some(c) => match planner::pack_into(&usages, c, &options) {
            Ok(plan) => (plan.arena(), plan.optimal, plan.method.to_string()),
            Err(planner::PlanError::OverCapacity { needed, .. }) => {
                (needed, false, "exact (over capacity)".into())
            }
            Err(e) => return Err(e.into()),
        },
    };
    let seconds = start.elapsed().as_secs_f64();
    let load = planner::load(&usages, 1);
    Ok(IntervalsReport {
        file: path.display().to_string(),
        buffers: usages.len(),
        load,
        arena,
        ratio: arena as f64 / load.max(1) as f64,
        optimal: optimal || arena == load,
        method,
        seconds,
        capacity,
        fits: capacity.map(|c| arena <= c),
    })
}

/// The interval report as text.
pub fn format_intervals(r: &IntervalsReport) -> String {
    let mut out = format!(
        "{}: {} buffers\nLOAD  {} bytes\narena {} bytes\nratio {:.4}{}\nmethod {}\ntime  {:.3} s\n",
        r.file,
        r.buffers,
        r.load,
        r.arena,
        r.ratio,
        if r.optimal { " (optimal)" } else { "" },
        r.method,
        r.seconds
    );
    if let (Some(c), Some(fits)) = (r.capacity, r.fits) {
        let _ = writeln!(
            out,
            "capacity {c} bytes: {}",
            if fits { "fits" } else { "does NOT fit" }
        );
    }
    out
}
