//! Kernel timing for benchmarks and tuning: GPU timestamps around a compute pass where the adapter has
//! `TIMESTAMP_QUERY`, the wall clock around submit-and-wait otherwise.

use std::time::Instant;

use crate::error::{Error, Result};

use super::kernels::Dispatch;
use super::Gpu;

/// Times compute passes. Its query set and buffers are created once, in [`Profiler::new`], and reused
/// by every rep of every [`Profiler::time`] call.
pub struct Profiler {
    /// `None` where the device has no timestamp queries: then the wall clock is used.
    timestamps: Option<Timestamps>,
}

/// The objects a timestamped pass needs.
struct Timestamps {
    /// Two queries: the start and the end of the pass.
    queries: wgpu::QuerySet,
    /// Where the two u64 ticks are resolved to.
    resolve: wgpu::Buffer,
    /// Mappable copy of `resolve`.
    readback: wgpu::Buffer,
    /// Nanoseconds per tick.
    period_ns: f64,
}

/// Bytes of two resolved timestamps.
const TICKS_BYTES: u64 = 16;

impl Profiler {
    /// A profiler for `gpu`, with GPU timestamps where the device has them.
    pub fn new(gpu: &Gpu) -> Profiler {
        let timestamps = gpu.caps().timestamps.then(|| {
            let device = gpu.device();
            Timestamps {
                queries: device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("wgsd timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: 2,
                }),
                resolve: device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("wgsd timestamps resolve"),
                    size: TICKS_BYTES,
                    usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                }),
                readback: device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("wgsd timestamps readback"),
                    size: TICKS_BYTES,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
                period_ns: gpu.queue().get_timestamp_period() as f64,
            }
        });
        Profiler { timestamps }
    }

    /// Whether times come from GPU timestamps (`false`: the wall clock).
    pub fn uses_timestamps(&self) -> bool {
        self.timestamps.is_some()
    }

    /// Runs `dispatches` in one compute pass `reps` times, one submission each, and returns the seconds
    /// each rep took. The first run of a kernel includes the driver's shader compilation on some
    /// adapters: warm up with [`Gpu::run`] first.
    pub fn time(&self, gpu: &Gpu, dispatches: &[&Dispatch], reps: usize) -> Result<Vec<f64>> {
        (0..reps).map(|_| self.time_once(gpu, dispatches)).collect()
    }

    fn time_once(&self, gpu: &Gpu, dispatches: &[&Dispatch]) -> Result<f64> {
        let mut encoder = gpu
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("wgsd timing"),
            });
        {
            let timestamp_writes =
                self.timestamps
                    .as_ref()
                    .map(|t| wgpu::ComputePassTimestampWrites {
                        query_set: &t.queries,
                        beginning_of_pass_write_index: Some(0),
                        end_of_pass_write_index: Some(1),
                    });
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("wgsd timed pass"),
                timestamp_writes,
            });
            for d in dispatches {
                d.record(&mut pass);
            }
        }
        if let Some(t) = &self.timestamps {
            encoder.resolve_query_set(&t.queries, 0..2, &t.resolve, 0);
            encoder.copy_buffer_to_buffer(&t.resolve, 0, &t.readback, 0, TICKS_BYTES);
        }
        let start = Instant::now();
        gpu.queue().submit([encoder.finish()]);
        gpu.wait()?;
        let wall = start.elapsed().as_secs_f64();
        let Some(t) = &self.timestamps else {
            return Ok(wall);
        };
        let slice = t.readback.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        gpu.wait()?;
        rx.recv()
            .map_err(|_| Error::Device("timestamp readback was dropped".into()))?
            .map_err(|e| Error::Device(format!("timestamp readback failed: {e}")))?;
        let ticks: [u64; 2] = {
            let data = slice
                .get_mapped_range()
                .map_err(|e| Error::Device(format!("timestamp readback failed: {e}")))?;
            bytemuck::pod_read_unaligned(&data[..TICKS_BYTES as usize])
        };
        t.readback.unmap();
        Ok(ticks[1].saturating_sub(ticks[0]) as f64 * t.period_ns * 1e-9)
    }
}

impl Gpu {
    /// Seconds each of `reps` runs of `dispatches` (one compute pass, one submission per rep) took, by GPU
    /// timestamps where the device has them, by the wall clock otherwise. Builds a [`Profiler`] for the
    /// call; keep one yourself to time many cases with the same query set.
    pub fn time_dispatches(&self, dispatches: &[&Dispatch], reps: usize) -> Result<Vec<f64>> {
        Profiler::new(self).time(self, dispatches, reps)
    }
}
