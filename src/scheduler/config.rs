//! `scheduler/scheduler_config.json`, and the noise schedule it defines.

use std::path::Path;

use crate::error::{Error, Result};

/// How betas grow over the training timesteps (`beta_schedule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BetaSchedule {
    /// Evenly spaced betas.
    Linear,
    /// Evenly spaced √beta (Stable Diffusion's).
    ScaledLinear,
    /// The cosine schedule ("squaredcos_cap_v2").
    #[serde(rename = "squaredcos_cap_v2")]
    SquaredcosCapV2,
}

/// What the U-Net predicts (`prediction_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PredictionType {
    /// The noise (SD1.x, SD2.x base).
    Epsilon,
    /// The velocity v = √ᾱ ε − √(1−ᾱ) x0 (SD2.x 768).
    VPrediction,
    /// The clean sample.
    Sample,
}

/// How inference timesteps are spread over the training ones (`timestep_spacing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestepSpacing {
    /// Evenly from 0 to N−1, rounded.
    Linspace,
    /// Multiples of N / steps from 0, plus `steps_offset` (SD1.5's).
    Leading,
    /// Multiples of N / steps counted down from N, minus 1.
    Trailing,
}

/// The fields of diffusers' `scheduler_config.json` that wgsd's samplers read. Unknown fields are
/// ignored; missing ones take diffusers' defaults.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SchedulerConfig {
    /// `num_train_timesteps`.
    pub num_train_timesteps: usize,
    /// `beta_start`.
    pub beta_start: f64,
    /// `beta_end`.
    pub beta_end: f64,
    /// `beta_schedule`.
    pub beta_schedule: BetaSchedule,
    /// `prediction_type`.
    pub prediction_type: PredictionType,
    /// `timestep_spacing`.
    pub timestep_spacing: TimestepSpacing,
    /// `steps_offset`.
    pub steps_offset: usize,
    /// `set_alpha_to_one` (DDIM, LCM): ᾱ before the first timestep is 1, else ᾱ_0.
    pub set_alpha_to_one: bool,
    /// `use_karras_sigmas` (Euler, DPM-Solver).
    pub use_karras_sigmas: bool,
    /// `original_inference_steps` (LCM).
    pub original_inference_steps: usize,
    /// `rescale_betas_zero_snr`: not supported; refused when true.
    pub rescale_betas_zero_snr: bool,
    /// `clip_sample` (DDIM, LCM): clamping x0. Stable Diffusion's configs set it false; true is refused.
    pub clip_sample: bool,
}

impl Default for SchedulerConfig {
    /// diffusers' constructor defaults.
    fn default() -> Self {
        SchedulerConfig {
            num_train_timesteps: 1000,
            beta_start: 0.0001,
            beta_end: 0.02,
            beta_schedule: BetaSchedule::Linear,
            prediction_type: PredictionType::Epsilon,
            timestep_spacing: TimestepSpacing::Linspace,
            steps_offset: 0,
            set_alpha_to_one: true,
            use_karras_sigmas: false,
            original_inference_steps: 50,
            rescale_betas_zero_snr: false,
            clip_sample: false,
        }
    }
}

impl SchedulerConfig {
    /// Stable Diffusion's published schedule, as in runwayml/stable-diffusion-v1-5
    /// `scheduler/scheduler_config.json` (PNDM there; the fields the samplers share): scaled_linear betas
    /// from 0.00085 to 0.012 over 1000 steps, leading spacing with offset 1, epsilon prediction.
    pub fn sd_v1_5() -> Self {
        SchedulerConfig {
            beta_start: 0.00085,
            beta_end: 0.012,
            beta_schedule: BetaSchedule::ScaledLinear,
            timestep_spacing: TimestepSpacing::Leading,
            steps_offset: 1,
            set_alpha_to_one: false,
            ..Default::default()
        }
    }

    /// stabilityai/stable-diffusion-2-1 (768): as SD1.5 with v-prediction.
    pub fn sd_v2_1() -> Self {
        SchedulerConfig {
            prediction_type: PredictionType::VPrediction,
            ..Self::sd_v1_5()
        }
    }

    /// Parses a `scheduler_config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json(&text).map_err(|e| Error::format(path, e.to_string()))
    }

    /// Parses the JSON text of a scheduler config.
    pub fn from_json(text: &str) -> Result<Self> {
        let config: SchedulerConfig = serde_json::from_str(text)
            .map_err(|e| Error::Invalid(format!("scheduler config: {e}")))?;
        if config.rescale_betas_zero_snr {
            return Err(Error::Invalid(
                "scheduler config: rescale_betas_zero_snr is not supported".into(),
            ));
        }
        if config.clip_sample {
            return Err(Error::Invalid(
                "scheduler config: clip_sample = true is not supported".into(),
            ));
        }
        if config.num_train_timesteps == 0 || config.original_inference_steps == 0 {
            return Err(Error::Invalid(
                "scheduler config: num_train_timesteps must be positive".into(),
            ));
        }
        Ok(config)
    }

    /// ᾱ_t for t in 0..N. diffusers builds betas in f32 and takes the cumulative product in f32; this does
    /// the same, so sigmas agree with diffusers' to f32 rounding.
    pub fn alphas_cumprod(&self) -> Result<Vec<f64>> {
        let n = self.num_train_timesteps;
        let betas: Vec<f64> = match self.beta_schedule {
            BetaSchedule::Linear => linspace(self.beta_start, self.beta_end, n),
            BetaSchedule::ScaledLinear => linspace(self.beta_start.sqrt(), self.beta_end.sqrt(), n)
                .iter()
                .map(|b| (*b as f32 as f64).powi(2))
                .collect(),
            BetaSchedule::SquaredcosCapV2 => {
                let alpha_bar = |t: f64| {
                    ((t + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2)
                        .cos()
                        .powi(2)
                };
                (0..n)
                    .map(|i| {
                        (1.0 - alpha_bar((i + 1) as f64 / n as f64)
                            / alpha_bar(i as f64 / n as f64))
                        .min(0.999)
                    })
                    .collect()
            }
        };
        let mut product = 1.0f32;
        let cumprod: Vec<f64> = betas
            .iter()
            .map(|&b| {
                product *= 1.0 - b as f32;
                product as f64
            })
            .collect();
        if cumprod.iter().any(|a| !(*a > 0.0 && *a < 1.0)) {
            return Err(Error::Invalid(format!(
                "scheduler config: betas from {} to {} give a cumulative alpha outside (0, 1)",
                self.beta_start, self.beta_end
            )));
        }
        Ok(cumprod)
    }
}

fn linspace(start: f64, end: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![start];
    }
    (0..n)
        .map(|i| start + (end - start) * i as f64 / (n - 1) as f64)
        .collect()
}
