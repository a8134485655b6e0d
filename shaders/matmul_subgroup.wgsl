// Batched matmul / linear for software adapters (lavapipe): a register-tiled GEMM that shares `a`
// through subgroup broadcasts instead of workgroup memory.
//
//   y[b, m, n] = act(Σ_k a[b, m, k] · w(b, k, n) + bias[n])
//
// Operands and params are those of shaders/matmul.wgsl (same `Params` layout).
//
// Why this shape: on lavapipe a subgroup is 8 lanes, one AVX2 vector, and one CPU thread runs a whole
// workgroup; storage loads go lane by lane, workgroup memory is slow, and a broadcast from a constant lane
// is one shuffle. So a workgroup is 8 invocations, which lie in one subgroup on every device whose
// subgroups have ≥ 8 lanes (the Rust side checks `subgroup_min_size`). It computes a 32×32 tile of `y`:
// lane l owns columns n0 + 4l .. 4l+3 (a vec4 accumulator per row). K is walked in chunks of 32: each lane
// loads its 4 columns of `w` for the 32 k values once, then for each of the 32 rows lane l loads
// a[m, k0 + 4l .. 4l+3] (one vec4), and the chunk's 32 values of a[m, ·] reach every lane by 8
// broadcasts from constant lanes 0..7. The lane index for that is `subgroup_invocation_id`, so the
// code does not depend on the subgroup size beyond the ≥ 8 requirement.
//
// The loops over rows and over the chunk are written out (named accumulators, a panel array indexed only
// by constants): a dynamically indexed private array becomes per-lane scratch memory on lavapipe, which
// costs more than the arithmetic.
//
// `matmul_vec4` is the fast path for aligned shapes, picked by the Rust side where K is a multiple of 4
// (so every row of `a` and of torch's `[N, K]` weight starts on a vec4) and, for a `[K, N]` weight
// (`W_KN`), N as well. It tiles the same way but reads `a` and `w` through `a4` and `w4`, the same
// bindings typed as vec4 arrays (each entry point uses one typing). On lavapipe a storage load goes lane
// by lane with a bounds check each, so a scalar load with its own guard costs about as much as a vec4
// load: reading whole vec4s, with no branch in the loop, doubles the speed (18–29 against 8–10 GFLOP/s
// at 4096×320×2880 on 2 cores). Its edges cost no branches either: rows past M re-read the last row and
// columns past N the last column (their results are not stored), and the weight quads of the last chunk
// past K read the last quad and are zeroed by a `select`.

struct Params {
    m: u32,          // rows of a and y
    n: u32,          // columns of y
    k: u32,          // reduced dimension
    batch: u32,      // number of products
    tiles_m: u32,    // ceil(m / TM)
    tiles_n: u32,    // ceil(n / TN)
    bias_mode: u32,  // 0: no bias, 1: bias[n] added to every row
    act: u32,        // activation code (see `activate`)
    a_batch: u32,    // element stride between batches of a
    lda: u32,        // element stride between rows of a
    y_batch: u32,    // element stride between batches of y
    ldy: u32,        // element stride between rows of y
    w_batch: u32,    // element stride between batches of w (0: shared)
    w_sk: u32,       // element stride of w along k
    w_sn: u32,       // element stride of w along n
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<Elem>;     // x [batch, M, K]
@group(0) @binding(2) var<storage, read_write> w: array<Elem>;     // weight [N, K] or [K, N], per batch or shared
@group(0) @binding(3) var<storage, read_write> bias: array<Elem>;  // [N] (a dummy view when bias_mode = 0)
@group(0) @binding(4) var<storage, read_write> y: array<Elem>;     // y [batch, M, N]
@group(0) @binding(1) var<storage, read_write> a4: array<vec4<Elem>>;  // `a` for `matmul_vec4`
@group(0) @binding(2) var<storage, read_write> w4: array<vec4<Elem>>;  // `w` for `matmul_vec4`

// `matmul_vec4`: 1 when w is `[K, N]` (vec4s run along n) rather than torch's `[N, K]` (along k).
override W_KN: u32 = 0u;

const TM: u32 = 32u;     // tile rows
const LANES: u32 = 8u;   // invocations per workgroup; tile columns = 4 · LANES
const KC: u32 = 32u;     // K per chunk = 4 · LANES

// --- Activation epilogue: the same functions as shaders/elementwise.wgsl (codes = `Activation::code`). ---

// erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit, W. H. Press et al., 2nd ed. §6.2).
fn erf_f32(x: f32) -> f32 {
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
        t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
        t * (-0.82215223 + t * 0.17087277)))))))));
    return select(r - 1.0, 1.0 - r, x >= 0.0);
}

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

fn activate(x: f32, code: u32) -> f32 {
    switch code {
        case 1u: { return x * sigmoid(x); }
        case 2u: { return 0.5 * x * (1.0 + erf_f32(x * 0.70710678118654752)); }
        case 3u: {
            let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -10.0, 10.0);
            return 0.5 * x * (1.0 + tanh(u));
        }
        case 4u: { return x * sigmoid(1.702 * x); }
        default: { return x; }
    }
}

// w(b, k, n .. n+3), zero outside K×N.
fn load_w4(base: u32, k: u32, n: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (k < p.k) {
        let row = base + k * p.w_sk;
        for (var c = 0u; c < 4u; c++) {
            if (n + c < p.n) { v[c] = f32(w[row + (n + c) * p.w_sn]); }
        }
    }
    return v;
}

// a[row, k .. k+3], zero outside K (`row` is the element index of a row that exists).
fn load_a4(row: u32, k: u32) -> vec4<f32> {
    if (k + 3u < p.k) {
        return vec4<f32>(f32(a[row + k]), f32(a[row + k + 1u]), f32(a[row + k + 2u]), f32(a[row + k + 3u]));
    }
    var v = vec4<f32>(0.0);
    for (var c = 0u; c < 4u; c++) {
        if (k + c < p.k) { v[c] = f32(a[row + k + c]); }
    }
    return v;
}

// --- `matmul_vec4` loads. `q` counts vec4s ("quads"); a weight quad at or past `end` reads quad
// `end - 1` and is zeroed. A quad of `a` past K reads the row's last quad and is not zeroed: it meets a
// zero weight. ---

fn quad_a(row: u32, q: u32, end: u32) -> vec4<f32> {
    return vec4<f32>(a4[row + min(q, end - 1u)]);
}

fn quad_w(at: u32, live: bool) -> vec4<f32> {
    return select(vec4<f32>(0.0), vec4<f32>(w4[at]), live);
}

// Eight quads of one `[N, K]` weight row: w[row, 4(q0 + j) .. +3] for j = 0..7.
fn row_quads(row: u32, q0: u32, end: u32) -> array<vec4<f32>, 8> {
    let last = end - 1u;
    return array<vec4<f32>, 8>(
        quad_w(row + min(q0, last), q0 < end), quad_w(row + min(q0 + 1u, last), q0 + 1u < end),
        quad_w(row + min(q0 + 2u, last), q0 + 2u < end), quad_w(row + min(q0 + 3u, last), q0 + 3u < end),
        quad_w(row + min(q0 + 4u, last), q0 + 4u < end), quad_w(row + min(q0 + 5u, last), q0 + 5u < end),
        quad_w(row + min(q0 + 6u, last), q0 + 6u < end), quad_w(row + min(q0 + 7u, last), q0 + 7u < end));
}

// One k of the chunk for this lane's 4 columns, from the columns' quads: (c0[j][e], .., c3[j][e]).
fn column4(c0: vec4<f32>, c1: vec4<f32>, c2: vec4<f32>, c3: vec4<f32>, e: u32) -> vec4<f32> {
    return vec4<f32>(c0[e], c1[e], c2[e], c3[e]);
}

// wk[kk] = w(b, k0 + kk, n .. n+3) for a `[N, K]` weight. `rows` holds the quad index of each column's
// row (columns past N already clamped to the last). Each column's 8 quads are read, then transposed in
// registers.
fn chunk_nk(rows: vec4<u32>, q0: u32, end: u32) -> array<vec4<f32>, KC> {
    let c0 = row_quads(rows.x, q0, end);
    let c1 = row_quads(rows.y, q0, end);
    let c2 = row_quads(rows.z, q0, end);
    let c3 = row_quads(rows.w, q0, end);
    return array<vec4<f32>, KC>(
        column4(c0[0], c1[0], c2[0], c3[0], 0u), column4(c0[0], c1[0], c2[0], c3[0], 1u),
        column4(c0[0], c1[0], c2[0], c3[0], 2u), column4(c0[0], c1[0], c2[0], c3[0], 3u),
        column4(c0[1], c1[1], c2[1], c3[1], 0u), column4(c0[1], c1[1], c2[1], c3[1], 1u),
        column4(c0[1], c1[1], c2[1], c3[1], 2u), column4(c0[1], c1[1], c2[1], c3[1], 3u),
        column4(c0[2], c1[2], c2[2], c3[2], 0u), column4(c0[2], c1[2], c2[2], c3[2], 1u),
        column4(c0[2], c1[2], c2[2], c3[2], 2u), column4(c0[2], c1[2], c2[2], c3[2], 3u),
        column4(c0[3], c1[3], c2[3], c3[3], 0u), column4(c0[3], c1[3], c2[3], c3[3], 1u),
        column4(c0[3], c1[3], c2[3], c3[3], 2u), column4(c0[3], c1[3], c2[3], c3[3], 3u),
        column4(c0[4], c1[4], c2[4], c3[4], 0u), column4(c0[4], c1[4], c2[4], c3[4], 1u),
        column4(c0[4], c1[4], c2[4], c3[4], 2u), column4(c0[4], c1[4], c2[4], c3[4], 3u),
        column4(c0[5], c1[5], c2[5], c3[5], 0u), column4(c0[5], c1[5], c2[5], c3[5], 1u),
        column4(c0[5], c1[5], c2[5], c3[5], 2u), column4(c0[5], c1[5], c2[5], c3[5], 3u),
        column4(c0[6], c1[6], c2[6], c3[6], 0u), column4(c0[6], c1[6], c2[6], c3[6], 1u),
        column4(c0[6], c1[6], c2[6], c3[6], 2u), column4(c0[6], c1[6], c2[6], c3[6], 3u),
        column4(c0[7], c1[7], c2[7], c3[7], 0u), column4(c0[7], c1[7], c2[7], c3[7], 1u),
        column4(c0[7], c1[7], c2[7], c3[7], 2u), column4(c0[7], c1[7], c2[7], c3[7], 3u));
}

// w(b, k, n .. n+3) for a `[K, N]` weight: quad `col` of row k, zero past K (`k` clamped to `kmax`).
fn row_kn(base: u32, k: u32, col: u32) -> vec4<f32> {
    return quad_w(base + min(k, p.k - 1u) * (p.w_sk / 4u) + col, k < p.k);
}

// wk[kk] = w(b, k0 + kk, n .. n+3) for a `[K, N]` weight; `col` is the quad index of column n (clamped).
fn chunk_kn(base: u32, k0: u32, col: u32) -> array<vec4<f32>, KC> {
    return array<vec4<f32>, KC>(
        row_kn(base, k0, col), row_kn(base, k0 + 1u, col), row_kn(base, k0 + 2u, col), row_kn(base, k0 + 3u, col),
        row_kn(base, k0 + 4u, col), row_kn(base, k0 + 5u, col), row_kn(base, k0 + 6u, col), row_kn(base, k0 + 7u, col),
        row_kn(base, k0 + 8u, col), row_kn(base, k0 + 9u, col), row_kn(base, k0 + 10u, col), row_kn(base, k0 + 11u, col),
        row_kn(base, k0 + 12u, col), row_kn(base, k0 + 13u, col), row_kn(base, k0 + 14u, col), row_kn(base, k0 + 15u, col),
        row_kn(base, k0 + 16u, col), row_kn(base, k0 + 17u, col), row_kn(base, k0 + 18u, col), row_kn(base, k0 + 19u, col),
        row_kn(base, k0 + 20u, col), row_kn(base, k0 + 21u, col), row_kn(base, k0 + 22u, col), row_kn(base, k0 + 23u, col),
        row_kn(base, k0 + 24u, col), row_kn(base, k0 + 25u, col), row_kn(base, k0 + 26u, col), row_kn(base, k0 + 27u, col),
        row_kn(base, k0 + 28u, col), row_kn(base, k0 + 29u, col), row_kn(base, k0 + 30u, col), row_kn(base, k0 + 31u, col));
}

// One row's update for one chunk: s + Σ_kk a[m, k0 + kk] · wk[kk], where lane j holds
// a[m, k0 + 4j .. 4j+3] in `av`. Every index is a constant, so the compiler keeps `wk` in registers;
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

// Bias and activation, then the store of y[row, n .. n+3] that lie inside N.
fn store_row(row: u32, n: u32, v: vec4<f32>) {
    for (var c = 0u; c < 4u; c++) {
        if (n + c >= p.n) { break; }
        var x = v[c];
        if (p.bias_mode == 1u) { x += f32(bias[n + c]); }
        y[row + n + c] = Elem(activate(x, p.act));
    }
}

@compute @workgroup_size(LANES)
fn matmul(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32,
          @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = wid.x + wid.y * nwg.x;
    if (t >= p.tiles_m * p.tiles_n * p.batch) { return; }  // the same for the whole workgroup
    let tn = t % p.tiles_n;
    let tm = (t / p.tiles_n) % p.tiles_m;
    let b = t / (p.tiles_n * p.tiles_m);
    let m0 = tm * TM;
    let n = tn * 4u * LANES + 4u * lid;  // this lane's first column
    let a0 = b * p.a_batch;
    let w0 = b * p.w_batch;
    let ka = 4u * (lane % LANES);        // this lane's k offset in a chunk of a
    // Rows past M repeat the last row (their results are not stored): row m0 + r of a starts at
    // ra + min(r, last) · lda.
    let ra = a0 + m0 * p.lda;
    let last = p.m - 1u - m0;

    // acc_r = y[m0 + r, n .. n+3], written out so that every register has a name.
    var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0); var acc5 = vec4<f32>(0.0); var acc6 = vec4<f32>(0.0); var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0); var acc9 = vec4<f32>(0.0); var acc10 = vec4<f32>(0.0); var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0); var acc13 = vec4<f32>(0.0); var acc14 = vec4<f32>(0.0); var acc15 = vec4<f32>(0.0);
    var acc16 = vec4<f32>(0.0); var acc17 = vec4<f32>(0.0); var acc18 = vec4<f32>(0.0); var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0); var acc21 = vec4<f32>(0.0); var acc22 = vec4<f32>(0.0); var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0); var acc25 = vec4<f32>(0.0); var acc26 = vec4<f32>(0.0); var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0); var acc29 = vec4<f32>(0.0); var acc30 = vec4<f32>(0.0); var acc31 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < p.k; k0 += KC) {
        // wk[kk] = w(b, k0 + kk, n .. n+3): this lane's 4 columns for the chunk.
        let wk = array<vec4<f32>, KC>(
            load_w4(w0, k0, n), load_w4(w0, k0 + 1u, n), load_w4(w0, k0 + 2u, n), load_w4(w0, k0 + 3u, n),
            load_w4(w0, k0 + 4u, n), load_w4(w0, k0 + 5u, n), load_w4(w0, k0 + 6u, n), load_w4(w0, k0 + 7u, n),
            load_w4(w0, k0 + 8u, n), load_w4(w0, k0 + 9u, n), load_w4(w0, k0 + 10u, n), load_w4(w0, k0 + 11u, n),
            load_w4(w0, k0 + 12u, n), load_w4(w0, k0 + 13u, n), load_w4(w0, k0 + 14u, n), load_w4(w0, k0 + 15u, n),
            load_w4(w0, k0 + 16u, n), load_w4(w0, k0 + 17u, n), load_w4(w0, k0 + 18u, n), load_w4(w0, k0 + 19u, n),
            load_w4(w0, k0 + 20u, n), load_w4(w0, k0 + 21u, n), load_w4(w0, k0 + 22u, n), load_w4(w0, k0 + 23u, n),
            load_w4(w0, k0 + 24u, n), load_w4(w0, k0 + 25u, n), load_w4(w0, k0 + 26u, n), load_w4(w0, k0 + 27u, n),
            load_w4(w0, k0 + 28u, n), load_w4(w0, k0 + 29u, n), load_w4(w0, k0 + 30u, n), load_w4(w0, k0 + 31u, n));
        let k = k0 + ka;
        acc0 = row_step(acc0, load_a4(ra + min(0u, last) * p.lda, k), wk);
        acc1 = row_step(acc1, load_a4(ra + min(1u, last) * p.lda, k), wk);
        acc2 = row_step(acc2, load_a4(ra + min(2u, last) * p.lda, k), wk);
        acc3 = row_step(acc3, load_a4(ra + min(3u, last) * p.lda, k), wk);
        acc4 = row_step(acc4, load_a4(ra + min(4u, last) * p.lda, k), wk);
        acc5 = row_step(acc5, load_a4(ra + min(5u, last) * p.lda, k), wk);
        acc6 = row_step(acc6, load_a4(ra + min(6u, last) * p.lda, k), wk);
        acc7 = row_step(acc7, load_a4(ra + min(7u, last) * p.lda, k), wk);
        acc8 = row_step(acc8, load_a4(ra + min(8u, last) * p.lda, k), wk);
        acc9 = row_step(acc9, load_a4(ra + min(9u, last) * p.lda, k), wk);
        acc10 = row_step(acc10, load_a4(ra + min(10u, last) * p.lda, k), wk);
        acc11 = row_step(acc11, load_a4(ra + min(11u, last) * p.lda, k), wk);
        acc12 = row_step(acc12, load_a4(ra + min(12u, last) * p.lda, k), wk);
        acc13 = row_step(acc13, load_a4(ra + min(13u, last) * p.lda, k), wk);
        acc14 = row_step(acc14, load_a4(ra + min(14u, last) * p.lda, k), wk);
        acc15 = row_step(acc15, load_a4(ra + min(15u, last) * p.lda, k), wk);
        acc16 = row_step(acc16, load_a4(ra + min(16u, last) * p.lda, k), wk);
        acc17 = row_step(acc17, load_a4(ra + min(17u, last) * p.lda, k), wk);
        acc18 = row_step(acc18, load_a4(ra + min(18u, last) * p.lda, k), wk);
        acc19 = row_step(acc19, load_a4(ra + min(19u, last) * p.lda, k), wk);
        acc20 = row_step(acc20, load_a4(ra + min(20u, last) * p.lda, k), wk);
        acc21 = row_step(acc21, load_a4(ra + min(21u, last) * p.lda, k), wk);
        acc22 = row_step(acc22, load_a4(ra + min(22u, last) * p.lda, k), wk);
        acc23 = row_step(acc23, load_a4(ra + min(23u, last) * p.lda, k), wk);
        acc24 = row_step(acc24, load_a4(ra + min(24u, last) * p.lda, k), wk);
        acc25 = row_step(acc25, load_a4(ra + min(25u, last) * p.lda, k), wk);
        acc26 = row_step(acc26, load_a4(ra + min(26u, last) * p.lda, k), wk);
        acc27 = row_step(acc27, load_a4(ra + min(27u, last) * p.lda, k), wk);
        acc28 = row_step(acc28, load_a4(ra + min(28u, last) * p.lda, k), wk);
        acc29 = row_step(acc29, load_a4(ra + min(29u, last) * p.lda, k), wk);
        acc30 = row_step(acc30, load_a4(ra + min(30u, last) * p.lda, k), wk);
        acc31 = row_step(acc31, load_a4(ra + min(31u, last) * p.lda, k), wk);
    }

    // Rows past M are not stored. (Written out: an indexed array of the accumulators would live in
    // scratch memory.)
    let rows = min(TM, p.m - m0);
    let yr = b * p.y_batch + m0 * p.ldy;
    if (0u < rows) { store_row(yr + 0u * p.ldy, n, acc0); }
    if (1u < rows) { store_row(yr + 1u * p.ldy, n, acc1); }
    if (2u < rows) { store_row(yr + 2u * p.ldy, n, acc2); }
    if (3u < rows) { store_row(yr + 3u * p.ldy, n, acc3); }
    if (4u < rows) { store_row(yr + 4u * p.ldy, n, acc4); }
    if (5u < rows) { store_row(yr + 5u * p.ldy, n, acc5); }
    if (6u < rows) { store_row(yr + 6u * p.ldy, n, acc6); }
    if (7u < rows) { store_row(yr + 7u * p.ldy, n, acc7); }
    if (8u < rows) { store_row(yr + 8u * p.ldy, n, acc8); }
    if (9u < rows) { store_row(yr + 9u * p.ldy, n, acc9); }
    if (10u < rows) { store_row(yr + 10u * p.ldy, n, acc10); }
    if (11u < rows) { store_row(yr + 11u * p.ldy, n, acc11); }
    if (12u < rows) { store_row(yr + 12u * p.ldy, n, acc12); }
    if (13u < rows) { store_row(yr + 13u * p.ldy, n, acc13); }
    if (14u < rows) { store_row(yr + 14u * p.ldy, n, acc14); }
    if (15u < rows) { store_row(yr + 15u * p.ldy, n, acc15); }
    if (16u < rows) { store_row(yr + 16u * p.ldy, n, acc16); }
    if (17u < rows) { store_row(yr + 17u * p.ldy, n, acc17); }
    if (18u < rows) { store_row(yr + 18u * p.ldy, n, acc18); }
    if (19u < rows) { store_row(yr + 19u * p.ldy, n, acc19); }
    if (20u < rows) { store_row(yr + 20u * p.ldy, n, acc20); }
    if (21u < rows) { store_row(yr + 21u * p.ldy, n, acc21); }
    if (22u < rows) { store_row(yr + 22u * p.ldy, n, acc22); }
    if (23u < rows) { store_row(yr + 23u * p.ldy, n, acc23); }
    if (24u < rows) { store_row(yr + 24u * p.ldy, n, acc24); }
    if (25u < rows) { store_row(yr + 25u * p.ldy, n, acc25); }
    if (26u < rows) { store_row(yr + 26u * p.ldy, n, acc26); }
    if (27u < rows) { store_row(yr + 27u * p.ldy, n, acc27); }
    if (28u < rows) { store_row(yr + 28u * p.ldy, n, acc28); }
    if (29u < rows) { store_row(yr + 29u * p.ldy, n, acc29); }
    if (30u < rows) { store_row(yr + 30u * p.ldy, n, acc30); }
    if (31u < rows) { store_row(yr + 31u * p.ldy, n, acc31); }
}

// --- `matmul_vec4` ---

@compute @workgroup_size(LANES)
fn matmul_vec4(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32,
          @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = wid.x + wid.y * nwg.x;
    if (t >= p.tiles_m * p.tiles_n * p.batch) { return; }  // the same for the whole workgroup
    let tn = t % p.tiles_n;
    let tm = (t / p.tiles_n) % p.tiles_m;
    let b = t / (p.tiles_n * p.tiles_m);
    let m0 = tm * TM;
    let n = tn * 4u * LANES + 4u * lid;  // this lane's first column
    let kq = p.k / 4u;                   // quads per row of a (and of an [N, K] weight)
    let qa = lane % LANES;               // this lane's quad of a in a chunk
    // Row m0 + r of a starts at quad ra + min(r, last) · lda / 4: rows past M repeat the last one.
    let ra = (b * p.a_batch + m0 * p.lda) / 4u;
    let rq = p.lda / 4u;
    let last = p.m - 1u - m0;
    // The weight: the quad index of each of this lane's column rows ([N, K]), or of its columns' quad
    // ([K, N]); columns past N read the last column.
    let wq = b * p.w_batch / 4u;
    let nmax = p.n - 1u;
    let rows_nk = wq + vec4<u32>(min(n, nmax), min(n + 1u, nmax), min(n + 2u, nmax), min(n + 3u, nmax)) * (p.w_sn / 4u);
    let col_kn = min(n, nmax) / 4u;

    // acc_r = y[m0 + r, n .. n+3], written out so that every register has a name.
    var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0); var acc5 = vec4<f32>(0.0); var acc6 = vec4<f32>(0.0); var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0); var acc9 = vec4<f32>(0.0); var acc10 = vec4<f32>(0.0); var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0); var acc13 = vec4<f32>(0.0); var acc14 = vec4<f32>(0.0); var acc15 = vec4<f32>(0.0);
    var acc16 = vec4<f32>(0.0); var acc17 = vec4<f32>(0.0); var acc18 = vec4<f32>(0.0); var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0); var acc21 = vec4<f32>(0.0); var acc22 = vec4<f32>(0.0); var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0); var acc25 = vec4<f32>(0.0); var acc26 = vec4<f32>(0.0); var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0); var acc29 = vec4<f32>(0.0); var acc30 = vec4<f32>(0.0); var acc31 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < p.k; k0 += KC) {
        var wk: array<vec4<f32>, KC>;
        if (W_KN == 1u) {
            wk = chunk_kn(wq, k0, col_kn);
        } else {
            wk = chunk_nk(rows_nk, k0 / 4u, kq);
        }
        let q = k0 / 4u + qa;
        acc0 = row_step(acc0, quad_a(ra + min(0u, last) * rq, q, kq), wk);
        acc1 = row_step(acc1, quad_a(ra + min(1u, last) * rq, q, kq), wk);
        acc2 = row_step(acc2, quad_a(ra + min(2u, last) * rq, q, kq), wk);
        acc3 = row_step(acc3, quad_a(ra + min(3u, last) * rq, q, kq), wk);
        acc4 = row_step(acc4, quad_a(ra + min(4u, last) * rq, q, kq), wk);
        acc5 = row_step(acc5, quad_a(ra + min(5u, last) * rq, q, kq), wk);
        acc6 = row_step(acc6, quad_a(ra + min(6u, last) * rq, q, kq), wk);
        acc7 = row_step(acc7, quad_a(ra + min(7u, last) * rq, q, kq), wk);
        acc8 = row_step(acc8, quad_a(ra + min(8u, last) * rq, q, kq), wk);
        acc9 = row_step(acc9, quad_a(ra + min(9u, last) * rq, q, kq), wk);
        acc10 = row_step(acc10, quad_a(ra + min(10u, last) * rq, q, kq), wk);
        acc11 = row_step(acc11, quad_a(ra + min(11u, last) * rq, q, kq), wk);
        acc12 = row_step(acc12, quad_a(ra + min(12u, last) * rq, q, kq), wk);
        acc13 = row_step(acc13, quad_a(ra + min(13u, last) * rq, q, kq), wk);
        acc14 = row_step(acc14, quad_a(ra + min(14u, last) * rq, q, kq), wk);
        acc15 = row_step(acc15, quad_a(ra + min(15u, last) * rq, q, kq), wk);
        acc16 = row_step(acc16, quad_a(ra + min(16u, last) * rq, q, kq), wk);
        acc17 = row_step(acc17, quad_a(ra + min(17u, last) * rq, q, kq), wk);
        acc18 = row_step(acc18, quad_a(ra + min(18u, last) * rq, q, kq), wk);
        acc19 = row_step(acc19, quad_a(ra + min(19u, last) * rq, q, kq), wk);
        acc20 = row_step(acc20, quad_a(ra + min(20u, last) * rq, q, kq), wk);
        acc21 = row_step(acc21, quad_a(ra + min(21u, last) * rq, q, kq), wk);
        acc22 = row_step(acc22, quad_a(ra + min(22u, last) * rq, q, kq), wk);
        acc23 = row_step(acc23, quad_a(ra + min(23u, last) * rq, q, kq), wk);
        acc24 = row_step(acc24, quad_a(ra + min(24u, last) * rq, q, kq), wk);
        acc25 = row_step(acc25, quad_a(ra + min(25u, last) * rq, q, kq), wk);
        acc26 = row_step(acc26, quad_a(ra + min(26u, last) * rq, q, kq), wk);
        acc27 = row_step(acc27, quad_a(ra + min(27u, last) * rq, q, kq), wk);
        acc28 = row_step(acc28, quad_a(ra + min(28u, last) * rq, q, kq), wk);
        acc29 = row_step(acc29, quad_a(ra + min(29u, last) * rq, q, kq), wk);
        acc30 = row_step(acc30, quad_a(ra + min(30u, last) * rq, q, kq), wk);
        acc31 = row_step(acc31, quad_a(ra + min(31u, last) * rq, q, kq), wk);
    }

    // Rows past M are not stored. (Written out: an indexed array of the accumulators would live in
    // scratch memory.)
    let rows = min(TM, p.m - m0);
    let yr = b * p.y_batch + m0 * p.ldy;
    if (0u < rows) { store_row(yr + 0u * p.ldy, n, acc0); }
    if (1u < rows) { store_row(yr + 1u * p.ldy, n, acc1); }
    if (2u < rows) { store_row(yr + 2u * p.ldy, n, acc2); }
    if (3u < rows) { store_row(yr + 3u * p.ldy, n, acc3); }
    if (4u < rows) { store_row(yr + 4u * p.ldy, n, acc4); }
    if (5u < rows) { store_row(yr + 5u * p.ldy, n, acc5); }
    if (6u < rows) { store_row(yr + 6u * p.ldy, n, acc6); }
    if (7u < rows) { store_row(yr + 7u * p.ldy, n, acc7); }
    if (8u < rows) { store_row(yr + 8u * p.ldy, n, acc8); }
    if (9u < rows) { store_row(yr + 9u * p.ldy, n, acc9); }
    if (10u < rows) { store_row(yr + 10u * p.ldy, n, acc10); }
    if (11u < rows) { store_row(yr + 11u * p.ldy, n, acc11); }
    if (12u < rows) { store_row(yr + 12u * p.ldy, n, acc12); }
    if (13u < rows) { store_row(yr + 13u * p.ldy, n, acc13); }
    if (14u < rows) { store_row(yr + 14u * p.ldy, n, acc14); }
    if (15u < rows) { store_row(yr + 15u * p.ldy, n, acc15); }
    if (16u < rows) { store_row(yr + 16u * p.ldy, n, acc16); }
    if (17u < rows) { store_row(yr + 17u * p.ldy, n, acc17); }
    if (18u < rows) { store_row(yr + 18u * p.ldy, n, acc18); }
    if (19u < rows) { store_row(yr + 19u * p.ldy, n, acc19); }
    if (20u < rows) { store_row(yr + 20u * p.ldy, n, acc20); }
    if (21u < rows) { store_row(yr + 21u * p.ldy, n, acc21); }
    if (22u < rows) { store_row(yr + 22u * p.ldy, n, acc22); }
    if (23u < rows) { store_row(yr + 23u * p.ldy, n, acc23); }
    if (24u < rows) { store_row(yr + 24u * p.ldy, n, acc24); }
    if (25u < rows) { store_row(yr + 25u * p.ldy, n, acc25); }
    if (26u < rows) { store_row(yr + 26u * p.ldy, n, acc26); }
    if (27u < rows) { store_row(yr + 27u * p.ldy, n, acc27); }
    if (28u < rows) { store_row(yr + 28u * p.ldy, n, acc28); }
    if (29u < rows) { store_row(yr + 29u * p.ldy, n, acc29); }
    if (30u < rows) { store_row(yr + 30u * p.ldy, n, acc30); }
    if (31u < rows) { store_row(yr + 31u * p.ldy, n, acc31); }
}
