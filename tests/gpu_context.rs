//! The GPU context: adapter choice, pipeline caching, memory reporting, `wgsd devices`.

use wgsd::gpu::{Gpu, GpuOptions};
use wgsd::graph::DType;

#[test]
fn an_unknown_adapter_is_a_clear_error_listing_the_choices() {
    let err = Gpu::new(&GpuOptions {
        adapter: Some("no-such-gpu".into()),
        disable_disk_cache: true,
    })
    .err()
    .expect("an unknown adapter must be refused")
    .to_string();
    assert!(err.contains("no adapter matches 'no-such-gpu'"), "{err}");
    assert!(err.contains("available:"), "{err}");
}

#[test]
fn adapters_can_be_chosen_by_backend() {
    let gpu = Gpu::new(&GpuOptions {
        adapter: Some("vulkan".into()),
        disable_disk_cache: true,
    })
    .expect("CI has a Vulkan driver (lavapipe)");
    assert!(
        gpu.adapter_name().contains("Vulkan"),
        "{}",
        gpu.adapter_name()
    );
    // The device gets the adapter's own limits, not wgpu's defaults.
    assert!(gpu.limits().max_storage_buffer_binding_size >= 128 << 20);
}

#[test]
fn pipelines_are_built_once() {
    let gpu = Gpu::new(&GpuOptions {
        adapter: None,
        disable_disk_cache: true,
    })
    .unwrap();
    let shader = &wgsd::gpu::shaders::ELEMENTWISE;
    gpu.pipeline(shader, "unary", DType::F32, &[]).unwrap();
    let n = gpu.pipeline_count();
    gpu.pipeline(shader, "unary", DType::F32, &[]).unwrap();
    assert_eq!(
        gpu.pipeline_count(),
        n,
        "the second request must come from the cache"
    );
    gpu.pipeline(shader, "scale", DType::F32, &[]).unwrap();
    assert_eq!(gpu.pipeline_count(), n + 1);
}

#[test]
fn the_allocator_report_sees_our_buffers() {
    let gpu = Gpu::new(&GpuOptions {
        adapter: Some("vulkan".into()),
        disable_disk_cache: true,
    })
    .unwrap();
    let before = gpu
        .memory()
        .expect("wgpu's counters feature gives an allocator report on Vulkan");
    let _buf = gpu.create_storage("probe", 8 << 20).unwrap();
    let after = gpu.memory().unwrap();
    assert!(
        after.allocated >= before.allocated + (8 << 20),
        "{before:?} -> {after:?}"
    );
    // With the Manual memory hint, reserved stays close to allocated.
    assert!(after.reserved <= after.allocated + (4 << 20), "{after:?}");
}

#[test]
fn devices_lists_limits_and_features() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wgsd"))
        .args(["devices"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for field in [
        "max buffer",
        "max storage bind",
        "offset alignment",
        "workgroup memory",
        "f16",
        "subgroups",
    ] {
        assert!(text.contains(field), "missing {field} in:\n{text}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wgsd"))
        .args(["devices", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json.as_array().is_some_and(|a| !a.is_empty()));
    // --adapter shows the one adapter wgsd would use, or fails clearly.
    let wgsd = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wgsd"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = wgsd(&["devices", "--adapter", "vulkan"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("max buffer").count(), 1, "{text}");
    assert!(text.contains("Vulkan"), "{text}");
    let out = wgsd(&["devices", "--adapter", "no-such-gpu"]);
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("no adapter matches 'no-such-gpu'"));
}
