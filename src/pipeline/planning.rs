//! Choosing the generation graph for a budget: the VAE whole or tiled (and how large its tiles are),
//! and the U-Net's feed-forward whole or in chunks of rows.
//!
//! The budget planner ([`crate::planner::budget`]) fits one graph; these rewrites change the graph (the
//! VAE's image-resolution part is built at tile size and replayed per tile; a chunked feed-forward is a loop of small
//! ops over row windows), so the choice is made here, over graphs. The candidates, in order of
//! preference: the whole VAE, then tiles of [`VaeTiling::SIDES`] latents, largest first; for each, the
//! feed-forward whole, then in chunks of [`FF_CHUNK_ROWS`] rows.
//!
//! - No budget: the whole VAE and feed-forward, every weight resident (the fastest plan).
//! - A budget: the plan with the smallest modelled upload cost wins; on a tie the earlier candidate
//!   (less work repeated in tile overlaps, fewer dispatches) does. The search stops once a plan uploads
//!   nothing after load.
//! - Nothing fits: [`Error::Budget`] with the smallest minimum over all candidates, naming the rewrites.
//!
//! Neither rewrite's own cost is in the cost model: tiling repeats the overlaps
//! ([`crate::graph::TileGrid::overhead`]), a fraction of one VAE pass per image; chunking adds
//! dispatches, not arithmetic. The uploads they save are weight bytes per step.

use crate::error::{Error, Result};
use crate::gpu::{Executor, ExecutorOptions};
use crate::graph::{Graph, GraphOptions};
use crate::models::config::PipelineConfig;
use crate::models::pipeline_graph::{
    generation_graph, GenerationTensors, RunShape, Stages, VaeTiling,
};
use crate::planner::budget::{self, BudgetPlan};
use crate::planner::Limits;

/// Rows (batch × tokens) per feed-forward chunk when the planner chunks: a multiple of 128, so every
/// chunk starts at a 256-byte aligned offset in f16 and f32. At SD 1.5 512² the first level's 8192 rows
/// become 8 chunks, and its 8C-wide projection shrinks from 40 MiB to 5 MiB (f16).
pub const FF_CHUNK_ROWS: u32 = 1024;

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

/// How the transformer feed-forward may be chunked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChunkChoice {
    /// Whole, unless chunks of [`FF_CHUNK_ROWS`] make a budget fit (or upload less).
    #[default]
    Auto,
    /// Never chunked.
    Off,
    /// Always chunks of this many rows (a multiple of 128).
    Rows(u32),
}

impl ChunkChoice {
    /// Rows per chunk to try (0: whole), in order of preference.
    pub fn candidates(&self) -> Vec<u32> {
        match *self {
            ChunkChoice::Auto => vec![0, FF_CHUNK_ROWS],
            ChunkChoice::Off => vec![0],
            ChunkChoice::Rows(r) => vec![r],
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
    /// Storage type and attention form (its `ff_chunk_rows` is set by [`Self::ff_chunking`]).
    pub graph: GraphOptions,
    /// Include the VAE encoder (img2img).
    pub img2img: bool,
    /// How the VAE may be tiled.
    pub tiling: TilingChoice,
    /// How the feed-forward may be chunked.
    pub ff_chunking: ChunkChoice,
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
    /// Rows per feed-forward chunk (0: whole).
    pub ff_chunk_rows: u32,
    /// The budget plan.
    pub plan: BudgetPlan,
}

/// The rewrites of one candidate graph.
type Candidate = (Option<VaeTiling>, u32);

impl GenerationSpec<'_> {
    fn build(&self, (tiling, chunk): Candidate) -> Result<(Graph, GenerationTensors)> {
        let stages = Stages {
            img2img: self.img2img,
            vae_tiling: tiling,
        };
        let options = GraphOptions {
            ff_chunk_rows: chunk,
            ..self.graph
        };
        generation_graph(self.config, &self.run, options, stages)
    }

    /// Builds `candidate`'s graph and asks `plan` about it. `plan` sees the graph and its budget inputs
    /// and may decline (`Ok(None)`); a refusal ([`Error::Budget`]) is recorded in `refused` and
    /// declines too; any other error ends the search.
    fn evaluate(
        &self,
        candidate: Candidate,
        options: &ExecutorOptions,
        refused: &mut Vec<(Candidate, Error)>,
        plan: impl FnOnce(&Graph, &budget::BudgetInputs<'_>) -> Result<Option<BudgetPlan>>,
    ) -> Result<Option<PlannedGeneration>> {
        let (graph, tensors) = self.build(candidate)?;
        let scratch = Executor::scratch(&graph);
        let inputs =
            Executor::budget_inputs(&graph, &scratch, self.limits, self.param_slot, options);
        let plan = match plan(&graph, &inputs) {
            Ok(Some(plan)) => plan,
            Ok(None) => return Ok(None),
            Err(e @ Error::Budget { .. }) => {
                refused.push((candidate, e));
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        Ok(Some(PlannedGeneration {
            graph,
            tensors,
            tiling: candidate.0,
            ff_chunk_rows: candidate.1,
            plan,
        }))
    }

    /// The candidates in order of preference, grouped by tiling.
    fn candidates(&self) -> Vec<Vec<Candidate>> {
        let f = self.config.vae.scale_factor();
        let (h, w) = (self.run.height / f, self.run.width / f);
        let chunks = self.ff_chunking.candidates();
        self.tiling
            .candidates(h, w)
            .into_iter()
            .map(|t| chunks.iter().map(|&c| (t, c)).collect())
            .collect()
    }

    /// Plans the candidates with `plan`, tiling by tiling; `better(plan, best)` says whether a plan
    /// replaces the best so far, and `stop(best, improved)` after each tiling whether to go on
    /// (`improved`: that tiling replaced the best). The first error other than a refusal ends the
    /// search; when every candidate is refused, the refusal with the smallest minimum is returned. A
    /// chunked graph identical to the whole one (no feed-forward over the chunk size) is skipped.
    fn search(
        &self,
        options: &ExecutorOptions,
        plan: impl Fn(&budget::BudgetInputs<'_>) -> Result<BudgetPlan>,
        better: impl Fn(&BudgetPlan, &BudgetPlan) -> bool,
        stop: impl Fn(&BudgetPlan, bool) -> bool,
    ) -> Result<PlannedGeneration> {
        let mut best: Option<PlannedGeneration> = None;
        let mut refused = Vec::new();
        for group in self.candidates() {
            let mut improved = false;
            let mut whole_ops = None;
            for candidate in group {
                let found = self.evaluate(candidate, options, &mut refused, |graph, inputs| {
                    let ops = Some(graph.ops.len());
                    if candidate.1 > 0 && whole_ops == ops {
                        return Ok(None);
                    }
                    if candidate.1 == 0 {
                        whole_ops = ops;
                    }
                    plan(inputs).map(Some)
                })?;
                if let Some(p) = found {
                    if best.as_ref().is_none_or(|b| better(&p.plan, &b.plan)) {
                        improved = true;
                        best = Some(p);
                    }
                }
            }
            if best.as_ref().is_some_and(|b| stop(&b.plan, improved)) {
                break;
            }
        }
        best.ok_or_else(|| smallest_refusal(refused))
    }

    /// The graph and plan for `options.budget` (see the module docs), or [`Error::Budget`] naming the
    /// smallest budget over every candidate.
    pub fn plan(&self, options: &ExecutorOptions) -> Result<PlannedGeneration> {
        self.search(
            options,
            |inputs| budget::plan_budget(inputs, options.budget),
            |p, best| p.cost.seconds < best.cost.seconds,
            |best, _| best.cost.bytes == 0,
        )
    }

    /// The smallest plan with every weight resident (the earliest candidate on a tie). Smaller tiles
    /// shrink only the VAE's phases, so the search stops at the first tiling that does not shrink it.
    pub fn smallest_resident(&self, options: &ExecutorOptions) -> Result<PlannedGeneration> {
        self.search(
            options,
            |inputs| budget::plan_budget(inputs, None),
            |p, best| p.memory.total() < best.memory.total(),
            |_, improved| !improved,
        )
    }

    /// The plan with the smallest device footprint: its `memory.total()` is the smallest budget that
    /// works. Of equal footprints, the earliest candidate's.
    ///
    /// Finding a graph's minimum is the planner's most expensive question, so the search asks it
    /// sparingly: first of the most compact candidate (the smallest tiles, the feed-forward chunked),
    /// which sets the target; then of the others in order of preference, skipping each whose largest
    /// phase floor ([`budget::phase_floors`], a lower bound) is above the target, and stopping at the
    /// first that reaches it.
    pub fn minimum(&self, options: &ExecutorOptions) -> Result<PlannedGeneration> {
        let mut candidates: Vec<Candidate> = self.candidates().into_iter().flatten().collect();
        let compact = candidates.pop().expect("at least one candidate");
        let mut refused = Vec::new();
        // The minimum of `candidate` when it is at most `target` (any, without one).
        let mut minimum_of = |candidate: Candidate, target: Option<u64>| {
            self.evaluate(candidate, options, &mut refused, |_, inputs| {
                // A lower bound first: the largest phase floor (activations with the phase's
                // weights streamed op by op) is cheap, the minimum is not.
                if let Some(t) = target {
                    let floors = budget::phase_floors(inputs)?;
                    if floors
                        .into_iter()
                        .map(|(_, bytes)| bytes)
                        .max()
                        .unwrap_or(0)
                        > t
                    {
                        return Ok(None);
                    }
                }
                let plan = budget::min_budget(inputs)?;
                Ok(target
                    .is_none_or(|t| plan.memory.total() <= t)
                    .then_some(plan))
            })
        };
        let Some(most_compact) = minimum_of(compact, None)? else {
            return Err(smallest_refusal(refused));
        };
        let target = most_compact.plan.memory.total();
        for candidate in candidates {
            if let Some(p) = minimum_of(candidate, Some(target))? {
                return Ok(p);
            }
        }
        Ok(most_compact)
    }
}

/// The refusal with the smallest minimum, its message naming the rewrites it was planned with.
fn smallest_refusal(refused: Vec<(Candidate, Error)>) -> Error {
    let minimum = |e: &Error| match e {
        Error::Budget { minimum, .. } => *minimum,
        _ => u64::MAX,
    };
    let Some(((tiling, chunk), err)) = refused.into_iter().min_by_key(|(_, e)| minimum(e)) else {
        return Error::Invalid("no generation graph to plan".into());
    };
    let mut rewrites = Vec::new();
    if let Some(t) = tiling {
        rewrites.push(format!(
            "the VAE in tiles of {0}×{0} latents overlapping by {1}",
            t.tile, t.overlap
        ));
    }
    if chunk > 0 {
        rewrites.push(format!("the feed-forward in chunks of {chunk} rows"));
    }
    match err {
        Error::Budget {
            budget,
            minimum,
            minimum_mib,
            message,
        } if !rewrites.is_empty() => Error::Budget {
            budget,
            minimum,
            minimum_mib,
            message: format!("{message}, with {}", rewrites.join(" and ")),
        },
        e => e,
    }
}
