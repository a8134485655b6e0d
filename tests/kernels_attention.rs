//! Flash attention against the f64 reference (full score matrix, exact softmax), in both tensor layouts.
//! Tolerance: relative L2 ≤ 1e-5 in f32, ≤ 2e-3 with f16 storage (inputs are rounded to f16 before the
//! reference sees them).

mod common;

use common::*;
use wgsd::cpu::attention as cpu;
use wgsd::gpu::kernels::attention::{self as k, AttentionKernel, AttentionShape};
use wgsd::graph::DType;

/// Runs one case; `spread` is the range of q and k, so scores are peaky enough to test the softmax.
fn case(shape: AttentionShape, dtype: DType, spread: f32, seed: u64) {
    let AttentionShape {
        batch,
        nq,
        nk,
        heads,
        head_dim,
        scale,
        causal,
    } = shape;
    let hd = (heads * head_dim) as usize;
    let nq_len = batch as usize * nq as usize * hd;
    let nk_len = batch as usize * nk as usize * hd;
    let q = quantize(&random(nq_len, seed, spread), dtype);
    let kk = quantize(&random(nk_len, seed + 1, spread), dtype);
    let v = quantize(&random(nk_len, seed + 2, 1.0), dtype);
    let want = cpu::attention(
        &q,
        &kk,
        &v,
        batch as usize,
        nq as usize,
        nk as usize,
        heads as usize,
        head_dim as usize,
        scale,
        causal,
    );
    let mut kernels = vec![AttentionKernel::Tiled];
    if k::rows_supported(gpu(), head_dim) {
        kernels.push(AttentionKernel::Rows);
    }
    for kernel in kernels {
        let out = run_both(
            &[
                Input {
                    name: "q",
                    data: q.clone(),
                    dtype,
                },
                Input {
                    name: "k",
                    data: kk.clone(),
                    dtype,
                },
                Input {
                    name: "v",
                    data: v.clone(),
                    dtype,
                },
            ],
            &[Output {
                name: "y",
                len: nq_len,
                dtype,
            }],
            &|g, p, t| {
                Ok(vec![k::attention_with(
                    g,
                    p,
                    [&t[0], &t[1], &t[2], &t[3]],
                    shape,
                    kernel,
                )?])
            },
        );
        assert_close(
            &out[0],
            &want,
            tolerance(dtype),
            &format!("attention {kernel:?} {shape:?} {dtype:?}"),
        );
    }
}

fn shape(batch: u32, nq: u32, nk: u32, heads: u32, head_dim: u32, causal: bool) -> AttentionShape {
    AttentionShape {
        batch,
        nq,
        nk,
        heads,
        head_dim,
        scale: 1.0 / (head_dim as f32).sqrt(),
        causal,
    }
}

#[test]
fn single_token() {
    for dtype in float_dtypes() {
        case(shape(1, 1, 1, 2, 8, false), dtype, 2.0, 1);
        case(shape(1, 1, 1, 2, 8, true), dtype, 2.0, 2);
    }
}

#[test]
fn self_attention_over_several_ragged_tiles() {
    // 100 queries (6.25 query tiles of 16), 100 keys (3.1 key tiles of 32), SD1.5's D = 40.
    for dtype in float_dtypes() {
        case(shape(1, 100, 100, 8, 40, false), dtype, 3.0, 10);
    }
}

#[test]
fn cross_attention_77_keys() {
    // SD's cross-attention: Nk = 77 text tokens, Nq ≠ Nk; D = 64 (SD2), 80 and 160 (SD1.5's deeper
    // levels: two and three output slices of the tiled kernel, the vec4 rows kernel's widest rows).
    for dtype in float_dtypes() {
        case(shape(1, 150, 77, 8, 64, false), dtype, 3.0, 20);
        case(shape(2, 37, 77, 2, 80, false), dtype, 3.0, 21);
        case(shape(1, 45, 77, 2, 160, false), dtype, 3.0, 22);
    }
}

#[test]
fn causal_like_clip() {
    // CLIP's text encoder: 77 tokens, causal, 12 heads of 64 (12 heads cut to 3 here for time).
    for dtype in float_dtypes() {
        case(shape(2, 77, 77, 3, 64, true), dtype, 3.0, 30);
        case(shape(1, 70, 100, 1, 13, true), dtype, 3.0, 31); // Nq ≠ Nk
    }
}

#[test]
fn odd_head_dim() {
    // H·D = 39: nothing is a multiple of 4.
    for dtype in float_dtypes() {
        case(shape(2, 45, 51, 3, 13, false), dtype, 3.0, 40);
        case(shape(1, 33, 40, 1, 1, false), dtype, 3.0, 41);
        case(shape(1, 20, 300, 2, 160, false), dtype, 3.0, 42); // SD1.5's deepest level: 3 slices
    }
}

#[test]
fn wide_heads_in_output_slices() {
    // Past 160 the rows kernel splits the output row into slices: 168 = 2 slices of 21 quads, 200 = 2
    // of 25 (causal), 516 = 5 slices of 26 quads, the last one partial (25).
    for dtype in float_dtypes() {
        case(shape(1, 21, 35, 2, 168, false), dtype, 3.0, 45);
        case(shape(1, 30, 30, 1, 200, true), dtype, 3.0, 46);
        case(shape(1, 9, 17, 1, 516, false), dtype, 1.0, 47);
    }
}

#[test]
fn vae_single_head_512() {
    // The VAE mid-block: one head of 512 (8 output slices, 8 chunks of D).
    for dtype in float_dtypes() {
        case(shape(1, 70, 90, 1, 512, false), dtype, 1.0, 50);
    }
}

#[test]
fn invalid_shapes_are_errors() {
    let g = gpu();
    let arena = wgsd::gpu::kernels::ParamArena::new(g, 4);
    let t = g.upload("t", &[0.0; 24], DType::F32).unwrap();
    let err = k::attention(g, &arena, &t, &t, &t, &t, shape(1, 3, 3, 2, 5, false))
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected 30"), "{err}");
    assert!(k::attention(g, &arena, &t, &t, &t, &t, shape(1, 3, 0, 2, 4, false)).is_err());
    // Past the rows kernel's head sizes: over 64 and not a multiple of 4.
    for d in [81, 130] {
        let big = shape(1, 1, 1, 1, d, false);
        let t = g.upload("t", &vec![0.0; d as usize], DType::F32).unwrap();
        let err = k::attention_with(g, &arena, [&t, &t, &t, &t], big, AttentionKernel::Rows)
            .unwrap_err()
            .to_string();
        assert!(err.contains("rows kernel"), "{err}");
    }
}
