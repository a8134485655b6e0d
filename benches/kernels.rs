//! Kernel benchmark: `cargo bench --bench kernels`. Prints one table row per case: time (median of the
//! reps, GPU timestamps where the adapter has them), GFLOP/s (or GB/s), the GEMM variant, and for matmul
//! shapes the ratio to numpy float32 on this machine's CPU, timed in the same run by
//! `benches/numpy_matmul.py` when python3 has numpy.
//!
//! Every case's tensors are windows of one arena buffer, as in a planned graph. To add a case (attention,
//! group norm, ...), push a [`Case`] in [`cases`]: its tensors, its work, and a closure that builds its
//! dispatches from the views.
//!
//! The last column, `cpu used`, is the CPU cores this process kept busy while timing (CPU seconds per
//! second): on a software adapter the "GPU" is the CPU, and a value under the core count means other
//! processes took part of the machine, so the rate understates the kernel.
//!
//! Environment: `WGSD_MATMUL=tiled|subgroup` forces the GEMM variant, `WGSD_BENCH_REPS` sets the reps
//! (default 5), `WGSD_BENCH_FILTER` keeps the cases whose name contains it.

use std::process::Command;

use wgsd::gpu::kernels::conv2d::{self, Conv2dShape};
use wgsd::gpu::kernels::matmul::{self, MatmulShape, MatmulVariant, Operands};
use wgsd::gpu::kernels::{Dispatch, ParamArena};
use wgsd::gpu::{Gpu, GpuOptions, Profiler, TensorView};
use wgsd::graph::{Activation, DType, Padding};

/// What a case does per run, for the rate column.
#[derive(Clone, Copy)]
enum Work {
    /// Floating-point operations (a multiply-add is 2).
    Flops(f64),
    /// Bytes moved (for memory-bound kernels such as norms).
    #[allow(dead_code)]
    Bytes(f64),
}

/// Builds a case's dispatches from its tensor views (in the order of [`Case::tensors`]).
type Build = Box<dyn Fn(&Gpu, &ParamArena, &[TensorView]) -> wgsd::Result<Vec<Dispatch>>>;

/// One row of the table.
struct Case {
    /// Row label.
    name: String,
    /// Tensors `(name, elements)`, placed in one arena buffer and filled with random values.
    tensors: Vec<(&'static str, usize)>,
    /// Work per run.
    work: Work,
    /// `Some((m, n, k))` where numpy's `x[m, k] @ w[n, k].T` is the CPU comparison.
    numpy: Option<(usize, usize, usize)>,
    /// Builds the dispatches.
    build: Build,
}

fn linear_case(m: usize, n: usize, k: usize, variant: MatmulVariant) -> Case {
    Case {
        name: format!("linear {m}×{n}×{k}"),
        tensors: vec![("x", m * k), ("weight", n * k), ("bias", n), ("y", m * n)],
        work: Work::Flops(2.0 * (m * n * k) as f64),
        numpy: Some((m, n, k)),
        build: Box::new(move |gpu, arena, v| {
            let t = Operands {
                x: &v[0],
                weight: &v[1],
                bias: Some(&v[2]),
                y: &v[3],
            };
            let shape = MatmulShape {
                batch: 1,
                m,
                n,
                k,
                w_transposed: true,
                w_batched: false,
            };
            Ok(vec![matmul::matmul(
                gpu,
                arena,
                t,
                shape,
                Activation::None,
                variant,
            )?])
        }),
    }
}

fn conv_case(s: Conv2dShape, variant: MatmulVariant) -> Case {
    let (oh, ow) = (s.out_h(), s.out_w());
    Case {
        name: format!(
            "conv{}×{} {}→{} at {}×{}",
            s.k, s.k, s.c_in, s.c_out, s.h, s.w
        ),
        tensors: vec![
            ("x", s.batch * s.c_in * s.h * s.w),
            ("weight", s.c_out * s.c_in * s.k * s.k),
            ("bias", s.c_out),
            ("y", s.batch * s.c_out * oh * ow),
        ],
        work: Work::Flops(2.0 * (s.batch * s.c_out * oh * ow * s.c_in * s.k * s.k) as f64),
        numpy: None,
        build: Box::new(move |gpu, arena, v| {
            let t = Operands {
                x: &v[0],
                weight: &v[1],
                bias: Some(&v[2]),
                y: &v[3],
            };
            Ok(vec![conv2d::conv2d(gpu, arena, t, s, variant)?])
        }),
    }
}

/// The benchmark table. SD1.5 shapes at 512² (latent 64×64).
fn cases(variant: MatmulVariant) -> Vec<Case> {
    vec![
        // A 3×3 conv at 64² as an implicit GEMM: 4096 pixels × 320 channels × 320·9 taps.
        linear_case(4096, 320, 2880, variant),
        // The U-Net's feed-forward projection at 64²: 4096 tokens, 320 → 1280.
        linear_case(4096, 1280, 320, variant),
        conv_case(
            Conv2dShape {
                batch: 1,
                c_in: 320,
                c_out: 320,
                h: 64,
                w: 64,
                k: 3,
                stride: 1,
                pad: Padding { begin: 1, end: 1 },
            },
            variant,
        ),
    ]
}

/// Places `tensors` at aligned offsets of one buffer, fills them with values in [-1, 1).
fn arena_views(gpu: &Gpu, tensors: &[(&'static str, usize)]) -> wgsd::Result<Vec<TensorView>> {
    let align = gpu.limits().min_storage_buffer_offset_alignment as u64;
    let mut offset = 0;
    let mut placed = Vec::new();
    for &(name, len) in tensors {
        placed.push((name, len, offset));
        offset += (len as u64 * 4).div_ceil(align) * align;
    }
    let buffer = gpu.create_storage("bench arena", offset)?;
    let mut views = Vec::new();
    for (i, (name, len, offset)) in placed.into_iter().enumerate() {
        let view = TensorView::new(&buffer, offset, len as u64, DType::F32, name);
        // A cheap deterministic pattern in [-1, 1): values do not change the speed.
        let data: Vec<f32> = (0..len)
            .map(|j| ((j * 7919 + i * 104_729) % 2001) as f32 / 1000.0 - 1.0)
            .collect();
        gpu.write(&view, &data)?;
        views.push(view);
    }
    Ok(views)
}

/// A matmul shape `(m, n, k)`.
type Mnk = (usize, usize, usize);

/// numpy's version and median seconds per shape, or why there are none.
fn numpy_times(shapes: &[Mnk]) -> Result<(String, Vec<(Mnk, f64)>), String> {
    if shapes.is_empty() {
        return Ok((String::new(), Vec::new()));
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/numpy_matmul.py");
    let args: Vec<String> = shapes
        .iter()
        .map(|(m, n, k)| format!("{m},{n},{k}"))
        .collect();
    let out = Command::new("python3")
        .arg(script)
        .args(&args)
        .output()
        .map_err(|e| format!("python3 could not run: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "numpy is not importable by python3 (`pip install numpy`): {}",
            err.lines().last().unwrap_or("")
        ));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("numpy_matmul.py printed no JSON: {e}"))?;
    let about = format!(
        "numpy {} ({})",
        json["numpy"].as_str().unwrap_or("?"),
        json["blas"].as_str().unwrap_or("?")
    );
    let times = shapes
        .iter()
        .zip(&args)
        .filter_map(|(&s, key)| json["results"][key].as_f64().map(|t| (s, t)))
        .collect();
    Ok((about, times))
}

/// CPU seconds this process has used (user + system), from `/proc/self/stat`; `None` off Linux. On a
/// software adapter the kernels run on the CPU, so this shows how much of the machine they got when other
/// processes compete for it.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> wgsd::Result<()> {
    let gpu = Gpu::new(&GpuOptions::default())?;
    let variant = matmul::choose_variant(&gpu)?;
    let reps: usize = std::env::var("WGSD_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    let filter = std::env::var("WGSD_BENCH_FILTER").unwrap_or_default();
    let cases: Vec<Case> = cases(variant)
        .into_iter()
        .filter(|c| c.name.contains(&filter))
        .collect();
    let profiler = Profiler::new(&gpu);
    println!("adapter: {}", gpu.adapter_name());
    println!(
        "variant: {} (software adapter: {}, subgroups: {}); timing: {}, median of {reps}",
        variant.name(),
        gpu.is_software(),
        gpu.caps().subgroups,
        if profiler.uses_timestamps() {
            "GPU timestamps"
        } else {
            "wall clock"
        }
    );

    // numpy first, while the CPU is otherwise idle (on a software adapter the GPU *is* the CPU).
    let numpy_shapes: Vec<_> = cases.iter().filter_map(|c| c.numpy).collect();
    let numpy = numpy_times(&numpy_shapes);
    match &numpy {
        Ok((about, _)) if !about.is_empty() => println!("cpu reference: {about}"),
        Ok(_) => {}
        Err(why) => println!("ratio to numpy unavailable: {why}"),
    }

    println!();
    println!(
        "| {:<28} | {:>10} | {:>14} | {:<8} | {:>12} | {:>9} | {:>8} |",
        "case", "ms", "rate", "variant", "numpy rate", "vs numpy", "cpu used"
    );
    println!(
        "|{:-<30}|{:->12}|{:->16}|{:-<10}|{:->14}|{:->11}|{:->10}|",
        "", "", "", "", "", "", ""
    );
    for case in &cases {
        let arena = ParamArena::new(&gpu, 16);
        let views = arena_views(&gpu, &case.tensors)?;
        let dispatches = (case.build)(&gpu, &arena, &views)?;
        let refs: Vec<&Dispatch> = dispatches.iter().collect();
        gpu.run(&refs)?; // warm-up: the driver compiles the pipeline at its first dispatch
        let cpu_before = process_cpu_seconds();
        let secs = median(profiler.time(&gpu, &refs, reps)?);
        let cpu_share = match (cpu_before, process_cpu_seconds()) {
            (Some(a), Some(b)) => format!("{:.2}", (b - a) / reps as f64 / secs),
            _ => "-".into(),
        };
        let (rate, unit) = match case.work {
            Work::Flops(f) => (f / secs / 1e9, "GFLOP/s"),
            Work::Bytes(b) => (b / secs / 1e9, "GB/s"),
        };
        let (numpy_rate, ratio) = match (&numpy, case.numpy, case.work) {
            (Ok((_, times)), Some(shape), Work::Flops(f)) => {
                match times.iter().find(|(s, _)| *s == shape) {
                    Some(&(_, t)) => (
                        format!("{:.1} GFLOP/s", f / t / 1e9),
                        format!("{:.3}×", t / secs),
                    ),
                    None => ("-".into(), "-".into()),
                }
            }
            _ => ("-".into(), "-".into()),
        };
        println!(
            "| {:<28} | {:>10.2} | {:>14} | {:<8} | {:>12} | {:>9} | {:>8} |",
            case.name,
            secs * 1e3,
            format!("{rate:.2} {unit}"),
            variant.name(),
            numpy_rate,
            ratio,
            cpu_share
        );
    }
    gpu.save_pipeline_cache();
    Ok(())
}
