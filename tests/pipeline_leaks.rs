//! No leaks: twenty generations in one pipeline leave wgpu's reserved device bytes unchanged and the
//! process's resident memory within 1 % (Linux `/proc/self/statm`; the first generation warms caches).

mod common;

use std::path::PathBuf;

use wgsd::pipeline::{Model, Pipeline, PipelineOptions, Request};
use wgsd::scheduler::Sampler;

/// Resident set size in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn twenty_generations_leak_nothing() {
    let model =
        Model::open(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-sd1"))
            .unwrap();
    let size = model.config.size_multiple() * 2;
    let mut options = PipelineOptions::new(&model, size, size);
    options.max_steps = 2;
    let mut p = Pipeline::new(common::shared_gpu(), model, options).unwrap();
    let samplers = [
        Sampler::Euler,
        Sampler::EulerAncestral,
        Sampler::Ddim,
        Sampler::DpmPp2m,
        Sampler::Lcm,
    ];
    let generate = |p: &mut Pipeline, i: usize| {
        let request = Request {
            steps: 2,
            seed: i as u64,
            sampler: samplers[i % samplers.len()],
            ..Request::new("a photo of a cat")
        };
        p.generate(&request, |_, _| {}).unwrap();
    };
    for i in 0..samplers.len() {
        generate(&mut p, i); // every sampler's pipelines built, every cache warm
    }
    p.gpu().wait().unwrap();
    let (device, host) = (p.gpu().memory().expect("allocator report"), rss());
    for i in 0..20 {
        generate(&mut p, i);
    }
    p.gpu().wait().unwrap();
    let (device_after, host_after) = (p.gpu().memory().unwrap(), rss());
    println!("device {device:?} → {device_after:?}; RSS {host} → {host_after}");
    assert_eq!(
        device.reserved, device_after.reserved,
        "reserved device bytes changed"
    );
    let growth = host_after.saturating_sub(host) as f64 / host as f64;
    assert!(
        growth < 0.01,
        "RSS grew {:.2} % ({host} → {host_after})",
        growth * 100.0
    );
}
