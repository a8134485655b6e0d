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

/// How much search is allowed: a wall-clock deadline and a node count, whichever ends first.
///
/// The node count makes a cut-off search deterministic; the deadline keeps it bounded on a slow
/// machine.
pub(crate) struct Budget {
    /// Stop when this instant passes.
    pub(crate) deadline: Instant,
    /// Stop after this many search nodes in total.
    pub(crate) max_nodes: u64,
    /// Search nodes used so far.
    pub(crate) nodes: u64,
}

impl Budget {
    /// Counts one node; false once the budget is spent.
    fn step(&mut self) -> bool {
        self.nodes += 1;
        if self.nodes > self.max_nodes {
            return false;
        }
        // Reading the clock costs more than a node, so look at it every 256 nodes.
        self.nodes % 256 != 0 || Instant::now() < self.deadline
    }

    /// True once the budget is spent.
    pub(crate) fn spent(&self) -> bool {
        self.nodes >= self.max_nodes || Instant::now() >= self.deadline
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
/// - **Canonical solutions.** Push every block of a packing down until it rests on a block it meets
///   in time, or on offset 0. Sorted by offset (then index), each block then sits exactly on the
///   highest top among the earlier blocks it meets. So it is enough to build packings block by
///   block, each one at the current *floor* of its sections (the highest top placed there), with
///   offsets never decreasing along the way: the *level*. Every packing has a canonical twin that is
///   no larger, so the search is complete.
/// - **Branching.** At each node, the candidates are the unplaced blocks whose floor is at or above
///   the level; they are tried lowest floor first, then by the tie-break of [`Search::rank`]. A
///   block whose floor is below the level is stranded: it waits until a later block lifts it.
/// - **Symmetry.** Blocks at the same offset never meet in time, so their order does not matter:
///   at an equal offset only a higher index than the previous block's may follow. Identical blocks
///   (same size and interval) are placed in index order.
/// - **Lower bound.** In each section, the unplaced blocks live there all go above both the
///   section's floor and the level, stacked: `max(floor, level) + unplaced bytes <= capacity`, or
///   the node is cut. This also charges the space a placement wastes under itself.
/// - Deterministic: the same input and budget explore the same nodes in the same order.
pub(crate) fn solve(blocks: &[Usage], capacity: u64, budget: &mut Budget) -> Outcome {
    let mut search = Search::new(blocks, capacity, budget);
    if !search.root_fits() {
        return Outcome::Infeasible;
    }
    match search.descend(0) {
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
    /// Offset of the last placed block: later blocks go at or above it.
    level: u64,
    /// Index of the last placed block (for the symmetry rule at equal offsets).
    last: Option<u32>,
    /// Saved (block, old block floor) pairs, undone on backtrack.
    undo_block_floor: Vec<(u32, u64)>,
    /// Saved section floors, undone on backtrack.
    undo_floor: Vec<u64>,
    /// What is left of the search budget.
    budget: &'a mut Budget,
}

impl<'a> Search<'a> {
    /// The root state: nothing placed.
    fn new(blocks: &'a [Usage], capacity: u64, budget: &'a mut Budget) -> Search<'a> {
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
        // Tie-break among candidates at one floor: longest interval, then largest size.
        let mut by_rank: Vec<u32> = (0..blocks.len() as u32).collect();
        by_rank.sort_by_key(|&i| {
            let b = blocks[i as usize];
            (std::cmp::Reverse((b.last - b.first, b.size)), i)
        });
        let mut rank = vec![0u32; blocks.len()];
        for (r, &i) in by_rank.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        Search {
            blocks,
            capacity,
            neighbours: super::load::neighbours(blocks),
            twin_before,
            rank,
            offsets: vec![UNPLACED; blocks.len()],
            floor: vec![0; sections.count()],
            unplaced: sections.live_bytes(blocks),
            block_floor: vec![0; blocks.len()],
            level: 0,
            last: None,
            undo_block_floor: Vec::new(),
            undo_floor: Vec::new(),
            ranges,
            budget,
        }
    }

    /// The lower bound at the root: LOAD fits the capacity.
    fn root_fits(&self) -> bool {
        self.unplaced.iter().all(|&bytes| bytes <= self.capacity)
    }

    /// Explores every canonical completion of the current state, `placed` blocks deep.
    fn descend(&mut self, placed: usize) -> Step {
        if placed == self.blocks.len() {
            return Step::Found;
        }
        if !self.budget.step() {
            return Step::Stopped;
        }
        for i in self.candidates() {
            let saved = (self.level, self.last, self.undo_block_floor.len());
            if self.place(i) {
                match self.descend(placed + 1) {
                    Step::Exhausted => {}
                    found_or_stopped => return found_or_stopped,
                }
            }
            self.unplace(i, saved);
        }
        Step::Exhausted
    }

    /// The unplaced blocks that may go next, in the order to try them.
    fn candidates(&self) -> Vec<u32> {
        let mut list: Vec<u32> = (0..self.blocks.len() as u32)
            .filter(|&i| {
                let i_us = i as usize;
                if self.offsets[i_us] != UNPLACED {
                    return false;
                }
                let at = self.block_floor[i_us];
                if at < self.level || at + self.blocks[i_us].size > self.capacity {
                    return false;
                }
                if at == self.level && self.last.is_some_and(|last| i < last) {
                    return false;
                }
                self.twin_before[i_us].is_none_or(|t| self.offsets[t as usize] != UNPLACED)
            })
            .collect();
        list.sort_by_key(|&i| (self.block_floor[i as usize], self.rank[i as usize]));
        list
    }

    /// Places block `i` on its floor and checks the lower bound; false if the node is cut (the
    /// caller still calls [`Search::unplace`]).
    fn place(&mut self, i: u32) -> bool {
        let block = self.blocks[i as usize];
        let offset = self.block_floor[i as usize];
        let top = offset + block.size;
        self.offsets[i as usize] = offset;
        self.level = offset;
        self.last = Some(i);
        let (lo, hi) = self.ranges[i as usize];
        for s in lo..hi {
            self.undo_floor.push(self.floor[s]);
            self.floor[s] = top;
            self.unplaced[s] -= block.size;
        }
        for &j in &self.neighbours[i as usize] {
            let old = self.block_floor[j as usize];
            if self.offsets[j as usize] == UNPLACED && old < top {
                self.undo_block_floor.push((j, old));
                self.block_floor[j as usize] = top;
            }
        }
        let capacity = self.capacity;
        self.floor
            .iter()
            .zip(&self.unplaced)
            .all(|(&floor, &bytes)| bytes == 0 || floor.max(offset) + bytes <= capacity)
    }

    /// Undoes [`Search::place`] of block `i`, restoring the level, the last block and the block
    /// floors saved in `saved`.
    fn unplace(&mut self, i: u32, saved: (u64, Option<u32>, usize)) {
        let (level, last, undo_to) = saved;
        let block = self.blocks[i as usize];
        let (lo, hi) = self.ranges[i as usize];
        for s in (lo..hi).rev() {
            self.floor[s] = self.undo_floor.pop().expect("saved by place");
            self.unplaced[s] += block.size;
        }
        while self.undo_block_floor.len() > undo_to {
            let (j, old) = self.undo_block_floor.pop().expect("length checked");
            self.block_floor[j as usize] = old;
        }
        self.offsets[i as usize] = UNPLACED;
        self.level = level;
        self.last = last;
    }
}
