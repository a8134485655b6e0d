//! From a graph to arena offsets: the bridge between [`crate::graph::liveness`] and [`plan`].
//!
//! - Activations (inputs, outputs, intermediates, persistent tensors) are packed by their lifetimes into
//!   the activation arena. An input is live from the start of the phase it is used in, because the caller
//!   writes it before the phase runs.
//! - Per-op scratch (kernel workspaces such as group norm's partial sums) is live for its op alone.
//! - Weights are all resident here: one interval over the whole graph each, packed end to end into the
//!   weight arena. (Giving them lifetimes in the activation arena is the budget planner's job:
//!   [`super::budget`].)

use crate::error::{Error, Result};
use crate::graph::{liveness, Graph, Role, TensorId};

use super::{plan, Limits, Options, Placement, Plan, PlanError, Usage};

/// Where every tensor of a graph lives.
#[derive(Clone, Debug)]
pub struct ArenaPlan {
    /// Placement in the activation arena of each storage tensor that ops touch (views: see
    /// [`Graph::storage`]); `None` for untouched tensors, and for weights in a [`plan_graph`] plan. A
    /// budget plan ([`super::budget`]) places the weights here too, each in the slot of its upload
    /// group.
    pub activations: Vec<Option<Placement>>,
    /// The activation arena's plan (buffer sizes, LOAD, method).
    pub activation_plan: Plan,
    /// Placement of each scratch request, in request order.
    pub scratch: Vec<Placement>,
    /// Placement in the weight arena of each weight the graph uses; `None` for other tensors.
    pub weights: Vec<Option<Placement>>,
    /// The weight arena's plan.
    pub weight_plan: Plan,
}

/// A kernel workspace of `bytes` needed by op `op` alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scratch {
    /// The op index.
    pub op: u32,
    /// Bytes.
    pub bytes: u64,
}

/// Turns a planner error about usage `index` into one that names the tensor.
pub(crate) fn named(graph: &Graph, ids: &[TensorId], e: PlanError) -> Error {
    let name = |index: usize| {
        ids.get(index)
            .map_or("scratch".to_string(), |id| graph.tensor(*id).name.clone())
    };
    match e {
        PlanError::BindingTooLarge { index, size, max } => Error::Limit {
            what: format!(
                "tensor {} (needs a rewrite: chunking, tiling or a split table)",
                name(index)
            ),
            limit: "max_storage_buffer_binding_size",
            needed: size,
            max,
        },
        PlanError::BufferTooLarge { index, size, max } => Error::Limit {
            what: format!("tensor {}", name(index)),
            limit: "max_buffer_size",
            needed: size,
            max,
        },
        other => Error::Plan(other),
    }
}

/// Plans the activation and weight arenas of `graph`.
pub fn plan_graph(
    graph: &Graph,
    scratch: &[Scratch],
    limits: &Limits,
    options: &Options,
) -> Result<ArenaPlan> {
    let (ids, usages) = activation_usages(graph, scratch);
    let activation_plan = plan(&usages, limits, options).map_err(|e| named(graph, &ids, e))?;
    let mut activations = vec![None; graph.tensors.len()];
    for (id, p) in ids.iter().zip(&activation_plan.placements) {
        activations[id.index()] = Some(*p);
    }
    let scratch_places = activation_plan.placements[ids.len()..].to_vec();

    // Weights: resident for the whole graph.
    let end = graph.ops.len().saturating_sub(1) as u32;
    let weight_intervals = liveness::weight_intervals(graph);
    let weight_ids: Vec<TensorId> = weight_intervals.iter().map(|iv| iv.tensor).collect();
    let weight_usages: Vec<Usage> = weight_intervals
        .iter()
        .map(|iv| Usage {
            size: iv.size,
            first: 0,
            last: end,
        })
        .collect();
    // A weight may exceed one binding where its kernel splits it (the CLIP token table); the kernel checks.
    let weight_limits = Limits {
        max_binding_size: limits.max_buffer_size,
        ..*limits
    };
    let weight_plan =
        plan(&weight_usages, &weight_limits, options).map_err(|e| named(graph, &weight_ids, e))?;
    let mut weights = vec![None; graph.tensors.len()];
    for (id, p) in weight_ids.iter().zip(&weight_plan.placements) {
        weights[id.index()] = Some(*p);
    }
    Ok(ArenaPlan {
        activations,
        activation_plan,
        scratch: scratch_places,
        weights,
        weight_plan,
    })
}

/// The activation arena's usages: one per activation storage tensor (inputs widened to the start of
/// their phase, because the caller writes them before the phase runs), then one per scratch request.
/// Returns the tensor of each activation usage (the scratch usages follow them).
pub(crate) fn activation_usages(graph: &Graph, scratch: &[Scratch]) -> (Vec<TensorId>, Vec<Usage>) {
    let intervals = liveness::intervals(graph);
    let mut ids: Vec<TensorId> = Vec::with_capacity(intervals.len());
    let mut usages: Vec<Usage> = Vec::with_capacity(intervals.len() + scratch.len());
    for iv in &intervals {
        let mut usage = iv.usage();
        if graph.tensor(iv.tensor).role == Role::Input {
            let start = graph
                .phases
                .iter()
                .find(|p| p.ops.contains(&(iv.first as usize)))
                .map_or(0, |p| p.ops.start);
            usage.first = start as u32;
        }
        ids.push(iv.tensor);
        usages.push(usage);
    }
    for s in scratch {
        usages.push(Usage {
            size: s.bytes.max(4),
            first: s.op,
            last: s.op,
        });
    }
    (ids, usages)
}
