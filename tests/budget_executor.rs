//! The executor under budgets, on a graph of 4 MiB weights (over the allocator's shared blocks, so the
//! strategies differ): streamed, phase-resident and resident plans give bit-identical results in any
//! order of phases, from a borrowed source (host copy) or a shared one (read at each upload); and a
//! range that needs an upload cannot be merely recorded.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use wgsd::gpu::{encode, Executor, ExecutorOptions, WeightSource};
use wgsd::graph::{Activation, DType, Graph, GraphBuilder, GraphOptions, TensorId};
use wgsd::planner::budget::{Residency, REPLAYED_PHASE};
use wgsd::planner::Options;

struct Weights(HashMap<String, Vec<u8>>);

impl WeightSource for Weights {
    fn fill(&self, name: &str, _shape: &[u32], _dtype: DType, dst: &mut [u8]) -> wgsd::Result<()> {
        dst.copy_from_slice(&self.0[name]);
        Ok(())
    }
}

const WIDTH: u32 = 1024;

/// `text_encode`: x → h (one 1024² layer, persistent); `unet_step`: h → y → z (two layers).
fn graph() -> (Graph, Weights, TensorId, TensorId) {
    let mut b = GraphBuilder::new(GraphOptions::default());
    let mut weights = HashMap::new();
    let mut layer = |b: &mut GraphBuilder, name: &str, x: TensorId, seed: u64| {
        let w = b
            .weight(&format!("{name}.weight"), &[WIDTH, WIDTH])
            .unwrap();
        let values = common::random((WIDTH * WIDTH) as usize, seed, 1.0 / WIDTH as f32);
        weights.insert(format!("{name}.weight"), encode(&values, DType::F32));
        b.linear(name, x, w, None, Activation::Silu).unwrap() // [2, 1024]
    };
    b.begin_phase("text_encode");
    let x = b.input("x", &[2, WIDTH]).unwrap(); // [2, 1024]
    let h = layer(&mut b, "text_encoder.layer", x, 1);
    b.mark_persistent(h);
    b.begin_phase(REPLAYED_PHASE);
    let y = layer(&mut b, "unet.layer1", h, 2);
    let z = layer(&mut b, "unet.layer2", y, 3);
    b.mark_output(z);
    (b.finish(), Weights(weights), x, z)
}

fn options(budget: Option<u64>) -> ExecutorOptions {
    ExecutorOptions {
        planner: Options::default(),
        max_steps: 4,
        budget,
    }
}

/// Text, U-Net, U-Net, a new prompt, U-Net: z after each U-Net run.
fn drive(exec: &Executor, graph: &Graph, x: TensorId, z: TensorId) -> Vec<Vec<f32>> {
    let gpu = common::gpu();
    let [text, unet] = [&graph.phases[0].ops, &graph.phases[1].ops].map(|r| r.clone());
    let mut out = Vec::new();
    exec.write(gpu, x, &common::random(2 * WIDTH as usize, 10, 1.0))
        .unwrap();
    exec.run(gpu, text.clone()).unwrap();
    for _ in 0..2 {
        exec.run_step(gpu, unet.clone(), 0).unwrap();
        out.push(exec.read(gpu, z).unwrap());
    }
    exec.write(gpu, x, &common::random(2 * WIDTH as usize, 11, 1.0))
        .unwrap();
    exec.run(gpu, text).unwrap();
    exec.run_step(gpu, unet, 0).unwrap();
    out.push(exec.read(gpu, z).unwrap());
    out
}

fn same(a: &[Vec<f32>], b: &[Vec<f32>]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()))
}

#[test]
fn every_strategy_computes_the_same_bits_in_any_phase_order() {
    let gpu = common::gpu();
    let (graph, weights, x, z) = graph();
    let resident = Executor::with_options(gpu, &graph, &weights, &options(None)).unwrap();
    assert_eq!(resident.strategy().name(), "resident");
    let want = drive(&resident, &graph, x, z);
    assert_ne!(want[0], want[2], "the second prompt changes the output");
    drop(resident);

    let min = Executor::min_budget(gpu, &graph, &options(None))
        .unwrap()
        .memory
        .total();
    let all = Executor::budget_plan(gpu, &graph, &options(None))
        .unwrap()
        .memory
        .total();
    let shared: Arc<dyn WeightSource + Send + Sync> = Arc::new(weights);
    let mut seen = Vec::new();
    for k in 0..6 {
        let budget = min + (all - min) * k / 5;
        for from_shared in [false, true] {
            let o = options(Some(budget));
            let exec = if from_shared {
                Executor::with_shared_source(gpu, &graph, shared.clone(), &o).unwrap()
            } else {
                Executor::with_options(gpu, &graph, &*shared, &o).unwrap()
            };
            assert!(exec.memory().total() <= budget);
            let got = drive(&exec, &graph, x, z);
            let strategy = exec.strategy().to_string();
            assert!(
                same(&got, &want),
                "budget {budget} ({strategy}), shared {from_shared}"
            );
            seen.push(exec.strategy().residency(REPLAYED_PHASE).unwrap());
        }
    }
    // The sweep met every residency of the U-Net.
    for r in [
        Residency::Streamed,
        Residency::PhaseResident,
        Residency::Resident,
    ] {
        assert!(seen.contains(&r), "{r:?} never chosen: {seen:?}");
    }
}

#[test]
fn recording_a_range_that_needs_an_upload_is_refused() {
    let gpu = common::gpu();
    let (graph, weights, _, _) = graph();
    let o = options(None);
    let min = Executor::min_budget(gpu, &graph, &o)
        .unwrap()
        .memory
        .total();
    let exec = Executor::with_options(gpu, &graph, &weights, &options(Some(min))).unwrap();
    assert_eq!(
        exec.strategy().residency(REPLAYED_PHASE),
        Some(Residency::Streamed)
    );
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    let mut pass = encoder.begin_compute_pass(&Default::default());
    let err = exec
        .record(&mut pass, graph.phases[1].ops.clone(), 0)
        .unwrap_err();
    assert!(err.to_string().contains("run_step"), "{err}");
}
