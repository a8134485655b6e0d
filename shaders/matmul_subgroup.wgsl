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

// w(b, k, n), zero outside K×N.
fn load_w(base: u32, k: u32, n: u32) -> f32 {
    if (k >= p.k || n >= p.n) { return 0.0; }
    return f32(w[base + k * p.w_sk + n * p.w_sn]);
}

// a[b, m, k .. k+3], zero outside K (the caller keeps m < M).
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

// s + Σ_c av[c] · wk[4j + c]: four k values of one row against this lane's 4 columns.
fn step4(s: vec4<f32>, av: vec4<f32>, wk: ptr<function, array<vec4<f32>, KC>>, j: u32) -> vec4<f32> {
    return s + av.x * (*wk)[4u * j] + av.y * (*wk)[4u * j + 1u] + av.z * (*wk)[4u * j + 2u]
        + av.w * (*wk)[4u * j + 3u];
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
    let rows = min(TM, p.m - m0);
    let a_base = b * p.a_batch;
    let w_base = b * p.w_batch;
    let ka = 4u * (lane % LANES);        // this lane's k offset in a chunk of a

    var acc: array<vec4<f32>, TM>;       // acc[r] = y[m0 + r, n .. n+3]
    var wk: array<vec4<f32>, KC>;        // wk[kk] = w(b, k0 + kk, n .. n+3)
    for (var k0 = 0u; k0 < p.k; k0 += KC) {
        for (var kk = 0u; kk < KC; kk++) {
            let k = k0 + kk;
            wk[kk] = vec4<f32>(load_w(w_base, k, n), load_w(w_base, k, n + 1u),
                               load_w(w_base, k, n + 2u), load_w(w_base, k, n + 3u));
        }
        for (var r = 0u; r < rows; r++) {
            let av = load_a4(a_base + (m0 + r) * p.lda, k0 + ka);
            var s = acc[r];
            s = step4(s, subgroupBroadcast(av, 0u), &wk, 0u);
            s = step4(s, subgroupBroadcast(av, 1u), &wk, 1u);
            s = step4(s, subgroupBroadcast(av, 2u), &wk, 2u);
            s = step4(s, subgroupBroadcast(av, 3u), &wk, 3u);
            s = step4(s, subgroupBroadcast(av, 4u), &wk, 4u);
            s = step4(s, subgroupBroadcast(av, 5u), &wk, 5u);
            s = step4(s, subgroupBroadcast(av, 6u), &wk, 6u);
            s = step4(s, subgroupBroadcast(av, 7u), &wk, 7u);
            acc[r] = s;
        }
    }

    for (var r = 0u; r < rows; r++) {
        let row = b * p.y_batch + (m0 + r) * p.ldy;
        for (var c = 0u; c < 4u; c++) {
            if (n + c >= p.n) { break; }
            var v = acc[r][c];
            if (p.bias_mode == 1u) { v += f32(bias[n + c]); }
            y[row + n + c] = Elem(activate(v, p.act));
        }
    }
}
