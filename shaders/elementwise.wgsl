// Elementwise kernels: add / mul with broadcasting, scale, activations, GEGLU.
//
// `Elem` (f32 or f16) is defined by the prelude the GPU layer prepends; arithmetic is f32.
// One thread per output element. The grid is 2-D when there are more than 65535 workgroups: the linear
// workgroup index is `wid.x + wid.y * nwg.x`, and the last workgroup is guarded by `p.n`.

struct Params {
    n: u32,             // elements of the output
    code: u32,          // binary: 0 add, 1 mul; unary: the activation code (see `activate`)
    half_width: u32,    // GEGLU: F, the output's last dimension (the input's is 2F)
    _pad: u32,
    a_dims: vec4<u32>,  // binary: shape of `src0` and `dst`, 4-D, leading 1s
    b_strides: vec4<u32>, // binary: element strides of `src1` per dim of `a_dims`, 0 where broadcast
    alpha: f32,         // scale: y = alpha * x + beta
    beta: f32,
    _pad2: vec2<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> src0: array<Elem>;  // a / x
@group(0) @binding(2) var<storage, read_write> src1: array<Elem>;  // b (binary only)
@group(0) @binding(3) var<storage, read_write> dst: array<Elem>;   // y

const WG: u32 = 256u;

fn linear_index(lid: u32, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

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

fn gelu_erf(x: f32) -> f32 {
    return 0.5 * x * (1.0 + erf_f32(x * 0.70710678118654752));
}

// Activation codes match `graph::Activation::code`.
fn activate(x: f32, code: u32) -> f32 {
    switch code {
        case 1u: { return x * sigmoid(x); }
        case 2u: { return gelu_erf(x); }
        case 3u: {
            // tanh saturates long before |u| = 10; clamping keeps exp-based tanh finite everywhere.
            let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -10.0, 10.0);
            return 0.5 * x * (1.0 + tanh(u));
        }
        case 4u: { return x * sigmoid(1.702 * x); }
        default: { return x; }
    }
}

@compute @workgroup_size(WG)
fn binary(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.n) { return; }
    let d = p.a_dims;
    let i3 = i % d.w;
    let i2 = (i / d.w) % d.z;
    let i1 = (i / (d.w * d.z)) % d.y;
    let i0 = i / (d.w * d.z * d.y);
    let j = i0 * p.b_strides.x + i1 * p.b_strides.y + i2 * p.b_strides.z + i3 * p.b_strides.w;
    let a = f32(src0[i]);
    let b = f32(src1[j]);
    dst[i] = Elem(select(a + b, a * b, p.code == 1u));
}

@compute @workgroup_size(WG)
fn scale(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
         @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.n) { return; }
    dst[i] = Elem(p.alpha * f32(src0[i]) + p.beta);
}

@compute @workgroup_size(WG)
fn unary(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
         @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.n) { return; }
    dst[i] = Elem(activate(f32(src0[i]), p.code));
}

@compute @workgroup_size(WG)
fn geglu(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
         @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.n) { return; }
    let f = p.half_width;
    let row = i / f;
    let col = i % f;
    let h = f32(src0[row * 2u * f + col]);
    let gate = f32(src0[row * 2u * f + f + col]);
    dst[i] = Elem(h * gelu_erf(gate));
}
