// Sampler kernels: the scheduler's per-step arithmetic on the latents, which stay on the GPU.
//
// `Elem` (f32 or f16) is the U-Net's storage type (its input and output); the latents, x0 and the noise
// are always f32, so twenty steps of updates do not accumulate f16 rounding.

struct Params {
    n: u32,               // latent elements of one image (C·h·w)
    copies: u32,          // model_input: images in the U-Net batch (2 with classifier-free guidance)
    guided: u32,          // step: 1 when model_out holds [uncond, cond], 0 for a single prediction
    seed: u32,            // gaussian: the stream (from --seed)
    counter: u32,         // gaussian: which draw of the stream (0 for the initial latents, then per step)
    guidance: f32,        // step: classifier-free guidance scale g
    input_scale: f32,     // model_input: scale_model_input's factor
    x0_from_sample: f32,  // step: x0 = x0_from_sample · s + x0_from_model · eps
    x0_from_model: f32,
    c_sample: f32,        // step: s' = c_sample · s + c_x0 · x0 + c_x0_prev · x0_prev + c_noise · noise
    c_x0: f32,
    c_x0_prev: f32,
    c_noise: f32,
    t_len: u32,           // unet_input: timestep elements (the U-Net batch)
    timestep: f32,        // unet_input: this step's timestep
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> sample: array<f32>;      // [n] the latents s
@group(0) @binding(2) var<storage, read_write> model_out: array<Elem>;  // step: [n] or [2n] (uncond, cond)
@group(0) @binding(3) var<storage, read_write> x0_prev: array<f32>;     // step: [n] last step's x0, updated
@group(0) @binding(4) var<storage, read_write> noise: array<f32>;       // step, gaussian: [n]
@group(0) @binding(5) var<storage, read_write> model_in: array<Elem>;   // model_input: [copies · n]
@group(0) @binding(6) var<storage, read_write> timestep: array<f32>;    // unet_input: [t_len]

const WG: u32 = 256u;

fn linear_index(lid: u32, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

// The U-Net input: `copies` copies of the scaled latents.
@compute @workgroup_size(WG)
fn model_input(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.n * p.copies) { return; }
    model_in[i] = Elem(p.input_scale * sample[i % p.n]);
}

// The U-Net's inputs for one step: the scaled latents (as model_input) and the step's timestep.
@compute @workgroup_size(WG)
fn unet_input(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i < p.t_len) { timestep[i] = p.timestep; }
    if (i >= p.n * p.copies) { return; }
    model_in[i] = Elem(p.input_scale * sample[i % p.n]);
}

// One sampler step, guidance included, in place on `sample` and `x0_prev`.
@compute @workgroup_size(WG)
fn step(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.n) { return; }
    var eps = f32(model_out[i]);
    if (p.guided == 1u) {
        let cond = f32(model_out[p.n + i]);
        eps = eps + p.guidance * (cond - eps);
    }
    let s = sample[i];
    let x0 = p.x0_from_sample * s + p.x0_from_model * eps;
    var next = p.c_sample * s + p.c_x0 * x0;
    // x0_prev and noise are read only when used: before the first step they hold whatever the arena
    // held there, and 0 · NaN would be NaN.
    if (p.c_x0_prev != 0.0) {
        next += p.c_x0_prev * x0_prev[i];
    }
    if (p.c_noise != 0.0) {
        next += p.c_noise * noise[i];
    }
    sample[i] = next;
    x0_prev[i] = x0;
}

// A 32-bit integer hash (the "lowbias32" finaliser by C. Wellons), exact on every GPU.
fn hash(x_in: u32) -> u32 {
    var x = x_in;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

// A uniform in (0, 1] from 24 random bits.
fn uniform01(bits: u32) -> f32 {
    return (f32(bits >> 8u) + 1.0) * (1.0 / 16777216.0);
}

// Standard normal noise by Box–Muller: element i of draw `counter` of stream `seed`. Pairs of elements
// share one (u1, u2) and take its cosine and sine branch.
@compute @workgroup_size(WG)
fn gaussian(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(lid, wid, nwg);
    if (i >= p.n) { return; }
    let pair = i / 2u;
    let key = hash(p.seed ^ hash(p.counter + 0x9e3779b9u));
    let u1 = uniform01(hash(key ^ hash(2u * pair)));
    let u2 = uniform01(hash(key ^ hash(2u * pair + 1u)));
    let r = sqrt(-2.0 * log(u1));
    let theta = 6.283185307179586 * u2;
    noise[i] = select(r * cos(theta), r * sin(theta), (i & 1u) == 1u);
}
