//! One memory-mapped `.safetensors` file.
//!
//! The format (<https://github.com/huggingface/safetensors>): an 8-byte little-endian header length `n`,
//! then `n` bytes of JSON mapping each tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets
//! relative to the first byte after the header, plus an optional `__metadata__` map of strings), then the
//! raw little-endian data.
//!
//! The header is parsed here rather than by the `safetensors` crate so that every defect (a header length
//! past the end of the file, offsets out of range, a byte count that does not match the shape) is reported
//! with the file and the tensor at fault, and none of them can panic.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{Error, Result};

/// Element type of a tensor as stored in a safetensors file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StoredDtype {
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16 (the upper half of a binary32).
    BF16,
    /// Any other dtype the format knows (`I64`, `F64`, `F8_E4M3`, ...), kept by its header name. Such
    /// tensors can be listed but not converted.
    Other(String),
}

impl StoredDtype {
    /// Parses the header's dtype string.
    pub fn from_header(name: &str) -> Self {
        match name {
            "F32" => StoredDtype::F32,
            "F16" => StoredDtype::F16,
            "BF16" => StoredDtype::BF16,
            other => StoredDtype::Other(other.to_string()),
        }
    }

    /// The header's spelling (`"F32"`, `"BF16"`, `"I64"`, ...).
    pub fn name(&self) -> &str {
        match self {
            StoredDtype::F32 => "F32",
            StoredDtype::F16 => "F16",
            StoredDtype::BF16 => "BF16",
            StoredDtype::Other(name) => name,
        }
    }

    /// Bytes per element, where the format defines a whole number of them (`None` for sub-byte types
    /// such as `F4` and for names this crate does not know).
    pub fn size(&self) -> Option<usize> {
        match self {
            StoredDtype::F32 => Some(4),
            StoredDtype::F16 | StoredDtype::BF16 => Some(2),
            StoredDtype::Other(name) => match name.as_str() {
                "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => Some(1),
                "I16" | "U16" => Some(2),
                "I32" | "U32" => Some(4),
                "I64" | "U64" | "F64" | "C64" => Some(8),
                _ => None,
            },
        }
    }

    /// Whether tensors of this dtype can be converted to a run precision (F32, F16 and BF16 can).
    pub fn is_supported(&self) -> bool {
        !matches!(self, StoredDtype::Other(_))
    }
}

impl std::fmt::Display for StoredDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A tensor's header entry, with its data range made absolute within the mapped file.
#[derive(Clone, Debug)]
struct RawTensor {
    dtype: StoredDtype,
    shape: Vec<usize>,
    /// Byte range in the mapped file (header included, so it indexes `map` directly).
    start: usize,
    end: usize,
}

/// One header entry as written in the JSON.
#[derive(serde::Deserialize)]
struct HeaderEntry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// A memory-mapped safetensors file with its parsed, validated header.
///
/// The data is never copied: [`SafetensorsFile::tensor`] returns a view that borrows the map.
pub struct SafetensorsFile {
    path: PathBuf,
    /// The whole file, mapped read-only.
    map: Mmap,
    tensors: BTreeMap<String, RawTensor>,
    metadata: BTreeMap<String, String>,
}

impl std::fmt::Debug for SafetensorsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafetensorsFile")
            .field("path", &self.path)
            .field("bytes", &self.map.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

/// The length field that starts every safetensors file.
const HEADER_LEN_BYTES: usize = 8;

impl SafetensorsFile {
    /// Maps `path` and validates its header: the header length against the file size, the JSON, each
    /// entry's dtype/shape/offsets, and that each tensor's byte count matches its shape and lies inside
    /// the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        if len < HEADER_LEN_BYTES as u64 {
            return Err(Error::format(
                &path,
                format!(
                    "file is {len} bytes, too short for a safetensors file (an {HEADER_LEN_BYTES}-byte header length comes first); truncated?"
                ),
            ));
        }
        // SAFETY: the map is read-only and lives as long as `self`. Like every loader that maps weights,
        // this assumes nobody truncates or rewrites the file while it is open; the header checks below
        // only protect against files that are malformed when they are opened.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
        let (tensors, metadata) = parse_header(&map, &path)?;
        Ok(SafetensorsFile {
            path,
            map,
            tensors,
            metadata,
        })
    }

    /// The file this was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of tensors in the header.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the header lists no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Tensor names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Whether the header lists `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The `__metadata__` map of the header (empty when absent).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// A view of the tensor `name`, borrowing the mapped bytes.
    pub fn tensor(&self, name: &str) -> Option<TensorView<'_>> {
        let (name, raw) = self.tensors.get_key_value(name)?;
        Some(TensorView {
            name,
            dtype: &raw.dtype,
            shape: &raw.shape,
            data: &self.map[raw.start..raw.end],
            path: &self.path,
        })
    }

    /// The stored shape of `name`.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|raw| raw.shape.as_slice())
    }
}

/// Parses and validates the header of a mapped file.
type ParsedHeader = (BTreeMap<String, RawTensor>, BTreeMap<String, String>);

fn parse_header(bytes: &[u8], path: &Path) -> Result<ParsedHeader> {
    let file_len = bytes.len();
    let mut len_bytes = [0u8; HEADER_LEN_BYTES];
    len_bytes.copy_from_slice(&bytes[..HEADER_LEN_BYTES]);
    let header_len = u64::from_le_bytes(len_bytes);
    let available = (file_len - HEADER_LEN_BYTES) as u64;
    if header_len > available {
        return Err(Error::format(
            path,
            format!(
                "safetensors header length {header_len} is larger than the rest of the file ({available} bytes): truncated or not a safetensors file"
            ),
        ));
    }
    let data_start = HEADER_LEN_BYTES + header_len as usize;
    let header = &bytes[HEADER_LEN_BYTES..data_start];
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(header).map_err(|e| {
            Error::format(
                path,
                format!("safetensors header is not a JSON object: {e}"),
            )
        })?;
    let data_len = file_len - data_start;

    let mut tensors = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    for (name, value) in json {
        if name == "__metadata__" {
            // Metadata is informative only: keep the string values, ignore anything else.
            if let serde_json::Value::Object(map) = value {
                for (k, v) in map {
                    if let serde_json::Value::String(s) = v {
                        metadata.insert(k, s);
                    }
                }
            }
            continue;
        }
        let entry: HeaderEntry = serde_json::from_value(value).map_err(|e| {
            Error::format(
                path,
                format!("safetensors header entry for tensor `{name}` is malformed: {e}"),
            )
        })?;
        let dtype = StoredDtype::from_header(&entry.dtype);
        let [begin, end] = entry.data_offsets;
        if begin > end || end > data_len {
            return Err(Error::format(
                path,
                format!(
                    "tensor `{name}`: data offsets [{begin}, {end}] are out of range (the data section is {data_len} bytes): truncated file?"
                ),
            ));
        }
        if let Some(size) = dtype.size() {
            let expected = entry
                .shape
                .iter()
                .try_fold(size, |acc, &d| acc.checked_mul(d));
            if expected != Some(end - begin) {
                return Err(Error::format(
                    path,
                    format!(
                        "tensor `{name}`: {dtype} shape {:?} needs {} bytes but its data offsets [{begin}, {end}] hold {}",
                        entry.shape,
                        expected.map_or_else(|| "too many".to_string(), |n| n.to_string()),
                        end - begin
                    ),
                ));
            }
        }
        tensors.insert(
            name,
            RawTensor {
                dtype,
                shape: entry.shape,
                start: data_start + begin,
                end: data_start + end,
            },
        );
    }
    Ok((tensors, metadata))
}

/// A borrowed view of one tensor: its dtype, shape and raw little-endian bytes inside a mapped file.
///
/// Views of mapped checkpoints (see [`crate::weights::Weights`]) carry the diffusers name and shape;
/// their bytes are still a range of the source file.
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    pub(crate) name: &'a str,
    pub(crate) dtype: &'a StoredDtype,
    pub(crate) shape: &'a [usize],
    pub(crate) data: &'a [u8],
    pub(crate) path: &'a Path,
}

impl<'a> TensorView<'a> {
    /// The tensor's name (for mapped checkpoints: the diffusers name).
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The stored element type.
    pub fn dtype(&self) -> &'a StoredDtype {
        self.dtype
    }

    /// The shape (for mapped checkpoints: the diffusers shape).
    pub fn shape(&self) -> &'a [usize] {
        self.shape
    }

    /// The raw little-endian bytes, borrowed from the mapped file.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The file the bytes live in.
    pub fn path(&self) -> &'a Path {
        self.path
    }

    /// Number of elements (the product of the shape).
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}
