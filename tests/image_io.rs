//! `image_io` and `npy`: pixel conversions against diffusers' numbers, PNG text chunks and
//! AUTOMATIC1111's infotext, atomic writes, image reading, `.npy` files against numpy's bytes, PSNR.

use proptest::prelude::*;
use std::fs;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};
use wgsd::image_io::{
    a1111_sampler_name, from_decoded, numbered_path, parse_a1111, psnr, psnr_f32, read_image,
    to_model_input, write_png_atomic, Parameters, RgbImage,
};
use wgsd::npy;

const NPY_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/npy");

fn npy_fixture(name: &str) -> PathBuf {
    Path::new(NPY_DATA).join(name)
}

/// A w×h image whose bytes count up, so any layout mistake shows.
fn gradient(width: u32, height: u32) -> RgbImage {
    let pixels = (0..width * height * 3)
        .map(|i| (i * 7 % 256) as u8)
        .collect();
    RgbImage {
        width,
        height,
        pixels,
    }
}

fn example_parameters() -> Parameters {
    Parameters {
        prompt: "a photograph of an astronaut riding a horse".to_string(),
        negative_prompt: "blurry".to_string(),
        steps: 20,
        sampler: "euler-a".to_string(),
        schedule: Some("Karras".to_string()),
        cfg_scale: 7.5,
        seed: 42,
        width: 512,
        height: 512,
        model: "v1-5-pruned-emaonly".to_string(),
        denoising_strength: Some(0.75),
    }
}

/// The names of the files in `dir`, sorted.
fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Reads a PNG with the `png` crate: its pixels and its (keyword, text, is iTXt) chunks.
fn read_png_text(path: &Path) -> (png::OutputInfo, Vec<u8>, Vec<(String, String, bool)>) {
    let decoder = png::Decoder::new(BufReader::new(fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut chunks = Vec::new();
    for t in &reader.info().uncompressed_latin1_text {
        chunks.push((t.keyword.clone(), t.text.clone(), false));
    }
    for t in &reader.info().utf8_text {
        chunks.push((t.keyword.clone(), t.get_text().unwrap(), true));
    }
    assert!(reader.info().compressed_latin1_text.is_empty());
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info, buf, chunks)
}

// ---------------------------------------------------------------------------------------------
// from_decoded / to_model_input
// ---------------------------------------------------------------------------------------------

#[test]
fn from_decoded_matches_diffusers_postprocess() {
    // Expected bytes from diffusers' VaeImageProcessor.postprocess(output_type="pil") arithmetic:
    //   v = np.array([...], dtype=np.float32)
    //   ((np.clip(v / 2 + 0.5, 0, 1) * 255).round().astype(np.uint8)).tolist()
    // (numpy 2.4.6; -0.345_098 is the f32 numpy holds for -0.34509799). -0.4 and 0.4 land exactly on
    // 76.5 and 178.5 in f32: round half to even gives 76 and 178 where half away from zero gives 77
    // and 179.
    let cases: [(f32, u8); 15] = [
        (-1.0, 0),
        (1.0, 255),
        (0.0, 128),
        (-0.4, 76),
        (0.4, 178),
        (-0.345_098, 84),
        (0.054_902, 134),
        (0.99, 254),
        (-0.999, 0),
        (1.5, 255),
        (-7.0, 0),
        (f32::INFINITY, 255),
        (f32::NEG_INFINITY, 0),
        (0.123_456, 143),
        (-0.5, 64),
    ];
    let n = cases.len() as u32;
    // [3, 1, n] with every channel holding the same values
    let chw: Vec<f32> = (0..3).flat_map(|_| cases.iter().map(|c| c.0)).collect();
    let img = from_decoded(&chw, n, 1).unwrap();
    assert_eq!((img.width, img.height), (n, 1));
    for (i, &(v, expected)) in cases.iter().enumerate() {
        assert_eq!(img.pixels[3 * i..3 * i + 3], [expected; 3], "v = {v}");
    }
}

#[test]
fn from_decoded_nan_is_zero() {
    let img = from_decoded(&[f32::NAN, 1.0, -f32::NAN], 1, 1).unwrap();
    assert_eq!(img.pixels, [0, 255, 0]);
}

#[test]
fn from_decoded_transposes_chw_to_hwc() {
    // [3, 2, 2]: R = -1 everywhere, G = 1 everywhere, B = 0 on the first row and 1 on the second
    let chw = [
        -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0,
    ];
    let img = from_decoded(&chw, 2, 2).unwrap();
    assert_eq!(
        img.pixels,
        [0, 255, 128, 0, 255, 128, 0, 255, 255, 0, 255, 255]
    );
}

#[test]
fn from_decoded_rejects_wrong_length() {
    let err = from_decoded(&[0.0; 11], 2, 2).unwrap_err().to_string();
    assert!(err.contains("11") && err.contains("12"), "{err}");
    assert!(from_decoded(&[], 0, 0).is_err());
    assert!(from_decoded(&[0.0; 3], u32::MAX, u32::MAX).is_err());
}

#[test]
fn to_model_input_maps_bytes_to_minus_one_one_in_chw() {
    let img = RgbImage {
        width: 2,
        height: 1,
        pixels: vec![0, 255, 128, 255, 0, 51],
    };
    let x = to_model_input(&img, 2, 1).unwrap();
    // diffusers: 2.0 * (np.float32(v) / 255.0) - 1.0, [3, H, W]
    let f = |v: u8| 2.0 * (v as f32 / 255.0) - 1.0;
    assert_eq!(x, [-1.0, 1.0, 1.0, -1.0, f(128), f(51)]);
    assert_eq!(f(51), 2.0 * 0.2 - 1.0);
}

#[test]
fn to_model_input_then_from_decoded_is_lossless() {
    let img = gradient(5, 3);
    let x = to_model_input(&img, 5, 3).unwrap();
    assert_eq!(from_decoded(&x, 5, 3).unwrap(), img);
}

#[test]
fn to_model_input_resizes_with_lanczos() {
    // A constant image stays constant through Lanczos3 (its weights sum to one).
    let img = RgbImage {
        width: 6,
        height: 4,
        pixels: [10u8, 200, 255].repeat(24),
    };
    let x = to_model_input(&img, 3, 2).unwrap();
    assert_eq!(x.len(), 3 * 3 * 2);
    let f = |v: u8| 2.0 * (v as f32 / 255.0) - 1.0;
    assert!(x[..6].iter().all(|&v| v == f(10)), "{x:?}");
    assert!(x[6..12].iter().all(|&v| v == f(200)), "{x:?}");
    assert!(x[12..].iter().all(|&v| v == 1.0), "{x:?}");
    // upscaling a gradient keeps it in range and close to the original's mean
    let up = to_model_input(&gradient(4, 4), 8, 8).unwrap();
    assert_eq!(up.len(), 3 * 8 * 8);
    assert!(up.iter().all(|v| (-1.0..=1.0).contains(v)));
}

#[test]
fn to_model_input_rejects_bad_sizes() {
    let img = gradient(2, 2);
    assert!(to_model_input(&img, 0, 2).is_err());
    let broken = RgbImage {
        width: 2,
        height: 2,
        pixels: vec![0; 11],
    };
    let err = to_model_input(&broken, 2, 2).unwrap_err().to_string();
    assert!(err.contains("11"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// AUTOMATIC1111 infotext
// ---------------------------------------------------------------------------------------------

#[test]
fn to_a1111_matches_the_infotext_layout() {
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        example_parameters().to_a1111(),
        format!(
            "a photograph of an astronaut riding a horse\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, \
             Schedule type: Karras, CFG scale: 7.5, Seed: 42, Size: 512x512, Model: v1-5-pruned-emaonly, \
             Denoising strength: 0.75, Version: wgsd {version}"
        )
    );
    let txt2img = Parameters {
        negative_prompt: String::new(),
        schedule: None,
        denoising_strength: None,
        cfg_scale: 7.0,
        sampler: "dpm++2m".to_string(),
        width: 768,
        seed: 18_446_744_073_709_551_615,
        ..example_parameters()
    };
    assert_eq!(
        txt2img.to_a1111(),
        format!(
            "a photograph of an astronaut riding a horse\nSteps: 20, Sampler: DPM++ 2M, CFG scale: 7, \
             Seed: 18446744073709551615, Size: 768x512, Model: v1-5-pruned-emaonly, Version: wgsd {version}"
        )
    );
}

#[test]
fn sampler_names_follow_a1111() {
    assert_eq!(a1111_sampler_name("ddim"), "DDIM");
    assert_eq!(a1111_sampler_name("euler"), "Euler");
    assert_eq!(a1111_sampler_name("euler-a"), "Euler a");
    assert_eq!(a1111_sampler_name("dpm++2m"), "DPM++ 2M");
    assert_eq!(a1111_sampler_name("lcm"), "LCM");
    assert_eq!(a1111_sampler_name("heun"), "heun");
}

#[test]
fn values_are_quoted_as_a1111_quotes_them() {
    // infotext_utils.quote: json.dumps(v, ensure_ascii=False) when v has ',', '\n' or ':'.
    let with_model = |model: &str| {
        Parameters {
            model: model.to_string(),
            ..example_parameters()
        }
        .to_a1111()
    };
    assert!(with_model("sd, v1.5").contains(", Model: \"sd, v1.5\", Denoising"));
    assert!(with_model(r"C:\models\sd").contains(r#"Model: "C:\\models\\sd", "#));
    assert!(with_model("a\nb").contains(r#"Model: "a\nb", "#));
    assert!(with_model("猫: 🐱").contains("Model: \"猫: 🐱\", "));
    // a quote alone is not quoted by A1111 ...
    assert!(with_model(r#"say "hi""#).contains(r#"Model: say "hi", "#));
    // ... but wgsd quotes a value that starts with one, which A1111's reader would unquote
    assert!(with_model(r#""x""#).contains(r#"Model: "\"x\"", "#));
    // and one with whitespace at either end, which A1111's reader would trim
    assert!(with_model(" x").contains(r#"Model: " x", "#));
    assert!(with_model("x\t").contains(r#"Model: "x\t", "#));
    let sampler = Parameters {
        sampler: "odd:name".to_string(),
        ..example_parameters()
    };
    assert!(sampler.to_a1111().contains(r#"Sampler: "odd:name", "#));
}

#[test]
fn parse_a1111_reads_an_a1111_infotext() {
    // The example in A1111's parse_generation_parameters docstring (modules/infotext_utils.py).
    let text = "girl with an artist's beret, determined, blue eyes, desert scene, computer monitors, heavy \
makeup, by Alphonse Mucha and Charlie Bowater, ((eyeshadow)), (coquettish), detailed, intricate
Negative prompt: ugly, fat, obese, chubby, (((deformed))), [blurry], bad anatomy, disfigured, poorly drawn face, \
mutation, mutated, (extra_limb), (ugly), (poorly drawn hands), messy drawing
Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 965400086, Size: 512x512, Model hash: 45dee52b";
    let p = parse_a1111(text).unwrap();
    assert!(p.prompt.starts_with("girl with an artist's beret,"));
    assert!(p.prompt.ends_with("detailed, intricate"));
    assert!(p.negative_prompt.starts_with("ugly, fat,"));
    assert!(p.negative_prompt.ends_with("messy drawing"));
    assert_eq!(
        (p.steps, p.sampler.as_str(), p.cfg_scale, p.seed),
        (20, "euler-a", 7.0, 965_400_086)
    );
    assert_eq!((p.width, p.height), (512, 512));
    assert_eq!(
        (p.model.as_str(), p.schedule, p.denoising_strength),
        ("", None, None)
    );
}

#[test]
fn parse_a1111_round_trips_hard_prompts() {
    let prompts = [
        ("a cat, sitting: on a mat", ""),
        ("say \"hello\", she said: \"no\"", "worst quality, \"jpeg\""),
        ("line one\nline two, with comma\nline: three", "bad\nworse"),
        ("猫が座っている, 🐱🎨, (masterpiece:1.2)", "低品質"),
        ("café, naïve — «quoted»", "ÿ"),
        ("Steps: 5, Sampler: DDIM, CFG scale: 1", "Seed: 3"),
    ];
    for (prompt, negative_prompt) in prompts {
        for model in ["plain", "a, b", "x: y", "\"q\"", "C:\\m\\n", "模型,1"] {
            let p = Parameters {
                prompt: prompt.to_string(),
                negative_prompt: negative_prompt.to_string(),
                model: model.to_string(),
                ..example_parameters()
            };
            assert_eq!(parse_a1111(&p.to_a1111()).unwrap(), p, "{:?}", p.to_a1111());
        }
    }
    let minimal = Parameters {
        negative_prompt: String::new(),
        schedule: None,
        denoising_strength: None,
        sampler: "unknown-sampler".to_string(),
        model: String::new(),
        ..example_parameters()
    };
    assert_eq!(parse_a1111(&minimal.to_a1111()).unwrap(), minimal);
}

#[test]
fn parse_a1111_rejects_text_without_parameters() {
    let err = parse_a1111("just a prompt").unwrap_err().to_string();
    assert!(err.contains("key: value"), "{err}");
    let err = parse_a1111("p\nSampler: Euler, CFG scale: 7, Seed: 1, Size: 8x8")
        .unwrap_err()
        .to_string();
    assert!(err.contains("Steps"), "{err}");
    let err = parse_a1111("p\nSteps: many, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 8x8")
        .unwrap_err()
        .to_string();
    assert!(err.contains("many"), "{err}");
    let err = parse_a1111("p\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 8 by 8")
        .unwrap_err()
        .to_string();
    assert!(err.contains("8 by 8"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Prompts made of words (no whitespace inside) joined by spaces, ", " and newlines survive the
    /// round trip; so do models with any of the characters that need quoting.
    #[test]
    fn a1111_round_trip(
        words in prop::collection::vec("[a-z0-9,:\"()\\\\é猫🐱]{1,6}", 1..12),
        seps in prop::collection::vec(prop::sample::select(vec![" ", ", ", "\n", ": "]), 12),
        negative in "([a-z,:\"猫]{1,5}( |, )?){0,4}[a-z]",
        model in "[a-z0-9,:\"\\\\ 🐱]{0,10}[a-z]",
        steps in 1u32..200,
        seed in any::<u64>(),
        cfg_scale in 0.0f32..30.0,
        strength in prop::option::of(0.0f32..1.0),
    ) {
        let mut prompt = words[0].clone();
        for (w, s) in words[1..].iter().zip(&seps) {
            prompt.push_str(s);
            prompt.push_str(w);
        }
        let p = Parameters {
            prompt,
            negative_prompt: negative,
            model,
            steps,
            seed,
            cfg_scale,
            denoising_strength: strength,
            ..example_parameters()
        };
        prop_assert_eq!(parse_a1111(&p.to_a1111()).unwrap(), p);
    }
}

// ---------------------------------------------------------------------------------------------
// PNG writing
// ---------------------------------------------------------------------------------------------

#[test]
fn png_round_trip_with_parameters_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.png");
    let img = gradient(7, 5);
    let params = example_parameters();
    let text = params.to_a1111();
    write_png_atomic(&path, &img, &[("parameters", &text), ("Software", "wgsd")]).unwrap();

    let (info, pixels, chunks) = read_png_text(&path);
    assert_eq!((info.width, info.height), (7, 5));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    assert_eq!(pixels, img.pixels);
    assert_eq!(
        chunks,
        [
            ("parameters".to_string(), text.clone(), false),
            ("Software".to_string(), "wgsd".to_string(), false)
        ]
    );
    assert_eq!(parse_a1111(&chunks[0].1).unwrap(), params);
    assert_eq!(read_image(&path).unwrap(), img);
    assert_eq!(dir_names(dir.path()), ["out.png"]);
}

#[test]
fn png_text_uses_itxt_only_beyond_latin1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.png");
    let cjk = Parameters {
        prompt: "猫, 🐱: a \"cat\"\nsecond line".to_string(),
        negative_prompt: "ぼやけた".to_string(),
        ..example_parameters()
    };
    let latin1 = "café, naïve, ÿ";
    write_png_atomic(
        &path,
        &gradient(2, 2),
        &[("parameters", &cjk.to_a1111()), ("Comment", latin1)],
    )
    .unwrap();
    let (_, _, chunks) = read_png_text(&path);
    assert_eq!(
        chunks,
        [
            ("Comment".to_string(), latin1.to_string(), false),
            ("parameters".to_string(), cjk.to_a1111(), true),
        ]
    );
    assert_eq!(parse_a1111(&chunks[1].1).unwrap(), cjk);
}

#[test]
fn png_write_into_a_missing_directory_fails_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let path = missing.join("out.png");
    let err = write_png_atomic(&path, &gradient(2, 2), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert!(!missing.exists());
    assert!(dir_names(dir.path()).is_empty());
}

#[test]
fn png_failed_write_leaves_an_existing_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.png");
    fs::write(&path, b"previous content").unwrap();

    let broken = RgbImage {
        width: 4,
        height: 4,
        pixels: vec![0; 47],
    };
    let err = write_png_atomic(&path, &broken, &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&path.display().to_string()) && err.contains("47"),
        "{err}"
    );
    let err = write_png_atomic(&path, &gradient(2, 2), &[("", "x")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("keyword"), "{err}");
    let long = "k".repeat(80);
    assert!(write_png_atomic(&path, &gradient(2, 2), &[(&long, "x")]).is_err());
    assert!(write_png_atomic(&path, &gradient(2, 2), &[("naïve 猫", "x")]).is_err());
    assert!(write_png_atomic(&path, &gradient(2, 2), &[("k", "a\0b")]).is_err());

    assert_eq!(fs::read(&path).unwrap(), b"previous content");
    assert_eq!(dir_names(dir.path()), ["out.png"]);
}

#[test]
fn png_failed_rename_removes_the_temporary_file() {
    // The PNG is fully written to the temporary file, then the rename over a directory fails.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("taken");
    fs::create_dir(&path).unwrap();
    fs::write(path.join("inside"), b"keep").unwrap();
    let err = write_png_atomic(&path, &gradient(3, 3), &[("parameters", "p")])
        .unwrap_err()
        .to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert_eq!(dir_names(dir.path()), ["taken"]);
    assert_eq!(fs::read(path.join("inside")).unwrap(), b"keep");
}

#[test]
fn png_overwrites_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.png");
    fs::write(&path, b"old").unwrap();
    write_png_atomic(&path, &gradient(3, 2), &[]).unwrap();
    write_png_atomic(&path, &gradient(2, 3), &[]).unwrap();
    assert_eq!(read_image(&path).unwrap(), gradient(2, 3));
    assert_eq!(dir_names(dir.path()), ["out.png"]);
}

#[test]
fn png_write_rejects_an_empty_image() {
    let err = write_png_atomic(
        Path::new("x.png"),
        &RgbImage {
            width: 1,
            height: 1,
            pixels: vec![],
        },
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("x.png"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// read_image
// ---------------------------------------------------------------------------------------------

#[test]
fn read_image_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.png");
    let err = read_image(&missing).unwrap_err().to_string();
    assert!(err.contains(&missing.display().to_string()), "{err}");

    let garbage = dir.path().join("garbage.png");
    fs::write(&garbage, b"this is not an image at all").unwrap();
    let err = read_image(&garbage).unwrap_err().to_string();
    assert!(err.contains(&garbage.display().to_string()), "{err}");

    // a valid PNG cut in half
    let good = dir.path().join("good.png");
    write_png_atomic(&good, &gradient(32, 32), &[]).unwrap();
    let bytes = fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.png");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = read_image(&truncated).unwrap_err().to_string();
    assert!(err.contains(&truncated.display().to_string()), "{err}");

    let err = read_image(dir.path()).unwrap_err().to_string();
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
}

#[test]
fn read_image_converts_other_formats_to_rgb8() {
    let dir = tempfile::tempdir().unwrap();

    // RGBA PNG: alpha dropped
    let rgba_path = dir.path().join("rgba.png");
    let rgba = [10u8, 20, 30, 0, 40, 50, 60, 255];
    image::save_buffer(&rgba_path, &rgba, 2, 1, image::ExtendedColorType::Rgba8).unwrap();
    assert_eq!(
        read_image(&rgba_path).unwrap().pixels,
        [10, 20, 30, 40, 50, 60]
    );

    // grey PNG: replicated to three channels
    let grey_path = dir.path().join("grey.png");
    image::save_buffer(&grey_path, &[0u8, 200], 1, 2, image::ExtendedColorType::L8).unwrap();
    let grey = read_image(&grey_path).unwrap();
    assert_eq!(
        (grey.width, grey.height, grey.pixels),
        (1, 2, vec![0, 0, 0, 200, 200, 200])
    );

    // BMP, named .png: the format comes from the content
    let bmp_path = dir.path().join("really-a-bmp.png");
    let img = gradient(3, 2);
    let mut bmp = Vec::new();
    image::write_buffer_with_format(
        &mut Cursor::new(&mut bmp),
        &img.pixels,
        3,
        2,
        image::ExtendedColorType::Rgb8,
        image::ImageFormat::Bmp,
    )
    .unwrap();
    fs::write(&bmp_path, bmp).unwrap();
    assert_eq!(read_image(&bmp_path).unwrap(), img);

    // JPEG is lossy: same size, close pixels
    let jpeg_path = dir.path().join("flat.jpg");
    let flat = vec![120u8; 16 * 16 * 3];
    image::save_buffer(&jpeg_path, &flat, 16, 16, image::ExtendedColorType::Rgb8).unwrap();
    let jpeg = read_image(&jpeg_path).unwrap();
    assert_eq!((jpeg.width, jpeg.height), (16, 16));
    assert!(jpeg.pixels.iter().all(|&v| v.abs_diff(120) <= 2));
}

// ---------------------------------------------------------------------------------------------
// numbered_path
// ---------------------------------------------------------------------------------------------

#[test]
fn numbered_path_inserts_the_index_before_the_extension() {
    let cases = [
        ("out.png", 1, "out-0001.png"),
        ("dir/sub/out.png", 2, "dir/sub/out-0002.png"),
        ("out.png", 12_345, "out-12345.png"),
        ("archive.tar.png", 3, "archive.tar-0003.png"),
        ("out", 1, "out-0001"),
        (".hidden", 1, ".hidden-0001"),
        ("/abs/x.webp", 0, "/abs/x-0000.webp"),
        ("..", 7, "../0007"),
    ];
    for (path, index, expected) in cases {
        assert_eq!(
            numbered_path(Path::new(path), index),
            PathBuf::from(expected),
            "{path}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// PSNR
// ---------------------------------------------------------------------------------------------

#[test]
fn psnr_of_images() {
    let a = gradient(4, 3);
    assert_eq!(psnr(&a, &a).unwrap(), f64::INFINITY);
    // one byte of three off by 255: MSE = 255² / 3, PSNR = 10 log10(3)
    let black = RgbImage {
        width: 1,
        height: 1,
        pixels: vec![0, 0, 0],
    };
    let red = RgbImage {
        width: 1,
        height: 1,
        pixels: vec![255, 0, 0],
    };
    assert!((psnr(&black, &red).unwrap() - 10.0 * 3f64.log10()).abs() < 1e-12);
    // every byte off by 1: MSE = 1, PSNR = 20 log10(255) = 48.13 dB
    let mut b = a.clone();
    b.pixels.iter_mut().for_each(|v| *v ^= 1);
    assert!((psnr(&a, &b).unwrap() - 20.0 * 255f64.log10()).abs() < 1e-12);

    let err = psnr(&a, &gradient(3, 4)).unwrap_err().to_string();
    assert!(err.contains("4x3") && err.contains("3x4"), "{err}");
    let broken = RgbImage {
        pixels: vec![0; 5],
        ..a.clone()
    };
    assert!(psnr(&a, &broken).is_err());
}

#[test]
fn psnr_of_f32_arrays() {
    assert_eq!(psnr_f32(&[0.5, -1.0], &[0.5, -1.0], 2.0), f64::INFINITY);
    // MSE = 1, peak 2: 10 log10(4)
    assert!((psnr_f32(&[0.0, 0.0], &[1.0, -1.0], 2.0) - 10.0 * 4f64.log10()).abs() < 1e-12);
    assert!(psnr_f32(&[0.0], &[0.0, 1.0], 2.0).is_nan());
    assert!(psnr_f32(&[], &[], 2.0).is_nan());
    assert!(psnr_f32(&[f32::NAN], &[0.0], 2.0).is_nan());
}

// ---------------------------------------------------------------------------------------------
// .npy
// ---------------------------------------------------------------------------------------------

/// A `.npy` file built byte by byte: magic, version, header length, `header` padded with spaces and a
/// `\n` so that the data starts at a multiple of 64 (as numpy aligns it), then `data`.
fn npy_bytes(version: u8, header: &str, data: &[u8]) -> Vec<u8> {
    let prefix = if version == 1 { 10 } else { 12 };
    let mut header = header.to_string();
    while !(prefix + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn write_npy(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

/// `i / 4 - 1` for i in 0..n: the values of `f4_1x4x2x3.npy`.
fn quarters(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 / 4.0 - 1.0).collect()
}

#[test]
fn npy_reads_a_hand_written_file() {
    let dir = tempfile::tempdir().unwrap();
    let values = quarters(24);
    let bytes = npy_bytes(
        1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 2, 3), }",
        &f32_bytes(&values),
    );
    assert_eq!(bytes.len() - 24 * 4, 128);
    assert_eq!(&bytes[127..128], b"\n");
    let path = write_npy(dir.path(), "hand.npy", &bytes);
    assert_eq!(npy::read_f32(&path).unwrap(), (vec![1, 4, 2, 3], values));
}

#[test]
fn npy_reads_versions_two_and_three_and_header_variants() {
    let dir = tempfile::tempdir().unwrap();
    let data = f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    let headers = [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }",
        "{\"shape\": (5,), \"descr\": \"<f4\", \"fortran_order\": False}",
        "{ 'descr' : '<f4' ,'fortran_order':False,'shape':( 5 , ) }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (5L,), }",
    ];
    for version in [1, 2, 3] {
        for header in headers {
            let path = write_npy(dir.path(), "v.npy", &npy_bytes(version, header, &data));
            let (shape, values) = npy::read_f32(&path).unwrap();
            assert_eq!(shape, [5], "v{version} {header}");
            assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0]);
        }
    }
    let scalar = npy_bytes(
        1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
        &f32_bytes(&[7.5]),
    );
    let path = write_npy(dir.path(), "scalar.npy", &scalar);
    assert_eq!(npy::read_f32(&path).unwrap(), (vec![], vec![7.5]));
    let empty = npy_bytes(
        1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }",
        &[],
    );
    let path = write_npy(dir.path(), "empty.npy", &empty);
    assert_eq!(npy::read_f32(&path).unwrap(), (vec![0, 4], vec![]));
}

#[test]
fn npy_reads_files_numpy_wrote() {
    // tests/data/npy/make.py, numpy 2.4.6
    assert_eq!(
        npy::read_f32(&npy_fixture("f4_1x4x2x3.npy")).unwrap(),
        (vec![1, 4, 2, 3], quarters(24))
    );
    assert_eq!(
        npy::read_f32(&npy_fixture("f4_scalar.npy")).unwrap(),
        (vec![], vec![2.5])
    );
    // <f8 is rounded to f32: np.array([...]).astype(np.float32).tolist()
    let (shape, values) = npy::read_f32(&npy_fixture("f8_2x3.npy")).unwrap();
    assert_eq!(shape, [2, 3]);
    assert_eq!(
        values,
        [0.1f64 as f32, -0.2, 1e-3, 3.0, (1.0f64 / 3.0) as f32, -7.5]
    );
    // <f2 is widened exactly
    let (shape, values) = npy::read_f32(&npy_fixture("f2_5.npy")).unwrap();
    assert_eq!(shape, [5]);
    assert_eq!(values, [0.5, -1.0, 65504.0, 0.099_975_586, -0.0]);
    assert!(values[4].is_sign_negative());
}

#[test]
fn npy_writes_what_numpy_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.npy");
    npy::write_f32(&path, &[1, 4, 2, 3], &quarters(24)).unwrap();
    assert_eq!(
        fs::read(&path).unwrap(),
        fs::read(npy_fixture("f4_1x4x2x3.npy")).unwrap()
    );
    npy::write_f32(&path, &[], &[2.5]).unwrap();
    assert_eq!(
        fs::read(&path).unwrap(),
        fs::read(npy_fixture("f4_scalar.npy")).unwrap()
    );
    assert_eq!(dir_names(dir.path()), ["out.npy"]);
}

#[test]
fn npy_write_read_round_trip_and_alignment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    let shapes: [&[usize]; 7] = [
        &[],
        &[0],
        &[5],
        &[1, 4, 8, 8],
        &[123_456_789, 0],
        &[2; 9],
        &[3, 1, 1, 1, 2],
    ];
    for shape in shapes {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|i| (i as f32).sin()).collect();
        npy::write_f32(&path, shape, &data).unwrap();
        let bytes = fs::read(&path).unwrap();
        let data_start = bytes.len() - 4 * n;
        assert_eq!(data_start % 64, 0, "{shape:?}");
        assert_eq!(bytes[data_start - 1], b'\n');
        assert_eq!(npy::read_f32(&path).unwrap(), (shape.to_vec(), data));
    }
}

#[test]
fn npy_write_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    let err = npy::write_f32(&path, &[2, 3], &[0.0; 5])
        .unwrap_err()
        .to_string();
    assert!(err.contains("x.npy") && err.contains("[2, 3]"), "{err}");
    let missing = dir.path().join("nope");
    let err = npy::write_f32(&missing.join("x.npy"), &[1], &[0.0])
        .unwrap_err()
        .to_string();
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(dir_names(dir.path()).is_empty());

    fs::write(&path, b"old").unwrap();
    assert!(npy::write_f32(&path, &[usize::MAX, 2], &[]).is_err());
    assert_eq!(fs::read(&path).unwrap(), b"old");
}

/// `read_f32` of `bytes` fails with a message naming the file and containing `needle`.
fn assert_npy_error(bytes: &[u8], needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_npy(dir.path(), "noise.npy", bytes);
    let err = npy::read_f32(&path).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
}

#[test]
fn npy_read_errors() {
    let header = |descr: &str, fortran: &str, shape: &str| {
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}")
    };
    let six = f32_bytes(&[0.0; 6]);

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.npy");
    let err = npy::read_f32(&missing).unwrap_err().to_string();
    assert!(err.contains(&missing.display().to_string()), "{err}");

    assert_npy_error(b"PK\x03\x04 a zip, not an npy", "\\x93NUMPY");
    assert_npy_error(b"", "\\x93NUMPY");
    assert_npy_error(b"\x93NUMPY\x01\x00\x50", "truncated");
    assert_npy_error(b"\x93NUMPY\x04\x00\x10\x00{}", "version 4.0");
    assert_npy_error(b"\x93NUMPY\x01\x00\xff\x00{'descr'", "truncated header");
    assert_npy_error(
        &npy_bytes(1, &header("<i8", "False", "(6,)"), &[0; 48]),
        "dtype <i8; expected float32 (<f4)",
    );
    assert_npy_error(
        &npy_bytes(1, &header(">f4", "False", "(6,)"), &six),
        "big-endian",
    );
    assert_npy_error(
        &npy_bytes(1, &header("|u1", "False", "(6,)"), &[0; 6]),
        "dtype |u1",
    );
    assert_npy_error(
        &npy_bytes(1, &header("<f4", "True", "(2, 3)"), &six),
        "Fortran order",
    );
    assert_npy_error(
        &npy_bytes(1, &header("<f4", "False", "(2, 4)"), &six),
        "truncated data",
    );
    assert_npy_error(
        &npy_bytes(1, &header("<f4", "False", "(5,)"), &six),
        "4 bytes after",
    );
    assert_npy_error(
        &npy_bytes(1, &header("<f4", "False", "(2, 3"), &six),
        "cannot parse the header",
    );
    assert_npy_error(
        &npy_bytes(1, &header("<f4", "Maybe", "(6,)"), &six),
        "cannot parse the header",
    );
    assert_npy_error(
        &npy_bytes(1, &header("<f4", "False", "(-6,)"), &six),
        "cannot parse the header",
    );
    assert_npy_error(
        &npy_bytes(
            1,
            &header("<f4", "False", "(99999999999, 99999999999, 99999999999)"),
            &six,
        ),
        "too large",
    );
    assert_npy_error(
        &npy_bytes(1, "{'descr': '<f4', 'shape': (6,), }", &six),
        "no 'fortran_order'",
    );
    assert_npy_error(
        &npy_bytes(
            1,
            "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }",
            &six,
        ),
        "structured dtype",
    );
    assert_npy_error(
        &npy_bytes(1, "not a dict at all", &six),
        "cannot parse the header",
    );
    assert_npy_error(
        &npy_bytes(
            1,
            &format!("{} extra", header("<f4", "False", "(6,)")),
            &six,
        ),
        "after the dict",
    );
    // numpy's own int64 file
    let err = npy::read_f32(&npy_fixture("i8_3.npy"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("i8_3.npy") && err.contains("has dtype <i8"),
        "{err}"
    );
}
