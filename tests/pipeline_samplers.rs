//! The stochastic samplers (`euler-a`, `lcm`) draw fresh noise every step, so they are tested by
//! determinism and statistics rather than parity: the same seed gives the same image bit for bit,
//! another seed another image, and the result stays a plausible image. Also: the seed alone (without
//! `noise`) is reproducible for every sampler, and a request the pipeline was not loaded for is refused.

mod common;

use std::path::PathBuf;

use wgsd::pipeline::{Model, Pipeline, PipelineOptions, Request};
use wgsd::scheduler::{Sampler, Schedule};

fn model() -> Model {
    Model::open(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-sd1")).unwrap()
}

fn pipeline(max_steps: usize) -> Pipeline {
    let model = model();
    let size = model.config.size_multiple() * 4;
    let mut options = PipelineOptions::new(&model, size, size);
    options.max_steps = max_steps;
    Pipeline::new(common::shared_gpu(), model, options).unwrap()
}

fn run(p: &mut Pipeline, sampler: Sampler, seed: u64) -> Vec<f32> {
    let request = Request {
        sampler,
        seed,
        steps: 6,
        ..Request::new("a photo of a cat")
    };
    p.generate(&request, |_, _| {}).unwrap().0
}

fn std_dev(x: &[f32]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    (x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt()
}

#[test]
fn stochastic_samplers_are_deterministic_per_seed() {
    let mut p = pipeline(6);
    let euler = run(&mut p, Sampler::Euler, 3);
    for sampler in [Sampler::EulerAncestral, Sampler::Lcm] {
        let a = run(&mut p, sampler, 3);
        let b = run(&mut p, sampler, 3);
        let c = run(&mut p, sampler, 4);
        assert!(a.iter().all(|v| v.is_finite()), "{sampler:?}: NaN");
        assert_eq!(a, b, "{sampler:?}: the same seed gave another image");
        assert_ne!(a, c, "{sampler:?}: another seed gave the same image");
        assert_ne!(a, euler, "{sampler:?}: no fresh noise was added");
        // A plausible image: not flat, not blown up, in the decoder's range.
        let (s, s_euler) = (std_dev(&a), std_dev(&euler));
        println!("{sampler:?}: image std {s:.3} (euler {s_euler:.3})");
        assert!(
            s > 0.2 * s_euler && s < 5.0 * s_euler,
            "{sampler:?}: std {s} vs euler {s_euler}"
        );
    }
}

#[test]
fn deterministic_samplers_reproduce_from_the_seed_alone() {
    let mut p = pipeline(6);
    for sampler in [Sampler::Ddim, Sampler::Euler, Sampler::DpmPp2m] {
        let a = run(&mut p, sampler, 11);
        let b = run(&mut p, sampler, 11);
        assert_eq!(a, b, "{sampler:?}");
        assert_ne!(a, run(&mut p, sampler, 12), "{sampler:?}");
    }
}

#[test]
fn requests_outside_the_loaded_pipeline_are_refused() {
    let mut p = pipeline(4);
    let too_many = Request {
        steps: 5,
        ..Request::new("x")
    };
    let err = p
        .start(&too_many)
        .err()
        .expect("5 steps > 4 slots")
        .to_string();
    assert!(err.contains("at most 4"), "{err}");

    let karras_ddim = Request {
        steps: 4,
        sampler: Sampler::Ddim,
        schedule: Schedule::Karras,
        ..Request::new("x")
    };
    let err = p
        .start(&karras_ddim)
        .err()
        .expect("ddim has no karras")
        .to_string();
    assert!(err.contains("karras"), "{err}");

    let wrong_noise = Request {
        steps: 4,
        noise: Some(vec![0.0; 7]),
        ..Request::new("x")
    };
    let err = p.start(&wrong_noise).err().expect("noise size").to_string();
    assert!(err.contains("7 values"), "{err}");

    let zero_steps = Request {
        steps: 0,
        ..Request::new("x")
    };
    assert!(p.start(&zero_steps).is_err());
}

#[test]
fn one_step_per_call_and_the_image_on_the_gpu() {
    let mut p = pipeline(5);
    let request = Request {
        steps: 5,
        seed: 9,
        ..Request::new("a photo of a cat")
    };
    let whole = p.generate(&request, |_, _| {}).unwrap().0;
    let mut g = p.start(&request).unwrap();
    assert_eq!(g.total_steps(), 5);
    let mut calls = 0;
    while g.step().unwrap() {
        calls += 1;
        assert_eq!(g.steps_done(), calls);
    }
    assert_eq!(calls, 5);
    assert!(!g.step().unwrap(), "no step after the last");
    g.decode_on_gpu().unwrap();
    let view = p.decoded_view().unwrap();
    let on_gpu = p.gpu().read(view).unwrap();
    assert_eq!(on_gpu, whole, "stepping by hand differs from generate()");
}
