// 2-D convolution (NCHW, square kernel, k ∈ {1, 3}, stride ∈ {1, 2}, zero padding) for software
// adapters (lavapipe): the implicit GEMM of shaders/conv2d.wgsl (same `Params`) computed with the
// register tiling of shaders/matmul_subgroup.wgsl:
//
//   y[b, co, pix] = bias[co] + Σ_kk weight[co, kk] · col(b, kk, pix)
//
// A workgroup is 8 invocations (one subgroup wherever subgroups have ≥ 8 lanes) and computes 32 output
// channels × 32 output pixels: lane l owns pixels n0 + 4l .. 4l+3. K = (ci, ky, kx) is walked in chunks
// of 32: each lane gathers its 4 pixels' input taps for the chunk once (the tap coordinates advance by
// counters, no division per tap), then for each of the 32 channels lane l loads
// weight[co, k0 + 4l .. 4l+3] and the chunk's 32 weights reach every lane by 8 broadcasts from constant
// lanes (`subgroup_invocation_id`, so nothing depends on the subgroup size beyond ≥ 8).

struct Params {
    m: u32,          // output channels Co (GEMM rows)
    n: u32,          // output pixels OH · OW (GEMM columns)
    k: u32,          // Ci · KS · KS (reduced dimension)
    batch: u32,      // images
    tiles_m: u32,    // ceil(m / tile rows)
    tiles_n: u32,    // ceil(n / tile columns)
    has_bias: u32,   // 1: bias[co] added
    ks: u32,         // kernel size (1 or 3)
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

const TM: u32 = 32u;     // tile rows (output channels)
const LANES: u32 = 8u;   // invocations per workgroup; tile columns = 4 · LANES pixels
const KC: u32 = 32u;     // K per chunk = 4 · LANES

// weight[co, k .. k+3] (row = co · K), zero outside K.
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

// The input at padded coordinates (iy, ix) of channel plane `plane`, zero in the padding. `ok` is false
// for pixels past the end of the output and taps past K.
fn load_tap(plane: u32, iy: u32, ix: u32, ok: bool) -> f32 {
    if (!ok || iy < p.pad || ix < p.pad || iy - p.pad >= p.h || ix - p.pad >= p.w) { return 0.0; }
    return f32(x[plane + (iy - p.pad) * p.w + ix - p.pad]);
}

// s + Σ_c av[c] · col[4j + c]: four taps of one channel against this lane's 4 pixels.
fn step4(s: vec4<f32>, av: vec4<f32>, col: ptr<function, array<vec4<f32>, KC>>, j: u32) -> vec4<f32> {
    return s + av.x * (*col)[4u * j] + av.y * (*col)[4u * j + 1u] + av.z * (*col)[4u * j + 2u]
        + av.w * (*col)[4u * j + 3u];
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
    let rows = min(TM, p.m - m0);
    let ka = 4u * (lane % LANES);        // this lane's k offset in a chunk of weights
    let plane_size = p.h * p.w;

    // Top-left corner, in padded input coordinates, of the window of each of this lane's pixels.
    var oy: array<u32, 4>;
    var ox: array<u32, 4>;
    var live: array<bool, 4>;
    for (var c = 0u; c < 4u; c++) {
        oy[c] = ((n + c) / p.out_w) * p.stride;
        ox[c] = ((n + c) % p.out_w) * p.stride;
        live[c] = n + c < p.n;
    }

    var acc: array<vec4<f32>, TM>;       // acc[r] = y[b, m0 + r, n .. n+3]
    var col: array<vec4<f32>, KC>;       // col[kk] = the taps k0 + kk of this lane's 4 pixels
    // Tap k = (ci, ky, kx), advanced by counters.
    var ci = 0u;
    var ky = 0u;
    var kx = 0u;
    for (var k0 = 0u; k0 < p.k; k0 += KC) {
        for (var kk = 0u; kk < KC; kk++) {
            let ok = k0 + kk < p.k;
            let plane = (b * p.c_in + ci) * plane_size;
            col[kk] = vec4<f32>(load_tap(plane, oy[0] + ky, ox[0] + kx, ok && live[0]),
                                load_tap(plane, oy[1] + ky, ox[1] + kx, ok && live[1]),
                                load_tap(plane, oy[2] + ky, ox[2] + kx, ok && live[2]),
                                load_tap(plane, oy[3] + ky, ox[3] + kx, ok && live[3]));
            kx += 1u;
            if (kx == p.ks) {
                kx = 0u;
                ky += 1u;
                if (ky == p.ks) {
                    ky = 0u;
                    ci += 1u;
                }
            }
        }
        for (var r = 0u; r < rows; r++) {
            let av = load_weight4((m0 + r) * p.k, k0 + ka);
            var s = acc[r];
            s = step4(s, subgroupBroadcast(av, 0u), &col, 0u);
            s = step4(s, subgroupBroadcast(av, 1u), &col, 1u);
            s = step4(s, subgroupBroadcast(av, 2u), &col, 2u);
            s = step4(s, subgroupBroadcast(av, 3u), &col, 3u);
            s = step4(s, subgroupBroadcast(av, 4u), &col, 4u);
            s = step4(s, subgroupBroadcast(av, 5u), &col, 5u);
            s = step4(s, subgroupBroadcast(av, 6u), &col, 6u);
            s = step4(s, subgroupBroadcast(av, 7u), &col, 7u);
            acc[r] = s;
        }
    }

    for (var r = 0u; r < rows; r++) {
        let co = m0 + r;
        var bias_v = 0.0;
        if (p.has_bias == 1u) { bias_v = f32(bias[co]); }
        let row = (b * p.m + co) * p.n;
        for (var c = 0u; c < 4u; c++) {
            if (!live[c]) { break; }
            y[row + n + c] = Elem(acc[r][c] + bias_v);
        }
    }
}
