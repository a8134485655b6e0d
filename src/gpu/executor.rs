//! The executor: runs a planned graph with every tensor in one planned arena.
//!
//! Load time ([`Executor::with_options`]) does all the device work there is: it plans the arena under
//! the memory budget ([`crate::planner::budget`]), creates its buffers, the staging buffer and the
//! parameter blocks, uploads the resident weights, writes every op's parameter block and builds every
//! bind group. Running ([`Executor::run`], [`Executor::run_step`]) records the prebuilt dispatches,
//! and uploads the weights that are not resident just before the ops that read them:
//!
//! - Each upload group is read from the weight source into one reused host buffer (the largest group;
//!   or, when the executor only borrowed the source, from a host copy made at load), written into the
//!   mapped staging buffer and copied into its arena slot with `copy_buffer_to_buffer`, piece by piece
//!   when it is larger than the staging buffer. Nothing is created on the device.
//! - The command stream is split at upload points: the compute work before a group is submitted
//!   first, the group's copies follow it in queue order, then the ops after it. Uploads are
//!   synchronous for the staging buffer (each piece waits for the previous copy), but the host side
//!   overlaps the GPU: the group is read while the preceding ops run, and mapping waits only for the
//!   previous copy, not for the compute work queued behind it.
//! - Phase-resident groups are uploaded when their phase starts and stay valid while only ops inside
//!   their lifetime run (the U-Net's over every denoising step); any other op, or a [`Executor::write`]
//!   over their bytes, makes them stale, and the next run of the phase uploads them again.
//!
//! With `WGSD_CHECK=1` in the environment, [`Executor::run`] runs op by op, reads each output back and
//! names the first op that produced NaN or Inf.

use std::ops::Range;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::graph::{DType, Graph, Op, TensorId, TileGrid, TileStats};
use crate::planner::budget::{self, BudgetInputs, BudgetPlan, ParamSlots, Residency, Strategy};
use crate::planner::{ArenaPlan, Limits, Options, Scratch};

use super::kernels::sampler::{StepValues, Stepped};
use super::kernels::{
    attention, conv2d, elementwise, embedding, matmul, norm, sampler, shape, tile, Dispatch,
    ParamArena,
};
use super::{Gpu, TensorView};

/// Where the executor gets weight values from: once per resident weight at load, and for every
/// upload of a weight that is not resident.
pub trait WeightSource {
    /// Checks, before any device work, that every weight in `required` (name, shape) can be provided;
    /// the error names every missing or misshapen tensor and the file. The default accepts all.
    fn check(&self, required: &[(&str, &[u32])]) -> Result<()> {
        let _ = required;
        Ok(())
    }

    /// Writes the weight `name` of shape `shape`, converted to `dtype`, into `dst` (exactly
    /// `numel · dtype.size()` bytes). Must write the same bytes every time: a streamed weight is read
    /// again for every upload.
    fn fill(&self, name: &str, shape: &[u32], dtype: DType, dst: &mut [u8]) -> Result<()>;
}

/// Device bytes the executor holds, by category; `total()` is what the budget bounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExecutorMemory {
    /// The arena's bytes besides the weights: activations, kernel scratch and packing slack.
    pub activations: u64,
    /// The resident weights (inside the arena).
    pub weights: u64,
    /// The arena's bytes holding non-resident weights where the arena peaks.
    pub streamed: u64,
    /// The uniform parameter blocks (the per-step blocks of the sampler ops included).
    pub params: u64,
    /// The staging buffer weights are uploaded through.
    pub staging: u64,
    /// What the allocator reserves beyond the buffers: small buffers share 4 MiB blocks
    /// ([`budget::AllocatorModel`]).
    pub allocator: u64,
}

impl ExecutorMemory {
    /// All of it, as the allocator reserves it: what a budget bounds.
    pub fn total(&self) -> u64 {
        self.activations
            + self.weights
            + self.streamed
            + self.params
            + self.staging
            + self.allocator
    }
}

impl From<budget::PlannedMemory> for ExecutorMemory {
    fn from(m: budget::PlannedMemory) -> Self {
        ExecutorMemory {
            activations: m.activations,
            weights: m.weights_resident,
            streamed: m.weights_streamed,
            params: m.params,
            staging: m.staging,
            allocator: m.allocator,
        }
    }
}

/// How an [`Executor`] is loaded.
#[derive(Clone, Debug, Default)]
pub struct ExecutorOptions {
    /// The planner's options.
    pub planner: Options,
    /// Step slots of the sampler ops (the most denoising steps a generation may run).
    pub max_steps: usize,
    /// Device bytes the executor may hold; `None` for no limit (every weight resident).
    pub budget: Option<u64>,
}

/// The group-norm workspaces of `graph`'s ops, one per group norm, live for its op alone.
fn scratch_requests(graph: &Graph) -> Vec<Scratch> {
    graph
        .ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match *op {
            Op::GroupNorm { x, groups, .. } => Some(Scratch {
                op: i as u32,
                bytes: norm::group_norm_scratch_len(group_norm_shape(graph, x, groups)) * 4,
            }),
            _ => None,
        })
        .collect()
}

/// The planner's view of `gpu`'s limits.
fn limits_of(gpu: &Gpu) -> Limits {
    let l = gpu.limits();
    Limits {
        alignment: l.min_storage_buffer_offset_alignment as u64,
        max_buffer_size: l.max_buffer_size,
        max_binding_size: l.max_storage_buffer_binding_size,
    }
}

/// Bytes of one parameter block on `gpu`.
fn param_slot(gpu: &Gpu) -> u64 {
    ParamArena::SLOT.max(gpu.limits().min_uniform_buffer_offset_alignment as u64)
}

/// One weight of an upload group: what to ask the source for and where it goes in the group's slot.
struct WeightFill {
    name: String,
    shape: Vec<u32>,
    dtype: DType,
    /// Byte offset in the group's slot.
    offset: usize,
}

/// Where non-resident weights come from while running.
enum RunSource {
    /// Every weight is resident: nothing is uploaded while running.
    Nothing,
    /// The executor's own handle on the source: each group is read when it is uploaded, into
    /// [`StreamState::host`] (the largest group's bytes).
    Shared(Arc<dyn WeightSource + Send + Sync>),
    /// The source was only borrowed at load: every non-resident group's bytes, read then (empty for
    /// resident groups). Host memory holds every non-resident weight.
    Cached(Vec<Vec<u8>>),
}

/// Upload state, behind a lock so that running takes `&self`.
struct StreamState {
    /// The reused host buffer groups are read into.
    host: Vec<u8>,
    /// Per group: a phase-resident group whose slot still holds its weights.
    valid: Vec<bool>,
    /// The submission of the last copy out of the staging buffer: mapping it again waits for it.
    last_copy: Option<wgpu::SubmissionIndex>,
}

/// A graph loaded onto the device, ready to run.
pub struct Executor {
    /// Dispatches of each graph op, in op order.
    ops: Vec<OpDispatches>,
    /// The view of every tensor an op touches (views resolved to their base's storage).
    views: Vec<Option<TensorView>>,
    /// Output tensor of each op, for the NaN check.
    outputs: Vec<TensorId>,
    names: Vec<String>,
    arena: Vec<wgpu::Buffer>,
    /// `MAP_WRITE | COPY_SRC`, `budget.staging` bytes; `None` when the graph has no weights.
    staging: Option<wgpu::Buffer>,
    params: ParamArena,
    budget: BudgetPlan,
    stepped: SteppedOps,
    /// Per group, the weights to read into its slot.
    fills: Vec<Vec<WeightFill>>,
    /// Per op, the non-resident groups uploaded just before it.
    uploads: Vec<Vec<usize>>,
    source: RunSource,
    stream: Mutex<StreamState>,
}

/// The sampler ops whose parameters change every step: one dispatch per op and step slot, bound to
/// its own parameter block in one buffer written once per generation ([`Executor::set_schedule`]).
struct SteppedOps {
    /// For each graph op, its index in `kinds` when it is stepped.
    index: Vec<Option<usize>>,
    kinds: Vec<Stepped>,
    /// `dispatches[slot][k]`: op `k` in step slot `slot`.
    dispatches: Vec<Vec<Dispatch>>,
    /// Whether op `k` runs in step `slot` of the current schedule.
    runs: Vec<Vec<bool>>,
    buffer: Option<wgpu::Buffer>,
    stride: u64,
    /// Steps in the current schedule.
    steps: usize,
}

fn dims(graph: &Graph, id: TensorId) -> Vec<usize> {
    graph.tensor(id).shape.iter().map(|&d| d as usize).collect()
}

fn group_norm_shape(graph: &Graph, x: TensorId, groups: u32) -> norm::GroupNormShape {
    let s = dims(graph, x);
    norm::GroupNormShape {
        batch: s[0] as u32,
        channels: s[1] as u32,
        spatial: s[2..].iter().product::<usize>() as u32,
        groups,
    }
}

/// Reads the weights of one group into `host`, laid out as its slot (gaps zeroed).
fn fill_group(
    source: &dyn WeightSource,
    fills: &[WeightFill],
    bytes: u64,
    host: &mut Vec<u8>,
) -> Result<()> {
    host.clear();
    host.resize(bytes as usize, 0);
    for f in fills {
        let n: u64 = f.shape.iter().map(|&d| u64::from(d)).product::<u64>() * f.dtype.size();
        source.fill(
            &f.name,
            &f.shape,
            f.dtype,
            &mut host[f.offset..f.offset + n as usize],
        )?;
    }
    Ok(())
}

/// Maps the first `len` bytes of `staging` for writing. `after` is the submission of the previous
/// copy out of it: only that one is waited for, so compute work queued behind it keeps running.
fn map_staging(
    gpu: &Gpu,
    staging: &wgpu::Buffer,
    len: u64,
    after: Option<wgpu::SubmissionIndex>,
) -> Result<()> {
    let (tx, rx) = mpsc::channel();
    staging
        .slice(..len)
        .map_async(wgpu::MapMode::Write, move |r| {
            let _ = tx.send(r);
        });
    let poll = match after {
        Some(index) => wgpu::PollType::Wait {
            submission_index: Some(index),
            timeout: None,
        },
        None => wgpu::PollType::Poll,
    };
    gpu.device()
        .poll(poll)
        .map_err(|e| Error::Device(format!("waiting for the staging buffer failed: {e}")))?;
    let mapped = match rx.try_recv() {
        Ok(r) => r,
        Err(_) => {
            gpu.wait()?;
            rx.recv()
                .map_err(|_| Error::Device("mapping the staging buffer was dropped".into()))?
        }
    };
    mapped.map_err(|e| Error::Device(format!("mapping the staging buffer failed: {e}")))
}

/// Copies `bytes` into `dst` at `offset` through `staging`, in pieces of the staging buffer's size:
/// map, write, unmap, copy, submit. Returns after the last submit (the copies may still run).
fn upload_through(
    gpu: &Gpu,
    staging: &wgpu::Buffer,
    bytes: &[u8],
    dst: &wgpu::Buffer,
    offset: u64,
    last_copy: &mut Option<wgpu::SubmissionIndex>,
) -> Result<()> {
    let piece = staging.size() as usize;
    for (k, chunk) in bytes.chunks(piece).enumerate() {
        let len = chunk.len() as u64;
        debug_assert_eq!(len % 4, 0, "upload pieces are whole words");
        map_staging(gpu, staging, len, last_copy.take())?;
        {
            let mut view = staging
                .slice(..len)
                .get_mapped_range_mut()
                .map_err(|e| Error::Device(format!("writing the staging buffer failed: {e}")))?;
            view.copy_from_slice(chunk);
        }
        staging.unmap();
        let mut encoder = gpu
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("wgsd weight upload"),
            });
        encoder.copy_buffer_to_buffer(staging, 0, dst, offset + (k * piece) as u64, len);
        *last_copy = Some(gpu.queue().submit([encoder.finish()]));
    }
    Ok(())
}

impl Executor {
    /// Plans `graph` for `gpu`, creates its buffers, uploads its weights from `source` and builds every
    /// dispatch. A graph with sampler ops gets one step slot; see [`Executor::with_steps`].
    pub fn new(
        gpu: &Gpu,
        graph: &Graph,
        source: &dyn WeightSource,
        options: &Options,
    ) -> Result<Executor> {
        Self::with_steps(gpu, graph, source, options, 1)
    }

    /// As [`Executor::new`], with `max_steps` step slots for the sampler ops (the most denoising steps a
    /// generation may run; each slot holds a parameter block and a bind group per sampler op).
    pub fn with_steps(
        gpu: &Gpu,
        graph: &Graph,
        source: &dyn WeightSource,
        options: &Options,
        max_steps: usize,
    ) -> Result<Executor> {
        Self::with_options(
            gpu,
            graph,
            source,
            &ExecutorOptions {
                planner: options.clone(),
                max_steps,
                budget: None,
            },
        )
    }

    /// The group-norm workspaces the executor plans for `graph` (pure: no device needed).
    pub fn scratch(graph: &Graph) -> Vec<Scratch> {
        scratch_requests(graph)
    }

    /// The budget planner's inputs for `graph` on a device with `limits` and uniform blocks of `slot`
    /// bytes (pure: `wgsd plan` uses it with default limits).
    pub fn budget_inputs<'g>(
        graph: &'g Graph,
        scratch: &'g [Scratch],
        limits: Limits,
        slot: u64,
        options: &ExecutorOptions,
    ) -> BudgetInputs<'g> {
        BudgetInputs::new(
            graph,
            scratch,
            limits,
            options.planner.clone(),
            ParamSlots::new(slot, options.max_steps),
        )
    }

    /// The plan `graph` gets on `gpu` under `options.budget`: the fastest strategy that fits, or
    /// [`Error::Budget`] with the smallest budget that works. Nothing is created on the device.
    pub fn budget_plan(gpu: &Gpu, graph: &Graph, options: &ExecutorOptions) -> Result<BudgetPlan> {
        let scratch = scratch_requests(graph);
        let inputs = Self::budget_inputs(graph, &scratch, limits_of(gpu), param_slot(gpu), options);
        budget::plan_budget(&inputs, options.budget)
    }

    /// The smallest plan of `graph` on `gpu`: its `memory.total()` is the smallest budget that works.
    pub fn min_budget(gpu: &Gpu, graph: &Graph, options: &ExecutorOptions) -> Result<BudgetPlan> {
        let scratch = scratch_requests(graph);
        let inputs = Self::budget_inputs(graph, &scratch, limits_of(gpu), param_slot(gpu), options);
        budget::min_budget(&inputs)
    }

    /// Device bytes `graph` needs on `gpu` by category under `options.budget`, from the plan alone
    /// (nothing is created).
    pub fn planned_memory(
        gpu: &Gpu,
        graph: &Graph,
        options: &ExecutorOptions,
    ) -> Result<(ArenaPlan, ExecutorMemory)> {
        let plan = Self::budget_plan(gpu, graph, options)?;
        let memory = ExecutorMemory::from(plan.memory);
        Ok((plan.arena, memory))
    }

    /// As [`Executor::new`], with every option. The plan is made under `options.budget` before any
    /// buffer is created; a budget below the smallest plan is refused with [`Error::Budget`]. Weights
    /// that are not resident are read from `source` once here and kept in host memory (the executor
    /// cannot hold a borrowed source); [`Executor::with_shared_source`] reads them at each upload
    /// instead.
    pub fn with_options(
        gpu: &Gpu,
        graph: &Graph,
        source: &dyn WeightSource,
        options: &ExecutorOptions,
    ) -> Result<Executor> {
        Self::load(gpu, graph, source, None, options, None)
    }

    /// As [`Executor::with_options`], keeping `source`: every upload of a non-resident weight reads
    /// it again, through one host buffer the size of the largest upload group.
    pub fn with_shared_source(
        gpu: &Gpu,
        graph: &Graph,
        source: Arc<dyn WeightSource + Send + Sync>,
        options: &ExecutorOptions,
    ) -> Result<Executor> {
        Self::load(gpu, graph, &*source.clone(), Some(source), options, None)
    }

    /// As [`Executor::with_shared_source`], with a plan already made for `graph` on `gpu` under
    /// `options` (by [`Executor::budget_inputs`] with [`Executor::device_limits`]).
    pub fn with_plan(
        gpu: &Gpu,
        graph: &Graph,
        source: Arc<dyn WeightSource + Send + Sync>,
        options: &ExecutorOptions,
        plan: BudgetPlan,
    ) -> Result<Executor> {
        Self::load(
            gpu,
            graph,
            &*source.clone(),
            Some(source),
            options,
            Some(plan),
        )
    }

    /// `gpu`'s limits as the planner sees them, and the bytes of one parameter block.
    pub fn device_limits(gpu: &Gpu) -> (Limits, u64) {
        (limits_of(gpu), param_slot(gpu))
    }

    fn load(
        gpu: &Gpu,
        graph: &Graph,
        source: &dyn WeightSource,
        shared: Option<Arc<dyn WeightSource + Send + Sync>>,
        options: &ExecutorOptions,
        plan: Option<BudgetPlan>,
    ) -> Result<Executor> {
        let max_steps = options.max_steps;
        // 1. The plan, under the budget; refused here, before anything exists on the device.
        let plan = match plan {
            Some(plan) => plan,
            None => Self::budget_plan(gpu, graph, options)?,
        };
        debug_assert!(options.budget.is_none_or(|b| plan.memory.total() <= b));

        // 2. Every weight the graph reads must be there, with its shape, before any device work.
        let required: Vec<(&str, &[u32])> = graph
            .weights()
            .map(|id| {
                let t = graph.tensor(id);
                (t.name.as_str(), t.shape.as_slice())
            })
            .collect();
        source.check(&required)?;

        // 3. Reserve: every buffer of the run, created here and nowhere else.
        let arena = plan
            .arena
            .activation_plan
            .buffer_sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| gpu.create_storage(&format!("wgsd arena {i}"), size))
            .collect::<Result<Vec<_>>>()?;
        let staging = (plan.staging > 0).then(|| {
            gpu.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("wgsd weight staging"),
                size: plan.staging,
                usage: wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            })
        });
        let views: Vec<Option<TensorView>> = (0..graph.tensors.len())
            .map(|i| {
                let id = TensorId(i as u32);
                let info = graph.tensor(id);
                let storage = graph.storage(id).index();
                let place = plan.arena.activations[storage]?;
                Some(TensorView::new(
                    &arena[place.buffer as usize],
                    place.offset + info.offset * info.dtype.size(),
                    info.numel(),
                    info.dtype,
                    &info.name,
                ))
            })
            .collect();

        // 4. Weights: resident groups now, through the staging buffer; the others' bytes kept on the
        //    host when the source is only borrowed.
        let fills: Vec<Vec<WeightFill>> = plan
            .groups
            .iter()
            .map(|g| {
                g.weights
                    .iter()
                    .map(|&(id, offset)| {
                        let t = graph.tensor(id);
                        WeightFill {
                            name: t.name.clone(),
                            shape: t.shape.clone(),
                            dtype: t.dtype,
                            offset: offset as usize,
                        }
                    })
                    .collect()
            })
            .collect();
        let mut host: Vec<u8> = Vec::new();
        let mut last_copy = None;
        let mut cached: Vec<Vec<u8>> = Vec::new();
        for (g, group) in plan.groups.iter().enumerate() {
            if group.residency == Residency::Resident {
                let staging = staging.as_ref().ok_or_else(|| {
                    Error::Invalid("weights planned without a staging buffer".into())
                })?;
                fill_group(source, &fills[g], group.bytes, &mut host)?;
                let dst = &arena[group.placement.buffer as usize];
                upload_through(
                    gpu,
                    staging,
                    &host,
                    dst,
                    group.placement.offset,
                    &mut last_copy,
                )?;
            } else if shared.is_none() {
                cached.resize(g, Vec::new());
                let mut bytes = Vec::new();
                fill_group(source, &fills[g], group.bytes, &mut bytes)?;
                cached.push(bytes);
            }
        }
        host = Vec::new();
        let streams = plan
            .groups
            .iter()
            .any(|g| g.residency != Residency::Resident);
        let run_source = match (streams, shared) {
            (false, _) => RunSource::Nothing,
            (true, Some(s)) => RunSource::Shared(s),
            (true, None) => RunSource::Cached(cached),
        };
        let mut uploads = vec![Vec::new(); graph.ops.len()];
        for (g, group) in plan.groups.iter().enumerate() {
            if let Some(op) = group.upload_before {
                uploads[op as usize].push(g);
            }
        }

        // 5. Dispatches, with their parameter blocks, for every op.
        let blocks: u64 = graph.ops.iter().map(Op::param_blocks).sum();
        let params = ParamArena::new(gpu, blocks + 1);
        let variant = matmul::choose_variant(gpu)?;
        let mut scratch_iter = plan.arena.scratch.iter();
        let mut ops = Vec::with_capacity(graph.ops.len());
        for (i, op) in graph.ops.iter().enumerate() {
            let view = |id: TensorId| -> Result<&TensorView> {
                views[id.index()].as_ref().ok_or_else(|| {
                    Error::Invalid(format!("tensor {} has no storage", graph.tensor(id).name))
                })
            };
            let scratch_view = |bytes: u64| -> Result<TensorView> {
                let place = scratch_iter
                    .next()
                    .ok_or_else(|| Error::Invalid(format!("op {i}: no scratch planned")))?;
                Ok(TensorView::new(
                    &arena[place.buffer as usize],
                    place.offset,
                    bytes / 4,
                    DType::F32,
                    "scratch",
                ))
            };
            let built =
                build_op(gpu, &params, graph, op, &view, scratch_view, variant).map_err(|e| {
                    Error::Invalid(format!("op {i} ({}): {e}", graph.tensor(op.output()).name))
                })?;
            ops.push(built);
        }
        let stepped = SteppedOps::new(gpu, graph, &views, max_steps)?;
        gpu.queue().submit([]);
        // Let wgpu free the transient memory of the parameter writes before the caller measures.
        gpu.wait()?;
        Ok(Executor {
            ops,
            views,
            outputs: graph.ops.iter().map(Op::output).collect(),
            names: graph.tensors.iter().map(|t| t.name.clone()).collect(),
            arena,
            staging,
            params,
            stream: Mutex::new(StreamState {
                host,
                valid: vec![false; plan.groups.len()],
                last_copy: None,
            }),
            budget: plan,
            stepped,
            fills,
            uploads,
            source: run_source,
        })
    }

    /// The arena plan it runs in (weights included: see [`BudgetPlan::arena`]).
    pub fn plan(&self) -> &ArenaPlan {
        &self.budget.arena
    }

    /// The whole budget plan: strategy, upload groups, staging, planned bytes and upload cost.
    pub fn budget(&self) -> &BudgetPlan {
        &self.budget
    }

    /// Where each phase's weights live.
    pub fn strategy(&self) -> &Strategy {
        &self.budget.strategy
    }

    /// Device bytes held, by category: the buffers' sizes (the arena split as planned), and what
    /// the allocator model adds to them.
    pub fn memory(&self) -> ExecutorMemory {
        let mut buffers: Vec<u64> = self.arena.iter().map(|b| b.size()).collect();
        let arena: u64 = buffers.iter().sum();
        let planned = &self.budget.memory;
        let weights = planned.weights_resident.min(arena);
        let streamed = planned.weights_streamed.min(arena - weights);
        buffers.push(self.params.size());
        buffers.extend(self.stepped.buffer.as_ref().map(|b| b.size()));
        buffers.extend(self.staging.as_ref().map(|b| b.size()));
        let params = self.params.size() + self.stepped.buffer.as_ref().map_or(0, |b| b.size());
        let staging = self.staging.as_ref().map_or(0, |b| b.size());
        let reserved = budget::AllocatorModel::WGPU.reserved(&buffers);
        ExecutorMemory {
            activations: arena - weights - streamed,
            weights,
            streamed,
            params,
            staging,
            allocator: reserved - arena - params - staging,
        }
    }

    /// The view of tensor `id`. A weight that is not resident holds its values only while it is live.
    pub fn view(&self, id: TensorId) -> Result<&TensorView> {
        self.views
            .get(id.index())
            .and_then(Option::as_ref)
            .ok_or_else(|| Error::Invalid(format!("tensor {id:?} is not stored by this executor")))
    }

    fn state(&self) -> MutexGuard<'_, StreamState> {
        self.stream.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes an input (token ids as their f32 values). Phase-resident weights whose slot it overlaps
    /// become stale.
    pub fn write(&self, gpu: &Gpu, id: TensorId, data: &[f32]) -> Result<()> {
        let view = self.view(id)?;
        gpu.write(view, data)?;
        let Some(buffer) = self.arena.iter().position(|b| *b == view.buffer) else {
            return Ok(());
        };
        let (start, end) = (view.offset, view.offset + view.bytes());
        let mut state = self.state();
        for (g, group) in self.budget.groups.iter().enumerate() {
            let p = group.placement;
            if p.buffer as usize == buffer && p.offset < end && start < p.offset + group.bytes {
                state.valid[g] = false;
            }
        }
        Ok(())
    }

    /// Reads a tensor back (only the outputs a caller asks for are read).
    pub fn read(&self, gpu: &Gpu, id: TensorId) -> Result<Vec<f32>> {
        gpu.read(self.view(id)?)
    }

    /// Writes the per-step values of the sampler ops for a generation of `values.len()` steps, in one
    /// upload. Step `i` of [`Executor::run_step`] then uses `values[i]`.
    pub fn set_schedule(&mut self, gpu: &Gpu, values: &[StepValues]) -> Result<()> {
        self.stepped.set(gpu, values)
    }

    /// The dispatches of op `i` in step `step`.
    fn op_dispatches(&self, i: usize, step: usize) -> Result<Vec<&Dispatch>> {
        let op = &self.ops[i];
        if let Some(slots) = &op.slots {
            let chosen = slots.get(step).ok_or_else(|| {
                Error::Invalid(format!(
                    "slot {step} is outside the {} tile slots of op {i} ({})",
                    slots.len(),
                    self.names[self.outputs[i].index()]
                ))
            })?;
            return Ok(chosen.iter().map(|&d| &op.dispatches[d]).collect());
        }
        let Some(k) = self.stepped.index[i] else {
            return Ok(op.dispatches.iter().collect());
        };
        if step >= self.stepped.steps {
            return Err(Error::Invalid(format!(
                "step {step} is outside the schedule of {} steps (set_schedule first)",
                self.stepped.steps
            )));
        }
        Ok(if self.stepped.runs[step][k] {
            vec![&self.stepped.dispatches[step][k]]
        } else {
            vec![]
        })
    }

    /// Records the dispatches of `ops` into `pass`, the sampler ops with their values of `step`. Only
    /// for ranges that need no upload (every weight they read resident, or phase-resident and valid):
    /// recording cannot upload, so other ranges are refused; run them with [`Executor::run_step`].
    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        ops: Range<usize>,
        step: usize,
    ) -> Result<()> {
        {
            // Walk the range as running it would, phase-resident groups going stale on the way.
            let mut state = self.state();
            let saved = state.valid.clone();
            let mut refused = None;
            for i in ops.clone() {
                if let Some(&g) = self.uploads[i].iter().find(|&&g| self.due(g, &state)) {
                    refused = Some((i, g));
                    break;
                }
                self.invalidate_outside(i, &mut state);
            }
            state.valid = saved;
            if let Some((i, g)) = refused {
                return Err(Error::Invalid(format!(
                    "op {i} needs an upload of {} weights ({}): run it with run_step",
                    self.budget.groups[g].weights.len(),
                    self.budget.strategy
                )));
            }
        }
        for i in ops {
            for d in self.op_dispatches(i, step)? {
                d.record(pass);
            }
        }
        Ok(())
    }

    /// Runs `ops` (a phase's range) and waits. With `WGSD_CHECK=1`, runs op by op and checks outputs.
    pub fn run(&self, gpu: &Gpu, ops: Range<usize>) -> Result<()> {
        self.run_step(gpu, ops, 0)
    }

    /// Runs `ops` with the sampler ops' values of step `step`, uploading the weights that are not
    /// resident before the ops that read them, and waits.
    pub fn run_step(&self, gpu: &Gpu, ops: Range<usize>, step: usize) -> Result<()> {
        let checked = std::env::var("WGSD_CHECK").is_ok_and(|v| v == "1");
        self.run_ops(gpu, ops, step, checked)
    }

    /// Runs op by op and names the first op whose output holds NaN or Inf.
    pub fn run_checked(&self, gpu: &Gpu, ops: Range<usize>) -> Result<()> {
        self.run_checked_at(gpu, ops, 0)
    }

    /// As [`Executor::run_checked`], with the sampler ops' values of step `step`.
    pub fn run_checked_at(&self, gpu: &Gpu, ops: Range<usize>, step: usize) -> Result<()> {
        self.run_ops(gpu, ops, step, true)
    }

    /// Whether group `g` must be uploaded before its op: streamed always, phase-resident when stale.
    fn due(&self, g: usize, state: &StreamState) -> bool {
        match self.budget.groups[g].residency {
            Residency::Resident => false,
            Residency::PhaseResident => !state.valid[g],
            Residency::Streamed => true,
        }
    }

    /// Op `i` may overwrite the slots of the phase-resident groups that are not live at it.
    fn invalidate_outside(&self, i: usize, state: &mut StreamState) {
        for (g, group) in self.budget.groups.iter().enumerate() {
            if group.residency == Residency::PhaseResident
                && !(group.first as usize..=group.last as usize).contains(&i)
            {
                state.valid[g] = false;
            }
        }
    }

    /// Runs `ops` in segments split at upload points, then waits.
    fn run_ops(&self, gpu: &Gpu, ops: Range<usize>, step: usize, checked: bool) -> Result<()> {
        let mut state = self.state();
        let mut segment = ops.start;
        for i in ops.clone() {
            let due: Vec<usize> = self.uploads[i]
                .iter()
                .copied()
                .filter(|&g| self.due(g, &state))
                .collect();
            if !due.is_empty() {
                self.execute(gpu, segment..i, step, checked)?;
                segment = i;
                for g in due {
                    // The group may be stale mid-upload if this fails: mark it so first.
                    state.valid[g] = false;
                    self.upload(gpu, g, &mut state)?;
                    state.valid[g] = true;
                }
            }
            self.invalidate_outside(i, &mut state);
        }
        self.execute(gpu, segment..ops.end, step, checked)?;
        gpu.wait()
    }

    /// Submits the dispatches of `ops` in one compute pass without waiting; checked: op by op, each
    /// output read back and checked for NaN and Inf.
    fn execute(&self, gpu: &Gpu, ops: Range<usize>, step: usize, checked: bool) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        if checked {
            for i in ops {
                gpu.run(&self.op_dispatches(i, step)?)?;
                let out = self.outputs[i];
                let values = self.read(gpu, out)?;
                if let Some(j) = values.iter().position(|v| !v.is_finite()) {
                    return Err(Error::Invalid(format!(
                        "WGSD_CHECK: op {i} produced {} at element {j} of {}",
                        values[j],
                        self.names[out.index()]
                    )));
                }
            }
            return Ok(());
        }
        let mut encoder = gpu
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("wgsd run"),
            });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("wgsd ops"),
                timestamp_writes: None,
            });
            for i in ops {
                for d in self.op_dispatches(i, step)? {
                    d.record(&mut pass);
                }
            }
        }
        gpu.queue().submit([encoder.finish()]);
        Ok(())
    }

    /// Uploads group `g` into its slot: read (or take from the host copy), then through the staging
    /// buffer. Queued after everything submitted so far.
    fn upload(&self, gpu: &Gpu, g: usize, state: &mut StreamState) -> Result<()> {
        let group = &self.budget.groups[g];
        let staging = self
            .staging
            .as_ref()
            .ok_or_else(|| Error::Invalid("weights planned without a staging buffer".into()))?;
        let dst = &self.arena[group.placement.buffer as usize];
        let StreamState {
            host, last_copy, ..
        } = state;
        let bytes: &[u8] = match &self.source {
            RunSource::Shared(source) => {
                fill_group(&**source, &self.fills[g], group.bytes, host)?;
                host
            }
            RunSource::Cached(groups) => &groups[g],
            RunSource::Nothing => {
                return Err(Error::Invalid(
                    "a weight upload was planned but the executor has no weight source".into(),
                ))
            }
        };
        upload_through(gpu, staging, bytes, dst, group.placement.offset, last_copy)
    }
}

/// The dispatches of one op: all of them on every run, or for a tile op a choice per run slot.
struct OpDispatches {
    dispatches: Vec<Dispatch>,
    /// A tile op's: per run slot of its grid ([`TileGrid::slots`]), the indices into `dispatches`.
    slots: Option<Vec<Vec<usize>>>,
}

impl From<Vec<Dispatch>> for OpDispatches {
    fn from(dispatches: Vec<Dispatch>) -> Self {
        OpDispatches {
            dispatches,
            slots: None,
        }
    }
}

/// The dispatches of one op.
fn build_op<'v>(
    gpu: &Gpu,
    params: &ParamArena,
    graph: &Graph,
    op: &Op,
    view: &dyn Fn(TensorId) -> Result<&'v TensorView>,
    mut scratch: impl FnMut(u64) -> Result<TensorView>,
    variant: matmul::MatmulVariant,
) -> Result<OpDispatches> {
    let g = graph;
    // A tile op has one dispatch per tile: every pass crops the slot's tile; only the last blends.
    let per_tile = |grid: TileGrid, blends: bool, dispatches: Vec<Dispatch>| OpDispatches {
        dispatches,
        slots: Some(
            (0..grid.slots())
                .map(|s| match grid.slot(s) {
                    _ if blends && !grid.is_final(s) => vec![],
                    (_, t) => vec![t as usize],
                })
                .collect(),
        ),
    };
    let dispatches = match *op {
        Op::Linear { x, weight, bias, y, act } => {
            let t = matmul::Operands { x: view(x)?, weight: view(weight)?, bias: bias.map(view).transpose()?, y: view(y)? };
            vec![matmul::linear(gpu, params, t, dims(g, weight)[0], act, variant)?]
        }
        Op::Conv2d { x, weight, bias, y, stride, pad } => {
            let (xs, ws) = (dims(g, x), dims(g, weight));
            let shape = conv2d::Conv2dShape {
                batch: xs[0],
                c_in: xs[1],
                c_out: ws[0],
                h: xs[2],
                w: xs[3],
                k: ws[2],
                stride: stride as usize,
                pad,
            };
            let t = matmul::Operands { x: view(x)?, weight: view(weight)?, bias: bias.map(view).transpose()?, y: view(y)? };
            vec![conv2d::conv2d(gpu, params, t, shape, variant)?]
        }
        Op::GroupNorm { x, gamma, beta, y, groups, eps, silu, shared } => {
            let shape = group_norm_shape(g, x, groups);
            let s = scratch(norm::group_norm_scratch_len(shape) * 4)?;
            let t = norm::NormTensors { x: view(x)?, gamma: view(gamma)?, beta: view(beta)?, y: view(y)? };
            let Some(TileStats { stats, grid }) = shared else {
                return Ok(Vec::from(norm::group_norm(gpu, params, t, &s, shape, eps, silu)?).into());
            };
            let n = norm::group_norm_tiled(gpu, params, t, &s, view(stats)?, shape, eps, silu)?;
            let slots = (0..grid.slots()).map(|slot| norm::TiledGroupNorm::slot(&grid, slot).to_vec());
            return Ok(OpDispatches { dispatches: n.into_vec(), slots: Some(slots.collect()) });
        }
        Op::LayerNorm { x, gamma, beta, y, eps } => {
            let width = *dims(g, x).last().unwrap_or(&1) as u32;
            let t = norm::NormTensors { x: view(x)?, gamma: view(gamma)?, beta: view(beta)?, y: view(y)? };
            vec![norm::layer_norm(gpu, params, t, width, eps)?]
        }
        Op::Attention { q, k, v, y, heads, causal, scale } => {
            let (qs, ks) = (dims(g, q), dims(g, k));
            let shape = attention::AttentionShape {
                batch: qs[0] as u32,
                nq: qs[1] as u32,
                nk: ks[1] as u32,
                heads,
                head_dim: (qs[2] / heads as usize) as u32,
                scale,
                causal,
            };
            vec![attention::attention(gpu, params, view(q)?, view(k)?, view(v)?, view(y)?, shape)?]
        }
        Op::Add { a, b, y, shape } => {
            vec![elementwise::binary(gpu, params, elementwise::Binary::Add, view(a)?, view(b)?, view(y)?, shape)?]
        }
        Op::Mul { a, b, y, shape } => {
            vec![elementwise::binary(gpu, params, elementwise::Binary::Mul, view(a)?, view(b)?, view(y)?, shape)?]
        }
        Op::Scale { x, y, alpha, beta } => vec![elementwise::scale(gpu, params, view(x)?, view(y)?, alpha, beta)?],
        Op::Unary { x, y, f } => vec![elementwise::unary(gpu, params, view(x)?, view(y)?, f)?],
        Op::Geglu { x, y } => {
            let half = (*dims(g, x).last().unwrap_or(&2) / 2) as u32;
            vec![elementwise::geglu(gpu, params, view(x)?, view(y)?, half)?]
        }
        Op::Upsample2x { x, y } => {
            let xs = dims(g, x);
            vec![shape::upsample2x(gpu, params, view(x)?, view(y)?, xs[2] as u32, xs[3] as u32)?]
        }
        Op::Concat { a, b, y } => vec![shape::concat(gpu, params, view(a)?, view(b)?, view(y)?, dims(g, a)[0] as u32)?],
        Op::Transpose { x, y } => {
            let xs = dims(g, x);
            let m: usize = xs[1..xs.len() - 1].iter().product();
            vec![shape::transpose(gpu, params, view(x)?, view(y)?, xs[0] as u32, m as u32, xs[xs.len() - 1] as u32)?]
        }
        Op::TimestepEmbedding { t, y, flip_sin_to_cos, downscale_freq_shift } => {
            let dim = dims(g, y)[1] as u32;
            vec![embedding::timestep_embedding(gpu, params, view(t)?, view(y)?, dim, flip_sin_to_cos, downscale_freq_shift)?]
        }
        Op::TokenEmbedding { ids, token, position, y } => {
            let tokens = dims(g, ids)[1] as u32;
            vec![embedding::token_embedding(gpu, params, view(ids)?, view(token)?, view(position)?, view(y)?, tokens)?]
        }
        Op::Convert { x, y, alpha } => {
            vec![sampler::model_input(gpu, params, view(x)?, view(y)?, 1, alpha)?]
        }
        // One dispatch per tile; the slot a phase is run with picks the tile.
        Op::TileCrop { x, y, grid, scale, alpha } => {
            let d = (0..grid.count()).map(|t| tile::crop(gpu, params, view(x)?, view(y)?, &grid, scale, alpha, t));
            return Ok(per_tile(grid, false, d.collect::<Result<_>>()?));
        }
        Op::TileBlend { x, y, grid, scale } => {
            let d = (0..grid.count()).map(|t| tile::blend(gpu, params, view(x)?, view(y)?, &grid, scale, t));
            return Ok(per_tile(grid, true, d.collect::<Result<_>>()?));
        }
        // Built per step slot by `SteppedOps::new`.
        Op::SamplerInput { .. } | Op::SamplerNoise { .. } | Op::SamplerStep { .. } => vec![],
        Op::AttentionScores { .. } | Op::Softmax { .. } | Op::AttentionValues { .. } => {
            return Err(Error::Invalid(
                "materialised attention models the memory of non-flash runtimes for `wgsd plan`; the \
                 executor runs flash attention (build the graph without materialised_attention)"
                    .into(),
            ))
        }
    };
    Ok(dispatches.into())
}

impl SteppedOps {
    fn new(
        gpu: &Gpu,
        graph: &Graph,
        views: &[Option<TensorView>],
        max_steps: usize,
    ) -> Result<SteppedOps> {
        let view = |id: TensorId| -> Result<&TensorView> {
            views[id.index()].as_ref().ok_or_else(|| {
                Error::Invalid(format!("tensor {} has no storage", graph.tensor(id).name))
            })
        };
        // (kind, (binding, view) list, U-Net dtype) of every stepped op.
        let mut index = vec![None; graph.ops.len()];
        let mut ops = Vec::new();
        for (i, op) in graph.ops.iter().enumerate() {
            let n = |t: TensorId| graph.tensor(t).numel() as u32;
            let built = match *op {
                Op::SamplerInput {
                    latents,
                    timestep,
                    y,
                } => {
                    let kind = Stepped::UnetInput {
                        n: n(latents),
                        copies: n(y) / n(latents).max(1),
                        t_len: n(timestep),
                    };
                    let t = vec![(1, view(latents)?), (5, view(y)?), (6, view(timestep)?)];
                    (kind, t, graph.tensor(y).dtype)
                }
                Op::SamplerNoise { y } => {
                    (Stepped::Noise { n: n(y) }, vec![(4, view(y)?)], DType::F32)
                }
                Op::SamplerStep {
                    latents,
                    model_out,
                    x0_prev,
                    noise,
                } => {
                    let kind = Stepped::Step {
                        n: n(latents),
                        guided: n(model_out) == 2 * n(latents),
                    };
                    let t = vec![
                        (1, view(latents)?),
                        (2, view(model_out)?),
                        (3, view(x0_prev)?),
                        (4, view(noise)?),
                    ];
                    (kind, t, graph.tensor(model_out).dtype)
                }
                _ => continue,
            };
            index[i] = Some(ops.len());
            ops.push(built);
        }
        let kinds: Vec<Stepped> = ops.iter().map(|o| o.0).collect();
        let stride = ParamArena::SLOT.max(gpu.limits().min_uniform_buffer_offset_alignment as u64);
        if ops.is_empty() {
            return Ok(SteppedOps {
                index,
                kinds,
                dispatches: vec![],
                runs: vec![],
                buffer: None,
                stride,
                steps: 0,
            });
        }
        let slots = (max_steps.max(1) * ops.len()) as u64;
        let buffer = gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgsd step params"),
            size: stride * slots,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut dispatches = Vec::with_capacity(max_steps);
        for step in 0..max_steps.max(1) {
            let mut row = Vec::with_capacity(ops.len());
            for (k, (kind, tensors, elem)) in ops.iter().enumerate() {
                let offset = (step * ops.len() + k) as u64 * stride;
                let binding = wgpu::BufferBinding {
                    buffer: &buffer,
                    offset,
                    size: std::num::NonZeroU64::new(
                        kind.params(&StepValues::default()).len() as u64
                    ),
                };
                let refs: Vec<(u32, &TensorView)> = tensors.iter().map(|&(b, v)| (b, v)).collect();
                row.push(kind.dispatch(gpu, binding, &refs, *elem)?);
            }
            dispatches.push(row);
        }
        Ok(SteppedOps {
            index,
            runs: vec![vec![false; kinds.len()]; dispatches.len()],
            kinds,
            dispatches,
            buffer: Some(buffer),
            stride,
            steps: 0,
        })
    }

    fn set(&mut self, gpu: &Gpu, values: &[StepValues]) -> Result<()> {
        let Some(buffer) = &self.buffer else {
            return Err(Error::Invalid(
                "this graph has no sampler ops to schedule".into(),
            ));
        };
        if values.len() > self.dispatches.len() {
            return Err(Error::Invalid(format!(
                "{} steps requested, but the pipeline was loaded for at most {}",
                values.len(),
                self.dispatches.len()
            )));
        }
        let mut bytes = vec![0u8; values.len() * self.kinds.len() * self.stride as usize];
        for (step, v) in values.iter().enumerate() {
            for (k, kind) in self.kinds.iter().enumerate() {
                let at = (step * self.kinds.len() + k) * self.stride as usize;
                let p = kind.params(v);
                bytes[at..at + p.len()].copy_from_slice(&p);
                self.runs[step][k] = kind.runs(v);
            }
        }
        if !bytes.is_empty() {
            gpu.queue().write_buffer(buffer, 0, &bytes);
        }
        self.steps = values.len();
        Ok(())
    }
}

impl Executor {
    /// Times every op of `ops` alone (the sampler ops with their values of `step`), `reps` times each,
    /// and returns `(op index, label, median seconds)` in op order. For tuning; it runs the ops, so the
    /// tensors they write are overwritten.
    pub fn profile(
        &self,
        gpu: &Gpu,
        ops: Range<usize>,
        step: usize,
        reps: usize,
    ) -> Result<Vec<(usize, String, f64)>> {
        let profiler = super::Profiler::new(gpu);
        let mut out = Vec::with_capacity(ops.len());
        for i in ops {
            let dispatches = self.op_dispatches(i, step)?;
            if dispatches.is_empty() {
                continue;
            }
            gpu.run(&dispatches)?;
            let mut times = profiler.time(gpu, &dispatches, reps.max(1))?;
            times.sort_by(f64::total_cmp);
            let label = dispatches[0].label.clone();
            out.push((i, label, times[times.len() / 2]));
        }
        Ok(out)
    }
}
