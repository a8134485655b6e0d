//! Splitting one packed arena into buffers no larger than `max_buffer_size`.

use super::{Placement, Usage};

/// Cuts a single-arena packing (`offsets` of `blocks`, aligned sizes) into buffers of at most
/// `max_buffer_size` bytes, so that no block straddles two buffers.
///
/// - Visit blocks by offset. The current buffer starts at `base`; a block whose range ends within
///   `base + max_buffer_size` joins it at `offset - base`.
/// - The first block that does not fit opens a new buffer with `base` at its own offset. Blocks are
///   visited by offset, so every later block starts at or above the new base.
/// - Relative order inside a buffer is unchanged, so blocks that did not overlap still do not;
///   bases are block offsets, so relative offsets stay aligned.
/// - When the arena fits, this is the identity with one buffer. Otherwise the buffers may add up to
///   a little more than the arena: a block of the previous buffer may reach past the next base.
/// - Every block must be at most `max_buffer_size` (checked by the caller).
pub(crate) fn split(
    blocks: &[Usage],
    offsets: &[u64],
    max_buffer_size: u64,
) -> (Vec<Placement>, Vec<u64>) {
    let mut by_offset: Vec<usize> = (0..blocks.len()).collect();
    by_offset.sort_by_key(|&i| (offsets[i], i));
    let mut placements = vec![
        Placement {
            buffer: 0,
            offset: 0
        };
        blocks.len()
    ];
    let mut buffer_sizes: Vec<u64> = Vec::new();
    let mut base = 0u64;
    for i in by_offset {
        let end = offsets[i] + blocks[i].size;
        if buffer_sizes.is_empty() || end - base > max_buffer_size {
            base = if buffer_sizes.is_empty() {
                0
            } else {
                offsets[i]
            };
            buffer_sizes.push(0);
        }
        debug_assert!(end - base <= max_buffer_size, "block larger than a buffer");
        let buffer = buffer_sizes.len() - 1;
        placements[i] = Placement {
            buffer: buffer as u32,
            offset: offsets[i] - base,
        };
        buffer_sizes[buffer] = buffer_sizes[buffer].max(end - base);
    }
    (placements, buffer_sizes)
}
