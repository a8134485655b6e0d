//! The static memory planner. Pure CPU: it owns no memory and imports nothing from wgpu.
//!
//! Input: one [`Usage`] per tensor (its size and the op interval over which it is live) and the adapter's
//! [`Limits`]. Output: a [`Plan`] that gives each tensor a buffer and an offset.
//!
//! (Skeleton: the naive strategy only. The full portfolio replaces the internals, not this API.)

use std::time::Duration;

/// One tensor's demand: `size` bytes, live over the op indices `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Usage {
    /// Bytes (before rounding up to the alignment).
    pub size: u64,
    /// First op index at which the tensor is live (written).
    pub first: u32,
    /// Last op index at which the tensor is live (read), inclusive.
    pub last: u32,
}

/// The adapter limits the plan must respect (from `wgpu::Limits`, copied so the planner stays pure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `min_storage_buffer_offset_alignment`: every offset is a multiple of it.
    pub alignment: u64,
    /// `max_buffer_size`: no arena buffer is larger.
    pub max_buffer_size: u64,
    /// `max_storage_buffer_binding_size`: no tensor is larger.
    pub max_binding_size: u64,
}

/// Search options.
#[derive(Clone, Debug)]
pub struct Options {
    /// Time allowed for the exact search after the heuristics.
    pub time_limit: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            time_limit: Duration::from_secs(1),
        }
    }
}

/// Where one tensor lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Index of the arena buffer.
    pub buffer: u32,
    /// Byte offset inside that buffer (a multiple of the alignment).
    pub offset: u64,
}

/// A packing of all usages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// One placement per usage, in input order.
    pub placements: Vec<Placement>,
    /// Size of each arena buffer in bytes.
    pub buffer_sizes: Vec<u64>,
    /// The lower bound: the largest total (aligned) size live at one time.
    pub load: u64,
    /// True when the arena is proven optimal (it equals LOAD, or the exact search finished).
    pub optimal: bool,
    /// The strategy that produced this plan.
    pub method: &'static str,
}

impl Plan {
    /// Total bytes over all arena buffers.
    pub fn arena(&self) -> u64 {
        self.buffer_sizes.iter().sum()
    }
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A usage is larger than one storage binding may be; the caller names the tensor and rewrites.
    #[error(
        "usage {index} needs {size} bytes, over the max_storage_buffer_binding_size of {max} bytes"
    )]
    BindingTooLarge {
        /// Index of the usage.
        index: usize,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A usage whose interval ends before it starts, or with size 0.
    #[error("usage {index} is malformed: {reason}")]
    Malformed {
        /// Index of the usage.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Plans `usages` under `limits`.
pub fn plan(usages: &[Usage], limits: &Limits, _options: &Options) -> Result<Plan, PlanError> {
    let align = limits.alignment.max(1);
    let mut placements = Vec::with_capacity(usages.len());
    let mut buffer_sizes: Vec<u64> = Vec::new();
    for (index, u) in usages.iter().enumerate() {
        if u.size > limits.max_binding_size {
            return Err(PlanError::BindingTooLarge {
                index,
                size: u.size,
                max: limits.max_binding_size,
            });
        }
        let size = u.size.div_ceil(align) * align;
        let last = buffer_sizes.len().checked_sub(1);
        match last {
            Some(b) if buffer_sizes[b] + size <= limits.max_buffer_size => {
                placements.push(Placement {
                    buffer: b as u32,
                    offset: buffer_sizes[b],
                });
                buffer_sizes[b] += size;
            }
            _ => {
                placements.push(Placement {
                    buffer: buffer_sizes.len() as u32,
                    offset: 0,
                });
                buffer_sizes.push(size);
            }
        }
    }
    let load = buffer_sizes.iter().sum();
    Ok(Plan {
        placements,
        buffer_sizes,
        load,
        optimal: false,
        method: "naive",
    })
}
