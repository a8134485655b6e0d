//! Weight loading: diffusers folders, single and sharded safetensors, and the original single-file LDM
//! checkpoints of SD1.x/2.x, mapped onto diffusers names so that one graph serves both.
//!
//! - [`SafetensorsFile`] memory-maps one file and validates its header; [`TensorView`]s borrow the map.
//! - [`Weights`] is one component (U-Net, VAE, text encoder) under diffusers names, from one file, a
//!   sharded index or an LDM mapping; [`Weights::validate`] checks it against the `(name, shape)` list a
//!   graph needs before any GPU work, and [`Weights::write_converted`] writes f32 or f16 straight into a
//!   caller's staging buffer.
//! - [`DiffusersFolder`] finds components, configs and weight files in a diffusers folder.
//! - [`LdmCheckpoint`] detects SD1 vs SD2 from tensor shapes and maps LDM keys onto diffusers names.
//!
//! Pure CPU code: nothing here touches wgpu.
//!
//! # Example usage
//! ```no_run
//! use wgsd::graph::DType;
//! use wgsd::weights::{Component, DiffusersFolder, TensorSpec};
//!
//! # fn main() -> wgsd::Result<()> {
//! let folder = DiffusersFolder::open("models/sd15")?;
//! let unet_config: String = folder.config_json(Component::Unet)?; // parsed by crate::models
//! let unet = folder.weights(Component::Unet)?;
//! let needed = vec![TensorSpec::new("conv_in.weight", [320, 4, 3, 3])];
//! let report = unet.validate(&needed)?;
//! if let Some(warning) = report.unused_warning(5) {
//!     eprintln!("warning: {warning}");
//! }
//! let view = unet.tensor("conv_in.weight")?;
//! let mut staging = vec![0u8; view.numel() * 2];
//! unet.write_converted("conv_in.weight", DType::F16, &mut staging)?;
//! # let _ = unet_config;
//! # Ok(())
//! # }
//! ```

pub mod convert;
mod folder;
mod ldm;
mod safetensors_file;
mod store;

use std::path::Path;

pub use folder::DiffusersFolder;
pub use ldm::{Arch, LdmCheckpoint, LdmInfo, PredictionType, TextDims, UNetDims, VaeDims};
pub use safetensors_file::{SafetensorsFile, StoredDtype, TensorView};
pub use store::{Mapping, SourceRef, Validation, Weights};

use crate::error::{Error, Result};

/// A component folder of a diffusers pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// `unet/`: `UNet2DConditionModel`.
    Unet,
    /// `vae/`: `AutoencoderKL`.
    Vae,
    /// `text_encoder/`: `CLIPTextModel`.
    TextEncoder,
    /// `tokenizer/`: `CLIPTokenizer` (no weights).
    Tokenizer,
    /// `scheduler/` (no weights).
    Scheduler,
}

impl Component {
    /// The folder name diffusers uses.
    pub const fn dir_name(self) -> &'static str {
        match self {
            Component::Unet => "unet",
            Component::Vae => "vae",
            Component::TextEncoder => "text_encoder",
            Component::Tokenizer => "tokenizer",
            Component::Scheduler => "scheduler",
        }
    }

    /// The config file inside the component folder.
    pub const fn config_file(self) -> &'static str {
        match self {
            Component::Unet | Component::Vae | Component::TextEncoder => "config.json",
            Component::Tokenizer => "tokenizer_config.json",
            Component::Scheduler => "scheduler_config.json",
        }
    }

    /// The weight file stem (`diffusion_pytorch_model` for diffusers models, `model` for transformers
    /// ones), or `None` for components without weights.
    pub const fn weights_stem(self) -> Option<&'static str> {
        match self {
            Component::Unet | Component::Vae => Some("diffusion_pytorch_model"),
            Component::TextEncoder => Some("model"),
            Component::Tokenizer | Component::Scheduler => None,
        }
    }

    /// A name prefix that this component's tensor names may carry or not: published SD folders write
    /// the text encoder's keys as `text_model.*`, transformers 5's `save_pretrained` without the prefix.
    pub(crate) const fn optional_prefix(self) -> Option<&'static str> {
        match self {
            Component::TextEncoder => Some("text_model."),
            _ => None,
        }
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.dir_name())
    }
}

/// A tensor a graph needs: its diffusers name and shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorSpec {
    /// Diffusers name, e.g. `down_blocks.0.resnets.0.conv1.weight`.
    pub name: String,
    /// Expected shape, e.g. `[320, 320, 3, 3]`.
    pub shape: Vec<usize>,
}

impl TensorSpec {
    /// A spec from a name and a shape.
    pub fn new(name: impl Into<String>, shape: impl Into<Vec<usize>>) -> Self {
        TensorSpec {
            name: name.into(),
            shape: shape.into(),
        }
    }

    /// Parses a name list: one `name<TAB>comma-separated shape` per line (an empty shape is a scalar);
    /// blank lines and lines starting with `#` are skipped. `path` names the source in errors.
    pub fn parse_list(text: &str, path: &Path) -> Result<Vec<TensorSpec>> {
        let mut specs = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| Error::format(path, format!("line {}: {why}", number + 1));
            let (name, shape) = line
                .split_once('\t')
                .ok_or_else(|| bad("expected `name<TAB>shape`"))?;
            let shape = if shape.trim().is_empty() {
                Vec::new()
            } else {
                shape
                    .split(',')
                    .map(|d| d.trim().parse::<usize>())
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| bad(&format!("bad shape `{shape}`: {e}")))?
            };
            specs.push(TensorSpec::new(name, shape));
        }
        Ok(specs)
    }

    /// Reads and parses a name list file (see [`TensorSpec::parse_list`]).
    pub fn read_list(path: impl AsRef<Path>) -> Result<Vec<TensorSpec>> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        TensorSpec::parse_list(&text, path)
    }
}
