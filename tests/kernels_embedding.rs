//! Timestep and token embeddings against the f64 references, in both tensor layouts.
//!
//! Tolerances:
//! - token embedding: a gather plus one addition, so f32 is within 1 ulp (relative L2 ≤ 1e-7), f16 ≤ 2e-3;
//! - timestep embedding: the argument t · freq reaches 999 rad, and freq is an f32 (as in diffusers, which
//!   computes the whole embedding in f32), so the argument itself carries up to 999 · 2⁻²⁴ ≈ 6e-5 rad of
//!   rounding. Against the exact f64 reference, over t = 0..=999 at dim 320, the kernel measured a maximum
//!   absolute error of 3.9e-5 and a relative L2 error of 4.8e-6 (diffusers' own f32 arithmetic, emulated:
//!   5.9e-5 and 5.6e-6). Asserted: max abs ≤ 6e-5, relative L2 ≤ 1e-5 (f32); with f16 output the f16
//!   rounding (≤ 4.9e-4) dominates: max abs ≤ 1e-3, relative L2 ≤ 2e-3.

mod common;

use common::*;
use wgsd::cpu::embedding as cpu;
use wgsd::gpu::kernels::embedding::{self as k, MAX_PERIOD};
use wgsd::graph::DType;

fn max_abs(got: &[f32], want: &[f32]) -> f64 {
    got.iter()
        .zip(want)
        .map(|(&a, &b)| (a as f64 - b as f64).abs())
        .fold(0.0, f64::max)
}

fn timestep_case(t: &[f32], dim: usize, flip: bool, shift: f32, dtype: DType) {
    let want = cpu::timestep_embedding(t, dim, flip, shift, MAX_PERIOD);
    let out = run_both(
        &[Input {
            name: "t",
            data: t.to_vec(),
            dtype: DType::F32,
        }],
        &[Output {
            name: "y",
            len: t.len() * dim,
            dtype,
        }],
        &|g, p, v| {
            Ok(vec![k::timestep_embedding(
                g, p, &v[0], &v[1], dim as u32, flip, shift,
            )?])
        },
    );
    let what = format!("timestep_embedding dim={dim} flip={flip} shift={shift} {dtype:?}");
    let (abs_tol, l2_tol) = match dtype {
        DType::F16 => (1e-3, 2e-3),
        _ => (6e-5, 1e-5),
    };
    let err = max_abs(&out[0], &want);
    assert!(err <= abs_tol, "{what}: max abs error {err:.3e}");
    assert_close(&out[0], &want, l2_tol, &what);
}

#[test]
fn timestep_embedding_sd_configs() {
    // SD1.5's U-Net: dim 320, flip_sin_to_cos = true, freq_shift = 0; diffusers' default is (false, 1).
    let t: Vec<f32> = vec![0.0, 1.0, 999.0, 981.0, 500.5, 37.0, 999.75, 0.25, 2.0];
    for dtype in float_dtypes() {
        timestep_case(&t, 320, true, 0.0, dtype);
        timestep_case(&t, 320, false, 1.0, dtype);
        timestep_case(&t, 33, true, 1.0, dtype); // odd dim: a zero column
        timestep_case(&t, 2, false, 0.0, dtype);
    }
}

#[test]
fn timestep_embedding_all_integer_timesteps() {
    // Every training timestep 0..=999 at SD's width: the worst argument reduction is among them.
    let t: Vec<f32> = (0..1000).map(|v| v as f32).collect();
    timestep_case(&t, 320, true, 0.0, DType::F32);
}

fn token_case(
    ids: &[u32],
    vocab: usize,
    positions: usize,
    tokens: usize,
    channels: usize,
    dtype: DType,
) {
    let token = quantize(&random(vocab * channels, 5, 1.0), dtype);
    let position = quantize(&random(positions * channels, 6, 0.1), dtype);
    let want = cpu::token_embedding(ids, &token, &position, tokens, channels);
    let out = run_both(
        &[
            Input {
                name: "ids",
                data: ids.iter().map(|&i| i as f32).collect(),
                dtype: DType::U32,
            },
            Input {
                name: "token",
                data: token,
                dtype,
            },
            Input {
                name: "position",
                data: position,
                dtype,
            },
        ],
        &[Output {
            name: "y",
            len: ids.len() * channels,
            dtype,
        }],
        &|g, p, v| {
            Ok(vec![k::token_embedding(
                g,
                p,
                &v[0],
                &v[1],
                &v[2],
                &v[3],
                tokens as u32,
            )?])
        },
    );
    let tol = match dtype {
        DType::F16 => 2e-3,
        _ => 1e-7,
    };
    assert_close(&out[0], &want, tol, &format!("token_embedding {dtype:?}"));
}

#[test]
fn token_embedding_small() {
    // ids [2, 7] into a vocabulary of 50, positions 9 ≥ 7, 13 channels.
    let ids: Vec<u32> = vec![0, 49, 3, 3, 17, 1, 48, 2, 2, 2, 40, 0, 9, 10];
    for dtype in float_dtypes() {
        token_case(&ids, 50, 9, 7, 13, dtype);
    }
}

#[test]
fn token_embedding_clamps_out_of_range_ids() {
    // Ids ≥ vocab read the last row, never past the table (the shared layout's NaN poison would show).
    let ids: Vec<u32> = vec![5, 6, 1000, u32::MAX];
    token_case(&ids, 6, 4, 4, 3, DType::F32);
    assert!(k::check_token_ids(&ids, 6).is_err());
    assert!(k::check_token_ids(&ids[..1], 6).is_ok());
    let err = k::check_token_ids(&ids, 6).unwrap_err().to_string();
    assert!(err.contains("token id 6 at position 1"), "{err}");
}

#[test]
fn token_table_split_points() {
    // CLIP f32: 49408 rows of 3072 bytes, a 128 MiB binding limit, 256-byte alignment.
    let rows0 = k::token_table_split(49408, 3072, 256, 128 << 20).unwrap();
    assert_eq!(rows0, (128 << 20) / 3072); // 43690 rows; 3072 is a multiple of 256
    assert!(k::token_table_split(49408, 3072, 256, 1 << 30).unwrap() == 49408);
    // Rows of 12 bytes, 32-byte alignment: cuts at multiples of 8 rows.
    assert_eq!(k::token_table_split(100, 12, 32, 1000).unwrap(), 80);
    // More than two bindings' worth is an error naming the limit.
    let err = k::token_table_split(1000, 12, 32, 1000)
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_storage_buffer_binding_size"), "{err}");
}

#[test]
fn token_embedding_clip_table_larger_than_a_binding() {
    // CLIP ViT-L/14: 49408 × 768 f32 = 145 MiB. Where that exceeds one binding (lavapipe: 128 MiB) the
    // kernel binds two row ranges; ids on both sides of the cut are looked up.
    let (vocab, channels, tokens) = (49408usize, 768usize, 77usize);
    let g = gpu();
    let max = g.limits().max_storage_buffer_binding_size;
    let split = k::token_table_split(vocab as u64, channels as u64 * 4, 256, max).unwrap();
    assert_eq!(split < vocab as u64, max < (vocab * channels * 4) as u64);
    let mut ids: Vec<u32> = (0..tokens as u32).map(|i| i * 641 % vocab as u32).collect();
    ids[0] = 49406; // <|startoftext|>
    ids[1] = 49407; // <|endoftext|>
    ids[2] = (split as u32).min(vocab as u32 - 1); // first row of the second part
    ids[3] = (split as u32).saturating_sub(1); // last row of the first part
    let token: Vec<f32> = (0..vocab * channels).map(|i| (i % 9973) as f32).collect();
    let position = random(tokens * channels, 7, 0.1);
    let want = cpu::token_embedding(&ids, &token, &position, tokens, channels);
    let out = run_layout(
        &[
            Input {
                name: "ids",
                data: ids.iter().map(|&i| i as f32).collect(),
                dtype: DType::U32,
            },
            Input {
                name: "token",
                data: token,
                dtype: DType::F32,
            },
            Input {
                name: "position",
                data: position,
                dtype: DType::F32,
            },
        ],
        &[Output {
            name: "y",
            len: tokens * channels,
            dtype: DType::F32,
        }],
        Layout::Separate,
        &|g, p, v| {
            Ok(vec![k::token_embedding(
                g,
                p,
                &v[0],
                &v[1],
                &v[2],
                &v[3],
                tokens as u32,
            )?])
        },
    );
    assert_close(&out[0], &want, 1e-7, "token_embedding, CLIP-size table");
}
