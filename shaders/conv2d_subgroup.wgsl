// 2-D convolution (NCHW, square kernel, k ∈ {1, 3}, stride ∈ {1, 2}, zero padding) for software
// adapters (lavapipe): the implicit GEMM of shaders/conv2d.wgsl (same `Params`) computed with the
// register tiling of shaders/matmul_subgroup.wgsl:
//
//   y[b, co, pix] = bias[co] + Σ_kk weight[co, kk] · col(b, kk, pix)
//
// A workgroup is 8 invocations (one subgroup wherever subgroups have ≥ 8 lanes) and computes 32 output
// channels × 32 output pixels: lane l owns pixels n0 + 4l .. 4l+3. K = (ci, ky, kx) is walked in chunks
// of 32: each lane gathers its 4 pixels' input taps for the chunk once (the kernel size KS is an override
// constant, so splitting k into (ci, ky, kx) is multiplication, not division), then for each of the 32 channels lane l loads
// weight[co, k0 + 4l .. 4l+3] and the chunk's 32 weights reach every lane by 8 broadcasts from constant
// lanes (`subgroup_invocation_id`, so nothing depends on the subgroup size beyond ≥ 8).
//
// `conv3x3` and `conv1x1` are the fast paths for the two convolutions that carry nearly all of SD's
// work, on aligned shapes (the Rust side picks them; every other convolution runs `conv2d`):
// - `conv3x3`: kernel 3, stride 1, padding 1 on every side; W and Ci multiples of 4;
// - `conv1x1`: kernel 1, stride 1, no padding; H·W and Ci multiples of 4.
// They tile the same way, but every load is a whole, unguarded vec4, through `x4` and `weight4`, the
// same bindings typed as vec4 arrays (each entry point uses one typing). On lavapipe a storage load goes
// lane by lane with a bounds check, so four guarded scalars cost about four times one vec4:
// - A lane's 4 pixels are 4 neighbours in one row (W is a multiple of 4), so for each input channel
//   and kernel row the 12 taps kx = 0, 1, 2 come from one aligned quad of the input row and one value
//   of each neighbouring quad. Padding is a `select` on masks computed once per lane: indices are
//   clamped into the tensor, never guarded by branches.
// - `conv3x3` walks K in chunks of 4 input channels × 9 taps = 36: lane l broadcasts its weight quad
//   k0 + 4l .. 4l+3, and the chunk's ninth quad (k0 + 32 .. 35) is a load all lanes share.
// - `conv1x1` is a plain GEMM over channels, in chunks of 32.

struct Params {
    m: u32,          // output channels Co (GEMM rows)
    n: u32,          // output pixels OH · OW (GEMM columns)
    k: u32,          // Ci · KS · KS (reduced dimension)
    batch: u32,      // images
    tiles_m: u32,    // ceil(m / tile rows)
    tiles_n: u32,    // ceil(n / tile columns)
    has_bias: u32,   // 1: bias[co] added
    ks: u32,         // kernel size (1 or 3; the shader uses the override KS, equal to it)
    c_in: u32,       // input channels Ci
    h: u32,          // input height
    w: u32,          // input width
    out_w: u32,      // output width OW
    stride: u32,     // 1 or 2
    pad: u32,        // zero rows/columns before the input (padding after is implied by OH, OW)
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<Elem>;       // [B, Ci, H, W]
@group(0) @binding(2) var<storage, read_write> weight: array<Elem>;  // [Co, Ci, KS, KS] = [Co, K]
@group(0) @binding(3) var<storage, read_write> bias: array<Elem>;    // [Co] (a dummy view when has_bias = 0)
@group(0) @binding(4) var<storage, read_write> y: array<Elem>;       // [B, Co, OH, OW]
@group(0) @binding(1) var<storage, read_write> x4: array<vec4<Elem>>;       // `x` for conv3x3 / conv1x1
@group(0) @binding(2) var<storage, read_write> weight4: array<vec4<Elem>>;  // `weight` for conv3x3 / conv1x1

override KS: u32 = 3u;   // kernel size (1 or 3)
const TM: u32 = 32u;     // tile rows (output channels)
const LANES: u32 = 8u;   // invocations per workgroup; tile columns = 4 · LANES pixels
const KC: u32 = 32u;     // K per chunk = 4 · LANES

// This lane's 4 output pixels: the top-left corner of each one's window in padded input coordinates,
// and whether the pixel exists (the last tile's may not).
struct Pixels {
    oy: vec4<u32>,
    ox: vec4<u32>,
    live: vec4<bool>,
}

// weight[row + k .. k+3] (row = co · K), zero outside K.
fn load_weight4(row: u32, k: u32) -> vec4<f32> {
    if (k + 3u < p.k) {
        return vec4<f32>(f32(weight[row + k]), f32(weight[row + k + 1u]), f32(weight[row + k + 2u]),
                         f32(weight[row + k + 3u]));
    }
    var v = vec4<f32>(0.0);
    for (var c = 0u; c < 4u; c++) {
        if (k + c < p.k) { v[c] = f32(weight[row + k + c]); }
    }
    return v;
}

// col(b, k, pixels): tap k = (ci, ky, kx) of this lane's 4 pixels, zero in the padding, past the last
// pixel and past K. `plane0` is the element index of image b's channel 0.
fn load_col4(plane0: u32, k: u32, px: ptr<function, Pixels>) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (k >= p.k) { return v; }
    let ci = k / (KS * KS);
    let ky = (k / KS) % KS;
    let kx = k % KS;
    let plane = plane0 + ci * p.h * p.w;
    for (var c = 0u; c < 4u; c++) {
        let iy = (*px).oy[c] + ky;
        let ix = (*px).ox[c] + kx;
        if ((*px).live[c] && iy >= p.pad && ix >= p.pad && iy - p.pad < p.h && ix - p.pad < p.w) {
            v[c] = f32(x[plane + (iy - p.pad) * p.w + ix - p.pad]);
        }
    }
    return v;
}

// One row's update for one chunk: s + Σ_kk weight[co, k0 + kk] · wk[kk], where lane j
// holds weight[co, k0 + 4j .. 4j+3] in `av`. Every index is a constant, so the compiler keeps `wk` in registers;
// `fma` makes each term one fused multiply-add.
fn row_step(s: vec4<f32>, av: vec4<f32>, wk: array<vec4<f32>, KC>) -> vec4<f32> {
    let a0 = subgroupBroadcast(av, 0u);
    let a1 = subgroupBroadcast(av, 1u);
    let a2 = subgroupBroadcast(av, 2u);
    let a3 = subgroupBroadcast(av, 3u);
    let a4 = subgroupBroadcast(av, 4u);
    let a5 = subgroupBroadcast(av, 5u);
    let a6 = subgroupBroadcast(av, 6u);
    let a7 = subgroupBroadcast(av, 7u);
    // Two independent chains, so consecutive fused multiply-adds do not wait on each other.
    var r0 = s;
    var r1 = vec4<f32>(0.0);
    r0 = fma(vec4<f32>(a0.x), wk[0], r0);
    r1 = fma(vec4<f32>(a0.y), wk[1], r1);
    r0 = fma(vec4<f32>(a0.z), wk[2], r0);
    r1 = fma(vec4<f32>(a0.w), wk[3], r1);
    r0 = fma(vec4<f32>(a1.x), wk[4], r0);
    r1 = fma(vec4<f32>(a1.y), wk[5], r1);
    r0 = fma(vec4<f32>(a1.z), wk[6], r0);
    r1 = fma(vec4<f32>(a1.w), wk[7], r1);
    r0 = fma(vec4<f32>(a2.x), wk[8], r0);
    r1 = fma(vec4<f32>(a2.y), wk[9], r1);
    r0 = fma(vec4<f32>(a2.z), wk[10], r0);
    r1 = fma(vec4<f32>(a2.w), wk[11], r1);
    r0 = fma(vec4<f32>(a3.x), wk[12], r0);
    r1 = fma(vec4<f32>(a3.y), wk[13], r1);
    r0 = fma(vec4<f32>(a3.z), wk[14], r0);
    r1 = fma(vec4<f32>(a3.w), wk[15], r1);
    r0 = fma(vec4<f32>(a4.x), wk[16], r0);
    r1 = fma(vec4<f32>(a4.y), wk[17], r1);
    r0 = fma(vec4<f32>(a4.z), wk[18], r0);
    r1 = fma(vec4<f32>(a4.w), wk[19], r1);
    r0 = fma(vec4<f32>(a5.x), wk[20], r0);
    r1 = fma(vec4<f32>(a5.y), wk[21], r1);
    r0 = fma(vec4<f32>(a5.z), wk[22], r0);
    r1 = fma(vec4<f32>(a5.w), wk[23], r1);
    r0 = fma(vec4<f32>(a6.x), wk[24], r0);
    r1 = fma(vec4<f32>(a6.y), wk[25], r1);
    r0 = fma(vec4<f32>(a6.z), wk[26], r0);
    r1 = fma(vec4<f32>(a6.w), wk[27], r1);
    r0 = fma(vec4<f32>(a7.x), wk[28], r0);
    r1 = fma(vec4<f32>(a7.y), wk[29], r1);
    r0 = fma(vec4<f32>(a7.z), wk[30], r0);
    r1 = fma(vec4<f32>(a7.w), wk[31], r1);
    return r0 + r1;
}

// The bias, then the store of y[b, co, n .. n+3] that exist (`row` = element index of y[b, co, 0]).
fn store_row(row: u32, co: u32, n: u32, v: vec4<f32>) {
    var bias_v = 0.0;
    if (p.has_bias == 1u) { bias_v = f32(bias[co]); }
    for (var c = 0u; c < 4u; c++) {
        if (n + c >= p.n) { break; }
        y[row + n + c] = Elem(v[c] + bias_v);
    }
}

@compute @workgroup_size(LANES)
fn conv2d(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32,
          @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = wid.x + wid.y * nwg.x;
    if (t >= p.tiles_m * p.tiles_n * p.batch) { return; }  // the same for the whole workgroup
    let tn = t % p.tiles_n;
    let tm = (t / p.tiles_n) % p.tiles_m;
    let b = t / (p.tiles_n * p.tiles_m);
    let m0 = tm * TM;
    let n = tn * 4u * LANES + 4u * lid;  // this lane's first pixel
    let ka = 4u * (lane % LANES);        // this lane's k offset in a chunk of weights
    let plane0 = b * p.c_in * p.h * p.w;
    var px: Pixels;
    for (var c = 0u; c < 4u; c++) {
        px.oy[c] = ((n + c) / p.out_w) * p.stride;
        px.ox[c] = ((n + c) % p.out_w) * p.stride;
        px.live[c] = n + c < p.n;
    }
    // Weight rows past Co repeat the last one (their results are not stored): row m0 + r starts at
    // rw + min(r, last) · K.
    let rw = m0 * p.k;
    let last = p.m - 1u - m0;

    // acc_r = y[b, m0 + r, n .. n+3], written out so that every register has a name.
    var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0); var acc5 = vec4<f32>(0.0); var acc6 = vec4<f32>(0.0); var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0); var acc9 = vec4<f32>(0.0); var acc10 = vec4<f32>(0.0); var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0); var acc13 = vec4<f32>(0.0); var acc14 = vec4<f32>(0.0); var acc15 = vec4<f32>(0.0);
    var acc16 = vec4<f32>(0.0); var acc17 = vec4<f32>(0.0); var acc18 = vec4<f32>(0.0); var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0); var acc21 = vec4<f32>(0.0); var acc22 = vec4<f32>(0.0); var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0); var acc25 = vec4<f32>(0.0); var acc26 = vec4<f32>(0.0); var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0); var acc29 = vec4<f32>(0.0); var acc30 = vec4<f32>(0.0); var acc31 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < p.k; k0 += KC) {
        // wk[kk] = col(b, k0 + kk, n .. n+3): the chunk's taps for this lane's 4 pixels.
        let wk = array<vec4<f32>, KC>(
            load_col4(plane0, k0, &px), load_col4(plane0, k0 + 1u, &px), load_col4(plane0, k0 + 2u, &px), load_col4(plane0, k0 + 3u, &px),
            load_col4(plane0, k0 + 4u, &px), load_col4(plane0, k0 + 5u, &px), load_col4(plane0, k0 + 6u, &px), load_col4(plane0, k0 + 7u, &px),
            load_col4(plane0, k0 + 8u, &px), load_col4(plane0, k0 + 9u, &px), load_col4(plane0, k0 + 10u, &px), load_col4(plane0, k0 + 11u, &px),
            load_col4(plane0, k0 + 12u, &px), load_col4(plane0, k0 + 13u, &px), load_col4(plane0, k0 + 14u, &px), load_col4(plane0, k0 + 15u, &px),
            load_col4(plane0, k0 + 16u, &px), load_col4(plane0, k0 + 17u, &px), load_col4(plane0, k0 + 18u, &px), load_col4(plane0, k0 + 19u, &px),
            load_col4(plane0, k0 + 20u, &px), load_col4(plane0, k0 + 21u, &px), load_col4(plane0, k0 + 22u, &px), load_col4(plane0, k0 + 23u, &px),
            load_col4(plane0, k0 + 24u, &px), load_col4(plane0, k0 + 25u, &px), load_col4(plane0, k0 + 26u, &px), load_col4(plane0, k0 + 27u, &px),
            load_col4(plane0, k0 + 28u, &px), load_col4(plane0, k0 + 29u, &px), load_col4(plane0, k0 + 30u, &px), load_col4(plane0, k0 + 31u, &px));
        let k = k0 + ka;
        acc0 = row_step(acc0, load_weight4(rw + min(0u, last) * p.k, k), wk);
        acc1 = row_step(acc1, load_weight4(rw + min(1u, last) * p.k, k), wk);
        acc2 = row_step(acc2, load_weight4(rw + min(2u, last) * p.k, k), wk);
        acc3 = row_step(acc3, load_weight4(rw + min(3u, last) * p.k, k), wk);
        acc4 = row_step(acc4, load_weight4(rw + min(4u, last) * p.k, k), wk);
        acc5 = row_step(acc5, load_weight4(rw + min(5u, last) * p.k, k), wk);
        acc6 = row_step(acc6, load_weight4(rw + min(6u, last) * p.k, k), wk);
        acc7 = row_step(acc7, load_weight4(rw + min(7u, last) * p.k, k), wk);
        acc8 = row_step(acc8, load_weight4(rw + min(8u, last) * p.k, k), wk);
        acc9 = row_step(acc9, load_weight4(rw + min(9u, last) * p.k, k), wk);
        acc10 = row_step(acc10, load_weight4(rw + min(10u, last) * p.k, k), wk);
        acc11 = row_step(acc11, load_weight4(rw + min(11u, last) * p.k, k), wk);
        acc12 = row_step(acc12, load_weight4(rw + min(12u, last) * p.k, k), wk);
        acc13 = row_step(acc13, load_weight4(rw + min(13u, last) * p.k, k), wk);
        acc14 = row_step(acc14, load_weight4(rw + min(14u, last) * p.k, k), wk);
        acc15 = row_step(acc15, load_weight4(rw + min(15u, last) * p.k, k), wk);
        acc16 = row_step(acc16, load_weight4(rw + min(16u, last) * p.k, k), wk);
        acc17 = row_step(acc17, load_weight4(rw + min(17u, last) * p.k, k), wk);
        acc18 = row_step(acc18, load_weight4(rw + min(18u, last) * p.k, k), wk);
        acc19 = row_step(acc19, load_weight4(rw + min(19u, last) * p.k, k), wk);
        acc20 = row_step(acc20, load_weight4(rw + min(20u, last) * p.k, k), wk);
        acc21 = row_step(acc21, load_weight4(rw + min(21u, last) * p.k, k), wk);
        acc22 = row_step(acc22, load_weight4(rw + min(22u, last) * p.k, k), wk);
        acc23 = row_step(acc23, load_weight4(rw + min(23u, last) * p.k, k), wk);
        acc24 = row_step(acc24, load_weight4(rw + min(24u, last) * p.k, k), wk);
        acc25 = row_step(acc25, load_weight4(rw + min(25u, last) * p.k, k), wk);
        acc26 = row_step(acc26, load_weight4(rw + min(26u, last) * p.k, k), wk);
        acc27 = row_step(acc27, load_weight4(rw + min(27u, last) * p.k, k), wk);
        acc28 = row_step(acc28, load_weight4(rw + min(28u, last) * p.k, k), wk);
        acc29 = row_step(acc29, load_weight4(rw + min(29u, last) * p.k, k), wk);
        acc30 = row_step(acc30, load_weight4(rw + min(30u, last) * p.k, k), wk);
        acc31 = row_step(acc31, load_weight4(rw + min(31u, last) * p.k, k), wk);
    }

    // Channels past Co are not stored. (Written out: an indexed array of the accumulators would live in
    // scratch memory.)
    let rows = min(TM, p.m - m0);
    let yr = (b * p.m + m0) * p.n;
    if (0u < rows) { store_row(yr + 0u * p.n, m0 + 0u, n, acc0); }
    if (1u < rows) { store_row(yr + 1u * p.n, m0 + 1u, n, acc1); }
    if (2u < rows) { store_row(yr + 2u * p.n, m0 + 2u, n, acc2); }
    if (3u < rows) { store_row(yr + 3u * p.n, m0 + 3u, n, acc3); }
    if (4u < rows) { store_row(yr + 4u * p.n, m0 + 4u, n, acc4); }
    if (5u < rows) { store_row(yr + 5u * p.n, m0 + 5u, n, acc5); }
    if (6u < rows) { store_row(yr + 6u * p.n, m0 + 6u, n, acc6); }
    if (7u < rows) { store_row(yr + 7u * p.n, m0 + 7u, n, acc7); }
    if (8u < rows) { store_row(yr + 8u * p.n, m0 + 8u, n, acc8); }
    if (9u < rows) { store_row(yr + 9u * p.n, m0 + 9u, n, acc9); }
    if (10u < rows) { store_row(yr + 10u * p.n, m0 + 10u, n, acc10); }
    if (11u < rows) { store_row(yr + 11u * p.n, m0 + 11u, n, acc11); }
    if (12u < rows) { store_row(yr + 12u * p.n, m0 + 12u, n, acc12); }
    if (13u < rows) { store_row(yr + 13u * p.n, m0 + 13u, n, acc13); }
    if (14u < rows) { store_row(yr + 14u * p.n, m0 + 14u, n, acc14); }
    if (15u < rows) { store_row(yr + 15u * p.n, m0 + 15u, n, acc15); }
    if (16u < rows) { store_row(yr + 16u * p.n, m0 + 16u, n, acc16); }
    if (17u < rows) { store_row(yr + 17u * p.n, m0 + 17u, n, acc17); }
    if (18u < rows) { store_row(yr + 18u * p.n, m0 + 18u, n, acc18); }
    if (19u < rows) { store_row(yr + 19u * p.n, m0 + 19u, n, acc19); }
    if (20u < rows) { store_row(yr + 20u * p.n, m0 + 20u, n, acc20); }
    if (21u < rows) { store_row(yr + 21u * p.n, m0 + 21u, n, acc21); }
    if (22u < rows) { store_row(yr + 22u * p.n, m0 + 22u, n, acc22); }
    if (23u < rows) { store_row(yr + 23u * p.n, m0 + 23u, n, acc23); }
    if (24u < rows) { store_row(yr + 24u * p.n, m0 + 24u, n, acc24); }
    if (25u < rows) { store_row(yr + 25u * p.n, m0 + 25u, n, acc25); }
    if (26u < rows) { store_row(yr + 26u * p.n, m0 + 26u, n, acc26); }
    if (27u < rows) { store_row(yr + 27u * p.n, m0 + 27u, n, acc27); }
    if (28u < rows) { store_row(yr + 28u * p.n, m0 + 28u, n, acc28); }
    if (29u < rows) { store_row(yr + 29u * p.n, m0 + 29u, n, acc29); }
    if (30u < rows) { store_row(yr + 30u * p.n, m0 + 30u, n, acc30); }
    if (31u < rows) { store_row(yr + 31u * p.n, m0 + 31u, n, acc31); }
}

// --- The fast paths `conv3x3` and `conv1x1` ---

// Where a workgroup works: image b, output channels m0 .., and this lane's first pixel n; `pix` is n
// clamped to the last quad of pixels (a lane past H·W recomputes that quad and stores nothing).
struct Tile {
    b: u32,
    m0: u32,
    n: u32,
    pix: u32,
}

fn tile_of(t: u32, lid: u32) -> Tile {
    let tn = t % p.tiles_n;
    let tm = (t / p.tiles_n) % p.tiles_m;
    let n = tn * 4u * LANES + 4u * lid;
    return Tile(t / (p.tiles_n * p.tiles_m), tm * TM, n, min(n, p.n - 4u));
}

// `row_step` over a chunk of 36 values of K: `wv` is this lane's weight quad (lane j holds
// k0 + 4j .. 4j+3) and `e` is the chunk's ninth quad (k0 + 32 .. 35), the same in every lane.
fn step36(s: vec4<f32>, wv: vec4<f32>, e: vec4<f32>, wk: array<vec4<f32>, 36>) -> vec4<f32> {
    let a0 = subgroupBroadcast(wv, 0u);
    let a1 = subgroupBroadcast(wv, 1u);
    let a2 = subgroupBroadcast(wv, 2u);
    let a3 = subgroupBroadcast(wv, 3u);
    let a4 = subgroupBroadcast(wv, 4u);
    let a5 = subgroupBroadcast(wv, 5u);
    let a6 = subgroupBroadcast(wv, 6u);
    let a7 = subgroupBroadcast(wv, 7u);
    var r0 = s;
    var r1 = vec4<f32>(0.0);
    r0 = fma(vec4<f32>(a0.x), wk[0], r0);
    r1 = fma(vec4<f32>(a0.y), wk[1], r1);
    r0 = fma(vec4<f32>(a0.z), wk[2], r0);
    r1 = fma(vec4<f32>(a0.w), wk[3], r1);
    r0 = fma(vec4<f32>(a1.x), wk[4], r0);
    r1 = fma(vec4<f32>(a1.y), wk[5], r1);
    r0 = fma(vec4<f32>(a1.z), wk[6], r0);
    r1 = fma(vec4<f32>(a1.w), wk[7], r1);
    r0 = fma(vec4<f32>(a2.x), wk[8], r0);
    r1 = fma(vec4<f32>(a2.y), wk[9], r1);
    r0 = fma(vec4<f32>(a2.z), wk[10], r0);
    r1 = fma(vec4<f32>(a2.w), wk[11], r1);
    r0 = fma(vec4<f32>(a3.x), wk[12], r0);
    r1 = fma(vec4<f32>(a3.y), wk[13], r1);
    r0 = fma(vec4<f32>(a3.z), wk[14], r0);
    r1 = fma(vec4<f32>(a3.w), wk[15], r1);
    r0 = fma(vec4<f32>(a4.x), wk[16], r0);
    r1 = fma(vec4<f32>(a4.y), wk[17], r1);
    r0 = fma(vec4<f32>(a4.z), wk[18], r0);
    r1 = fma(vec4<f32>(a4.w), wk[19], r1);
    r0 = fma(vec4<f32>(a5.x), wk[20], r0);
    r1 = fma(vec4<f32>(a5.y), wk[21], r1);
    r0 = fma(vec4<f32>(a5.z), wk[22], r0);
    r1 = fma(vec4<f32>(a5.w), wk[23], r1);
    r0 = fma(vec4<f32>(a6.x), wk[24], r0);
    r1 = fma(vec4<f32>(a6.y), wk[25], r1);
    r0 = fma(vec4<f32>(a6.z), wk[26], r0);
    r1 = fma(vec4<f32>(a6.w), wk[27], r1);
    r0 = fma(vec4<f32>(a7.x), wk[28], r0);
    r1 = fma(vec4<f32>(a7.y), wk[29], r1);
    r0 = fma(vec4<f32>(a7.z), wk[30], r0);
    r1 = fma(vec4<f32>(a7.w), wk[31], r1);
    r0 = fma(vec4<f32>(e.x), wk[32], r0);
    r1 = fma(vec4<f32>(e.y), wk[33], r1);
    r0 = fma(vec4<f32>(e.z), wk[34], r0);
    r1 = fma(vec4<f32>(e.w), wk[35], r1);
    return r0 + r1;
}

// --- `conv3x3` ---

// The input rows a lane reads for kernel rows ky = 0, 1, 2: the quad index of its 4 pixels in that row
// (within channel 0 of image b; clamped into the image), whether the row exists (else it is padding),
// and the quad steps to the left and right neighbours (0 where that neighbour is padding, so the load
// stays inside the row and the value is masked).
struct Window {
    row: vec3<u32>,
    live: vec3<bool>,
    left: u32,
    right: u32,
}

fn window(tile: Tile) -> Window {
    let oy = tile.pix / p.w;
    let ox = tile.pix % p.w;
    let base = (tile.b * p.c_in * p.n + ox) / 4u;
    let qw = p.w / 4u;
    var win: Window;
    win.row = vec3<u32>(base + (max(oy, 1u) - 1u) * qw, base + oy * qw, base + min(oy + 1u, p.h - 1u) * qw);
    win.live = vec3<bool>(oy > 0u, true, oy + 1u < p.h);
    win.left = select(0u, 1u, ox > 0u);
    win.right = select(0u, 1u, ox + 4u < p.w);
    return win;
}

// The taps kx = 0, 1, 2 of one input row for this lane's 4 pixels: quad `q` of the row and one value of
// each neighbouring quad (zero where it is padding), all zero where the row is padding.
fn taps(q: u32, live: bool, win: Window) -> array<vec4<f32>, 3> {
    let c = vec4<f32>(x4[q]);
    let l = select(0.0, f32(x4[q - win.left].w), win.left == 1u);
    let r = select(0.0, f32(x4[q + win.right].x), win.right == 1u);
    let z = vec4<f32>(0.0);
    return array<vec4<f32>, 3>(select(z, vec4<f32>(l, c.x, c.y, c.z), live), select(z, c, live),
                               select(z, vec4<f32>(c.y, c.z, c.w, r), live));
}

// The 36 taps of input channels ci0 .. ci0+3 (`plane` = ci0's quad offset, `qp` = quads per channel).
fn chunk36(plane: u32, qp: u32, win: Window) -> array<vec4<f32>, 36> {
    let t00 = taps(plane + win.row.x, win.live.x, win);
    let t01 = taps(plane + win.row.y, win.live.y, win);
    let t02 = taps(plane + win.row.z, win.live.z, win);
    let t10 = taps(plane + qp + win.row.x, win.live.x, win);
    let t11 = taps(plane + qp + win.row.y, win.live.y, win);
    let t12 = taps(plane + qp + win.row.z, win.live.z, win);
    let t20 = taps(plane + 2u * qp + win.row.x, win.live.x, win);
    let t21 = taps(plane + 2u * qp + win.row.y, win.live.y, win);
    let t22 = taps(plane + 2u * qp + win.row.z, win.live.z, win);
    let t30 = taps(plane + 3u * qp + win.row.x, win.live.x, win);
    let t31 = taps(plane + 3u * qp + win.row.y, win.live.y, win);
    let t32 = taps(plane + 3u * qp + win.row.z, win.live.z, win);
    return array<vec4<f32>, 36>(
        t00[0], t00[1], t00[2], t01[0], t01[1], t01[2], t02[0], t02[1], t02[2],
        t10[0], t10[1], t10[2], t11[0], t11[1], t11[2], t12[0], t12[1], t12[2],
        t20[0], t20[1], t20[2], t21[0], t21[1], t21[2], t22[0], t22[1], t22[2],
        t30[0], t30[1], t30[2], t31[0], t31[1], t31[2], t32[0], t32[1], t32[2]);
}

@compute @workgroup_size(LANES)
fn conv3x3(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32,
           @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = wid.x + wid.y * nwg.x;
    if (t >= p.tiles_m * p.tiles_n * p.batch) { return; }  // the same for the whole workgroup
    let tile = tile_of(t, lid);
    let win = window(tile);
    let qp = p.n / 4u;         // quads per input channel
    let kq = p.k / 4u;         // quads per output channel's weights
    let ql = lane % LANES;     // this lane's weight quad in a chunk
    // Weight rows past Co repeat the last one (their results are not stored).
    let rw = tile.m0 * kq;
    let last = p.m - 1u - tile.m0;

    // acc_r = y[b, m0 + r, n .. n+3], written out so that every register has a name.
    var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0); var acc5 = vec4<f32>(0.0); var acc6 = vec4<f32>(0.0); var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0); var acc9 = vec4<f32>(0.0); var acc10 = vec4<f32>(0.0); var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0); var acc13 = vec4<f32>(0.0); var acc14 = vec4<f32>(0.0); var acc15 = vec4<f32>(0.0);
    var acc16 = vec4<f32>(0.0); var acc17 = vec4<f32>(0.0); var acc18 = vec4<f32>(0.0); var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0); var acc21 = vec4<f32>(0.0); var acc22 = vec4<f32>(0.0); var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0); var acc25 = vec4<f32>(0.0); var acc26 = vec4<f32>(0.0); var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0); var acc29 = vec4<f32>(0.0); var acc30 = vec4<f32>(0.0); var acc31 = vec4<f32>(0.0);
    for (var ci0 = 0u; ci0 < p.c_in; ci0 += 4u) {
        let wk = chunk36(ci0 * qp, qp, win);
        let q = rw + ci0 * 9u / 4u;  // the chunk's first weight quad in row m0
        acc0 = step36(acc0, vec4<f32>(weight4[q + min(0u, last) * kq + ql]), vec4<f32>(weight4[q + min(0u, last) * kq + 8u]), wk);
        acc1 = step36(acc1, vec4<f32>(weight4[q + min(1u, last) * kq + ql]), vec4<f32>(weight4[q + min(1u, last) * kq + 8u]), wk);
        acc2 = step36(acc2, vec4<f32>(weight4[q + min(2u, last) * kq + ql]), vec4<f32>(weight4[q + min(2u, last) * kq + 8u]), wk);
        acc3 = step36(acc3, vec4<f32>(weight4[q + min(3u, last) * kq + ql]), vec4<f32>(weight4[q + min(3u, last) * kq + 8u]), wk);
        acc4 = step36(acc4, vec4<f32>(weight4[q + min(4u, last) * kq + ql]), vec4<f32>(weight4[q + min(4u, last) * kq + 8u]), wk);
        acc5 = step36(acc5, vec4<f32>(weight4[q + min(5u, last) * kq + ql]), vec4<f32>(weight4[q + min(5u, last) * kq + 8u]), wk);
        acc6 = step36(acc6, vec4<f32>(weight4[q + min(6u, last) * kq + ql]), vec4<f32>(weight4[q + min(6u, last) * kq + 8u]), wk);
        acc7 = step36(acc7, vec4<f32>(weight4[q + min(7u, last) * kq + ql]), vec4<f32>(weight4[q + min(7u, last) * kq + 8u]), wk);
        acc8 = step36(acc8, vec4<f32>(weight4[q + min(8u, last) * kq + ql]), vec4<f32>(weight4[q + min(8u, last) * kq + 8u]), wk);
        acc9 = step36(acc9, vec4<f32>(weight4[q + min(9u, last) * kq + ql]), vec4<f32>(weight4[q + min(9u, last) * kq + 8u]), wk);
        acc10 = step36(acc10, vec4<f32>(weight4[q + min(10u, last) * kq + ql]), vec4<f32>(weight4[q + min(10u, last) * kq + 8u]), wk);
        acc11 = step36(acc11, vec4<f32>(weight4[q + min(11u, last) * kq + ql]), vec4<f32>(weight4[q + min(11u, last) * kq + 8u]), wk);
        acc12 = step36(acc12, vec4<f32>(weight4[q + min(12u, last) * kq + ql]), vec4<f32>(weight4[q + min(12u, last) * kq + 8u]), wk);
        acc13 = step36(acc13, vec4<f32>(weight4[q + min(13u, last) * kq + ql]), vec4<f32>(weight4[q + min(13u, last) * kq + 8u]), wk);
        acc14 = step36(acc14, vec4<f32>(weight4[q + min(14u, last) * kq + ql]), vec4<f32>(weight4[q + min(14u, last) * kq + 8u]), wk);
        acc15 = step36(acc15, vec4<f32>(weight4[q + min(15u, last) * kq + ql]), vec4<f32>(weight4[q + min(15u, last) * kq + 8u]), wk);
        acc16 = step36(acc16, vec4<f32>(weight4[q + min(16u, last) * kq + ql]), vec4<f32>(weight4[q + min(16u, last) * kq + 8u]), wk);
        acc17 = step36(acc17, vec4<f32>(weight4[q + min(17u, last) * kq + ql]), vec4<f32>(weight4[q + min(17u, last) * kq + 8u]), wk);
        acc18 = step36(acc18, vec4<f32>(weight4[q + min(18u, last) * kq + ql]), vec4<f32>(weight4[q + min(18u, last) * kq + 8u]), wk);
        acc19 = step36(acc19, vec4<f32>(weight4[q + min(19u, last) * kq + ql]), vec4<f32>(weight4[q + min(19u, last) * kq + 8u]), wk);
        acc20 = step36(acc20, vec4<f32>(weight4[q + min(20u, last) * kq + ql]), vec4<f32>(weight4[q + min(20u, last) * kq + 8u]), wk);
        acc21 = step36(acc21, vec4<f32>(weight4[q + min(21u, last) * kq + ql]), vec4<f32>(weight4[q + min(21u, last) * kq + 8u]), wk);
        acc22 = step36(acc22, vec4<f32>(weight4[q + min(22u, last) * kq + ql]), vec4<f32>(weight4[q + min(22u, last) * kq + 8u]), wk);
        acc23 = step36(acc23, vec4<f32>(weight4[q + min(23u, last) * kq + ql]), vec4<f32>(weight4[q + min(23u, last) * kq + 8u]), wk);
        acc24 = step36(acc24, vec4<f32>(weight4[q + min(24u, last) * kq + ql]), vec4<f32>(weight4[q + min(24u, last) * kq + 8u]), wk);
        acc25 = step36(acc25, vec4<f32>(weight4[q + min(25u, last) * kq + ql]), vec4<f32>(weight4[q + min(25u, last) * kq + 8u]), wk);
        acc26 = step36(acc26, vec4<f32>(weight4[q + min(26u, last) * kq + ql]), vec4<f32>(weight4[q + min(26u, last) * kq + 8u]), wk);
        acc27 = step36(acc27, vec4<f32>(weight4[q + min(27u, last) * kq + ql]), vec4<f32>(weight4[q + min(27u, last) * kq + 8u]), wk);
        acc28 = step36(acc28, vec4<f32>(weight4[q + min(28u, last) * kq + ql]), vec4<f32>(weight4[q + min(28u, last) * kq + 8u]), wk);
        acc29 = step36(acc29, vec4<f32>(weight4[q + min(29u, last) * kq + ql]), vec4<f32>(weight4[q + min(29u, last) * kq + 8u]), wk);
        acc30 = step36(acc30, vec4<f32>(weight4[q + min(30u, last) * kq + ql]), vec4<f32>(weight4[q + min(30u, last) * kq + 8u]), wk);
        acc31 = step36(acc31, vec4<f32>(weight4[q + min(31u, last) * kq + ql]), vec4<f32>(weight4[q + min(31u, last) * kq + 8u]), wk);
    }

    // Channels past Co are not stored. (Written out: an indexed array of the accumulators would live in
    // scratch memory.)
    let rows = min(TM, p.m - tile.m0);
    let yr = (tile.b * p.m + tile.m0) * p.n;
    if (0u < rows) { store_row(yr + 0u * p.n, tile.m0 + 0u, tile.n, acc0); }
    if (1u < rows) { store_row(yr + 1u * p.n, tile.m0 + 1u, tile.n, acc1); }
    if (2u < rows) { store_row(yr + 2u * p.n, tile.m0 + 2u, tile.n, acc2); }
    if (3u < rows) { store_row(yr + 3u * p.n, tile.m0 + 3u, tile.n, acc3); }
    if (4u < rows) { store_row(yr + 4u * p.n, tile.m0 + 4u, tile.n, acc4); }
    if (5u < rows) { store_row(yr + 5u * p.n, tile.m0 + 5u, tile.n, acc5); }
    if (6u < rows) { store_row(yr + 6u * p.n, tile.m0 + 6u, tile.n, acc6); }
    if (7u < rows) { store_row(yr + 7u * p.n, tile.m0 + 7u, tile.n, acc7); }
    if (8u < rows) { store_row(yr + 8u * p.n, tile.m0 + 8u, tile.n, acc8); }
    if (9u < rows) { store_row(yr + 9u * p.n, tile.m0 + 9u, tile.n, acc9); }
    if (10u < rows) { store_row(yr + 10u * p.n, tile.m0 + 10u, tile.n, acc10); }
    if (11u < rows) { store_row(yr + 11u * p.n, tile.m0 + 11u, tile.n, acc11); }
    if (12u < rows) { store_row(yr + 12u * p.n, tile.m0 + 12u, tile.n, acc12); }
    if (13u < rows) { store_row(yr + 13u * p.n, tile.m0 + 13u, tile.n, acc13); }
    if (14u < rows) { store_row(yr + 14u * p.n, tile.m0 + 14u, tile.n, acc14); }
    if (15u < rows) { store_row(yr + 15u * p.n, tile.m0 + 15u, tile.n, acc15); }
    if (16u < rows) { store_row(yr + 16u * p.n, tile.m0 + 16u, tile.n, acc16); }
    if (17u < rows) { store_row(yr + 17u * p.n, tile.m0 + 17u, tile.n, acc17); }
    if (18u < rows) { store_row(yr + 18u * p.n, tile.m0 + 18u, tile.n, acc18); }
    if (19u < rows) { store_row(yr + 19u * p.n, tile.m0 + 19u, tile.n, acc19); }
    if (20u < rows) { store_row(yr + 20u * p.n, tile.m0 + 20u, tile.n, acc20); }
    if (21u < rows) { store_row(yr + 21u * p.n, tile.m0 + 21u, tile.n, acc21); }
    if (22u < rows) { store_row(yr + 22u * p.n, tile.m0 + 22u, tile.n, acc22); }
    if (23u < rows) { store_row(yr + 23u * p.n, tile.m0 + 23u, tile.n, acc23); }
    if (24u < rows) { store_row(yr + 24u * p.n, tile.m0 + 24u, tile.n, acc24); }
    if (25u < rows) { store_row(yr + 25u * p.n, tile.m0 + 25u, tile.n, acc25); }
    if (26u < rows) { store_row(yr + 26u * p.n, tile.m0 + 26u, tile.n, acc26); }
    if (27u < rows) { store_row(yr + 27u * p.n, tile.m0 + 27u, tile.n, acc27); }
    if (28u < rows) { store_row(yr + 28u * p.n, tile.m0 + 28u, tile.n, acc28); }
    if (29u < rows) { store_row(yr + 29u * p.n, tile.m0 + 29u, tile.n, acc29); }
    if (30u < rows) { store_row(yr + 30u * p.n, tile.m0 + 30u, tile.n, acc30); }
    if (31u < rows) { store_row(yr + 31u * p.n, tile.m0 + 31u, tile.n, acc31); }
}

// --- `conv1x1` ---

// x4[b, ci, pixels] for this lane's pixel quad `pq` (quad index within channel 0 of image b); channels
// past Ci read the last one and are zeroed.
fn channel(pq: u32, qp: u32, ci: u32) -> vec4<f32> {
    return select(vec4<f32>(0.0), vec4<f32>(x4[pq + min(ci, p.c_in - 1u) * qp]), ci < p.c_in);
}

// wk[kk] = x4[b, ci0 + kk, pixels].
fn chunk32(pq: u32, qp: u32, ci0: u32) -> array<vec4<f32>, 32> {
    return array<vec4<f32>, 32>(
        channel(pq, qp, ci0 + 0u), channel(pq, qp, ci0 + 1u), channel(pq, qp, ci0 + 2u), channel(pq, qp, ci0 + 3u),
        channel(pq, qp, ci0 + 4u), channel(pq, qp, ci0 + 5u), channel(pq, qp, ci0 + 6u), channel(pq, qp, ci0 + 7u),
        channel(pq, qp, ci0 + 8u), channel(pq, qp, ci0 + 9u), channel(pq, qp, ci0 + 10u), channel(pq, qp, ci0 + 11u),
        channel(pq, qp, ci0 + 12u), channel(pq, qp, ci0 + 13u), channel(pq, qp, ci0 + 14u), channel(pq, qp, ci0 + 15u),
        channel(pq, qp, ci0 + 16u), channel(pq, qp, ci0 + 17u), channel(pq, qp, ci0 + 18u), channel(pq, qp, ci0 + 19u),
        channel(pq, qp, ci0 + 20u), channel(pq, qp, ci0 + 21u), channel(pq, qp, ci0 + 22u), channel(pq, qp, ci0 + 23u),
        channel(pq, qp, ci0 + 24u), channel(pq, qp, ci0 + 25u), channel(pq, qp, ci0 + 26u), channel(pq, qp, ci0 + 27u),
        channel(pq, qp, ci0 + 28u), channel(pq, qp, ci0 + 29u), channel(pq, qp, ci0 + 30u), channel(pq, qp, ci0 + 31u));
}

@compute @workgroup_size(LANES)
fn conv1x1(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32,
           @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = wid.x + wid.y * nwg.x;
    if (t >= p.tiles_m * p.tiles_n * p.batch) { return; }  // the same for the whole workgroup
    let tile = tile_of(t, lid);
    let qp = p.n / 4u;
    let pq = (tile.b * p.c_in * p.n + tile.pix) / 4u;
    let kq = p.k / 4u;
    let ql = lane % LANES;
    // Weight rows past Co repeat the last one; weight quads past K read the last one, against zero taps.
    let rw = tile.m0 * kq;
    let last = p.m - 1u - tile.m0;

    // acc_r = y[b, m0 + r, n .. n+3], written out so that every register has a name.
    var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0); var acc5 = vec4<f32>(0.0); var acc6 = vec4<f32>(0.0); var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0); var acc9 = vec4<f32>(0.0); var acc10 = vec4<f32>(0.0); var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0); var acc13 = vec4<f32>(0.0); var acc14 = vec4<f32>(0.0); var acc15 = vec4<f32>(0.0);
    var acc16 = vec4<f32>(0.0); var acc17 = vec4<f32>(0.0); var acc18 = vec4<f32>(0.0); var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0); var acc21 = vec4<f32>(0.0); var acc22 = vec4<f32>(0.0); var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0); var acc25 = vec4<f32>(0.0); var acc26 = vec4<f32>(0.0); var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0); var acc29 = vec4<f32>(0.0); var acc30 = vec4<f32>(0.0); var acc31 = vec4<f32>(0.0);
    for (var ci0 = 0u; ci0 < p.c_in; ci0 += 32u) {
        let wk = chunk32(pq, qp, ci0);
        let q = min(ci0 / 4u + ql, kq - 1u);
        acc0 = row_step(acc0, vec4<f32>(weight4[rw + min(0u, last) * kq + q]), wk);
        acc1 = row_step(acc1, vec4<f32>(weight4[rw + min(1u, last) * kq + q]), wk);
        acc2 = row_step(acc2, vec4<f32>(weight4[rw + min(2u, last) * kq + q]), wk);
        acc3 = row_step(acc3, vec4<f32>(weight4[rw + min(3u, last) * kq + q]), wk);
        acc4 = row_step(acc4, vec4<f32>(weight4[rw + min(4u, last) * kq + q]), wk);
        acc5 = row_step(acc5, vec4<f32>(weight4[rw + min(5u, last) * kq + q]), wk);
        acc6 = row_step(acc6, vec4<f32>(weight4[rw + min(6u, last) * kq + q]), wk);
        acc7 = row_step(acc7, vec4<f32>(weight4[rw + min(7u, last) * kq + q]), wk);
        acc8 = row_step(acc8, vec4<f32>(weight4[rw + min(8u, last) * kq + q]), wk);
        acc9 = row_step(acc9, vec4<f32>(weight4[rw + min(9u, last) * kq + q]), wk);
        acc10 = row_step(acc10, vec4<f32>(weight4[rw + min(10u, last) * kq + q]), wk);
        acc11 = row_step(acc11, vec4<f32>(weight4[rw + min(11u, last) * kq + q]), wk);
        acc12 = row_step(acc12, vec4<f32>(weight4[rw + min(12u, last) * kq + q]), wk);
        acc13 = row_step(acc13, vec4<f32>(weight4[rw + min(13u, last) * kq + q]), wk);
        acc14 = row_step(acc14, vec4<f32>(weight4[rw + min(14u, last) * kq + q]), wk);
        acc15 = row_step(acc15, vec4<f32>(weight4[rw + min(15u, last) * kq + q]), wk);
        acc16 = row_step(acc16, vec4<f32>(weight4[rw + min(16u, last) * kq + q]), wk);
        acc17 = row_step(acc17, vec4<f32>(weight4[rw + min(17u, last) * kq + q]), wk);
        acc18 = row_step(acc18, vec4<f32>(weight4[rw + min(18u, last) * kq + q]), wk);
        acc19 = row_step(acc19, vec4<f32>(weight4[rw + min(19u, last) * kq + q]), wk);
        acc20 = row_step(acc20, vec4<f32>(weight4[rw + min(20u, last) * kq + q]), wk);
        acc21 = row_step(acc21, vec4<f32>(weight4[rw + min(21u, last) * kq + q]), wk);
        acc22 = row_step(acc22, vec4<f32>(weight4[rw + min(22u, last) * kq + q]), wk);
        acc23 = row_step(acc23, vec4<f32>(weight4[rw + min(23u, last) * kq + q]), wk);
        acc24 = row_step(acc24, vec4<f32>(weight4[rw + min(24u, last) * kq + q]), wk);
        acc25 = row_step(acc25, vec4<f32>(weight4[rw + min(25u, last) * kq + q]), wk);
        acc26 = row_step(acc26, vec4<f32>(weight4[rw + min(26u, last) * kq + q]), wk);
        acc27 = row_step(acc27, vec4<f32>(weight4[rw + min(27u, last) * kq + q]), wk);
        acc28 = row_step(acc28, vec4<f32>(weight4[rw + min(28u, last) * kq + q]), wk);
        acc29 = row_step(acc29, vec4<f32>(weight4[rw + min(29u, last) * kq + q]), wk);
        acc30 = row_step(acc30, vec4<f32>(weight4[rw + min(30u, last) * kq + q]), wk);
        acc31 = row_step(acc31, vec4<f32>(weight4[rw + min(31u, last) * kq + q]), wk);
    }

    // Channels past Co are not stored.
    let rows = min(TM, p.m - tile.m0);
    let yr = (tile.b * p.m + tile.m0) * p.n;
    if (0u < rows) { store_row(yr + 0u * p.n, tile.m0 + 0u, tile.n, acc0); }
    if (1u < rows) { store_row(yr + 1u * p.n, tile.m0 + 1u, tile.n, acc1); }
    if (2u < rows) { store_row(yr + 2u * p.n, tile.m0 + 2u, tile.n, acc2); }
    if (3u < rows) { store_row(yr + 3u * p.n, tile.m0 + 3u, tile.n, acc3); }
    if (4u < rows) { store_row(yr + 4u * p.n, tile.m0 + 4u, tile.n, acc4); }
    if (5u < rows) { store_row(yr + 5u * p.n, tile.m0 + 5u, tile.n, acc5); }
    if (6u < rows) { store_row(yr + 6u * p.n, tile.m0 + 6u, tile.n, acc6); }
    if (7u < rows) { store_row(yr + 7u * p.n, tile.m0 + 7u, tile.n, acc7); }
    if (8u < rows) { store_row(yr + 8u * p.n, tile.m0 + 8u, tile.n, acc8); }
    if (9u < rows) { store_row(yr + 9u * p.n, tile.m0 + 9u, tile.n, acc9); }
    if (10u < rows) { store_row(yr + 10u * p.n, tile.m0 + 10u, tile.n, acc10); }
    if (11u < rows) { store_row(yr + 11u * p.n, tile.m0 + 11u, tile.n, acc11); }
    if (12u < rows) { store_row(yr + 12u * p.n, tile.m0 + 12u, tile.n, acc12); }
    if (13u < rows) { store_row(yr + 13u * p.n, tile.m0 + 13u, tile.n, acc13); }
    if (14u < rows) { store_row(yr + 14u * p.n, tile.m0 + 14u, tile.n, acc14); }
    if (15u < rows) { store_row(yr + 15u * p.n, tile.m0 + 15u, tile.n, acc15); }
    if (16u < rows) { store_row(yr + 16u * p.n, tile.m0 + 16u, tile.n, acc16); }
    if (17u < rows) { store_row(yr + 17u * p.n, tile.m0 + 17u, tile.n, acc17); }
    if (18u < rows) { store_row(yr + 18u * p.n, tile.m0 + 18u, tile.n, acc18); }
    if (19u < rows) { store_row(yr + 19u * p.n, tile.m0 + 19u, tile.n, acc19); }
    if (20u < rows) { store_row(yr + 20u * p.n, tile.m0 + 20u, tile.n, acc20); }
    if (21u < rows) { store_row(yr + 21u * p.n, tile.m0 + 21u, tile.n, acc21); }
    if (22u < rows) { store_row(yr + 22u * p.n, tile.m0 + 22u, tile.n, acc22); }
    if (23u < rows) { store_row(yr + 23u * p.n, tile.m0 + 23u, tile.n, acc23); }
    if (24u < rows) { store_row(yr + 24u * p.n, tile.m0 + 24u, tile.n, acc24); }
    if (25u < rows) { store_row(yr + 25u * p.n, tile.m0 + 25u, tile.n, acc25); }
    if (26u < rows) { store_row(yr + 26u * p.n, tile.m0 + 26u, tile.n, acc26); }
    if (27u < rows) { store_row(yr + 27u * p.n, tile.m0 + 27u, tile.n, acc27); }
    if (28u < rows) { store_row(yr + 28u * p.n, tile.m0 + 28u, tile.n, acc28); }
    if (29u < rows) { store_row(yr + 29u * p.n, tile.m0 + 29u, tile.n, acc29); }
    if (30u < rows) { store_row(yr + 30u * p.n, tile.m0 + 30u, tile.n, acc30); }
    if (31u < rows) { store_row(yr + 31u * p.n, tile.m0 + 31u, tile.n, acc31); }
}
