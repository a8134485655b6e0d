//! Tiled-VAE kernels (`shaders/tile.wgsl`): crop one tile out of a plane, blend a tile back in.

use crate::error::{Error, Result};
use crate::gpu::shaders::TILE;
use crate::gpu::{Gpu, TensorView};
use crate::graph::{DType, TileGrid};

use super::{dispatch, expect_len, grid_1d, Dispatch, ParamArena};

const WG: u64 = 256;

/// Mirrors `Params` in `shaders/tile.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    planes: u32,
    full_h: u32,
    full_w: u32,
    tile_h: u32,
    tile_w: u32,
    origin_y: u32,
    origin_x: u32,
    rows: u32,
    scale: u32,
    _pad3: u32,
    cols: u32,
    tile: u32,
    alpha: f32,
    _pad: [u32; 3],
}

/// Tile `tile` of `grid`, every length scaled by `scale`, over `planes` planes.
fn params(grid: &TileGrid, scale: u32, tile: u32, planes: u32, alpha: f32) -> Result<Params> {
    if tile >= grid.count() {
        return Err(Error::Invalid(format!(
            "tile {tile} is outside the grid's {} tiles",
            grid.count()
        )));
    }
    let (oy, ox) = grid.origin(tile);
    Ok(Params {
        planes,
        full_h: grid.height * scale,
        full_w: grid.width * scale,
        tile_h: grid.tile_h * scale,
        tile_w: grid.tile_w * scale,
        origin_y: oy * scale,
        origin_x: ox * scale,
        rows: grid.rows(),
        scale,
        _pad3: 0,
        cols: grid.cols(),
        tile,
        alpha,
        _pad: [0; 3],
    })
}

/// Planes of a tile view, checking that `plane` (the whole plane) has as many.
fn planes(tile_view: &TensorView, plane: &TensorView, grid: &TileGrid, scale: u32) -> Result<u32> {
    let per_tile = u64::from(grid.tile_h * scale) * u64::from(grid.tile_w * scale);
    let per_plane = u64::from(grid.height * scale) * u64::from(grid.width * scale);
    let planes = tile_view.len / per_tile;
    expect_len(tile_view, planes * per_tile, "tile")?;
    expect_len(plane, planes * per_plane, "tiled plane")?;
    Ok(planes as u32)
}

/// `y = alpha · x[tile window]`: tile `tile` of `grid` (scaled by `scale`) out of `x`, converted to
/// `y`'s dtype. `x` is f32 or `y`'s dtype.
#[allow(clippy::too_many_arguments)]
pub fn crop(
    gpu: &Gpu,
    arena: &ParamArena,
    x: &TensorView,
    y: &TensorView,
    grid: &TileGrid,
    scale: u32,
    alpha: f32,
    tile: u32,
) -> Result<Dispatch> {
    let planes = planes(y, x, grid, scale)?;
    let p = params(grid, scale, tile, planes, alpha)?;
    let (entry, binding) = match x.dtype {
        d if d == y.dtype => ("crop", 2),
        DType::F32 => ("crop_f32", 1),
        d => {
            return Err(Error::Invalid(format!(
                "tile crop: cannot convert {} ({d:?}) to {:?}",
                x.name, y.dtype
            )))
        }
    };
    let pipeline = gpu.pipeline(&TILE, entry, y.dtype, &[])?;
    let grid = grid_1d(gpu, y.len.div_ceil(WG), "tile crop")?;
    dispatch(
        gpu,
        format!("tile crop {tile}"),
        pipeline,
        arena.push(gpu, &p)?,
        &[(binding, x), (3, y)],
        grid,
    )
}

/// Blends tile `tile` of `grid` (`x`, scaled by `scale`) into `y` in place; run tiles in order
/// 0, 1, … so that `y` ends as the weighted mean of every tile over it.
pub fn blend(
    gpu: &Gpu,
    arena: &ParamArena,
    x: &TensorView,
    y: &TensorView,
    grid: &TileGrid,
    scale: u32,
    tile: u32,
) -> Result<Dispatch> {
    let planes = planes(x, y, grid, scale)?;
    if x.dtype != y.dtype {
        return Err(Error::Invalid(format!(
            "tile blend: {} is {:?} but {} is {:?}",
            x.name, x.dtype, y.name, y.dtype
        )));
    }
    let p = params(grid, scale, tile, planes, 1.0)?;
    let pipeline = gpu.pipeline(&TILE, "blend", y.dtype, &[])?;
    let wg = grid_1d(gpu, x.len.div_ceil(WG), "tile blend")?;
    dispatch(
        gpu,
        format!("tile blend {tile}"),
        pipeline,
        arena.push(gpu, &p)?,
        &[(2, x), (3, y)],
        wg,
    )
}
