//! References for the sampler kernels (`shaders/sampler.wgsl`).

use crate::scheduler::StepCoefficients;

/// `copies` copies of `input_scale · sample`.
pub fn model_input(sample: &[f32], input_scale: f32, copies: usize) -> Vec<f32> {
    (0..copies)
        .flat_map(|_| {
            sample
                .iter()
                .map(move |&s| (input_scale as f64 * s as f64) as f32)
        })
        .collect()
}

/// One guided step; returns the new sample and the new x0. `model_out` is `[uncond, cond]` when
/// `guidance` is `Some`, else one prediction.
pub fn step(
    sample: &[f32],
    model_out: &[f32],
    x0_prev: &[f32],
    noise: &[f32],
    guidance: Option<f32>,
    c: &StepCoefficients,
) -> (Vec<f32>, Vec<f32>) {
    let n = sample.len();
    let mut next = Vec::with_capacity(n);
    let mut x0s = Vec::with_capacity(n);
    for i in 0..n {
        let mut eps = model_out[i] as f64;
        if let Some(g) = guidance {
            eps += g as f64 * (model_out[n + i] as f64 - eps);
        }
        let s = sample[i] as f64;
        let x0 = c.x0_from_sample * s + c.x0_from_model * eps;
        next.push(
            (c.sample * s + c.x0 * x0 + c.x0_prev * x0_prev[i] as f64 + c.noise * noise[i] as f64)
                as f32,
        );
        x0s.push(x0 as f32);
    }
    (next, x0s)
}

/// The shader's 32-bit hash ("lowbias32").
pub fn hash(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846ca68b);
    x ^= x >> 16;
    x
}

/// Element `i` of Gaussian draw `counter` of stream `seed`, as the `gaussian` kernel computes it.
pub fn gaussian(seed: u32, counter: u32, n: usize) -> Vec<f32> {
    let key = hash(seed ^ hash(counter.wrapping_add(0x9e3779b9)));
    let uniform = |bits: u32| ((bits >> 8) as f64 + 1.0) / 16777216.0;
    (0..n)
        .map(|i| {
            let pair = (i / 2) as u32;
            let u1 = uniform(hash(key ^ hash(2 * pair)));
            let u2 = uniform(hash(key ^ hash(2 * pair + 1)));
            let r = (-2.0 * u1.ln()).sqrt();
            let theta = std::f64::consts::TAU * u2;
            (if i % 2 == 1 {
                r * theta.sin()
            } else {
                r * theta.cos()
            }) as f32
        })
        .collect()
}
