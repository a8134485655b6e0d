//! Measures the upload path the cost model of `planner::budget` describes, through the executor itself:
//! a graph of token-embedding lookups whose tables are streamed (min budget) against the same graph
//! all resident. A lookup reads one row of its table, so compute is negligible and the difference is
//! the uploads (a kernel that read the whole weight would hide part of them on a CPU adapter, where a
//! freshly copied weight is still in cache). Two table sizes separate the bandwidth from the fixed cost
//! per staging copy (`t = bytes / bandwidth + copies · fixed`).
//!
//! A measurement, not a check: `cargo test --release --test budget_upload_speed -- --ignored
//! --nocapture`. It asserts only that the model's constants are within 4× of what it measures.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use wgsd::gpu::{encode, Executor, ExecutorOptions, WeightSource};
use wgsd::graph::{DType, Graph, GraphBuilder, GraphOptions};
use wgsd::planner::budget::{UPLOAD_BYTES_PER_SECOND, UPLOAD_SECONDS_PER_COPY};
use wgsd::planner::Options;

/// Weights as bytes, copied out on every fill (the cost of a same-dtype read from a mapped file).
struct Bytes(HashMap<String, Vec<u8>>);

impl WeightSource for Bytes {
    fn fill(&self, name: &str, _shape: &[u32], _dtype: DType, dst: &mut [u8]) -> wgsd::Result<()> {
        dst.copy_from_slice(&self.0[name]);
        Ok(())
    }
}

/// `layers` lookups of one token in tables of `rows × 256` (f32), in one once-run phase.
fn chain(layers: usize, rows: u32) -> (Graph, Bytes) {
    const WIDTH: u32 = 256;
    let mut b = GraphBuilder::new(GraphOptions::default());
    b.begin_phase("text_encode");
    let ids = b.input_typed("ids", &[1, 1], DType::U32).unwrap(); // [1, 1]
    let position = b.weight("position", &[1, WIDTH]).unwrap();
    let mut weights = HashMap::new();
    weights.insert(
        "position".to_string(),
        encode(&[0.0; WIDTH as usize], DType::F32),
    );
    for i in 0..layers {
        let name = format!("table{i}");
        let table = b.weight(&name, &[rows, WIDTH]).unwrap();
        let y = b
            .token_embedding(&format!("lookup{i}"), ids, table, position)
            .unwrap(); // [1, 1, 256]
        b.mark_output(y);
        let values = common::random((rows * WIDTH) as usize, i as u64, 0.01);
        weights.insert(name, encode(&values, DType::F32));
    }
    (b.finish(), Bytes(weights))
}

/// Median seconds of one run of the whole graph.
fn time_runs(exec: &Executor, graph: &Graph, reps: usize) -> f64 {
    let gpu = common::gpu();
    exec.write(gpu, graph.find("ids").unwrap(), &[3.0]).unwrap();
    exec.run(gpu, 0..graph.ops.len()).unwrap(); // warm-up: shader compiles
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            exec.run(gpu, 0..graph.ops.len()).unwrap();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[reps / 2]
}

/// (bytes, copies, seconds) of the uploads of one run of `chain(layers, width)` at the min budget.
fn measure(layers: usize, rows: u32) -> (u64, u64, f64) {
    let gpu = common::gpu();
    let (graph, source) = chain(layers, rows);
    let source: Arc<dyn WeightSource + Send + Sync> = Arc::new(source);
    let mut options = ExecutorOptions {
        planner: Options::default(),
        max_steps: 1,
        budget: None,
    };
    let resident = Executor::with_shared_source(gpu, &graph, source.clone(), &options).unwrap();
    let t_resident = time_runs(&resident, &graph, 7);
    drop(resident);
    options.budget = Some(
        Executor::min_budget(gpu, &graph, &options)
            .unwrap()
            .memory
            .total(),
    );
    let streamed = Executor::with_shared_source(gpu, &graph, source, &options).unwrap();
    let t_streamed = time_runs(&streamed, &graph, 7);
    let cost = streamed.budget().cost;
    println!(
        "{layers} tables of {rows} × 256: {} MiB in {} copies (staging {} KiB): resident {:.1} ms, streamed {:.1} ms",
        cost.bytes >> 20,
        cost.copies,
        streamed.budget().staging >> 10,
        t_resident * 1e3,
        t_streamed * 1e3
    );
    (cost.bytes, cost.copies, t_streamed - t_resident)
}

#[test]
#[ignore = "a measurement: run by hand with --ignored --nocapture"]
fn upload_bandwidth_and_fixed_cost_on_this_adapter() {
    println!("adapter: {}", common::gpu().adapter_name());
    // Many small copies, then few large ones (staging 1 MiB: 4 copies per 4 MiB weight).
    let (b1, n1, t1) = measure(256, 256); // 64 MiB in 256 KiB tables
    let (b2, n2, t2) = measure(16, 4096); // 64 MiB in 4 MiB tables
                                          // Solve t = b / bw + n · fixed for (1 / bw, fixed).
    let det = b1 as f64 * n2 as f64 - b2 as f64 * n1 as f64;
    let inv_bw = (t1 * n2 as f64 - t2 * n1 as f64) / det;
    let fixed = (b1 as f64 * t2 - b2 as f64 * t1) / det;
    println!(
        "bandwidth {:.2} GB/s (model {:.2}), fixed {:.0} µs per copy (model {:.0})",
        1e-9 / inv_bw,
        UPLOAD_BYTES_PER_SECOND * 1e-9,
        fixed * 1e6,
        UPLOAD_SECONDS_PER_COPY * 1e6
    );
    // The whole 64 MiB at the model's rates against what was measured.
    for (b, n, t) in [(b1, n1, t1), (b2, n2, t2)] {
        let model = b as f64 / UPLOAD_BYTES_PER_SECOND + n as f64 * UPLOAD_SECONDS_PER_COPY;
        println!(
            "{n} copies: measured {:.1} ms, modelled {:.1} ms",
            t * 1e3,
            model * 1e3
        );
        assert!(
            model / t < 4.0 && t / model < 4.0,
            "the cost model is off by more than 4×: {model} s modelled, {t} s measured"
        );
    }
}
