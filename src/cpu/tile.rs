//! References for the tiled-VAE kernels (`shaders/tile.wgsl`), written as the whole blend at once.

use crate::graph::TileGrid;

/// The weight at distance `d` (elements) from a tile's edge inside an overlap of `overlap` elements
/// with its neighbour: 0 over the quarter nearest the edge, then a ramp to 1 over the middle half.
/// The neighbour's weight at the same element is this with `overlap - 1 - d`: where one is 0 the
/// other is 1, so every element keeps a positive total weight.
fn edge(d: u32, overlap: u32) -> f64 {
    let margin = overlap / 4;
    let ramp = overlap - 2 * margin;
    if ramp == 0 {
        1.0
    } else if d < margin {
        0.0
    } else {
        ((f64::from(d - margin) + 0.5) / f64::from(ramp)).min(1.0)
    }
}

/// The 1-D blend weight at offset `r` (elements) of tile `i` of `n` on an axis of `size` latents with
/// tiles of `len` latents, lengths scaled by `scale`: [`edge`] at each inner edge.
fn ramp(r: u32, i: u32, n: u32, (size, len, scale): (u32, u32, u32)) -> f64 {
    let at = |i: u32| TileGrid::axis_origin(i, n, size, len) * scale;
    let (o, l) = (at(i), len * scale);
    let mut w = 1.0f64;
    if i > 0 {
        w = w.min(edge(r, at(i - 1) + l - o));
    }
    if i + 1 < n {
        w = w.min(edge(l - 1 - r, o + l - at(i + 1)));
    }
    w
}

/// `(origin_y, origin_x)` of tile `t` in elements, and the tile's `(h, w)`.
fn window(grid: &TileGrid, scale: u32, t: u32) -> (usize, usize, usize, usize) {
    let (oy, ox) = grid.origin(t);
    let s = scale as usize;
    (
        oy as usize * s,
        ox as usize * s,
        grid.tile_h as usize * s,
        grid.tile_w as usize * s,
    )
}

/// Tile `t` of `grid` (scaled by `scale`) out of `x` `[planes, H, W]`, times `alpha`.
pub fn crop(x: &[f32], grid: &TileGrid, scale: u32, t: u32, alpha: f32) -> Vec<f32> {
    let (oy, ox, th, tw) = window(grid, scale, t);
    let (h, w) = (
        (grid.height * scale) as usize,
        (grid.width * scale) as usize,
    );
    x.chunks_exact(h * w)
        .flat_map(|plane| {
            (0..th).flat_map(move |r| {
                (0..tw).map(move |c| (alpha as f64 * plane[(oy + r) * w + ox + c] as f64) as f32)
            })
        })
        .collect()
}

/// Every tile of `grid` blended into one `[planes, H, W]` plane: `Σ_t w_t x_t / Σ_t w_t`, with
/// `w_t(y, x)` the product of one weight per axis. Along an axis, across each overlap of `O` elements
/// with a neighbour, a tile weighs 0 over the `O/4` elements nearest its edge, then ramps to 1 over
/// the middle half; elsewhere (and at the plane's border) it weighs 1.
pub fn blend(tiles: &[Vec<f32>], grid: &TileGrid, scale: u32) -> Vec<f32> {
    let (h, w) = (
        (grid.height * scale) as usize,
        (grid.width * scale) as usize,
    );
    let (_, _, th, tw) = window(grid, scale, 0);
    let planes = tiles[0].len() / (th * tw);
    let mut num = vec![0f64; planes * h * w];
    let mut den = vec![0f64; planes * h * w];
    let rows = (grid.height, grid.tile_h, scale);
    let cols = (grid.width, grid.tile_w, scale);
    for (t, tile) in tiles.iter().enumerate() {
        let (oy, ox, _, _) = window(grid, scale, t as u32);
        let (i, j) = (t as u32 / grid.cols(), t as u32 % grid.cols());
        for p in 0..planes {
            for r in 0..th {
                for c in 0..tw {
                    let wgt =
                        ramp(r as u32, i, grid.rows(), rows) * ramp(c as u32, j, grid.cols(), cols);
                    let at = (p * h + oy + r) * w + ox + c;
                    num[at] += wgt * tile[(p * th + r) * tw + c] as f64;
                    den[at] += wgt;
                }
            }
        }
    }
    num.iter().zip(&den).map(|(n, d)| (n / d) as f32).collect()
}
