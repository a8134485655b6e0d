// 2-D convolution for software adapters (lavapipe), the fast path of shaders/conv2d_subgroup.wgsl for
// the two convolutions that carry nearly all of SD's work, on aligned shapes:
// - `conv3x3`: kernel 3, stride 1, padding 1 on every side; W and Ci multiples of 4;
// - `conv1x1`: kernel 1, stride 1, no padding; H·W and Ci multiples of 4.
// The Rust side sends every other convolution to the general kernel.
//
//   y[b, co, pix] = bias[co] + Σ_kk weight[co, kk] · col(b, kk, pix),   kk = (ci, ky, kx)
//
// The tiling is the general kernel's: 8 invocations (one subgroup) compute 32 output channels × 32
// output pixels; lane l owns pixels n0 + 4l .. 4l+3, and the weights of a chunk of K reach every lane by
// broadcasts from constant lanes. What differs is that every load is a whole, unguarded vec4 (on
// lavapipe a storage load goes lane by lane with a bounds check, so four guarded scalars cost about
// four times one vec4):
// - A lane's 4 pixels are 4 neighbours in one row (W is a multiple of 4), so for each input channel
//   and kernel row the 12 taps kx = 0, 1, 2 come from one aligned quad of the input row and one value
//   of each neighbouring quad. Padding is a `select` on masks computed once per lane: indices are
//   clamped into the tensor, never guarded by branches.
// - `conv3x3` walks K in chunks of 4 input channels × 9 taps = 36: lane l broadcasts its weight quad
//   k0 + 4l .. 4l+3, and the chunk's ninth quad (k0 + 32 .. 35) is a load all lanes share.
// - `conv1x1` is a plain GEMM over channels, in chunks of 32.

struct Params {
    m: u32,          // output channels Co (GEMM rows)
    n: u32,          // output pixels = H · W (GEMM columns)
    k: u32,          // Ci · KS · KS (reduced dimension)
    batch: u32,      // images
    tiles_m: u32,    // ceil(m / 32)
    tiles_n: u32,    // ceil(n / 32)
    has_bias: u32,   // 1: bias[co] added
    ks: u32,         // kernel size (3 for conv3x3, 1 for conv1x1)
    c_in: u32,       // input channels Ci
    h: u32,          // input height
    w: u32,          // input width
    out_w: u32,      // output width (= w)
    stride: u32,     // 1
    pad: u32,        // 1 for conv3x3, 0 for conv1x1
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<vec4<Elem>>;       // [B, Ci, H, W]
@group(0) @binding(2) var<storage, read_write> weight: array<vec4<Elem>>;  // [Co, Ci, KS, KS] = [Co, K]
@group(0) @binding(3) var<storage, read_write> bias: array<Elem>;          // [Co] (a dummy view when has_bias = 0)
@group(0) @binding(4) var<storage, read_write> y: array<Elem>;             // [B, Co, H, W]

const TM: u32 = 32u;     // tile rows (output channels)
const LANES: u32 = 8u;   // invocations per workgroup; tile columns = 4 · LANES pixels

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

// --- The update of one output channel's accumulator for one chunk of K. `wv` is this lane's weight
// quad (lane j holds k0 + 4j .. 4j+3); `wk[kk]` is tap k0 + kk of this lane's 4 pixels. Every index is a
// constant, so `wk` stays in registers; two chains of fused multiply-adds do not wait on each other. ---

fn step32(s: vec4<f32>, wv: vec4<f32>, wk: array<vec4<f32>, 32>) -> vec4<f32> {
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
    return r0 + r1;
}

// The same over 36 values of K; `e` is the chunk's ninth quad (k0 + 32 .. 35), the same in every lane.
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

// Bias, then the store of y[b, co, n .. n+3] that lie inside H·W (`row` = (b·Co + co)·H·W).
fn store_row(row: u32, co: u32, n: u32, v: vec4<f32>) {
    var bias_v = 0.0;
    if (p.has_bias == 1u) { bias_v = f32(bias[co]); }
    for (var c = 0u; c < 4u; c++) {
        if (n + c >= p.n) { break; }
        y[row + n + c] = Elem(v[c] + bias_v);
    }
}

// --- conv3x3 ---

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
    let c = vec4<f32>(x[q]);
    let l = select(0.0, f32(x[q - win.left].w), win.left == 1u);
    let r = select(0.0, f32(x[q + win.right].x), win.right == 1u);
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
        acc0 = step36(acc0, vec4<f32>(weight[q + min(0u, last) * kq + ql]), vec4<f32>(weight[q + min(0u, last) * kq + 8u]), wk);
        acc1 = step36(acc1, vec4<f32>(weight[q + min(1u, last) * kq + ql]), vec4<f32>(weight[q + min(1u, last) * kq + 8u]), wk);
        acc2 = step36(acc2, vec4<f32>(weight[q + min(2u, last) * kq + ql]), vec4<f32>(weight[q + min(2u, last) * kq + 8u]), wk);
        acc3 = step36(acc3, vec4<f32>(weight[q + min(3u, last) * kq + ql]), vec4<f32>(weight[q + min(3u, last) * kq + 8u]), wk);
        acc4 = step36(acc4, vec4<f32>(weight[q + min(4u, last) * kq + ql]), vec4<f32>(weight[q + min(4u, last) * kq + 8u]), wk);
        acc5 = step36(acc5, vec4<f32>(weight[q + min(5u, last) * kq + ql]), vec4<f32>(weight[q + min(5u, last) * kq + 8u]), wk);
        acc6 = step36(acc6, vec4<f32>(weight[q + min(6u, last) * kq + ql]), vec4<f32>(weight[q + min(6u, last) * kq + 8u]), wk);
        acc7 = step36(acc7, vec4<f32>(weight[q + min(7u, last) * kq + ql]), vec4<f32>(weight[q + min(7u, last) * kq + 8u]), wk);
        acc8 = step36(acc8, vec4<f32>(weight[q + min(8u, last) * kq + ql]), vec4<f32>(weight[q + min(8u, last) * kq + 8u]), wk);
        acc9 = step36(acc9, vec4<f32>(weight[q + min(9u, last) * kq + ql]), vec4<f32>(weight[q + min(9u, last) * kq + 8u]), wk);
        acc10 = step36(acc10, vec4<f32>(weight[q + min(10u, last) * kq + ql]), vec4<f32>(weight[q + min(10u, last) * kq + 8u]), wk);
        acc11 = step36(acc11, vec4<f32>(weight[q + min(11u, last) * kq + ql]), vec4<f32>(weight[q + min(11u, last) * kq + 8u]), wk);
        acc12 = step36(acc12, vec4<f32>(weight[q + min(12u, last) * kq + ql]), vec4<f32>(weight[q + min(12u, last) * kq + 8u]), wk);
        acc13 = step36(acc13, vec4<f32>(weight[q + min(13u, last) * kq + ql]), vec4<f32>(weight[q + min(13u, last) * kq + 8u]), wk);
        acc14 = step36(acc14, vec4<f32>(weight[q + min(14u, last) * kq + ql]), vec4<f32>(weight[q + min(14u, last) * kq + 8u]), wk);
        acc15 = step36(acc15, vec4<f32>(weight[q + min(15u, last) * kq + ql]), vec4<f32>(weight[q + min(15u, last) * kq + 8u]), wk);
        acc16 = step36(acc16, vec4<f32>(weight[q + min(16u, last) * kq + ql]), vec4<f32>(weight[q + min(16u, last) * kq + 8u]), wk);
        acc17 = step36(acc17, vec4<f32>(weight[q + min(17u, last) * kq + ql]), vec4<f32>(weight[q + min(17u, last) * kq + 8u]), wk);
        acc18 = step36(acc18, vec4<f32>(weight[q + min(18u, last) * kq + ql]), vec4<f32>(weight[q + min(18u, last) * kq + 8u]), wk);
        acc19 = step36(acc19, vec4<f32>(weight[q + min(19u, last) * kq + ql]), vec4<f32>(weight[q + min(19u, last) * kq + 8u]), wk);
        acc20 = step36(acc20, vec4<f32>(weight[q + min(20u, last) * kq + ql]), vec4<f32>(weight[q + min(20u, last) * kq + 8u]), wk);
        acc21 = step36(acc21, vec4<f32>(weight[q + min(21u, last) * kq + ql]), vec4<f32>(weight[q + min(21u, last) * kq + 8u]), wk);
        acc22 = step36(acc22, vec4<f32>(weight[q + min(22u, last) * kq + ql]), vec4<f32>(weight[q + min(22u, last) * kq + 8u]), wk);
        acc23 = step36(acc23, vec4<f32>(weight[q + min(23u, last) * kq + ql]), vec4<f32>(weight[q + min(23u, last) * kq + 8u]), wk);
        acc24 = step36(acc24, vec4<f32>(weight[q + min(24u, last) * kq + ql]), vec4<f32>(weight[q + min(24u, last) * kq + 8u]), wk);
        acc25 = step36(acc25, vec4<f32>(weight[q + min(25u, last) * kq + ql]), vec4<f32>(weight[q + min(25u, last) * kq + 8u]), wk);
        acc26 = step36(acc26, vec4<f32>(weight[q + min(26u, last) * kq + ql]), vec4<f32>(weight[q + min(26u, last) * kq + 8u]), wk);
        acc27 = step36(acc27, vec4<f32>(weight[q + min(27u, last) * kq + ql]), vec4<f32>(weight[q + min(27u, last) * kq + 8u]), wk);
        acc28 = step36(acc28, vec4<f32>(weight[q + min(28u, last) * kq + ql]), vec4<f32>(weight[q + min(28u, last) * kq + 8u]), wk);
        acc29 = step36(acc29, vec4<f32>(weight[q + min(29u, last) * kq + ql]), vec4<f32>(weight[q + min(29u, last) * kq + 8u]), wk);
        acc30 = step36(acc30, vec4<f32>(weight[q + min(30u, last) * kq + ql]), vec4<f32>(weight[q + min(30u, last) * kq + 8u]), wk);
        acc31 = step36(acc31, vec4<f32>(weight[q + min(31u, last) * kq + ql]), vec4<f32>(weight[q + min(31u, last) * kq + 8u]), wk);
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

// --- conv1x1 ---

// x[b, ci, pixels] for this lane's pixel quad `pq` (quad index within channel 0 of image b); channels
// past Ci read the last one and are zeroed.
fn channel(pq: u32, qp: u32, ci: u32) -> vec4<f32> {
    return select(vec4<f32>(0.0), vec4<f32>(x[pq + min(ci, p.c_in - 1u) * qp]), ci < p.c_in);
}

// wk[kk] = x[b, ci0 + kk, pixels].
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
        acc0 = step32(acc0, vec4<f32>(weight[rw + min(0u, last) * kq + q]), wk);
        acc1 = step32(acc1, vec4<f32>(weight[rw + min(1u, last) * kq + q]), wk);
        acc2 = step32(acc2, vec4<f32>(weight[rw + min(2u, last) * kq + q]), wk);
        acc3 = step32(acc3, vec4<f32>(weight[rw + min(3u, last) * kq + q]), wk);
        acc4 = step32(acc4, vec4<f32>(weight[rw + min(4u, last) * kq + q]), wk);
        acc5 = step32(acc5, vec4<f32>(weight[rw + min(5u, last) * kq + q]), wk);
        acc6 = step32(acc6, vec4<f32>(weight[rw + min(6u, last) * kq + q]), wk);
        acc7 = step32(acc7, vec4<f32>(weight[rw + min(7u, last) * kq + q]), wk);
        acc8 = step32(acc8, vec4<f32>(weight[rw + min(8u, last) * kq + q]), wk);
        acc9 = step32(acc9, vec4<f32>(weight[rw + min(9u, last) * kq + q]), wk);
        acc10 = step32(acc10, vec4<f32>(weight[rw + min(10u, last) * kq + q]), wk);
        acc11 = step32(acc11, vec4<f32>(weight[rw + min(11u, last) * kq + q]), wk);
        acc12 = step32(acc12, vec4<f32>(weight[rw + min(12u, last) * kq + q]), wk);
        acc13 = step32(acc13, vec4<f32>(weight[rw + min(13u, last) * kq + q]), wk);
        acc14 = step32(acc14, vec4<f32>(weight[rw + min(14u, last) * kq + q]), wk);
        acc15 = step32(acc15, vec4<f32>(weight[rw + min(15u, last) * kq + q]), wk);
        acc16 = step32(acc16, vec4<f32>(weight[rw + min(16u, last) * kq + q]), wk);
        acc17 = step32(acc17, vec4<f32>(weight[rw + min(17u, last) * kq + q]), wk);
        acc18 = step32(acc18, vec4<f32>(weight[rw + min(18u, last) * kq + q]), wk);
        acc19 = step32(acc19, vec4<f32>(weight[rw + min(19u, last) * kq + q]), wk);
        acc20 = step32(acc20, vec4<f32>(weight[rw + min(20u, last) * kq + q]), wk);
        acc21 = step32(acc21, vec4<f32>(weight[rw + min(21u, last) * kq + q]), wk);
        acc22 = step32(acc22, vec4<f32>(weight[rw + min(22u, last) * kq + q]), wk);
        acc23 = step32(acc23, vec4<f32>(weight[rw + min(23u, last) * kq + q]), wk);
        acc24 = step32(acc24, vec4<f32>(weight[rw + min(24u, last) * kq + q]), wk);
        acc25 = step32(acc25, vec4<f32>(weight[rw + min(25u, last) * kq + q]), wk);
        acc26 = step32(acc26, vec4<f32>(weight[rw + min(26u, last) * kq + q]), wk);
        acc27 = step32(acc27, vec4<f32>(weight[rw + min(27u, last) * kq + q]), wk);
        acc28 = step32(acc28, vec4<f32>(weight[rw + min(28u, last) * kq + q]), wk);
        acc29 = step32(acc29, vec4<f32>(weight[rw + min(29u, last) * kq + q]), wk);
        acc30 = step32(acc30, vec4<f32>(weight[rw + min(30u, last) * kq + q]), wk);
        acc31 = step32(acc31, vec4<f32>(weight[rw + min(31u, last) * kq + q]), wk);
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
