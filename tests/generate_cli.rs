//! `wgsd generate` run as a binary: the demo model, `--noise` reproducing diffusers' image, the PNG's
//! A1111 parameters, `--batch-count`, img2img, and every bad input refused with a clear message, an exit
//! code ≠ 0, no panic and no output file (an existing one untouched).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wgsd::image_io;
use wgsd::weights::{convert, SafetensorsFile};

fn wgsd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wgsd"))
        .args(args)
        .env_remove("WGSD_MODEL")
        .output()
        .expect("run wgsd")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wgsd-generate-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn fixture(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
        .display()
        .to_string()
}

fn succeeds(args: &[&str]) -> Output {
    let o = wgsd(args);
    assert!(o.status.success(), "{args:?} failed: {}", stderr(&o));
    o
}

/// The PNG's `parameters` text.
fn parameters(path: &Path) -> String {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    info.uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == "parameters")
        .map(|t| t.text.clone())
        .or_else(|| {
            info.utf8_text
                .iter()
                .find(|t| t.keyword == "parameters")
                .and_then(|t| t.get_text().ok())
        })
        .expect("a parameters chunk")
}

/// A float32 .npy of the reference tensor `key` of `fixture`'s pipeline references.
fn npy_of(fixture_name: &str, key: &str, dir: &Path) -> String {
    let file = SafetensorsFile::open(fixture(&format!(
        "{fixture_name}/pipeline/pipeline.safetensors"
    )))
    .unwrap();
    let view = file.tensor(key).unwrap();
    let shape = view.shape().to_vec();
    let data = convert::to_f32_vec(&view).unwrap();
    let path = dir.join(format!("{key}.npy"));
    wgsd::npy::write_f32(&path, &shape, &data).unwrap();
    path.display().to_string()
}

#[test]
fn demo_model_writes_a_png_with_a1111_parameters() {
    let dir = tmp("demo");
    let out = dir.join("cat.png");
    let o = succeeds(&[
        "generate",
        "-p",
        "a photo of a cat",
        "-n",
        "blurry, bad",
        "--steps",
        "3",
        "--seed",
        "42",
        "--sampler",
        "euler-a",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(stderr(&o).contains("demo model"), "{}", stderr(&o));
    assert!(stderr(&o).contains("device memory"), "{}", stderr(&o));
    let p = image_io::parse_a1111(&parameters(&out)).unwrap();
    assert_eq!(p.prompt, "a photo of a cat");
    assert_eq!(p.negative_prompt, "blurry, bad");
    assert_eq!((p.steps, p.seed, p.cfg_scale), (3, 42, 7.5));
    assert_eq!(p.sampler, "euler-a");
    assert_eq!(p.model, "tiny-sd1");

    // The same seed and arguments give the same image.
    let again = dir.join("again.png");
    succeeds(&[
        "generate",
        "-p",
        "a photo of a cat",
        "-n",
        "blurry, bad",
        "--steps",
        "3",
        "--seed",
        "42",
        "--sampler",
        "euler-a",
        "-o",
        again.to_str().unwrap(),
    ]);
    let a = image_io::read_image(&out).unwrap();
    let b = image_io::read_image(&again).unwrap();
    assert_eq!(a.pixels, b.pixels);
}

#[test]
fn noise_file_reproduces_diffusers() {
    let dir = tmp("noise");
    let noise = npy_of("tiny-sd1", "latents", &dir);
    let out = dir.join("ddim.png");
    succeeds(&[
        "generate",
        "--model",
        &fixture("tiny-sd1"),
        "-p",
        "a photo of a cat",
        "-W",
        "48",
        "-H",
        "32",
        "--steps",
        "5",
        "--sampler",
        "ddim",
        "--noise",
        &noise,
        "-o",
        out.to_str().unwrap(),
    ]);
    let ours = image_io::read_image(&out).unwrap();
    let want = image_io::read_image(Path::new(&fixture("tiny-sd1/pipeline/ddim.png"))).unwrap();
    let psnr = image_io::psnr(&ours, &want).unwrap();
    println!("CLI --noise vs diffusers ddim.png: PSNR {psnr:.1} dB");
    assert!(psnr >= 40.0, "PSNR {psnr}");
}

#[test]
fn batch_count_numbers_the_files_and_the_seeds() {
    let dir = tmp("batch");
    let out = dir.join("out.png");
    succeeds(&[
        "generate",
        "-p",
        "   ",
        "--steps",
        "2",
        "--seed",
        "7",
        "--cfg-scale",
        "1",
        "--batch-count",
        "2",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!out.exists());
    for (i, seed) in [(1, 7), (2, 8)] {
        let p = dir.join(format!("out-{i:04}.png"));
        let params = image_io::parse_a1111(&parameters(&p)).unwrap();
        assert_eq!(params.seed, seed, "{}", p.display());
    }
}

/// Fails with a clear message: non-zero exit, `error:` naming `needle`, no panic, no file.
fn assert_fails(args: &[&str], needle: &str, out: &Path) {
    let o = wgsd(args);
    let err = stderr(&o);
    assert!(!o.status.success(), "{args:?} should fail");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: stderr {err:?} lacks {needle:?}"
    );
    assert!(!out.exists(), "{args:?} left {}", out.display());
}

#[test]
fn bad_input_is_refused_clearly() {
    let dir = tmp("bad");
    let out = dir.join("out.png");
    let o = out.to_str().unwrap();
    let base = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = ["generate", "-p", "x", "--steps", "2", "-o", o]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |extra: &[&'static str], needle: &str| {
        let args = base(extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_fails(&refs, needle, &out);
    };
    run(&["--model", "/nonexistent/model"], "/nonexistent/model");
    std::fs::write(dir.join("garbage.png"), b"not an image").unwrap();
    let garbage = dir.join("garbage.png").display().to_string();
    let garbage: &'static str = Box::leak(garbage.into_boxed_str());
    run(&["--init-image", garbage], "garbage.png");
    run(&["--init-image", "/nonexistent/init.png"], "init.png");
    run(&["--init-image", garbage, "--strength", "0"], "strength");
    run(&["--init-image", garbage, "--strength", "1.5"], "strength");
    run(&["--sampler", "heun"], "unknown sampler");
    run(&["--vae-tiling", "0"], "--vae-tiling 0");
    run(&["--ff-chunking", "100"], "multiple of 128");
    run(&["-W", "50", "-H", "64"], "multiple of");
    let mut zero = base(&[]);
    zero[4] = "0".into();
    let refs: Vec<&str> = zero.iter().map(String::as_str).collect();
    assert_fails(&refs, "steps", &out);
    let missing_dir = dir.join("no/such/dir/out.png");
    assert_fails(
        &["generate", "-p", "x", "-o", missing_dir.to_str().unwrap()],
        "does not exist",
        &missing_dir,
    );
    let noise = dir.join("noise.npy");
    wgsd::npy::write_f32(&noise, &[1, 4, 3, 3], &[0.0; 36]).unwrap();
    let noise: &'static str = Box::leak(noise.display().to_string().into_boxed_str());
    run(&["--noise", noise], "noise of shape [1, 4, 3, 3]");
}

#[test]
fn a_failed_run_leaves_an_existing_file_untouched() {
    let dir = tmp("atomic");
    let out = dir.join("keep.png");
    std::fs::write(&out, b"precious").unwrap();
    // Fails after the model is on the GPU: more steps than the schedule has timesteps.
    let o = wgsd(&[
        "generate",
        "-p",
        "x",
        "--steps",
        "5000",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1, "temporary files left behind: {left:?}");
}

#[test]
fn img2img_from_the_cli_reproduces_diffusers() {
    let dir = tmp("img2img");
    let noise = npy_of("tiny-sd2", "img2img_euler.noise", &dir);
    let out = dir.join("img2img.png");
    succeeds(&[
        "generate",
        "--model",
        &fixture("tiny-sd2"),
        "-p",
        "a photo of a cat",
        "-n",
        "blurry, low quality",
        "--steps",
        "5",
        "--sampler",
        "euler",
        "--init-image",
        &fixture("tiny-sd2/pipeline/init.png"),
        "--strength",
        "0.6",
        "--noise",
        &noise,
        "-o",
        out.to_str().unwrap(),
    ]);
    let ours = image_io::read_image(&out).unwrap();
    let want =
        image_io::read_image(Path::new(&fixture("tiny-sd2/pipeline/img2img_euler.png"))).unwrap();
    let psnr = image_io::psnr(&ours, &want).unwrap();
    println!("CLI img2img vs diffusers img2img_euler.png: PSNR {psnr:.1} dB");
    assert!(psnr >= 40.0, "PSNR {psnr}");
    let p = image_io::parse_a1111(&parameters(&out)).unwrap();
    assert_eq!(p.denoising_strength, Some(0.6));
    assert_eq!((p.width, p.height), (48, 32), "the init image's size");
}

/// `--budget` covers everything the process reserves, the device's own reservation included: a
/// budget too small is refused naming the device's share and the smallest budget that works, and a run
/// at exactly that budget stays within it by wgpu's allocator report (device included).
#[test]
fn the_budget_covers_the_device_itself() {
    let dir = tmp("budget");
    let common = [
        "generate", "-p", "a cat", "-W", "96", "-H", "96", "--steps", "2", "--seed", "3",
    ];
    let refused = dir.join("refused.png");
    let mut args = common.to_vec();
    args.extend(["--budget", "1MiB", "-o", refused.to_str().unwrap()]);
    let o = wgsd(&args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("the device itself reserved"), "{err}");
    assert!(!refused.exists());
    let marker = "the smallest budget that works is ";
    let at = err.find(marker).expect("the minimum") + marker.len();
    let minimum: u64 = err[at..].split(' ').next().unwrap().parse().unwrap();

    let out = dir.join("out.png");
    let report = dir.join("run.json");
    let mut args = common.to_vec();
    let budget_arg = minimum.to_string();
    args.extend([
        "--budget",
        &budget_arg,
        "-o",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    succeeds(&args);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let (baseline, peak) = (
        r["device_baseline"].as_u64().unwrap(),
        r["peak_reserved"].as_u64().unwrap(),
    );
    assert!(peak <= minimum, "peak reserved {peak} > budget {minimum}");
    assert!(baseline <= peak, "baseline {baseline}, peak {peak}");
}
