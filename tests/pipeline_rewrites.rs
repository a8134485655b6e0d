//! The budget rewrites end to end: the tiled VAE and the chunked feed-forward.
//!
//! The tiled VAE: each tiny pipeline's diffusers reference run
//! (`tests/fixtures/<name>/pipeline/`, see `pipeline_parity.rs`) drawn again with the VAE decoded (and,
//! for img2img, encoded) tile by tile.
//!
//! A tiled VAE shares group-norm statistics across its tiles and runs the decoder's latent-resolution
//! head (with the mid block's attention) whole, so what is left is where a tile's border cuts a
//! receptive field, which the blend weights keep out of the image. It is still an approximation: the
//! issue's bound is PSNR ≥ 35 dB against the whole-VAE image (here against diffusers', on [0, 1]).
//! These tiles are smaller than the planner's smallest (32 latents): 16 latents, overlap 4, on a
//! 24×16 latent, two tiles. Measured: 55.2 dB (tiny-sd1), 50.8 dB (tiny-sd2), 47.8 dB (img2img,
//! tiled encode and decode); with tile-local statistics and ramps over the whole overlap they were
//! 42.1, 36.2 and 39.0 dB. Tiling must change nothing else: the latents before decoding are
//! bit-identical.

mod common;

use common::reference::{fixture, psnr, to_unit, Reference};
use wgsd::graph::DType;
use wgsd::models::pipeline_graph::VaeTiling;
use wgsd::pipeline::{
    ChunkChoice, InitImage, Model, Pipeline, PipelineOptions, Request, TilingChoice,
};
use wgsd::scheduler::{Sampler, Schedule};

const BOUND_DB: f64 = 35.0;

/// The fixture's DDIM run.
fn ddim(r: &Reference) -> Request {
    r.request(Sampler::Ddim, Schedule::Discrete, r.guidance())
}

/// PSNR of our `[-1, 1]` image against diffusers' `[0, 1]` one.
fn psnr_unit(ours: &[f32], want_unit: &[f32]) -> f64 {
    psnr(&to_unit(ours), want_unit)
}

fn pipeline(
    name: &str,
    dtype: DType,
    img2img: bool,
    tiling: TilingChoice,
    ff_chunking: ChunkChoice,
) -> Pipeline {
    let model = Model::open(fixture(name)).unwrap();
    let r = Reference::open(name);
    let (width, height) = r.size();
    let mut o = PipelineOptions::new(&model, width, height);
    o.precision = dtype;
    o.img2img = img2img;
    o.max_steps = 10;
    o.vae_tiling = tiling;
    o.ff_chunking = ff_chunking;
    Pipeline::new(common::shared_gpu(), model, o).unwrap()
}

const SMALL: TilingChoice = TilingChoice::Fixed(VaeTiling::with_tile(16));

fn txt2img(name: &str) {
    let r = Reference::open(name);
    let want = r.tensor("ddim.image");
    for dtype in common::float_dtypes() {
        let mut whole = pipeline(name, dtype, false, TilingChoice::Off, ChunkChoice::Off);
        let mut tiled = pipeline(name, dtype, false, SMALL, ChunkChoice::Off);
        assert_eq!(whole.vae_tiling(), None);
        assert_eq!(
            Some(TilingChoice::Fixed(tiled.vae_tiling().unwrap())),
            Some(SMALL)
        );
        // The latents before decoding, and the image.
        let run = |p: &mut Pipeline| {
            let mut g = p.start(&ddim(&r)).unwrap();
            while g.step().unwrap() {}
            (g.latents().unwrap(), g.decode().unwrap())
        };
        let (latents_tiled, image_tiled) = run(&mut tiled);
        let (latents_whole, image_whole) = run(&mut whole);
        assert!(
            common::bit_identical(&latents_tiled, &latents_whole),
            "{name} {dtype:?}: tiling changed the latents"
        );
        let p_tiled = psnr_unit(&image_tiled, &want);
        let p_whole = psnr_unit(&image_whole, &want);
        println!(
            "{name} {dtype:?} ddim: tiled {p_tiled:.1} dB, whole {p_whole:.1} dB against diffusers"
        );
        assert!(
            p_tiled >= BOUND_DB,
            "{name} {dtype:?}: tiled PSNR {p_tiled:.1} dB < {BOUND_DB}"
        );
    }
}

#[test]
fn tiny_sd1_tiled_decode_stays_within_35_db() {
    txt2img("tiny-sd1");
}

#[test]
fn tiny_sd2_tiled_decode_stays_within_35_db() {
    txt2img("tiny-sd2");
}

#[test]
fn tiled_img2img_encodes_and_decodes_within_35_db() {
    let name = "tiny-sd1";
    let r = Reference::open(name);
    let key = "img2img_ddim";
    let want = r.tensor(&format!("{key}.image"));
    let mut request = ddim(&r);
    request.noise = Some(r.tensor(&format!("{key}.noise")));
    request.init = Some(InitImage {
        pixels: r.tensor(&format!("{key}.init_image")),
        strength: r.json["strength"].as_f64().unwrap_or(0.6),
    });
    let mut p = pipeline(name, DType::F32, true, SMALL, ChunkChoice::Off);
    let image = p.generate(&request, |_, _| {}).unwrap().0;
    let db = psnr_unit(&image, &want);
    println!("{name} img2img ddim, tiled encode and decode: {db:.1} dB against diffusers");
    assert!(db >= BOUND_DB, "{db:.1} dB < {BOUND_DB}");
}

/// A tiled VAE under the smallest budget (here the U-Net's weights are streamed every step, the VAE's
/// stay resident across its tile replays): the image is bit-identical to the all-resident run's, and the
/// plan holds at most the budget.
#[test]
fn streaming_into_a_tiled_vae_is_exact() {
    let gpu = common::shared_gpu();
    let tiles = SMALL;
    let run = |budget: Option<u64>| {
        let model = Model::open(fixture("tiny-sd1")).unwrap();
        let mut o = PipelineOptions::new(&model, 96, 96);
        o.max_steps = 2;
        o.vae_tiling = tiles;
        o.budget = budget;
        let mut p = Pipeline::new(gpu.clone(), model, o).unwrap();
        let mut request = Request::new("a photo of a cat");
        request.steps = 2;
        let image = p.generate(&request, |_, _| {}).unwrap().0;
        (image, p.strategy().to_string(), p.memory().total())
    };
    let (resident, strategy, all) = run(None);
    assert!(strategy.starts_with("resident"), "{strategy}");
    let model = Model::open(fixture("tiny-sd1")).unwrap();
    let (limits, param_slot) = wgsd::gpu::Executor::device_limits(&gpu);
    let spec = wgsd::pipeline::GenerationSpec {
        config: &model.config,
        run: wgsd::models::pipeline_graph::RunShape {
            width: 96,
            height: 96,
            batch: 2,
        },
        graph: Default::default(),
        img2img: false,
        tiling: tiles,
        ff_chunking: wgsd::pipeline::ChunkChoice::Off,
        limits,
        param_slot,
    };
    let options = wgsd::gpu::ExecutorOptions {
        planner: Default::default(),
        max_steps: 2,
        budget: None,
    };
    let min = spec.minimum(&options).unwrap().plan.memory.total();
    assert!(min < all, "the minimum {min} is all-resident {all}");
    let (streamed, strategy, total) = run(Some(min));
    println!("tiled VAE: resident {all} bytes; at the minimum {total} bytes, {strategy}");
    assert!(total <= min);
    assert!(!strategy.starts_with("resident"), "{strategy}");
    assert!(
        common::bit_identical(&streamed, &resident),
        "streamed weights changed the tiled image"
    );
}

/// The feed-forward in chunks of 128 rows (tiny-sd1's attention level has 2 × 96 rows: a chunk of 128
/// and one of 64, written through row windows of one output) computes every row as the whole one does:
/// the image is bit-identical, in f32 and f16.
#[test]
fn a_chunked_feed_forward_is_exact() {
    let r = Reference::open("tiny-sd1");
    for dtype in common::float_dtypes() {
        let image = |chunking: ChunkChoice| {
            let mut p = pipeline("tiny-sd1", dtype, false, TilingChoice::Off, chunking);
            assert_eq!(
                p.ff_chunk_rows(),
                if chunking == ChunkChoice::Off { 0 } else { 128 }
            );
            p.generate(&ddim(&r), |_, _| {}).unwrap().0
        };
        let (whole, chunked) = (image(ChunkChoice::Off), image(ChunkChoice::Rows(128)));
        assert!(
            common::bit_identical(&whole, &chunked),
            "{dtype:?}: chunking changed the image"
        );
    }
}
