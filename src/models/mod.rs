//! Architecture graphs built from diffusers/transformers configs, with no weights: one file per diffusers
//! module, one struct per diffusers class, weights named by their checkpoint keys.

pub mod clip;
pub mod config;
pub mod nn;
pub mod pipeline_graph;
pub mod resnet;
pub mod transformer;
pub mod unet;
pub mod unet_blocks;
pub mod vae;

pub use clip::ClipTextModel;
pub use config::{ClipTextConfig, PerBlock, PipelineConfig, UNetConfig, VaeConfig};
pub use pipeline_graph::{pipeline_graph, RunShape};
pub use unet::UNet2DConditionModel;
pub use vae::AutoencoderKL;
