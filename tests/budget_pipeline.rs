//! The memory budget end to end, on the tiny SD 1.x fixture (`tests/fixtures/tiny-sd1`) through
//! [`Pipeline`]:
//!
//! - a sweep of budgets from the minimum to all-resident: each run's peak reserved device memory
//!   (wgpu's allocator report after setup and after every phase, over what the device held before)
//!   stays within the budget, and the image equals the unconstrained run's bit for bit;
//! - one byte under the minimum is refused before anything is reserved, naming the minimum;
//! - twenty generations of a streaming pipeline leave the reserved bytes unchanged.
//!
//! The tests share one device and measure it, so they hold [`DEVICE`] while they run.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use wgsd::gpu::{Executor, ExecutorOptions, Gpu};
use wgsd::graph::{DType, GraphOptions};
use wgsd::models::pipeline_graph::{RunShape, VaeTiling};
use wgsd::pipeline::{GenerationSpec, Model, Pipeline, PipelineOptions, Request};
use wgsd::planner::budget::BudgetPlan;
use wgsd::Error;

/// Held by every test: nothing else may allocate on the device while one measures it.
static DEVICE: Mutex<()> = Mutex::new(());

fn device() -> (MutexGuard<'static, ()>, Arc<Gpu>) {
    let guard = DEVICE.lock().unwrap_or_else(|e| e.into_inner());
    (guard, common::shared_gpu())
}

fn model() -> Model {
    model_named("tiny-sd1")
}

fn model_named(name: &str) -> Model {
    Model::open(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("the fixture opens")
}

/// 96×96 (latents 48×48): in f32 the budgets run from one shared 4 MiB allocator block (weights
/// streamed, everything small) to buffers with memory of their own (8 MiB). In f16 the whole run fits one
/// block at this size, so there is nothing between the minimum and all-resident to sweep.
const SIZE: u32 = 96;

/// tiny-3level (VAE factor 4) at 160×160 (latents 40×40), f32: the VAE decoder's activations are the
/// largest phase, so the bottom of the sweep needs a tiled VAE (tiny-sd1's U-Net, on a latent half the
/// image's side, always outgrows its VAE).
const TILED: (&str, u32) = ("tiny-3level", 160);

fn options(model: &Model, precision: DType, budget: Option<u64>) -> PipelineOptions {
    options_at(SIZE, model, precision, budget)
}

fn options_at(size: u32, model: &Model, precision: DType, budget: Option<u64>) -> PipelineOptions {
    let mut o = PipelineOptions::new(model, size, size);
    o.precision = precision;
    o.max_steps = 2;
    o.budget = budget;
    o
}

fn request(steps: usize) -> Request {
    let mut r = Request::new("a photo of a cat");
    r.steps = steps;
    r.seed = 7;
    r
}

/// The plan the pipeline makes for `options` (the same graph choice and executor options).
fn plan_for(gpu: &Gpu, model: &Model, o: &PipelineOptions, min: bool) -> wgsd::Result<BudgetPlan> {
    let (limits, param_slot) = Executor::device_limits(gpu);
    let spec = GenerationSpec {
        config: &model.config,
        run: RunShape {
            width: o.width,
            height: o.height,
            batch: if o.guidance { 2 } else { 1 },
        },
        graph: GraphOptions {
            dtype: o.precision,
            ..Default::default()
        },
        img2img: o.img2img,
        tiling: o.vae_tiling,
        ff_chunking: o.ff_chunking,
        limits,
        param_slot,
    };
    let eo = ExecutorOptions {
        planner: o.planner.clone(),
        max_steps: o.max_steps,
        budget: o.budget,
    };
    Ok(if min {
        spec.minimum(&eo)
    } else {
        spec.plan(&eo)
    }?
    .plan)
}

fn reserved(gpu: &Gpu) -> u64 {
    gpu.wait().unwrap();
    gpu.memory().expect("the allocator report").reserved
}

/// One generation under `budget`: the image, and the most the device reserved above `before`.
struct Run {
    image: Vec<f32>,
    tiling: Option<VaeTiling>,
    peak: u64,
    total: u64,
    /// Seconds from the first step to the decoded image (printed, never asserted).
    seconds: f64,
}

fn generate(gpu: &Arc<Gpu>, precision: DType, budget: Option<u64>) -> wgsd::Result<Run> {
    generate_at(("tiny-sd1", SIZE), gpu, precision, budget)
}

fn generate_at(
    (name, size): (&str, u32),
    gpu: &Arc<Gpu>,
    precision: DType,
    budget: Option<u64>,
) -> wgsd::Result<Run> {
    let before = reserved(gpu);
    let model = model_named(name);
    let o = options_at(size, &model, precision, budget);
    let mut p = Pipeline::new(Arc::clone(gpu), model, o)?;
    let mut peak = reserved(gpu);
    let total = p.memory().total();
    let tiling = p.vae_tiling();
    let clock = std::time::Instant::now();
    let mut g = p.start(&request(2))?;
    peak = peak.max(reserved(gpu));
    while g.step()? {
        peak = peak.max(reserved(gpu));
    }
    let image = g.decode()?;
    let seconds = clock.elapsed().as_secs_f64();
    peak = peak.max(reserved(gpu));
    drop(p);
    assert_eq!(
        reserved(gpu),
        before,
        "dropping the pipeline frees everything"
    );
    Ok(Run {
        image,
        tiling,
        peak: peak - before,
        total,
        seconds,
    })
}

const MIB: f64 = 1048576.0;

#[test]
fn every_budget_from_the_minimum_to_all_resident_fits_and_draws_the_same_image() {
    let (_guard, gpu) = device();
    let mut swept = Vec::new();
    for precision in common::float_dtypes() {
        if sweep(&gpu, precision) {
            swept.push(precision);
        }
    }
    assert!(
        swept.contains(&DType::F32),
        "the f32 sweep must walk through budgets"
    );
}

/// Sweeps 8 budgets from the minimum to all-resident; `false` when the two are equal (nothing to sweep).
fn sweep(gpu: &Arc<Gpu>, precision: DType) -> bool {
    let m = model();
    let min = plan_for(gpu, &m, &options(&m, precision, None), true).unwrap();
    let all = plan_for(gpu, &m, &options(&m, precision, None), false).unwrap();
    let (lo, hi) = (min.memory.total(), all.memory.total());
    assert!(lo <= hi, "the minimum {lo} is above all-resident {hi}");
    if lo == hi {
        println!("{precision:?}: the minimum is all-resident ({lo} bytes): nothing to sweep");
        return false;
    }
    assert_eq!(all.strategy.name(), "resident");

    let reference = generate(gpu, precision, None).unwrap();
    assert!(
        reference.peak <= hi,
        "unconstrained: {} > {hi}",
        reference.peak
    );
    let mut strategies = Vec::new();
    println!(
        "{precision:?}: budget MiB | strategy | planned MiB | peak reserved MiB | seconds | identical"
    );
    for k in 0..8u64 {
        let budget = lo + (hi - lo) * k / 7;
        let plan = plan_for(gpu, &m, &options(&m, precision, Some(budget)), false).unwrap();
        let run = generate(gpu, precision, Some(budget)).unwrap();
        let same = common::bit_identical(&run.image, &reference.image);
        println!(
            "{:.2} | {} | {:.2} | {:.2} | {:.2} | {same}",
            budget as f64 / MIB,
            plan.strategy,
            run.total as f64 / MIB,
            run.peak as f64 / MIB,
            run.seconds
        );
        assert_eq!(
            run.total,
            plan.memory.total(),
            "the executor holds what was planned"
        );
        assert!(
            run.total <= budget,
            "planned {} > budget {budget}",
            run.total
        );
        assert!(
            run.peak <= budget,
            "budget {budget}: the device reserved {} ({})",
            run.peak,
            plan.strategy
        );
        assert!(
            same,
            "budget {budget} ({}): the image differs",
            plan.strategy
        );
        strategies.push(plan.strategy.to_string());
    }
    // The sweep walks through more than one strategy: streaming at the bottom, resident at the top.
    assert_eq!(
        strategies.last().map(|s| s.starts_with("resident")),
        Some(true)
    );
    assert!(!strategies[0].starts_with("resident"), "{strategies:?}");
    true
}

#[test]
fn one_byte_under_the_minimum_is_refused_before_anything_is_reserved() {
    let (_guard, gpu) = device();
    let m = model();
    let minimum = plan_for(&gpu, &m, &options(&m, DType::F32, None), true)
        .unwrap()
        .memory
        .total();
    let before = reserved(&gpu);
    let o = options(&m, DType::F32, Some(minimum - 1));
    let err = Pipeline::new(Arc::clone(&gpu), m, o)
        .err()
        .expect("one byte under the minimum must be refused");
    match &err {
        Error::Budget {
            budget, minimum: m, ..
        } => {
            assert_eq!(*budget, minimum - 1);
            assert_eq!(*m, minimum);
        }
        other => panic!("expected Error::Budget, got {other}"),
    }
    let text = err.to_string();
    assert!(text.contains(&minimum.to_string()), "{text}");
    assert!(
        text.contains("phase at op"),
        "names where the arena peaks: {text}"
    );
    assert_eq!(reserved(&gpu), before, "a refused budget reserves nothing");
    // The minimum itself loads.
    let run = generate(&gpu, DType::F32, Some(minimum)).unwrap();
    assert!(run.peak <= minimum, "{} > {minimum}", run.peak);
}

#[test]
fn twenty_streamed_generations_leave_reserved_memory_unchanged() {
    let (_guard, gpu) = device();
    let m = model();
    let minimum = plan_for(&gpu, &m, &options(&m, DType::F32, None), true)
        .unwrap()
        .memory
        .total();
    let before = reserved(&gpu);
    let o = options(&m, DType::F32, Some(minimum));
    let mut p = Pipeline::new(Arc::clone(&gpu), m, o).unwrap();
    let loaded = reserved(&gpu);
    let mut first: Option<Vec<f32>> = None;
    for i in 0..20 {
        let (image, _, _) = p.generate(&request(1), |_, _| {}).unwrap();
        assert_eq!(
            reserved(&gpu),
            loaded,
            "generation {i} changed the reserved bytes"
        );
        match &first {
            None => first = Some(image),
            Some(f) => assert!(
                common::bit_identical(f, &image),
                "generation {i} drew a different image"
            ),
        }
    }
    drop(p);
    assert_eq!(reserved(&gpu), before);
}

/// PSNR in dB of two images in [-1, 1], on [0, 1].
fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| ((x - y) as f64 / 2.0).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (1.0 / mse.max(1e-20)).log10()
}

/// Eight budgets from the minimum (VAE tiled) to all-resident (VAE whole) on [`TILED`]: every run
/// fits its budget by wgpu's report; the image equals the unconstrained run's bit for bit where only
/// residency and streaming changed, and stays within 35 dB PSNR of it where the VAE was tiled.
#[test]
fn a_sweep_through_vae_tiling_fits_every_budget() {
    let (_guard, gpu) = device();
    let m = model_named(TILED.0);
    let o = |budget| options_at(TILED.1, &m, DType::F32, budget);
    let lo = plan_for(&gpu, &m, &o(None), true).unwrap().memory.total();
    let hi = plan_for(&gpu, &m, &o(None), false).unwrap().memory.total();
    assert!(lo < hi, "nothing to sweep: {lo} ≥ {hi}");
    let reference = generate_at(TILED, &gpu, DType::F32, None).unwrap();
    assert_eq!(reference.tiling, None);
    let mut tiled = 0;
    println!("budget MiB | VAE tiles | planned MiB | peak reserved MiB | seconds | PSNR dB");
    for k in 0..8u64 {
        let budget = lo + (hi - lo) * k / 7;
        let run = generate_at(TILED, &gpu, DType::F32, Some(budget)).unwrap();
        let db = psnr(&run.image, &reference.image);
        println!(
            "{:.2} | {:?} | {:.2} | {:.2} | {:.2} | {db:.1}",
            budget as f64 / MIB,
            run.tiling.map(|t| t.tile),
            run.total as f64 / MIB,
            run.peak as f64 / MIB,
            run.seconds
        );
        assert!(
            run.total <= budget && run.peak <= budget,
            "budget {budget}: {} / {}",
            run.total,
            run.peak
        );
        match run.tiling {
            Some(_) => {
                tiled += 1;
                assert!(db >= 35.0, "budget {budget}: tiled PSNR {db:.1} dB");
            }
            None => assert!(
                common::bit_identical(&run.image, &reference.image),
                "budget {budget}: the untiled image differs"
            ),
        }
    }
    assert!(tiled > 0, "no budget of the sweep tiled the VAE");
}

/// With `f16_fallback`, a budget only an f16 plan fits loads in f16 (and stays within it) instead of
/// being refused; without it, the same budget is refused naming the f32 minimum.
#[test]
fn a_budget_only_f16_fits_falls_back_to_f16() {
    let (_guard, gpu) = device();
    if !common::float_dtypes().contains(&DType::F16) {
        println!("no SHADER_F16 on this adapter: nothing to fall back to");
        return;
    }
    let m = model();
    let size = 160;
    let f32_min = plan_for(&gpu, &m, &options_at(size, &m, DType::F32, None), true)
        .unwrap()
        .memory
        .total();
    let f16_min = plan_for(&gpu, &m, &options_at(size, &m, DType::F16, None), true)
        .unwrap()
        .memory
        .total();
    assert!(f16_min < f32_min, "{f16_min} ≥ {f32_min}");
    let mut o = options_at(size, &m, DType::F32, Some(f16_min));
    let refused = Pipeline::new(Arc::clone(&gpu), model(), o.clone()).err();
    assert!(
        matches!(refused, Some(Error::Budget { minimum, .. }) if minimum == f32_min),
        "{refused:?}"
    );
    o.f16_fallback = true;
    let before = reserved(&gpu);
    let mut p = Pipeline::new(Arc::clone(&gpu), m, o).unwrap();
    assert_eq!(p.options().precision, DType::F16);
    assert!(p.memory().total() <= f16_min);
    let image = p.generate(&request(1), |_, _| {}).unwrap().0;
    assert!(image.iter().all(|v| v.is_finite()));
    assert!(reserved(&gpu) - before <= f16_min);
}
