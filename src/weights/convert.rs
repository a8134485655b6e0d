//! Conversion of stored tensors (F32, F16, BF16) to the run's precision (f32 or f16).
//!
//! Conversion writes straight into a caller-provided byte slice (typically a mapped staging buffer), so a
//! weight is never held twice in host RAM. All data is little-endian, as in safetensors and on every GPU
//! wgpu targets.
//!
//! Rounding: F16→F32 and BF16→F32 are exact; F32→F16 and BF16→F16 round to nearest-even (values beyond
//! ±65504 become ±inf), as `half::f16::from_f32` does. Same-type conversion is a bit-exact copy.

use half::{bf16, f16};

use crate::error::{Error, Result};
use crate::graph::DType;
use crate::weights::safetensors_file::{StoredDtype, TensorView};

/// Bytes a tensor of `numel` elements takes in `to`.
pub fn converted_len(numel: usize, to: DType) -> usize {
    numel * to.size() as usize
}

/// Converts `view` to `to`, writing exactly `converted_len(view.numel(), to)` bytes into `dst`.
///
/// Fails, naming the tensor and its file, when the stored dtype is not F32/F16/BF16, when `to` is not a
/// float type, or when `dst` has the wrong length.
pub fn convert_into(view: &TensorView<'_>, to: DType, dst: &mut [u8]) -> Result<()> {
    let numel = view.numel();
    let src = view.data();
    if !view.dtype().is_supported() {
        return Err(unsupported_dtype(view));
    }
    if to == DType::U32 {
        return Err(Error::Invalid(format!(
            "tensor `{}` ({}): weights can be converted to F32 or F16, not U32",
            view.name(),
            view.path().display()
        )));
    }
    let needed = converted_len(numel, to);
    if dst.len() != needed {
        return Err(Error::Invalid(format!(
            "tensor `{}` {:?} as {to:?} needs a {needed}-byte destination, got {} bytes",
            view.name(),
            view.shape(),
            dst.len()
        )));
    }
    debug_assert_eq!(
        src.len(),
        numel * view.dtype().size().unwrap_or(0),
        "view byte length is validated when the file is opened"
    );
    match (view.dtype(), to) {
        (StoredDtype::F32, DType::F32) | (StoredDtype::F16, DType::F16) => {
            dst.copy_from_slice(src);
        }
        (StoredDtype::F16, DType::F32) => {
            for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(2)) {
                let v = f16::from_bits(u16::from_le_bytes([s[0], s[1]])).to_f32();
                d.copy_from_slice(&v.to_le_bytes());
            }
        }
        (StoredDtype::BF16, DType::F32) => {
            for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(2)) {
                let v = bf16::from_bits(u16::from_le_bytes([s[0], s[1]])).to_f32();
                d.copy_from_slice(&v.to_le_bytes());
            }
        }
        (StoredDtype::F32, DType::F16) => {
            for (d, s) in dst.chunks_exact_mut(2).zip(src.chunks_exact(4)) {
                let v = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                d.copy_from_slice(&f16::from_f32(v).to_bits().to_le_bytes());
            }
        }
        (StoredDtype::BF16, DType::F16) => {
            for (d, s) in dst.chunks_exact_mut(2).zip(src.chunks_exact(2)) {
                let v = bf16::from_bits(u16::from_le_bytes([s[0], s[1]])).to_f32();
                d.copy_from_slice(&f16::from_f32(v).to_bits().to_le_bytes());
            }
        }
        // Both rejected above; kept as errors so that no input can panic.
        (StoredDtype::Other(_), _) | (_, DType::U32) => return Err(unsupported_dtype(view)),
    }
    Ok(())
}

/// Converts `view` to a new `Vec<f32>` (for CPU references and tests; the GPU path uses
/// [`convert_into`] on a staging buffer).
pub fn to_f32_vec(view: &TensorView<'_>) -> Result<Vec<f32>> {
    let mut bytes = vec![0u8; converted_len(view.numel(), DType::F32)];
    convert_into(view, DType::F32, &mut bytes)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Converts `view` to a new `Vec<f16>`.
pub fn to_f16_vec(view: &TensorView<'_>) -> Result<Vec<f16>> {
    let mut bytes = vec![0u8; converted_len(view.numel(), DType::F16)];
    convert_into(view, DType::F16, &mut bytes)?;
    Ok(bytes
        .chunks_exact(2)
        .map(|b| f16::from_bits(u16::from_le_bytes([b[0], b[1]])))
        .collect())
}

/// The error for a tensor whose stored dtype cannot be converted.
pub(crate) fn unsupported_dtype(view: &TensorView<'_>) -> Error {
    Error::format(
        view.path(),
        format!(
            "tensor `{}` is stored as {}; only F32, F16 and BF16 weights are supported",
            view.name(),
            view.dtype()
        ),
    )
}
