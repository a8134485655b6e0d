//! Each architecture graph's weights (names and shapes) equal diffusers'/transformers' `state_dict()`.
//!
//! Expected lists: `tests/data/weight_names/<arch>_<component>.txt` (`name<TAB>shape`), written by
//! `reference/dump_weight_names.py` with diffusers 0.42.1 / transformers 5.24.0 from the configs in
//! `reference/configs/<arch>/`. CLIP keys are the transformers-5 form, without `text_model.`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use wgsd::graph::{Graph, GraphOptions};
use wgsd::models::pipeline_graph::{component_graph, Component};
use wgsd::models::{ClipTextConfig, PipelineConfig, RunShape, UNetConfig, VaeConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config(arch: &str) -> PipelineConfig {
    let dir = root().join("reference/configs").join(arch);
    let te2 = dir.join("text_encoder_2.json");
    PipelineConfig {
        name: arch.into(),
        text_encoder: ClipTextConfig::from_file(&dir.join("text_encoder.json")).unwrap(),
        text_encoder_2: te2
            .exists()
            .then(|| ClipTextConfig::from_file(&te2).unwrap()),
        unet: UNetConfig::from_file(&dir.join("unet.json")).unwrap(),
        vae: VaeConfig::from_file(&dir.join("vae.json")).unwrap(),
    }
}

type Weights = BTreeMap<String, Vec<u32>>;

fn expected(arch: &str, component: &str) -> Weights {
    let path = root().join(format!("tests/data/weight_names/{arch}_{component}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (name, shape) = l.split_once('\t').expect("name<TAB>shape");
            let shape = shape
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|d| d.parse().unwrap())
                .collect();
            (name.to_string(), shape)
        })
        .collect()
}

fn weights(g: &Graph) -> Weights {
    g.weights()
        .map(|w| (g.tensor(w).name.clone(), g.tensor(w).shape.clone()))
        .collect()
}

fn graph(cfg: &PipelineConfig, c: Component) -> Graph {
    let m = cfg.size_multiple();
    let run = RunShape {
        width: m * 2,
        height: m * 2,
        batch: 1,
    };
    component_graph(cfg, c, &run, GraphOptions::default()).unwrap()
}

fn assert_same(arch: &str, component: &str, got: Weights) {
    let want = expected(arch, component);
    let missing: Vec<_> = want
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(v))
        .take(10)
        .collect();
    let extra: Vec<_> = got
        .iter()
        .filter(|(k, v)| want.get(*k) != Some(v))
        .take(10)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{arch} {component}: {} expected, {} built\n missing or wrong: {missing:?}\n extra or wrong: {extra:?}",
        want.len(),
        got.len()
    );
}

fn check_arch(arch: &str) {
    let cfg = config(arch);
    assert_same(
        arch,
        "text_encoder",
        weights(&graph(&cfg, Component::TextEncoder)),
    );
    if cfg.text_encoder_2.is_some() {
        assert_same(
            arch,
            "text_encoder_2",
            weights(&graph(&cfg, Component::TextEncoder2)),
        );
    }
    assert_same(arch, "unet", weights(&graph(&cfg, Component::UNet)));
    let mut vae = weights(&graph(&cfg, Component::VaeEncoder));
    vae.extend(weights(&graph(&cfg, Component::VaeDecoder)));
    assert_same(arch, "vae", vae);
}

#[test]
fn sd15() {
    check_arch("sd15");
}

#[test]
fn sd21() {
    check_arch("sd21");
}

#[test]
fn sdxl() {
    check_arch("sdxl");
}

#[test]
fn tiny_sd1() {
    check_arch("tiny-sd1");
}

#[test]
fn tiny_sd2() {
    check_arch("tiny-sd2");
}

#[test]
fn tiny_3level() {
    check_arch("tiny-3level");
}

/// The named constructors equal the published configs in `reference/configs/`.
#[test]
fn named_constructors_match_published_configs() {
    for (arch, named) in [
        ("sd15", PipelineConfig::sd_v1_5()),
        ("sd21", PipelineConfig::sd_v2_1()),
        ("sdxl", PipelineConfig::sdxl_base_1_0()),
    ] {
        let file = config(arch);
        assert_eq!(named.text_encoder, file.text_encoder, "{arch} text_encoder");
        assert_eq!(
            named.text_encoder_2, file.text_encoder_2,
            "{arch} text_encoder_2"
        );
        assert_eq!(named.unet, file.unet, "{arch} unet");
        assert_eq!(named.vae, file.vae, "{arch} vae");
    }
}
