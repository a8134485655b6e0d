//! Timing of the non-matmul kernels at SD1.5 512² sizes: `cargo bench --bench kernels_ops`.
//!
//! - attention: the U-Net's self-attention at its three attention levels (4096 tokens × 8 heads × 40
//!   dims, 1024 × 8 × 80, 256 × 8 × 160) and the VAE's mid-block attention at 256² (1024 × 1 × 512),
//!   reported in GFLOP/s counting 4 · N² · D · H flops (Q Kᵀ and
//!   P V, two flops per multiply-add); on a software adapter also the tiled GPU kernel at the smallest,
//!   for comparison;
//! - group norm: 320 channels × 64 × 64 in 32 groups with SiLU, reported in GB/s counting the minimum
//!   traffic, one read of x and one write of y.
//!
//! Each is the median of `REPS` runs, timed with GPU timestamp queries around the compute pass where the
//! adapter has them and by the wall clock around submit-and-wait otherwise ([`Profiler`]), after one
//! warm-up run that also compiles the pipeline. Attention runs the kernel the adapter gets by
//! default (`default_kernel`: the rows kernel on a software adapter, the tiled one on a GPU).

use wgsd::gpu::kernels::attention::{
    attention_with, default_kernel, AttentionKernel, AttentionShape,
};
use wgsd::gpu::kernels::norm::{group_norm, group_norm_scratch_len, GroupNormShape, NormTensors};
use wgsd::gpu::kernels::{Dispatch, ParamArena};
use wgsd::gpu::{Gpu, GpuOptions, Profiler};
use wgsd::graph::DType;

const REPS: usize = 5;

fn random(n: usize, seed: u64) -> Vec<f32> {
    // A small LCG: the values do not matter for timing, only that they are not all equal.
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Median seconds of `REPS` runs of `dispatches`, after a warm-up.
fn time(gpu: &Gpu, profiler: &Profiler, dispatches: &[&Dispatch]) -> wgsd::Result<f64> {
    gpu.run(dispatches)?;
    let mut times = profiler.time(gpu, dispatches, REPS)?;
    times.sort_by(f64::total_cmp);
    Ok(times[REPS / 2])
}

fn bench_attention(
    gpu: &Gpu,
    profiler: &Profiler,
    dtype: DType,
    (n, heads, d): (u32, u32, u32),
    kernel: AttentionKernel,
) -> wgsd::Result<()> {
    let len = (n * heads * d) as usize;
    let q = gpu.upload("q", &random(len, 1), dtype)?;
    let k = gpu.upload("k", &random(len, 2), dtype)?;
    let v = gpu.upload("v", &random(len, 3), dtype)?;
    let y = gpu.upload("y", &vec![0.0; len], dtype)?;
    let arena = ParamArena::new(gpu, 1);
    let shape = AttentionShape {
        batch: 1,
        nq: n,
        nk: n,
        heads,
        head_dim: d,
        scale: 1.0 / (d as f32).sqrt(),
        causal: false,
    };
    let dispatch = attention_with(gpu, &arena, [&q, &k, &v, &y], shape, kernel)?;
    let secs = time(gpu, profiler, &[&dispatch])?;
    let flops = 4.0 * (n as f64).powi(2) * d as f64 * heads as f64;
    println!(
        "attention ({kernel:?}) {n} tokens × {heads} heads × {d} dims, {dtype:?}: {:.1} ms, {:.2} GFLOP/s",
        secs * 1e3,
        flops / secs / 1e9
    );
    Ok(())
}

fn bench_group_norm(gpu: &Gpu, profiler: &Profiler, dtype: DType) -> wgsd::Result<()> {
    let shape = GroupNormShape {
        batch: 1,
        channels: 320,
        spatial: 64 * 64,
        groups: 32,
    };
    let len = (320 * 64 * 64) as usize;
    let x = gpu.upload("x", &random(len, 4), dtype)?;
    let gamma = gpu.upload("gamma", &random(320, 5), dtype)?;
    let beta = gpu.upload("beta", &random(320, 6), dtype)?;
    let y = gpu.upload("y", &vec![0.0; len], dtype)?;
    let scratch_len = group_norm_scratch_len(shape) as usize;
    let scratch = gpu.upload("scratch", &vec![0.0; scratch_len], DType::F32)?;
    let arena = ParamArena::new(gpu, 2);
    let t = NormTensors {
        x: &x,
        gamma: &gamma,
        beta: &beta,
        y: &y,
    };
    let [stats, apply] = group_norm(gpu, &arena, t, &scratch, shape, 1e-5, true)?;
    let secs = time(gpu, profiler, &[&stats, &apply])?;
    let bytes = 2.0 * len as f64 * dtype.size() as f64;
    println!(
        "group_norm 320×64×64, 32 groups, SiLU, {dtype:?}: {:.3} ms, {:.2} GB/s",
        secs * 1e3,
        bytes / secs / 1e9
    );
    Ok(())
}

fn main() -> wgsd::Result<()> {
    let gpu = Gpu::new(&GpuOptions::default())?;
    let profiler = Profiler::new(&gpu);
    let clock = if profiler.uses_timestamps() {
        "GPU timestamps"
    } else {
        "wall clock"
    };
    println!("{} — median of {REPS} runs, {clock}", gpu.adapter_name());
    let mut dtypes = vec![DType::F32];
    if gpu.caps().f16 {
        dtypes.push(DType::F16);
    }
    for &dtype in &dtypes {
        bench_group_norm(&gpu, &profiler, dtype)?;
    }
    // On a software adapter one attention run takes tens of seconds: f32 only there.
    let attention_dtypes = if gpu.is_software() {
        &dtypes[..1]
    } else {
        &dtypes[..]
    };
    // SD1.5's U-Net attention levels at 512² (latents 64², 32², 16²), and the VAE's mid-block attention
    // (one head of 512) at 256² (latent 32²).
    let levels = [(4096, 8, 40), (1024, 8, 80), (256, 8, 160), (1024, 1, 512)];
    for &dtype in attention_dtypes {
        for level in levels {
            bench_attention(&gpu, &profiler, dtype, level, default_kernel(&gpu, level.2))?;
        }
        if gpu.is_software() {
            bench_attention(&gpu, &profiler, dtype, levels[2], AttentionKernel::Tiled)?;
            bench_attention(&gpu, &profiler, dtype, levels[3], AttentionKernel::Tiled)?;
        }
    }
    Ok(())
}
