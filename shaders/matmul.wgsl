// Batched matmul / linear for real GPUs: a workgroup-memory tiled GEMM.
//
//   y[b, m, n] = act(Σ_k a[b, m, k] · w(b, k, n) + bias[n])
//
// `a` is row-major `[batch, M, K]` (rows `lda` apart, batches `a_batch` apart); `w(b, k, n)` is read at
// `b·w_batch + k·w_sk + n·w_sn`, so torch's linear weight `[N, K]` is `w_sk = 1, w_sn = K` and a plain
// `[K, N]` matrix is `w_sk = N, w_sn = 1`; `w_batch = 0` shares one weight across the batch.
//
// `Elem` (f32 or f16) is defined by the prelude the GPU layer prepends; accumulation is f32.
// One workgroup of 16×16 threads computes a 64×64 tile of `y`, each thread a 4×4 block, walking K in
// steps of 16: the tile's slices of `a` and `w` are staged in workgroup memory (loads along K or N, so
// neighbouring threads read neighbouring addresses), then read back as vec4. Tiles are numbered
// linearly over a 2-D grid (`wid.x + wid.y · nwg.x`, for the 65535-per-dimension limit); the last
// workgroup and the edge tiles are guarded: nothing outside M×N is written, nothing outside the views read.

struct Params {
    m: u32,          // rows of a and y
    n: u32,          // columns of y
    k: u32,          // reduced dimension
    batch: u32,      // number of products
    tiles_m: u32,    // ceil(m / BM)
    tiles_n: u32,    // ceil(n / BN)
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

const BM: u32 = 64u;   // tile rows
const BN: u32 = 64u;   // tile columns
const BK: u32 = 16u;   // K per stage
const WG: u32 = 256u;  // threads: 16 × 16, each a 4×4 block

// a_tile[kk · BM/4 + i] holds rows 4i..4i+3 of the tile at k0 + kk; b_tile likewise for columns.
var<workgroup> a_tile: array<vec4<f32>, 256>;  // BK · BM / 4
var<workgroup> b_tile: array<vec4<f32>, 256>;  // BK · BN / 4

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

// a[b, m, k], zero outside M×K.
fn load_a(base: u32, m: u32, k: u32) -> f32 {
    if (m >= p.m || k >= p.k) { return 0.0; }
    return f32(a[base + m * p.lda + k]);
}

// w(b, k, n), zero outside K×N.
fn load_w(base: u32, k: u32, n: u32) -> f32 {
    if (k >= p.k || n >= p.n) { return 0.0; }
    return f32(w[base + k * p.w_sk + n * p.w_sn]);
}

@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = wid.x + wid.y * nwg.x;
    if (t >= p.tiles_m * p.tiles_n * p.batch) { return; }  // the same for the whole workgroup
    let tn = t % p.tiles_n;
    let tm = (t / p.tiles_n) % p.tiles_m;
    let b = t / (p.tiles_n * p.tiles_m);
    let m0 = tm * BM;
    let n0 = tn * BN;
    let a_base = b * p.a_batch;
    let w_base = b * p.w_batch;
    let tx = lid % 16u;  // columns n0 + 4tx ..
    let ty = lid / 16u;  // rows m0 + 4ty ..
    let w_along_k = p.w_sk == 1u;  // weight [N, K]: read along K for contiguous addresses

    var acc: array<vec4<f32>, 4>;  // acc[i] = y[m0 + 4ty + i, n0 + 4tx .. + 3]
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        for (var i = 0u; i < 4u; i++) {
            let e = lid + i * WG;
            let kk = e % BK;
            let mm = e / BK;
            a_tile[kk * (BM / 4u) + mm / 4u][mm % 4u] = load_a(a_base, m0 + mm, k0 + kk);
            var wk = e / BN;
            var wn = e % BN;
            if (w_along_k) {
                wk = e % BK;
                wn = e / BK;
            }
            b_tile[wk * (BN / 4u) + wn / 4u][wn % 4u] = load_w(w_base, k0 + wk, n0 + wn);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let av = a_tile[kk * (BM / 4u) + ty];
            let bv = b_tile[kk * (BN / 4u) + tx];
            acc[0] += av.x * bv;
            acc[1] += av.y * bv;
            acc[2] += av.z * bv;
            acc[3] += av.w * bv;
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let m = m0 + 4u * ty + i;
        if (m >= p.m) { break; }
        for (var j = 0u; j < 4u; j++) {
            let n = n0 + 4u * tx + j;
            if (n >= p.n) { break; }
            var v = acc[i][j];
            if (p.bias_mode == 1u) { v += f32(bias[n]); }
            y[b * p.y_batch + m * p.ldy + n] = Elem(activate(v, p.act));
        }
    }
}
