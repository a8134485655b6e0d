mod common;
use common::*;
use std::time::Instant;
use wgsd::gpu::kernels::attention::{attention, AttentionShape};
use wgsd::gpu::kernels::ParamArena;
use wgsd::graph::DType;

#[test]
fn speed() {
    let gpu = gpu();
    let n: u32 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let (heads, d) = (8u32, 40u32);
    let len = (n * heads * d) as usize;
    let q = gpu.upload("q", &random(len, 1, 1.0), DType::F32).unwrap();
    let k = gpu.upload("k", &random(len, 2, 1.0), DType::F32).unwrap();
    let v = gpu.upload("v", &random(len, 3, 1.0), DType::F32).unwrap();
    let y = gpu.upload("y", &vec![0.0; len], DType::F32).unwrap();
    let arena = ParamArena::new(gpu, 1);
    let shape = AttentionShape {
        batch: 1,
        nq: n,
        nk: n,
        heads,
        head_dim: d,
        scale: 0.15,
        causal: false,
    };
    let disp = attention(gpu, &arena, &q, &k, &v, &y, shape).unwrap();
    let t = Instant::now();
    gpu.run(&[&disp]).unwrap();
    eprintln!("first {:?}", t.elapsed());
    for _ in 0..2 {
        let t = Instant::now();
        gpu.run(&[&disp]).unwrap();
        let s = t.elapsed().as_secs_f64();
        eprintln!(
            "{:.1} ms {:.2} GFLOP/s",
            s * 1e3,
            4.0 * (n as f64).powi(2) * (d * heads) as f64 / s / 1e9
        );
    }
}

#[test]
fn gn_speed() {
    use wgsd::gpu::kernels::norm::*;
    let gpu = gpu();
    let shape = GroupNormShape {
        batch: 1,
        channels: 320,
        spatial: 4096,
        groups: 32,
    };
    let len = 320 * 4096;
    let x = gpu.upload("x", &random(len, 1, 1.0), DType::F32).unwrap();
    let g = gpu.upload("g", &random(320, 1, 1.0), DType::F32).unwrap();
    let y = gpu.upload("y", &vec![0.0; len], DType::F32).unwrap();
    let s = gpu
        .upload(
            "s",
            &vec![0.0; group_norm_scratch_len(shape) as usize],
            DType::F32,
        )
        .unwrap();
    let arena = ParamArena::new(gpu, 2);
    let t = NormTensors {
        x: &x,
        gamma: &g,
        beta: &g,
        y: &y,
    };
    let [a, b] = group_norm(gpu, &arena, t, &s, shape, 1e-5, true).unwrap();
    gpu.run(&[&a, &b]).unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        gpu.run(&[&a]).unwrap();
        let s1 = t.elapsed().as_secs_f64();
        let t = Instant::now();
        gpu.run(&[&b]).unwrap();
        eprintln!(
            "stats {:.2} ms apply {:.2} ms",
            s1 * 1e3,
            t.elapsed().as_secs_f64() * 1e3
        );
    }
}

#[test]
fn silu_speed() {
    let gpu = gpu();
    let len = 320 * 4096;
    let x = gpu.upload("x", &random(len, 1, 1.0), DType::F32).unwrap();
    let y = gpu.upload("y", &vec![0.0; len], DType::F32).unwrap();
    let arena = ParamArena::new(gpu, 2);
    let a =
        wgsd::gpu::kernels::elementwise::unary(gpu, &arena, &x, &y, wgsd::graph::Activation::Silu)
            .unwrap();
    let b = wgsd::gpu::kernels::elementwise::scale(gpu, &arena, &x, &y, 2.0, 1.0).unwrap();
    gpu.run(&[&a, &b]).unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        gpu.run(&[&a]).unwrap();
        let s1 = t.elapsed().as_secs_f64();
        let t = Instant::now();
        gpu.run(&[&b]).unwrap();
        eprintln!(
            "silu {:.2} ms scale {:.2} ms",
            s1 * 1e3,
            t.elapsed().as_secs_f64() * 1e3
        );
    }
}

#[test]
fn ln_speed() {
    use wgsd::gpu::kernels::norm::*;
    let gpu = gpu();
    let len = 320 * 4096;
    let x = gpu.upload("x", &random(len, 1, 1.0), DType::F32).unwrap();
    let g = gpu.upload("g", &random(320, 1, 1.0), DType::F32).unwrap();
    let y = gpu.upload("y", &vec![0.0; len], DType::F32).unwrap();
    let arena = ParamArena::new(gpu, 2);
    let t = NormTensors {
        x: &x,
        gamma: &g,
        beta: &g,
        y: &y,
    };
    let a = layer_norm(gpu, &arena, t, 320, 1e-5).unwrap();
    gpu.run(&[&a]).unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        gpu.run(&[&a]).unwrap();
        eprintln!("ln {:.2} ms", t.elapsed().as_secs_f64() * 1e3);
    }
}
