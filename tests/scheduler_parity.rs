//! The schedulers against diffusers 0.42.1: timesteps, sigmas, and whole sampling loops with a fake
//! model, from `tests/data/schedulers.json` (made by `reference/make_scheduler_refs.py`).
//!
//! Tolerances: timesteps within 1e-4 (they are f32 values; 1e-3 for Karras' fractional ones); sigmas
//! relative 5e-5 (diffusers keeps ᾱ in f32, and σ = √((1−ᾱ)/ᾱ) amplifies one ulp of ᾱ near 1 to ~1e-5);
//! final samples 1e-4 relative (diffusers steps in f32, wgsd's coefficients are f64).

use serde_json::Value;
use wgsd::scheduler::{Sampler, Schedule, Scheduler, SchedulerConfig};

fn data() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/schedulers.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// `reference/make_scheduler_refs.py::fake_model`, in f32 like torch.
fn fake_model(sample: &[f64], t: f64) -> Vec<f64> {
    sample
        .iter()
        .map(|&s| ((s as f32).tanh() * 0.7 + (0.1 * t / 1000.0) as f32) as f64)
        .collect()
}

fn sampler_of(name: &str) -> (Sampler, Schedule) {
    match name {
        "euler_karras" => (Sampler::Euler, Schedule::Karras),
        "dpm++2m_karras" => (Sampler::DpmPp2m, Schedule::Karras),
        other => (Sampler::parse(other).unwrap(), Schedule::Discrete),
    }
}

#[test]
fn schedulers_match_diffusers() {
    let data = data();
    let noise_start = floats(&data["noise_start"]);
    let noise_steps: Vec<Vec<f64>> = data["noise_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() > 100);
    for case in cases {
        let what = format!(
            "{} {} {} steps, strength {}",
            case["config"], case["sampler"], case["steps"], case["strength"]
        );
        let config: SchedulerConfig =
            serde_json::from_value(data["configs"][case["config"].as_str().unwrap()].clone())
                .unwrap();
        let (sampler, schedule) = sampler_of(case["sampler"].as_str().unwrap());
        let steps = case["steps"].as_u64().unwrap() as usize;
        let mut s = Scheduler::new(&config, sampler, schedule, steps).unwrap();

        let all = floats(&case["all_timesteps"]);
        let tol = if schedule == Schedule::Karras {
            1e-3
        } else {
            1e-4
        };
        assert_eq!(
            all.len(),
            s.timesteps().len(),
            "{what}: number of timesteps"
        );
        for (a, b) in all.iter().zip(s.timesteps()) {
            assert!(
                (a - b).abs() <= tol,
                "{what}: timesteps {all:?} vs {:?}",
                s.timesteps()
            );
        }
        let sigmas = floats(&case["sigmas"]);
        assert_eq!(sigmas.len(), s.sigmas().len(), "{what}: number of sigmas");
        for (a, b) in sigmas.iter().zip(s.sigmas()) {
            assert!(
                (a - b).abs() <= 5e-5 * a.abs().max(1e-3),
                "{what}: sigma {a} vs {b}"
            );
        }
        let init = case["init_noise_sigma"].as_f64().unwrap();
        assert!(
            (init - s.init_noise_sigma()).abs() <= 1e-5 * init,
            "{what}: init_noise_sigma {init} vs {}",
            s.init_noise_sigma()
        );

        // The sampling loop.
        let x0: Vec<f64> = (0..8).map(|i| -1.5 + 3.0 * i as f64 / 7.0).collect();
        let mut sample: Vec<f64> = if case["strength"].is_null() {
            noise_start
                .iter()
                .map(|n| n * s.init_noise_sigma())
                .collect()
        } else {
            let (a, b) = s
                .start_at_strength(case["strength"].as_f64().unwrap())
                .unwrap();
            x0.iter()
                .zip(&noise_start)
                .map(|(x, n)| a * x + b * n)
                .collect()
        };
        let start = floats(&case["start_sample"]);
        for (a, b) in start.iter().zip(&sample) {
            assert!(
                (a - b).abs() < 1e-5 * a.abs().max(1.0),
                "{what}: start sample {start:?} vs {sample:?}"
            );
        }
        let mut x0_prev = vec![0.0; 8];
        let mut draws = 0;
        for (i, &t) in s.timesteps().to_vec().iter().enumerate() {
            let c = s.step(i);
            let input: Vec<f64> = sample.iter().map(|v| v * c.input_scale).collect();
            let eps = fake_model(&input, t);
            let x0: Vec<f64> = sample
                .iter()
                .zip(&eps)
                .map(|(s, e)| c.x0_from_sample * s + c.x0_from_model * e)
                .collect();
            // diffusers draws Euler-a noise on every step, the last (σ_up = 0) included.
            let noise = if c.noise != 0.0 || sampler == Sampler::EulerAncestral {
                draws += 1;
                noise_steps[draws - 1].clone()
            } else {
                vec![0.0; 8]
            };
            sample = (0..8)
                .map(|j| {
                    c.sample * sample[j]
                        + c.x0 * x0[j]
                        + c.x0_prev * x0_prev[j]
                        + c.noise * noise[j]
                })
                .collect();
            x0_prev = x0;
        }
        assert_eq!(
            draws as u64,
            case["noise_draws"].as_u64().unwrap(),
            "{what}: noise draws"
        );
        let want = floats(&case["final_sample"]);
        for (a, b) in want.iter().zip(&sample) {
            assert!(
                (a - b).abs() < 1e-4 * a.abs().max(1.0),
                "{what}: final sample\n want {want:?}\n got  {sample:?}"
            );
        }
    }
}
