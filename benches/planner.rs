//! Planner benchmark on MiniMalloc's eleven "challenging" instances (`tests/data/minimalloc/`).
//!
//! For each instance: the number of buffers and LOAD; whether [`fit_into`] finds a packing within
//! the capacity of 1,048,576 bytes (MiniMalloc's question) and how long that takes; then the arena
//! [`pack_into`] shrinks it to within the time limit, arena / LOAD, whether it is proven optimal,
//! and the time taken; then the ratio of greedy by size with best-fit offsets (the TFLite
//! heuristic) for comparison. Run with `cargo bench --bench planner`; `WGSD_BENCH_SECONDS` sets
//! the time limit per instance and call (10 by default), and a name (`A`..`K`) runs one instance
//! alone.
//!
//! A second table times [`plan`] with its default options on synthetic 1k- and 10k-tensor graphs.

use std::time::{Duration, Instant};

use wgsd::planner::{
    fit_into, load, pack_into, parse_minimalloc_csv, plan, Limits, Options, PlanError, Usage,
};

/// The capacity every instance is meant to fit (the number in its file name).
const CAPACITY: u64 = 1_048_576;

/// Instance names, as in `tests/data/minimalloc/<name>.1048576.csv`.
const INSTANCES: [&str; 11] = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K"];

fn main() {
    let seconds: u64 = std::env::var("WGSD_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let options = Options {
        time_limit: Duration::from_secs(seconds),
    };
    println!(
        "{:<4} {:>5} {:>9} {:>5} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8}  method",
        "inst", "n", "LOAD", "fits", "fit time", "arena", "ratio", "optimal", "time", "greedy"
    );
    let mut log_ratio = 0.0;
    let mut log_greedy = 0.0;
    let mut fitted = 0;
    let mut optimal = 0;
    let mut count = 0;
    for name in INSTANCES {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let path = format!(
            "{}/tests/data/minimalloc/{name}.{CAPACITY}.csv",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("benchmark CSV in the repository");
        let usages = parse_minimalloc_csv(&text).expect("well-formed CSV");
        let lower = load(&usages, 1);
        let greedy = greedy_by_size_arena(&usages);
        let start = Instant::now();
        let fits = match fit_into(&usages, CAPACITY, &options) {
            Ok(plan) => plan.arena() <= CAPACITY,
            Err(PlanError::OverCapacity { .. }) => false,
            Err(e) => panic!("{name}: {e}"),
        };
        let fit_time = start.elapsed();
        let start = Instant::now();
        let (arena, proven, method) = match pack_into(&usages, CAPACITY, &options) {
            Ok(plan) => (plan.arena(), plan.optimal, plan.method),
            Err(PlanError::OverCapacity { needed, proven, .. }) => (needed, proven, "-"),
            Err(e) => panic!("{name}: {e}"),
        };
        let elapsed = start.elapsed();
        let ratio = arena as f64 / lower as f64;
        let greedy_ratio = greedy as f64 / lower as f64;
        log_ratio += ratio.ln();
        log_greedy += greedy_ratio.ln();
        fitted += usize::from(fits);
        optimal += usize::from(proven);
        count += 1;
        println!(
            "{name:<4} {:>5} {lower:>9} {:>5} {:>7.2}s {arena:>9} {ratio:>8.4} {:>8} {:>7.2}s {greedy_ratio:>8.4}  {method}",
            usages.len(),
            if fits { "yes" } else { "no" },
            fit_time.as_secs_f64(),
            if proven { "yes" } else { "no" },
            elapsed.as_secs_f64(),
        );
    }
    let n = f64::from(count);
    if count > 0 {
        println!(
        "geomean ratio {:.4} (greedy by size {:.4}); {fitted}/{count} fit, {optimal}/{count} optimal",
        (log_ratio / n).exp(),
            (log_greedy / n).exp()
        );
    }
    if only.as_deref().is_none_or(|o| o == "synthetic") {
        synthetic_graphs();
    }
}

/// Times [`plan`] with default options on synthetic graphs shaped like a large UNet: `n` tensors,
/// tensor `i` written by op `i` and mostly read by op `i + 1`, every 16th kept for a skip
/// connection up to 2,000 ops later, sizes from 64 KiB to 40 MiB.
fn synthetic_graphs() {
    let limits = Limits {
        alignment: 256,
        max_buffer_size: 1 << 31,
        max_binding_size: 1 << 30,
    };
    println!(
        "\n{:<10} {:>6} {:>12} {:>12} {:>8} {:>8}  method",
        "synthetic", "n", "LOAD", "arena", "ratio", "time"
    );
    for n in [1_000u32, 10_000] {
        // A fixed linear congruential generator: the same graph every run.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |bound: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % bound
        };
        let usages: Vec<Usage> = (0..n)
            .map(|i| {
                let skip = if i % 16 == 0 { next(2_000) as u32 } else { 0 };
                Usage {
                    size: (1 + next(640)) * 65_536,
                    first: i,
                    last: i + 1 + skip,
                }
            })
            .collect();
        let start = Instant::now();
        let plan = plan(&usages, &limits, &Options::default()).expect("plannable");
        let elapsed = start.elapsed();
        println!(
            "{:<10} {n:>6} {:>12} {:>12} {:>8.4} {:>7.3}s  {}",
            "unet-like",
            plan.load,
            plan.arena(),
            plan.arena() as f64 / plan.load as f64,
            elapsed.as_secs_f64(),
            plan.method
        );
    }
}

/// The arena of the greedy-by-size, best-fit plan alone (no exact search, no early stop).
fn greedy_by_size_arena(usages: &[Usage]) -> u64 {
    let limits = Limits {
        alignment: 1,
        max_buffer_size: u64::MAX,
        max_binding_size: u64::MAX,
    };
    wgsd::planner::greedy_by_size(usages, &limits)
        .expect("valid usages")
        .arena()
}
