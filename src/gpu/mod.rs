//! The GPU layer: the only module that imports wgpu.
//!
//! - [`Gpu`] opens (or adopts) a device and builds and caches compute pipelines.
//! - [`TensorView`] is a tensor on the device: a window (buffer, offset, length) of a shared buffer.
//! - [`kernels`] turns views and shapes into [`kernels::Dispatch`]es, built once and replayed.

mod context;
mod executor;
pub mod kernels;
mod profile;
pub mod shaders;
mod tensor;

pub use context::{
    chosen_adapter, list_adapters, AdapterSummary, Capabilities, Gpu, GpuOptions, MemoryReport,
};
pub use executor::{Executor, ExecutorMemory, ExecutorOptions, WeightSource};
pub use profile::Profiler;
pub use tensor::{decode, encode, TensorView};
