//! NumPy `.npy` files of floats, for `--noise FILE.npy` (the initial latents of a run) and for dumping
//! tensors to compare with diffusers.
//!
//! The format (numpy `lib/format.py`): the magic `\x93NUMPY`, a version byte pair, the header length
//! (u16 little-endian for v1, u32 for v2 and v3), a header that is a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 64, 64), }` padded with spaces and a `\n`
//! so the data starts at a multiple of 64, then the data in C order.
//!
//! Example usage:
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("noise.npy");
//! wgsd::npy::write_f32(&path, &[1, 2], &[0.5, -1.0])?;
//! assert_eq!(wgsd::npy::read_f32(&path)?, (vec![1, 2], vec![0.5, -1.0]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{Error, Result};
use std::fs;
use std::io::Write;
use std::path::Path;

/// The first six bytes of every `.npy` file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// numpy aligns the start of the data to this many bytes (`ARRAY_ALIGN`).
const ARRAY_ALIGN: usize = 64;

/// numpy leaves room in the header for the first axis to grow to this many digits
/// (`GROWTH_AXIS_MAX_DIGITS`), so that appending rewrites the header in place.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// The element types read; all are little-endian.
#[derive(Clone, Copy, Debug)]
enum DType {
    /// `<f2`, IEEE half.
    F16,
    /// `<f4`.
    F32,
    /// `<f8`.
    F64,
}

impl DType {
    fn size(self) -> usize {
        match self {
            DType::F16 => 2,
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }
}

/// A value of the header dict.
#[derive(Debug)]
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// A recursive-descent reader of the Python literal in a `.npy` header: a dict of string keys whose
/// values are strings, `True`/`False` or tuples of integers.
struct HeaderParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl HeaderParser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }

    /// Consumes `c` (after whitespace) if it is next.
    fn eat(&mut self, c: u8) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.i += 1;
        }
        found
    }

    fn expect(&mut self, c: u8) -> std::result::Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }

    /// A quoted string; a backslash keeps the character after it.
    fn string(&mut self) -> std::result::Result<String, String> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("expected a quoted string at byte {}", self.i)),
        };
        self.i += 1;
        let mut out = Vec::new();
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            if c == quote {
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            if c == b'\\' {
                if let Some(&next) = self.s.get(self.i) {
                    out.push(next);
                    self.i += 1;
                }
            } else {
                out.push(c);
            }
        }
        Err("unterminated string".to_string())
    }

    /// A non-negative integer, with Python 2's optional `L` suffix.
    fn integer(&mut self) -> std::result::Result<usize, String> {
        self.skip_ws();
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default();
        let n = digits
            .parse()
            .map_err(|_| format!("expected a dimension at byte {start}"))?;
        if matches!(self.s.get(self.i), Some(b'L' | b'l')) {
            self.i += 1;
        }
        Ok(n)
    }

    /// `()`, `(5,)`, `(1, 4, 8, 8)`.
    fn tuple(&mut self) -> std::result::Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        while !self.eat(b')') {
            dims.push(self.integer()?);
            if !self.eat(b',') {
                self.expect(b')')?;
                break;
            }
        }
        Ok(dims)
    }

    fn value(&mut self) -> std::result::Result<Value, String> {
        match self.peek() {
            Some(b'\'' | b'"') => Ok(Value::Str(self.string()?)),
            Some(b'(') => Ok(Value::Tuple(self.tuple()?)),
            Some(b'[') => Err("a structured dtype (a list of fields) is not supported".to_string()),
            _ => {
                let rest = &self.s[self.i..];
                for (word, b) in [(&b"True"[..], true), (&b"False"[..], false)] {
                    if rest.starts_with(word) {
                        self.i += word.len();
                        return Ok(Value::Bool(b));
                    }
                }
                Err(format!("unexpected value at byte {}", self.i))
            }
        }
    }

    /// The whole header: one dict, then only whitespace.
    fn dict(&mut self) -> std::result::Result<Vec<(String, Value)>, String> {
        self.expect(b'{')?;
        let mut entries = Vec::new();
        while !self.eat(b'}') {
            let key = self.string()?;
            self.expect(b':')?;
            entries.push((key, self.value()?));
            if !self.eat(b',') {
                self.expect(b'}')?;
                break;
            }
        }
        if self.peek().is_some() {
            return Err(format!("unexpected text after the dict at byte {}", self.i));
        }
        Ok(entries)
    }
}

/// The header's `descr`, `fortran_order` and `shape`.
fn parse_header(header: &[u8]) -> std::result::Result<(String, bool, Vec<usize>), String> {
    let entries = HeaderParser { s: header, i: 0 }.dict()?;
    let find = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let descr = match find("descr") {
        Some(Value::Str(s)) => s.clone(),
        Some(v) => return Err(format!("'descr' is {v:?}, not a string")),
        None => return Err("no 'descr'".to_string()),
    };
    let fortran_order = match find("fortran_order") {
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(format!("'fortran_order' is {v:?}, not True or False")),
        None => return Err("no 'fortran_order'".to_string()),
    };
    let shape = match find("shape") {
        Some(Value::Tuple(t)) => t.clone(),
        Some(v) => return Err(format!("'shape' is {v:?}, not a tuple")),
        None => return Err("no 'shape'".to_string()),
    };
    Ok((descr, fortran_order, shape))
}

/// Reads a `.npy` file (format version 1.0, 2.0 or 3.0) of little-endian floats in C order as its
/// shape and its values.
///
/// - dtype `<f4` is read as is; `<f8` is rounded to the nearest f32 (values beyond f32's range become
///   ±∞) and `<f2` widened exactly, so noise saved in any float precision works.
/// - A shape of `()` is a scalar: one value.
/// - Errors, each naming `path`: a missing or unreadable file, no `\x93NUMPY` magic, an unknown
///   version, a header that does not parse, another dtype (named: "has dtype <i8; expected float32
///   (<f4)…"), big-endian data, `fortran_order: True`, and data shorter or longer than the shape.
pub fn read_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |message: String| Error::format(path, message);

    if bytes.len() < MAGIC.len() + 2 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(bad(
            "not a .npy file (it does not start with \\x93NUMPY)".to_string()
        ));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_start, header_len) = match major {
        1 if bytes.len() >= 10 => (10, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
        2 | 3 if bytes.len() >= 12 => (
            12,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        1..=3 => return Err(bad("truncated in the header length".to_string())),
        _ => {
            return Err(bad(format!(
                "unsupported .npy format version {major}.{minor}"
            )))
        }
    };
    let header_end = header_start + header_len;
    if header_end > bytes.len() {
        return Err(bad(format!(
            "truncated header: it should be {header_len} bytes but the file has {} after the length",
            bytes.len() - header_start
        )));
    }
    let header = &bytes[header_start..header_end];
    let (descr, fortran_order, shape) = parse_header(header).map_err(|e| {
        bad(format!(
            "cannot parse the header {:?}: {e}",
            String::from_utf8_lossy(header).trim_end()
        ))
    })?;

    let dtype = match descr.as_str() {
        "<f4" => DType::F32,
        "<f8" => DType::F64,
        "<f2" => DType::F16,
        other => {
            let endian = if other.starts_with('>') {
                " (big-endian data is not supported)"
            } else {
                ""
            };
            return Err(bad(format!(
                "has dtype {other}; expected float32 (<f4), or float64 (<f8) or float16 (<f2) to be \
                 converted{endian}"
            )));
        }
    };
    if fortran_order {
        return Err(bad(
            "is in Fortran order (fortran_order: True); only C order is supported (save \
             np.ascontiguousarray(x))"
                .to_string(),
        ));
    }
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|n| n.checked_mul(dtype.size()).is_some())
        .ok_or_else(|| bad(format!("shape {shape:?} is too large")))?;
    let nbytes = count * dtype.size();
    let data = &bytes[header_end..];
    if data.len() < nbytes {
        return Err(bad(format!(
            "truncated data: shape {shape:?} of {descr} needs {nbytes} bytes but the file has {}",
            data.len()
        )));
    }
    if data.len() > nbytes {
        return Err(bad(format!(
            "{} bytes after the {nbytes} bytes of data of shape {shape:?}",
            data.len() - nbytes
        )));
    }

    let values = match dtype {
        DType::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        DType::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        DType::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
    };
    Ok((shape, values))
}

/// Python's `repr` of a shape tuple: `()`, `(5,)`, `(1, 4, 2, 3)`.
fn shape_repr(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", dims.join(", "))
        }
    }
}

/// The whole file prefix numpy's `write_array` writes for a C-order `<f4` array (format 1.0): magic,
/// version, header length, `{'descr': '<f4', 'fortran_order': False, 'shape': …, }`, room for the
/// first axis to grow to 21 digits, spaces up to a multiple of 64 bytes and `\n`.
fn header_bytes(shape: &[usize]) -> Option<Vec<u8>> {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}",
        shape_repr(shape)
    );
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        header.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    }
    // numpy: padlen = ARRAY_ALIGN - ((MAGIC_LEN + 2 + hlen) % ARRAY_ALIGN), so an aligned header
    // still gets a full 64 spaces.
    let hlen = header.len() + 1;
    let padlen = ARRAY_ALIGN - ((MAGIC.len() + 2 + 2 + hlen) % ARRAY_ALIGN);
    let total = u16::try_from(hlen + padlen).ok()?;
    let mut out = Vec::with_capacity(10 + total as usize);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(std::iter::repeat_n(b' ', padlen));
    out.push(b'\n');
    Some(out)
}

/// Writes `data` of `shape` (C order) as a `<f4` `.npy` file, format 1.0, byte for byte as
/// `np.save(path, x.astype(np.float32))` does, atomically: to a temporary file in the same directory,
/// fsynced and renamed over `path`, which is untouched if anything fails.
///
/// Fails, naming `path`, when `shape` does not hold `data.len()` values or the directory is missing.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if count != Some(data.len()) {
        return Err(Error::Invalid(format!(
            "{}: shape {shape:?} does not hold the {} values given",
            path.display(),
            data.len()
        )));
    }
    let header = header_bytes(shape).ok_or_else(|| {
        Error::Invalid(format!(
            "{}: shape {shape:?} makes a header too long for .npy format 1.0",
            path.display()
        ))
    })?;
    crate::image_io::write_atomic(path, |w| {
        let io = |e| Error::io(path, e);
        w.write_all(&header).map_err(io)?;
        for v in data {
            w.write_all(&v.to_le_bytes()).map_err(io)?;
        }
        Ok(())
    })
}
