//! The executor: runs a planned graph with every activation in the planned arena.
//!
//! Load time ([`Executor::new`]) does all the device work there is: it plans the arenas, creates their
//! buffers, uploads the weights, writes every op's parameter block and builds every bind group. Running
//! ([`Executor::run`]) only records the prebuilt dispatches into a compute pass, so nothing is created on
//! the device while generating.
//!
//! With `WGSD_CHECK=1` in the environment, [`Executor::run`] runs op by op, reads each output back and
//! names the first op that produced NaN or Inf.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::graph::{DType, Graph, Op, TensorId};
use crate::planner::{plan_graph, ArenaPlan, Limits, Options, Scratch};

use super::kernels::sampler::{StepValues, Stepped};
use super::kernels::{
    attention, conv2d, elementwise, embedding, matmul, norm, sampler, shape, Dispatch, ParamArena,
};
use super::{Gpu, TensorView};

/// Where the executor gets weight values from, once per weight at load time.
pub trait WeightSource {
    /// Checks, before any device work, that every weight in `required` (name, shape) can be provided;
    /// the error names every missing or misshapen tensor and the file. The default accepts all.
    fn check(&self, required: &[(&str, &[u32])]) -> Result<()> {
        let _ = required;
        Ok(())
    }

    /// Writes the weight `name` of shape `shape`, converted to `dtype`, into `dst` (exactly
    /// `numel · dtype.size()` bytes).
    fn fill(&self, name: &str, shape: &[u32], dtype: DType, dst: &mut [u8]) -> Result<()>;
}

/// Device bytes the executor holds, by category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExecutorMemory {
    /// The activation arena (all its buffers).
    pub activations: u64,
    /// The resident weights.
    pub weights: u64,
    /// The uniform parameter blocks (the per-step blocks of the sampler ops included).
    pub params: u64,
}

impl ExecutorMemory {
    /// All of it.
    pub fn total(&self) -> u64 {
        self.activations + self.weights + self.params
    }
}

/// How an [`Executor`] is loaded.
#[derive(Clone, Debug, Default)]
pub struct ExecutorOptions {
    /// The planner's options.
    pub planner: Options,
    /// Step slots of the sampler ops (the most denoising steps a generation may run).
    pub max_steps: usize,
    /// Device bytes the executor may hold; `None` for no limit.
    pub budget: Option<u64>,
}

/// Plans `graph` for `gpu`: activations by lifetime (plus kernel scratch), weights resident.
fn plan_for(gpu: &Gpu, graph: &Graph, options: &Options) -> Result<ArenaPlan> {
    let scratch: Vec<Scratch> = graph
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
        .collect();
    let l = gpu.limits();
    let limits = Limits {
        alignment: l.min_storage_buffer_offset_alignment as u64,
        max_buffer_size: l.max_buffer_size,
        max_binding_size: l.max_storage_buffer_binding_size as u64,
    };
    plan_graph(graph, &scratch, &limits, options)
}

/// A graph loaded onto the device, ready to run.
pub struct Executor {
    /// Dispatches of each graph op, in op order.
    ops: Vec<Vec<Dispatch>>,
    /// The view of every tensor an op touches (views resolved to their base's storage).
    views: Vec<Option<TensorView>>,
    /// Output tensor of each op, for the NaN check.
    outputs: Vec<TensorId>,
    names: Vec<String>,
    arena: Vec<wgpu::Buffer>,
    weights: Vec<wgpu::Buffer>,
    params: ParamArena,
    plan: ArenaPlan,
    stepped: SteppedOps,
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

    /// Device bytes `graph` needs on `gpu` by category, from the plan alone (nothing is created).
    pub fn planned_memory(
        gpu: &Gpu,
        graph: &Graph,
        options: &ExecutorOptions,
    ) -> Result<(ArenaPlan, ExecutorMemory)> {
        let plan = plan_for(gpu, graph, &options.planner)?;
        let stride = ParamArena::SLOT.max(gpu.limits().min_uniform_buffer_offset_alignment as u64);
        let stepped = graph.ops.iter().filter(|op| op.is_stepped()).count() as u64;
        let memory = ExecutorMemory {
            activations: plan
                .activation_plan
                .buffer_sizes
                .iter()
                .map(|&s| s.max(4).div_ceil(4) * 4)
                .sum(),
            weights: plan
                .weight_plan
                .buffer_sizes
                .iter()
                .map(|&s| s.max(4).div_ceil(4) * 4)
                .sum(),
            params: stride * (2 * graph.ops.len() as u64 + 1)
                + if stepped > 0 {
                    stride * stepped * options.max_steps.max(1) as u64
                } else {
                    0
                },
        };
        Ok((plan, memory))
    }

    /// As [`Executor::new`], with every option. With a budget, the planned device bytes are checked
    /// before any buffer is created, and a budget below them is refused with [`Error::Budget`].
    pub fn with_options(
        gpu: &Gpu,
        graph: &Graph,
        source: &dyn WeightSource,
        options: &ExecutorOptions,
    ) -> Result<Executor> {
        let max_steps = options.max_steps;
        let (plan, planned) = Self::planned_memory(gpu, graph, options)?;
        if let Some(budget) = options.budget {
            if planned.total() > budget {
                return Err(Error::Budget {
                    budget,
                    minimum: planned.total(),
                    minimum_mib: planned.total() as f64 / (1 << 20) as f64,
                    message: format!(
                        "every weight resident needs activations {} + weights {} + parameters {} bytes",
                        planned.activations, planned.weights, planned.params
                    ),
                });
            }
        }
        // 1. Every weight the graph reads must be there, with its shape, before any device work.
        let required: Vec<(&str, &[u32])> = graph
            .weights()
            .map(|id| {
                let t = graph.tensor(id);
                (t.name.as_str(), t.shape.as_slice())
            })
            .collect();
        source.check(&required)?;

        // 2. Reserve: every buffer of the run, created here and nowhere else.
        let arena = plan
            .activation_plan
            .buffer_sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| gpu.create_storage(&format!("wgsd activations {i}"), size))
            .collect::<Result<Vec<_>>>()?;
        let weights = plan
            .weight_plan
            .buffer_sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| gpu.create_storage(&format!("wgsd weights {i}"), size))
            .collect::<Result<Vec<_>>>()?;
        let views: Vec<Option<TensorView>> = (0..graph.tensors.len())
            .map(|i| {
                let id = TensorId(i as u32);
                let info = graph.tensor(id);
                let storage = graph.storage(id).index();
                let (buffers, place) = match (plan.activations[storage], plan.weights[storage]) {
                    (Some(p), _) => (&arena, p),
                    (None, Some(p)) => (&weights, p),
                    (None, None) => return None,
                };
                Some(TensorView::new(
                    &buffers[place.buffer as usize],
                    place.offset,
                    info.numel(),
                    info.dtype,
                    &info.name,
                ))
            })
            .collect();

        // 3. Weights: each is converted into one reused host buffer (sized for the largest weight), then
        //    copied into wgpu's staging memory. No weight is held twice.
        let mut host: Vec<u8> = Vec::new();
        for id in graph.weights() {
            let (Some(view), info) = (&views[id.index()], graph.tensor(id)) else {
                continue;
            };
            let bytes = view.bytes() as usize;
            let padded = bytes.div_ceil(4) * 4;
            let Some(size) = std::num::NonZeroU64::new(padded as u64) else {
                continue;
            };
            host.clear();
            host.resize(padded, 0);
            source.fill(&info.name, &info.shape, info.dtype, &mut host[..bytes])?;
            let mut staging = gpu
                .queue()
                .write_buffer_with(&view.buffer, view.offset, size)
                .ok_or_else(|| {
                    Error::Device(format!(
                        "could not stage weight {} ({bytes} bytes)",
                        info.name
                    ))
                })?;
            staging.copy_from_slice(&host);
        }
        drop(host);

        // 4. Dispatches, with their parameter blocks, for every op.
        let params = ParamArena::new(gpu, 2 * graph.ops.len() as u64 + 1);
        let variant = matmul::choose_variant(gpu)?;
        let mut scratch_iter = plan.scratch.iter();
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
        Ok(Executor {
            ops,
            views,
            outputs: graph.ops.iter().map(Op::output).collect(),
            names: graph.tensors.iter().map(|t| t.name.clone()).collect(),
            arena,
            weights,
            params,
            plan,
            stepped,
        })
    }

    /// The arena plan it runs in.
    pub fn plan(&self) -> &ArenaPlan {
        &self.plan
    }

    /// Device bytes held, by category.
    pub fn memory(&self) -> ExecutorMemory {
        ExecutorMemory {
            activations: self.arena.iter().map(|b| b.size()).sum(),
            weights: self.weights.iter().map(|b| b.size()).sum(),
            params: self.params.size() + self.stepped.buffer.as_ref().map_or(0, |b| b.size()),
        }
    }

    /// The view of tensor `id`.
    pub fn view(&self, id: TensorId) -> Result<&TensorView> {
        self.views
            .get(id.index())
            .and_then(Option::as_ref)
            .ok_or_else(|| Error::Invalid(format!("tensor {id:?} is not stored by this executor")))
    }

    /// Writes an input (token ids as their f32 values).
    pub fn write(&self, gpu: &Gpu, id: TensorId, data: &[f32]) -> Result<()> {
        gpu.write(self.view(id)?, data)
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
        let Some(k) = self.stepped.index[i] else {
            return Ok(self.ops[i].iter().collect());
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

    /// Records the dispatches of `ops` into `pass`, the sampler ops with their values of `step`.
    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        ops: Range<usize>,
        step: usize,
    ) -> Result<()> {
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

    /// Runs `ops` with the sampler ops' values of step `step`, and waits.
    pub fn run_step(&self, gpu: &Gpu, ops: Range<usize>, step: usize) -> Result<()> {
        if std::env::var("WGSD_CHECK").is_ok_and(|v| v == "1") {
            return self.run_checked_at(gpu, ops, step);
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
            self.record(&mut pass, ops, step)?;
        }
        gpu.queue().submit([encoder.finish()]);
        gpu.wait()
    }

    /// Runs op by op and names the first op whose output holds NaN or Inf.
    pub fn run_checked(&self, gpu: &Gpu, ops: Range<usize>) -> Result<()> {
        self.run_checked_at(gpu, ops, 0)
    }

    /// As [`Executor::run_checked`], with the sampler ops' values of step `step`.
    pub fn run_checked_at(&self, gpu: &Gpu, ops: Range<usize>, step: usize) -> Result<()> {
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
        Ok(())
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
) -> Result<Vec<Dispatch>> {
    let g = graph;
    Ok(match *op {
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
        Op::GroupNorm { x, gamma, beta, y, groups, eps, silu } => {
            let shape = group_norm_shape(g, x, groups);
            let s = scratch(norm::group_norm_scratch_len(shape) * 4)?;
            let t = norm::NormTensors { x: view(x)?, gamma: view(gamma)?, beta: view(beta)?, y: view(y)? };
            norm::group_norm(gpu, params, t, &s, shape, eps, silu)?.into()
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
        // Built per step slot by `SteppedOps::new`.
        Op::SamplerInput { .. } | Op::SamplerNoise { .. } | Op::SamplerStep { .. } => vec![],
        Op::AttentionScores { .. } | Op::Softmax { .. } | Op::AttentionValues { .. } => {
            return Err(Error::Invalid(
                "materialised attention models the memory of non-flash runtimes for `wgsd plan`; the \
                 executor runs flash attention (build the graph without materialised_attention)"
                    .into(),
            ))
        }
    })
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
