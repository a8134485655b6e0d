//! Matmul and linear kernels against the CPU reference (f64), on odd shapes that are never multiples of
//! a tile, in both variants (forced), both tensor layouts, f32 and f16 storage.
//! Tolerance: relative L2 ≤ 1e-5 in f32, ≤ 2e-3 with f16 storage (inputs are rounded to f16 before the
//! reference sees them, so the error is the kernel's f32 accumulation order plus the output's rounding).

mod common;

use common::*;
use wgsd::cpu::matmul as cpu;
use wgsd::gpu::kernels::matmul::{self as k, MatmulShape, MatmulVariant, Operands};
use wgsd::gpu::kernels::ParamArena;
use wgsd::gpu::TensorView;
use wgsd::graph::{Activation, DType};
use wgsd::Error;

/// The variants this device can run: both on lavapipe.
fn variants() -> Vec<MatmulVariant> {
    let mut v = vec![MatmulVariant::Tiled];
    if k::subgroup_supported(gpu()) {
        v.push(MatmulVariant::Subgroup);
    }
    v
}

const ACTIVATIONS: [Activation; 5] = [
    Activation::None,
    Activation::Silu,
    Activation::Gelu,
    Activation::GeluTanh,
    Activation::QuickGelu,
];

struct Case {
    shape: MatmulShape,
    bias: bool,
    act: Activation,
    dtype: DType,
    variant: MatmulVariant,
    seed: u64,
}

fn run_case(c: &Case) {
    let s = c.shape;
    let w_len = if s.w_batched { s.batch } else { 1 } * s.n * s.k;
    let a = quantize(&random(s.batch * s.m * s.k, c.seed, 1.0), c.dtype);
    let w = quantize(&random(w_len, c.seed + 1, 1.0), c.dtype);
    let bias = quantize(&random(s.n, c.seed + 2, 1.0), c.dtype);
    let want = cpu::matmul(&a, &w, c.bias.then_some(&bias[..]), s, c.act);
    let mut inputs = vec![
        Input {
            name: "x",
            data: a,
            dtype: c.dtype,
        },
        Input {
            name: "weight",
            data: w,
            dtype: c.dtype,
        },
    ];
    if c.bias {
        inputs.push(Input {
            name: "bias",
            data: bias,
            dtype: c.dtype,
        });
    }
    let outputs = [Output {
        name: "y",
        len: s.batch * s.m * s.n,
        dtype: c.dtype,
    }];
    let (act, variant, has_bias) = (c.act, c.variant, c.bias);
    let got = run_both(&inputs, &outputs, &|g, p, v| {
        let t = Operands {
            x: &v[0],
            weight: &v[1],
            bias: has_bias.then(|| &v[2]),
            y: v.last().unwrap(),
        };
        Ok(vec![k::matmul(g, p, t, s, act, variant)?])
    });
    assert_close(
        &got[0],
        &want,
        tolerance(c.dtype),
        &format!(
            "{:?} bias {} {:?} {:?} {:?}",
            s, c.bias, c.act, c.dtype, c.variant
        ),
    );
}

fn shape(batch: usize, m: usize, n: usize, kk: usize) -> MatmulShape {
    MatmulShape {
        batch,
        m,
        n,
        k: kk,
        w_transposed: true,
        w_batched: false,
    }
}

#[test]
fn linear_shapes_bias_and_no_bias() {
    // 130 rows span 5 subgroup tiles and 3 tiled ones; 259 is past several K chunks with a ragged end.
    let shapes = [
        (1, 1, 1),
        (77, 33, 45),
        (130, 67, 259),
        (3, 70, 5),
        (65, 129, 33),
    ];
    for variant in variants() {
        for dtype in float_dtypes() {
            for (i, &(m, n, kk)) in shapes.iter().enumerate() {
                for bias in [false, true] {
                    run_case(&Case {
                        shape: shape(1, m, n, kk),
                        bias,
                        act: Activation::None,
                        dtype,
                        variant,
                        seed: 100 + i as u64,
                    });
                }
            }
        }
    }
}

#[test]
fn every_activation_in_the_epilogue() {
    for variant in variants() {
        for dtype in float_dtypes() {
            for (i, act) in ACTIVATIONS.into_iter().enumerate() {
                run_case(&Case {
                    shape: shape(1, 37, 41, 23),
                    bias: true,
                    act,
                    dtype,
                    variant,
                    seed: 200 + i as u64,
                });
            }
        }
    }
}

#[test]
fn batched_with_shared_and_per_batch_weights() {
    for variant in variants() {
        for dtype in float_dtypes() {
            for w_batched in [false, true] {
                for w_transposed in [false, true] {
                    run_case(&Case {
                        shape: MatmulShape {
                            batch: 3,
                            m: 45,
                            n: 38,
                            k: 51,
                            w_transposed,
                            w_batched,
                        },
                        bias: !w_batched,
                        act: Activation::None,
                        dtype,
                        variant,
                        seed: 300,
                    });
                }
            }
        }
    }
}

/// K a multiple of 4 (but not of the 32-wide chunk) takes the subgroup variant's vec4 kernel; M and N
/// stay ragged, and a `[K, N]` weight needs N a multiple of 4 as well.
#[test]
fn aligned_shapes_take_the_vec4_kernel() {
    let shapes = [
        (1, 1, 4, true),
        (77, 33, 44, true),
        (130, 67, 260, true),
        (65, 129, 92, true),
        (45, 36, 52, false),
        (33, 4, 100, false),
    ];
    for (i, &(m, n, kk, w_transposed)) in shapes.iter().enumerate() {
        let s = MatmulShape {
            batch: 1,
            m,
            n,
            k: kk,
            w_transposed,
            w_batched: false,
        };
        assert!(k::vec4_aligned(s), "{s:?}");
        for variant in variants() {
            for dtype in float_dtypes() {
                run_case(&Case {
                    shape: s,
                    bias: i % 2 == 0,
                    act: ACTIVATIONS[i % ACTIVATIONS.len()],
                    dtype,
                    variant,
                    seed: 500 + i as u64,
                });
            }
        }
    }
    for w_batched in [false, true] {
        for w_transposed in [false, true] {
            let s = MatmulShape {
                batch: 3,
                m: 45,
                n: 36,
                k: 68,
                w_transposed,
                w_batched,
            };
            for variant in variants() {
                run_case(&Case {
                    shape: s,
                    bias: !w_batched,
                    act: Activation::None,
                    dtype: DType::F32,
                    variant,
                    seed: 600,
                });
            }
        }
    }
    // The scalar kernel keeps what the vec4 one cannot read.
    assert!(!k::vec4_aligned(shape(1, 8, 8, 6)));
    let mut kn = shape(1, 8, 6, 8);
    kn.w_transposed = false;
    assert!(!k::vec4_aligned(kn));
}

#[test]
fn linear_flattens_leading_dims() {
    // x [2, 7, 19] · weight [23, 19]ᵀ + bias, GELU: the `linear` entry point derives the shape.
    let (rows, inf, outf) = (14, 19, 23);
    for variant in variants() {
        let x = random(rows * inf, 400, 1.0);
        let w = random(outf * inf, 401, 1.0);
        let b = random(outf, 402, 1.0);
        let want = cpu::linear(&x, &w, Some(&b), outf, Activation::Gelu);
        let inputs = [
            Input {
                name: "x",
                data: x,
                dtype: DType::F32,
            },
            Input {
                name: "weight",
                data: w,
                dtype: DType::F32,
            },
            Input {
                name: "bias",
                data: b,
                dtype: DType::F32,
            },
        ];
        let outputs = [Output {
            name: "y",
            len: rows * outf,
            dtype: DType::F32,
        }];
        let got = run_both(&inputs, &outputs, &|g, p, v| {
            let t = Operands {
                x: &v[0],
                weight: &v[1],
                bias: Some(&v[2]),
                y: &v[3],
            };
            Ok(vec![k::linear(g, p, t, outf, Activation::Gelu, variant)?])
        });
        assert_close(&got[0], &want, 1e-5, &format!("linear {variant:?}"));
    }
}

#[test]
fn the_default_variant_suits_the_adapter() {
    let g = gpu();
    if std::env::var(k::VARIANT_ENV).is_ok() {
        return; // forced by the user: nothing to check
    }
    let v = k::choose_variant(g).unwrap();
    if g.is_software() && k::subgroup_supported(g) {
        assert_eq!(v, MatmulVariant::Subgroup);
    } else {
        assert_eq!(v, MatmulVariant::Tiled);
    }
}

#[test]
fn too_large_a_binding_is_a_limit_error() {
    // A view claiming more elements than one binding may hold: the error comes from the binding check,
    // before anything is dispatched, so a small buffer suffices.
    let g = gpu();
    let arena = ParamArena::new(g, 4);
    let max = g.limits().max_storage_buffer_binding_size;
    let k_in = 64usize;
    let rows = (max / 4 / k_in as u64 + 1) as usize; // rows · 64 · 4 bytes > max
    let buf = g.create_storage("small", 1 << 16).unwrap();
    let x = TensorView::new(&buf, 0, (rows * k_in) as u64, DType::F32, "huge_x");
    let w = g.upload("w", &vec![0.0; 8 * k_in], DType::F32).unwrap();
    let y = TensorView::new(&buf, 0, (rows * 8) as u64, DType::F32, "y");
    let t = Operands {
        x: &x,
        weight: &w,
        bias: None,
        y: &y,
    };
    for variant in variants() {
        let err = k::linear(g, &arena, t, 8, Activation::None, variant).unwrap_err();
        match err {
            Error::Limit { limit, what, .. } => {
                assert_eq!(limit, "max_storage_buffer_binding_size");
                assert!(what.contains("huge_x"), "{what}");
            }
            other => panic!("expected a limit error, got {other}"),
        }
    }
}

#[test]
fn mismatched_shapes_are_errors_not_panics() {
    let g = gpu();
    let arena = ParamArena::new(g, 4);
    let x = g.upload("x", &[1.0; 12], DType::F32).unwrap();
    let w = g.upload("w", &[1.0; 8], DType::F32).unwrap();
    let y = g.upload("y", &[0.0; 5], DType::F32).unwrap();
    let t = Operands {
        x: &x,
        weight: &w,
        bias: None,
        y: &y,
    };
    let err = k::linear(g, &arena, t, 2, Activation::None, MatmulVariant::Tiled)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tensor y has 5 elements, expected 6"), "{err}");
    let err = k::linear(g, &arena, t, 3, Activation::None, MatmulVariant::Tiled)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a multiple of 3"), "{err}");
}

#[test]
fn more_tiles_than_one_grid_dimension() {
    // 70 000 one-element products with a shared weight: 70 000 tiles > 65 535, so the grid is 2-D.
    let s = MatmulShape {
        batch: 70_000,
        m: 1,
        n: 1,
        k: 3,
        w_transposed: true,
        w_batched: false,
    };
    for variant in variants() {
        let a = random(s.batch * s.k, 500, 1.0);
        let w = random(s.k, 501, 1.0);
        let want = cpu::matmul(&a, &w, None, s, Activation::None);
        let got = run_layout(
            &[
                Input {
                    name: "x",
                    data: a,
                    dtype: DType::F32,
                },
                Input {
                    name: "weight",
                    data: w,
                    dtype: DType::F32,
                },
            ],
            &[Output {
                name: "y",
                len: s.batch,
                dtype: DType::F32,
            }],
            Layout::Shared,
            &|g, p, v| {
                let t = Operands {
                    x: &v[0],
                    weight: &v[1],
                    bias: None,
                    y: &v[2],
                };
                let d = k::matmul(g, p, t, s, Activation::None, variant)?;
                assert!(d.grid()[1] > 1, "grid {:?} should be 2-D", d.grid());
                Ok(vec![d])
            },
        );
        assert_close(&got[0], &want, 1e-6, &format!("2-D grid {variant:?}"));
    }
}
