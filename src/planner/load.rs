//! LOAD: the lower bound on any arena, computed exactly by a sweep over interval endpoints.

use super::Usage;

/// Rounds `size` up to a multiple of `alignment` (an alignment of 0 counts as 1).
pub fn align_up(size: u64, alignment: u64) -> u64 {
    let alignment = alignment.max(1);
    size.div_ceil(alignment) * alignment
}

/// The largest total aligned size live at one op: no plan can use fewer bytes.
///
/// - Each usage adds its aligned size at `first` and removes it after `last` (at `last + 1`).
/// - Events are sorted by time, removals before additions at the same time, because a usage that
///   ends at op `t - 1` and one that starts at op `t` are never live together.
/// - The running total's maximum is LOAD.
pub fn load(usages: &[Usage], alignment: u64) -> u64 {
    let mut events: Vec<(u64, bool, u64)> = Vec::with_capacity(2 * usages.len());
    for u in usages {
        let size = align_up(u.size, alignment);
        // `false` (a removal) sorts before `true` (an addition) at the same time.
        events.push((u64::from(u.first), true, size));
        events.push((u64::from(u.last) + 1, false, size));
    }
    events.sort_unstable();
    let mut live = 0u64;
    let mut peak = 0u64;
    for (_, add, size) in events {
        if add {
            live += size;
            peak = peak.max(live);
        } else {
            live -= size;
        }
    }
    peak
}

/// The largest number of usages live at one op (2 or less means the overlap graph is a forest).
pub(crate) fn max_live_count(usages: &[Usage]) -> usize {
    let mut events: Vec<(u64, bool)> = Vec::with_capacity(2 * usages.len());
    for u in usages {
        events.push((u64::from(u.first), true));
        events.push((u64::from(u.last) + 1, false));
    }
    events.sort_unstable();
    let mut live = 0usize;
    let mut peak = 0usize;
    for (_, add) in events {
        if add {
            live += 1;
            peak = peak.max(live);
        } else {
            live -= 1;
        }
    }
    peak
}

/// For each usage, the indices of the other usages whose intervals intersect its own, in increasing
/// order.
///
/// - Usages are visited by `first`; each one is paired with the later-starting ones that start
///   before it ends, so the cost is `O(n log n + edges)`.
pub(crate) fn neighbours(usages: &[Usage]) -> Vec<Vec<u32>> {
    let mut by_first: Vec<u32> = (0..usages.len() as u32).collect();
    by_first.sort_by_key(|&i| (usages[i as usize].first, i));
    let mut adjacent = vec![Vec::new(); usages.len()];
    for (k, &i) in by_first.iter().enumerate() {
        let last = usages[i as usize].last;
        for &j in &by_first[k + 1..] {
            if usages[j as usize].first > last {
                break;
            }
            adjacent[i as usize].push(j);
            adjacent[j as usize].push(i);
        }
    }
    for list in &mut adjacent {
        list.sort_unstable();
    }
    adjacent
}
