// Embeddings: diffusers' sinusoidal timestep embedding, and CLIP's token + position embedding.
//
// `Elem` (f32 or f16) is defined by the prelude the GPU layer prepends; arithmetic is f32. One thread per
// output element, linear index `(wid.x + wid.y · nwg.x) · WG + lid`, guarded by `p.n`.
//
// Timestep embedding (diffusers `get_timestep_embedding`, scale 1): with half = dim / 2,
//   freq[j] = exp(−ln(max_period) · j / (half − shift)),  arg = t · freq[j],
//   y[b] = [sin(arg), cos(arg)] (or [cos, sin] when flipped), a zero column appended when dim is odd.
// t reaches 999, so arg reaches 999 rad. Vulkan only bounds the error of the built-in sin/cos/exp loosely
// (sin: 2⁻¹¹ absolute, and only on [−π, π]), so this file brings its own: exp by 2^k · polynomial, the
// product t · freq kept exactly as a sum of f32 terms (12-bit splits), Cody–Waite reduction by π/2, and
// Cephes' sinf/cosf polynomials on [−π/4, π/4]. What is left is the f32 rounding of freq itself, which
// diffusers (computing in f32) has too.
//
// Token embedding: y[b, n, c] = token[ids[b, n], c] + position[n, c]. An id ≥ vocab is clamped to
// vocab − 1, so nothing is ever read out of bounds. The token table may be larger than one binding (CLIP:
// 49408 × 768 f32 = 145 MiB): it is bound as two row ranges, rows [0, rows0) in `token0` and the rest in
// `token1` (the host binds the same range twice when one binding suffices).

struct Params {
    n: u32,          // output elements
    dim: u32,        // timestep: embedding width; token: channels C
    half: u32,       // timestep: dim / 2; token: tokens per batch N
    flip: u32,       // timestep: 1 for [cos, sin]; token: vocab V
    shift: f32,      // timestep: downscale_freq_shift
    log_period: f32, // timestep: ln(max_period)
    rows0: u32,      // token: rows of the table in `token0`
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> t: array<f32>;        // timesteps [B] (always f32)
@group(0) @binding(2) var<storage, read_write> ids: array<u32>;      // token ids [B, N]
@group(0) @binding(3) var<storage, read_write> token0: array<Elem>;  // token table rows [0, rows0), [rows0, C]
@group(0) @binding(4) var<storage, read_write> token1: array<Elem>;  // token table rows [rows0, V), [V − rows0, C]
@group(0) @binding(5) var<storage, read_write> position: array<Elem>; // position table [P ≥ N, C]
@group(0) @binding(6) var<storage, read_write> y: array<Elem>;       // [B, dim] / [B, N, C]

const WG: u32 = 256u;

fn linear_index(lid: u32, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

// e^x for x ≤ 0 of moderate size: x = k ln2 + r, |r| ≤ ln2 / 2, e^r by its degree-7 Taylor polynomial
// (truncation < 5e-9 relative), ln2 split so that k · LN2_HI is exact.
fn exp_f32(x: f32) -> f32 {
    let k = round(x * 1.44269504088896341);
    let r = (x - k * 0.693145751953125) - k * 1.42860682030941723212e-6;
    let e = 1.0 + r * (1.0 + r * (0.5 + r * (1.66666666666666667e-1 + r * (4.16666666666666667e-2 +
        r * (8.33333333333333333e-3 + r * (1.38888888888888889e-3 + r * 1.98412698412698413e-4))))));
    return ldexp(e, i32(k));
}

// The value with the low 12 of its 24 significand bits cleared: products of two such values are exact.
fn split_hi(x: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) & 0xFFFFF000u);
}

// (sin a, cos a) of a = hi + lo, hi carrying the magnitude, by reduction modulo π/2.
fn sincos(hi: f32, lo: f32) -> vec2<f32> {
    let k = round(hi * 0.636619772367581343);
    // π/2 = PIO2_1 + PIO2_2 + PIO2_3 (Cephes' DP1..3 doubled); k · PIO2_1 is exact for |k| < 2^16.
    let r = ((hi - k * 1.5703125) - k * 4.837512969970703125e-4) - k * 7.54978995489188216e-8 + lo;
    let z = r * r;
    let s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
    let c = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 +
        z * 2.443315711809948e-5));
    switch (i32(k) & 3) {
        case 0: { return vec2<f32>(s, c); }
        case 1: { return vec2<f32>(c, -s); }
        case 2: { return vec2<f32>(-s, -c); }
        default: { return vec2<f32>(-c, s); }
    }
}

@compute @workgroup_size(WG)
fn timestep_embedding(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.n) { return; }
    let b = i / p.dim;
    let col = i % p.dim;
    if (col >= 2u * p.half) {
        y[i] = Elem(0.0);  // the padding column of an odd dim
        return;
    }
    let j = col % p.half;
    let second = col >= p.half;
    // diffusers: exponent = −ln(max_period) · arange(half) / (half − shift), in f32.
    let freq = exp_f32(-p.log_period * f32(j) / (f32(p.half) - p.shift));
    // t · freq exactly, as p1 + (p2 + p3).
    let tv = t[b];
    let th = split_hi(tv);
    let tl = tv - th;
    let fh = split_hi(freq);
    let fl = freq - fh;
    let p1 = th * fh;
    let lo = (th * fl + tl * fh) + tl * fl;
    let sc = sincos(p1, lo);
    // Unflipped: [sin, cos]; flipped: [cos, sin].
    let use_cos = second != (p.flip == 1u);
    y[i] = Elem(select(sc.x, sc.y, use_cos));
}

@compute @workgroup_size(WG)
fn token_embedding(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.n) { return; }
    let c_len = p.dim;
    let c = i % c_len;
    let row = i / c_len;       // b · N + n
    let n = row % p.half;
    let id = min(ids[row], p.flip - 1u);
    var e: f32;
    if (id < p.rows0) {
        e = f32(token0[id * c_len + c]);
    } else {
        e = f32(token1[(id - p.rows0) * c_len + c]);
    }
    y[i] = Elem(e + f32(position[n * c_len + c]));
}
