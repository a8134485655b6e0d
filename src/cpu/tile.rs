//! References for the tiled-VAE kernels (`shaders/tile.wgsl`), written as the whole blend at once.

use crate::graph::TileGrid;

/// The 1-D blend weight at offset `r` of a tile of `len` starting at `origin` on an axis of `size`:
/// a ramp over `overlap` at inner edges, 1 elsewhere.
fn ramp(r: usize, origin: usize, len: usize, size: usize, overlap: usize) -> f64 {
    if overlap == 0 {
        return 1.0;
    }
    let left = if origin > 0 { r } else { usize::MAX };
    let right = if origin + len < size {
        len - 1 - r
    } else {
        usize::MAX
    };
    ((left.min(right).min(overlap) as f64 + 0.5) / overlap as f64).min(1.0)
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

/// Every tile of `grid` blended into one `[planes, H, W]` plane: `Σ_t w_t x_t / Σ_t w_t`.
pub fn blend(tiles: &[Vec<f32>], grid: &TileGrid, scale: u32) -> Vec<f32> {
    let (h, w) = (
        (grid.height * scale) as usize,
        (grid.width * scale) as usize,
    );
    let overlap = (grid.overlap * scale) as usize;
    let (_, _, th, tw) = window(grid, scale, 0);
    let planes = tiles[0].len() / (th * tw);
    let mut num = vec![0f64; planes * h * w];
    let mut den = vec![0f64; planes * h * w];
    for (t, tile) in tiles.iter().enumerate() {
        let (oy, ox, _, _) = window(grid, scale, t as u32);
        for p in 0..planes {
            for r in 0..th {
                for c in 0..tw {
                    let wgt = ramp(r, oy, th, h, overlap) * ramp(c, ox, tw, w, overlap);
                    let at = (p * h + oy + r) * w + ox + c;
                    num[at] += wgt * tile[(p * th + r) * tw + c] as f64;
                    den[at] += wgt;
                }
            }
        }
    }
    num.iter().zip(&den).map(|(n, d)| (n / d) as f32).collect()
}
