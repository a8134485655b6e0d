// Normalisation kernels: group norm (a split reduction over two dispatches) and layer norm.
//
// `Elem` (f32 or f16) is defined by the prelude the GPU layer prepends; statistics are f32.
//
// Group norm. The elements of one (batch, group) pair are contiguous in NCHW: (C/G)·H·W of them. They are
// cut into `splits` chunks of `chunk` elements; grid = (splits, B·G).
// - `group_norm_stats`: each workgroup reduces its chunk to (count, mean, M2) and stores it in `partials`.
//   Each thread takes its values in blocks of four (exact two-pass mean and M2 in registers) and folds the
//   blocks in with Chan et al.'s pairwise update, so no sum of squares ever cancels. Both passes work on
//   x − x0, x0 the group's first element: with a mean far from zero (1000 ± 0.01) the subtraction is exact
//   and the mean of the differences keeps all its digits, which a mean rounded to f32 would not.
// - `group_norm_apply`: each workgroup merges the `splits` partials of its group (the same way), then
//   normalises its chunk: y = (x − mean) / sqrt(var + eps) · gamma[c] + beta[c], SiLU optionally fused.
//
// Group norm with statistics shared across the tiles of a tiled VAE: `tile_stats` holds one summary
// (count, mean, M2) of x itself per (batch, group), over every tile gathered so far.
// - `group_norm_gather` (grid (1, B·G)): merges this tile's partials (from `group_norm_stats`), shifts
//   the mean back by x0, and folds the summary into `tile_stats` (the first tile overwrites it).
// - `group_norm_apply_shared` (grid as `group_norm_apply`): normalises with the `tile_stats` summary.
//
// Layer norm: one workgroup per row of `width` elements (grid linear index `wid.x + wid.y · nwg.x`); the
// mean is reduced first, then Σ(x − mean)², then the row is written: three reads of a row, exact two-pass,
// on x − x0 with x0 the row's first element (as for group norm).

struct Params {
    groups: u32,        // group norm: B·G, the number of (batch, group) pairs
    group_len: u32,     // group norm: elements per pair, (C/G)·spatial
    chunk: u32,         // group norm: elements per split
    splits: u32,        // group norm: splits per pair (≤ WG_MAX)
    spatial: u32,       // group norm: H·W
    ch_per_group: u32,  // group norm: C/G
    num_groups: u32,    // group norm: G
    silu: u32,          // group norm: 1 to apply SiLU after the affine transform
    eps: f32,           // both
    rows: u32,          // layer norm: number of rows
    width: u32,         // layer norm: elements per row (the last dimension)
    first: u32,         // group_norm_gather: 1 to overwrite `tile_stats` rather than merge into it
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<Elem>;             // input
@group(0) @binding(2) var<storage, read_write> gamma: array<Elem>;         // scale [C] (group) / [width] (layer)
@group(0) @binding(3) var<storage, read_write> beta: array<Elem>;          // shift, same shape as gamma
@group(0) @binding(4) var<storage, read_write> y: array<Elem>;             // output, shape of x
@group(0) @binding(5) var<storage, read_write> partials: array<vec4<f32>>; // group norm scratch [B·G·splits]: (count, mean, M2, 0)
@group(0) @binding(6) var<storage, read_write> tile_stats: array<vec4<f32>>;   // shared statistics [B·G]: (count, mean, M2, 0) of x

override WG: u32 = 256u;  // group norm threads: a power of two ≤ WG_MAX (fewer on software adapters)
const WG_MAX: u32 = 256u;
override LN_WG: u32 = 128u;  // layer norm threads: a power of two ≤ LN_WG_MAX (8 on software adapters)
const LN_WG_MAX: u32 = 128u;

var<workgroup> stats: array<vec3<f32>, WG_MAX>;  // (count, mean, M2) per thread
var<workgroup> sums: array<f32, LN_WG_MAX>;      // layer norm partial sums

// Chan, Golub & LeVeque's pairwise merge of (count, mean, M2) summaries.
fn merge(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> {
    let n = a.x + b.x;
    if (n == 0.0) {
        return vec3<f32>(0.0);
    }
    let delta = b.y - a.y;
    let wb = b.x / n;
    return vec3<f32>(n, a.y + delta * wb, a.z + b.z + delta * delta * a.x * wb);
}

// Merges every thread's summary; all threads get the result.
fn reduce_stats(lid: u32, s: vec3<f32>) -> vec3<f32> {
    stats[lid] = s;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (lid < step) {
            stats[lid] = merge(stats[lid], stats[lid + step]);
        }
        workgroupBarrier();
    }
    let r = stats[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(WG)
fn group_norm_stats(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let split = wid.x;
    let pair = wid.y;
    if (pair >= p.groups || split >= p.splits) { return; }
    let base = pair * p.group_len;
    let start = split * p.chunk;
    let end = min(start + p.chunk, p.group_len);
    let x0 = f32(x[base]);
    var acc = vec3<f32>(0.0);
    for (var i = start + lid; i < end; i += 4u * WG) {
        // A block of up to four values i, i + WG, i + 2 WG, i + 3 WG (coalesced across threads).
        var v = vec4<f32>(f32(x[base + i]) - x0, 0.0, 0.0, 0.0);
        var mask = vec4<f32>(1.0, 0.0, 0.0, 0.0);
        if (i + WG < end) { v.y = f32(x[base + i + WG]) - x0; mask.y = 1.0; }
        if (i + 2u * WG < end) { v.z = f32(x[base + i + 2u * WG]) - x0; mask.z = 1.0; }
        if (i + 3u * WG < end) { v.w = f32(x[base + i + 3u * WG]) - x0; mask.w = 1.0; }
        let n = dot(mask, vec4<f32>(1.0));
        let mean = dot(v, mask) / n;
        let d = (v - vec4<f32>(mean)) * mask;
        acc = merge(acc, vec3<f32>(n, mean, dot(d, d)));
    }
    let total = reduce_stats(lid, acc);
    if (lid == 0u) {
        partials[pair * p.splits + split] = vec4<f32>(total, 0.0);
    }
}

@compute @workgroup_size(WG)
fn group_norm_apply(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let split = wid.x;
    let pair = wid.y;
    if (pair >= p.groups || split >= p.splits) { return; }
    let total = pair_stats(lid, pair);
    let rstd = 1.0 / sqrt(total.z / total.x + p.eps);
    normalise_chunk(lid, split, pair, f32(x[pair * p.group_len]), total.y, rstd);
}

// y = (x − mean) · rstd · gamma[c] + beta[c] (SiLU optionally) over the chunk `split` of pair `pair`,
// with `mean` the mean of x − x0.
fn normalise_chunk(lid: u32, split: u32, pair: u32, x0: f32, mean: f32, rstd: f32) {
    let base = pair * p.group_len;
    let c0 = (pair % p.num_groups) * p.ch_per_group;
    let start = split * p.chunk;
    let end = min(start + p.chunk, p.group_len);
    // The channel of element i is c0 + i / spatial; it is tracked incrementally (one integer division per
    // thread instead of one per element: CPU adapters have no vector integer division).
    let first = start + lid;
    var c = c0 + first / p.spatial;
    var r = first % p.spatial;
    let step_c = WG / p.spatial;
    let step_r = WG % p.spatial;
    for (var i = first; i < end; i += WG) {
        let scale = rstd * f32(gamma[c]);
        var v = ((f32(x[base + i]) - x0) - mean) * scale + f32(beta[c]);
        if (p.silu == 1u) {
            v = v / (1.0 + exp(-v));
        }
        y[base + i] = Elem(v);
        c += step_c;
        r += step_r;
        if (r >= p.spatial) {
            r -= p.spatial;
            c += 1u;
        }
    }
}

// Merges the `splits` partials of pair `pair`; all threads get the summary (of x − x0).
fn pair_stats(lid: u32, pair: u32) -> vec3<f32> {
    var mine = vec3<f32>(0.0);
    for (var s = lid; s < p.splits; s += WG) {
        mine = merge(mine, partials[pair * p.splits + s].xyz);
    }
    return reduce_stats(lid, mine);
}

@compute @workgroup_size(WG)
fn group_norm_gather(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let pair = wid.y;
    if (pair >= p.groups) { return; }
    let total = pair_stats(lid, pair);
    if (lid == 0u) {
        let tile = vec3<f32>(total.x, total.y + f32(x[pair * p.group_len]), total.z);
        if (p.first == 1u) {
            tile_stats[pair] = vec4<f32>(tile, 0.0);
        } else {
            tile_stats[pair] = vec4<f32>(merge(tile_stats[pair].xyz, tile), 0.0);
        }
    }
}

@compute @workgroup_size(WG)
fn group_norm_apply_shared(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let split = wid.x;
    let pair = wid.y;
    if (pair >= p.groups || split >= p.splits) { return; }
    let s = tile_stats[pair].xyz;
    normalise_chunk(lid, split, pair, 0.0, s.y, 1.0 / sqrt(s.z / s.x + p.eps));
}

// Sum over the workgroup of layer norm; all threads get the result.
fn reduce_sum(lid: u32, s: f32) -> f32 {
    sums[lid] = s;
    workgroupBarrier();
    for (var step = LN_WG / 2u; step > 0u; step = step / 2u) {
        if (lid < step) {
            sums[lid] = sums[lid] + sums[lid + step];
        }
        workgroupBarrier();
    }
    let r = sums[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(LN_WG)
fn layer_norm(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= p.rows) { return; }
    let w = p.width;
    let base = row * w;
    let x0 = f32(x[base]);
    var s = 0.0;
    for (var i = lid; i < w; i += LN_WG) {
        s += f32(x[base + i]) - x0;
    }
    let mean = reduce_sum(lid, s) / f32(w);  // of x − x0
    var s2 = 0.0;
    for (var i = lid; i < w; i += LN_WG) {
        let d = (f32(x[base + i]) - x0) - mean;
        s2 += d * d;
    }
    let rstd = 1.0 / sqrt(reduce_sum(lid, s2) / f32(w) + p.eps);
    for (var i = lid; i < w; i += LN_WG) {
        let d = (f32(x[base + i]) - x0) - mean;
        y[base + i] = Elem(d * rstd * f32(gamma[i]) + f32(beta[i]));
    }
}
