//! The real SD1.5 U-Net and VAE decoder (random weights, f32, > 2 GiB) against diffusers at a 16×16
//! latent. Not in default CI: it needs the 4 GB folder made by `reference/make_full_size.py`, named by
//! `WGSD_FULL_SIZE`. Without it the test says so and passes.
//!
//! This proves real shapes, binding limits (weights split over several buffers) and > 2 GiB of weights.
//! Tolerance: relative L2 ≤ 1e-4 (f32).

mod common;

use std::path::PathBuf;
use std::time::Instant;

use wgsd::gpu::Executor;
use wgsd::graph::{GraphOptions, Role, TensorId};
use wgsd::models::config::PipelineConfig;
use wgsd::models::pipeline_graph::{component_graph, Component, RunShape};
use wgsd::planner::Options;
use wgsd::weights::{self, SafetensorsFile};

#[test]
fn full_size_sd15_matches_diffusers() {
    let Some(dir) = std::env::var_os("WGSD_FULL_SIZE").map(PathBuf::from) else {
        eprintln!("WGSD_FULL_SIZE is not set: skipping the full-size SD1.5 check (see reference/make_full_size.py)");
        return;
    };
    let gpu = common::gpu();
    let config = PipelineConfig::sd_v1_5();
    let refs = SafetensorsFile::open(dir.join("reference.safetensors")).unwrap();
    let get = |n: &str| weights::convert::to_f32_vec(&refs.tensor(n).unwrap()).unwrap();
    let run_shape = RunShape {
        width: 128,
        height: 128,
        batch: 1,
    };
    for (component, sub, inputs, out) in [
        (
            Component::UNet,
            "unet",
            vec![
                ("sample", "unet.sample"),
                ("timestep", "unet.timestep"),
                ("encoder_hidden_states", "unet.encoder_hidden_states"),
            ],
            "unet.out",
        ),
        (
            Component::VaeDecoder,
            "vae",
            vec![("z", "vae.decode.latent")],
            "vae.decode.out",
        ),
    ] {
        let graph =
            component_graph(&config, component, &run_shape, GraphOptions::default()).unwrap();
        let w = weights::Weights::from_file(
            match sub {
                "unet" => weights::Component::Unet,
                _ => weights::Component::Vae,
            },
            dir.join(sub).join("diffusion_pytorch_model.safetensors"),
        )
        .unwrap();
        let t = Instant::now();
        let exec = Executor::new(gpu, &graph, &w, &Options::default()).unwrap();
        let load = t.elapsed();
        let find = |name: &str, role: Role| {
            TensorId(
                graph
                    .tensors
                    .iter()
                    .position(|t| t.name == name && t.role == role)
                    .unwrap() as u32,
            )
        };
        for (input, reference) in &inputs {
            exec.write(gpu, find(input, Role::Input), &get(reference))
                .unwrap();
        }
        let t = Instant::now();
        exec.run(gpu, 0..graph.ops.len()).unwrap();
        let run = t.elapsed();
        let output = TensorId(
            graph
                .tensors
                .iter()
                .rposition(|t| t.role == Role::Output)
                .unwrap() as u32,
        );
        let got = exec.read(gpu, output).unwrap();
        let err = wgsd::cpu::rel_l2(&got, &get(out));
        let mem = exec.memory();
        eprintln!(
            "{sub}: relative L2 {err:.2e}; load {load:.1?}, run {run:.1?}; weights {:.1} MiB in {} buffer(s), arena {:.1} MiB",
            mem.weights as f64 / 1048576.0,
            exec.plan().weight_plan.buffer_sizes.len(),
            mem.activations as f64 / 1048576.0
        );
        assert!(err <= 1e-4, "{sub}: relative L2 {err:.3e}");
    }
}
