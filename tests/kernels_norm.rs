//! Group norm and layer norm against the f64 CPU reference, on odd shapes, in both tensor layouts.
//! Tolerance: relative L2 ≤ 1e-5 in f32, ≤ 2e-3 with f16 storage (inputs are rounded to f16 before the
//! reference sees them).

mod common;

use common::*;
use wgsd::cpu::norm as cpu;
use wgsd::gpu::kernels::norm::{self as k, GroupNormOptions, GroupNormShape, NormTensors};
use wgsd::graph::DType;

/// Runs group norm on `x` (any values) and returns (gpu, reference).
fn group_norm_run(
    shape: GroupNormShape,
    x: Vec<f32>,
    dtype: DType,
    silu: bool,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    let c = shape.channels as usize;
    let x = quantize(&x, dtype);
    let gamma = quantize(&random(c, seed + 1, 1.5), dtype);
    let beta = quantize(&random(c, seed + 2, 0.5), dtype);
    let eps = 1e-5;
    let want = cpu::group_norm(
        &x,
        &gamma,
        &beta,
        shape.batch as usize,
        c,
        shape.spatial as usize,
        shape.groups as usize,
        eps,
        silu,
    );
    let n = x.len();
    let scratch = k::group_norm_scratch_len(shape) as usize;
    let out = run_both(
        &[
            Input {
                name: "x",
                data: x,
                dtype,
            },
            Input {
                name: "gamma",
                data: gamma,
                dtype,
            },
            Input {
                name: "beta",
                data: beta,
                dtype,
            },
        ],
        &[
            Output {
                name: "y",
                len: n,
                dtype,
            },
            Output {
                name: "scratch",
                len: scratch,
                dtype: DType::F32,
            },
        ],
        &|g, p, v| {
            let t = NormTensors {
                x: &v[0],
                gamma: &v[1],
                beta: &v[2],
                y: &v[3],
            };
            Ok(k::group_norm(g, p, t, &v[4], shape, eps, silu)?.into())
        },
    );
    (out[0].clone(), want)
}

fn group_norm_case(shape: GroupNormShape, dtype: DType, silu: bool, seed: u64) {
    let n = (shape.batch * shape.channels * shape.spatial) as usize;
    // An offset mean and a spread, so that the statistics matter.
    let x: Vec<f32> = random(n, seed, 2.0).iter().map(|v| v + 0.7).collect();
    let (got, want) = group_norm_run(shape, x, dtype, silu, seed);
    assert_close(
        &got,
        &want,
        tolerance(dtype),
        &format!("group_norm {shape:?} silu={silu} {dtype:?}"),
    );
}

#[test]
fn group_norm_shapes() {
    let shapes = [
        (1, 48, 7 * 9, 16),   // odd spatial, 3 channels per group
        (2, 32, 5 * 5, 32),   // one channel per group
        (2, 37, 3 * 11, 1),   // one group, odd C
        (1, 64, 33 * 17, 32), // SD's 32 groups
        (3, 6, 1, 3),         // spatial 1
    ];
    for dtype in float_dtypes() {
        for (i, &(batch, channels, spatial, groups)) in shapes.iter().enumerate() {
            let shape = GroupNormShape {
                batch,
                channels,
                spatial,
                groups,
            };
            group_norm_case(shape, dtype, false, 100 + i as u64);
            group_norm_case(shape, dtype, true, 200 + i as u64);
        }
    }
}

#[test]
fn group_norm_large_groups_use_many_splits() {
    // 32 channels × 96² in 1 group = 294 912 elements per group, and 16 groups of 18 432: both split.
    for (groups, seed) in [(1, 300), (16, 301)] {
        let shape = GroupNormShape {
            batch: 1,
            channels: 32,
            spatial: 96 * 96,
            groups,
        };
        group_norm_case(shape, DType::F32, true, seed);
    }
}

#[test]
fn group_norm_vae_size_group() {
    // The VAE decoder's largest case: 32 channels × 512² = 8 M elements in one group (at the full 512²
    // resolution with 128 channels and 32 groups, each group has 4 × 512² = 1 M). Separate buffers only,
    // for time.
    let shape = GroupNormShape {
        batch: 1,
        channels: 32,
        spatial: 512 * 512,
        groups: 1,
    };
    let n = 32 * 512 * 512;
    let x: Vec<f32> = random(n, 400, 1.0).iter().map(|v| v * 3.0 + 5.0).collect();
    let gamma = random(32, 401, 1.5);
    let beta = random(32, 402, 0.5);
    let want = cpu::group_norm(&x, &gamma, &beta, 1, 32, 512 * 512, 1, 1e-6, true);
    let out = run_layout(
        &[
            Input {
                name: "x",
                data: x,
                dtype: DType::F32,
            },
            Input {
                name: "gamma",
                data: gamma,
                dtype: DType::F32,
            },
            Input {
                name: "beta",
                data: beta,
                dtype: DType::F32,
            },
        ],
        &[
            Output {
                name: "y",
                len: n,
                dtype: DType::F32,
            },
            Output {
                name: "scratch",
                len: k::group_norm_scratch_len(shape) as usize,
                dtype: DType::F32,
            },
        ],
        Layout::Separate,
        &|g, p, v| {
            let t = NormTensors {
                x: &v[0],
                gamma: &v[1],
                beta: &v[2],
                y: &v[3],
            };
            Ok(k::group_norm(g, p, t, &v[4], shape, 1e-6, true)?.into())
        },
    );
    assert_close(&out[0], &want, 1e-5, "group_norm 8 M-element group");
}

#[test]
fn group_norm_is_stable_with_a_large_mean() {
    // Mean 1000, spread 1e-2: a sum-of-squares formula would lose every digit of the variance in f32.
    let shape = GroupNormShape {
        batch: 1,
        channels: 8,
        spatial: 40 * 40,
        groups: 2,
    };
    let x: Vec<f32> = random(8 * 1600, 500, 1e-2)
        .iter()
        .map(|v| v + 1000.0)
        .collect();
    let (got, want) = group_norm_run(shape, x, DType::F32, false, 500);
    // A mean rounded to f32 would be off by up to 3e-5, 0.5 % of the spread (relative error 5e-3); the
    // kernel works on x − x0 and keeps the usual tolerance.
    assert_close(&got, &want, 1e-5, "group_norm with mean 1000");
}

#[test]
fn group_norm_scratch_is_validated() {
    let g = gpu();
    let arena = wgsd::gpu::kernels::ParamArena::new(g, 4);
    let shape = GroupNormShape {
        batch: 1,
        channels: 4,
        spatial: 9,
        groups: 2,
    };
    let x = g.upload("x", &[1.0; 36], DType::F32).unwrap();
    let gb = g.upload("gamma", &[1.0; 4], DType::F32).unwrap();
    let y = g.upload("y", &[0.0; 36], DType::F32).unwrap();
    let scratch = g.upload("scratch", &[0.0; 3], DType::F32).unwrap();
    let t = NormTensors {
        x: &x,
        gamma: &gb,
        beta: &gb,
        y: &y,
    };
    let err = k::group_norm(g, &arena, t, &scratch, shape, 1e-5, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("scratch"), "{err}");
    let bad = GroupNormShape { groups: 3, ..shape };
    assert_eq!(k::group_norm_scratch_len(bad), 0);
    assert!(k::group_norm(g, &arena, t, &scratch, bad, 1e-5, false).is_err());
}

fn layer_norm_case(rows: usize, width: usize, dtype: DType, seed: u64) {
    layer_norm_data(rows, width, dtype, seed, 2.0, -0.3);
}

fn layer_norm_data(rows: usize, width: usize, dtype: DType, seed: u64, spread: f32, mean: f32) {
    layer_norm_threads(rows, width, dtype, seed, (spread, mean), None);
}

/// One layer-norm case; `threads` None is the adapter's choice.
fn layer_norm_threads(
    rows: usize,
    width: usize,
    dtype: DType,
    seed: u64,
    (spread, mean): (f32, f32),
    threads: Option<u32>,
) {
    let x: Vec<f32> = random(rows * width, seed, spread)
        .iter()
        .map(|v| v + mean)
        .collect();
    let x = quantize(&x, dtype);
    let gamma = quantize(&random(width, seed + 1, 1.5), dtype);
    let beta = quantize(&random(width, seed + 2, 0.5), dtype);
    let want = cpu::layer_norm(&x, &gamma, &beta, width, 1e-5);
    let out = run_both(
        &[
            Input {
                name: "x",
                data: x,
                dtype,
            },
            Input {
                name: "gamma",
                data: gamma,
                dtype,
            },
            Input {
                name: "beta",
                data: beta,
                dtype,
            },
        ],
        &[Output {
            name: "y",
            len: rows * width,
            dtype,
        }],
        &|g, p, v| {
            let t = NormTensors {
                x: &v[0],
                gamma: &v[1],
                beta: &v[2],
                y: &v[3],
            };
            Ok(vec![match threads {
                None => k::layer_norm(g, p, t, width as u32, 1e-5)?,
                Some(n) => k::layer_norm_with(g, p, t, width as u32, 1e-5, n)?,
            }])
        },
    );
    assert_close(
        &out[0],
        &want,
        tolerance(dtype),
        &format!("layer_norm {rows}×{width} {dtype:?} threads {threads:?}"),
    );
}

#[test]
fn layer_norm_widths() {
    for dtype in float_dtypes() {
        layer_norm_case(2 * 77, 768, dtype, 600); // CLIP
        layer_norm_case(5, 33, dtype, 601);
        layer_norm_case(3, 769, dtype, 602);
        layer_norm_case(7, 1, dtype, 603);
        layer_norm_case(4, 1280, dtype, 604);
    }
}

#[test]
fn layer_norm_is_stable_with_a_large_mean() {
    layer_norm_data(6, 769, DType::F32, 700, 1e-2, 1000.0);
}

#[test]
fn group_norm_every_workgroup_size() {
    // The adapter picks 256 threads (GPU) or 32 (software); both, and the extremes, must agree.
    let shape = GroupNormShape {
        batch: 2,
        channels: 48,
        spatial: 37 * 29,
        groups: 16,
    };
    let n = (2 * 48 * 37 * 29) as usize;
    let x: Vec<f32> = random(n, 800, 2.0).iter().map(|v| v + 0.7).collect();
    let gamma = random(48, 801, 1.5);
    let beta = random(48, 802, 0.5);
    let want = cpu::group_norm(&x, &gamma, &beta, 2, 48, 37 * 29, 16, 1e-5, true);
    for threads in [1, 8, 32, 64, 256] {
        let out = run_both(
            &[
                Input {
                    name: "x",
                    data: x.clone(),
                    dtype: DType::F32,
                },
                Input {
                    name: "gamma",
                    data: gamma.clone(),
                    dtype: DType::F32,
                },
                Input {
                    name: "beta",
                    data: beta.clone(),
                    dtype: DType::F32,
                },
            ],
            &[
                Output {
                    name: "y",
                    len: n,
                    dtype: DType::F32,
                },
                Output {
                    name: "scratch",
                    len: k::group_norm_scratch_len(shape) as usize,
                    dtype: DType::F32,
                },
            ],
            &|g, p, v| {
                let t = NormTensors {
                    x: &v[0],
                    gamma: &v[1],
                    beta: &v[2],
                    y: &v[3],
                };
                let options = GroupNormOptions {
                    eps: 1e-5,
                    silu: true,
                    threads,
                };
                Ok(k::group_norm_with(g, p, t, &v[4], shape, options)?.into())
            },
        );
        assert_close(
            &out[0],
            &want,
            1e-5,
            &format!("group_norm, {threads} threads"),
        );
    }
    let g = gpu();
    let arena = wgsd::gpu::kernels::ParamArena::new(g, 4);
    let x = g.upload("x", &x, DType::F32).unwrap();
    let gb = g.upload("gamma", &gamma, DType::F32).unwrap();
    let s = g
        .upload(
            "s",
            &vec![0.0; k::group_norm_scratch_len(shape) as usize],
            DType::F32,
        )
        .unwrap();
    let t = NormTensors {
        x: &x,
        gamma: &gb,
        beta: &gb,
        y: &x,
    };
    let bad = GroupNormOptions {
        eps: 1e-5,
        silu: false,
        threads: 48,
    };
    assert!(k::group_norm_with(g, &arena, t, &s, shape, bad).is_err());
}

#[test]
fn layer_norm_every_workgroup_size() {
    // The adapter picks 128 threads (GPU) or 8 (software); all sizes must agree.
    for threads in [1, 8, 32, 128] {
        layer_norm_threads(9, 769, DType::F32, 900, (2.0, 0.5), Some(threads));
        layer_norm_threads(3, 5, DType::F32, 901, (2.0, 0.5), Some(threads));
    }
}

/// The reference of a group norm whose statistics are those of several tiles together: per (batch,
/// group), mean and biased variance over the group's elements in every tile of `tiles`, applied to
/// `x`.
#[allow(clippy::too_many_arguments)]
fn shared_reference(
    tiles: &[Vec<f32>],
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    shape: GroupNormShape,
    eps: f32,
    silu: bool,
) -> Vec<f32> {
    let cpg = (shape.channels / shape.groups) as usize;
    let len = cpg * shape.spatial as usize;
    let pairs = (shape.batch * shape.groups) as usize;
    let mut y = vec![0f32; x.len()];
    for pair in 0..pairs {
        let all = || tiles.iter().flat_map(|t| &t[pair * len..(pair + 1) * len]);
        let n = (len * tiles.len()) as f64;
        let mean = all().map(|&v| v as f64).sum::<f64>() / n;
        let var = all().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        let rstd = 1.0 / (var + eps as f64).sqrt();
        for i in 0..len {
            let c = (pair % shape.groups as usize) * cpg + i / shape.spatial as usize;
            let mut o = (x[pair * len + i] as f64 - mean) * rstd * gamma[c] as f64 + beta[c] as f64;
            if silu {
                o /= 1.0 + (-o).exp();
            }
            y[pair * len + i] = o as f32;
        }
    }
    y
}

/// A tiled phase's group norm with shared statistics, run slot by slot over a grid of three tiles
/// whose values differ in mean and spread: in the gathering pass each tile is normalised with the
/// statistics of the tiles so far, in the final pass with those of all three; the shared summary is
/// overwritten by the first tile, so stale values (poison) never enter it.
#[test]
fn group_norm_shares_statistics_across_tiles() {
    use wgsd::graph::TileGrid;
    let grid = TileGrid::new(4, 10, 4, 1).unwrap().with_shared_stats(true);
    assert_eq!((grid.count(), grid.slots()), (3, 6));
    let shape = GroupNormShape {
        batch: 2,
        channels: 12,
        spatial: 7 * 9,
        groups: 4,
    };
    let n = (shape.batch * shape.channels * shape.spatial) as usize;
    let (eps, silu) = (1e-5, true);
    for dtype in float_dtypes() {
        let tiles: Vec<Vec<f32>> = (0..3)
            .map(|t| {
                let x = random(n, 900 + t, 1.0 + t as f32);
                quantize(
                    &x.iter().map(|v| v + 0.8 * t as f32).collect::<Vec<_>>(),
                    dtype,
                )
            })
            .collect();
        let gamma = quantize(&random(12, 910, 1.5), dtype);
        let beta = quantize(&random(12, 911, 0.5), dtype);
        let mut inputs = vec![
            Input {
                name: "gamma",
                data: gamma.clone(),
                dtype,
            },
            Input {
                name: "beta",
                data: beta.clone(),
                dtype,
            },
        ];
        let names = ["x0", "x1", "x2"];
        for (t, x) in tiles.iter().enumerate() {
            inputs.push(Input {
                name: names[t],
                data: x.clone(),
                dtype,
            });
        }
        let out_names = [
            "gathering 0",
            "gathering 1",
            "gathering 2",
            "final 0",
            "final 1",
            "final 2",
        ];
        let mut outputs: Vec<Output> = out_names
            .iter()
            .map(|&name| Output {
                name,
                len: n,
                dtype,
            })
            .collect();
        outputs.push(Output {
            name: "scratch",
            len: k::group_norm_scratch_len(shape) as usize,
            dtype: DType::F32,
        });
        outputs.push(Output {
            name: "shared",
            len: k::group_norm_shared_len(shape) as usize,
            dtype: DType::F32,
        });
        let out = run_both(&inputs, &outputs, &|g, p, v| {
            let (scratch, shared) = (&v[11], &v[12]);
            let mut all = Vec::new();
            for slot in 0..grid.slots() {
                let (_, tile) = grid.slot(slot);
                let t = NormTensors {
                    x: &v[2 + tile as usize],
                    gamma: &v[0],
                    beta: &v[1],
                    y: &v[5 + slot as usize],
                };
                let mut d = k::group_norm_tiled(g, p, t, scratch, shared, shape, eps, silu)?
                    .into_vec()
                    .into_iter()
                    .map(Some)
                    .collect::<Vec<_>>();
                for &i in k::TiledGroupNorm::slot(&grid, slot) {
                    all.push(d[i].take().expect("each dispatch once"));
                }
            }
            Ok(all)
        });
        for slot in 0..6 {
            let tile = slot % 3;
            let seen = if slot < 3 {
                &tiles[..=tile]
            } else {
                &tiles[..]
            };
            let want = shared_reference(seen, &tiles[tile], &gamma, &beta, shape, eps, silu);
            assert_close(
                &out[slot],
                &want,
                tolerance(dtype),
                &format!("shared group_norm, {} {dtype:?}", out_names[slot]),
            );
        }
        // The summary holds all three tiles: 3 · (C/G) · spatial values per (batch, group).
        let count = 3.0 * 3.0 * shape.spatial as f32;
        assert!(
            out[7].chunks(4).all(|s| s[0] == count),
            "{:?}",
            &out[7][..4]
        );
    }
}
