//! Tiled-VAE kernels against the CPU reference, on odd planes and tiles. Tolerances: the crop is exact
//! in f32 (one multiply) and within f16 rounding (relative L2 ≤ 2e-3); the blend, run tile by tile as
//! the executor does, matches the reference's one-shot weighted mean to relative L2 ≤ 1e-6 in f32 and
//! ≤ 2e-3 in f16. The shared layout starts the blended plane as NaN: every element must be written by
//! the first tile over it, never mixed with what was there.

mod common;

use common::*;
use wgsd::cpu::tile as cpu;
use wgsd::gpu::kernels::tile as k;
use wgsd::graph::{DType, TileGrid};

/// (plane h, w, tile, overlap, scale): odd planes, tiles that do and do not divide them, no overlap,
/// one tile, and a VAE factor.
const GRIDS: [(u32, u32, u32, u32, u32); 5] = [
    (13, 11, 5, 2, 1),
    (9, 7, 4, 1, 3),
    (10, 10, 6, 0, 1),
    (5, 7, 8, 3, 2),
    (11, 6, 4, 3, 1),
];
const PLANES: usize = 3;

#[test]
fn grids_cover_the_plane_in_raster_order() {
    for (h, w, tile, overlap, _) in GRIDS {
        let g = TileGrid::new(h, w, tile, overlap).unwrap();
        let mut covered = vec![false; (h * w) as usize];
        for t in 0..g.count() {
            let (oy, ox) = g.origin(t);
            assert!(oy + g.tile_h <= h && ox + g.tile_w <= w, "{g:?} tile {t}");
            for r in oy..oy + g.tile_h {
                for c in ox..ox + g.tile_w {
                    covered[(r * w + c) as usize] = true;
                }
            }
        }
        assert!(covered.iter().all(|&c| c), "{g:?} leaves a hole");
        // Evenly spread: the first tile at 0, the last at the edge, neighbours sharing ≥ overlap.
        for (n, size, len) in [(g.rows(), h, g.tile_h), (g.cols(), w, g.tile_w)] {
            let at = |i| TileGrid::axis_origin(i, n, size, len);
            assert_eq!((at(0), at(n - 1) + len), (0, size.max(len)), "{g:?}");
            for i in 1..n {
                let stride = at(i) - at(i - 1);
                assert!(
                    stride > 0 && stride <= len - overlap,
                    "{g:?} axis {size}: {stride}"
                );
            }
        }
        assert!(g.overhead() >= 1.0);
    }
    assert!(TileGrid::new(16, 16, 4, 4).is_err(), "no stride");
    assert_eq!(TileGrid::new(8, 8, 16, 20).unwrap().count(), 1);
}

#[test]
fn crop_matches_the_reference() {
    for (h, w, tile, overlap, s) in GRIDS {
        let g = TileGrid::new(h, w, tile, overlap).unwrap();
        let plane = random(PLANES * (h * s * w * s) as usize, 7, 1.5);
        let tile_len = PLANES * (g.tile_h * s * g.tile_w * s) as usize;
        for dtype in float_dtypes() {
            for src in [DType::F32, dtype] {
                for t in [0, g.count() / 2, g.count() - 1] {
                    let x = quantize(&plane, src);
                    let out = run_both(
                        &[Input {
                            name: "plane",
                            data: x.clone(),
                            dtype: src,
                        }],
                        &[Output {
                            name: "tile",
                            len: tile_len,
                            dtype,
                        }],
                        &|gpu, p, v| Ok(vec![k::crop(gpu, p, &v[0], &v[1], &g, s, 0.7, t)?]),
                    );
                    let want = quantize(&cpu::crop(&x, &g, s, t, 0.7), dtype);
                    let tol = if dtype == DType::F16 { 2e-3 } else { 0.0 };
                    assert_close(
                        &out[0],
                        &want,
                        tol,
                        &format!("crop {g:?}×{s} tile {t} {src:?}→{dtype:?}"),
                    );
                }
            }
        }
    }
}

#[test]
fn blending_every_tile_matches_the_weighted_mean() {
    for (h, w, tile, overlap, s) in GRIDS {
        let g = TileGrid::new(h, w, tile, overlap).unwrap();
        let tile_len = PLANES * (g.tile_h * s * g.tile_w * s) as usize;
        let plane_len = PLANES * (h * s * w * s) as usize;
        for dtype in float_dtypes() {
            // Tiles that disagree where they overlap, as independently decoded tiles do.
            let tiles: Vec<Vec<f32>> = (0..g.count())
                .map(|t| quantize(&random(tile_len, 100 + t as u64, 1.0), dtype))
                .collect();
            let names: Vec<&'static str> = (0..tiles.len())
                .map(|t| &*format!("tile{t}").leak())
                .collect();
            let inputs: Vec<Input> = tiles
                .iter()
                .zip(&names)
                .map(|(d, &name)| Input {
                    name,
                    data: d.clone(),
                    dtype,
                })
                .collect();
            let n = tiles.len();
            let out = run_both(
                &inputs,
                &[Output {
                    name: "plane",
                    len: plane_len,
                    dtype,
                }],
                &|gpu, p, v| {
                    (0..n as u32)
                        .map(|t| k::blend(gpu, p, &v[t as usize], &v[n], &g, s, t))
                        .collect()
                },
            );
            let want = cpu::blend(&tiles, &g, s);
            let tol = if dtype == DType::F16 { 2e-3 } else { 1e-6 };
            assert_close(&out[0], &want, tol, &format!("blend {g:?}×{s} {dtype:?}"));
        }
    }
}

#[test]
fn a_tile_outside_the_grid_is_an_error() {
    let g = TileGrid::new(8, 8, 4, 1).unwrap();
    let gpu = gpu();
    let p = wgsd::gpu::kernels::ParamArena::new(gpu, 4);
    let a = gpu.create_storage("a", 4 * 16).unwrap();
    let b = gpu.create_storage("b", 4 * 64).unwrap();
    let tile = wgsd::gpu::TensorView::new(&a, 0, 16, DType::F32, "tile");
    let plane = wgsd::gpu::TensorView::new(&b, 0, 64, DType::F32, "plane");
    let err = k::blend(gpu, &p, &tile, &plane, &g, 1, g.count()).unwrap_err();
    assert!(err.to_string().contains("outside"), "{err}");
}
