// Shape ops: nearest-neighbour 2× upsampling (NCHW), concatenation along channels (NCHW) and the swap of
// the last two dims [B, M, N] → [B, N, M].
//
// `Elem` (f32 or f16) is defined by the prelude the GPU layer prepends. Values are copied, never rounded.
// upsample2x and concat: one thread per output element, linear index `(wid.x + wid.y · nwg.x) · WG + lid`,
// guarded by `p.n`. transpose: 32×32 tiles through workgroup memory (coalesced reads and writes), grid
// (ceil(N / 32), ceil(M / 32), B).

struct Params {
    n: u32,   // upsample2x, concat: output elements
    d0: u32,  // upsample2x: H (input rows); concat: Ca·H·W; transpose: M
    d1: u32,  // upsample2x: W (input columns); concat: Cb·H·W; transpose: N
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> src0: array<Elem>;  // x (upsample2x, transpose) / a (concat)
@group(0) @binding(2) var<storage, read_write> src1: array<Elem>;  // b (concat only)
@group(0) @binding(3) var<storage, read_write> dst: array<Elem>;   // y

const WG: u32 = 256u;
const TILE: u32 = 32u;  // transpose tile edge
const ROWS: u32 = 8u;   // transpose workgroup rows: each thread moves TILE / ROWS values

var<workgroup> tile: array<Elem, 1056>;  // [TILE, TILE + 1]: the odd stride avoids bank conflicts

fn linear_index(lid: u32, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn upsample2x(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.n) { return; }
    let h = p.d0;
    let w = p.d1;
    let ox = i % (2u * w);
    let oy = (i / (2u * w)) % (2u * h);
    let plane = i / (4u * h * w);  // b·C + c
    dst[i] = src0[(plane * h + oy / 2u) * w + ox / 2u];
}

@compute @workgroup_size(WG)
fn concat(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.n) { return; }
    let sa = p.d0;
    let sb = p.d1;
    let b = i / (sa + sb);
    let r = i % (sa + sb);
    if (r < sa) {
        dst[i] = src0[b * sa + r];
    } else {
        dst[i] = src1[b * sb + r - sa];
    }
}

@compute @workgroup_size(TILE, ROWS)
fn transpose(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let m = p.d0;
    let n = p.d1;
    let base = wid.z * m * n;
    let m0 = wid.y * TILE;
    let n0 = wid.x * TILE;
    for (var r = lid.y; r < TILE; r += ROWS) {
        if (m0 + r < m && n0 + lid.x < n) {
            tile[r * (TILE + 1u) + lid.x] = src0[base + (m0 + r) * n + n0 + lid.x];
        }
    }
    workgroupBarrier();
    for (var r = lid.y; r < TILE; r += ROWS) {
        if (n0 + r < n && m0 + lid.x < m) {
            dst[base + (n0 + r) * m + m0 + lid.x] = tile[lid.x * (TILE + 1u) + r];
        }
    }
}
