//! End to end against diffusers: each tiny pipeline run by `reference/make_pipeline_runs.py` through
//! `StableDiffusionPipeline` / `StableDiffusionImg2ImgPipeline` with fixed initial noise
//! (`tests/fixtures/<name>/pipeline/`), run again by wgsd with the same noise.
//!
//! Bounds: the image's PSNR against diffusers' (on [0, 1], and on the 8-bit PNG) ≥ 40 dB in f32 and
//! ≥ 30 dB with f16 storage; the timesteps equal diffusers'.

mod common;

use std::path::Path;

use common::reference::{fixture, psnr, to_unit, Reference};
use wgsd::graph::DType;
use wgsd::pipeline::{InitImage, Model, Pipeline, PipelineOptions, Request};
use wgsd::scheduler::{Sampler, Schedule};

/// The request of the fixture's run `key` at guidance `g`.
fn request(reference: &Reference, key: &str, g: f64) -> Request {
    let (sampler, schedule) = sampler_of(key);
    reference.request(sampler, schedule, g as f32)
}

/// The fixture's sampler key → wgsd's sampler and schedule.
fn sampler_of(key: &str) -> (Sampler, Schedule) {
    match key {
        "ddim" => (Sampler::Ddim, Schedule::Discrete),
        "euler" | "euler_nocfg" => (Sampler::Euler, Schedule::Discrete),
        "dpmpp_2m_karras" => (Sampler::DpmPp2m, Schedule::Karras),
        other => panic!("unknown fixture sampler {other}"),
    }
}

/// The 8-bit PNG as `[3, H, W]` in [0, 1], and ours rounded the same way.
fn png_unit(path: &Path) -> Vec<f32> {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let (w, h) = img.dimensions();
    let mut out = vec![0f32; 3 * (w * h) as usize];
    for (x, y, p) in img.enumerate_pixels() {
        for c in 0..3 {
            out[(c * h + y) as usize * w as usize + x as usize] = p[c as usize] as f32 / 255.0;
        }
    }
    out
}

fn rounded(unit: &[f32]) -> Vec<f32> {
    unit.iter()
        .map(|&v| (v * 255.0).round_ties_even() / 255.0)
        .collect()
}

fn bound(dtype: DType) -> f64 {
    if dtype == DType::F16 {
        30.0
    } else {
        40.0
    }
}

fn pipeline(
    model: Model,
    reference: &Reference,
    dtype: DType,
    guidance: bool,
    img2img: bool,
) -> Pipeline {
    let (width, height) = reference.size();
    let mut options = PipelineOptions::new(&model, width, height);
    options.precision = dtype;
    options.guidance = guidance;
    options.img2img = img2img;
    options.max_steps = 20;
    Pipeline::new(common::shared_gpu(), model, options).expect("pipeline loads")
}

fn check_image(
    what: &str,
    ours: &[f32],
    reference: &Reference,
    key: &str,
    png: &str,
    dtype: DType,
) {
    let ours = to_unit(ours);
    let want = reference.tensor(&format!("{key}.image"));
    let p = psnr(&ours, &want);
    let p8 = psnr(&rounded(&ours), &png_unit(&reference.dir.join(png)));
    println!("{what} {dtype:?}: PSNR {p:.1} dB, 8-bit PNG {p8:.1} dB");
    assert!(ours.iter().all(|v| v.is_finite()), "{what}: NaN");
    assert!(
        p >= bound(dtype),
        "{what} {dtype:?}: PSNR {p:.1} dB < {}",
        bound(dtype)
    );
    assert!(
        p8 >= bound(dtype),
        "{what} {dtype:?}: 8-bit PSNR {p8:.1} dB < {}",
        bound(dtype)
    );
}

fn check_timesteps(what: &str, ours: &[f64], want: &[f32]) {
    assert_eq!(ours.len(), want.len(), "{what}: step count");
    for (a, b) in ours.iter().zip(want) {
        assert!(
            (a - *b as f64).abs() < 1e-3,
            "{what}: timesteps {ours:?} vs {want:?}"
        );
    }
}

/// Every txt2img run of `name`'s references (guided ones share one pipeline per precision).
fn txt2img(name: &str, model: impl Fn() -> Model) {
    let reference = Reference::open(name);
    let samplers: Vec<(String, f64)> = reference.json["samplers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let g = v["guidance_scale"]
                .as_f64()
                .or_else(|| reference.json["guidance_scale"].as_f64())
                .unwrap();
            (k.clone(), g)
        })
        .collect();
    for dtype in common::float_dtypes() {
        for guided in [true, false] {
            let runs: Vec<_> = samplers
                .iter()
                .filter(|(_, g)| (*g > 1.0) == guided)
                .collect();
            if runs.is_empty() {
                continue;
            }
            let mut p = pipeline(model(), &reference, dtype, guided, false);
            for (key, g) in runs {
                let request = request(&reference, key, *g);
                let mut generation = p.start(&request).unwrap();
                check_timesteps(
                    key,
                    generation.timesteps(),
                    &reference.tensor(&format!("{key}.timesteps")),
                );
                while generation.step().unwrap() {}
                let image = generation.decode().unwrap();
                check_image(
                    &format!("{name} {key}"),
                    &image,
                    &reference,
                    key,
                    &format!("{key}.png"),
                    dtype,
                );
            }
        }
    }
}

/// The img2img runs of `name`'s references, when the fixture has them.
fn img2img(name: &str) {
    let reference = Reference::open(name);
    let Some(spec) = reference.json.get("img2img").cloned() else {
        panic!("{name}: no img2img references");
    };
    let strength = spec["strength"].as_f64().unwrap();
    for dtype in common::float_dtypes() {
        let model = Model::open(fixture(name)).unwrap();
        let mut p = pipeline(model, &reference, dtype, true, true);
        for (sampler, s) in spec["samplers"].as_object().unwrap() {
            let key = format!("img2img_{sampler}");
            let g = s["guidance_scale"].as_f64().unwrap();
            let mut request = request(&reference, sampler, g);
            request.noise = Some(reference.tensor(&format!("{key}.noise")));
            request.init = Some(InitImage {
                pixels: reference.tensor(&format!("{key}.init_image")),
                strength,
            });
            let mut generation = p.start(&request).unwrap();
            check_timesteps(
                &key,
                generation.timesteps(),
                &reference.tensor(&format!("{key}.timesteps")),
            );
            while generation.step().unwrap() {}
            let image = generation.decode().unwrap();
            check_image(
                &format!("{name} {key}"),
                &image,
                &reference,
                &key,
                &format!("{key}.png"),
                dtype,
            );
        }
    }
}

#[test]
fn tiny_sd1_txt2img_matches_diffusers() {
    txt2img("tiny-sd1", || Model::open(fixture("tiny-sd1")).unwrap());
}

#[test]
fn tiny_sd2_v_prediction_txt2img_matches_diffusers() {
    txt2img("tiny-sd2", || Model::open(fixture("tiny-sd2")).unwrap());
}

#[test]
fn tiny_3level_txt2img_matches_diffusers() {
    txt2img("tiny-3level", || {
        Model::open(fixture("tiny-3level")).unwrap()
    });
}

#[test]
fn single_file_checkpoint_matches_its_folder_references() {
    for name in ["tiny-sd1", "tiny-sd2"] {
        let file = fixture(&format!("{name}.ldm.safetensors"));
        txt2img(name, || {
            Model::open_single_file_with_config(&file, &fixture(name)).unwrap()
        });
    }
}

#[test]
fn tiny_sd1_img2img_matches_diffusers() {
    img2img("tiny-sd1");
}

#[test]
fn tiny_sd2_img2img_matches_diffusers() {
    img2img("tiny-sd2");
}
