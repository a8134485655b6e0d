//! Every shader in `shaders/` parses and validates with naga, in its f32 and f16 variants. Needs no GPU.

use wgsd::gpu::shaders::{Shader, ALL};
use wgsd::graph::DType;

#[test]
fn every_shader_validates_in_both_precisions() {
    for shader in ALL {
        for elem in [DType::F32, DType::F16] {
            if let Err(e) = shader.validate(elem) {
                panic!("{e}");
            }
        }
    }
}

#[test]
fn every_wgsl_file_is_registered() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("wgsl") {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            assert!(
                ALL.iter().any(|s| s.name == stem),
                "shaders/{stem}.wgsl is not in gpu::shaders::ALL"
            );
        }
    }
}

#[test]
fn a_broken_shader_is_a_clear_error() {
    let broken = Shader {
        name: "broken",
        body: "fn f() -> f32 { return undefined_name; }",
        needs_subgroups: false,
    };
    let err = broken.validate(DType::F32).unwrap_err().to_string();
    assert!(
        err.contains("undefined_name") || err.contains("no definition"),
        "{err}"
    );
}
