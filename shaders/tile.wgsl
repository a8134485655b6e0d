// Tiled VAE: crop one tile out of a plane, and blend a decoded (or encoded) tile back into a plane.
//
// A tile grid covers a `full_h × full_w` plane with `tile_h × tile_w` tiles in raster order; tile
// (i, j) starts at (min(i·stride_h, full_h − tile_h), min(j·stride_w, full_w − tile_w)). Blending gives
// every tile a weight that ramps from 0 to 1 over `overlap` elements at its inner edges (edges on the
// plane's border keep weight 1), and leaves Σ_t w_t x_t / Σ_t w_t once every tile is in.

struct Params {
    planes: u32,    // batch × channels
    full_h: u32,    // the whole plane
    full_w: u32,
    tile_h: u32,    // one tile
    tile_w: u32,
    origin_y: u32,  // this tile's origin in the plane
    origin_x: u32,
    stride_h: u32,  // distance between tile origins before the last one is clamped to the edge
    stride_w: u32,
    overlap: u32,   // blend ramp length (0: flat weights)
    cols: u32,      // tiles per row
    tile: u32,      // this tile's raster index
    alpha: f32,     // crop: factor applied to the values
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> src_f32: array<f32>;  // crop_f32: [planes, full_h, full_w]
@group(0) @binding(2) var<storage, read_write> src: array<Elem>;     // crop: the plane; blend: the tile
@group(0) @binding(3) var<storage, read_write> dst: array<Elem>;     // crop: the tile; blend: the plane

const WG: u32 = 256u;

fn linear_index(lid: u32, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

// The plane index of element `i` of the tile [planes, tile_h, tile_w].
fn plane_index(i: u32) -> u32 {
    let c = i % p.tile_w;
    let r = (i / p.tile_w) % p.tile_h;
    let plane = i / (p.tile_w * p.tile_h);
    return (plane * p.full_h + p.origin_y + r) * p.full_w + p.origin_x + c;
}

@compute @workgroup_size(WG)
fn crop(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.planes * p.tile_h * p.tile_w) { return; }
    dst[i] = Elem(p.alpha * f32(src[plane_index(i)]));
}

@compute @workgroup_size(WG)
fn crop_f32(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.planes * p.tile_h * p.tile_w) { return; }
    dst[i] = Elem(p.alpha * src_f32[plane_index(i)]);
}

// The 1-D weight at offset `r` of a tile of length `len` starting at `origin` on an axis of `size`.
fn ramp(r: u32, origin: u32, len: u32, size: u32) -> f32 {
    if (p.overlap == 0u) { return 1.0; }
    var d = 0xffffffffu;
    if (origin > 0u) { d = r; }
    if (origin + len < size) { d = min(d, len - 1u - r); }
    return min(1.0, (f32(min(d, p.overlap)) + 0.5) / f32(p.overlap));
}

@compute @workgroup_size(WG)
fn blend(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
         @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.planes * p.tile_h * p.tile_w) { return; }
    let gy = p.origin_y + (i / p.tile_w) % p.tile_h;
    let gx = p.origin_x + i % p.tile_w;
    let own = ramp(gy - p.origin_y, p.origin_y, p.tile_h, p.full_h)
            * ramp(gx - p.origin_x, p.origin_x, p.tile_w, p.full_w);
    // The weights of the earlier tiles that cover this element: the running blend holds their
    // weighted mean, so this tile's share of the new mean is own / (own + theirs).
    var earlier = 0.0;
    var covered = false;
    for (var t = 0u; t < p.tile; t++) {
        let oy = min((t / p.cols) * p.stride_h, p.full_h - p.tile_h);
        let ox = min((t % p.cols) * p.stride_w, p.full_w - p.tile_w);
        if (gy >= oy && gy < oy + p.tile_h && gx >= ox && gx < ox + p.tile_w) {
            earlier += ramp(gy - oy, oy, p.tile_h, p.full_h) * ramp(gx - ox, ox, p.tile_w, p.full_w);
            covered = true;
        }
    }
    let j = plane_index(i);
    let x = f32(src[i]);
    // The first tile over an element writes it: the plane holds whatever the arena held before.
    if (covered) {
        dst[j] = Elem(mix(f32(dst[j]), x, own / (own + earlier)));
    } else {
        dst[j] = Elem(x);
    }
}
