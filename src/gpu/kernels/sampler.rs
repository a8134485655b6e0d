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
    t_len: u32,
    timestep: f32,
    _pad: u32,
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

/// The parameter block of a step over `n` latents with guidance scale `guidance` (`None`: unguided).
fn step_params(n: u32, guidance: Option<f32>, c: &StepCoefficients) -> Params {
    Params {
        n,
        guided: guidance.is_some() as u32,
        guidance: guidance.unwrap_or(1.0),
        x0_from_sample: c.x0_from_sample as f32,
        x0_from_model: c.x0_from_model as f32,
        c_sample: c.sample as f32,
        c_x0: c.x0 as f32,
        c_x0_prev: c.x0_prev as f32,
        c_noise: c.noise as f32,
        ..Default::default()
    }
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
    let params = step_params(n as u32, guidance, c);
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

/// The values a stepped sampler op takes in one denoising step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepValues {
    /// The timestep the U-Net sees.
    pub timestep: f32,
    /// Classifier-free guidance scale (ignored by an unguided step).
    pub guidance: f32,
    /// The scheduler's coefficients of this step.
    pub coefficients: StepCoefficients,
    /// The noise stream (from `--seed`).
    pub seed: u32,
    /// Which draw of the stream this step's noise is (0 is the initial latents).
    pub counter: u32,
}

/// A sampler kernel whose parameters change every step ([`crate::graph::Op::is_stepped`]). Its
/// dispatches are built once per step slot at load time; each generation rewrites the slots' parameter
/// blocks ([`Stepped::params`]) in one upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stepped {
    /// `unet_input`: `copies` scaled copies of `n` latents and `t_len` timesteps.
    UnetInput { n: u32, copies: u32, t_len: u32 },
    /// `gaussian`: `n` noise values.
    Noise { n: u32 },
    /// `step`: `n` latents, guided or not.
    Step { n: u32, guided: bool },
}

impl Stepped {
    fn entry(self) -> &'static str {
        match self {
            Stepped::UnetInput { .. } => "unet_input",
            Stepped::Noise { .. } => "gaussian",
            Stepped::Step { .. } => "step",
        }
    }

    /// The parameter block of one step.
    pub fn params(self, v: &StepValues) -> Vec<u8> {
        let c = &v.coefficients;
        let p = match self {
            Stepped::UnetInput { n, copies, t_len } => Params {
                n,
                copies,
                t_len,
                timestep: v.timestep,
                input_scale: c.input_scale as f32,
                ..Default::default()
            },
            Stepped::Noise { n } => Params {
                n,
                seed: v.seed,
                counter: v.counter,
                ..Default::default()
            },
            Stepped::Step { n, guided } => step_params(n, guided.then_some(v.guidance), c),
        };
        bytemuck::bytes_of(&p).to_vec()
    }

    /// True when this op has work in a step with values `v` (noise is drawn only when the step uses it).
    pub fn runs(self, v: &StepValues) -> bool {
        !matches!(self, Stepped::Noise { .. }) || v.coefficients.noise != 0.0
    }

    /// Builds the dispatch of one step slot. `tensors` are (binding, view): 1 latents, 2 model output,
    /// 3 x0_prev, 4 noise, 5 U-Net sample, 6 timestep, as `shaders/sampler.wgsl` declares them.
    pub fn dispatch(
        self,
        gpu: &Gpu,
        params: wgpu::BufferBinding<'_>,
        tensors: &[(u32, &TensorView)],
        elem: DType,
    ) -> Result<Dispatch> {
        let threads = match self {
            Stepped::UnetInput { n, copies, t_len } => {
                (u64::from(n) * u64::from(copies)).max(u64::from(t_len))
            }
            Stepped::Noise { n } | Stepped::Step { n, .. } => u64::from(n),
        };
        let label = self.entry();
        let pipeline = gpu.pipeline(&SAMPLER, label, elem, &[])?;
        let grid = grid_1d(gpu, threads.div_ceil(WG), label)?;
        dispatch(gpu, label.into(), pipeline, params, tensors, grid)
    }
}
