//! Shape ops against the CPU reference, in both tensor layouts. They copy values, so the results must be
//! bit-exact (tolerance 0) in f32 and f16.

mod common;

use common::*;
use wgsd::cpu::shape as cpu;
use wgsd::gpu::kernels::shape as k;
use wgsd::graph::DType;

fn exact(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    assert!(bit_identical(got, want), "{what}: not bit-exact");
}

#[test]
fn upsample2x_nchw() {
    for dtype in float_dtypes() {
        for (planes, h, w) in [(2 * 3, 5, 7), (1, 1, 1), (4, 16, 9)] {
            let x = quantize(&random(planes * h * w, 1, 3.0), dtype);
            let out = run_both(
                &[Input {
                    name: "x",
                    data: x.clone(),
                    dtype,
                }],
                &[Output {
                    name: "y",
                    len: x.len() * 4,
                    dtype,
                }],
                &|g, p, v| Ok(vec![k::upsample2x(g, p, &v[0], &v[1], h as u32, w as u32)?]),
            );
            exact(
                &out[0],
                &cpu::upsample2x(&x, h, w),
                &format!("upsample2x {planes}×{h}×{w} {dtype:?}"),
            );
        }
    }
}

#[test]
fn concat_channels() {
    for dtype in float_dtypes() {
        // (B, Ca, Cb, H·W): a U-Net skip (odd sizes), and a single-element case.
        for (batch, ca, cb, hw) in [(2, 5, 3, 7 * 9), (1, 1, 1, 1), (3, 17, 4, 5)] {
            let a = quantize(&random(batch * ca * hw, 2, 3.0), dtype);
            let b = quantize(&random(batch * cb * hw, 3, 3.0), dtype);
            let out = run_both(
                &[
                    Input {
                        name: "a",
                        data: a.clone(),
                        dtype,
                    },
                    Input {
                        name: "b",
                        data: b.clone(),
                        dtype,
                    },
                ],
                &[Output {
                    name: "y",
                    len: a.len() + b.len(),
                    dtype,
                }],
                &|g, p, v| Ok(vec![k::concat(g, p, &v[0], &v[1], &v[2], batch as u32)?]),
            );
            exact(
                &out[0],
                &cpu::concat(&a, &b, batch),
                &format!("concat {batch}×({ca}+{cb})×{hw} {dtype:?}"),
            );
        }
    }
}

#[test]
fn transpose_last_two_dims() {
    for dtype in float_dtypes() {
        // NCHW ↔ [B, HW, C] at U-Net-like odd sizes, partial tiles on both edges, and 1-wide cases.
        for (batch, m, n) in [
            (2, 40, 63),
            (1, 320, 7 * 9),
            (3, 1, 33),
            (1, 33, 1),
            (1, 64, 64),
        ] {
            let x = quantize(&random(batch * m * n, 4, 3.0), dtype);
            let out = run_both(
                &[Input {
                    name: "x",
                    data: x.clone(),
                    dtype,
                }],
                &[Output {
                    name: "y",
                    len: x.len(),
                    dtype,
                }],
                &|g, p, v| {
                    Ok(vec![k::transpose(
                        g,
                        p,
                        &v[0],
                        &v[1],
                        batch as u32,
                        m as u32,
                        n as u32,
                    )?])
                },
            );
            exact(
                &out[0],
                &cpu::transpose(&x, batch, m, n),
                &format!("transpose {batch}×{m}×{n} {dtype:?}"),
            );
        }
    }
}

#[test]
fn bad_shapes_are_errors() {
    let g = gpu();
    let arena = wgsd::gpu::kernels::ParamArena::new(g, 4);
    let x = g.upload("x", &[0.0; 12], DType::F32).unwrap();
    let y = g.upload("y", &[0.0; 47], DType::F32).unwrap();
    assert!(k::upsample2x(g, &arena, &x, &y, 2, 3).is_err());
    assert!(k::upsample2x(g, &arena, &x, &y, 5, 1).is_err());
    assert!(k::transpose(g, &arena, &x, &y, 1, 3, 4).is_err());
    assert!(k::concat(g, &arena, &x, &x, &y, 5).is_err());
}
