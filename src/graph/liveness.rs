//! Liveness: the op interval over which each activation's storage must hold its value.
//!
//! - An activation is live from the op that writes it to the last op that reads it (inclusive).
//! - A view (reshape, in-place result) owns no storage: its uses extend its base tensor's interval.
//! - An input is live from its first use; an output until the end of the phase that makes it.
//! - An output or persistent tensor that its first op reads (a tiled phase's input plane, a blended
//!   tensor) is live from the start of that phase, for the reason below.
//! - A persistent tensor (text embeddings, latents, the sampler's previous x0) is live from when it is
//!   made to the end of the whole graph, across phases. One that is read before any op writes it (the
//!   latents, the previous x0, a tiled VAE's blended output) is live from the start of that phase: a
//!   phase may be replayed (the U-Net step, the VAE once per tile), and a value carried from one replay
//!   to the next must survive the whole phase.
//! - Weights are not activations: they are counted apart ([`Graph::weight_bytes`]). Their intervals are
//!   computed the same way ([`weight_intervals`]) so they can be planned with lifetimes later.
//!
//! # Example usage
//! ```
//! use wgsd::graph::{liveness, GraphBuilder, GraphOptions, Activation};
//! let mut b = GraphBuilder::new(GraphOptions::default());
//! let x = b.input("x", &[4]).unwrap(); // [4]
//! let y = b.unary("y", x, Activation::Silu).unwrap(); // [4]
//! let z = b.unary("z", y, Activation::Silu).unwrap(); // [4]
//! b.mark_output(z);
//! let g = b.finish();
//! let iv = liveness::intervals(&g);
//! assert_eq!(iv.len(), 3);
//! assert_eq!(liveness::load(&iv, 1), 32); // two 16-byte tensors live at each op
//! ```

use super::{Graph, Role, TensorId};
use crate::planner::Usage;

/// The live range of one storage tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    /// The storage tensor (never a view).
    pub tensor: TensorId,
    /// Bytes (before alignment).
    pub size: u64,
    /// First op index at which it is live.
    pub first: u32,
    /// Last op index at which it is live, inclusive.
    pub last: u32,
}

impl Interval {
    /// The planner's view of this interval.
    pub fn usage(&self) -> Usage {
        Usage {
            size: self.size,
            first: self.first,
            last: self.last,
        }
    }
}

/// `[first, last]` op of each storage tensor that ops touch, or `None`.
fn raw_spans(graph: &Graph, weights: bool) -> Vec<Option<(u32, u32)>> {
    let mut spans: Vec<Option<(u32, u32)>> = vec![None; graph.tensors.len()];
    for (i, op) in graph.ops.iter().enumerate() {
        let i = i as u32;
        for t in op.inputs().into_iter().chain([op.output()]) {
            let s = graph.storage(t);
            if graph.tensor(s).is_weight() != weights {
                continue;
            }
            let span = &mut spans[s.index()];
            *span = Some(match *span {
                None => (i, i),
                Some((a, b)) => (a.min(i), b.max(i)),
            });
        }
    }
    spans
}

/// The start of the phase containing op `i` (0 outside any phase).
fn phase_start(graph: &Graph, i: u32) -> u32 {
    graph
        .phases
        .iter()
        .find(|p| p.ops.contains(&(i as usize)))
        .map_or(0, |p| p.ops.start) as u32
}

/// The end (exclusive) of the phase containing op `i`, or of the graph.
fn phase_end(graph: &Graph, i: u32) -> u32 {
    graph
        .phases
        .iter()
        .find(|p| p.ops.contains(&(i as usize)))
        .map_or(graph.ops.len(), |p| p.ops.end) as u32
}

/// One interval per activation storage (inputs, outputs, activations, persistent tensors) that an op
/// touches, in tensor order.
pub fn intervals(graph: &Graph) -> Vec<Interval> {
    let end = graph.ops.len().saturating_sub(1) as u32;
    raw_spans(graph, false)
        .into_iter()
        .enumerate()
        .filter_map(|(i, span)| {
            let (mut first, mut last) = span?;
            let t = &graph.tensors[i];
            // Read before any op of the graph writes it: its value comes from before the phase (the
            // caller, or the previous replay), so it must survive the phase's earlier ops.
            let read_first = || {
                let op = &graph.ops[first as usize];
                let reads = op.inputs().iter().any(|&t| graph.storage(t).index() == i);
                reads || graph.storage(op.output()).index() != i
            };
            match t.role {
                Role::Output => {
                    if read_first() {
                        first = phase_start(graph, first);
                    }
                    last = last.max(phase_end(graph, first) - 1);
                }
                Role::Persistent => {
                    if read_first() {
                        first = phase_start(graph, first);
                    }
                    last = end;
                }
                Role::Input | Role::Activation | Role::Weight => {}
            }
            Some(Interval {
                tensor: TensorId(i as u32),
                size: t.bytes(),
                first,
                last,
            })
        })
        .collect()
}

/// One interval per weight that an op reads: from its first to its last use.
pub fn weight_intervals(graph: &Graph) -> Vec<Interval> {
    raw_spans(graph, true)
        .into_iter()
        .enumerate()
        .filter_map(|(i, span)| {
            let (first, last) = span?;
            Some(Interval {
                tensor: TensorId(i as u32),
                size: graph.tensors[i].bytes(),
                first,
                last,
            })
        })
        .collect()
}

/// The intervals live during `ops` (a phase's range), clipped to it and renumbered from 0, so the phase
/// can be planned alone. Persistent tensors made earlier are live over the whole phase.
pub fn clip(intervals: &[Interval], ops: std::ops::Range<usize>) -> Vec<Interval> {
    let (start, end) = (ops.start as u32, ops.end as u32);
    intervals
        .iter()
        .filter(|iv| iv.first < end && iv.last >= start)
        .map(|iv| Interval {
            first: iv.first.max(start) - start,
            last: iv.last.min(end - 1) - start,
            ..*iv
        })
        .collect()
}

/// The planner's usages for `intervals`, in the same order.
pub fn usages(intervals: &[Interval]) -> Vec<Usage> {
    intervals.iter().map(Interval::usage).collect()
}

/// Bytes live at each op (sizes rounded up to `alignment`), indexed by op.
pub fn live_bytes(intervals: &[Interval], alignment: u64) -> Vec<u64> {
    let align = alignment.max(1);
    let n = intervals
        .iter()
        .map(|iv| iv.last as usize + 1)
        .max()
        .unwrap_or(0);
    let mut delta = vec![0i128; n + 1];
    for iv in intervals {
        let size = i128::from(iv.size.div_ceil(align) * align);
        delta[iv.first as usize] += size;
        delta[iv.last as usize + 1] -= size;
    }
    let mut live = 0i128;
    delta[..n]
        .iter()
        .map(|d| {
            live += d;
            live as u64
        })
        .collect()
}

/// LOAD: the largest total (aligned) size live at one op, a lower bound on any arena.
pub fn load(intervals: &[Interval], alignment: u64) -> u64 {
    live_bytes(intervals, alignment)
        .into_iter()
        .max()
        .unwrap_or(0)
}
