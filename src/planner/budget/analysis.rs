//! The search behind [`super::plan_budget`]: each phase's options summarised once, every
//! combination scored by arithmetic, the best planned for real.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::graph::{liveness, TensorId};
use crate::planner::arena::{activation_usages, named, ArenaPlan};
use crate::planner::{align_up, check_usages, plan, Limits, Placement, Plan, Usage};

use super::{
    BudgetInputs, BudgetPlan, Peak, PhaseChoice, PlannedMemory, Residency, Strategy, UploadCost,
    WeightGroup, MAX_REAL_PLANS, MAX_STAGING, MIN_STAGING, REPLAYED_PHASE, STREAM_LADDER,
    UPLOAD_BYTES_PER_SECOND, UPLOAD_SECONDS_PER_COPY,
};

/// One weight's slot.
#[derive(Clone, Copy, Debug)]
pub(super) struct WeightSlot {
    id: TensorId,
    /// Aligned bytes.
    bytes: u64,
    first: u32,
    last: u32,
}

/// An upload group before placement.
#[derive(Clone, Debug)]
pub(super) struct GroupSpec {
    weights: Vec<(TensorId, u64)>,
    bytes: u64,
    first: u32,
    last: u32,
    upload_before: Option<u32>,
}

/// One way to hold one phase's weights, summarised.
#[derive(Clone, Debug)]
pub(super) struct PhaseOption {
    pub(super) residency: Residency,
    pub(super) target: u64,
    groups: Vec<GroupSpec>,
    /// The most bytes of activations and this phase's non-resident weights live at one op.
    pub(super) peak: u64,
    /// Uploads per generation of the groups uploaded within `replayed`; the others are uploaded once.
    runs: u64,
    /// The ops the pipeline runs `runs` times: the whole U-Net step, or a tiled phase's tile span
    /// (its latent-resolution ops outside the span run once).
    replayed: Range<u32>,
    /// The largest group.
    largest: u64,
}

/// One phase and its options (option 0 is resident).
#[derive(Clone, Debug)]
pub(super) struct PhaseInfo {
    pub(super) name: String,
    ops: Range<usize>,
    /// Weights only this phase reads, by first use.
    weights: Vec<WeightSlot>,
    bytes: u64,
    pub(super) options: Vec<PhaseOption>,
}

/// A combination's estimate.
pub(super) struct Estimate {
    /// Resident bytes + the largest phase peak.
    pub(super) arena: u64,
    /// The smallest staging buffer.
    pub(super) staging_min: u64,
    /// The largest useful staging buffer.
    pub(super) staging_max: u64,
}

/// A combination planned for real.
pub(super) struct Minimum {
    pub(super) choice: Vec<usize>,
    pub(super) plan: BudgetPlan,
}

/// What every candidate of one graph shares.
pub(super) struct Analysis<'a, 'g> {
    inputs: &'a BudgetInputs<'g>,
    act_ids: Vec<TensorId>,
    act_usages: Vec<Usage>,
    act_live: Vec<u64>,
    phase_of: Vec<Option<usize>>,
    pub(super) phases: Vec<PhaseInfo>,
    /// Weights read by more than one phase (or outside any): always resident.
    shared: Vec<WeightSlot>,
    /// The activation peak over ops outside every phase.
    outside_peak: u64,
    pub(super) params: u64,
    /// The parameter buffers (computed once: every choice's buffers include them).
    param_buffers: Vec<u64>,
    /// Bytes of `shared`.
    shared_bytes: u64,
    /// The largest group or resident chunk: a quarter of a buffer, so the split into buffers wastes
    /// little.
    cap: u64,
    steps: u64,
}

impl<'a, 'g> Analysis<'a, 'g> {
    pub(super) fn new(inputs: &'a BudgetInputs<'g>) -> Result<Self> {
        let graph = inputs.graph;
        let limits = &inputs.limits;
        let n = graph.ops.len();
        let (act_ids, act_usages) = activation_usages(graph, inputs.scratch);
        check_usages(&act_usages, limits).map_err(|e| named(graph, &act_ids, e))?;
        // Slot alignment: the offset alignment, at least 4 (copies move whole words).
        let align = limits.alignment.max(4);
        let mut act_live = vec![0u64; n + 1];
        let mut delta = vec![0i128; n + 1];
        for u in &act_usages {
            let size = i128::from(align_up(u.size, limits.alignment));
            delta[u.first as usize] += size;
            delta[u.last as usize + 1] -= size;
        }
        let mut live = 0i128;
        for (i, d) in delta.iter().enumerate() {
            live += d;
            act_live[i] = live as u64;
        }
        act_live.truncate(n);

        let phase_ranges: Vec<(String, Range<usize>)> = if graph.phases.is_empty() {
            vec![("graph".to_string(), 0..n)]
        } else {
            graph
                .phases
                .iter()
                .map(|p| (p.name.clone(), p.ops.clone()))
                .collect()
        };
        let mut phase_of = vec![None; n];
        for (k, (_, ops)) in phase_ranges.iter().enumerate() {
            for slot in &mut phase_of[ops.clone()] {
                *slot = Some(k);
            }
        }
        let mut phase_weights: Vec<Vec<WeightSlot>> = vec![Vec::new(); phase_ranges.len()];
        let mut shared = Vec::new();
        for iv in liveness::weight_intervals(graph) {
            let slot = WeightSlot {
                id: iv.tensor,
                bytes: align_up(iv.size.max(4), align),
                first: iv.first,
                last: iv.last,
            };
            match (phase_of[iv.first as usize], phase_of[iv.last as usize]) {
                (Some(a), Some(b)) if a == b => phase_weights[a].push(slot),
                _ => shared.push(slot),
            }
        }
        let outside_peak = (0..n)
            .filter(|&i| phase_of[i].is_none())
            .map(|i| act_live[i])
            .max()
            .unwrap_or(0);
        let mut analysis = Analysis {
            inputs,
            act_ids,
            act_usages,
            act_live,
            phase_of,
            phases: Vec::new(),
            shared_bytes: shared.iter().map(|w| w.bytes).sum(),
            shared,
            outside_peak,
            params: inputs.params.bytes(graph),
            param_buffers: inputs.params.buffers(graph),
            cap: (limits.max_buffer_size / 4 / align * align).max(align),
            steps: inputs.params.max_steps.max(1) as u64,
        };
        for ((name, ops), mut weights) in phase_ranges.into_iter().zip(phase_weights) {
            weights.sort_by_key(|w| (w.first, w.id));
            let bytes = weights.iter().map(|w| w.bytes).sum();
            let mut info = PhaseInfo {
                name,
                ops,
                weights,
                bytes,
                options: Vec::new(),
            };
            info.options = analysis.options(&info);
            analysis.phases.push(info);
        }
        Ok(analysis)
    }

    /// Option 0: resident; then phase-resident; then streamed per op and in groups of `W / 2^k`.
    fn options(&self, phase: &PhaseInfo) -> Vec<PhaseOption> {
        let act_peak = phase
            .ops
            .clone()
            .map(|i| self.act_live[i])
            .max()
            .unwrap_or(0);
        let resident = PhaseOption {
            residency: Residency::Resident,
            target: 0,
            groups: Vec::new(),
            peak: act_peak,
            runs: 0,
            replayed: 0..0,
            largest: 0,
        };
        if phase.weights.is_empty() {
            return vec![resident];
        }
        // The U-Net step runs once per denoising step, a tiled VAE phase's tile span once per slot:
        // weights streamed there are uploaded on every run, phase-resident ones must outlive the whole
        // phase.
        let tiled: Vec<(usize, u32)> = phase
            .ops
            .clone()
            .filter_map(|i| Some((i, self.inputs.graph.ops[i].tiles()?)))
            .collect();
        let whole = phase.ops.start as u32..phase.ops.end as u32;
        let (replayed, runs, span) = match (tiled.first(), tiled.last()) {
            _ if phase.name == REPLAYED_PHASE => (true, self.steps, whole),
            (Some(&(a, t)), Some(&(b, _))) => (true, u64::from(t), a as u32..b as u32 + 1),
            _ => (false, 1, whole),
        };
        let mut options = vec![resident];
        // Phase-resident: chunks of the phase's weights, live over the phase (replayed) or from the
        // first to the last use.
        let (first, last) = if replayed {
            (phase.ops.start as u32, phase.ops.end as u32 - 1)
        } else {
            (
                phase.weights.iter().map(|w| w.first).min().unwrap_or(0),
                phase.weights.iter().map(|w| w.last).max().unwrap_or(0),
            )
        };
        let groups = self
            .chunks(&phase.weights)
            .into_iter()
            .map(|(weights, bytes)| GroupSpec {
                weights,
                bytes,
                first,
                last,
                upload_before: Some(first),
            })
            .collect();
        options.push(self.summarise(phase, Residency::PhaseResident, 0, groups, 1));
        let mut targets = vec![0];
        let ladder = (1..=STREAM_LADDER).map(|k| phase.bytes >> k);
        for t in ladder.chain([MAX_STAGING, MAX_STAGING / 4]) {
            if t > 0 && t < phase.bytes && !targets.contains(&t) {
                targets.push(t);
            }
        }
        for target in targets {
            let groups = self.stream_groups(&phase.weights, target);
            let mut option = self.summarise(phase, Residency::Streamed, target, groups, runs);
            option.replayed = span.clone();
            options.push(option);
        }
        options
    }

    /// `weights` packed end to end into chunks of at most [`Analysis::cap`] (a larger weight alone).
    fn chunks(&self, weights: &[WeightSlot]) -> Vec<(Vec<(TensorId, u64)>, u64)> {
        let mut out: Vec<(Vec<(TensorId, u64)>, u64)> = Vec::new();
        for w in weights {
            match out.last_mut() {
                Some((ws, bytes)) if *bytes + w.bytes <= self.cap => {
                    ws.push((w.id, *bytes));
                    *bytes += w.bytes;
                }
                _ => out.push((vec![(w.id, 0)], w.bytes)),
            }
        }
        out
    }

    /// Streamed groups: consecutive weights by first use; a group closes at a new op once it would
    /// pass `target` (0: at every new op), and never passes the cap.
    fn stream_groups(&self, weights: &[WeightSlot], target: u64) -> Vec<GroupSpec> {
        let mut groups: Vec<GroupSpec> = Vec::new();
        for w in weights {
            let join = groups.last().is_some_and(|g| {
                let new_op = g.upload_before != Some(w.first);
                let over_target = g.bytes + w.bytes > target;
                !(new_op && over_target) && g.bytes + w.bytes <= self.cap
            });
            if join {
                let g = groups.last_mut().expect("a group");
                g.weights.push((w.id, g.bytes));
                g.bytes += w.bytes;
                g.last = g.last.max(w.last);
            } else {
                groups.push(GroupSpec {
                    weights: vec![(w.id, 0)],
                    bytes: w.bytes,
                    first: w.first,
                    last: w.last,
                    upload_before: Some(w.first),
                });
            }
        }
        groups
    }

    fn summarise(
        &self,
        phase: &PhaseInfo,
        residency: Residency,
        target: u64,
        groups: Vec<GroupSpec>,
        runs: u64,
    ) -> PhaseOption {
        let start = phase.ops.start;
        let mut delta = vec![0i128; phase.ops.len() + 1];
        for g in &groups {
            delta[g.first as usize - start] += i128::from(g.bytes);
            delta[g.last as usize + 1 - start] -= i128::from(g.bytes);
        }
        let mut live = 0i128;
        let mut peak = 0u64;
        for (k, i) in phase.ops.clone().enumerate() {
            live += delta[k];
            peak = peak.max(self.act_live[i] + live as u64);
        }
        PhaseOption {
            residency,
            target,
            largest: groups.iter().map(|g| g.bytes).max().unwrap_or(0),
            groups,
            peak,
            runs,
            replayed: 0..0,
        }
    }

    /// Calls `f` with every combination of one option per phase.
    pub(super) fn for_each_choice(&self, mut f: impl FnMut(&[usize])) {
        let mut choice = vec![0usize; self.phases.len()];
        loop {
            f(&choice);
            let mut k = 0;
            loop {
                if k == choice.len() {
                    return;
                }
                choice[k] += 1;
                if choice[k] < self.phases[k].options.len() {
                    break;
                }
                choice[k] = 0;
                k += 1;
            }
        }
    }

    fn option(&self, phase: usize, choice: &[usize]) -> &PhaseOption {
        &self.phases[phase].options[choice[phase]]
    }

    fn resident_bytes(&self, choice: &[usize]) -> u64 {
        self.shared_bytes
            + self
                .phases
                .iter()
                .enumerate()
                .filter(|(k, _)| choice[*k] == 0)
                .map(|(_, p)| p.bytes)
                .sum::<u64>()
    }

    /// Staging bounds: at least [`MIN_STAGING`] (or the largest upload, when smaller), at most the
    /// largest non-resident group or [`MAX_STAGING`].
    fn staging_bounds(&self, largest_resident: u64, largest_other: u64) -> (u64, u64) {
        let largest = largest_resident.max(largest_other);
        let min = MIN_STAGING.min(largest).div_ceil(4) * 4;
        (min, largest_other.min(MAX_STAGING).max(min))
    }

    /// The device buffers besides staging: `arena` buffers, then the parameter buffers.
    pub(super) fn buffers(&self, arena: &[u64]) -> Vec<u64> {
        let mut buffers = arena.to_vec();
        buffers.extend(&self.param_buffers);
        buffers
    }

    /// The largest staging within `c`'s bounds that keeps `buffers` and it within `budget` as the
    /// allocator reserves them, and that total; `None` when not even the smallest fits. Without a
    /// budget, the largest.
    pub(super) fn fit(
        &self,
        buffers: &[u64],
        budget: Option<u64>,
        c: &Estimate,
    ) -> Option<(u64, u64)> {
        let alloc = &self.inputs.allocator;
        let max = alloc.buffer_size(c.staging_max);
        let with = |staging: u64| {
            let mut all = buffers.to_vec();
            all.push(staging);
            alloc.reserved(&all)
        };
        let Some(budget) = budget else {
            return Some((max, with(max)));
        };
        // What is left of the budget (page-rounded down when over a block), the free room of a
        // shared block, and the minimum.
        let left = budget.saturating_sub(alloc.reserved(buffers));
        let left = if left > alloc.block {
            left / alloc.page * alloc.page
        } else {
            left / 4 * 4
        };
        let mut candidates = [max, left, alloc.free_room(buffers), c.staging_min];
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        candidates
            .into_iter()
            .filter(|&s| s >= c.staging_min && s <= max)
            .map(|s| (s, with(s)))
            .find(|&(_, total)| total <= budget)
    }

    pub(super) fn estimate(&self, choice: &[usize]) -> Estimate {
        let resident = self.resident_bytes(choice);
        let peak = (0..self.phases.len())
            .map(|k| self.option(k, choice).peak)
            .max()
            .unwrap_or(0)
            .max(self.outside_peak);
        let largest_other = (0..self.phases.len())
            .map(|k| self.option(k, choice).largest)
            .max()
            .unwrap_or(0);
        let (staging_min, staging_max) = self.staging_bounds(resident.min(self.cap), largest_other);
        Estimate {
            arena: resident + peak,
            staging_min,
            staging_max,
        }
    }

    pub(super) fn cost(&self, choice: &[usize], staging: u64) -> UploadCost {
        let mut cost = UploadCost {
            steps: self.steps,
            ..Default::default()
        };
        for k in 0..self.phases.len() {
            let o = self.option(k, choice);
            for g in &o.groups {
                let replayed = g.upload_before.is_some_and(|i| o.replayed.contains(&i));
                let runs = if replayed { o.runs } else { o.runs.min(1) };
                cost.bytes += runs * g.bytes;
                cost.copies += runs * g.bytes.div_ceil(staging.max(4));
            }
        }
        cost.seconds = cost.bytes as f64 / UPLOAD_BYTES_PER_SECOND
            + cost.copies as f64 * UPLOAD_SECONDS_PER_COPY;
        cost
    }

    /// Plans `choice` for real and sizes its staging within `budget` (or at its largest without one).
    /// `None` when the arena turned out too large for the budget.
    pub(super) fn finish_within(
        &self,
        choice: &[usize],
        budget: u64,
    ) -> Result<Option<BudgetPlan>> {
        let plan = self.finish(choice, Some(budget))?;
        Ok((plan.memory.total() <= budget).then_some(plan))
    }

    /// The smallest plan: combinations by estimated total, planned until no estimate can beat the best.
    pub(super) fn minimum(&self) -> Result<Minimum> {
        let mut all: Vec<(u64, f64, Vec<usize>)> = Vec::new();
        self.for_each_choice(|choice| {
            let c = self.estimate(choice);
            let cost = self.cost(choice, c.staging_min);
            let mut buffers = self.buffers(&[c.arena]);
            buffers.push(c.staging_min);
            let total = self.inputs.allocator.reserved(&buffers);
            all.push((total, cost.seconds, choice.to_vec()));
        });
        all.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut best: Option<Minimum> = None;
        for (total, _, choice) in all.into_iter().take(MAX_REAL_PLANS) {
            if best
                .as_ref()
                .is_some_and(|b| b.plan.memory.total() <= total)
            {
                break;
            }
            // The smallest staging: plan with the tightest budget the arena allows.
            let plan = self.finish(&choice, Some(0))?;
            if best
                .as_ref()
                .is_none_or(|b| plan.memory.total() < b.plan.memory.total())
            {
                best = Some(Minimum { choice, plan });
            }
        }
        best.ok_or_else(|| Error::Invalid("the budget planner found no plan".into()))
    }

    /// Plans `choice`: groups, one packing of everything, placements, staging, memory, cost, peak.
    /// With a budget, the staging buffer takes what is left of it (at least its minimum); without,
    /// its largest useful size.
    pub(super) fn finish(&self, choice: &[usize], budget: Option<u64>) -> Result<BudgetPlan> {
        let graph = self.inputs.graph;
        let limits = &self.inputs.limits;
        let end = graph.ops.len().saturating_sub(1) as u32;

        // 1. Upload groups: resident chunks (shared weights, then resident phases), then the rest.
        let mut resident: Vec<WeightSlot> = self.shared.clone();
        for (k, p) in self.phases.iter().enumerate() {
            if choice[k] == 0 {
                resident.extend(&p.weights);
            }
        }
        resident.sort_by_key(|w| (w.first, w.id));
        let mut specs: Vec<(Residency, Option<usize>, GroupSpec)> = self
            .chunks(&resident)
            .into_iter()
            .map(|(weights, bytes)| {
                let g = GroupSpec {
                    weights,
                    bytes,
                    first: 0,
                    last: end,
                    upload_before: None,
                };
                (Residency::Resident, None, g)
            })
            .collect();
        for k in 0..self.phases.len() {
            let o = self.option(k, choice);
            specs.extend(o.groups.iter().map(|g| (o.residency, Some(k), g.clone())));
        }
        if let Some((_, _, g)) = specs
            .iter()
            .find(|(_, _, g)| g.bytes > limits.max_buffer_size)
        {
            let name = &graph.tensor(g.weights[0].0).name;
            return Err(Error::Limit {
                what: format!("weight {name}"),
                limit: "max_buffer_size",
                needed: g.bytes,
                max: limits.max_buffer_size,
            });
        }

        // 2. One packing: activations, scratch, groups. Weights may exceed one binding where their
        //    kernel splits them (the CLIP token table); activations were checked against it.
        let mut usages = self.act_usages.clone();
        usages.extend(specs.iter().map(|(_, _, g)| Usage {
            size: g.bytes,
            first: g.first,
            last: g.last,
        }));
        let packing_limits = Limits {
            max_binding_size: limits.max_buffer_size,
            ..*limits
        };
        let packed: Plan = plan(&usages, &packing_limits, &self.inputs.options)
            .map_err(|e| named(graph, &self.act_ids, e))?;

        // 3. Placements: activations, scratch, groups and the weights inside them.
        let mut placements = vec![None; graph.tensors.len()];
        for (id, p) in self.act_ids.iter().zip(&packed.placements) {
            placements[id.index()] = Some(*p);
        }
        let n_act = self.act_ids.len();
        let n_scratch = self.act_usages.len() - n_act;
        let scratch = packed.placements[n_act..n_act + n_scratch].to_vec();
        let mut groups = Vec::with_capacity(specs.len());
        for ((residency, phase, g), place) in specs
            .into_iter()
            .zip(&packed.placements[n_act + n_scratch..])
        {
            for &(id, offset) in &g.weights {
                placements[id.index()] = Some(Placement {
                    buffer: place.buffer,
                    offset: place.offset + offset,
                });
            }
            groups.push(WeightGroup {
                residency,
                phase,
                upload_before: g.upload_before,
                first: g.first,
                last: g.last,
                weights: g.weights,
                bytes: g.bytes,
                placement: *place,
            });
        }
        // Non-resident groups in upload order.
        groups[..].sort_by_key(|g| (g.upload_before.map_or(0, |u| u + 1), g.first));

        // 4. Staging, memory and cost. Buffers with memory of their own are page-rounded.
        let mut packed = packed;
        for size in &mut packed.buffer_sizes {
            let rounded = self.inputs.allocator.buffer_size(*size);
            *size = rounded.min(limits.max_buffer_size).max(*size);
        }
        let arena: u64 = packed.buffer_sizes.iter().sum();
        let largest_resident = groups
            .iter()
            .filter(|g| g.residency == Residency::Resident)
            .map(|g| g.bytes)
            .max()
            .unwrap_or(0);
        let largest_other = groups
            .iter()
            .filter(|g| g.residency != Residency::Resident)
            .map(|g| g.bytes)
            .max()
            .unwrap_or(0);
        let (staging_min, staging_max) = self.staging_bounds(largest_resident, largest_other);
        let bounds = Estimate {
            arena,
            staging_min,
            staging_max,
        };
        let buffers = self.buffers(&packed.buffer_sizes);
        let staging = self
            .fit(&buffers, budget, &bounds)
            .map_or(staging_min, |(staging, _)| staging);
        let mut all_buffers = buffers;
        all_buffers.push(staging);
        let reserved = self.inputs.allocator.reserved(&all_buffers);
        let peak = self.peak(&usages, n_act + n_scratch, &groups);
        let weights_resident: u64 = groups
            .iter()
            .filter(|g| g.residency == Residency::Resident)
            .map(|g| g.bytes)
            .sum();
        let memory = PlannedMemory {
            activations: arena - weights_resident.min(arena) - peak.weights_streamed,
            weights_resident,
            weights_streamed: peak.weights_streamed,
            params: self.params,
            staging,
            allocator: reserved - arena - self.params - staging,
        };
        let strategy = Strategy {
            phases: self
                .phases
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    let o = self.option(k, choice);
                    PhaseChoice {
                        phase: p.name.clone(),
                        residency: o.residency,
                        group_target: o.target,
                        weight_bytes: p.bytes,
                        groups: o.groups.len(),
                    }
                })
                .collect(),
        };
        Ok(BudgetPlan {
            strategy,
            arena: ArenaPlan {
                activations: placements,
                activation_plan: packed,
                scratch,
                weights: vec![None; graph.tensors.len()],
                weight_plan: Plan {
                    placements: Vec::new(),
                    buffer_sizes: Vec::new(),
                    load: 0,
                    optimal: true,
                    method: "weights in the arena",
                },
            },
            groups,
            staging,
            memory,
            cost: self.cost(choice, staging),
            peak,
            usages,
        })
    }

    /// The op where the packed usages (aligned) peak, and what is live there. `groups_from` is the
    /// index of the first group usage.
    fn peak(&self, usages: &[Usage], groups_from: usize, groups: &[WeightGroup]) -> Peak {
        let graph = self.inputs.graph;
        let n = graph.ops.len();
        if n == 0 {
            return Peak::default();
        }
        let alignment = self.inputs.limits.alignment;
        let mut delta = vec![0i128; n + 1];
        for u in usages {
            let size = i128::from(align_up(u.size, alignment));
            delta[u.first as usize] += size;
            delta[u.last as usize + 1] -= size;
        }
        let (mut live, mut best, mut op) = (0i128, 0i128, 0usize);
        for (i, d) in delta[..n].iter().enumerate() {
            live += d;
            if live > best {
                (best, op) = (live, i);
            }
        }
        debug_assert_eq!(usages.len() - groups_from, groups.len());
        let live_at = |g: &&WeightGroup| g.first as usize <= op && op <= g.last as usize;
        let sum = |resident: bool| -> u64 {
            groups
                .iter()
                .filter(|g| (g.residency == Residency::Resident) == resident)
                .filter(live_at)
                .map(|g| g.bytes)
                .sum()
        };
        Peak {
            op: op as u32,
            phase: self.phase_of[op]
                .map_or("(no phase)".to_string(), |k| self.phases[k].name.clone()),
            tensor: graph.tensor(graph.ops[op].output()).name.clone(),
            activations: self.act_live[op],
            weights_streamed: sum(false),
            weights_resident: sum(true),
        }
    }
}
