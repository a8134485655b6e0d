//! Sampler kernels (`shaders/sampler.wgsl`): the U-Net input from the latents, one guided scheduler step,
//! and Gaussian noise drawn on the GPU (so stochastic samplers upload nothing per step).

use crate::error::Result;
use crate::gpu::shaders::SAMPLER;
use crate::gpu::{Gpu, TensorView};
use crate::graph::DType;
use crate::scheduler::StepCoefficients;

use super::{dispatch, expect_len, grid_1d, Dispatch, ParamArena};

const WG: u64 = 256;

/// Mirrors `Params` in `shaders/sampler.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    copies: u32,
    guided: u32,
    seed: u32,
    counter: u32,
    guidance: f32,
    input_scale: f32,
    x0_from_sample: f32,
    x0_from_model: f32,
    c_sample: f32,
    c_x0: f32,
    c_x0_prev: f32,
    c_noise: f32,
    _pad: [u32; 3],
}

fn check_f32(view: &TensorView) -> Result<()> {
    if view.dtype != DType::F32 {
        return Err(crate::Error::Invalid(format!(
            "latent tensor {} must be f32, is {:?}",
            view.name, view.dtype
        )));
    }
    Ok(())
}

/// `model_in = copies × (input_scale · sample)`; `model_in` has the U-Net's storage type.
pub fn model_input(
    gpu: &Gpu,
    arena: &ParamArena,
    sample: &TensorView,
    model_in: &TensorView,
    copies: u32,
    input_scale: f32,
) -> Result<Dispatch> {
    check_f32(sample)?;
    expect_len(model_in, sample.len * copies as u64, "model_input")?;
    let params = Params {
        n: sample.len as u32,
        copies,
        input_scale,
        ..Default::default()
    };
    let pipeline = gpu.pipeline(&SAMPLER, "model_input", model_in.dtype, &[])?;
    let grid = grid_1d(
        gpu,
        (sample.len * copies as u64).div_ceil(WG),
        "model_input",
    )?;
    dispatch(
        gpu,
        "model_input".into(),
        pipeline,
        arena.push(gpu, &params)?,
        &[(1, sample), (5, model_in)],
        grid,
    )
}

/// The tensors of a sampler step.
pub struct StepTensors<'a> {
    /// `[n]` f32 latents, updated in place.
    pub sample: &'a TensorView,
    /// `[n]`, or `[2n]` = (uncond, cond) when guided; the U-Net's storage type.
    pub model_out: &'a TensorView,
    /// `[n]` f32, the previous step's x0, updated in place.
    pub x0_prev: &'a TensorView,
    /// `[n]` f32 noise (read only when the step's noise coefficient is not 0).
    pub noise: &'a TensorView,
}

/// One scheduler step with classifier-free guidance scale `guidance` (`None`: a single prediction).
pub fn step(
    gpu: &Gpu,
    arena: &ParamArena,
    t: &StepTensors,
    guidance: Option<f32>,
    c: &StepCoefficients,
) -> Result<Dispatch> {
    for v in [t.sample, t.x0_prev, t.noise] {
        check_f32(v)?;
    }
    let n = t.sample.len;
    expect_len(t.x0_prev, n, "sampler step")?;
    expect_len(t.noise, n, "sampler step")?;
    expect_len(
        t.model_out,
        if guidance.is_some() { 2 * n } else { n },
        "sampler step",
    )?;
    let params = Params {
        n: n as u32,
        guided: guidance.is_some() as u32,
        guidance: guidance.unwrap_or(1.0),
        x0_from_sample: c.x0_from_sample as f32,
        x0_from_model: c.x0_from_model as f32,
        c_sample: c.sample as f32,
        c_x0: c.x0 as f32,
        c_x0_prev: c.x0_prev as f32,
        c_noise: c.noise as f32,
        ..Default::default()
    };
    let pipeline = gpu.pipeline(&SAMPLER, "step", t.model_out.dtype, &[])?;
    let grid = grid_1d(gpu, n.div_ceil(WG), "sampler step")?;
    let tensors = [
        (1, t.sample),
        (2, t.model_out),
        (3, t.x0_prev),
        (4, t.noise),
    ];
    dispatch(
        gpu,
        "sampler step".into(),
        pipeline,
        arena.push(gpu, &params)?,
        &tensors,
        grid,
    )
}

/// Fills `noise` (f32) with draw `counter` of the standard normal stream `seed`.
pub fn gaussian(
    gpu: &Gpu,
    arena: &ParamArena,
    noise: &TensorView,
    seed: u32,
    counter: u32,
) -> Result<Dispatch> {
    check_f32(noise)?;
    let params = Params {
        n: noise.len as u32,
        seed,
        counter,
        ..Default::default()
    };
    let pipeline = gpu.pipeline(&SAMPLER, "gaussian", DType::F32, &[])?;
    let grid = grid_1d(gpu, noise.len.div_ceil(WG), "gaussian")?;
    dispatch(
        gpu,
        "gaussian".into(),
        pipeline,
        arena.push(gpu, &params)?,
        &[(4, noise)],
        grid,
    )
}
