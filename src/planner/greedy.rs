//! Greedy packing: visit the usages in one order and drop each at an offset chosen by one rule.

use super::{Packing, Usage};

/// The order in which a greedy pass visits the usages. Ties always fall back to the input index, so
/// a pass is deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// Largest size first, then longest interval (TFLite's greedy by size).
    Size,
    /// Longest interval first, then largest size.
    Length,
    /// Largest area (size × interval length) first.
    Area,
    /// Earliest `first` first, then largest size (the order the graph runs in).
    Start,
    /// Highest peak of live bytes during the usage's interval first, then largest size: the usages
    /// that sit in the tightest spot go first.
    Pressure,
}

/// How a greedy pass picks an offset among the gaps left by the usages already placed that are live
/// at the same time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fit {
    /// The lowest gap that is large enough.
    FirstFit,
    /// The smallest gap that is large enough (lowest offset on ties); the top if none is.
    BestFit,
}

/// Every order and rule the portfolio tries, cheapest and most often best first.
pub(crate) const PASSES: [(Order, Fit); 10] = [
    (Order::Size, Fit::BestFit),
    (Order::Size, Fit::FirstFit),
    (Order::Pressure, Fit::BestFit),
    (Order::Pressure, Fit::FirstFit),
    (Order::Area, Fit::BestFit),
    (Order::Area, Fit::FirstFit),
    (Order::Length, Fit::BestFit),
    (Order::Length, Fit::FirstFit),
    (Order::Start, Fit::BestFit),
    (Order::Start, Fit::FirstFit),
];

/// The name a greedy pass reports in [`super::Plan::method`].
pub(crate) fn method_name(order: Order, fit: Fit) -> &'static str {
    match (order, fit) {
        (Order::Size, Fit::BestFit) => "greedy-size-best-fit",
        (Order::Size, Fit::FirstFit) => "greedy-size-first-fit",
        (Order::Length, Fit::BestFit) => "greedy-length-best-fit",
        (Order::Length, Fit::FirstFit) => "greedy-length-first-fit",
        (Order::Area, Fit::BestFit) => "greedy-area-best-fit",
        (Order::Area, Fit::FirstFit) => "greedy-area-first-fit",
        (Order::Start, Fit::BestFit) => "greedy-start-best-fit",
        (Order::Start, Fit::FirstFit) => "greedy-start-first-fit",
        (Order::Pressure, Fit::BestFit) => "greedy-pressure-best-fit",
        (Order::Pressure, Fit::FirstFit) => "greedy-pressure-first-fit",
    }
}

/// The visiting order of a greedy pass over `blocks` (usages with aligned sizes).
///
/// - `peaks[i]` is the largest total live size at any op of usage `i`, used by [`Order::Pressure`].
fn visiting_order(blocks: &[Usage], peaks: &[u64], order: Order) -> Vec<u32> {
    let length = |i: u32| u64::from(blocks[i as usize].last - blocks[i as usize].first) + 1;
    let size = |i: u32| blocks[i as usize].size;
    let mut ids: Vec<u32> = (0..blocks.len() as u32).collect();
    match order {
        Order::Size => ids.sort_by_key(|&i| (std::cmp::Reverse((size(i), length(i))), i)),
        Order::Length => ids.sort_by_key(|&i| (std::cmp::Reverse((length(i), size(i))), i)),
        Order::Area => ids.sort_by_key(|&i| {
            let area = u128::from(size(i)) * u128::from(length(i));
            (std::cmp::Reverse((area, size(i))), i)
        }),
        Order::Start => {
            ids.sort_by_key(|&i| (blocks[i as usize].first, std::cmp::Reverse(size(i)), i))
        }
        Order::Pressure => {
            ids.sort_by_key(|&i| (std::cmp::Reverse((peaks[i as usize], size(i))), i))
        }
    }
    ids
}

/// Packs `blocks` (usages whose sizes are already aligned) in one greedy pass.
///
/// - Visit the usages in `order`.
/// - For each, list the usages already placed whose intervals intersect its own (from
///   `neighbours`), sorted by offset, and walk the gaps between them from offset 0 upwards.
/// - [`Fit::FirstFit`] takes the first gap that is large enough; [`Fit::BestFit`] the smallest
///   one. With no such gap the usage goes on top of everything it meets.
/// - Offsets are sums of aligned sizes, so they are aligned too.
pub(crate) fn greedy(
    blocks: &[Usage],
    neighbours: &[Vec<u32>],
    peaks: &[u64],
    order: Order,
    fit: Fit,
) -> Packing {
    const UNPLACED: u64 = u64::MAX;
    let mut offsets = vec![UNPLACED; blocks.len()];
    let mut arena = 0u64;
    // Reused buffer: (offset, end) of the placed neighbours of the usage being placed.
    let mut taken: Vec<(u64, u64)> = Vec::new();
    for i in visiting_order(blocks, peaks, order) {
        let size = blocks[i as usize].size;
        taken.clear();
        for &j in &neighbours[i as usize] {
            let offset = offsets[j as usize];
            if offset != UNPLACED {
                taken.push((offset, offset + blocks[j as usize].size));
            }
        }
        taken.sort_unstable();
        let offset = pick_offset(&taken, size, fit);
        offsets[i as usize] = offset;
        arena = arena.max(offset + size);
    }
    Packing {
        offsets,
        arena,
        method: method_name(order, fit),
        optimal: false,
    }
}

/// The offset `fit` picks for `size` bytes among the ranges `taken` (sorted by offset).
fn pick_offset(taken: &[(u64, u64)], size: u64, fit: Fit) -> u64 {
    let mut cursor = 0u64;
    // (gap length, gap offset) of the best gap so far, for best fit.
    let mut best: Option<(u64, u64)> = None;
    for &(offset, end) in taken {
        if offset >= cursor + size {
            let gap = offset - cursor;
            match fit {
                Fit::FirstFit => return cursor,
                Fit::BestFit => {
                    if best.is_none_or(|(length, _)| gap < length) {
                        best = Some((gap, cursor));
                    }
                }
            }
        }
        cursor = cursor.max(end);
    }
    best.map_or(cursor, |(_, offset)| offset)
}

/// For each block, the largest total size live at any op of its interval.
///
/// - Compress time into sections between consecutive interval endpoints, add each block over its
///   sections with a difference array, then take the maximum over each block's sections with a
///   sparse table, so the whole cost is `O(n log n)`.
pub(crate) fn peaks(blocks: &[Usage]) -> Vec<u64> {
    let sections = super::exact::Sections::new(blocks);
    let live = sections.live_bytes(blocks);
    // table[k][s] = max of live[s .. s + 2^k].
    let mut table = vec![live];
    let mut width = 1usize;
    while 2 * width <= table[0].len() {
        let previous = table.last().expect("table starts non-empty");
        let row: Vec<u64> = (0..previous.len() - width)
            .map(|s| previous[s].max(previous[s + width]))
            .collect();
        table.push(row);
        width *= 2;
    }
    (0..blocks.len())
        .map(|i| {
            let (lo, hi) = sections.range(i);
            let k = (usize::BITS - 1 - (hi - lo).leading_zeros()) as usize;
            table[k][lo].max(table[k][hi - (1 << k)])
        })
        .collect()
}

/// Plans `usages` with greedy by size and best-fit offsets alone (TFLite's heuristic), for
/// comparison with [`super::plan`].
///
/// - Largest size first (then longest interval); each goes in the smallest gap that fits among the
///   usages already placed that are live with it, or on top of them.
/// - The arena is split into buffers like [`super::plan`] does.
pub fn greedy_by_size(
    usages: &[Usage],
    limits: &super::Limits,
) -> Result<super::Plan, super::PlanError> {
    super::check_usages(usages, limits)?;
    let blocks = super::aligned(usages, limits.alignment);
    let neighbours = super::load::neighbours(&blocks);
    let no_peaks = vec![0; blocks.len()];
    let packing = greedy(&blocks, &neighbours, &no_peaks, Order::Size, Fit::BestFit);
    let (placements, buffer_sizes) =
        super::split::split(&blocks, &packing.offsets, limits.max_buffer_size);
    let load = super::load(usages, limits.alignment);
    Ok(super::Plan {
        placements,
        optimal: buffer_sizes.iter().sum::<u64>() == load,
        buffer_sizes,
        load,
        method: packing.method,
    })
}
