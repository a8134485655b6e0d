//! Conv2d kernels against the CPU reference (f64): 1×1 and 3×3, stride 1 and 2, paddings (1, 1), (0, 0)
//! and the VAE encoder's (0, 1), odd sizes and channel counts, batch 2, with and without bias, in both
//! variants (forced), both tensor layouts, f32 and f16 storage.
//! Tolerance: relative L2 ≤ 1e-5 in f32, ≤ 2e-3 with f16 storage (inputs are rounded to f16 before the
//! reference sees them).

mod common;

use common::*;
use wgsd::cpu::conv2d as cpu;
use wgsd::gpu::kernels::conv2d::{self as k, Conv2dShape};
use wgsd::gpu::kernels::matmul::{subgroup_supported, MatmulVariant, Operands};
use wgsd::gpu::kernels::ParamArena;
use wgsd::graph::{DType, Padding};

fn variants() -> Vec<MatmulVariant> {
    let mut v = vec![MatmulVariant::Tiled];
    if subgroup_supported(gpu()) {
        v.push(MatmulVariant::Subgroup);
    }
    v
}

fn run_case(s: Conv2dShape, bias: bool, dtype: DType, variant: MatmulVariant, seed: u64) {
    let x = quantize(&random(s.batch * s.c_in * s.h * s.w, seed, 1.0), dtype);
    let w = quantize(&random(s.c_out * s.c_in * s.k * s.k, seed + 1, 1.0), dtype);
    let b = quantize(&random(s.c_out, seed + 2, 1.0), dtype);
    let want = cpu::conv2d(&x, &w, bias.then_some(&b[..]), s);
    let mut inputs = vec![
        Input {
            name: "x",
            data: x,
            dtype,
        },
        Input {
            name: "weight",
            data: w,
            dtype,
        },
    ];
    if bias {
        inputs.push(Input {
            name: "bias",
            data: b,
            dtype,
        });
    }
    let outputs = [Output {
        name: "y",
        len: want.len(),
        dtype,
    }];
    let got = run_both(&inputs, &outputs, &|g, p, v| {
        let t = Operands {
            x: &v[0],
            weight: &v[1],
            bias: bias.then(|| &v[2]),
            y: v.last().unwrap(),
        };
        Ok(vec![k::conv2d(g, p, t, s, variant)?])
    });
    assert_close(
        &got[0],
        &want,
        tolerance(dtype),
        &format!("{s:?} bias {bias} {dtype:?} {variant:?}"),
    );
}

fn shape(
    c_in: usize,
    c_out: usize,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
    pad: (u32, u32),
) -> Conv2dShape {
    Conv2dShape {
        batch: 2,
        c_in,
        c_out,
        h,
        w,
        k,
        stride,
        pad: Padding {
            begin: pad.0,
            end: pad.1,
        },
    }
}

#[test]
fn three_by_three_stride_and_padding() {
    let shapes = [
        shape(5, 7, 13, 11, 3, 1, (1, 1)), // the U-Net's conv, odd everything
        shape(5, 7, 13, 11, 3, 2, (1, 1)), // the U-Net's downsampler: 13×11 → 7×6
        shape(3, 37, 13, 11, 3, 2, (0, 1)), // the VAE encoder's downsampler: 13×11 → 6×5
        shape(4, 33, 9, 10, 3, 1, (0, 0)), // no padding: 9×10 → 7×8
        shape(11, 35, 17, 19, 3, 1, (1, 1)), // K = 99 crosses chunks; 35 channels > one tile
    ];
    for variant in variants() {
        for dtype in float_dtypes() {
            for (i, &s) in shapes.iter().enumerate() {
                for bias in [true, false] {
                    run_case(s, bias, dtype, variant, 10 + i as u64);
                }
            }
        }
    }
}

#[test]
fn one_by_one() {
    let shapes = [
        shape(37, 9, 7, 5, 1, 1, (0, 0)),   // the ResNet shortcut
        shape(6, 33, 13, 11, 1, 2, (0, 0)), // strided 1×1
        shape(1, 1, 1, 1, 1, 1, (0, 0)),
    ];
    for variant in variants() {
        for dtype in float_dtypes() {
            for (i, &s) in shapes.iter().enumerate() {
                run_case(s, true, dtype, variant, 40 + i as u64);
            }
        }
    }
}

/// Stride 1 with W (3×3) or H·W (1×1) and Ci multiples of 4 take the subgroup variant's vec4 kernels:
/// padding on every border, 32-pixel tiles that span several rows (and rows of a single quad), output
/// channels past one tile, 1×1 channel chunks with a ragged end.
#[test]
fn aligned_shapes_take_the_vec4_kernels() {
    let shapes = [
        (shape(8, 37, 13, 12, 3, 1, (1, 1)), "conv3x3"),
        (shape(4, 5, 1, 4, 3, 1, (1, 1)), "conv3x3"),
        (shape(12, 70, 9, 36, 3, 1, (1, 1)), "conv3x3"),
        (shape(4, 3, 11, 4, 3, 1, (1, 1)), "conv3x3"),
        (shape(36, 33, 7, 4, 1, 1, (0, 0)), "conv1x1"),
        (shape(68, 9, 5, 4, 1, 1, (0, 0)), "conv1x1"),
        (shape(4, 1, 1, 4, 1, 1, (0, 0)), "conv1x1"),
    ];
    for (i, &(s, entry)) in shapes.iter().enumerate() {
        assert_eq!(k::vec4_entry(s), Some(entry), "{s:?}");
        for variant in variants() {
            for dtype in float_dtypes() {
                run_case(s, i % 2 == 0, dtype, variant, 70 + i as u64);
            }
        }
    }
    // What they cannot read goes to the general kernel.
    for s in [
        shape(8, 8, 8, 10, 3, 1, (1, 1)),
        shape(6, 8, 8, 8, 3, 1, (1, 1)),
        shape(8, 8, 8, 8, 3, 2, (1, 1)),
        shape(8, 8, 8, 8, 3, 1, (0, 1)),
        shape(8, 8, 3, 5, 1, 1, (0, 0)),
    ] {
        assert_eq!(k::vec4_entry(s), None, "{s:?}");
    }
}

#[test]
fn many_pixels_and_channels() {
    // 70 output channels and 45×37 pixels: several tiles in both directions with ragged edges.
    for variant in variants() {
        run_case(
            shape(19, 70, 45, 37, 3, 1, (1, 1)),
            true,
            DType::F32,
            variant,
            60,
        );
    }
}

#[test]
fn unsupported_shapes_are_errors_not_panics() {
    let g = gpu();
    let arena = ParamArena::new(g, 4);
    let x = g.upload("x", &[1.0; 2 * 3 * 5 * 5], DType::F32).unwrap();
    let w = g.upload("w", &[1.0; 4 * 3 * 5 * 5], DType::F32).unwrap();
    let y = g.upload("y", &[0.0; 2 * 4], DType::F32).unwrap();
    let t = Operands {
        x: &x,
        weight: &w,
        bias: None,
        y: &y,
    };
    let s = Conv2dShape {
        batch: 2,
        c_in: 3,
        c_out: 4,
        h: 5,
        w: 5,
        k: 5,
        stride: 1,
        pad: Padding { begin: 0, end: 0 },
    };
    let err = k::conv2d(g, &arena, t, s, MatmulVariant::Tiled)
        .unwrap_err()
        .to_string();
    assert!(err.contains("kernel 5"), "{err}");
}
