//! The kernel library. One module per shader family; each exposes functions that turn tensor views and
//! shape parameters into a [`Dispatch`]: a pipeline, a bind group and a grid, built once at load time and
//! replayed every step. Recording a dispatch creates nothing on the device.

pub mod attention;
pub mod conv2d;
pub mod elementwise;
pub mod embedding;
pub mod matmul;
pub mod norm;
pub mod sampler;
pub mod shape;
pub mod tile;

use std::sync::Mutex;

use crate::error::{Error, Result};

use super::{Gpu, TensorView};

/// One recorded kernel launch.
#[derive(Debug)]
pub struct Dispatch {
    /// What this launch computes, for timing and error messages.
    pub label: String,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    grid: [u32; 3],
}

impl Dispatch {
    /// Records the launch into a compute pass.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.grid[0], self.grid[1], self.grid[2]);
    }

    /// The workgroup grid.
    pub fn grid(&self) -> [u32; 3] {
        self.grid
    }
}

/// Uniform parameter blocks of many dispatches, packed into one buffer created up front. Each kernel's
/// params struct is at most [`ParamArena::SLOT`] bytes.
pub struct ParamArena {
    buffer: wgpu::Buffer,
    stride: u64,
    next: Mutex<u64>,
}

impl ParamArena {
    /// The largest params struct a kernel may have.
    pub const SLOT: u64 = 256;

    /// Room for `slots` parameter blocks.
    pub fn new(gpu: &Gpu, slots: u64) -> ParamArena {
        let stride = Self::SLOT.max(gpu.limits().min_uniform_buffer_offset_alignment as u64);
        let buffer = gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgsd params"),
            size: stride * slots.max(1),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        ParamArena {
            buffer,
            stride,
            next: Mutex::new(0),
        }
    }

    /// Bytes of device memory it holds.
    pub fn size(&self) -> u64 {
        self.buffer.size()
    }

    /// Stores one params struct and returns its binding.
    pub fn push<T: bytemuck::Pod>(&self, gpu: &Gpu, params: &T) -> Result<wgpu::BufferBinding<'_>> {
        let bytes = bytemuck::bytes_of(params);
        debug_assert!(
            bytes.len() as u64 <= Self::SLOT,
            "params struct larger than a slot"
        );
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let offset = *next;
        if offset + self.stride > self.buffer.size() {
            return Err(Error::Invalid(format!(
                "parameter arena full: {} slots were planned",
                self.buffer.size() / self.stride
            )));
        }
        *next += self.stride;
        gpu.queue().write_buffer(&self.buffer, offset, bytes);
        Ok(wgpu::BufferBinding {
            buffer: &self.buffer,
            offset,
            size: std::num::NonZeroU64::new(bytes.len() as u64),
        })
    }
}

/// Splits `workgroups` into a grid that respects `max_compute_workgroups_per_dimension`: `[x, y, 1]`
/// with `x · y ≥ workgroups`. Shaders compute the linear index `wid.x + wid.y · nwg.x` and guard the tail.
pub fn grid_1d(gpu: &Gpu, workgroups: u64, what: &str) -> Result<[u32; 3]> {
    let max = gpu.limits().max_compute_workgroups_per_dimension as u64;
    let workgroups = workgroups.max(1);
    if workgroups <= max {
        return Ok([workgroups as u32, 1, 1]);
    }
    let y = workgroups.div_ceil(max);
    if y > max {
        return Err(Error::Limit {
            what: format!("{what} grid ({workgroups} workgroups)"),
            limit: "max_compute_workgroups_per_dimension²",
            needed: workgroups,
            max: max * max,
        });
    }
    Ok([workgroups.div_ceil(y) as u32, y as u32, 1])
}

/// Builds the bind group of `pipeline`: binding 0 is the params block, bindings 1.. are the tensors in
/// order. Checks every view against the device's limits.
pub(crate) fn dispatch(
    gpu: &Gpu,
    label: String,
    pipeline: wgpu::ComputePipeline,
    params: wgpu::BufferBinding<'_>,
    tensors: &[(u32, &TensorView)],
    grid: [u32; 3],
) -> Result<Dispatch> {
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 0,
        resource: wgpu::BindingResource::Buffer(params),
    }];
    for &(binding, view) in tensors {
        entries.push(wgpu::BindGroupEntry {
            binding,
            resource: wgpu::BindingResource::Buffer(view.binding(gpu)?),
        });
    }
    let layout = pipeline.get_bind_group_layout(0);
    // A mismatch between a shader's bindings and its Rust mirror becomes an error naming the kernel,
    // not wgpu's panic.
    let scope = gpu.device().push_error_scope(wgpu::ErrorFilter::Validation);
    let bind_group = gpu.device().create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(&label),
        layout: &layout,
        entries: &entries,
    });
    if let Some(err) = pollster::block_on(scope.pop()) {
        return Err(Error::Device(format!(
            "binding the tensors of {label} failed: {err}"
        )));
    }
    Ok(Dispatch {
        label,
        pipeline,
        bind_group,
        grid,
    })
}

/// Checks that `view` holds exactly `len` elements.
pub(crate) fn expect_len(view: &TensorView, len: u64, what: &str) -> Result<()> {
    if view.len != len {
        return Err(Error::Invalid(format!(
            "{what}: tensor {} has {} elements, expected {len}",
            view.name, view.len
        )));
    }
    Ok(())
}

/// Checks that all views share one dtype and returns it.
pub(crate) fn common_dtype(views: &[&TensorView], what: &str) -> Result<crate::graph::DType> {
    let d = views[0].dtype;
    if let Some(v) = views.iter().find(|v| v.dtype != d) {
        return Err(Error::Invalid(format!(
            "{what}: tensor {} is {:?} but {} is {d:?}",
            v.name, v.dtype, views[0].name
        )));
    }
    Ok(d)
}

impl Gpu {
    /// Records `dispatches` into one compute pass, submits, and waits.
    pub fn run(&self, dispatches: &[&Dispatch]) -> Result<()> {
        let mut encoder = self
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("wgsd"),
            });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: None,
            });
            for d in dispatches {
                d.record(&mut pass);
            }
        }
        self.queue().submit([encoder.finish()]);
        self.wait()
    }
}
