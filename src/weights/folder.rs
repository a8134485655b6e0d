//! The diffusers folder layout: `model_index.json`, then one folder per component (`unet/`, `vae/`,
//! `text_encoder/`, `tokenizer/`, `scheduler/`) with its config and weights.
//!
//! Weight files looked for, in order, for a stem `S` (`diffusion_pytorch_model` or `model`) and a
//! variant `V` (e.g. `fp16`, as diffusers' `variant=` argument names it):
//! - `S.safetensors`, then the sharded `S.safetensors.index.json`;
//! - `S.V.safetensors`, then `S.safetensors.index.V.json` (diffusers' spelling) or
//!   `S.V.safetensors.index.json`.
//!
//! [`DiffusersFolder::weights`] prefers the plain names and falls back to the `fp16` variant;
//! [`DiffusersFolder::weights_with_variant`] prefers the given variant.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::weights::{Component, Weights};

/// A diffusers pipeline folder.
#[derive(Clone, Debug)]
pub struct DiffusersFolder {
    root: PathBuf,
    /// The raw text of `model_index.json` (validated as a JSON object).
    model_index: String,
}

/// The variant tried when the plain weight names are absent.
const FALLBACK_VARIANT: &str = "fp16";

impl DiffusersFolder {
    /// Opens `root`, which must hold a `model_index.json` that is a JSON object.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let index_path = root.join("model_index.json");
        if !index_path.is_file() {
            return Err(Error::format(
                &index_path,
                if root.is_dir() {
                    "missing: not a diffusers folder (no model_index.json)"
                } else {
                    "missing: the model folder does not exist"
                },
            ));
        }
        let model_index =
            std::fs::read_to_string(&index_path).map_err(|e| Error::io(&index_path, e))?;
        match serde_json::from_str::<serde_json::Value>(&model_index) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => return Err(Error::format(&index_path, "not a JSON object")),
            Err(e) => return Err(Error::format(&index_path, format!("invalid JSON: {e}"))),
        }
        Ok(DiffusersFolder { root, model_index })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The raw text of `model_index.json`.
    pub fn model_index_json(&self) -> &str {
        &self.model_index
    }

    /// The component's folder; an error naming it when it does not exist.
    pub fn component_dir(&self, component: Component) -> Result<PathBuf> {
        let dir = self.root.join(component.dir_name());
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(Error::format(
                &dir,
                format!("missing: the diffusers folder has no `{component}` component"),
            ))
        }
    }

    /// The component's config file (`config.json`, or `scheduler_config.json` / `tokenizer_config.json`);
    /// an error naming it when it does not exist.
    pub fn config_path(&self, component: Component) -> Result<PathBuf> {
        let path = self.component_dir(component)?.join(component.config_file());
        if path.is_file() {
            Ok(path)
        } else {
            Err(Error::format(
                &path,
                format!("missing: the `{component}` component has no config"),
            ))
        }
    }

    /// The raw JSON text of the component's config (parsed by [`crate::models`]).
    pub fn config_json(&self, component: Component) -> Result<String> {
        let path = self.config_path(component)?;
        std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))
    }

    /// The component's weights: plain names first, then the `fp16` variant.
    pub fn weights(&self, component: Component) -> Result<Weights> {
        self.load(component, None)
    }

    /// The component's weights, preferring `variant` (e.g. `"fp16"`) and falling back to the plain names.
    pub fn weights_with_variant(&self, component: Component, variant: &str) -> Result<Weights> {
        self.load(component, Some(variant))
    }

    /// The weight file (or sharded index) to open for `component`, and whether it is an index: with
    /// `variant: None` the one [`DiffusersFolder::weights`] opens, with `Some(v)` the one
    /// [`DiffusersFolder::weights_with_variant`] opens. The error lists every name tried.
    pub fn weights_path(
        &self,
        component: Component,
        variant: Option<&str>,
    ) -> Result<(PathBuf, bool)> {
        let Some(stem) = component.weights_stem() else {
            return Err(Error::Invalid(format!(
                "the `{component}` component has no weights"
            )));
        };
        let dir = self.component_dir(component)?;
        let plain = [
            (format!("{stem}.safetensors"), false),
            (format!("{stem}.safetensors.index.json"), true),
        ];
        let with_variant = |v: &str| {
            [
                (format!("{stem}.{v}.safetensors"), false),
                (format!("{stem}.safetensors.index.{v}.json"), true),
                (format!("{stem}.{v}.safetensors.index.json"), true),
            ]
        };
        let candidates: Vec<(String, bool)> = match variant {
            Some(v) => with_variant(v).into_iter().chain(plain).collect(),
            None => plain
                .into_iter()
                .chain(with_variant(FALLBACK_VARIANT))
                .collect(),
        };
        for (name, is_index) in &candidates {
            let path = dir.join(name);
            if path.is_file() {
                return Ok((path, *is_index));
            }
        }
        let tried: Vec<&str> = candidates.iter().map(|(n, _)| n.as_str()).collect();
        let pickle = [format!("{stem}.bin"), format!("{stem}.ckpt")]
            .into_iter()
            .find(|n| dir.join(n).is_file());
        let hint = match pickle {
            Some(name) => format!(
                "; found {name}, a PyTorch pickle, which is not supported (convert it to safetensors)"
            ),
            None => String::new(),
        };
        Err(Error::format(
            &dir,
            format!(
                "missing: no safetensors weights for `{component}` (looked for {}){hint}",
                tried.join(", ")
            ),
        ))
    }

    fn load(&self, component: Component, variant: Option<&str>) -> Result<Weights> {
        let (path, is_index) = self.weights_path(component, variant)?;
        if is_index {
            Weights::from_index(component, &path)
        } else {
            Weights::from_file(component, &path)
        }
    }
}
