//! The naive strategy: every usage gets its own byte range. Kept as the debugging baseline.

use super::{align_up, check_usages, Limits, Plan, PlanError, Usage};

/// Gives every usage its own range, one after another, opening a new buffer when the current one
/// would exceed `max_buffer_size`.
///
/// - Usages are laid out in input order; offsets are aligned because every size is rounded up.
/// - The arena is the sum of all aligned sizes: the worst any real strategy may do.
/// - Fails like [`super::plan`] on a malformed usage or one over a limit.
pub fn naive(usages: &[Usage], limits: &Limits) -> Result<Plan, PlanError> {
    check_usages(usages, limits)?;
    let mut placements = Vec::with_capacity(usages.len());
    let mut buffer_sizes: Vec<u64> = Vec::new();
    for u in usages {
        let size = align_up(u.size, limits.alignment);
        let count = buffer_sizes.len();
        match buffer_sizes.last_mut() {
            Some(top) if *top + size <= limits.max_buffer_size => {
                placements.push(super::Placement {
                    buffer: (count - 1) as u32,
                    offset: *top,
                });
                *top += size;
            }
            _ => {
                placements.push(super::Placement {
                    buffer: buffer_sizes.len() as u32,
                    offset: 0,
                });
                buffer_sizes.push(size);
            }
        }
    }
    Ok(Plan {
        placements,
        buffer_sizes,
        load: super::load(usages, limits.alignment),
        optimal: false,
        method: "naive",
    })
}
