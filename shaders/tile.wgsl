// Tiled VAE: crop one tile out of a plane, and blend a decoded (or encoded) tile back into a plane.
//
// A tile grid covers a `full_h × full_w` plane with `tile_h × tile_w` tiles in raster order, `rows ×
// cols` of them, spread evenly: along an axis of `size` latents with tiles of `len`, tile i of n starts
// at latent (i·(size − len) + (n − 1)/2) / (n − 1), times `scale` in elements. Blending gives every tile
// a weight, the product of one per axis: across each overlap of O elements with a neighbour, 0 over
// the O/4 nearest the tile's edge (which the zero padding at the tile border corrupts), then a ramp to
// 1 over the middle half; 1 elsewhere (and at the plane's border). Once every tile is in, the plane is
// Σ_t w_t x_t / Σ_t w_t. `src/cpu/tile.rs` is the reference.

struct Params {
    planes: u32,    // batch × channels
    full_h: u32,    // the whole plane
    full_w: u32,
    tile_h: u32,    // one tile
    tile_w: u32,
    origin_y: u32,  // this tile's origin in the plane
    origin_x: u32,
    rows: u32,      // tiles per column
    scale: u32,     // elements per latent
    _pad3: u32,
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

// Where tile i of n starts, in elements, on an axis of `size` elements with tiles of `len`.
fn axis_origin(i: u32, n: u32, size: u32, len: u32) -> u32 {
    if (n <= 1u) { return 0u; }
    let latents = size / p.scale - len / p.scale;
    return (i * latents + (n - 1u) / 2u) / (n - 1u) * p.scale;
}

// The weight at distance `d` from a tile's edge inside an overlap of `overlap` elements.
fn edge(d: u32, overlap: u32) -> f32 {
    let margin = overlap / 4u;
    let ramp = overlap - 2u * margin;
    if (ramp == 0u) { return 1.0; }
    if (d < margin) { return 0.0; }
    return min(1.0, (f32(d - margin) + 0.5) / f32(ramp));
}

// The 1-D weight at offset `r` of tile `i` of `n` on an axis of `size` elements with tiles of `len`.
fn ramp(r: u32, i: u32, n: u32, size: u32, len: u32) -> f32 {
    let o = axis_origin(i, n, size, len);
    var w = 1.0;
    if (i > 0u) {
        w = min(w, edge(r, axis_origin(i - 1u, n, size, len) + len - o));
    }
    if (i + 1u < n) {
        w = min(w, edge(len - 1u - r, o + len - axis_origin(i + 1u, n, size, len)));
    }
    return w;
}

@compute @workgroup_size(WG)
fn blend(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
         @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.planes * p.tile_h * p.tile_w) { return; }
    let gy = p.origin_y + (i / p.tile_w) % p.tile_h;
    let gx = p.origin_x + i % p.tile_w;
    let own = ramp(gy - p.origin_y, p.tile / p.cols, p.rows, p.full_h, p.tile_h)
            * ramp(gx - p.origin_x, p.tile % p.cols, p.cols, p.full_w, p.tile_w);
    // The weights of the earlier tiles that cover this element: the running blend holds their
    // weighted mean, so this tile's share of the new mean is own / (own + theirs).
    var earlier = 0.0;
    var covered = false;
    for (var t = 0u; t < p.tile; t++) {
        let ti = t / p.cols;
        let tj = t % p.cols;
        let oy = axis_origin(ti, p.rows, p.full_h, p.tile_h);
        let ox = axis_origin(tj, p.cols, p.full_w, p.tile_w);
        if (gy >= oy && gy < oy + p.tile_h && gx >= ox && gx < ox + p.tile_w) {
            earlier += ramp(gy - oy, ti, p.rows, p.full_h, p.tile_h)
                     * ramp(gx - ox, tj, p.cols, p.full_w, p.tile_w);
            covered = true;
        }
    }
    let j = plane_index(i);
    let x = f32(src[i]);
    // The first tile over an element writes it: the plane holds whatever the arena held before.
    // Where this tile and the earlier ones all weigh 0, a later tile weighs more than 0 and replaces
    // the value.
    if (covered) {
        let total = own + earlier;
        dst[j] = Elem(mix(f32(dst[j]), x, select(own / total, 0.0, total == 0.0)));
    } else {
        dst[j] = Elem(x);
    }
}
