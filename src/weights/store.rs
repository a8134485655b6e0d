//! [`Weights`]: the tensors of one model component under their diffusers names, as borrowed views into
//! one or more memory-mapped safetensors files.
//!
//! A diffusers folder's component maps each name to itself. A single-file LDM checkpoint maps each
//! diffusers name to a source tensor through a [`Mapping`]: a rename, a reshape (a 1×1 convolution read as
//! a linear layer) or a slice of a fused tensor. Every mapping keeps the data a contiguous byte range of
//! the source, so nothing is copied until [`Weights::write_converted`] writes the run's precision into a
//! caller's buffer.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Component as PathComponent, Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::graph::DType;
use crate::weights::convert;
use crate::weights::safetensors_file::{SafetensorsFile, TensorView};
use crate::weights::{Component, TensorSpec};

/// How a diffusers-named tensor is read from its source tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// The source tensor as it is, possibly under another name.
    Rename,
    /// The same bytes under another shape: a 1×1 convolution `[C_out, C_in, 1, 1]` read as a linear
    /// `[C_out, C_in]` (the LDM VAE's attention `q`/`k`/`v`/`proj_out`).
    Reshape,
    /// Slice `index` of `count` equal slices along dim 0 of a fused tensor (OpenCLIP's `in_proj_weight`
    /// `[3C, C]` and `in_proj_bias` `[3C]`, split into q, k, v).
    Slice {
        /// Which slice (0-based).
        index: usize,
        /// How many equal slices the source holds.
        count: usize,
    },
}

/// One diffusers-named tensor: where its bytes are and the shape they have under that name.
#[derive(Clone, Debug)]
struct Entry {
    /// Index into [`Weights::files`].
    file: usize,
    /// The key in the source file.
    source: String,
    mapping: Mapping,
    /// The shape under the diffusers name.
    shape: Vec<usize>,
    /// Byte range within the source tensor's data.
    bytes: Range<usize>,
}

/// Where a mapped tensor comes from (for diagnostics and tests).
#[derive(Clone, Copy, Debug)]
pub struct SourceRef<'a> {
    /// The file holding the bytes.
    pub path: &'a Path,
    /// The tensor's key in that file.
    pub key: &'a str,
    /// How the source tensor becomes the diffusers one.
    pub mapping: &'a Mapping,
}

/// The outcome of a successful [`Weights::validate`].
#[derive(Clone, Debug, Default)]
pub struct Validation {
    /// Number of required tensors checked.
    pub checked: usize,
    /// Bytes the required tensors take as stored.
    pub stored_bytes: u64,
    /// Tensors present but not required (sorted): a warning, not an error. Examples:
    /// `text_model.embeddings.position_ids`, LDM EMA weights `model_ema.*`, OpenCLIP's `text_projection`.
    pub unused: Vec<String>,
}

impl Validation {
    /// A one-line warning naming the first `limit` unused tensors and the count, or `None` when every
    /// tensor is used.
    pub fn unused_warning(&self, limit: usize) -> Option<String> {
        if self.unused.is_empty() {
            return None;
        }
        Some(format!(
            "{} unused tensor(s): {}",
            self.unused.len(),
            list_first(&self.unused, limit)
        ))
    }
}

/// How many names of each kind of problem a validation error lists before summarising.
const LIST_LIMIT: usize = 8;

/// The tensors of one component under their diffusers names.
#[derive(Debug)]
pub struct Weights {
    component: Component,
    /// The file or index the weights were opened from (the path of errors).
    origin: PathBuf,
    files: Vec<Arc<SafetensorsFile>>,
    entries: BTreeMap<String, Entry>,
    /// A prefix that names may carry or not (`text_model.` for the text encoder): names are stored with
    /// it and looked up with or without it.
    optional_prefix: Option<&'static str>,
    /// Source keys attributed to this component that map to no diffusers name (reported as unused).
    unmapped: Vec<String>,
}

impl Weights {
    /// An empty set for `component`, whose errors name `origin`.
    pub(crate) fn new(component: Component, origin: impl Into<PathBuf>) -> Self {
        Weights {
            component,
            origin: origin.into(),
            files: Vec::new(),
            entries: BTreeMap::new(),
            optional_prefix: component.optional_prefix(),
            unmapped: Vec::new(),
        }
    }

    /// Opens one safetensors file holding every tensor of `component` under its diffusers name.
    pub fn from_file(component: Component, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = Arc::new(SafetensorsFile::open(path)?);
        let mut weights = Weights::new(component, path);
        weights.add_all(file)?;
        Ok(weights)
    }

    /// Opens a sharded checkpoint from its `*.safetensors.index.json` (`{"weight_map": {name: shard}}`);
    /// shards are resolved next to the index. Fails when a shard is missing, when the index names a
    /// tensor its shard lacks, or when two shards hold the same tensor.
    pub fn from_index(component: Component, index_path: impl AsRef<Path>) -> Result<Self> {
        let index_path = index_path.as_ref();
        let text = std::fs::read_to_string(index_path).map_err(|e| Error::io(index_path, e))?;
        let index: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::format(index_path, format!("invalid JSON: {e}")))?;
        let Some(weight_map) = index.get("weight_map").and_then(|m| m.as_object()) else {
            return Err(Error::format(
                index_path,
                "sharded index has no `weight_map` object",
            ));
        };
        let dir = index_path.parent().unwrap_or(Path::new("."));
        let mut by_shard: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, shard) in weight_map {
            let Some(shard) = shard.as_str() else {
                return Err(Error::format(
                    index_path,
                    format!("weight_map entry for `{name}` is not a file name"),
                ));
            };
            let mut parts = Path::new(shard).components();
            if !matches!(
                (parts.next(), parts.next()),
                (Some(PathComponent::Normal(_)), None)
            ) {
                return Err(Error::format(
                    index_path,
                    format!("weight_map entry for `{name}` names `{shard}`, which is not a plain file name in the index's folder"),
                ));
            }
            by_shard.entry(shard).or_default().push(name);
        }
        let mut weights = Weights::new(component, index_path);
        for (shard, names) in by_shard {
            let file = Arc::new(SafetensorsFile::open(dir.join(shard))?);
            if let Some(name) = names.iter().find(|n| !file.contains(n)) {
                return Err(Error::format(
                    index_path,
                    format!(
                        "weight_map puts `{name}` in {shard}, but {} has no such tensor",
                        file.path().display()
                    ),
                ));
            }
            weights.add_all(file)?;
        }
        Ok(weights)
    }

    /// Adds every tensor of `file` under its own name.
    fn add_all(&mut self, file: Arc<SafetensorsFile>) -> Result<()> {
        let index = self.add_file(file);
        let file = Arc::clone(&self.files[index]);
        for name in file.names() {
            self.insert(name, index, name, Mapping::Rename)?;
        }
        Ok(())
    }

    /// Registers a file and returns its index for [`Weights::insert`].
    pub(crate) fn add_file(&mut self, file: Arc<SafetensorsFile>) -> usize {
        self.files.push(file);
        self.files.len() - 1
    }

    /// Records a source key of this component that maps to nothing.
    pub(crate) fn add_unmapped(&mut self, key: &str) {
        self.unmapped.push(key.to_string());
    }

    /// Maps diffusers name `name` to tensor `source` of file `file` through `mapping`.
    pub(crate) fn insert(
        &mut self,
        name: &str,
        file: usize,
        source: &str,
        mapping: Mapping,
    ) -> Result<()> {
        let src_file = &self.files[file];
        let Some(view) = src_file.tensor(source) else {
            return Err(Error::format(
                src_file.path(),
                format!("no tensor `{source}` (needed for `{name}`)"),
            ));
        };
        let stored = view.shape();
        let total = view.data().len();
        let bad = |why: &str| {
            Error::format(
                src_file.path(),
                format!("tensor `{source}` {stored:?} cannot become `{name}`: {why}"),
            )
        };
        let (shape, bytes) = match mapping {
            Mapping::Rename => (stored.to_vec(), 0..total),
            Mapping::Reshape => match stored {
                [o, i, 1, 1] => (vec![*o, *i], 0..total),
                [o, i] => (vec![*o, *i], 0..total),
                _ => return Err(bad("expected a 1×1 convolution [C_out, C_in, 1, 1]")),
            },
            Mapping::Slice { index, count } => {
                let Some((&rows, rest)) = stored.split_first() else {
                    return Err(bad("a scalar cannot be sliced"));
                };
                if count == 0 || index >= count || rows % count != 0 {
                    return Err(bad(&format!(
                        "dim 0 ({rows}) does not split into {count} equal parts"
                    )));
                }
                let part = total / count;
                let mut shape = vec![rows / count];
                shape.extend_from_slice(rest);
                (shape, part * index..part * (index + 1))
            }
        };
        let key = self.canonical(name).into_owned();
        if let Some(previous) = self.entries.get(&key) {
            return Err(Error::format(
                &self.origin,
                format!(
                    "{} tensor `{key}` is given twice: by `{}` in {} and by `{source}` in {}",
                    self.component,
                    previous.source,
                    self.files[previous.file].path().display(),
                    self.files[file].path().display()
                ),
            ));
        }
        self.entries.insert(
            key,
            Entry {
                file,
                source: source.to_string(),
                mapping,
                shape,
                bytes,
            },
        );
        Ok(())
    }

    /// `name` in stored form: with the optional prefix added where it is missing.
    fn canonical<'n>(&self, name: &'n str) -> std::borrow::Cow<'n, str> {
        match self.optional_prefix {
            Some(prefix) if !name.starts_with(prefix) => format!("{prefix}{name}").into(),
            _ => name.into(),
        }
    }

    /// The component these weights belong to.
    pub fn component(&self) -> Component {
        self.component
    }

    /// The file or sharded index they were opened from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// Number of named tensors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no tensor.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Diffusers names, sorted. For the text encoder they carry the `text_model.` prefix, whatever the
    /// file had.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// A view of `name` (for the text encoder, with or without the `text_model.` prefix).
    pub fn get(&self, name: &str) -> Option<TensorView<'_>> {
        let (name, entry) = self.entries.get_key_value(self.canonical(name).as_ref())?;
        let file = &self.files[entry.file];
        let source = file.tensor(&entry.source)?;
        Some(TensorView {
            name,
            dtype: source.dtype,
            shape: &entry.shape,
            data: &source.data[entry.bytes.clone()],
            path: file.path(),
        })
    }

    /// Like [`Weights::get`], with an error naming the component and file when `name` is absent.
    pub fn tensor(&self, name: &str) -> Result<TensorView<'_>> {
        self.get(name).ok_or_else(|| {
            Error::format(
                &self.origin,
                format!("{} has no tensor `{name}`", self.component),
            )
        })
    }

    /// Where `name` comes from: file, source key and mapping.
    pub fn source(&self, name: &str) -> Option<SourceRef<'_>> {
        let entry = self.entries.get(self.canonical(name).as_ref())?;
        Some(SourceRef {
            path: self.files[entry.file].path(),
            key: &entry.source,
            mapping: &entry.mapping,
        })
    }

    /// Converts `name` to `to` straight into `dst`, which must be exactly
    /// `numel × to.size()` bytes (see [`convert::convert_into`]).
    pub fn write_converted(&self, name: &str, to: DType, dst: &mut [u8]) -> Result<()> {
        convert::convert_into(&self.tensor(name)?, to, dst)
    }

    /// Checks, before any GPU work, that every tensor in `required` is present with the right shape and
    /// a supported dtype. All problems are reported in one error (the first few of each kind, and their
    /// counts); on success the report lists the tensors that are present but not required.
    pub fn validate(&self, required: &[TensorSpec]) -> Result<Validation> {
        let mut missing = Vec::new();
        let mut wrong_shape = Vec::new();
        let mut wrong_dtype = Vec::new();
        let mut wanted = BTreeSet::new();
        let mut stored_bytes = 0u64;
        for spec in required {
            let key = self.canonical(&spec.name).into_owned();
            if !wanted.insert(key.clone()) {
                continue;
            }
            let Some(view) = self.get(&key) else {
                missing.push(spec.name.clone());
                continue;
            };
            let from = match self.source(&key) {
                Some(src) if src.key != key => format!(
                    "{} (key `{}`{})",
                    src.path.display(),
                    src.key,
                    match src.mapping {
                        Mapping::Rename => String::new(),
                        Mapping::Reshape => ", reshaped".to_string(),
                        Mapping::Slice { index, count } =>
                            format!(", slice {} of {count} along dim 0", index + 1),
                    }
                ),
                _ => view.path().display().to_string(),
            };
            if view.shape() != spec.shape.as_slice() {
                wrong_shape.push(format!(
                    "`{}`: expected shape {:?}, found {:?} in {from}",
                    spec.name,
                    spec.shape,
                    view.shape()
                ));
            } else if !view.dtype().is_supported() {
                wrong_dtype.push(format!(
                    "`{}`: stored as {} in {from}; only F32, F16 and BF16 weights are supported",
                    spec.name,
                    view.dtype()
                ));
            } else {
                stored_bytes += view.data().len() as u64;
            }
        }
        if missing.is_empty() && wrong_shape.is_empty() && wrong_dtype.is_empty() {
            let mut unused: Vec<String> = self
                .entries
                .keys()
                .filter(|k| !wanted.contains(*k))
                .cloned()
                .chain(self.unmapped.iter().cloned())
                .collect();
            unused.sort();
            return Ok(Validation {
                checked: wanted.len(),
                stored_bytes,
                unused,
            });
        }
        let mut message = format!(
            "{} weights do not match the model ({} required):",
            self.component,
            wanted.len()
        );
        if !missing.is_empty() {
            let files: Vec<String> = self
                .files
                .iter()
                .map(|f| f.path().display().to_string())
                .collect();
            message += &format!(
                "\n  {} missing tensor(s), not in {}: {}",
                missing.len(),
                if files.is_empty() {
                    "any file".to_string()
                } else {
                    files.join(", ")
                },
                list_first(&missing, LIST_LIMIT)
            );
        }
        for (what, problems) in [("wrong shape", &wrong_shape), ("wrong dtype", &wrong_dtype)] {
            if problems.is_empty() {
                continue;
            }
            message += &format!("\n  {} tensor(s) with the {what}:", problems.len());
            for p in problems.iter().take(LIST_LIMIT) {
                message += &format!("\n    {p}");
            }
            if problems.len() > LIST_LIMIT {
                message += &format!("\n    ... and {} more", problems.len() - LIST_LIMIT);
            }
        }
        Err(Error::format(&self.origin, message))
    }
}

/// `a, b, c (and N more)`.
fn list_first(names: &[String], limit: usize) -> String {
    let mut out = names
        .iter()
        .take(limit)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > limit {
        out += &format!(" (and {} more)", names.len() - limit);
    }
    out
}

impl crate::gpu::WeightSource for Weights {
    fn check(&self, required: &[(&str, &[u32])]) -> Result<()> {
        let specs: Vec<TensorSpec> = required
            .iter()
            .map(|(name, shape)| {
                TensorSpec::new(*name, shape.iter().map(|&d| d as usize).collect::<Vec<_>>())
            })
            .collect();
        self.validate(&specs).map(|_| ())
    }

    fn fill(&self, name: &str, shape: &[u32], dtype: DType, dst: &mut [u8]) -> Result<()> {
        let view = self.tensor(name)?;
        if view.shape().len() != shape.len()
            || view
                .shape()
                .iter()
                .zip(shape)
                .any(|(&a, &b)| a != b as usize)
        {
            return Err(crate::Error::Invalid(format!(
                "weight {name} in {} has shape {:?}, the graph expects {shape:?}",
                view.path().display(),
                view.shape()
            )));
        }
        convert::convert_into(&view, dtype, dst)
    }
}
