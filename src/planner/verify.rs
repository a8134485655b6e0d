//! An independent checker of plans: it shares no code with the packing strategies.

use super::{Limits, Plan, Usage};

/// A broken invariant of a plan, naming the usages or buffer at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The plan does not have one placement per usage.
    #[error("the plan has {placements} placements for {usages} usages")]
    Count {
        /// Placements in the plan.
        placements: usize,
        /// Usages given.
        usages: usize,
    },
    /// A placement names a buffer the plan does not have.
    #[error("usage {index} is in buffer {buffer}, but the plan has {buffers} buffers")]
    NoSuchBuffer {
        /// Index of the usage.
        index: usize,
        /// The buffer it names.
        buffer: u32,
        /// Buffers in the plan.
        buffers: usize,
    },
    /// An offset is not a multiple of the alignment.
    #[error("usage {index} is at offset {offset}, not a multiple of the alignment {alignment}")]
    Misaligned {
        /// Index of the usage.
        index: usize,
        /// Its offset.
        offset: u64,
        /// The alignment.
        alignment: u64,
    },
    /// A usage is larger than `max_storage_buffer_binding_size`.
    #[error("usage {index} has {size} bytes, over max_storage_buffer_binding_size {max}")]
    BindingTooLarge {
        /// Index of the usage.
        index: usize,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A buffer is larger than `max_buffer_size`.
    #[error("buffer {buffer} has {size} bytes, over max_buffer_size {max}")]
    BufferTooLarge {
        /// Index of the buffer.
        buffer: usize,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A usage reaches past the end of its buffer.
    #[error("usage {index} ends at byte {end}, past its buffer's size {buffer_size}")]
    OutsideBuffer {
        /// Index of the usage.
        index: usize,
        /// Its offset plus its size.
        end: u64,
        /// The size of its buffer.
        buffer_size: u64,
    },
    /// Two usages live at the same op share bytes of the same buffer.
    #[error("usages {a} and {b} are live together and overlap in buffer {buffer}")]
    Overlap {
        /// Index of one usage.
        a: usize,
        /// Index of the other.
        b: usize,
        /// The buffer they share.
        buffer: u32,
    },
}

/// Checks `plan` against `usages` and `limits`.
///
/// - One placement per usage, each in an existing buffer, at an aligned offset, inside its buffer.
/// - Every buffer within `max_buffer_size`, every usage within `max_binding_size`.
/// - No two usages whose op intervals intersect share a byte of the same buffer (unrounded sizes:
///   the bytes a shader may touch). Checked by a sweep over the usages sorted by `first`, pairing
///   each with those that start before it ends.
pub fn verify(usages: &[Usage], limits: &Limits, plan: &Plan) -> Result<(), VerifyError> {
    if plan.placements.len() != usages.len() {
        return Err(VerifyError::Count {
            placements: plan.placements.len(),
            usages: usages.len(),
        });
    }
    for (buffer, &size) in plan.buffer_sizes.iter().enumerate() {
        if size > limits.max_buffer_size {
            return Err(VerifyError::BufferTooLarge {
                buffer,
                size,
                max: limits.max_buffer_size,
            });
        }
    }
    let alignment = limits.alignment.max(1);
    for (index, (u, p)) in usages.iter().zip(&plan.placements).enumerate() {
        let Some(&buffer_size) = plan.buffer_sizes.get(p.buffer as usize) else {
            return Err(VerifyError::NoSuchBuffer {
                index,
                buffer: p.buffer,
                buffers: plan.buffer_sizes.len(),
            });
        };
        if p.offset % alignment != 0 {
            return Err(VerifyError::Misaligned {
                index,
                offset: p.offset,
                alignment,
            });
        }
        if u.size > limits.max_binding_size {
            return Err(VerifyError::BindingTooLarge {
                index,
                size: u.size,
                max: limits.max_binding_size,
            });
        }
        let end = p.offset + u.size;
        if end > buffer_size {
            return Err(VerifyError::OutsideBuffer {
                index,
                end,
                buffer_size,
            });
        }
    }
    let mut by_first: Vec<usize> = (0..usages.len()).collect();
    by_first.sort_by_key(|&i| (usages[i].first, i));
    for (k, &a) in by_first.iter().enumerate() {
        for &b in &by_first[k + 1..] {
            if usages[b].first > usages[a].last {
                break;
            }
            let (pa, pb) = (plan.placements[a], plan.placements[b]);
            let disjoint =
                pa.offset + usages[a].size <= pb.offset || pb.offset + usages[b].size <= pa.offset;
            if pa.buffer == pb.buffer && !disjoint {
                return Err(VerifyError::Overlap {
                    a: a.min(b),
                    b: a.max(b),
                    buffer: pa.buffer,
                });
            }
        }
    }
    Ok(())
}
