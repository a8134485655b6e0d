//! wgsd: Stable Diffusion in hand-written WGSL compute shaders on wgpu, inside a statically planned
//! memory budget.
//!
//! ```text
//!  main.rs        argument parsing only
//!     │
//!  models         CLIPTextModel, UNet2DConditionModel, AutoencoderKL: config.json → Graph
//!     │           (weights, tokenizer, scheduler feed them)
//!  graph          tensors (shape, dtype, role) and a closed Op enum, in execution order, in phases
//!     │      ╲
//!  planner    gpu            planner: pure CPU, owns no memory (liveness + limits → offsets)
//!             │              gpu: the only wgpu user (device, kernels, executor)
//!          shaders/*.wgsl    one file per kernel family; src/cpu/ holds their references
//! ```
//!
//! A tensor is built by a model through [`graph::GraphBuilder`], gets a lifetime from
//! [`graph::liveness`], an offset from [`planner::plan_graph`], a [`gpu::TensorView`] and a
//! [`gpu::kernels::Dispatch`] from [`gpu::Executor::new`], and is overwritten by the next tensor the plan
//! puts there when [`gpu::Executor::run`] replays the step. See `docs/ARCHITECTURE.md`.
//!
//! # Example usage
//!
//! Plan SD1.5 at 512² in f16 without any weights or GPU:
//!
//! ```
//! use wgsd::graph::{liveness, DType, GraphOptions};
//! use wgsd::models::config::PipelineConfig;
//! use wgsd::models::pipeline_graph::{pipeline_graph, RunShape};
//! use wgsd::planner::{plan_graph, Limits, Options};
//!
//! let config = PipelineConfig::sd_v1_5();
//! let run = RunShape { width: 512, height: 512, batch: 2 };
//! let graph = pipeline_graph(&config, &run, GraphOptions { dtype: DType::F16, ..Default::default() })?;
//! let limits = Limits { alignment: 256, max_buffer_size: 1 << 31, max_binding_size: u64::MAX };
//! let plan = plan_graph(&graph, &[], &limits, &Options::default())?;
//! let load = liveness::load(&liveness::intervals(&graph), 256);
//! assert!(plan.activation_plan.load >= load); // inputs live from the start of their phase
//! assert!(plan.activation_plan.arena() < 400 << 20); // the VAE decoder's 320 MiB dominates
//! # Ok::<(), wgsd::Error>(())
//! ```

pub mod cpu;
pub mod devices;
pub mod error;
pub mod gpu;
pub mod graph;
pub mod image_io;
pub mod models;
pub mod npy;
pub mod plan_cmd;
pub mod planner;
pub mod scheduler;
pub mod size;
pub mod timeline;
pub mod tokenizer;
pub mod weights;

pub use error::{Error, Result};
