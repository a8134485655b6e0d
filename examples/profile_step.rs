//! Times every op of one U-Net step of a model: `cargo run --release --example profile_step -- MODEL [W H]`.

use std::sync::Arc;

use wgsd::gpu::{Gpu, GpuOptions};
use wgsd::pipeline::{Model, Pipeline, PipelineOptions, Request};

fn main() -> wgsd::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = Model::open(
        args.first()
            .map_or(wgsd::generate_cmd::DEMO_MODEL, String::as_str),
    )?;
    let size = |i: usize| {
        args.get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(model.config.native_size())
    };
    let (w, h) = (size(1), size(2));
    let mut options = PipelineOptions::new(&model, w, h);
    options.max_steps = 2;
    let mut p = Pipeline::new(Arc::new(Gpu::new(&GpuOptions::default())?), model, options)?;
    let request = Request {
        steps: 2,
        ..Request::new("a photo of a cat")
    };
    p.generate(&request, |_, _| {})?;
    // The alternative to the sampler kernels: read the latents back and write them again every step.
    let g = p.start(&request)?;
    let t = std::time::Instant::now();
    for _ in 0..10 {
        let _ = g.latents()?;
    }
    let read = t.elapsed().as_secs_f64() / 10.0;
    drop(g);
    let ops = p.profile_step(5)?;
    let sampler: f64 = ops
        .iter()
        .filter(|o| {
            o.0.starts_with("unet_input") || o.0.starts_with("step") || o.0.starts_with("gaussian")
        })
        .map(|o| o.1)
        .sum();
    println!(
        "sampler kernels {:.3} ms per step; one latent read-back {:.3} ms",
        sampler * 1e3,
        read * 1e3
    );
    let total: f64 = ops.iter().map(|o| o.1).sum();
    println!(
        "{} ops, {:.2} ms per step (sum of medians)",
        ops.len(),
        total * 1e3
    );
    for (label, s) in ops.iter().take(25) {
        println!("{:9.3} ms  {label}", s * 1e3);
    }
    Ok(())
}
