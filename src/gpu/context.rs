//! The GPU context: adapter choice, device, queue, and the pipeline cache. Built once per process (or
//! handed in by a host application that owns its own device).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::graph::DType;

use super::shaders::Shader;

/// How to pick and open a device.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Adapter to use: a backend name (`vulkan`, `metal`, `dx12`, `gl`) or a substring of the adapter
    /// name, case-insensitive. `None` reads `WGSD_ADAPTER`, then picks Vulkan first, then anything.
    pub adapter: Option<String>,
    /// Keep a pipeline cache on disk (Vulkan only). On by default in [`Gpu::new`].
    pub disable_disk_cache: bool,
}

/// What `wgsd devices` shows about one adapter.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterSummary {
    /// Adapter name, as the driver reports it.
    pub name: String,
    /// `Vulkan`, `Metal`, `Dx12`, `Gl`.
    pub backend: String,
    /// Discrete, integrated, virtual, CPU.
    pub device_type: String,
    /// Driver name and version.
    pub driver: String,
    /// `max_buffer_size`.
    pub max_buffer_size: u64,
    /// `max_storage_buffer_binding_size`.
    pub max_storage_binding: u64,
    /// `min_storage_buffer_offset_alignment`.
    pub storage_offset_alignment: u32,
    /// `max_compute_workgroup_storage_size`.
    pub workgroup_memory: u32,
    /// `SHADER_F16`.
    pub f16: bool,
    /// `SUBGROUP`.
    pub subgroups: bool,
    /// `TIMESTAMP_QUERY`.
    pub timestamps: bool,
    /// `EXPERIMENTAL_COOPERATIVE_MATRIX`.
    pub cooperative_matrix: bool,
}

impl AdapterSummary {
    fn of(adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        let limits = adapter.limits();
        let features = adapter.features();
        AdapterSummary {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            max_buffer_size: limits.max_buffer_size,
            max_storage_binding: limits.max_storage_buffer_binding_size,
            storage_offset_alignment: limits.min_storage_buffer_offset_alignment,
            workgroup_memory: limits.max_compute_workgroup_storage_size,
            f16: features.contains(wgpu::Features::SHADER_F16),
            subgroups: features.contains(wgpu::Features::SUBGROUP),
            timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            cooperative_matrix: features.contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX),
        }
    }
}

/// Device memory as wgpu's allocator reports it (needs wgpu's `counters` feature, which wgsd enables).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemoryReport {
    /// Bytes in live allocations.
    pub allocated: u64,
    /// Bytes the allocator reserved from the driver, free space in blocks included. Budgets bound this.
    pub reserved: u64,
}

/// The adapter features wgsd can use, resolved once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// f16 storage in shaders.
    pub f16: bool,
    /// Subgroup operations in compute shaders.
    pub subgroups: bool,
    /// GPU timestamps around passes.
    pub timestamps: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PipelineKey {
    shader: &'static str,
    entry: &'static str,
    elem: DType,
    constants: Vec<(&'static str, u64)>,
}

/// The GPU: one device and queue, the features and limits that were granted, and every compute pipeline
/// built so far. All wgpu plumbing lives here.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    caps: Capabilities,
    pipelines: Mutex<HashMap<PipelineKey, wgpu::ComputePipeline>>,
    disk_cache: Option<(wgpu::PipelineCache, PathBuf)>,
}

const NO_ADAPTER_HELP: &str = "no GPU adapter found. wgsd needs a Vulkan, Metal or DX12 driver; on a \
Linux machine without a GPU install the software Vulkan driver: `apt-get install mesa-vulkan-drivers`";

/// Lists every adapter of every backend compiled in.
pub fn list_adapters() -> Vec<AdapterSummary> {
    let instance = instance();
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .map(AdapterSummary::of)
        .collect()
}

/// The adapter [`Gpu::new`] would pick for `wanted` (or `WGSD_ADAPTER`, or the default order).
pub fn chosen_adapter(wanted: Option<&str>) -> Result<AdapterSummary> {
    let env = std::env::var("WGSD_ADAPTER").ok().filter(|s| !s.is_empty());
    let adapter = choose_adapter(&instance(), wanted.or(env.as_deref()))?;
    Ok(AdapterSummary::of(&adapter))
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

fn backend_rank(backend: wgpu::Backend) -> u32 {
    match backend {
        wgpu::Backend::Vulkan => 0,
        wgpu::Backend::Metal | wgpu::Backend::Dx12 => 1,
        wgpu::Backend::Gl => 2,
        _ => 3,
    }
}

fn choose_adapter(instance: &wgpu::Instance, wanted: Option<&str>) -> Result<wgpu::Adapter> {
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    if adapters.is_empty() {
        return Err(Error::NoAdapter(NO_ADAPTER_HELP.to_string()));
    }
    let mut candidates: Vec<wgpu::Adapter> = match wanted {
        None => adapters,
        Some(w) => {
            let w = w.to_lowercase();
            let names: Vec<String> = adapters
                .iter()
                .map(|a| {
                    let i = a.get_info();
                    format!("{} ({:?})", i.name, i.backend)
                })
                .collect();
            let hits: Vec<wgpu::Adapter> = adapters
                .into_iter()
                .filter(|a| {
                    let i = a.get_info();
                    format!("{:?}", i.backend).to_lowercase() == w
                        || i.name.to_lowercase().contains(&w)
                })
                .collect();
            if hits.is_empty() {
                return Err(Error::NoAdapter(format!(
                    "no adapter matches '{w}'; available: {}",
                    names.join(", ")
                )));
            }
            hits
        }
    };
    // Vulkan first, then a real GPU before a software one.
    candidates.sort_by_key(|a| {
        let i = a.get_info();
        let software = matches!(
            i.device_type,
            wgpu::DeviceType::Cpu | wgpu::DeviceType::Other
        );
        (backend_rank(i.backend), software as u32)
    });
    Ok(candidates.swap_remove(0))
}

impl Gpu {
    /// Picks an adapter (see [`GpuOptions::adapter`]) and opens a device with the adapter's own limits
    /// and every optional feature wgsd can use.
    pub fn new(options: &GpuOptions) -> Result<Gpu> {
        let instance = instance();
        let env = std::env::var("WGSD_ADAPTER").ok().filter(|s| !s.is_empty());
        let wanted = options.adapter.as_deref().or(env.as_deref());
        let adapter = choose_adapter(&instance, wanted)?;
        let wanted_features = wgpu::Features::SHADER_F16
            | wgpu::Features::SUBGROUP
            | wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES
            | wgpu::Features::PIPELINE_CACHE;
        let features = adapter.features() & wanted_features;
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("wgsd"),
            required_features: features,
            required_limits: adapter.limits(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            // Small blocks, dedicated memory for large buffers: reserved ≈ allocated, so a budget
            // measured by the allocator report is not eaten by block rounding.
            memory_hints: wgpu::MemoryHints::Manual {
                suballocated_device_memory_block_size: 0..0,
            },
            trace: wgpu::Trace::Off,
        };
        let (device, queue) =
            pollster::block_on(adapter.request_device(&descriptor)).map_err(|e| {
                Error::Device(format!("could not open {}: {e}", adapter.get_info().name))
            })?;
        let mut gpu = Gpu::from_device(&adapter, device, queue);
        if !options.disable_disk_cache {
            gpu.open_disk_cache(&adapter);
        }
        Ok(gpu)
    }

    /// Wraps a device the host application already opened (a game engine sharing its device). wgsd uses
    /// only the features and limits that device was created with.
    pub fn from_device(adapter: &wgpu::Adapter, device: wgpu::Device, queue: wgpu::Queue) -> Gpu {
        let features = device.features();
        let caps = Capabilities {
            f16: features.contains(wgpu::Features::SHADER_F16),
            subgroups: features.contains(wgpu::Features::SUBGROUP),
            timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
        };
        Gpu {
            limits: device.limits(),
            device,
            queue,
            info: adapter.get_info(),
            caps,
            pipelines: Mutex::new(HashMap::new()),
            disk_cache: None,
        }
    }

    fn open_disk_cache(&mut self, adapter: &wgpu::Adapter) {
        if !self
            .device
            .features()
            .contains(wgpu::Features::PIPELINE_CACHE)
        {
            return;
        }
        let (Some(dir), Some(key)) = (
            dirs::cache_dir(),
            wgpu::util::pipeline_cache_key(&adapter.get_info()),
        ) else {
            return;
        };
        let path = dir.join("wgsd").join(key);
        let data = std::fs::read(&path).ok();
        // SAFETY: the data was written by `save_pipeline_cache` for an adapter with the same cache key;
        // `fallback: true` makes the driver ignore data it cannot use.
        let cache = unsafe {
            self.device
                .create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                    label: Some("wgsd pipeline cache"),
                    data: data.as_deref(),
                    fallback: true,
                })
        };
        self.disk_cache = Some((cache, path));
    }

    /// Writes the pipeline cache to disk (atomically), so the next run skips shader compilation. Errors
    /// are ignored: the cache is an optimisation.
    pub fn save_pipeline_cache(&self) {
        let Some((cache, path)) = &self.disk_cache else {
            return;
        };
        let (Some(data), Some(dir)) = (cache.get_data(), path.parent()) else {
            return;
        };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, data).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }

    /// The device.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// The device's limits (the adapter's own, as requested).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// The optional features that were granted.
    pub fn caps(&self) -> Capabilities {
        self.caps
    }

    /// Adapter name and backend, for reports.
    pub fn adapter_name(&self) -> String {
        format!("{} ({:?})", self.info.name, self.info.backend)
    }

    /// Adapter information.
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// True for software adapters (lavapipe, WARP), whose best kernels differ from a real GPU's.
    pub fn is_software(&self) -> bool {
        matches!(self.info.device_type, wgpu::DeviceType::Cpu)
    }

    /// Device memory by wgpu's allocator report, or `None` where the backend does not report.
    pub fn memory(&self) -> Option<MemoryReport> {
        self.device
            .generate_allocator_report()
            .map(|r| MemoryReport {
                allocated: r.total_allocated_bytes,
                reserved: r.total_reserved_bytes,
            })
    }

    /// Checks that the device can store `dtype`, with a clear error where f16 is missing.
    pub fn check_dtype(&self, dtype: DType) -> Result<()> {
        if dtype == DType::F16 && !self.caps.f16 {
            return Err(Error::Invalid(format!(
                "{} has no SHADER_F16 feature: use --precision f32",
                self.adapter_name()
            )));
        }
        Ok(())
    }

    /// The compute pipeline for `entry` of `shader` with storage element type `elem`, built on first use
    /// and cached. `constants` are WGSL `override` values (integers).
    pub fn pipeline(
        &self,
        shader: &Shader,
        entry: &'static str,
        elem: DType,
        constants: &[(&'static str, u64)],
    ) -> Result<wgpu::ComputePipeline> {
        let key = PipelineKey {
            shader: shader.name,
            entry,
            elem,
            constants: constants.to_vec(),
        };
        let mut pipelines = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = pipelines.get(&key) {
            return Ok(p.clone());
        }
        if shader.needs_subgroups && !self.caps.subgroups {
            return Err(Error::Device(format!(
                "shader {} needs subgroup operations, which {} lacks",
                shader.name,
                self.adapter_name()
            )));
        }
        self.check_dtype(elem)?;
        let source = shader.source(elem);
        // Validate with naga first: its message names the line, where the driver's would not.
        shader.validate(elem)?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(shader.name),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
        let constants_f64: Vec<(&str, f64)> =
            constants.iter().map(|&(k, v)| (k, v as f64)).collect();
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants_f64,
                    zero_initialize_workgroup_memory: false,
                },
                cache: self.disk_cache.as_ref().map(|(c, _)| c),
            });
        if let Some(err) = pollster::block_on(scope.pop()) {
            return Err(Error::Device(format!(
                "the device could not compile shader {} entry {entry} ({elem:?}): {err}",
                shader.name
            )));
        }
        pipelines.insert(key, pipeline.clone());
        Ok(pipeline)
    }

    /// Number of distinct pipelines built so far.
    pub fn pipeline_count(&self) -> usize {
        self.pipelines.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// Blocks until all submitted work has finished.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .map(|_| ())
            .map_err(|e| Error::Device(format!("waiting for the GPU failed: {e}")))
    }
}

impl Drop for Gpu {
    fn drop(&mut self) {
        self.save_pipeline_cache();
    }
}
