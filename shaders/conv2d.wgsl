// 2-D convolution (NCHW, square kernel, k ∈ {1, 3}, stride ∈ {1, 2}, zero padding) for real GPUs, as an
// implicit GEMM through workgroup memory:
//
//   y[b, co, pix] = bias[co] + Σ_kk weight[co, kk] · col(b, kk, pix)
//
// with kk = (ci, ky, kx) flattened as the weight stores it and col(b, kk, pix) the input pixel under tap
// (ky, kx) of output pixel pix = oh · OW + ow (zero in the padding). The im2col matrix is never stored:
// the tile loader reads it straight from x. Tiling is that of shaders/matmul.wgsl: 64×64 output tiles
// (64 channels × 64 pixels), 16×16 threads of 4×4 outputs, K in steps of 16 staged in workgroup memory,
// loads along the pixel axis so neighbouring threads read neighbouring addresses.
//
// `Elem` (f32 or f16) is defined by the prelude; accumulation is f32. Tiles are numbered linearly over a
// 2-D grid (`wid.x + wid.y · nwg.x`); edge tiles and the last workgroup are guarded.

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

override KS: u32 = 3u;  // kernel size (1 or 3): a constant, so dividing by it is cheap
const BM: u32 = 64u;   // tile rows (output channels)
const BN: u32 = 64u;   // tile columns (output pixels)
const BK: u32 = 16u;   // K per stage
const WG: u32 = 256u;  // threads: 16 × 16, each a 4×4 block

var<workgroup> a_tile: array<vec4<f32>, 256>;  // [BK][BM/4]: weight, 4 channels per vec4
var<workgroup> b_tile: array<vec4<f32>, 256>;  // [BK][BN/4]: input taps, 4 pixels per vec4

// weight[co, kk], zero outside Co × K.
fn load_weight(co: u32, kk: u32) -> f32 {
    if (co >= p.m || kk >= p.k) { return 0.0; }
    return f32(weight[co * p.k + kk]);
}

// col(b, kk, pix): the input under tap kk of output pixel pix, zero in the padding and outside K × N.
fn load_col(x_base: u32, kk: u32, pix: u32) -> f32 {
    if (kk >= p.k || pix >= p.n) { return 0.0; }
    let ci = kk / (KS * KS);
    let ky = (kk / KS) % KS;
    let kx = kk % KS;
    let iy = (pix / p.out_w) * p.stride + ky;  // row in the padded input
    let ix = (pix % p.out_w) * p.stride + kx;
    if (iy < p.pad || ix < p.pad || iy - p.pad >= p.h || ix - p.pad >= p.w) { return 0.0; }
    return f32(x[x_base + (ci * p.h + iy - p.pad) * p.w + ix - p.pad]);
}

@compute @workgroup_size(WG)
fn conv2d(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = wid.x + wid.y * nwg.x;
    if (t >= p.tiles_m * p.tiles_n * p.batch) { return; }  // the same for the whole workgroup
    let tn = t % p.tiles_n;
    let tm = (t / p.tiles_n) % p.tiles_m;
    let b = t / (p.tiles_n * p.tiles_m);
    let m0 = tm * BM;
    let n0 = tn * BN;
    let x_base = b * p.c_in * p.h * p.w;
    let tx = lid % 16u;  // pixels n0 + 4tx ..
    let ty = lid / 16u;  // channels m0 + 4ty ..

    var acc: array<vec4<f32>, 4>;  // acc[i] = y[b, m0 + 4ty + i, n0 + 4tx .. + 3]
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        for (var i = 0u; i < 4u; i++) {
            let e = lid + i * WG;
            let ak = e % BK;  // weight rows are contiguous along K
            let am = e / BK;
            a_tile[ak * (BM / 4u) + am / 4u][am % 4u] = load_weight(m0 + am, k0 + ak);
            let bk = e / BN;  // input rows are contiguous along pixels
            let bn = e % BN;
            b_tile[bk * (BN / 4u) + bn / 4u][bn % 4u] = load_col(x_base, k0 + bk, n0 + bn);
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
        let co = m0 + 4u * ty + i;
        if (co >= p.m) { break; }
        var bias_v = 0.0;
        if (p.has_bias == 1u) { bias_v = f32(bias[co]); }
        for (var j = 0u; j < 4u; j++) {
            let pix = n0 + 4u * tx + j;
            if (pix >= p.n) { break; }
            y[(b * p.m + co) * p.n + pix] = Elem(acc[i][j] + bias_v);
        }
    }
}
