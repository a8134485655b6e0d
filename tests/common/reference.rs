//! The diffusers pipeline runs each tiny fixture holds (`tests/fixtures/<name>/pipeline/`, made by
//! `reference/make_pipeline_runs.py`): their settings, tensors and images, and PSNR on [0, 1].

use std::path::PathBuf;

use serde_json::Value;
use wgsd::pipeline::Request;
use wgsd::scheduler::{Sampler, Schedule};
use wgsd::weights::{self, SafetensorsFile};

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// One fixture's diffusers runs: `pipeline.json` (settings) and `pipeline.safetensors` (noise,
/// latents, images).
pub struct Reference {
    pub json: Value,
    pub file: SafetensorsFile,
    /// The folder, for the PNGs diffusers wrote.
    pub dir: PathBuf,
}

impl Reference {
    pub fn open(name: &str) -> Reference {
        let dir = fixture(name).join("pipeline");
        let json: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("pipeline.json")).expect("pipeline.json"),
        )
        .expect("pipeline.json parses");
        let file = SafetensorsFile::open(dir.join("pipeline.safetensors")).expect("references");
        Reference { json, file, dir }
    }

    /// A reference tensor as f32.
    pub fn tensor(&self, name: &str) -> Vec<f32> {
        let view = self
            .file
            .tensor(name)
            .unwrap_or_else(|| panic!("reference tensor {name} missing"));
        weights::convert::to_f32_vec(&view).unwrap()
    }

    /// (width, height) of the runs.
    pub fn size(&self) -> (u32, u32) {
        let get = |k: &str| self.json[k].as_u64().expect(k) as u32;
        (get("width"), get("height"))
    }

    /// The runs' guidance scale.
    pub fn guidance(&self) -> f32 {
        self.json["guidance_scale"]
            .as_f64()
            .expect("guidance_scale") as f32
    }

    /// The txt2img request of the runs, from diffusers' initial latents.
    pub fn request(&self, sampler: Sampler, schedule: Schedule, cfg_scale: f32) -> Request {
        Request {
            prompt: self.json["prompt"].as_str().unwrap().to_string(),
            negative_prompt: self.json["negative_prompt"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            steps: self.json["num_inference_steps"].as_u64().unwrap() as usize,
            cfg_scale,
            seed: 0,
            sampler,
            schedule,
            init: None,
            noise: Some(self.tensor("latents")),
        }
    }
}

/// PSNR in dB of two signals of peak 1.
pub fn psnr(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (1.0 / mse.max(1e-20)).log10()
}

/// `[3, H, W]` in [-1, 1] → [0, 1] as diffusers postprocesses.
pub fn to_unit(image: &[f32]) -> Vec<f32> {
    image
        .iter()
        .map(|&v| (v / 2.0 + 0.5).clamp(0.0, 1.0))
        .collect()
}
