//! Choosing the generation graph for a budget: the VAE whole or tiled, and how large its tiles are.
//!
//! The budget planner ([`crate::planner::budget`]) fits one graph; tiling changes the graph (the VAE
//! phases are built at tile size and replayed per tile), so the choice is made here, over graphs:
//!
//! - No budget: the whole VAE, every weight resident (the fastest plan).
//! - A budget: the untiled graph first, then tiles of [`VaeTiling::SIDES`] latents, largest first. The
//!   plan with the smallest modelled upload cost wins; on a tie the earlier (fewer, larger tiles: less
//!   work repeated in overlaps) does. The search stops at the first plan that uploads nothing after load.
//! - Nothing fits: [`Error::Budget`] with the smallest minimum over all tilings, naming the tiling.
//!
//! Tiling's own cost — the overlaps are decoded twice or more, [`crate::graph::TileGrid::overhead`] — is
//! not in the cost model: it is a fraction of one VAE pass per image, while the uploads it saves are
//! weight bytes per step.

use crate::error::{Error, Result};
use crate::gpu::{Executor, ExecutorOptions};
use crate::graph::{Graph, GraphOptions};
use crate::models::config::PipelineConfig;
use crate::models::pipeline_graph::{
    generation_graph, GenerationTensors, RunShape, Stages, VaeTiling,
};
use crate::planner::budget::{self, BudgetPlan};
use crate::planner::Limits;

/// How the VAE may be tiled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TilingChoice {
    /// Whole when it fits the budget (and is cheapest), else the largest tiles that fit.
    #[default]
    Auto,
    /// Never tiled.
    Off,
    /// Always these tiles.
    Fixed(VaeTiling),
}

impl TilingChoice {
    /// The tilings to try for an `h × w` latent, in order of preference.
    pub fn candidates(&self, h: u32, w: u32) -> Vec<Option<VaeTiling>> {
        match *self {
            TilingChoice::Off => vec![None],
            TilingChoice::Fixed(t) => vec![Some(t)],
            TilingChoice::Auto => std::iter::once(None)
                .chain(VaeTiling::candidates(h, w).into_iter().map(Some))
                .collect(),
        }
    }
}

/// What a generation needs besides the budget: the run, the graph's options and the device.
#[derive(Clone, Debug)]
pub struct GenerationSpec<'c> {
    /// The model's configs.
    pub config: &'c PipelineConfig,
    /// Image size and batch.
    pub run: RunShape,
    /// Storage type and attention form.
    pub graph: GraphOptions,
    /// Include the VAE encoder (img2img).
    pub img2img: bool,
    /// How the VAE may be tiled.
    pub tiling: TilingChoice,
    /// The device's limits as the planner sees them.
    pub limits: Limits,
    /// Bytes of one uniform parameter block.
    pub param_slot: u64,
}

/// A generation graph with the plan it runs under.
#[derive(Clone, Debug)]
pub struct PlannedGeneration {
    /// The graph, its VAE phases at tile size when tiled.
    pub graph: Graph,
    /// Its pipeline tensors.
    pub tensors: GenerationTensors,
    /// The VAE tiling, if any.
    pub tiling: Option<VaeTiling>,
    /// The budget plan.
    pub plan: BudgetPlan,
}

impl GenerationSpec<'_> {
    fn build(&self, tiling: Option<VaeTiling>) -> Result<(Graph, GenerationTensors)> {
        let stages = Stages {
            img2img: self.img2img,
            vae_tiling: tiling,
        };
        generation_graph(self.config, &self.run, self.graph, stages)
    }

    /// Plans each candidate tiling with `plan`; `keep(plan, best)` says whether the plan replaces the
    /// best so far and whether to stop. The first error other than a refusal ends the search; when
    /// every tiling is refused, the refusal with the smallest minimum is returned.
    fn each(
        &self,
        options: &ExecutorOptions,
        mut plan: impl FnMut(&budget::BudgetInputs<'_>) -> Result<BudgetPlan>,
        mut keep: impl FnMut(&BudgetPlan, Option<&BudgetPlan>) -> (bool, bool),
    ) -> Result<PlannedGeneration> {
        let f = self.config.vae.scale_factor();
        let (h, w) = (self.run.height / f, self.run.width / f);
        let mut best: Option<PlannedGeneration> = None;
        let mut refused = Vec::new();
        for tiling in self.tiling.candidates(h, w) {
            let (graph, tensors) = self.build(tiling)?;
            let scratch = Executor::scratch(&graph);
            let inputs =
                Executor::budget_inputs(&graph, &scratch, self.limits, self.param_slot, options);
            let p = match plan(&inputs) {
                Ok(p) => p,
                Err(e @ Error::Budget { .. }) => {
                    refused.push((tiling, e));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (better, stop) = keep(&p, best.as_ref().map(|b| &b.plan));
            if better {
                best = Some(PlannedGeneration {
                    graph,
                    tensors,
                    tiling,
                    plan: p,
                });
            }
            if stop {
                break;
            }
        }
        best.ok_or_else(|| smallest_refusal(refused))
    }

    /// The graph and plan for `options.budget` (see the module docs), or [`Error::Budget`] naming the
    /// smallest budget over every tiling tried.
    pub fn plan(&self, options: &ExecutorOptions) -> Result<PlannedGeneration> {
        self.each(
            options,
            |inputs| budget::plan_budget(inputs, options.budget),
            |p, best| {
                let better = best.is_none_or(|b| p.cost.seconds < b.cost.seconds);
                (better, p.cost.bytes == 0)
            },
        )
    }

    /// The smallest plan with every weight resident over the tilings tried (the largest tile on a
    /// tie). Smaller tiles shrink only the VAE's phases, so the search stops at the first tiling that
    /// does not shrink the plan.
    pub fn smallest_resident(&self, options: &ExecutorOptions) -> Result<PlannedGeneration> {
        self.each(
            options,
            |inputs| budget::plan_budget(inputs, None),
            |p, best| {
                let better = best.is_none_or(|b| p.memory.total() < b.memory.total());
                (better, !better)
            },
        )
    }

    /// The plan with the smallest device footprint over the tilings tried (the largest tile on a tie;
    /// the search stops at the first tiling that does not shrink the plan): its `memory.total()` is the
    /// smallest budget that works.
    pub fn minimum(&self, options: &ExecutorOptions) -> Result<PlannedGeneration> {
        self.each(
            options,
            |inputs| budget::min_budget(inputs),
            |p, best| {
                let better = best.is_none_or(|b| p.memory.total() < b.memory.total());
                (better, !better)
            },
        )
    }
}

/// The refusal with the smallest minimum, its message naming the tiling it was planned with.
fn smallest_refusal(refused: Vec<(Option<VaeTiling>, Error)>) -> Error {
    let minimum = |e: &Error| match e {
        Error::Budget { minimum, .. } => *minimum,
        _ => u64::MAX,
    };
    let Some((tiling, err)) = refused.into_iter().min_by_key(|(_, e)| minimum(e)) else {
        return Error::Invalid("no VAE tiling to plan".into());
    };
    match (tiling, err) {
        (
            Some(t),
            Error::Budget {
                budget,
                minimum,
                minimum_mib,
                message,
            },
        ) => Error::Budget {
            budget,
            minimum,
            minimum_mib,
            message: format!(
                "{message}, with the VAE in tiles of {0}×{0} latents overlapping by {1}",
                t.tile, t.overlap
            ),
        },
        (_, e) => e,
    }
}
