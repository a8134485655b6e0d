//! Every model component against diffusers/transformers outputs (`tests/fixtures/<name>/reference.safetensors`,
//! made by `reference/make_fixtures.py` with diffusers 0.42.1, transformers 5.24.0, torch 2.15.0).
//!
//! Tolerances (relative L2): f32 ≤ 1e-4, f16 storage ≤ 1e-2. The fixtures' weights are exactly
//! representable in f16, so the f16 error is the kernels' rounding of activations alone.
//! A single-file LDM checkpoint gives the same outputs as its diffusers folder.

mod common;

use std::path::PathBuf;

use common::gpu;
use wgsd::gpu::{Executor, WeightSource};
use wgsd::graph::{DType, Graph, GraphOptions, Role, TensorId};
use wgsd::models::config::PipelineConfig;
use wgsd::models::pipeline_graph::{component_graph, Component, RunShape};
use wgsd::planner::Options;
use wgsd::weights::{self, DiffusersFolder, LdmCheckpoint, SafetensorsFile, TensorSpec};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A reference tensor as f32 (int64 token ids included) and its shape.
fn reference(file: &SafetensorsFile, name: &str) -> (Vec<f32>, Vec<usize>) {
    let view = file
        .tensor(name)
        .unwrap_or_else(|| panic!("reference tensor {name} missing"));
    let shape = view.shape().to_vec();
    let values = match view.dtype() {
        weights::StoredDtype::Other(d) if d == "I64" => view
            .data()
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f32)
            .collect(),
        _ => weights::convert::to_f32_vec(&view).unwrap(),
    };
    (values, shape)
}

fn input(graph: &Graph, name: &str) -> TensorId {
    let i = graph
        .tensors
        .iter()
        .position(|t| t.name == name && t.role == Role::Input);
    TensorId(i.unwrap_or_else(|| panic!("graph has no input {name}")) as u32)
}

fn output(graph: &Graph) -> TensorId {
    let i = graph
        .tensors
        .iter()
        .rposition(|t| t.role == Role::Output)
        .expect("graph has an output");
    TensorId(i as u32)
}

fn specs(graph: &Graph) -> Vec<TensorSpec> {
    graph
        .weights()
        .map(|id| {
            let t = graph.tensor(id);
            TensorSpec::new(
                &t.name,
                t.shape.iter().map(|&d| d as usize).collect::<Vec<_>>(),
            )
        })
        .collect()
}

/// Runs `component` with `inputs` and returns its output.
fn run(graph: &Graph, source: &weights::Weights, inputs: &[(&str, &[f32])]) -> Vec<f32> {
    source.validate(&specs(graph)).unwrap();
    let gpu = gpu();
    let exec = Executor::new(gpu, graph, source as &dyn WeightSource, &Options::default()).unwrap();
    for (name, data) in inputs {
        exec.write(gpu, input(graph, name), data).unwrap();
    }
    exec.run(gpu, 0..graph.ops.len()).unwrap();
    exec.read(gpu, output(graph)).unwrap()
}

fn tolerance(dtype: DType) -> f64 {
    if dtype == DType::F16 {
        1e-2
    } else {
        1e-4
    }
}

fn dtypes() -> Vec<DType> {
    common::float_dtypes()
}

/// Images the size of a latent `h × w` for `config`.
fn run_shape(config: &PipelineConfig, batch: u32, h: usize, w: usize) -> RunShape {
    let f = config.vae.scale_factor();
    RunShape {
        width: w as u32 * f,
        height: h as u32 * f,
        batch,
    }
}

fn check(name: &str, got: &[f32], want: &[f32], dtype: DType) {
    let err = wgsd::cpu::rel_l2(got, want);
    println!("{name} {dtype:?}: relative L2 {err:.2e}");
    assert!(
        got.iter().all(|v| v.is_finite()),
        "{name} {dtype:?}: NaN/Inf"
    );
    assert!(
        err <= tolerance(dtype),
        "{name} {dtype:?}: relative L2 {err:.3e} > {:.0e}",
        tolerance(dtype)
    );
}

fn text_encoder(name: &str, weights: &weights::Weights) {
    let dir = fixture(name);
    let config = PipelineConfig::from_dir(&dir).unwrap();
    let refs = SafetensorsFile::open(dir.join("reference.safetensors")).unwrap();
    let (ids, shape) = reference(&refs, "text_encoder.input_ids");
    let (want, _) = reference(&refs, "text_encoder.last_hidden_state");
    let size = config.size_multiple();
    for dtype in dtypes() {
        let run_shape = RunShape {
            width: size,
            height: size,
            batch: shape[0] as u32,
        };
        let graph = component_graph(
            &config,
            Component::TextEncoder,
            &run_shape,
            GraphOptions {
                dtype,
                ..Default::default()
            },
        )
        .unwrap();
        let got = run(&graph, weights, &[("input_ids", &ids)]);
        check(&format!("{name} text encoder"), &got, &want, dtype);
    }
}

fn unet(name: &str, weights: &weights::Weights) {
    let dir = fixture(name);
    let config = PipelineConfig::from_dir(&dir).unwrap();
    let refs = SafetensorsFile::open(dir.join("reference.safetensors")).unwrap();
    for b in ["b1", "b2"] {
        let (sample, shape) = reference(&refs, &format!("unet.{b}.sample"));
        let (t, _) = reference(&refs, &format!("unet.{b}.timestep"));
        let (context, _) = reference(&refs, &format!("unet.{b}.encoder_hidden_states"));
        let (want, _) = reference(&refs, &format!("unet.{b}.out"));
        let t = if t.len() == 1 {
            vec![t[0]; shape[0]]
        } else {
            t
        };
        for dtype in dtypes() {
            let rs = run_shape(&config, shape[0] as u32, shape[2], shape[3]);
            let graph = component_graph(
                &config,
                Component::UNet,
                &rs,
                GraphOptions {
                    dtype,
                    ..Default::default()
                },
            )
            .unwrap();
            let got = run(
                &graph,
                weights,
                &[
                    ("sample", &sample),
                    ("timestep", &t),
                    ("encoder_hidden_states", &context),
                ],
            );
            check(
                &format!("{name} unet batch {}", shape[0]),
                &got,
                &want,
                dtype,
            );
        }
    }
}

fn vae(name: &str, weights: &weights::Weights) {
    let dir = fixture(name);
    let config = PipelineConfig::from_dir(&dir).unwrap();
    let refs = SafetensorsFile::open(dir.join("reference.safetensors")).unwrap();
    let (latent, ls) = reference(&refs, "vae.decode.latent");
    let (want, _) = reference(&refs, "vae.decode.out");
    let (image, is) = reference(&refs, "vae.encode.image");
    let (mean, _) = reference(&refs, "vae.encode.mean");
    let f = config.vae.scale_factor() as usize;
    for dtype in dtypes() {
        let options = GraphOptions {
            dtype,
            ..Default::default()
        };
        let rs = run_shape(&config, ls[0] as u32, ls[2], ls[3]);
        let graph = component_graph(&config, Component::VaeDecoder, &rs, options).unwrap();
        let got = run(&graph, weights, &[("z", &latent)]);
        check(&format!("{name} vae decode"), &got, &want, dtype);

        let rs = run_shape(&config, is[0] as u32, is[2] / f, is[3] / f);
        let graph = component_graph(&config, Component::VaeEncoder, &rs, options).unwrap();
        let moments = run(&graph, weights, &[("image", &image)]);
        // moments = [mean, logvar] along channels, per image.
        let per_image = moments.len() / is[0];
        let got: Vec<f32> = moments
            .chunks(per_image)
            .flat_map(|m| m[..per_image / 2].to_vec())
            .collect();
        check(&format!("{name} vae encode mean"), &got, &mean, dtype);
    }
}

fn folder(name: &str) -> DiffusersFolder {
    DiffusersFolder::open(fixture(name)).unwrap()
}

#[test]
fn tiny_sd1_matches_diffusers() {
    let f = folder("tiny-sd1");
    text_encoder(
        "tiny-sd1",
        &f.weights(weights::Component::TextEncoder).unwrap(),
    );
    unet("tiny-sd1", &f.weights(weights::Component::Unet).unwrap());
    vae("tiny-sd1", &f.weights(weights::Component::Vae).unwrap());
}

#[test]
fn tiny_sd2_matches_diffusers() {
    let f = folder("tiny-sd2");
    text_encoder(
        "tiny-sd2",
        &f.weights(weights::Component::TextEncoder).unwrap(),
    );
    unet("tiny-sd2", &f.weights(weights::Component::Unet).unwrap());
    vae("tiny-sd2", &f.weights(weights::Component::Vae).unwrap());
}

#[test]
fn tiny_3level_matches_diffusers() {
    let f = folder("tiny-3level");
    text_encoder(
        "tiny-3level",
        &f.weights(weights::Component::TextEncoder).unwrap(),
    );
    unet("tiny-3level", &f.weights(weights::Component::Unet).unwrap());
    vae("tiny-3level", &f.weights(weights::Component::Vae).unwrap());
}

#[test]
fn single_file_checkpoints_match_diffusers_too() {
    for name in ["tiny-sd1", "tiny-sd2"] {
        let ldm = LdmCheckpoint::open(fixture(&format!("{name}.ldm.safetensors"))).unwrap();
        text_encoder(name, ldm.text_encoder());
        unet(name, ldm.unet());
        vae(name, ldm.vae());
    }
}

#[test]
fn wrong_weights_are_refused_before_any_device_work() {
    // A device of its own, so that the allocator report sees this test alone.
    let gpu = wgsd::gpu::Gpu::new(&Default::default()).unwrap();
    let before = gpu.memory();
    let dir = fixture("tiny-sd1");
    let config = PipelineConfig::from_dir(&dir).unwrap();
    let run = RunShape {
        width: 16,
        height: 16,
        batch: 2,
    };
    let graph = component_graph(
        &config,
        Component::TextEncoder,
        &run,
        GraphOptions::default(),
    )
    .unwrap();
    let unet_weights = folder("tiny-sd1")
        .weights(weights::Component::Unet)
        .unwrap();
    let err = Executor::new(&gpu, &graph, &unet_weights, &Options::default())
        .err()
        .expect("must refuse")
        .to_string();
    assert!(err.contains("embeddings.token_embedding.weight"), "{err}");
    assert!(
        err.contains("diffusion_pytorch_model.safetensors"),
        "the error names the file: {err}"
    );
    assert_eq!(
        gpu.memory(),
        before,
        "nothing may be allocated before the weights are validated"
    );
}
