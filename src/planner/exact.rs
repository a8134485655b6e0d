//! Exact branch-and-bound packing over canonical solutions, after MiniMalloc (Moffitt, ASPLOS 2023).

use std::time::Instant;

use super::Usage;

/// Time cut into sections: the spans between consecutive interval endpoints. Within a section the
/// set of live usages does not change.
pub(crate) struct Sections {
    /// Sorted, distinct endpoints: every `first` and every `last + 1`.
    bounds: Vec<u64>,
    /// For each block, the sections `lo..hi` it is live in.
    ranges: Vec<(usize, usize)>,
}

impl Sections {
    /// Cuts the time axis of `blocks` at every `first` and `last + 1`.
    pub(crate) fn new(blocks: &[Usage]) -> Sections {
        let mut bounds: Vec<u64> = blocks
            .iter()
            .flat_map(|b| [u64::from(b.first), u64::from(b.last) + 1])
            .collect();
        bounds.sort_unstable();
        bounds.dedup();
        let index = |t: u64| bounds.binary_search(&t).expect("endpoint is a bound");
        let ranges = blocks
            .iter()
            .map(|b| (index(u64::from(b.first)), index(u64::from(b.last) + 1)))
            .collect();
        Sections { bounds, ranges }
    }

    /// The number of sections.
    pub(crate) fn count(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    /// The sections `lo..hi` block `i` is live in (never empty).
    pub(crate) fn range(&self, i: usize) -> (usize, usize) {
        self.ranges[i]
    }

    /// Total size of the blocks live in each section.
    pub(crate) fn live_bytes(&self, blocks: &[Usage]) -> Vec<u64> {
        let mut delta = vec![0i128; self.count() + 1];
        for (b, &(lo, hi)) in blocks.iter().zip(&self.ranges) {
            delta[lo] += i128::from(b.size);
            delta[hi] -= i128::from(b.size);
        }
        let mut running = 0i128;
        delta[..self.count()]
            .iter()
            .map(|d| {
                running += d;
                running as u64
            })
            .collect()
    }
}

/// How much search is allowed: a wall-clock deadline and an amount of work, whichever ends first.
///
/// Work is counted in elementary steps (a block or a section visited), so that a cut-off search is
/// deterministic; the deadline keeps it bounded on a slow machine.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    /// Stop when this instant passes.
    pub(crate) deadline: Instant,
    /// Stop after this much work in total.
    pub(crate) max_work: u64,
    /// Work done so far.
    pub(crate) work: u64,
    /// Search nodes visited so far (the clock is read every 16).
    pub(crate) nodes: u64,
}

impl Budget {
    /// A budget of `max_work` until `deadline`, nothing used.
    pub(crate) fn new(deadline: Instant, max_work: u64) -> Budget {
        Budget {
            deadline,
            max_work,
            work: 0,
            nodes: 0,
        }
    }

    /// Counts one node costing `work`; false once the budget is spent.
    fn step(&mut self, work: usize) -> bool {
        self.work = self.work.saturating_add(work as u64);
        self.nodes += 1;
        if self.work > self.max_work {
            return false;
        }
        !self.nodes.is_multiple_of(16) || Instant::now() < self.deadline
    }

    /// True once the budget is spent.
    pub(crate) fn spent(&self) -> bool {
        self.work >= self.max_work || Instant::now() >= self.deadline
    }
}

/// What a bounded search found.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Offsets for every block, all within the capacity.
    Found(Vec<u64>),
    /// Proof that no packing fits the capacity.
    Infeasible,
    /// The budget ran out first.
    OutOfBudget,
}

/// Searches for a packing of `blocks` (aligned sizes) whose arena is at most `capacity`.
///
/// The level search ([`solve_with`]) follows MiniMalloc (Moffitt, "MiniMalloc: A Lightweight
/// Memory Allocator for Hardware-Accelerated Machine Learning", ASPLOS 2023):
///
/// - **Canonical solutions.** Push every block of a packing down until it rests on a block it meets
///   in time, or on offset 0. Sorted by offset, each block then sits exactly on the highest top
///   among the earlier blocks it meets. So it is enough to build packings block by block, each one
///   at the current *floor* of its sections (the highest top placed there), with offsets never
///   decreasing along the way (the last offset is the *level*; MiniMalloc's "monotonic floor").
///   Every packing has a canonical twin that is no larger, so the search is complete.
/// - **Branching.** At each node, the candidates are the unplaced blocks whose floor is at or above
///   the level; they are tried lowest floor first, then by a tie-break ([`Tie`]). A block whose
///   floor is below the level is stranded: it waits until a later block lifts it.
/// - **Dominance.** No candidate may go at or above the lowest top any unplaced block could have
///   (its floor plus its size): that block would fit in the gap underneath, and the packing with it
///   moved down is explored in another branch (MiniMalloc's dominance check).
/// - **Symmetry.** Blocks at the same offset never meet in time, so their order does not matter:
///   at an equal offset only a block later in the tie-break order than the previous one may follow.
///   Identical blocks (same size and interval) are placed in index order.
/// - **Lower bound.** In each section, the unplaced blocks live there all go above the level and
///   above their own floors, stacked: `lowest such offset + unplaced bytes <= capacity`, or the node
///   is cut (MiniMalloc's section inference with the unallocated floor). This also charges the
///   space a placement wastes under itself. A block that can no longer go at the level (stranded,
///   or passed over by the symmetry rule) will rest on a neighbour placed later, so it counts from
///   the level plus its smallest neighbour.
/// - **Forced moves.** A block whose neighbours in time are all placed can go nowhere but its floor,
///   and nothing unplaced cares where it is: it is placed at once, outside the sequence (the level
///   does not move), without branching.
/// - **Decomposition.** Parts of the timeline that no unplaced block joins are solved one after
///   the other, tightest first, each as a search of its own and each keeping its solution (see
///   [`Search::descend`]).
///
/// Around it:
///
/// - **Restarts.** Depth-first search pays dearly for one bad early choice, so this function takes
///   turns between tie-breaks, each with a work limit that grows every round (MiniMalloc's round
///   robin): a short probe ([`PROBE_WORK`]), then [`FIRST_ROUND_WORK`], doubling from there. Each
///   round tries the four of [`MAIN_TIES`] plus one more ([`EXTRA_TIES`], then shuffled ones). A
///   proof of infeasibility from any of them is final.
/// - **Two searches.** Each tie-break runs the level search, then the lowest-open-spot search
///   ([`solve_lowest`]) with a [`LOWEST_SHARE`] of the limit; that one branches on how the lowest
///   open byte of one section is covered and sometimes finds a perfect packing in a few hundred
///   nodes where the level search wanders.
/// - Deterministic: the same input and budget explore the same nodes in the same order.
pub(crate) fn solve(blocks: &[Usage], capacity: u64, budget: &mut Budget) -> Outcome {
    let mut limit = PROBE_WORK;
    let mut extras = EXTRA_TIES.into_iter().chain((1..).map(Tie::Shuffled));
    loop {
        let ties = MAIN_TIES.into_iter().chain(extras.next());
        for (tie, lowest_spot) in ties.flat_map(|t| [(t, false), (t, true)]) {
            let this_limit = if lowest_spot {
                limit / LOWEST_SHARE
            } else {
                limit
            };
            let mut round = Budget {
                max_work: budget.max_work.min(budget.work.saturating_add(this_limit)),
                ..*budget
            };
            let outcome = if lowest_spot {
                solve_lowest(blocks, capacity, tie, &mut round)
            } else {
                solve_with(blocks, capacity, tie, &mut round)
            };
            (budget.work, budget.nodes) = (round.work, round.nodes);
            match outcome {
                Outcome::OutOfBudget if !budget.spent() => {}
                decided_or_spent => return decided_or_spent,
            }
        }
        limit = if limit < FIRST_ROUND_WORK {
            FIRST_ROUND_WORK
        } else {
            limit.saturating_mul(2)
        };
    }
}

/// Work each tie-break gets in the probe round of [`solve`]: instances that some tie-break solves
/// at once (a few hundred nodes) come back in milliseconds.
const PROBE_WORK: u64 = 1_000_000;

/// Work each tie-break gets in the round after the probe; each later round doubles it. On
/// MiniMalloc's suite, smaller rounds only add rounds: the instances that the probe misses need
/// 5–50 million work with the right tie-break.
const FIRST_ROUND_WORK: u64 = 16_000_000;

/// The lowest-open-spot search ([`solve_lowest`]) gets this fraction of each round's work limit:
/// it either finds a packing within a few thousand nodes or wanders, so short runs pay off.
const LOWEST_SHARE: u64 = 16;

/// The tie-breaks every round of [`solve`] tries, in this order: [`Tie::Start`], then MiniMalloc's
/// preorderings "TWA", "TAW" and "WAT". Between them they solve all eleven instances of
/// MiniMalloc's challenging suite: B, C and G at once with [`Tie::Start`], E only with
/// [`Tie::TotalLength`].
const MAIN_TIES: [Tie; 4] = [Tie::Start, Tie::TotalLength, Tie::Total, Tie::Length];

/// The tie-breaks [`solve`] adds one per round after [`MAIN_TIES`], before the shuffled ones.
const EXTRA_TIES: [Tie; 4] = [Tie::Area, Tie::StartLength, Tie::Size, Tie::End];

/// How candidates on the same floor are ordered (ties fall back to the index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tie {
    /// Earliest `first`, then largest size: fill the timeline left to right.
    Start,
    /// Longest interval, then largest size (MiniMalloc's "WAT": width, area, total).
    Length,
    /// Largest area (size × interval length).
    Area,
    /// Earliest `first`, then longest interval.
    StartLength,
    /// Largest size, then longest interval.
    Size,
    /// Latest `last`, then largest size: fill the timeline right to left.
    End,
    /// Highest peak of live bytes over the block's sections, then largest area, then longest
    /// (MiniMalloc's "TAW"). The peak counts only unplaced bytes once the search splits the
    /// timeline ([`Search::rerank`]): the blocks of the tightest spot left go first.
    Total,
    /// Highest peak of live (then unplaced) bytes over the block's sections, then longest, then
    /// largest size (MiniMalloc's "TWA").
    TotalLength,
    /// Largest area scaled by a pseudo-random factor from 0.5 to 1.5 drawn from this seed: a
    /// different but still sensible order for each restart.
    Shuffled(u64),
}

/// The sort key of block `b` (index `i`) under `tie`, smaller first; `peak` is the highest total
/// of live (or, after a decomposition, unplaced) bytes over its sections.
fn rank_key(tie: Tie, b: &Usage, i: u32, peak: u64) -> (u128, u128, u64) {
    let length = u64::from(b.last - b.first) + 1;
    let area = u128::from(b.size) * u128::from(length);
    let most = |x: u64| u128::from(u64::MAX - x);
    match tie {
        Tie::Start => (u128::from(b.first), 0, u64::MAX - b.size),
        Tie::Length => (most(length), 0, u64::MAX - b.size),
        Tie::Area => (u128::MAX - area, 0, 0),
        Tie::StartLength => (u128::from(b.first), 0, u64::MAX - length),
        Tie::Size => (most(b.size), 0, u64::MAX - length),
        Tie::End => (u128::from(u32::MAX - b.last), 0, u64::MAX - b.size),
        Tie::Total => (most(peak), u128::MAX - area, u64::MAX - length),
        Tie::TotalLength => (most(peak), most(length), u64::MAX - b.size),
        Tie::Shuffled(seed) => {
            let factor = u128::from(512 + mix(seed, u64::from(i)) % 1024);
            (u128::MAX - area * factor, 0, 0)
        }
    }
}

/// A pseudo-random number from `seed` and `value` (the SplitMix64 finaliser).
fn mix(seed: u64, value: u64) -> u64 {
    let mut z = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(value);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One depth-first search of [`solve`] with a fixed tie-break.
fn solve_with(blocks: &[Usage], capacity: u64, tie: Tie, budget: &mut Budget) -> Outcome {
    let mut search = Search::new(blocks, capacity, tie, budget);
    if !search.root_fits() {
        return Outcome::Infeasible;
    }
    match search.run() {
        Step::Found => Outcome::Found(search.offsets),
        Step::Exhausted => Outcome::Infeasible,
        Step::Stopped => Outcome::OutOfBudget,
    }
}

/// The result of exploring one subtree.
enum Step {
    /// Every block is placed (the state holds the packing).
    Found,
    /// No packing below this node.
    Exhausted,
    /// The budget ran out.
    Stopped,
}

/// Marks an unplaced block in [`Search::offsets`].
const UNPLACED: u64 = u64::MAX;

/// What [`Search::place`] saves for [`Search::unplace`].
struct Saved {
    level: u64,
    last: Option<u32>,
    trail: usize,
}

/// The state of one branch-and-bound search.
struct Search<'a> {
    /// The blocks, with aligned sizes.
    blocks: &'a [Usage],
    /// The arena must not exceed this.
    capacity: u64,
    /// Sections `lo..hi` of each block.
    ranges: Vec<(usize, usize)>,
    /// Blocks meeting each block in time.
    neighbours: Vec<Vec<u32>>,
    /// The previous identical block (same size and interval), which must be placed first.
    twin_before: Vec<Option<u32>>,
    /// Size of the smallest block meeting each block in time (0 if none).
    smallest_neighbour: Vec<u64>,
    /// Tie-break key of each block among candidates at the same floor (smaller first).
    rank: Vec<u32>,
    /// Offset of each block, or [`UNPLACED`].
    offsets: Vec<u64>,
    /// Highest top placed in each section.
    floor: Vec<u64>,
    /// Total size of the unplaced blocks live in each section.
    unplaced: Vec<u64>,
    /// For each unplaced block, the highest floor over its sections.
    block_floor: Vec<u64>,
    /// For each block, how many of its neighbours are unplaced.
    open_neighbours: Vec<u32>,
    /// Offset of the last block placed in sequence: later ones go at or above it.
    level: u64,
    /// Index of the last block placed in sequence (for the symmetry rule at equal offsets).
    last: Option<u32>,
    /// Every placed block, in placement order (sequence and forced moves), with the length of
    /// `undo_block_floor` before it.
    trail: Vec<(u32, usize)>,
    /// Saved (block, old block floor) pairs, undone on backtrack.
    undo_block_floor: Vec<(u32, u64)>,
    /// Saved section floors, undone on backtrack.
    undo_floor: Vec<u64>,
    /// Largest `unplaced` over sections `..=s` and over sections `s..` (rebuilt at each node).
    prefix_max: Vec<u64>,
    suffix_max: Vec<u64>,
    /// Scratch: the lowest offset any unplaced block live in each section may take.
    lowest: Vec<u64>,
    /// Scratch for [`Search::components`]: blocks crossing each section boundary.
    crossing: Vec<i32>,
    /// What is left of the search budget.
    budget: &'a mut Budget,
    /// The tie-break the ranks come from.
    tie: Tie,
    /// Saved (block, old rank) pairs, undone when a decomposition fails.
    undo_rank: Vec<(u32, u32)>,
}

impl<'a> Search<'a> {
    /// The root state: nothing placed.
    fn new(blocks: &'a [Usage], capacity: u64, tie: Tie, budget: &'a mut Budget) -> Search<'a> {
        let sections = Sections::new(blocks);
        let ranges: Vec<(usize, usize)> = (0..blocks.len()).map(|i| sections.range(i)).collect();
        let mut twin_before = vec![None; blocks.len()];
        let mut by_shape: Vec<u32> = (0..blocks.len() as u32).collect();
        by_shape.sort_by_key(|&i| {
            let b = blocks[i as usize];
            (b.size, b.first, b.last, i)
        });
        for pair in by_shape.windows(2) {
            if blocks[pair[0] as usize] == blocks[pair[1] as usize] {
                twin_before[pair[1] as usize] = Some(pair[0]);
            }
        }
        let live = sections.live_bytes(blocks);
        let mut by_rank: Vec<u32> = (0..blocks.len() as u32).collect();
        by_rank.sort_by_cached_key(|&i| {
            let (lo, hi) = ranges[i as usize];
            let peak = live[lo..hi].iter().copied().max().unwrap_or(0);
            (rank_key(tie, &blocks[i as usize], i, peak), i)
        });
        let mut rank = vec![0u32; blocks.len()];
        for (r, &i) in by_rank.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        let neighbours = super::load::neighbours(blocks);
        let open_neighbours = neighbours.iter().map(|n| n.len() as u32).collect();
        let smallest_neighbour = neighbours
            .iter()
            .map(|n| {
                n.iter()
                    .map(|&j| blocks[j as usize].size)
                    .min()
                    .unwrap_or(0)
            })
            .collect();
        Search {
            blocks,
            capacity,
            twin_before,
            smallest_neighbour,
            rank,
            offsets: vec![UNPLACED; blocks.len()],
            floor: vec![0; sections.count()],
            unplaced: sections.live_bytes(blocks),
            block_floor: vec![0; blocks.len()],
            open_neighbours,
            neighbours,
            level: 0,
            last: None,
            trail: Vec::with_capacity(blocks.len()),
            undo_block_floor: Vec::new(),
            undo_floor: Vec::new(),
            prefix_max: vec![0; sections.count()],
            suffix_max: vec![0; sections.count() + 1],
            lowest: vec![0; sections.count()],
            crossing: vec![0; sections.count() + 1],
            ranges,
            budget,
            tie,
            undo_rank: Vec::new(),
        }
    }

    /// The lower bound at the root: LOAD fits the capacity.
    fn root_fits(&self) -> bool {
        self.unplaced.iter().all(|&bytes| bytes <= self.capacity)
    }

    /// Places every block, starting with the forced moves of blocks that meet nothing.
    fn run(&mut self) -> Step {
        let lonely: Vec<u32> = (0..self.blocks.len() as u32)
            .filter(|&i| self.open_neighbours[i as usize] == 0)
            .collect();
        if !lonely.iter().all(|&i| self.put(i)) {
            return Step::Exhausted;
        }
        let all: Vec<u32> = (0..self.blocks.len() as u32).collect();
        self.descend(&all)
    }

    /// Explores every canonical completion of the current state for the blocks of `scope`, leaving
    /// them placed on [`Step::Found`].
    ///
    /// - **Decomposition.** When no unplaced block of the scope crosses some section boundary, the
    ///   two sides share no section and no neighbour: each side is solved on its own, and once one
    ///   side is solved its choices are kept, since they cannot help or hurt the other. This stops
    ///   the search from re-solving one part of the timeline for every failure in another.
    /// - Each part is a canonical search of its own, as in MiniMalloc's dynamic decomposition: any
    ///   packing of its blocks (above the blocks already placed) goes with any packing of the other
    ///   parts, so the canonical argument applies to the part alone and its level starts again
    ///   from 0. The [`Tie::Total`] tie-breaks rank its blocks again by the bytes left to place
    ///   ([`Search::rerank`]).
    fn descend(&mut self, scope: &[u32]) -> Step {
        let open: Vec<u32> = scope
            .iter()
            .copied()
            .filter(|&i| self.offsets[i as usize] == UNPLACED)
            .collect();
        if open.is_empty() {
            return Step::Found;
        }
        if !self.budget.step(open.len()) {
            return Step::Stopped;
        }
        let span = self.span(&open);
        if let Some(mut parts) = self.components(&open, span) {
            // Fail first: the part whose tightest section has the least slack goes first.
            parts.sort_by_cached_key(|part| {
                let (lo, hi) = self.span(part);
                (lo..hi)
                    .map(|s| self.capacity - (self.floor[s] + self.unplaced[s]).min(self.capacity))
                    .min()
                    .unwrap_or(0)
            });
            let saved = self.save();
            let saved_ranks = self.undo_rank.len();
            for part in parts {
                // Each part is a search of its own: its level starts from the bottom again.
                self.level = 0;
                self.last = None;
                self.rerank(&part);
                match self.descend(&part) {
                    Step::Found => {}
                    Step::Exhausted => {
                        self.unplace(saved);
                        self.restore_ranks(saved_ranks);
                        return Step::Exhausted;
                    }
                    Step::Stopped => return Step::Stopped,
                }
            }
            return Step::Found;
        }
        self.budget.work += (span.1 - span.0) as u64;
        if !self.sections_fit(&open, span) {
            return Step::Exhausted;
        }
        self.rebuild_maxima(span);
        for i in self.candidates(&open, span) {
            let saved = self.save();
            if self.place(i) {
                match self.descend(&open) {
                    Step::Exhausted => {}
                    found_or_stopped => return found_or_stopped,
                }
            }
            self.unplace(saved);
        }
        Step::Exhausted
    }

    /// For the [`Tie::Total`] tie-breaks: ranks the blocks of `part` again by the peak of the
    /// *unplaced* bytes over their sections, as MiniMalloc does for each part it splits off.
    fn rerank(&mut self, part: &[u32]) {
        if !matches!(self.tie, Tie::Total | Tie::TotalLength) {
            return;
        }
        let mut order: Vec<(u32, u32)> = part.iter().map(|&i| (self.rank[i as usize], i)).collect();
        order.sort_by_cached_key(|&(_, i)| {
            let (lo, hi) = self.ranges[i as usize];
            let peak = self.unplaced[lo..hi].iter().copied().max().unwrap_or(0);
            (rank_key(self.tie, &self.blocks[i as usize], i, peak), i)
        });
        let mut ranks: Vec<u32> = order.iter().map(|&(r, _)| r).collect();
        ranks.sort_unstable();
        for (&(_, i), &r) in order.iter().zip(&ranks) {
            self.undo_rank.push((i, self.rank[i as usize]));
            self.rank[i as usize] = r;
        }
    }

    /// Restores the ranks saved since `mark`.
    fn restore_ranks(&mut self, mark: usize) {
        while self.undo_rank.len() > mark {
            let (i, old) = self.undo_rank.pop().expect("length checked");
            self.rank[i as usize] = old;
        }
    }

    /// The sections `lo..hi` spanned by the blocks of `open`.
    fn span(&self, open: &[u32]) -> (usize, usize) {
        open.iter()
            .map(|&i| self.ranges[i as usize])
            .fold((usize::MAX, 0), |(lo, hi), (l, h)| (lo.min(l), hi.max(h)))
    }

    /// Splits the unplaced blocks `open`, spanning the sections `lo..hi`, into groups that share no
    /// section boundary crossing; `None` when they form one group (most nodes).
    fn components(&mut self, open: &[u32], (lo, hi): (usize, usize)) -> Option<Vec<Vec<u32>>> {
        // crossing[b - lo]: blocks that are live on both sides of boundary b (between sections
        // b - 1 and b), as a difference array.
        let crossing = &mut self.crossing[..=hi - lo];
        crossing.fill(0);
        for &i in open {
            let (l, h) = self.ranges[i as usize];
            crossing[l + 1 - lo] += 1;
            crossing[h - lo] -= 1;
        }
        let mut running = 0;
        let split = (1..hi - lo).any(|b| {
            running += crossing[b];
            running == 0
        });
        if !split {
            return None;
        }
        let mut part_of_section = vec![0usize; hi - lo];
        let mut part = 0;
        let mut running = 0;
        for s in lo..hi {
            running += crossing[s - lo];
            if s > lo && running == 0 {
                part += 1;
            }
            part_of_section[s - lo] = part;
        }
        let mut parts = vec![Vec::new(); part + 1];
        for &i in open {
            parts[part_of_section[self.ranges[i as usize].0 - lo]].push(i);
        }
        parts.retain(|p| !p.is_empty());
        Some(parts)
    }

    /// The lower bound with the unplaced floor: in each section, every unplaced block live there
    /// goes at or above its own floor (the highest floor over all its sections) and the level, so
    /// the lowest of them, plus the unplaced bytes there, must fit the capacity.
    fn sections_fit(&mut self, open: &[u32], (lo, hi): (usize, usize)) -> bool {
        self.lowest[lo..hi].fill(u64::MAX);
        let last_rank = self.last.map(|l| self.rank[l as usize]);
        for &i in open {
            let floor = self.block_floor[i as usize];
            // A block that cannot go at the level any more (stranded, or on the level but before
            // the last block in the tie-break order) must be lifted by a neighbour placed later.
            let blocked = floor < self.level
                || (floor == self.level && last_rank.is_some_and(|r| self.rank[i as usize] < r));
            let at = if blocked {
                self.level + self.smallest_neighbour[i as usize]
            } else {
                floor
            };
            let (l, h) = self.ranges[i as usize];
            self.budget.work += (h - l) as u64;
            for lowest in &mut self.lowest[l..h] {
                *lowest = (*lowest).min(at);
            }
        }
        self.lowest[lo..hi]
            .iter()
            .zip(&self.unplaced[lo..hi])
            .all(|(&lowest, &bytes)| bytes == 0 || lowest + bytes <= self.capacity)
    }

    /// Rebuilds [`Search::prefix_max`] and [`Search::suffix_max`] from `unplaced`.
    /// Only the sections `lo..hi` of the current scope count; the others read as 0.
    fn rebuild_maxima(&mut self, (lo, hi): (usize, usize)) {
        let mut running = 0;
        for s in lo..hi {
            running = running.max(self.unplaced[s]);
            self.prefix_max[s] = running;
        }
        running = 0;
        self.suffix_max[hi] = 0;
        for s in (lo..hi).rev() {
            running = running.max(self.unplaced[s]);
            self.suffix_max[s] = running;
        }
    }

    /// The unplaced blocks that may go next, in the order to try them.
    ///
    /// - Its floor is at or above the level (stranded blocks wait), it fits below the capacity, and
    ///   raising the level to its floor leaves room for the unplaced bytes of every section
    ///   outside its own.
    /// - Dominance (MiniMalloc's check): its floor is below `min_height`, the lowest top any
    ///   unplaced block of the scope could reach. Placed at or above it, it would leave a gap
    ///   under it that such a block fits in, and moving that block down would give a packing with
    ///   a smaller sum of offsets. A packing that fits with the smallest sum of offsets is never
    ///   cut this way, so the search stays complete.
    /// - Lowest floor first, then the tie-break rank.
    fn candidates(&self, open: &[u32], (span_lo, _): (usize, usize)) -> Vec<u32> {
        let min_height = open
            .iter()
            .filter(|&&i| self.offsets[i as usize] == UNPLACED)
            .map(|&i| self.block_floor[i as usize] + self.blocks[i as usize].size)
            .min()
            .unwrap_or(u64::MAX);
        let mut list: Vec<u32> = open
            .iter()
            .copied()
            .filter(|&i| {
                let i_us = i as usize;
                if self.offsets[i_us] != UNPLACED {
                    return false;
                }
                let at = self.block_floor[i_us];
                if at < self.level
                    || at >= min_height
                    || at + self.blocks[i_us].size > self.capacity
                {
                    return false;
                }
                if at == self.level
                    && self
                        .last
                        .is_some_and(|last| self.rank[i_us] < self.rank[last as usize])
                {
                    return false;
                }
                let (lo, hi) = self.ranges[i_us];
                let before = if lo == span_lo {
                    0
                } else {
                    self.prefix_max[lo - 1]
                };
                if at + before.max(self.suffix_max[hi]) > self.capacity {
                    return false;
                }
                self.twin_before[i_us].is_none_or(|t| self.offsets[t as usize] != UNPLACED)
            })
            .collect();
        list.sort_by_key(|&i| (self.block_floor[i as usize], self.rank[i as usize]));
        list
    }

    /// What [`Search::unplace`] needs to undo the next placements.
    fn save(&self) -> Saved {
        Saved {
            level: self.level,
            last: self.last,
            trail: self.trail.len(),
        }
    }

    /// Places block `i` on its floor as the next of the sequence, then every block this leaves
    /// with all neighbours placed; false if the lower bound cuts the node (the caller still calls
    /// [`Search::unplace`]).
    fn place(&mut self, i: u32) -> bool {
        self.level = self.block_floor[i as usize];
        self.last = Some(i);
        let mut fits = self.put(i);
        let mut k = self.trail.len() - 1;
        while k < self.trail.len() {
            let placed = self.trail[k].0;
            for n in 0..self.neighbours[placed as usize].len() {
                let j = self.neighbours[placed as usize][n];
                if self.offsets[j as usize] == UNPLACED && self.open_neighbours[j as usize] == 0 {
                    fits &= self.put(j);
                }
            }
            k += 1;
        }
        fits
    }

    /// Puts block `i` at its floor and updates sections, neighbours and the trail; false if a
    /// section of it breaks the lower bound.
    fn put(&mut self, i: u32) -> bool {
        let size = self.blocks[i as usize].size;
        let offset = self.block_floor[i as usize];
        let top = offset + size;
        self.offsets[i as usize] = offset;
        self.trail.push((i, self.undo_block_floor.len()));
        let (lo, hi) = self.ranges[i as usize];
        self.budget.work += (hi - lo + self.neighbours[i as usize].len()) as u64;
        let mut fits = true;
        for s in lo..hi {
            self.undo_floor.push(self.floor[s]);
            self.floor[s] = top;
            self.unplaced[s] -= size;
            fits &= top + self.unplaced[s] <= self.capacity;
        }
        for n in 0..self.neighbours[i as usize].len() {
            let j = self.neighbours[i as usize][n] as usize;
            self.open_neighbours[j] -= 1;
            let old = self.block_floor[j];
            if self.offsets[j] == UNPLACED && old < top {
                self.undo_block_floor.push((j as u32, old));
                self.block_floor[j] = top;
            }
        }
        fits
    }

    /// Undoes every placement since `saved` was taken.
    fn unplace(&mut self, saved: Saved) {
        while self.trail.len() > saved.trail {
            let (i, undo_to) = self.trail.pop().expect("length checked");
            let size = self.blocks[i as usize].size;
            for &j in &self.neighbours[i as usize] {
                self.open_neighbours[j as usize] += 1;
            }
            while self.undo_block_floor.len() > undo_to {
                let (j, old) = self.undo_block_floor.pop().expect("length checked");
                self.block_floor[j as usize] = old;
            }
            let (lo, hi) = self.ranges[i as usize];
            for s in (lo..hi).rev() {
                self.floor[s] = self.undo_floor.pop().expect("saved by put");
                self.unplaced[s] += size;
            }
            self.offsets[i as usize] = UNPLACED;
        }
        self.level = saved.level;
        self.last = saved.last;
    }
}

/// One depth-first search that fills the lowest open spot first, with a fixed tie-break.
///
/// - **Lowest open spot.** Let `F` be the lowest floor over the sections that still have unplaced
///   bytes, and `s` any section at `F`. In a canonical packing, whatever covers offset `F` in
///   section `s` is an unplaced block placed exactly at `F`, so its block floor (the highest floor
///   over its sections) is `F`: every section of it is at `F`. The branches are: each such block
///   placed at `F` (a placement never creates dead space), or the spot left empty: the floor of
///   `s` rises to the lowest offset any unplaced block live there can still take (its block floor,
///   or `F` plus its smallest neighbour when it would need lifting). Every packing is reached
///   along exactly one path (no symmetric twins among blocks on one offset), and identical blocks
///   go in index order.
/// - **Fail first.** `s` is the section at `F` with the fewest ways to cover that byte (blocks,
///   plus leaving it empty when its slack `capacity - F - unplaced` allows), then the least slack:
///   with LOAD = capacity the peak sections allow no empty spot, so they often have one way only.
/// - **Bound.** In each section, the lowest block floor of its unplaced blocks plus its unplaced
///   bytes must fit the capacity (dead space may not exceed the slack). Block floors are kept
///   incrementally; after a placement or a raise only the sections of blocks whose block floor
///   rose are checked.
fn solve_lowest(blocks: &[Usage], capacity: u64, tie: Tie, budget: &mut Budget) -> Outcome {
    let sections = Sections::new(blocks);
    let count = sections.count();
    let ranges: Vec<(usize, usize)> = (0..blocks.len()).map(|i| sections.range(i)).collect();
    let search = Search::new(blocks, capacity, tie, budget);
    let rank = search.rank.clone();
    let twin_before = search.twin_before.clone();
    let smallest_neighbour = search.smallest_neighbour.clone();
    let budget = search.budget;
    let mut live_in: Vec<Vec<u32>> = vec![Vec::new(); count];
    let mut order: Vec<u32> = (0..blocks.len() as u32).collect();
    order.sort_by_key(|&i| rank[i as usize]);
    for &i in &order {
        let (lo, hi) = ranges[i as usize];
        for list in &mut live_in[lo..hi] {
            list.push(i);
        }
    }
    let mut lowest = Lowest {
        blocks,
        capacity,
        ranges,
        live_in,
        twin_before,
        smallest_neighbour,
        offsets: vec![UNPLACED; blocks.len()],
        floor: vec![0; count],
        unplaced: sections.live_bytes(blocks),
        remaining: blocks.len(),
        block_floor: vec![0; blocks.len()],
        undo: Vec::new(),
        neighbours: super::load::neighbours(blocks),
        stamp: vec![0; count],
        checks: 0,
        budget,
    };
    if lowest.unplaced.iter().any(|&bytes| bytes > capacity) {
        return Outcome::Infeasible;
    }
    let step = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(1 << 28)
            .spawn_scoped(scope, || {
                let step = lowest.run();
                (step, lowest)
            })
            .expect("search thread")
            .join()
            .expect("search thread finished")
    });
    let (step, lowest) = step;
    match step {
        Step::Found => Outcome::Found(lowest.offsets),
        Step::Exhausted => Outcome::Infeasible,
        Step::Stopped => Outcome::OutOfBudget,
    }
}

/// The state of [`solve_lowest`].
struct Lowest<'a> {
    blocks: &'a [Usage],
    capacity: u64,
    ranges: Vec<(usize, usize)>,
    /// Blocks live in each section.
    live_in: Vec<Vec<u32>>,
    /// Blocks meeting each block in time.
    neighbours: Vec<Vec<u32>>,
    twin_before: Vec<Option<u32>>,
    smallest_neighbour: Vec<u64>,
    offsets: Vec<u64>,
    /// Lowest offset still open in each section.
    floor: Vec<u64>,
    /// Unplaced bytes live in each section.
    unplaced: Vec<u64>,
    /// For each unplaced block, the highest floor over its sections.
    block_floor: Vec<u64>,
    /// Saved (block, old block floor) pairs, undone on backtrack.
    undo: Vec<(u32, u64)>,
    /// Unplaced blocks.
    remaining: usize,
    /// Scratch for [`Lowest::check`]: the node each section was last checked at.
    stamp: Vec<u64>,
    /// Calls of [`Lowest::check`] so far.
    checks: u64,
    budget: &'a mut Budget,
}

impl Lowest<'_> {
    /// Raises the block floor of each unplaced block of `list` to at least `top`, saving the old
    /// ones.
    fn lift(&mut self, list_of: Result<usize, usize>, top: u64) {
        let list = match list_of {
            Ok(block) => &self.neighbours[block],
            Err(section) => &self.live_in[section],
        };
        self.budget.work += list.len() as u64;
        for &j in list {
            let j = j as usize;
            if self.offsets[j] == UNPLACED && self.block_floor[j] < top {
                self.undo.push((j as u32, self.block_floor[j]));
                self.block_floor[j] = top;
            }
        }
    }

    /// Restores the block floors saved since `mark`.
    fn restore(&mut self, mark: usize) {
        while self.undo.len() > mark {
            let (j, old) = self.undo.pop().expect("length checked");
            self.block_floor[j as usize] = old;
        }
    }

    /// After the block floors saved since `mark` rose: in every section of those blocks, the
    /// lowest block floor of its unplaced blocks plus its unplaced bytes must fit the capacity.
    fn check(&mut self, mark: usize) -> bool {
        self.checks += 1;
        let node = self.checks;
        let mut work = 0;
        let mut fits = true;
        'blocks: for k in mark..self.undo.len() {
            let (lo, hi) = self.ranges[self.undo[k].0 as usize];
            for t in lo..hi {
                if self.stamp[t] == node {
                    continue;
                }
                self.stamp[t] = node;
                let limit = self.capacity - self.unplaced[t];
                work += self.live_in[t].len();
                if !self.live_in[t].iter().any(|&j| {
                    self.offsets[j as usize] == UNPLACED && self.block_floor[j as usize] <= limit
                }) {
                    fits = false;
                    break 'blocks;
                }
            }
        }
        self.budget.work += work as u64;
        fits
    }

    fn run(&mut self) -> Step {
        if self.remaining == 0 {
            return Step::Found;
        }
        let count = self.floor.len();
        if !self.budget.step(count) {
            return Step::Stopped;
        }
        let mut s = usize::MAX;
        let mut at = u64::MAX;
        for t in 0..count {
            if self.unplaced[t] > 0 && self.floor[t] < at {
                at = self.floor[t];
                s = t;
            }
        }
        // Fail first: among the sections at the lowest floor, branch on the one with the fewest
        // ways to cover its lowest open byte (blocks that can go there, plus leaving it empty
        // when its slack allows).
        let mut fewest = (usize::MAX, u64::MAX);
        let mut work = 0;
        let lowest_section = s;
        for t in lowest_section..count {
            if self.floor[t] != at || self.unplaced[t] == 0 {
                continue;
            }
            let slack = self.capacity - at - self.unplaced[t];
            let mut ways = usize::from(slack > 0);
            work += self.live_in[t].len();
            for &j in &self.live_in[t] {
                let j = j as usize;
                if self.offsets[j] == UNPLACED
                    && self.block_floor[j] == at
                    && self.twin_before[j].is_none_or(|p| self.offsets[p as usize] != UNPLACED)
                {
                    ways += 1;
                }
            }
            let key = (ways, slack);
            if key < fewest {
                fewest = key;
                s = t;
                if ways <= 1 && slack == 0 {
                    break;
                }
            }
        }
        self.budget.work += work as u64;
        for k in 0..self.live_in[s].len() {
            let i = self.live_in[s][k] as usize;
            if self.offsets[i] != UNPLACED || self.block_floor[i] != at {
                continue;
            }
            if self.twin_before[i].is_some_and(|t| self.offsets[t as usize] == UNPLACED) {
                continue;
            }
            let size = self.blocks[i].size;
            if at + size > self.capacity {
                continue;
            }
            let (lo, hi) = self.ranges[i];
            self.budget.work += (hi - lo) as u64;
            for t in lo..hi {
                self.floor[t] = at + size;
                self.unplaced[t] -= size;
            }
            self.offsets[i] = at;
            self.remaining -= 1;
            let mark = self.undo.len();
            self.lift(Ok(i), at + size);
            let step = if self.check(mark) {
                self.run()
            } else {
                Step::Exhausted
            };
            if matches!(step, Step::Found) {
                return step;
            }
            self.restore(mark);
            self.remaining += 1;
            self.offsets[i] = UNPLACED;
            for t in lo..hi {
                self.floor[t] = at;
                self.unplaced[t] += size;
            }
            match step {
                Step::Exhausted => {}
                found_or_stopped => return found_or_stopped,
            }
        }
        // Leave the spot empty: raise the floor of `s` to where an unplaced block may go next.
        let mut raise = u64::MAX;
        for &i in &self.live_in[s] {
            let i = i as usize;
            if self.offsets[i] != UNPLACED {
                continue;
            }
            let floor = self.block_floor[i];
            let next = if floor > at {
                floor
            } else {
                at + self.smallest_neighbour[i].max(1)
            };
            raise = raise.min(next);
        }
        if raise == u64::MAX || raise + self.unplaced[s] > self.capacity {
            return Step::Exhausted;
        }
        self.floor[s] = raise;
        let mark = self.undo.len();
        self.lift(Err(s), raise);
        let step = if self.check(mark) {
            self.run()
        } else {
            Step::Exhausted
        };
        if !matches!(step, Step::Found) {
            self.restore(mark);
            self.floor[s] = at;
        }
        step
    }
}
