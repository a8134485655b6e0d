//! The budget planner: which weights stay on the device for the whole run, which live only during the
//! phase that reads them, and which are streamed around the ops that read them, so that a run fits a
//! device-memory budget at the least upload cost. Pure CPU; decided before any allocation.
//!
//! Weights are tensors with lifetimes, like activations. Every weight gets one of three residencies,
//! chosen per phase (`text_encode`, `vae_encode`, `unet_step`, `vae_decode`):
//!
//! - [`Residency::Resident`]: live over the whole run, uploaded once at load. Nothing is uploaded
//!   while generating: the fastest, and the most memory.
//! - [`Residency::PhaseResident`]: live only during its phase, uploaded when the phase starts (once
//!   per generation). The U-Net phase is replayed every denoising step, and a tiled VAE phase's tile
//!   span once per tile and pass, so their weights live over the whole phase and are uploaded before the first run only; the
//!   text encoder's and an untiled VAE's live from their phase's first to its last use. Phases take
//!   turns in the same bytes of the arena.
//! - [`Residency::Streamed`]: the phase's weights are cut into upload groups of consecutive ops (one
//!   group per op at the finest, or groups of up to a target size); each group is uploaded just before
//!   its first op and lives until its last, in every run of the phase (so every step for the U-Net).
//!   The smallest budget.
//!
//! Weights read by more than one phase (none in SD 1.x, 2.x or XL) are always resident.
//!
//! All of it goes into ONE arena: activations, kernel scratch and weight groups are packed together by
//! their lifetimes ([`super::plan`]); resident weights are simply the usages that span every op. Each
//! upload group occupies one contiguous slot, the weights inside at aligned offsets, so an upload is a
//! contiguous copy.
//!
//! # Staging
//!
//! Uploads go through one host-visible staging buffer (`MAP_WRITE | COPY_SRC`) created at load: fill it,
//! copy it into the arena, repeat. A group larger than the staging buffer is copied in pieces. Its size
//! is part of the plan ([`BudgetPlan::staging`]) and of the budget, since wgpu allocates it as device
//! memory: the largest upload group when the budget allows (up to [`MAX_STAGING`], past which a copy's
//! fixed cost is negligible), otherwise what the budget leaves, but never below [`MIN_STAGING`] (or the
//! largest upload, when that is smaller).
//!
//! # What the budget bounds
//!
//! wgpu's allocator report (reserved bytes) is the authority. Its allocator (gpu-allocator, under the
//! `MemoryHints::Manual` wgsd sets) gives each buffer over 4 MiB memory of its own and packs smaller
//! buffers into shared 4 MiB blocks. So a plan's total is the arena's, staging's and parameter
//! buffers' bytes as that allocator reserves them ([`AllocatorModel`]): the large buffers page-rounded
//! (the executor creates them at exactly those sizes), the small ones first-fit into whole blocks. The
//! rounding is reported as [`PlannedMemory::allocator`]; it is at most a block or two.
//!
//! # Cost model
//!
//! Compute is the same under every strategy; what differs is the weight traffic per generation. One
//! generation of `steps` denoising steps costs
//!
//! ```text
//! seconds = bytes uploaded / UPLOAD_BYTES_PER_SECOND + staging copies × UPLOAD_SECONDS_PER_COPY
//! ```
//!
//! where a phase-resident phase uploads its weights once, a streamed once-run phase (text encoder,
//! VAE) once, a streamed U-Net `steps` times, a streamed tiled VAE's tile span once per slot (tile ×
//! pass; its whole-latent ops once), and each copy is one fill-map-copy-submit round trip of the
//! staging buffer (`ceil(group / staging)` per group). `steps` is the most a generation may run
//! ([`ParamSlots::max_steps`]). The constants were measured on lavapipe through the executor's own
//! upload path (`tests/budget_upload_speed.rs`); a discrete GPU over PCIe has the same order of
//! bandwidth. They only rank strategies: every candidate pays the same compute.
//!
//! # Search
//!
//! - The arena's peak decomposes by phase: resident bytes + the largest, over phases, of the phase's
//!   activations plus its non-resident weights live at one op. So each phase's options (resident,
//!   phase-resident, streamed per op or in groups of `W/2, W/4 … W/64` of its weights `W`, 16 MiB or
//!   4 MiB) are summarised once (peak, upload bytes, group sizes), and every combination is scored by
//!   arithmetic (a few thousand for four phases).
//! - For a budget: the combinations whose estimated total fits, cheapest first, are planned for real
//!   until one fits. Plans that upload the same bytes and cost within 1 % count as equal, and the
//!   smallest wins. The staging buffer takes what the budget leaves, up to the largest group.
//! - Without a budget: everything resident.
//! - [`min_budget`]: the combination with the smallest total, planned: the phase that dominates
//!   streamed per op, the others the cheapest that fit under it. A budget below it is refused with
//!   [`Error::Budget`], naming the op where the arena peaks ([`Peak`]). [`phase_floors`] gives each
//!   phase's own floor, to see what a rewrite of the dominant one (a tiled VAE) would gain.
//!
//! This planner fits one graph. The rewrites that change the graph (a tiled VAE, a chunked
//! feed-forward) are chosen over graphs by [`crate::pipeline::GenerationSpec`], which asks this
//! planner about each candidate.
//!
//! # Example usage
//!
//! ```
//! use wgsd::graph::{Activation, GraphBuilder, GraphOptions};
//! use wgsd::planner::budget::{
//!     min_budget, plan_budget, AllocatorModel, BudgetInputs, ParamSlots, Residency,
//! };
//! use wgsd::planner::{Limits, Options};
//!
//! // Two phases: a 4 KiB weight read once, then a 16 KiB one.
//! let mut b = GraphBuilder::new(GraphOptions::default());
//! b.begin_phase("text_encode");
//! let x = b.input("x", &[1, 32]).unwrap(); // [1, 32]
//! let w1 = b.weight("text_encoder.w", &[32, 32]).unwrap();
//! let h = b.linear("h", x, w1, None, Activation::None).unwrap(); // [1, 32]
//! b.mark_persistent(h);
//! b.begin_phase("unet_step");
//! let w2 = b.weight("unet.w", &[128, 32]).unwrap();
//! let y = b.linear("y", h, w2, None, Activation::None).unwrap(); // [1, 128]
//! b.mark_output(y);
//! let graph = b.finish();
//!
//! let limits = Limits { alignment: 256, max_buffer_size: 1 << 30, max_binding_size: 1 << 27 };
//! let mut inputs =
//!     BudgetInputs::new(&graph, &[], limits, Options::default(), ParamSlots::new(256, 1));
//! // Bytes as they are: with wgpu's allocator, buffers this small all share one 4 MiB block.
//! inputs.allocator = AllocatorModel::EXACT;
//! let all = plan_budget(&inputs, None)?;
//! assert_eq!(all.strategy.name(), "resident");
//! let min = min_budget(&inputs)?;
//! assert!(min.memory.total() < all.memory.total());
//! // A budget between the two streams something; one byte under the minimum is refused.
//! let mid = plan_budget(&inputs, Some(min.memory.total()))?;
//! assert!(mid.memory.total() <= min.memory.total());
//! assert!(mid.strategy.phases.iter().any(|p| p.residency != Residency::Resident));
//! assert!(plan_budget(&inputs, Some(min.memory.total() - 1)).is_err());
//! # Ok::<(), wgsd::Error>(())
//! ```

mod analysis;

use std::fmt;

use crate::error::{Error, Result};
use crate::graph::{Graph, Op, TensorId};

use super::arena::{ArenaPlan, Scratch};
use super::{align_up, Limits, Options, Placement, Usage};

use analysis::Analysis;

/// Bytes per second of the upload path (weight source → host buffer → mapped staging buffer → copy
/// into the arena). Measured on lavapipe (Mesa 22.3, 2 cores) by `tests/budget_upload_speed.rs`:
/// 1.8–2.6 GB/s over four runs.
pub const UPLOAD_BYTES_PER_SECOND: f64 = 2.0e9;

/// Fixed seconds of one staging round trip (split the submission, map, write, unmap, copy, submit),
/// measured on lavapipe by the same test: 20–75 µs.
pub const UPLOAD_SECONDS_PER_COPY: f64 = 50e-6;

/// The smallest staging buffer a plan gets (unless every upload is smaller): below it the number of
/// round trips, not the budget, dominates.
pub const MIN_STAGING: u64 = 1 << 20;

/// The largest staging buffer a plan gets: at 16 MiB a copy's fixed cost is under 1 % of its
/// transfer by the constants above (`UPLOAD_SECONDS_PER_COPY · UPLOAD_BYTES_PER_SECOND` = 100 kB),
/// so more staging would take budget for no speed.
pub const MAX_STAGING: u64 = 16 << 20;

/// How the device's allocator turns buffers into reserved bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocatorModel {
    /// Buffers up to this size share blocks of this size; larger ones get memory of their own.
    pub block: u64,
    /// Memory of its own is reserved in whole pages (buffer sizes are rounded to it).
    pub page: u64,
    /// Alignment of a buffer inside a shared block.
    pub alignment: u64,
}

impl AllocatorModel {
    /// gpu-allocator as wgpu 30 configures it for `MemoryHints::Manual { 0..0 }` (Vulkan, DX12): blocks
    /// clamped to 4 MiB (wgpu-hal's `AllocationSizes::from_memory_hints`), a dedicated block for any
    /// larger allocation (gpu-allocator's `requires_personal_block`). Pages of 4 KiB, 256-byte
    /// alignment inside blocks: bounds above what drivers ask for.
    pub const WGPU: AllocatorModel = AllocatorModel {
        block: 4 << 20,
        page: 4 << 10,
        alignment: 256,
    };

    /// No rounding at all: every buffer reserves exactly its size (for exact arithmetic in tests, and
    /// allocators that give every buffer memory of its own).
    pub const EXACT: AllocatorModel = AllocatorModel {
        block: 0,
        page: 1,
        alignment: 1,
    };

    /// The size to create a buffer of `size` bytes at: page-rounded when it gets memory of its own.
    pub fn buffer_size(&self, size: u64) -> u64 {
        if size > self.block {
            align_up(size, self.page)
        } else {
            size
        }
    }

    /// Shared blocks for the buffers of `sizes` that are not over a block, packed first-fit
    /// decreasing: the bytes used in each block.
    fn blocks(&self, sizes: &[u64]) -> Vec<u64> {
        let mut small: Vec<u64> = sizes
            .iter()
            .filter(|&&s| s > 0 && s <= self.block)
            .map(|&s| align_up(s, self.alignment).min(self.block))
            .collect();
        small.sort_unstable_by(|a, b| b.cmp(a));
        let mut used: Vec<u64> = Vec::new();
        for s in small {
            match used.iter_mut().find(|u| **u + s <= self.block) {
                Some(u) => *u += s,
                None => used.push(s),
            }
        }
        used
    }

    /// Bytes reserved for buffers of `sizes`: each over a block page-rounded, the others in whole
    /// shared blocks.
    pub fn reserved(&self, sizes: &[u64]) -> u64 {
        let own: u64 = sizes
            .iter()
            .filter(|&&s| s > self.block)
            .map(|&s| align_up(s, self.page))
            .sum();
        own + self.blocks(sizes).len() as u64 * self.block
    }

    /// The largest buffer that can join `sizes` without growing what they reserve (the most free room
    /// in one of their shared blocks), 0 if none.
    fn free_room(&self, sizes: &[u64]) -> u64 {
        self.blocks(sizes)
            .iter()
            .map(|u| (self.block - u) / self.alignment * self.alignment)
            .max()
            .unwrap_or(0)
    }
}

/// The phase the pipeline replays once per denoising step (see `models::pipeline_graph::PHASES`).
pub const REPLAYED_PHASE: &str = "unet_step";

/// Streamed group targets tried per phase besides one group per op: the phase's weights `W` over
/// `2, 4, … 2^STREAM_LADDER`, and [`MAX_STAGING`] and a quarter of it (groups one copy each).
const STREAM_LADDER: u32 = 6;

/// Real plans tried for one budget before falling back to the smallest plan.
const MAX_REAL_PLANS: usize = 6;

/// Plans that upload the same bytes with modelled costs this close (relative: they differ only in
/// copies) count as equal, and the smaller plan wins: smaller groups overlap better with compute.
const COST_TOLERANCE: f64 = 0.01;

/// Where one phase's weights live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Residency {
    /// For the whole run, uploaded at load.
    Resident,
    /// During its phase, uploaded when the phase starts (once per generation).
    PhaseResident,
    /// Around the ops that read it, uploaded before them in every run of the phase.
    Streamed,
}

impl Residency {
    /// `resident`, `phase-resident` or `streamed`.
    pub fn name(self) -> &'static str {
        match self {
            Residency::Resident => "resident",
            Residency::PhaseResident => "phase-resident",
            Residency::Streamed => "streamed",
        }
    }
}

/// The residency chosen for one phase's weights.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PhaseChoice {
    /// The phase.
    pub phase: String,
    /// Where its weights live.
    pub residency: Residency,
    /// Streamed: the target bytes of one upload group (0: one group per op).
    pub group_target: u64,
    /// Bytes (aligned slots) of the weights only this phase reads.
    pub weight_bytes: u64,
    /// Upload groups of the phase (0 when resident).
    pub groups: usize,
}

impl fmt::Display for PhaseChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.phase, self.residency.name())?;
        if self.residency == Residency::Streamed {
            if self.group_target == 0 {
                write!(f, " per op")?;
            } else {
                write!(
                    f,
                    " in groups of ≤ {:.2} MiB",
                    self.group_target as f64 / (1u64 << 20) as f64
                )?;
            }
        }
        if self.groups > 0 {
            write!(f, " ({} uploads)", self.groups)?;
        }
        Ok(())
    }
}

/// A residency per phase.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Strategy {
    /// One choice per phase, in graph order.
    pub phases: Vec<PhaseChoice>,
}

impl Strategy {
    /// The residency shared by every phase with weights (`resident`, `phase-resident`, `streamed`),
    /// or `mixed`.
    pub fn name(&self) -> &'static str {
        let mut with = self.phases.iter().filter(|p| p.weight_bytes > 0);
        let Some(first) = with.next() else {
            return Residency::Resident.name();
        };
        if with.all(|p| p.residency == first.residency) {
            first.residency.name()
        } else {
            "mixed"
        }
    }

    /// The residency of `phase`'s weights.
    pub fn residency(&self, phase: &str) -> Option<Residency> {
        self.phases
            .iter()
            .find(|p| p.phase == phase)
            .map(|p| p.residency)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        let with: Vec<&PhaseChoice> = self.phases.iter().filter(|p| p.weight_bytes > 0).collect();
        if !with.is_empty() {
            write!(f, " (")?;
            for (i, p) in with.iter().enumerate() {
                if i > 0 {
                    write!(f, ", ")?;
                }
                write!(f, "{p}")?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }
}

/// Weights uploaded together into one contiguous slot of the arena.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightGroup {
    /// Where they live.
    pub residency: Residency,
    /// The phase that reads them (`None` for resident groups).
    pub phase: Option<usize>,
    /// The op before which the group is uploaded; `None`: at load (resident).
    pub upload_before: Option<u32>,
    /// First op of the slot's lifetime.
    pub first: u32,
    /// Last op of the slot's lifetime (inclusive).
    pub last: u32,
    /// Each weight and its byte offset inside the slot (a multiple of the alignment).
    pub weights: Vec<(TensorId, u64)>,
    /// Bytes of the slot (aligned).
    pub bytes: u64,
    /// Where the slot lies in the arena.
    pub placement: Placement,
}

/// Device bytes of a plan by category. `activations + weights_resident + weights_streamed` is the arena.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PlannedMemory {
    /// The arena's bytes besides the weights: activations, kernel scratch and packing slack.
    pub activations: u64,
    /// Weights resident for the whole run.
    pub weights_resident: u64,
    /// The arena's bytes holding non-resident weights where the arena peaks.
    pub weights_streamed: u64,
    /// The uniform parameter blocks.
    pub params: u64,
    /// The staging buffer.
    pub staging: u64,
    /// What the allocator reserves beyond the buffers: the shared blocks' unused room
    /// ([`AllocatorModel`]).
    pub allocator: u64,
}

impl PlannedMemory {
    /// All of it, as the allocator reserves it: what the budget bounds.
    pub fn total(&self) -> u64 {
        self.arena() + self.params + self.staging + self.allocator
    }

    /// The arena: activations and weights.
    pub fn arena(&self) -> u64 {
        self.activations + self.weights_resident + self.weights_streamed
    }
}

/// The modelled upload work of one generation.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct UploadCost {
    /// Denoising steps assumed (the most a generation may run).
    pub steps: u64,
    /// Weight bytes uploaded per generation.
    pub bytes: u64,
    /// Staging round trips per generation.
    pub copies: u64,
    /// Modelled seconds: `bytes / UPLOAD_BYTES_PER_SECOND + copies × UPLOAD_SECONDS_PER_COPY`.
    pub seconds: f64,
}

/// The op where a plan's arena peaks, and what is live there.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Peak {
    /// The op index.
    pub op: u32,
    /// Its phase.
    pub phase: String,
    /// The tensor it writes.
    pub tensor: String,
    /// Activation and scratch bytes live there (aligned).
    pub activations: u64,
    /// Non-resident weight bytes live there.
    pub weights_streamed: u64,
    /// Resident weight bytes (live everywhere).
    pub weights_resident: u64,
}

impl fmt::Display for Peak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        write!(
            f,
            "the {} phase at op {} ({}) holds activations {:.2} MiB",
            self.phase,
            self.op,
            self.tensor,
            mib(self.activations)
        )?;
        if self.weights_streamed > 0 {
            write!(
                f,
                " + streamed weights {:.2} MiB",
                mib(self.weights_streamed)
            )?;
        }
        if self.weights_resident > 0 {
            write!(
                f,
                " + resident weights {:.2} MiB",
                mib(self.weights_resident)
            )?;
        }
        write!(f, " at once")
    }
}

/// A plan that fits a budget: the strategy, the arena and the uploads.
#[derive(Clone, Debug)]
pub struct BudgetPlan {
    /// The residency of each phase.
    pub strategy: Strategy,
    /// The arena: every activation, scratch request and weight (in [`ArenaPlan::activations`]). Its
    /// `weights` are all `None` and its `weight_plan` is empty: there is no separate weight arena.
    pub arena: ArenaPlan,
    /// Every weight's upload group: resident groups first, then the others in upload order.
    pub groups: Vec<WeightGroup>,
    /// Bytes of the staging buffer (a multiple of 4; 0 when the graph has no weights).
    pub staging: u64,
    /// Device bytes by category.
    pub memory: PlannedMemory,
    /// The modelled upload cost of one generation.
    pub cost: UploadCost,
    /// Where the arena peaks.
    pub peak: Peak,
    /// The usages packed into the arena, in the order of `arena.activation_plan.placements`: every
    /// activation, then every scratch request, then every group (for [`super::verify`]).
    pub usages: Vec<Usage>,
}

impl BudgetPlan {
    /// The largest upload group that is not resident (0 when all are).
    pub fn largest_upload(&self) -> u64 {
        self.groups
            .iter()
            .filter(|g| g.residency != Residency::Resident)
            .map(|g| g.bytes)
            .max()
            .unwrap_or(0)
    }
}

/// The uniform parameter blocks the executor creates: [`Op::param_blocks`] per op and one spare, plus
/// a slot per sampler op and denoising step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamSlots {
    /// Bytes of one slot (the largest params struct, rounded up to the uniform offset alignment).
    pub slot: u64,
    /// The most denoising steps a generation may run (one slot per sampler op and step).
    pub max_steps: usize,
}

impl ParamSlots {
    /// `slot` bytes per block, `max_steps` step slots.
    pub fn new(slot: u64, max_steps: usize) -> Self {
        ParamSlots { slot, max_steps }
    }

    /// Bytes of all parameter blocks of `graph`.
    pub fn bytes(&self, graph: &Graph) -> u64 {
        self.buffers(graph).iter().sum()
    }

    /// The parameter buffers of `graph`: the ops' blocks, and the sampler ops' per-step blocks when
    /// there are any.
    pub fn buffers(&self, graph: &Graph) -> Vec<u64> {
        let stepped = graph.ops.iter().filter(|op| op.is_stepped()).count() as u64;
        let blocks: u64 = graph.ops.iter().map(Op::param_blocks).sum();
        let mut buffers = vec![self.slot * (blocks + 1)];
        if stepped > 0 {
            buffers.push(self.slot * stepped * self.max_steps.max(1) as u64);
        }
        buffers
    }
}

/// What the budget planner reads.
#[derive(Clone, Debug)]
pub struct BudgetInputs<'g> {
    /// The graph (phases included).
    pub graph: &'g Graph,
    /// Kernel workspaces, one per request, live for their op alone.
    pub scratch: &'g [Scratch],
    /// The adapter's limits.
    pub limits: Limits,
    /// The packer's options.
    pub options: Options,
    /// The parameter blocks.
    pub params: ParamSlots,
    /// How the allocator reserves the buffers ([`AllocatorModel::WGPU`] from [`BudgetInputs::new`]).
    pub allocator: AllocatorModel,
}

impl<'g> BudgetInputs<'g> {
    /// The inputs, named.
    pub fn new(
        graph: &'g Graph,
        scratch: &'g [Scratch],
        limits: Limits,
        options: Options,
        params: ParamSlots,
    ) -> Self {
        BudgetInputs {
            graph,
            scratch,
            limits,
            options,
            params,
            allocator: AllocatorModel::WGPU,
        }
    }
}

/// The fastest plan that fits `budget` (all resident without one).
///
/// - Fails with [`Error::Budget`] when not even [`min_budget`]'s plan fits, naming the minimum and
///   where the arena peaks.
/// - Fails with [`Error::Limit`] when a tensor breaks an adapter limit whatever the budget.
pub fn plan_budget(inputs: &BudgetInputs<'_>, budget: Option<u64>) -> Result<BudgetPlan> {
    let analysis = Analysis::new(inputs)?;
    let Some(budget) = budget else {
        let all = vec![0; analysis.phases.len()];
        return analysis.finish(&all, None);
    };
    // (cost, estimated total, combination), cheapest first.
    let mut feasible: Vec<(UploadCost, u64, Vec<usize>)> = Vec::new();
    analysis.for_each_choice(|choice| {
        let c = analysis.estimate(choice);
        let buffers = analysis.buffers(&[c.arena]);
        if let Some((staging, total)) = analysis.fit(&buffers, Some(budget), &c) {
            feasible.push((analysis.cost(choice, staging), total, choice.to_vec()));
        }
    });
    feasible.sort_by(|a, b| a.0.seconds.total_cmp(&b.0.seconds).then(a.1.cmp(&b.1)));
    if let Some((best, _, _)) = feasible.first().cloned() {
        // Among plans that upload the same bytes and differ only a little in copies, the smallest.
        let near = feasible.partition_point(|c| {
            c.0.bytes == best.bytes && c.0.seconds <= best.seconds * (1.0 + COST_TOLERANCE)
        });
        feasible[..near].sort_by_key(|c| c.1);
    }
    for (_, _, choice) in feasible.iter().take(MAX_REAL_PLANS) {
        if let Some(plan) = analysis.finish_within(choice, budget)? {
            return Ok(plan);
        }
    }
    let min = analysis.minimum()?;
    if min.plan.memory.total() <= budget {
        return Ok(analysis
            .finish_within(&min.choice, budget)?
            .unwrap_or(min.plan));
    }
    Err(refusal(budget, &min.plan))
}

/// The plan with the smallest device footprint: its `memory.total()` is the smallest budget that works.
pub fn min_budget(inputs: &BudgetInputs<'_>) -> Result<BudgetPlan> {
    Ok(Analysis::new(inputs)?.minimum()?.plan)
}

/// The plan that gives every phase `residency` (streamed: one group per op), whatever it costs.
pub fn plan_residency(inputs: &BudgetInputs<'_>, residency: Residency) -> Result<BudgetPlan> {
    let analysis = Analysis::new(inputs)?;
    let choice: Vec<usize> = analysis
        .phases
        .iter()
        .map(|p| {
            p.options
                .iter()
                .position(|o| o.residency == residency && o.target == 0)
                .unwrap_or(0)
        })
        .collect();
    analysis.finish(&choice, None)
}

/// The smallest arena each phase could run in on its own: its activations plus its own weights
/// streamed one op at a time (the minimum budget is the largest of these, plus parameters and
/// staging). Shows which phase dominates, and what a rewrite of it (tiling) would gain.
pub fn phase_floors(inputs: &BudgetInputs<'_>) -> Result<Vec<(String, u64)>> {
    let analysis = Analysis::new(inputs)?;
    Ok(analysis
        .phases
        .iter()
        .map(|p| {
            let floor = p
                .options
                .iter()
                .filter(|o| o.residency != Residency::Resident)
                .map(|o| o.peak)
                .min()
                .unwrap_or(p.options[0].peak);
            (p.name.clone(), floor)
        })
        .collect())
}

/// The error for a budget below `min`'s total.
fn refusal(budget: u64, min: &BudgetPlan) -> Error {
    let m = &min.memory;
    let total = m.total();
    Error::Budget {
        budget,
        minimum: total,
        minimum_mib: total as f64 / (1u64 << 20) as f64,
        message: format!(
            "even the smallest plan, {}, needs {} bytes: an arena of {} bytes, where {}; plus parameters \
             {}, staging {} and allocator blocks {} bytes",
            min.strategy,
            total,
            m.arena(),
            min.peak,
            m.params,
            m.staging,
            m.allocator
        ),
    }
}
