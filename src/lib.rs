//! wgsd: Stable Diffusion in hand-written WGSL compute shaders on wgpu, inside a statically planned
//! memory budget.

pub mod cpu;
pub mod devices;
pub mod error;
pub mod gpu;
pub mod graph;
pub mod models;
pub mod plan_cmd;
pub mod planner;
pub mod scheduler;
pub mod size;
pub mod timeline;
pub mod tokenizer;
pub mod weights;

pub use error::{Error, Result};
