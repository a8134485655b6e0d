//! Tensors on the device are windows of shared buffers: (buffer, offset, length). Whether a tensor has a
//! buffer of its own or lives at an offset inside the planned arena makes no difference to a kernel.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::graph::DType;

use super::Gpu;

/// A tensor as a kernel sees it: `len` elements of `dtype` at byte `offset` of `buffer`.
#[derive(Clone, Debug)]
pub struct TensorView {
    /// The buffer holding it (an arena buffer or a buffer of its own).
    pub buffer: wgpu::Buffer,
    /// Byte offset; a multiple of `min_storage_buffer_offset_alignment`.
    pub offset: u64,
    /// Number of elements.
    pub len: u64,
    /// Storage type.
    pub dtype: DType,
    /// Name used in error messages (the graph's tensor name).
    pub name: Arc<str>,
}

impl TensorView {
    /// A view of `len` elements at `offset` of `buffer`.
    pub fn new(buffer: &wgpu::Buffer, offset: u64, len: u64, dtype: DType, name: &str) -> Self {
        TensorView {
            buffer: buffer.clone(),
            offset,
            len,
            dtype,
            name: name.into(),
        }
    }

    /// Bytes covered.
    pub fn bytes(&self) -> u64 {
        self.len * self.dtype.size()
    }

    /// The binding of this view, checked against the device's limits. Storage bindings must be a whole
    /// number of 4-byte words, so an f16 view with an odd length binds one padding element more (the
    /// planner rounds every tensor up to the offset alignment, so that element is the tensor's own).
    pub fn binding(&self, gpu: &Gpu) -> Result<wgpu::BufferBinding<'_>> {
        let limits = gpu.limits();
        let align = limits.min_storage_buffer_offset_alignment as u64;
        if !self.offset.is_multiple_of(align) {
            return Err(Error::Invalid(format!(
                "tensor {} is at offset {}, not a multiple of min_storage_buffer_offset_alignment {align}",
                self.name, self.offset
            )));
        }
        let size = self.bytes().div_ceil(4) * 4;
        let max = limits.max_storage_buffer_binding_size;
        if size > max {
            return Err(Error::Limit {
                what: format!("tensor {}", self.name),
                limit: "max_storage_buffer_binding_size",
                needed: size,
                max,
            });
        }
        if size == 0 || self.offset + size > self.buffer.size() {
            return Err(Error::Invalid(format!(
                "tensor {} ({size} bytes at offset {}) does not lie inside its buffer of {} bytes",
                self.name,
                self.offset,
                self.buffer.size()
            )));
        }
        Ok(wgpu::BufferBinding {
            buffer: &self.buffer,
            offset: self.offset,
            size: std::num::NonZeroU64::new(size),
        })
    }
}

/// Converts f32 host data to the bytes of `dtype`.
pub fn encode(data: &[f32], dtype: DType) -> Vec<u8> {
    match dtype {
        DType::F32 => bytemuck::cast_slice(data).to_vec(),
        DType::F16 => {
            let h: Vec<half::f16> = data.iter().map(|&x| half::f16::from_f32(x)).collect();
            bytemuck::cast_slice(&h).to_vec()
        }
        DType::U32 => data
            .iter()
            .flat_map(|&x| (x as u32).to_le_bytes())
            .collect(),
    }
}

/// Converts bytes of `dtype` to f32.
pub fn decode(bytes: &[u8], dtype: DType) -> Vec<f32> {
    match dtype {
        DType::F32 => bytemuck::pod_collect_to_vec(bytes),
        DType::F16 => {
            let h: Vec<half::f16> = bytemuck::pod_collect_to_vec(bytes);
            h.iter().map(|x| x.to_f32()).collect()
        }
        DType::U32 => bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
    }
}

impl Gpu {
    /// Creates a storage buffer of `size` bytes (rounded up to 4) that tensors can live in. Used at load
    /// time only: nothing is created while generating.
    pub fn create_storage(&self, label: &str, size: u64) -> Result<wgpu::Buffer> {
        let size = size.max(4).div_ceil(4) * 4;
        let max = self.limits().max_buffer_size;
        if size > max {
            return Err(Error::Limit {
                what: format!("buffer {label}"),
                limit: "max_buffer_size",
                needed: size,
                max,
            });
        }
        Ok(self.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        }))
    }

    /// Creates a buffer holding `data` converted to `dtype`, and a view of all of it.
    pub fn upload(&self, name: &str, data: &[f32], dtype: DType) -> Result<TensorView> {
        let bytes = encode(data, dtype);
        let buffer = self.create_storage(name, bytes.len() as u64)?;
        self.write(
            &TensorView::new(&buffer, 0, data.len() as u64, dtype, name),
            data,
        )?;
        Ok(TensorView::new(&buffer, 0, data.len() as u64, dtype, name))
    }

    /// Writes `data` (converted to the view's dtype) into the view.
    pub fn write(&self, view: &TensorView, data: &[f32]) -> Result<()> {
        if data.len() as u64 != view.len {
            return Err(Error::Invalid(format!(
                "writing {} elements into tensor {} of {} elements",
                data.len(),
                view.name,
                view.len
            )));
        }
        let mut bytes = encode(data, view.dtype);
        bytes.resize(bytes.len().div_ceil(4) * 4, 0);
        self.queue().write_buffer(&view.buffer, view.offset, &bytes);
        Ok(())
    }

    /// Reads `bytes` bytes at `offset` of `buffer` back to the host (a staging copy; for results and
    /// tests, never in the denoising loop).
    pub fn read_bytes(&self, buffer: &wgpu::Buffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
        let padded = bytes.div_ceil(4) * 4;
        let staging = self.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgsd readback"),
            size: padded.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, padded);
        self.queue().submit([encoder.finish()]);
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        rx.recv()
            .map_err(|_| Error::Device("readback was dropped".into()))?
            .map_err(|e| Error::Device(format!("readback failed: {e}")))?;
        let data = slice
            .get_mapped_range()
            .map_err(|e| Error::Device(format!("readback failed: {e}")))?;
        let out = data[..bytes as usize].to_vec();
        drop(data);
        staging.unmap();
        Ok(out)
    }

    /// Reads a tensor back as f32.
    pub fn read(&self, view: &TensorView) -> Result<Vec<f32>> {
        let bytes = self.read_bytes(&view.buffer, view.offset, view.bytes())?;
        Ok(decode(&bytes, view.dtype))
    }
}
