//! Noise schedulers: diffusers' DDIM, Euler, Euler ancestral, DPM-Solver++(2M) and LCM, reduced to
//! per-step scalar coefficients.
//!
//! Every sampler step of these schedulers is linear in the current sample `s`, the model's prediction of
//! the clean sample `x0`, the previous step's `x0` and fresh noise. The scheduler therefore runs on the
//! host in f64 and produces a [`StepCoefficients`] per step; the latents themselves stay on the GPU, where
//! one small kernel applies them:
//!
//! ```text
//! eps  = uncond + g · (cond − uncond)           (classifier-free guidance; eps = cond when unguided)
//! x0   = x0_from_sample · s + x0_from_model · eps
//! s'   = sample · s + x0 · x0 + x0_prev · x0_prev + noise · n
//! ```
//!
//! The formulas follow diffusers 0.42.1 (`schedulers/scheduling_{ddim,euler_discrete,
//! euler_ancestral_discrete,dpmsolver_multistep,lcm}.py`); each function names the method it mirrors.

mod config;

pub use config::{BetaSchedule, PredictionType, SchedulerConfig, TimestepSpacing};

use crate::error::{Error, Result};

/// The samplers wgsd offers (`--sampler`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Sampler {
    /// `DDIMScheduler` with eta = 0.
    Ddim,
    /// `EulerDiscreteScheduler`.
    Euler,
    /// `EulerAncestralDiscreteScheduler` (fresh noise every step).
    EulerAncestral,
    /// `DPMSolverMultistepScheduler`: dpmsolver++, order 2, midpoint, `lower_order_final`.
    DpmPp2m,
    /// `LCMScheduler` (fresh noise every step but the last).
    Lcm,
}

impl Sampler {
    /// Parses a `--sampler` name: `ddim`, `euler`, `euler-a`, `dpm++2m`, `lcm`.
    pub fn parse(name: &str) -> Result<Sampler> {
        match name.to_ascii_lowercase().as_str() {
            "ddim" => Ok(Sampler::Ddim),
            "euler" => Ok(Sampler::Euler),
            "euler-a" | "euler_a" | "euler-ancestral" => Ok(Sampler::EulerAncestral),
            "dpm++2m" | "dpmpp2m" | "dpm++-2m" => Ok(Sampler::DpmPp2m),
            "lcm" => Ok(Sampler::Lcm),
            other => Err(Error::Invalid(format!(
                "unknown sampler '{other}': choose ddim, euler, euler-a, dpm++2m or lcm"
            ))),
        }
    }

    /// The name `--sampler` takes.
    pub fn name(self) -> &'static str {
        match self {
            Sampler::Ddim => "ddim",
            Sampler::Euler => "euler",
            Sampler::EulerAncestral => "euler-a",
            Sampler::DpmPp2m => "dpm++2m",
            Sampler::Lcm => "lcm",
        }
    }

    /// Whether steps draw fresh noise (then parity with diffusers is by statistics, not values).
    pub fn is_stochastic(self) -> bool {
        matches!(self, Sampler::EulerAncestral | Sampler::Lcm)
    }
}

/// Sigma spacing (`--schedule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Schedule {
    /// The timesteps' own sigmas.
    Discrete,
    /// Karras et al. (2022) sigmas, rho = 7 (`use_karras_sigmas`).
    Karras,
}

/// The scalars of one sampler step (see the module doc for how they are applied).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepCoefficients {
    /// Factor on the sample to form the U-Net input (`scale_model_input`).
    pub input_scale: f64,
    /// `x0 = x0_from_sample · s + x0_from_model · model_output`.
    pub x0_from_sample: f64,
    /// See `x0_from_sample`.
    pub x0_from_model: f64,
    /// Coefficient of `s` in the next sample.
    pub sample: f64,
    /// Coefficient of this step's `x0`.
    pub x0: f64,
    /// Coefficient of the previous step's `x0` (DPM-Solver++ 2M only).
    pub x0_prev: f64,
    /// Coefficient of fresh standard normal noise.
    pub noise: f64,
}

/// A scheduler set up for a number of steps: the timesteps the U-Net sees and the coefficients of each
/// step.
#[derive(Clone, Debug)]
pub struct Scheduler {
    sampler: Sampler,
    config: SchedulerConfig,
    alphas_cumprod: Vec<f64>,
    /// Timesteps fed to the U-Net, one per step (fractional for Euler with Karras sigmas).
    timesteps: Vec<f64>,
    /// Sigmas per step plus the final one (sigma-based samplers only; empty for DDIM and LCM).
    sigmas: Vec<f64>,
    /// The step a generation starts at (img2img starts later).
    begin: usize,
}

impl Scheduler {
    /// Sets up `sampler` for `steps` steps, as `set_timesteps(steps)` does in diffusers.
    pub fn new(
        config: &SchedulerConfig,
        sampler: Sampler,
        schedule: Schedule,
        steps: usize,
    ) -> Result<Scheduler> {
        if steps == 0 {
            return Err(Error::Invalid("--steps must be at least 1".into()));
        }
        let n = config.num_train_timesteps;
        if steps > n {
            return Err(Error::Invalid(format!(
                "--steps {steps} is more than the {n} training timesteps"
            )));
        }
        let karras = schedule == Schedule::Karras || config.use_karras_sigmas;
        if karras
            && matches!(
                sampler,
                Sampler::Ddim | Sampler::EulerAncestral | Sampler::Lcm
            )
        {
            return Err(Error::Invalid(format!(
                "--schedule karras is supported by euler and dpm++2m, not by {} (diffusers has no Karras \
                 sigmas for it)",
                sampler.name()
            )));
        }
        let alphas_cumprod = config.alphas_cumprod()?;
        let train_sigmas: Vec<f64> = alphas_cumprod
            .iter()
            .map(|&a| ((1.0 - a) / a).sqrt())
            .collect();
        let log_sigmas: Vec<f64> = train_sigmas.iter().map(|s| s.ln()).collect();
        let (timesteps, sigmas) = match sampler {
            Sampler::Ddim => (ddim_timesteps(config, steps), Vec::new()),
            Sampler::Lcm => (lcm_timesteps(config, steps)?, Vec::new()),
            Sampler::Euler | Sampler::EulerAncestral => {
                let t = euler_timesteps(config, steps);
                let interp: Vec<f64> = t.iter().map(|&t| interp(t, &train_sigmas)).collect();
                let (t, mut s) = if karras {
                    let s = karras_sigmas(interp[interp.len() - 1], interp[0], steps);
                    (s.iter().map(|&s| sigma_to_t(s, &log_sigmas)).collect(), s)
                } else {
                    (t, interp)
                };
                s.push(0.0);
                (t, s)
            }
            Sampler::DpmPp2m => {
                let t = dpm_timesteps(config, steps);
                let (t, mut s) = if karras {
                    let s = karras_sigmas(train_sigmas[0], train_sigmas[n - 1], steps);
                    // diffusers rounds these timesteps except on the cosine schedule.
                    let round = config.beta_schedule != BetaSchedule::SquaredcosCapV2;
                    let t = s.iter().map(|&s| sigma_to_t(s, &log_sigmas)).map(|t| {
                        if round {
                            t.round_ties_even()
                        } else {
                            t
                        }
                    });
                    (t.collect(), s)
                } else {
                    let s = t.iter().map(|&t| interp(t, &train_sigmas)).collect();
                    (t, s)
                };
                s.push(0.0);
                (t, s)
            }
        };
        // diffusers stores sigmas as f32; rounding here keeps the coefficients on the same values.
        let sigmas = sigmas.into_iter().map(|s| s as f32 as f64).collect();
        Ok(Scheduler {
            sampler,
            config: config.clone(),
            alphas_cumprod,
            timesteps,
            sigmas,
            begin: 0,
        })
    }

    /// The sampler.
    pub fn sampler(&self) -> Sampler {
        self.sampler
    }

    /// Timesteps of the steps that will run (from the begin step on), as the U-Net receives them.
    pub fn timesteps(&self) -> &[f64] {
        &self.timesteps[self.begin..]
    }

    /// Sigmas of all steps plus the final one (empty for DDIM and LCM).
    pub fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }

    /// Number of steps that will run.
    pub fn len(&self) -> usize {
        self.timesteps.len() - self.begin
    }

    /// True when no step will run.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `init_noise_sigma`: the factor on unit noise that makes the initial latents.
    pub fn init_noise_sigma(&self) -> f64 {
        match self.sampler {
            Sampler::Euler | Sampler::EulerAncestral => {
                let max = self.sigmas.iter().cloned().fold(0.0, f64::max);
                match self.config.timestep_spacing {
                    TimestepSpacing::Linspace | TimestepSpacing::Trailing => max,
                    TimestepSpacing::Leading => (max * max + 1.0).sqrt(),
                }
            }
            _ => 1.0,
        }
    }

    /// Starts at the step diffusers' img2img pipeline starts at for `strength` (`get_timesteps`), and
    /// returns `(a, b)` such that the starting latents are `a · x0 + b · noise` (`add_noise` at the first
    /// remaining timestep).
    pub fn start_at_strength(&mut self, strength: f64) -> Result<(f64, f64)> {
        if !(strength > 0.0 && strength <= 1.0) {
            return Err(Error::Invalid(format!(
                "--strength must be in (0, 1], got {strength}"
            )));
        }
        let steps = self.timesteps.len();
        let init = ((steps as f64 * strength) as usize).min(steps);
        let begin = steps - init;
        if begin >= steps {
            return Err(Error::Invalid(format!(
                "--strength {strength} with {steps} steps leaves no denoising step; raise --strength or --steps"
            )));
        }
        self.begin = begin;
        Ok(match self.sampler {
            Sampler::Euler | Sampler::EulerAncestral => (1.0, self.sigmas[begin]),
            Sampler::DpmPp2m => {
                let (alpha, sigma) = alpha_sigma(self.sigmas[begin]);
                (alpha, sigma)
            }
            Sampler::Ddim | Sampler::Lcm => {
                let a = self.alphas_cumprod[self.timesteps[begin] as usize];
                (a.sqrt(), (1.0 - a).sqrt())
            }
        })
    }

    /// The coefficients of step `i` (0-based, counted from the begin step).
    pub fn step(&self, i: usize) -> StepCoefficients {
        let k = self.begin + i;
        debug_assert!(k < self.timesteps.len());
        match self.sampler {
            Sampler::Ddim => self.ddim_step(k),
            Sampler::Euler | Sampler::EulerAncestral => self.euler_step(k),
            Sampler::DpmPp2m => self.dpm_step(k, i),
            Sampler::Lcm => self.lcm_step(k),
        }
    }

    /// `x0` from sample and model output in the alpha (variance-preserving) form.
    fn x0_alpha(&self, alpha_prod: f64) -> (f64, f64) {
        let (a, b) = (alpha_prod.sqrt(), (1.0 - alpha_prod).sqrt());
        match self.config.prediction_type {
            PredictionType::Epsilon => (1.0 / a, -b / a),
            PredictionType::VPrediction => (a, -b),
            PredictionType::Sample => (0.0, 1.0),
        }
    }

    fn final_alpha_cumprod(&self) -> f64 {
        if self.config.set_alpha_to_one {
            1.0
        } else {
            self.alphas_cumprod[0]
        }
    }

    /// `DDIMScheduler.step` with eta = 0: `s' = √ᾱ_prev · x0 + √(1 − ᾱ_prev) · ε̂`, where the predicted
    /// noise ε̂ = (s − √ᾱ_t · x0) / √(1 − ᾱ_t) for every prediction type.
    fn ddim_step(&self, k: usize) -> StepCoefficients {
        let t = self.timesteps[k] as i64;
        let prev = t - (self.config.num_train_timesteps / self.timesteps.len()) as i64;
        let a_t = self.alphas_cumprod[t as usize];
        let a_prev = if prev >= 0 {
            self.alphas_cumprod[prev as usize]
        } else {
            self.final_alpha_cumprod()
        };
        let (x0_from_sample, x0_from_model) = self.x0_alpha(a_t);
        let c_eps = (1.0 - a_prev).sqrt() / (1.0 - a_t).sqrt();
        StepCoefficients {
            input_scale: 1.0,
            x0_from_sample,
            x0_from_model,
            sample: c_eps,
            x0: a_prev.sqrt() - c_eps * a_t.sqrt(),
            x0_prev: 0.0,
            noise: 0.0,
        }
    }

    /// `EulerDiscreteScheduler.step` (s_churn = 0) and `EulerAncestralDiscreteScheduler.step`:
    /// `s' = s + (s − x0)/σ · dt (+ σ_up · noise)`.
    fn euler_step(&self, k: usize) -> StepCoefficients {
        let (sigma, next) = (self.sigmas[k], self.sigmas[k + 1]);
        let (x0_from_sample, x0_from_model) = match self.config.prediction_type {
            PredictionType::Epsilon => (1.0, -sigma),
            PredictionType::VPrediction => (
                1.0 / (sigma * sigma + 1.0),
                -sigma / (sigma * sigma + 1.0).sqrt(),
            ),
            PredictionType::Sample => (0.0, 1.0),
        };
        let (dt, noise) = if self.sampler == Sampler::EulerAncestral {
            let up = (next * next * (sigma * sigma - next * next) / (sigma * sigma)).sqrt();
            let down = (next * next - up * up).sqrt();
            (down - sigma, up)
        } else {
            (next - sigma, 0.0)
        };
        StepCoefficients {
            input_scale: 1.0 / (sigma * sigma + 1.0).sqrt(),
            x0_from_sample,
            x0_from_model,
            sample: 1.0 + dt / sigma,
            x0: -dt / sigma,
            x0_prev: 0.0,
            noise,
        }
    }

    /// `DPMSolverMultistepScheduler.step` for dpmsolver++ order 2 (midpoint): first order on the first
    /// step and, with the final sigma 0, on the last; second order in between.
    fn dpm_step(&self, k: usize, i: usize) -> StepCoefficients {
        let (alpha_s0, sigma_s0) = alpha_sigma(self.sigmas[k]);
        let (x0_from_sample, x0_from_model) = match self.config.prediction_type {
            PredictionType::Epsilon => (1.0 / alpha_s0, -sigma_s0 / alpha_s0),
            PredictionType::VPrediction => (alpha_s0, -sigma_s0),
            PredictionType::Sample => (0.0, 1.0),
        };
        let base = StepCoefficients {
            input_scale: 1.0,
            x0_from_sample,
            x0_from_model,
            ..Default::default()
        };
        let next = self.sigmas[k + 1];
        if next == 0.0 {
            // σ_t = 0: α_t = 1, h = ∞, and the update is x0 itself.
            return StepCoefficients { x0: 1.0, ..base };
        }
        let (alpha_t, sigma_t) = alpha_sigma(next);
        let lambda = |a: f64, s: f64| a.ln() - s.ln();
        let h = lambda(alpha_t, sigma_t) - lambda(alpha_s0, sigma_s0);
        let phi = alpha_t * ((-h).exp() - 1.0);
        let last = k == self.timesteps.len() - 1;
        if i == 0 || last {
            return StepCoefficients {
                sample: sigma_t / sigma_s0,
                x0: -phi,
                ..base
            };
        }
        let (alpha_s1, sigma_s1) = alpha_sigma(self.sigmas[k - 1]);
        let h0 = lambda(alpha_s0, sigma_s0) - lambda(alpha_s1, sigma_s1);
        let r0 = h0 / h;
        // x_t = (σ_t/σ_s0) s − φ D0 − ½ φ D1 with D0 = x0, D1 = (x0 − x0_prev) / r0.
        StepCoefficients {
            sample: sigma_t / sigma_s0,
            x0: -phi * (1.0 + 0.5 / r0),
            x0_prev: 0.5 * phi / r0,
            ..base
        }
    }

    /// `LCMScheduler.step`: `denoised = c_out · x0 + c_skip · s`, then noised back to the next timestep
    /// (except on the last step).
    fn lcm_step(&self, k: usize) -> StepCoefficients {
        let t = self.timesteps[k];
        let last = k == self.timesteps.len() - 1;
        let prev = if last { t } else { self.timesteps[k + 1] };
        let a_t = self.alphas_cumprod[t as usize];
        let a_prev = if prev >= 0.0 {
            self.alphas_cumprod[prev as usize]
        } else {
            self.final_alpha_cumprod()
        };
        let (x0_from_sample, x0_from_model) = self.x0_alpha(a_t);
        // get_scalings_for_boundary_condition_discrete: sigma_data = 0.5, timestep_scaling = 10.
        let (sigma_data, scaled) = (0.5f64, t * 10.0);
        let c_skip = sigma_data * sigma_data / (scaled * scaled + sigma_data * sigma_data);
        let c_out = scaled / (scaled * scaled + sigma_data * sigma_data).sqrt();
        let (keep, noise) = if last {
            (1.0, 0.0)
        } else {
            (a_prev.sqrt(), (1.0 - a_prev).sqrt())
        };
        StepCoefficients {
            input_scale: 1.0,
            x0_from_sample,
            x0_from_model,
            sample: keep * c_skip,
            x0: keep * c_out,
            x0_prev: 0.0,
            noise,
        }
    }
}

/// `_sigma_to_alpha_sigma_t`: α = 1/√(σ² + 1), σ_t = σ α.
fn alpha_sigma(sigma: f64) -> (f64, f64) {
    let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
    (alpha, sigma * alpha)
}

/// numpy's `linspace(start, end, n)`.
fn linspace(start: f64, end: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![start];
    }
    let step = (end - start) / (n - 1) as f64;
    (0..n)
        .map(|i| {
            if i == n - 1 {
                end
            } else {
                start + step * i as f64
            }
        })
        .collect()
}

/// numpy's `arange(start, stop, step)` for a negative step.
fn arange_down(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let n = ((stop - start) / step).ceil().max(0.0) as usize;
    (0..n).map(|i| start + step * i as f64).collect()
}

/// Leading spacing: multiples of `N / steps` (integer division) counted down, plus `steps_offset`.
fn leading(c: &SchedulerConfig, steps: usize) -> Vec<f64> {
    let ratio = c.num_train_timesteps / steps;
    (0..steps)
        .rev()
        .map(|i| (i * ratio + c.steps_offset) as f64)
        .collect()
}

/// Trailing spacing: `round(arange(N, 0, -N / steps)) - 1`.
fn trailing(c: &SchedulerConfig, steps: usize) -> Vec<f64> {
    let n = c.num_train_timesteps as f64;
    arange_down(n, 0.0, -(n / steps as f64))
        .into_iter()
        .map(|t| t.round_ties_even() - 1.0)
        .collect()
}

/// `DDIMScheduler.set_timesteps`: linspace rounded to integers.
fn ddim_timesteps(c: &SchedulerConfig, steps: usize) -> Vec<f64> {
    match c.timestep_spacing {
        TimestepSpacing::Linspace => {
            let last = (c.num_train_timesteps - 1) as f64;
            linspace(0.0, last, steps)
                .into_iter()
                .rev()
                .map(f64::round_ties_even)
                .collect()
        }
        TimestepSpacing::Leading => leading(c, steps),
        TimestepSpacing::Trailing => trailing(c, steps),
    }
}

/// `EulerDiscreteScheduler.set_timesteps` (and the ancestral one): linspace unrounded, as f32
/// (`np.linspace(..., dtype=float32)`).
fn euler_timesteps(c: &SchedulerConfig, steps: usize) -> Vec<f64> {
    match c.timestep_spacing {
        TimestepSpacing::Linspace => {
            let last = (c.num_train_timesteps - 1) as f64;
            linspace(0.0, last, steps)
                .into_iter()
                .rev()
                .map(|t| t as f32 as f64)
                .collect()
        }
        TimestepSpacing::Leading => leading(c, steps),
        TimestepSpacing::Trailing => trailing(c, steps),
    }
}

/// `DPMSolverMultistepScheduler.set_timesteps` (with `lambda_min_clipped = -inf`).
fn dpm_timesteps(c: &SchedulerConfig, steps: usize) -> Vec<f64> {
    let n = c.num_train_timesteps;
    match c.timestep_spacing {
        TimestepSpacing::Linspace => {
            let mut t: Vec<f64> = linspace(0.0, (n - 1) as f64, steps + 1)
                .into_iter()
                .map(f64::round_ties_even)
                .collect();
            t.reverse();
            t.pop();
            t
        }
        TimestepSpacing::Leading => {
            let ratio = n / (steps + 1);
            (1..=steps)
                .rev()
                .map(|i| (i * ratio + c.steps_offset) as f64)
                .collect()
        }
        TimestepSpacing::Trailing => trailing(c, steps),
    }
}

/// `LCMScheduler.set_timesteps` with `original_inference_steps` from the config (default 50).
fn lcm_timesteps(c: &SchedulerConfig, steps: usize) -> Result<Vec<f64>> {
    let original = c.original_inference_steps;
    let k = c.num_train_timesteps / original;
    let origin: Vec<usize> = (1..=original).rev().map(|i| i * k - 1).collect();
    if steps > original {
        return Err(Error::Invalid(format!(
            "lcm: --steps {steps} is more than original_inference_steps {original}"
        )));
    }
    Ok((0..steps)
        .map(|i| origin[(i as f64 * origin.len() as f64 / steps as f64).floor() as usize] as f64)
        .collect())
}

/// numpy's `interp(t, arange(len(ys)), ys)`.
fn interp(t: f64, ys: &[f64]) -> f64 {
    if t <= 0.0 {
        return ys[0];
    }
    let last = ys.len() - 1;
    if t >= last as f64 {
        return ys[last];
    }
    let i = t.floor() as usize;
    let w = t - i as f64;
    ys[i] + w * (ys[i + 1] - ys[i])
}

/// `_convert_to_karras`: ρ = 7 spacing from `sigma_max` down to `sigma_min`.
fn karras_sigmas(sigma_min: f64, sigma_max: f64, steps: usize) -> Vec<f64> {
    let rho = 7.0;
    let (min_inv, max_inv) = (sigma_min.powf(1.0 / rho), sigma_max.powf(1.0 / rho));
    linspace(0.0, 1.0, steps)
        .into_iter()
        .map(|r| (max_inv + r * (min_inv - max_inv)).powf(rho))
        .collect()
}

/// `_sigma_to_t`: the (fractional) timestep whose log-sigma interpolates to `sigma`.
fn sigma_to_t(sigma: f64, log_sigmas: &[f64]) -> f64 {
    let log_sigma = sigma.max(1e-10).ln();
    // The last index whose log-sigma is ≤ log_sigma (cumsum(dists >= 0).argmax()), at most len − 2.
    let count = log_sigmas.iter().filter(|&&l| log_sigma - l >= 0.0).count();
    let low = if count == 0 {
        0
    } else {
        log_sigmas
            .iter()
            .rposition(|&l| log_sigma - l >= 0.0)
            .unwrap_or(0)
    };
    let low = low.min(log_sigmas.len() - 2);
    let (lo, hi) = (log_sigmas[low], log_sigmas[low + 1]);
    let w = ((lo - log_sigma) / (lo - hi)).clamp(0.0, 1.0);
    (1.0 - w) * low as f64 + w * (low + 1) as f64
}

#[cfg(test)]
mod tests;
