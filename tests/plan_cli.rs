//! `wgsd plan` run as a binary: output, JSON, timeline, intervals, and every bad-input error.

use std::path::PathBuf;
use std::process::{Command, Output};

fn wgsd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wgsd"))
        .args(args)
        .output()
        .expect("run wgsd")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wgsd-plan-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Fails with a clear message: non-zero exit, `error:` naming `needle`, no panic.
fn assert_fails(args: &[&str], needle: &str) {
    let o = wgsd(args);
    let err = stderr(&o);
    assert!(!o.status.success(), "{args:?} should fail");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: stderr {err:?} lacks {needle:?}"
    );
}

#[test]
fn sd15_text_report() {
    let o = wgsd(&["plan", "--arch", "sd15"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("sd15 at 512×512, batch 2"), "{out}");
    for phase in [
        "text_encode",
        "vae_encode",
        "unet_step",
        "vae_decode",
        "pipeline",
    ] {
        assert!(out.contains(phase), "{phase} missing:\n{out}");
    }
    assert!(out.contains("device bytes: arena"), "{out}");
    // CLIP's 49408×768 f32 token table is 144.75 MiB, over the 128 MiB binding: a weight to rewrite.
    assert!(
        out.contains("weight         144.75  text_encoder.embeddings.token_embedding.weight"),
        "{out}"
    );
}

#[test]
fn json_report_has_the_figures() {
    let o = wgsd(&[
        "plan", "--arch", "sd15", "--json", "--batch", "1", "--budget", "64GiB",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["width"], 512);
    assert_eq!(v["phases"].as_array().unwrap().len(), 4);
    let unet = &v["phases"][2];
    assert_eq!(unet["name"], "unet_step");
    let mib = |x: &serde_json::Value| x.as_u64().unwrap() as f64 / 1048576.0;
    // NOTES.md: SD 1.5 U-Net 512² f32 batch 1, flash ≈ 80 MiB, materialised ≈ 547 MiB (+ the
    // persistent text embeddings and latents of the pipeline, < 1 MiB).
    assert!((mib(&unet["load"]) - 80.5).abs() < 2.0, "{}", unet["load"]);
    assert!((mib(&unet["load_other_attention"]) - 547.5).abs() < 5.0);
    assert!(unet["largest"]["name"]
        .as_str()
        .unwrap()
        .contains("ff.net.0.proj"));
    assert!(v["pipeline"]["arena"].as_u64() >= v["pipeline"]["load"].as_u64());
    assert_eq!(v["fits_budget"], true);
    assert_eq!(
        v["total_device_bytes"].as_u64().unwrap(),
        v["pipeline"]["arena"].as_u64().unwrap() + v["weight_bytes"].as_u64().unwrap()
    );
}

#[test]
fn f16_halves_and_max_binding_overrides() {
    let o = wgsd(&[
        "plan",
        "--arch",
        "sd15",
        "--precision",
        "f16",
        "--max-binding",
        "1GiB",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["precision"], "f16");
    assert_eq!(v["oversized"].as_array().unwrap().len(), 0);
    // 859.5 M U-Net parameters (NOTES.md) in f16 ≈ 1639 MiB
    let w = v["phases"][2]["weight_bytes"].as_u64().unwrap() as f64 / 1048576.0;
    assert!((w - 1639.4).abs() < 2.0, "{w}");
}

#[test]
fn budget_that_does_not_fit_exits_nonzero() {
    let o = wgsd(&["plan", "--arch", "sd15", "--budget", "60MiB"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("does NOT fit"));
}

#[test]
fn timeline_svg() {
    let path = tmp("timeline").join("sdxl.svg");
    let o = wgsd(&[
        "plan",
        "--arch",
        "sdxl",
        "--width",
        "512",
        "--height",
        "512",
        "--budget",
        "20GiB",
        "--timeline",
        path.to_str().unwrap(),
    ]);
    // the exit status says whether the budget fits; the timeline is written either way
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    for needle in [
        "arena offset (MiB)",
        "op index",
        "LOAD",
        "budget",
        "unet_step",
        "vae_decode",
    ] {
        assert!(svg.contains(needle), "{needle}");
    }
    assert!(svg.len() < 600_000, "{} bytes", svg.len());
}

#[test]
fn model_folder() {
    let dir = tmp("model").join("tiny-sd1");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reference/configs/tiny-sd1");
    for part in ["unet", "vae", "text_encoder"] {
        std::fs::create_dir_all(dir.join(part)).unwrap();
        std::fs::copy(
            src.join(format!("{part}.json")),
            dir.join(part).join("config.json"),
        )
        .unwrap();
    }
    let o = wgsd(&["plan", "--model", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // native size: unet sample_size 32 × VAE factor 2
    assert!(stdout(&o).contains("tiny-sd1 at 64×64"), "{}", stdout(&o));
    assert_fails(
        &["plan", "--model", "/nonexistent/model"],
        "/nonexistent/model/text_encoder/config.json",
    );
}

#[test]
fn intervals_csv() {
    let d = tmp("intervals");
    let good = d.join("good.csv");
    // two buffers overlap in time at [1, 2): LOAD 30; the third reuses room after both end.
    std::fs::write(&good, "id,lower,upper,size\n0,0,2,10\n1,1,3,20\n2,3,4,25\n").unwrap();
    let o = wgsd(&[
        "plan",
        "--intervals",
        good.to_str().unwrap(),
        "--capacity",
        "1MiB",
    ]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("LOAD  30 bytes"), "{out}");
    assert!(out.contains("capacity 1048576 bytes: fits"), "{out}");
    let o = wgsd(&[
        "plan",
        "--intervals",
        good.to_str().unwrap(),
        "--capacity",
        "29",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("does NOT fit"));

    let cases = [
        (
            "fields.csv",
            "id,lower,upper,size\n0,0,2\n",
            "line 2: expected 4 fields",
        ),
        (
            "zero.csv",
            "id,lower,upper,size\n0,0,2,0\n",
            "line 2: size 0 must be positive",
        ),
        (
            "negative.csv",
            "0,0,2,-5\n",
            "line 1: size -5 must be positive",
        ),
        (
            "empty_interval.csv",
            "0,3,3,5\n",
            "interval [3, 3) is empty",
        ),
        (
            "text.csv",
            "id,lower,upper,size\n0,a,2,5\n",
            "lower \"a\" is not an integer",
        ),
        ("nothing.csv", "id,lower,upper,size\n", "no intervals"),
    ];
    for (name, text, needle) in cases {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        assert_fails(&["plan", "--intervals", p.to_str().unwrap()], needle);
    }
    assert_fails(
        &["plan", "--intervals", "/nonexistent.csv"],
        "/nonexistent.csv",
    );
}

#[test]
fn bad_inputs() {
    assert_fails(
        &["plan", "--arch", "sd3"],
        "unknown arch \"sd3\": expected sd15, sd21 or sdxl",
    );
    assert_fails(
        &["plan", "--arch", "sd15", "--width", "500"],
        "width 500 is not a multiple of 64 (VAE factor 8 × U-Net down-sampling 8): try 448 or 512",
    );
    assert_fails(
        &["plan", "--arch", "sdxl", "--height", "1000"],
        "height 1000 is not a multiple of 32 (VAE factor 8 × U-Net down-sampling 4): try 992 or 1024",
    );
    assert_fails(
        &["plan", "--arch", "sd15", "--budget", "lots"],
        "cannot read size \"lots\"",
    );
    assert_fails(
        &["plan", "--arch", "sd15", "--budget=-3GiB"],
        "cannot read size \"-3GiB\"",
    );
    assert_fails(
        &["plan", "--arch", "sd15", "--max-binding", "12 parsecs"],
        "unknown unit",
    );
    assert_fails(
        &["plan", "--arch", "sd15", "--batch", "0"],
        "batch must be at least 1",
    );
    assert_fails(
        &["plan", "--arch", "sd15", "--alignment", "48"],
        "alignment 48 is not a power of two",
    );
    assert_fails(&["plan"], "needs --arch");
    assert_fails(
        &["plan", "--arch", "sd15", "--model", "x"],
        "cannot be used with",
    );
}

/// The issue asks for SDXL at 1024² to plan in under a second (release); the test build must too. The
/// budget search on top (residency, VAE tiling and feed-forward chunking; about 0.65 s on this machine
/// when idle) is timed apart, with a bound loose enough for a loaded CI machine.
#[test]
fn sdxl_1024_plans_in_under_a_second() {
    let o = wgsd(&[
        "plan", "--arch", "sdxl", "--width", "1024", "--height", "1024", "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let s = v["seconds"].as_f64().unwrap();
    assert!(s < 1.0, "planning took {s} s");
    let b = v["budget_seconds"].as_f64().unwrap();
    assert!(b < 5.0, "the budget search took {b} s");
    assert_eq!(v["phases"][2]["ops"], 1572); // the U-Net and the sampler input, noise and step
}
