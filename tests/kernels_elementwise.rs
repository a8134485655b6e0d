//! Elementwise kernels against the CPU reference, on odd sizes, in both tensor layouts.
//! Tolerance: relative L2 ≤ 1e-5 in f32, ≤ 2e-3 with f16 storage (inputs are rounded to f16 before the
//! reference sees them, so the error is the kernel's own rounding of the output).

mod common;

use common::*;
use wgsd::cpu::elementwise as cpu;
use wgsd::gpu::kernels::elementwise::{self as k, Binary};
use wgsd::graph::{Activation, BroadcastShape, DType};

fn binary_case(op: Binary, shape: BroadcastShape, dtype: DType, seed: u64) {
    let na: usize = shape.a.iter().map(|&d| d as usize).product();
    let nb: usize = shape.b.iter().map(|&d| d as usize).product();
    let a = quantize(&random(na, seed, 2.0), dtype);
    let b = quantize(&random(nb, seed + 1, 2.0), dtype);
    let want = match op {
        Binary::Add => cpu::add(&a, &b, &shape),
        Binary::Mul => cpu::mul(&a, &b, &shape),
    };
    let out = run_both(
        &[
            Input {
                name: "a",
                data: a,
                dtype,
            },
            Input {
                name: "b",
                data: b,
                dtype,
            },
        ],
        &[Output {
            name: "y",
            len: na,
            dtype,
        }],
        &|g, p, v| Ok(vec![k::binary(g, p, op, &v[0], &v[1], &v[2], shape)?]),
    );
    assert_close(
        &out[0],
        &want,
        tolerance(dtype),
        &format!("{op:?} {shape:?} {dtype:?}"),
    );
}

#[test]
fn add_and_mul_broadcast() {
    let shapes = [
        BroadcastShape {
            a: [1, 1, 1, 1001],
            b: [1, 1, 1, 1001],
        }, // residual
        BroadcastShape {
            a: [2, 37, 5, 7],
            b: [1, 37, 1, 1],
        }, // per-channel bias, NCHW
        BroadcastShape {
            a: [2, 37, 5, 7],
            b: [2, 37, 1, 1],
        }, // time embedding per channel
        BroadcastShape {
            a: [1, 3, 77, 33],
            b: [1, 1, 1, 33],
        }, // bias over the last dim
        BroadcastShape {
            a: [3, 1, 9, 13],
            b: [1, 1, 9, 13],
        }, // broadcast over the batch
    ];
    for dtype in float_dtypes() {
        for (i, s) in shapes.iter().enumerate() {
            binary_case(Binary::Add, *s, dtype, 10 + i as u64);
            binary_case(Binary::Mul, *s, dtype, 20 + i as u64);
        }
    }
}

#[test]
fn scale_and_activations() {
    for dtype in float_dtypes() {
        let x = quantize(&random(4099, 3, 6.0), dtype);
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
            &|g, p, v| Ok(vec![k::scale(g, p, &v[0], &v[1], 0.18215, -0.5)?]),
        );
        assert_close(
            &out[0],
            &cpu::scale(&x, 0.18215, -0.5),
            tolerance(dtype),
            "scale",
        );
        for f in [
            Activation::None,
            Activation::Silu,
            Activation::Gelu,
            Activation::GeluTanh,
            Activation::QuickGelu,
        ] {
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
                &|g, p, v| Ok(vec![k::unary(g, p, &v[0], &v[1], f)?]),
            );
            assert_close(
                &out[0],
                &cpu::unary(&x, f),
                tolerance(dtype),
                &format!("{f:?} {dtype:?}"),
            );
        }
    }
}

#[test]
fn activations_stay_finite_at_extremes() {
    let x = vec![-1e4, -100.0, -30.0, -0.0, 0.0, 30.0, 100.0, 1e4];
    for f in [
        Activation::Silu,
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::QuickGelu,
    ] {
        let out = run_both(
            &[Input {
                name: "x",
                data: x.clone(),
                dtype: DType::F32,
            }],
            &[Output {
                name: "y",
                len: x.len(),
                dtype: DType::F32,
            }],
            &|g, p, v| Ok(vec![k::unary(g, p, &v[0], &v[1], f)?]),
        );
        assert_close(
            &out[0],
            &cpu::unary(&x, f),
            1e-6,
            &format!("{f:?} at extremes"),
        );
    }
}

#[test]
fn geglu_rows() {
    for dtype in float_dtypes() {
        let (rows, f) = (13, 37);
        let x = quantize(&random(rows * 2 * f, 7, 3.0), dtype);
        let out = run_both(
            &[Input {
                name: "x",
                data: x.clone(),
                dtype,
            }],
            &[Output {
                name: "y",
                len: rows * f,
                dtype,
            }],
            &|g, p, v| Ok(vec![k::geglu(g, p, &v[0], &v[1], f as u32)?]),
        );
        assert_close(&out[0], &cpu::geglu(&x, f), tolerance(dtype), "geglu");
    }
}

#[test]
fn large_grids_use_two_dimensions() {
    // 65535 workgroups of 256 threads cover 16.7 M elements; one more element needs a second row.
    let n = 65535 * 256 + 3;
    let x = random(n, 9, 1.0);
    let out = run_layout(
        &[Input {
            name: "x",
            data: x.clone(),
            dtype: DType::F32,
        }],
        &[Output {
            name: "y",
            len: n,
            dtype: DType::F32,
        }],
        Layout::Separate,
        &|g, p, v| {
            let d = k::scale(g, p, &v[0], &v[1], 2.0, 1.0)?;
            assert!(d.grid()[1] > 1, "grid {:?} should be 2-D", d.grid());
            Ok(vec![d])
        },
    );
    assert_close(
        &out[0],
        &cpu::scale(&x, 2.0, 1.0),
        1e-7,
        "scale over a 2-D grid",
    );
}

#[test]
fn mismatched_lengths_are_errors_not_panics() {
    let g = gpu();
    let arena = wgsd::gpu::kernels::ParamArena::new(g, 4);
    let x = g.upload("x", &[1.0; 10], DType::F32).unwrap();
    let y = g.upload("y", &[0.0; 9], DType::F32).unwrap();
    let err = k::unary(g, &arena, &x, &y, Activation::Silu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tensor y has 9 elements, expected 10"),
        "{err}"
    );
}
