//! The static memory planner. Pure CPU: it owns no memory and imports nothing from wgpu.
//!
//! Input: one [`Usage`] per tensor (its size and the op interval over which it is live) and the
//! adapter's [`Limits`]. Output: a [`Plan`] that gives each tensor a buffer and an offset.
//!
//! - [`load`]: LOAD, the largest total aligned size live at one op, a lower bound on any arena.
//! - [`plan`] runs a portfolio and stops as soon as the arena equals LOAD (certified optimal):
//!   1. two-sided packing when at most two tensors are live at a time (pure chains), which always
//!      reaches LOAD (`two_sided.rs`);
//!   2. greedy passes in several orders (size, peak pressure, area, length, start) with first-fit
//!      and best-fit offsets (`greedy.rs`);
//!   3. an exact branch-and-bound search over canonical solutions, after MiniMalloc, under a time
//!      and node budget (`exact.rs`);
//!   4. a split of the arena into buffers within `max_buffer_size` (`split.rs`).
//! - [`naive`]: every tensor its own range, the debugging baseline.
//! - [`verify`]: an independent checker of every invariant; [`plan`] runs it in debug builds.
//! - [`budget`]: weights with lifetimes too: resident, phase-resident or streamed, chosen per phase so
//!   that a run fits a memory budget at the least upload cost.
//! - [`pack_into`]: the smallest arena it can find within a given capacity, and [`fit_into`]: the
//!   first packing within it (MiniMalloc's question), for MiniMalloc's benchmark instances, read by
//!   [`parse_minimalloc_csv`].
//!
//! # Example usage
//!
//! ```
//! use wgsd::planner::{plan, verify, Limits, Options, Usage};
//!
//! // A pure chain: tensor i is written by op i and read by op i + 1.
//! let usages = [
//!     Usage { size: 9, first: 0, last: 1 },
//!     Usage { size: 3, first: 1, last: 2 },
//!     Usage { size: 5, first: 2, last: 3 },
//!     Usage { size: 7, first: 3, last: 4 },
//! ];
//! let limits = Limits { alignment: 1, max_buffer_size: 1 << 30, max_binding_size: 1 << 27 };
//! let plan = plan(&usages, &limits, &Options::default())?;
//! assert_eq!(plan.load, 12);
//! assert_eq!(plan.arena(), 12);
//! assert!(plan.optimal);
//! verify(&usages, &limits, &plan)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod arena;
pub mod budget;
mod exact;
mod greedy;
mod intervals;
mod load;
mod naive;
mod split;
mod two_sided;
mod verify;

use std::time::{Duration, Instant};

pub use arena::{plan_graph, ArenaPlan, Scratch};
pub use budget::{min_budget, plan_budget, BudgetPlan, Residency, Strategy};
pub use greedy::greedy_by_size;
pub use intervals::{parse_minimalloc_csv, ParseError};
pub use load::{align_up, load};
pub use naive::naive;
pub use verify::{verify, VerifyError};

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
    /// `min_storage_buffer_offset_alignment`: every offset is a multiple of it (0 counts as 1).
    pub alignment: u64,
    /// `max_buffer_size`: no arena buffer is larger.
    pub max_buffer_size: u64,
    /// `max_storage_buffer_binding_size`: no tensor is larger.
    pub max_binding_size: u64,
}

/// Search options.
#[derive(Clone, Debug)]
pub struct Options {
    /// Wall-clock time allowed for the whole portfolio; the exact search only uses what the
    /// heuristics leave. [`plan`] also caps the exact search by a node count, so that it is
    /// deterministic unless this limit cuts it first.
    pub time_limit: Duration,
}

impl Default for Options {
    /// 100 ms: well under a second even on 10k-tensor graphs.
    fn default() -> Self {
        Options {
            time_limit: Duration::from_millis(100),
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
    /// A usage (rounded up to the alignment) is larger than one buffer may be.
    #[error("usage {index} needs {size} bytes, over the max_buffer_size of {max} bytes")]
    BufferTooLarge {
        /// Index of the usage.
        index: usize,
        /// Its size, rounded up to the alignment.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// [`pack_into`] found no packing within the capacity (in the time allowed, unless
    /// `proven`).
    #[error("the best packing needs {needed} bytes, over the capacity of {capacity} bytes")]
    OverCapacity {
        /// Arena of the best packing found.
        needed: u64,
        /// The capacity asked for.
        capacity: u64,
        /// True when the search proved that nothing fits.
        proven: bool,
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

/// Offsets of every usage in one arena, before the split into buffers.
#[derive(Clone, Debug)]
pub(crate) struct Packing {
    /// One offset per usage, in input order.
    pub(crate) offsets: Vec<u64>,
    /// The highest end over all usages.
    pub(crate) arena: u64,
    /// The strategy that produced it.
    pub(crate) method: &'static str,
    /// True when no packing can be smaller.
    pub(crate) optimal: bool,
}

/// Work the exact search may do inside [`plan`], in elementary steps (a block or a section visited):
/// about 50 ms in a release build. It makes the result independent of the machine's speed.
const EXACT_WORK: u64 = 10_000_000;

/// Work the greedy passes may do, counted as blocks + pairs of blocks live together per pass: the
/// portfolio runs as many passes of [`greedy::PASSES`] as fit (at least two), so that 10k-tensor
/// graphs with long skip connections stay fast. Deterministic, unlike a clock.
const GREEDY_WORK: usize = 6_000_000;

/// Checks every usage against the limits: sizes above 0, `first <= last`, within the binding
/// limit, and (aligned) within one buffer.
pub(crate) fn check_usages(usages: &[Usage], limits: &Limits) -> Result<(), PlanError> {
    for (index, u) in usages.iter().enumerate() {
        if u.size == 0 {
            return Err(PlanError::Malformed {
                index,
                reason: "size 0".into(),
            });
        }
        if u.last < u.first {
            return Err(PlanError::Malformed {
                index,
                reason: format!("last op {} before first op {}", u.last, u.first),
            });
        }
        if u.size > limits.max_binding_size {
            return Err(PlanError::BindingTooLarge {
                index,
                size: u.size,
                max: limits.max_binding_size,
            });
        }
        let aligned = align_up(u.size, limits.alignment);
        if aligned > limits.max_buffer_size {
            return Err(PlanError::BufferTooLarge {
                index,
                size: aligned,
                max: limits.max_buffer_size,
            });
        }
    }
    Ok(())
}

/// Plans `usages` under `limits`.
///
/// - Round every size up to the alignment and compute LOAD.
/// - Run the portfolio (two-sided, greedy passes, exact search) on one arena, stopping as soon as
///   the arena equals LOAD.
/// - Split the arena into buffers within `max_buffer_size` (one buffer when it fits).
/// - Fails with a [`PlanError`] naming the limit a usage breaks, or the malformed usage.
pub fn plan(usages: &[Usage], limits: &Limits, options: &Options) -> Result<Plan, PlanError> {
    check_usages(usages, limits)?;
    let blocks = aligned(usages, limits.alignment);
    let load = load(usages, limits.alignment);
    let mut budget = exact::Budget::new(Instant::now() + options.time_limit, EXACT_WORK);
    let (packing, _) = portfolio(
        &blocks,
        load,
        limits.alignment.max(1),
        Goal::Smallest,
        &mut budget,
    );
    let (placements, buffer_sizes) =
        split::split(&blocks, &packing.offsets, limits.max_buffer_size);
    let plan = Plan {
        placements,
        optimal: packing.optimal && buffer_sizes.iter().sum::<u64>() == packing.arena,
        buffer_sizes,
        load,
        method: packing.method,
    };
    debug_assert_eq!(verify(usages, limits, &plan), Ok(()));
    Ok(plan)
}

/// Packs `usages` into one arena of at most `capacity` bytes, with no alignment (MiniMalloc's
/// benchmark setting), as small as it can within the time limit.
///
/// - Runs the same portfolio as [`plan`], except that the exact search first looks for any packing
///   within `capacity` (when the heuristics miss it), then keeps shrinking it towards LOAD.
/// - The exact search has the whole `options.time_limit` and no node cap.
/// - Fails with [`PlanError::OverCapacity`] (carrying the best arena found) when nothing fitting
///   was found, or with [`PlanError::Malformed`].
pub fn pack_into(usages: &[Usage], capacity: u64, options: &Options) -> Result<Plan, PlanError> {
    pack_one_arena(
        usages,
        capacity,
        Goal::WithinThenSmallest(capacity),
        options,
    )
}

/// Finds a packing of `usages` into one arena of at most `capacity` bytes, with no alignment, and
/// stops at the first one: MiniMalloc's own question ("does it fit?").
///
/// - The same portfolio as [`pack_into`], but it returns as soon as a greedy pass or the exact
///   search fits the capacity, without shrinking the arena further.
/// - `optimal` is set only when the packing is at LOAD.
/// - Fails with [`PlanError::OverCapacity`] (carrying the best arena found) when nothing fitting
///   was found in `options.time_limit`, or was proven impossible; or with
///   [`PlanError::Malformed`].
pub fn fit_into(usages: &[Usage], capacity: u64, options: &Options) -> Result<Plan, PlanError> {
    pack_one_arena(usages, capacity, Goal::Within(capacity), options)
}

/// [`pack_into`] and [`fit_into`]: one arena, alignment 1, the whole time limit, no node cap.
fn pack_one_arena(
    usages: &[Usage],
    capacity: u64,
    goal: Goal,
    options: &Options,
) -> Result<Plan, PlanError> {
    let limits = Limits {
        alignment: 1,
        max_buffer_size: u64::MAX,
        max_binding_size: u64::MAX,
    };
    check_usages(usages, &limits)?;
    let load = load(usages, 1);
    let mut budget = exact::Budget::new(Instant::now() + options.time_limit, u64::MAX);
    let (packing, lower) = portfolio(usages, load, 1, goal, &mut budget);
    if packing.arena > capacity {
        return Err(PlanError::OverCapacity {
            needed: packing.arena,
            capacity,
            proven: lower > capacity,
        });
    }
    let plan = Plan {
        placements: packing
            .offsets
            .iter()
            .map(|&offset| Placement { buffer: 0, offset })
            .collect(),
        buffer_sizes: if usages.is_empty() {
            Vec::new()
        } else {
            vec![packing.arena]
        },
        load,
        optimal: packing.optimal,
        method: packing.method,
    };
    debug_assert_eq!(verify(usages, &limits, &plan), Ok(()));
    Ok(plan)
}

/// What the portfolio is after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Goal {
    /// The smallest arena (stop at LOAD).
    Smallest,
    /// Any arena within this capacity first, then the smallest.
    WithinThenSmallest(u64),
    /// Any arena within this capacity; stop there.
    Within(u64),
}

impl Goal {
    /// The capacity to fit first, if any.
    fn capacity(self) -> Option<u64> {
        match self {
            Goal::Smallest => None,
            Goal::WithinThenSmallest(c) | Goal::Within(c) => Some(c),
        }
    }

    /// The arena at which the portfolio may stop, given LOAD.
    fn good_enough(self, load: u64) -> u64 {
        match self {
            Goal::Within(c) => c.max(load),
            Goal::Smallest | Goal::WithinThenSmallest(_) => load,
        }
    }
}

/// The usages with sizes rounded up to `alignment`.
fn aligned(usages: &[Usage], alignment: u64) -> Vec<Usage> {
    usages
        .iter()
        .map(|u| Usage {
            size: align_up(u.size, alignment),
            ..*u
        })
        .collect()
}

/// The packing portfolio on one arena of `blocks` (aligned sizes, multiples of `alignment`).
///
/// - Two-sided packing when it applies (it always reaches LOAD).
/// - Each greedy pass of [`greedy::PASSES`] in turn, keeping the first smallest arena; stop at LOAD,
///   or within the capacity when that is the `goal`.
/// - Then the exact search within `budget` (see [`improve`]).
/// - Returns the packing and a lower bound: no arena below it exists (LOAD, or more when the exact
///   search proved it).
fn portfolio(
    blocks: &[Usage],
    load: u64,
    alignment: u64,
    goal: Goal,
    budget: &mut exact::Budget,
) -> (Packing, u64) {
    let neighbours = load::neighbours(blocks);
    if load::max_live_count(blocks) <= 2 {
        if let Some(packing) = two_sided::two_sided(blocks, &neighbours, load) {
            return (packing, load);
        }
    }
    let peaks = greedy::peaks(blocks);
    let mut best: Option<Packing> = None;
    let edges: usize = neighbours.iter().map(Vec::len).sum();
    let passes = (GREEDY_WORK / (edges + blocks.len() + 1)).clamp(2, greedy::PASSES.len());
    for (order, fit) in greedy::PASSES.into_iter().take(passes) {
        let packing = greedy::greedy(blocks, &neighbours, &peaks, order, fit);
        if best.as_ref().is_none_or(|b| packing.arena < b.arena) {
            best = Some(packing);
        }
        if best
            .as_ref()
            .is_some_and(|b| b.arena <= goal.good_enough(load))
        {
            break;
        }
    }
    let Some(mut best) = best else {
        // No usages: the empty packing is optimal.
        let empty = Packing {
            offsets: Vec::new(),
            arena: 0,
            method: "empty",
            optimal: true,
        };
        return (empty, 0);
    };
    if best.arena <= goal.good_enough(load) {
        best.optimal = best.arena == load;
        return (best, load);
    }
    improve(blocks, load, alignment, goal, best, budget)
}

/// Shrinks `best` with the exact search, within `budget`; returns it with the proven lower bound.
///
/// - With a capacity that `best` exceeds, first search for any packing within it, with half of
///   the budget ([`Goal::WithinThenSmallest`]) or all of it ([`Goal::Within`], which stops
///   there).
/// - Then try LOAD itself with a third of what is left (many instances reach it), or all of it
///   when the capacity is LOAD.
/// - Then descend: ask for any packing one alignment step smaller than the best so far, until the
///   budget runs out or that is proven impossible. Searches near a packing already found are
///   easier than a bisection's ambitious midpoints.
/// - [`Goal::Within`] stops as soon as the arena fits the capacity, or that is proven impossible.
/// - The result is optimal when the best arena is proven to be the smallest.
fn improve(
    blocks: &[Usage],
    load: u64,
    alignment: u64,
    goal: Goal,
    mut best: Packing,
    budget: &mut exact::Budget,
) -> (Packing, u64) {
    // Every arena below `lower` is proven infeasible.
    let mut lower = load;
    let adopt = |best: &mut Packing, offsets: Vec<u64>| {
        let arena = blocks
            .iter()
            .zip(&offsets)
            .map(|(b, o)| o + b.size)
            .max()
            .unwrap_or(0);
        debug_assert!(arena < best.arena);
        *best = Packing {
            offsets,
            arena,
            method: "exact",
            optimal: false,
        };
    };
    // Done: the goal is reached, or proven out of reach.
    let done = |best: &Packing, lower: u64| match goal {
        Goal::Within(capacity) => best.arena <= capacity || lower > capacity,
        Goal::Smallest | Goal::WithinThenSmallest(_) => lower >= best.arena,
    };
    let capacity = goal.capacity();
    if let Some(capacity) = capacity.filter(|&c| c < best.arena && c > load) {
        // Nothing else counts when any fit will do: all of the budget.
        let share = if matches!(goal, Goal::Within(_)) {
            1
        } else {
            2
        };
        match solve_with_share(blocks, capacity, budget, share) {
            exact::Outcome::Found(offsets) => adopt(&mut best, offsets),
            exact::Outcome::Infeasible => lower = capacity + 1,
            exact::Outcome::OutOfBudget => {}
        }
    }
    if !done(&best, lower) && !budget.spent() {
        // When the capacity is LOAD itself, nothing else will do: all of the budget.
        let share = if capacity.is_some_and(|c| c <= lower) {
            1
        } else {
            3
        };
        match solve_with_share(blocks, lower, budget, share) {
            exact::Outcome::Found(offsets) => adopt(&mut best, offsets),
            exact::Outcome::Infeasible => lower += alignment,
            exact::Outcome::OutOfBudget => {}
        }
    }
    while !done(&best, lower) && !budget.spent() {
        let target = best.arena - alignment;
        match exact::solve(blocks, target, budget) {
            exact::Outcome::Found(offsets) => adopt(&mut best, offsets),
            exact::Outcome::Infeasible => lower = target + alignment,
            exact::Outcome::OutOfBudget => {}
        }
    }
    best.optimal = lower >= best.arena;
    (best, lower)
}

/// Runs [`exact::solve`] for `capacity` with `1 / share` of what is left of `budget` (time and
/// work), charging what it used to `budget`.
fn solve_with_share(
    blocks: &[Usage],
    capacity: u64,
    budget: &mut exact::Budget,
    share: u32,
) -> exact::Outcome {
    let now = Instant::now();
    let mut part = exact::Budget {
        deadline: now + budget.deadline.saturating_duration_since(now) / share,
        max_work: budget.work + budget.max_work.saturating_sub(budget.work) / u64::from(share),
        ..*budget
    };
    let outcome = exact::solve(blocks, capacity, &mut part);
    (budget.work, budget.nodes) = (part.work, part.nodes);
    outcome
}
