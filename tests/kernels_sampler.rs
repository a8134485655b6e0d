//! Sampler kernels against the CPU reference. Tolerances: relative L2 ≤ 1e-6 for the step and the U-Net
//! input in f32 (a handful of f32 multiply-adds), ≤ 2e-3 with an f16 U-Net; Gaussian noise within 1e-5 of
//! the f64 reference (same integer hash, f32 log/cos), and standard-normal statistics.

mod common;

use common::*;
use wgsd::cpu::sampler as cpu;
use wgsd::gpu::kernels::sampler::{self as k, StepTensors};
use wgsd::graph::DType;
use wgsd::scheduler::StepCoefficients;

const N: usize = 4 * 9 * 7; // C·h·w of a small odd latent

fn coefficients() -> StepCoefficients {
    StepCoefficients {
        input_scale: 0.31,
        x0_from_sample: 1.07,
        x0_from_model: -0.42,
        sample: 0.93,
        x0: 0.11,
        x0_prev: -0.05,
        noise: 0.2,
    }
}

#[test]
fn guided_and_unguided_steps_match_the_reference() {
    let c = coefficients();
    for dtype in float_dtypes() {
        for guidance in [Some(7.5f32), None] {
            let copies = if guidance.is_some() { 2 } else { 1 };
            let sample = random(N, 1, 2.0);
            let x0_prev = random(N, 2, 1.0);
            let model_out = quantize(&random(N * copies, 3, 1.0), dtype);
            let noise = random(N, 4, 1.0);
            let all = run_both_inplace(
                &[
                    Input {
                        name: "sample",
                        data: sample.clone(),
                        dtype: DType::F32,
                    },
                    Input {
                        name: "x0_prev",
                        data: x0_prev.clone(),
                        dtype: DType::F32,
                    },
                    Input {
                        name: "model_out",
                        data: model_out.clone(),
                        dtype,
                    },
                    Input {
                        name: "noise",
                        data: noise.clone(),
                        dtype: DType::F32,
                    },
                ],
                2,
                &[],
                &|g, p, v| {
                    let t = StepTensors {
                        sample: &v[0],
                        model_out: &v[2],
                        x0_prev: &v[1],
                        noise: &v[3],
                    };
                    Ok(vec![k::step(g, p, &t, guidance, &c)?])
                },
            );
            let (want_sample, want_x0) =
                cpu::step(&sample, &model_out, &x0_prev, &noise, guidance, &c);
            assert_close(
                &all[0],
                &want_sample,
                1e-6,
                &format!("step sample {dtype:?} {guidance:?}"),
            );
            assert_close(
                &all[1],
                &want_x0,
                1e-6,
                &format!("step x0 {dtype:?} {guidance:?}"),
            );
        }
    }
}

#[test]
fn model_input_copies_the_scaled_latents() {
    for dtype in float_dtypes() {
        let sample = random(N, 5, 3.0);
        let out = run_both(
            &[Input {
                name: "sample",
                data: sample.clone(),
                dtype: DType::F32,
            }],
            &[Output {
                name: "model_in",
                len: 2 * N,
                dtype,
            }],
            &|g, p, v| Ok(vec![k::model_input(g, p, &v[0], &v[1], 2, 0.25)?]),
        );
        let tol = if dtype == DType::F16 { 2e-3 } else { 1e-6 };
        assert_close(
            &out[0],
            &cpu::model_input(&sample, 0.25, 2),
            tol,
            "model_input",
        );
    }
}

#[test]
fn gpu_noise_is_the_reference_stream_and_standard_normal() {
    let n = 64 * 64 * 4 + 1;
    for (seed, counter) in [(0u32, 0u32), (42, 0), (42, 7)] {
        let out = run_both(
            &[],
            &[Output {
                name: "noise",
                len: n,
                dtype: DType::F32,
            }],
            &|g, p, v| Ok(vec![k::gaussian(g, p, &v[0], seed, counter)?]),
        );
        let want = cpu::gaussian(seed, counter, n);
        let worst = out[0]
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            worst < 1e-5,
            "seed {seed} draw {counter}: max abs difference {worst}"
        );
        let mean = out[0].iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        let var = out[0]
            .iter()
            .map(|&x| (x as f64 - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "mean {mean}, variance {var}"
        );
    }
    // Different draws differ.
    assert_ne!(cpu::gaussian(42, 0, 8), cpu::gaussian(42, 1, 8));
}
