//! `wgsd devices`: every adapter wgpu can see, with the limits and features that decide how wgsd runs.

use crate::error::{Error, Result};
use crate::gpu::{chosen_adapter, list_adapters, AdapterSummary};

fn mib(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Human-readable description of `adapters`, one block each.
pub fn describe(adapters: &[AdapterSummary]) -> String {
    let mut out = String::new();
    for (i, a) in adapters.iter().enumerate() {
        out += &format!("[{i}] {} ({}, {})\n", a.name, a.backend, a.device_type);
        if !a.driver.is_empty() {
            out += &format!("    driver            {}\n", a.driver);
        }
        out += &format!("    max buffer        {}\n", mib(a.max_buffer_size));
        out += &format!("    max storage bind  {}\n", mib(a.max_storage_binding));
        out += &format!("    offset alignment  {} B\n", a.storage_offset_alignment);
        out += &format!("    workgroup memory  {} KiB\n", a.workgroup_memory / 1024);
        out += &format!(
            "    f16 {}  subgroups {}  timestamps {}  cooperative matrix {}\n",
            yes(a.f16),
            yes(a.subgroups),
            yes(a.timestamps),
            yes(a.cooperative_matrix)
        );
    }
    out
}

/// Lists the adapters as text, or as JSON with `json`; with `adapter` (a name substring or backend), only
/// the one wgsd would use. No adapter at all is an error that says how to install a driver.
pub fn report(json: bool, adapter: Option<&str>) -> Result<String> {
    let adapters = match adapter {
        Some(_) => vec![chosen_adapter(adapter)?],
        None => list_adapters(),
    };
    if adapters.is_empty() {
        return Err(Error::NoAdapter(
            "no GPU adapter found. wgsd needs a Vulkan, Metal or DX12 driver; on a Linux machine without a \
             GPU install the software Vulkan driver: `apt-get install mesa-vulkan-drivers`"
                .into(),
        ));
    }
    if json {
        serde_json::to_string_pretty(&adapters).map_err(|e| Error::Invalid(e.to_string()))
    } else {
        Ok(describe(&adapters))
    }
}
