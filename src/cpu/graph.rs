//! A plain interpreter of a whole [`Graph`] on the CPU references: the oracle the GPU executor is tested
//! against, op by op.

use crate::error::{Error, Result};
use crate::graph::{Graph, Op, TensorId};

use super::conv2d::Conv2dShape;

/// Values of a graph's tensors by storage (views read their base's values).
pub struct Values {
    data: Vec<Option<Vec<f32>>>,
}

impl Values {
    /// No values yet.
    pub fn new(graph: &Graph) -> Self {
        Values {
            data: vec![None; graph.tensors.len()],
        }
    }

    /// Sets tensor `id` (an input, a weight or an op's output). A row window ([`GraphBuilder::rows`])
    /// writes its part of the base, which starts as NaN.
    ///
    /// [`GraphBuilder::rows`]: crate::graph::GraphBuilder::rows
    pub fn set(&mut self, graph: &Graph, id: TensorId, value: Vec<f32>) {
        let base = graph.storage(id);
        let (offset, len) = (graph.tensor(id).offset as usize, value.len());
        let whole = graph.tensor(base).numel() as usize;
        if offset == 0 && len == whole {
            self.data[base.index()] = Some(value);
            return;
        }
        let data = self.data[base.index()].get_or_insert_with(|| vec![f32::NAN; whole]);
        data[offset..offset + len].copy_from_slice(&value);
    }

    /// The value of `id`, if computed or set.
    pub fn get(&self, graph: &Graph, id: TensorId) -> Option<&[f32]> {
        let t = graph.tensor(id);
        let (offset, len) = (t.offset as usize, t.numel() as usize);
        self.data[graph.storage(id).index()]
            .as_deref()
            .map(|d| &d[offset..offset + len])
    }

    fn need(&self, graph: &Graph, id: TensorId) -> Result<&[f32]> {
        self.get(graph, id)
            .ok_or_else(|| Error::Invalid(format!("tensor {} has no value", graph.tensor(id).name)))
    }
}

fn dims(graph: &Graph, id: TensorId) -> Vec<usize> {
    graph.tensor(id).shape.iter().map(|&d| d as usize).collect()
}

/// Runs ops `ops` of `graph`, reading and writing `values`.
pub fn run(graph: &Graph, ops: std::ops::Range<usize>, values: &mut Values) -> Result<()> {
    for op in &graph.ops[ops] {
        let out = eval(graph, op, values)?;
        values.set(graph, op.output(), out);
    }
    Ok(())
}

/// The value of one op's output.
pub fn eval(graph: &Graph, op: &Op, v: &Values) -> Result<Vec<f32>> {
    let g = graph;
    Ok(match *op {
        Op::Linear {
            x,
            weight,
            bias,
            act,
            ..
        } => {
            let out = dims(g, weight)[0];
            let b = bias.map(|b| v.need(g, b)).transpose()?;
            super::matmul::linear(v.need(g, x)?, v.need(g, weight)?, b, out, act)
        }
        Op::Conv2d {
            x,
            weight,
            bias,
            stride,
            pad,
            ..
        } => {
            let (xs, ws) = (dims(g, x), dims(g, weight));
            let shape = Conv2dShape {
                batch: xs[0],
                c_in: xs[1],
                c_out: ws[0],
                h: xs[2],
                w: xs[3],
                k: ws[2],
                stride: stride as usize,
                pad,
            };
            let b = bias.map(|b| v.need(g, b)).transpose()?;
            super::conv2d::conv2d(v.need(g, x)?, v.need(g, weight)?, b, shape)
        }
        Op::GroupNorm {
            x,
            gamma,
            beta,
            groups,
            eps,
            silu,
            shared: None,
            ..
        } => {
            let xs = dims(g, x);
            let spatial = xs[2..].iter().product();
            super::norm::group_norm(
                v.need(g, x)?,
                v.need(g, gamma)?,
                v.need(g, beta)?,
                xs[0],
                xs[1],
                spatial,
                groups as usize,
                eps,
                silu,
            )
        }
        Op::LayerNorm {
            x,
            gamma,
            beta,
            eps,
            ..
        } => {
            let width = *dims(g, x).last().unwrap_or(&1);
            super::norm::layer_norm(
                v.need(g, x)?,
                v.need(g, gamma)?,
                v.need(g, beta)?,
                width,
                eps,
            )
        }
        Op::Attention {
            q,
            k,
            v: val,
            heads,
            causal,
            scale,
            ..
        } => {
            let (qs, ks) = (dims(g, q), dims(g, k));
            let d = qs[2] / heads as usize;
            super::attention::attention(
                v.need(g, q)?,
                v.need(g, k)?,
                v.need(g, val)?,
                qs[0],
                qs[1],
                ks[1],
                heads as usize,
                d,
                scale,
                causal,
            )
        }
        Op::Add { a, b, shape, .. } => {
            super::elementwise::add(v.need(g, a)?, v.need(g, b)?, &shape)
        }
        Op::Mul { a, b, shape, .. } => {
            super::elementwise::mul(v.need(g, a)?, v.need(g, b)?, &shape)
        }
        Op::Scale { x, alpha, beta, .. } => super::elementwise::scale(v.need(g, x)?, alpha, beta),
        Op::Unary { x, f, .. } => super::elementwise::unary(v.need(g, x)?, f),
        Op::Geglu { x, .. } => {
            let width = *dims(g, x).last().unwrap_or(&2);
            super::elementwise::geglu(v.need(g, x)?, width / 2)
        }
        Op::Upsample2x { x, .. } => {
            let xs = dims(g, x);
            super::shape::upsample2x(v.need(g, x)?, xs[2], xs[3])
        }
        Op::Concat { a, b, .. } => {
            super::shape::concat(v.need(g, a)?, v.need(g, b)?, dims(g, a)[0])
        }
        Op::Transpose { x, .. } => {
            let xs = dims(g, x);
            let (m, n) = (xs[1..xs.len() - 1].iter().product(), xs[xs.len() - 1]);
            super::shape::transpose(v.need(g, x)?, xs[0], m, n)
        }
        Op::TimestepEmbedding {
            t,
            y,
            flip_sin_to_cos,
            downscale_freq_shift,
        } => {
            let dim = dims(g, y)[1];
            super::embedding::timestep_embedding(
                v.need(g, t)?,
                dim,
                flip_sin_to_cos,
                downscale_freq_shift,
                10000.0,
            )
        }
        Op::TokenEmbedding {
            ids,
            token,
            position,
            ..
        } => {
            let ids_u32: Vec<u32> = v.need(g, ids)?.iter().map(|&x| x as u32).collect();
            let (is, ts) = (dims(g, ids), dims(g, token));
            super::embedding::token_embedding(
                &ids_u32,
                v.need(g, token)?,
                v.need(g, position)?,
                is[1],
                ts[1],
            )
        }
        Op::AttentionScores {
            q, k, heads, scale, ..
        } => {
            let (qs, ks) = (dims(g, q), dims(g, k));
            let (b, nq, nk, h) = (qs[0], qs[1], ks[1], heads as usize);
            let d = qs[2] / h;
            let (qv, kv) = (v.need(g, q)?, v.need(g, k)?);
            let mut y = vec![0f32; b * h * nq * nk];
            for bi in 0..b {
                for hi in 0..h {
                    for i in 0..nq {
                        for j in 0..nk {
                            let dot: f64 = (0..d)
                                .map(|e| {
                                    qv[(bi * nq + i) * h * d + hi * d + e] as f64
                                        * kv[(bi * nk + j) * h * d + hi * d + e] as f64
                                })
                                .sum();
                            y[((bi * h + hi) * nq + i) * nk + j] = (dot * scale as f64) as f32;
                        }
                    }
                }
            }
            y
        }
        Op::Softmax { x, causal, .. } => {
            let xs = dims(g, x);
            let (rows, n) = (xs[xs.len() - 2], xs[xs.len() - 1]);
            v.need(g, x)?
                .chunks_exact(n)
                .enumerate()
                .flat_map(|(r, row)| {
                    let i = r % rows;
                    let visible = move |j: usize| !causal || j <= i;
                    let max = (0..n)
                        .filter(|&j| visible(j))
                        .map(|j| row[j] as f64)
                        .fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = (0..n)
                        .filter(|&j| visible(j))
                        .map(|j| (row[j] as f64 - max).exp())
                        .sum();
                    (0..n).map(move |j| {
                        if visible(j) {
                            ((row[j] as f64 - max).exp() / sum) as f32
                        } else {
                            0.0
                        }
                    })
                })
                .collect()
        }
        Op::AttentionValues {
            p, v: val, heads, ..
        } => {
            let (ps, vs) = (dims(g, p), dims(g, val));
            let (h, nq, nk) = (heads as usize, ps[1], ps[2]);
            let (b, d) = (vs[0], vs[2] / h);
            let (pv, vv) = (v.need(g, p)?, v.need(g, val)?);
            let mut y = vec![0f32; b * nq * h * d];
            for bi in 0..b {
                for hi in 0..h {
                    for i in 0..nq {
                        for e in 0..d {
                            let acc: f64 = (0..nk)
                                .map(|j| {
                                    pv[((bi * h + hi) * nq + i) * nk + j] as f64
                                        * vv[(bi * nk + j) * h * d + hi * d + e] as f64
                                })
                                .sum();
                            y[(bi * nq + i) * h * d + hi * d + e] = acc as f32;
                        }
                    }
                }
            }
            y
        }
        Op::Convert { x, alpha, .. } => super::elementwise::scale(v.need(g, x)?, alpha, 0.0),
        Op::SamplerInput { .. }
        | Op::SamplerNoise { .. }
        | Op::SamplerStep { .. }
        | Op::TileCrop { .. }
        | Op::TileBlend { .. }
        | Op::GroupNorm {
            shared: Some(_), ..
        } => {
            return Err(Error::Invalid(format!(
            "{}: the sampler and tile ops run once per step or tile, driven by the pipeline; the \
                 CPU interpreter runs model graphs only",
            op.name()
        )))
        }
    })
}
