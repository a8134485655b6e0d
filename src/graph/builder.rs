//! [`GraphBuilder`]: one method per [`Op`] variant (same name, snake_case), each creating the output tensor
//! with its inferred shape after checking the operands' shapes.
//!
//! Shape errors come back as [`Error::Invalid`] naming the op's output and the shapes at fault, because a
//! user's config.json can ask for shapes that do not fit together.

use super::{
    Activation, BroadcastShape, DType, Graph, Op, Padding, Phase, Role, TensorId, TensorInfo,
    TileGrid, TileStats,
};
use crate::{Error, Result};
use std::collections::HashMap;
use std::fmt::Display;

/// How model builders shape the graph (not the architecture: that is the config's job).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphOptions {
    /// Storage type of activations and weights (`F32` or `F16`).
    pub dtype: DType,
    /// Model the attention score matrix `[B·heads, Nq, Nk]` as a tensor (scores, in-place softmax,
    /// values), as a non-flash runtime stores it, instead of the flash-style [`Op::Attention`].
    pub materialised_attention: bool,
    /// Split each transformer feed-forward into chunks of this many rows (batch × tokens, a multiple
    /// of 128), so its 8C-wide intermediate exists one chunk at a time; 0 runs it whole.
    pub ff_chunk_rows: u32,
}

impl Default for GraphOptions {
    fn default() -> Self {
        GraphOptions {
            dtype: DType::F32,
            materialised_attention: false,
            ff_chunk_rows: 0,
        }
    }
}

/// A dotted module path (`down_blocks.0.resnets.1`), for weight keys and activation names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope(String);

impl Scope {
    /// The empty path (the model's root module).
    pub fn root() -> Self {
        Scope(String::new())
    }

    /// A path starting with `prefix` (empty for the root).
    pub fn new(prefix: impl Into<String>) -> Self {
        Scope(prefix.into())
    }

    /// The child module `name` (a field name or a list index).
    pub fn pp(&self, name: impl Display) -> Self {
        Scope(self.key(name))
    }

    /// The full key of `leaf` under this path (`down_blocks.0.conv.weight`).
    pub fn key(&self, leaf: impl Display) -> String {
        if self.0.is_empty() {
            leaf.to_string()
        } else {
            format!("{}.{leaf}", self.0)
        }
    }

    /// The path as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Builds a [`Graph`] op by op.
#[derive(Debug)]
pub struct GraphBuilder {
    graph: Graph,
    options: GraphOptions,
    /// Name → id of every tensor, to keep names unique.
    names: HashMap<String, TensorId>,
    /// The open phase: its name and first op.
    phase: Option<(String, usize)>,
    /// The tile grid of the ops being built ([`GraphBuilder::begin_tiles`]).
    tiles: Option<TileGrid>,
}

fn invalid(msg: String) -> Error {
    Error::Invalid(msg)
}

impl GraphBuilder {
    /// An empty graph with the given options.
    pub fn new(options: GraphOptions) -> Self {
        GraphBuilder {
            graph: Graph::default(),
            options,
            names: HashMap::new(),
            phase: None,
            tiles: None,
        }
    }

    /// The options models read (dtype, attention variant).
    pub fn options(&self) -> GraphOptions {
        self.options
    }

    /// The graph so far.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The shape of `id`.
    pub fn shape(&self, id: TensorId) -> &[u32] {
        &self.graph.tensors[id.index()].shape
    }

    /// Starts phase `name`, closing the open one. Ops added before any phase form a phase `main`.
    pub fn begin_phase(&mut self, name: &str) {
        self.close_phase();
        self.phase = Some((name.to_string(), self.graph.ops.len()));
    }

    /// Ops built until [`GraphBuilder::end_tiles`] run once per slot of `grid`: a group norm among
    /// them shares its statistics across tiles when the grid does ([`TileGrid::shared_stats`]).
    pub fn begin_tiles(&mut self, grid: TileGrid) {
        self.tiles = Some(grid);
    }

    /// Ends [`GraphBuilder::begin_tiles`].
    pub fn end_tiles(&mut self) {
        self.tiles = None;
    }

    fn close_phase(&mut self) {
        let start = self.graph.phases.last().map_or(0, |p| p.ops.end);
        let (name, first) = self
            .phase
            .take()
            .unwrap_or_else(|| ("main".to_string(), start));
        let end = self.graph.ops.len();
        if end > first {
            self.graph.phases.push(Phase {
                name,
                ops: first..end,
            });
        }
    }

    /// The finished graph.
    pub fn finish(mut self) -> Graph {
        self.close_phase();
        self.graph
    }

    fn new_tensor(
        &mut self,
        name: &str,
        shape: Vec<u32>,
        dtype: DType,
        role: Role,
        alias_of: Option<TensorId>,
    ) -> Result<TensorId> {
        if shape.contains(&0) {
            return Err(invalid(format!(
                "{name}: shape {shape:?} has a zero dimension"
            )));
        }
        let numel = shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)));
        if numel.and_then(|n| n.checked_mul(dtype.size())).is_none() {
            return Err(invalid(format!(
                "{name}: shape {shape:?} overflows 64-bit bytes"
            )));
        }
        let mut unique = name.to_string();
        if self.names.contains_key(&unique) {
            if role == Role::Weight {
                return Err(invalid(format!("weight {name} is defined twice")));
            }
            let mut n = 1;
            while self.names.contains_key(&format!("{name}#{n}")) {
                n += 1;
            }
            unique = format!("{name}#{n}");
        }
        let id = TensorId(self.graph.tensors.len() as u32);
        let alias_of = alias_of.map(|a| self.graph.storage(a));
        self.names.insert(unique.clone(), id);
        self.graph.tensors.push(TensorInfo {
            name: unique,
            shape,
            dtype,
            role,
            alias_of,
            offset: 0,
        });
        Ok(id)
    }

    fn activation(&mut self, name: &str, shape: Vec<u32>) -> Result<TensorId> {
        self.new_tensor(name, shape, self.options.dtype, Role::Activation, None)
    }

    fn push(&mut self, op: Op) -> TensorId {
        let y = op.output();
        self.graph.ops.push(op);
        y
    }

    /// A graph input of the options' dtype.
    pub fn input(&mut self, name: &str, shape: &[u32]) -> Result<TensorId> {
        self.input_typed(name, shape, self.options.dtype)
    }

    /// A graph input of an explicit dtype (token ids are `U32`, timesteps `F32`).
    pub fn input_typed(&mut self, name: &str, shape: &[u32], dtype: DType) -> Result<TensorId> {
        self.new_tensor(name, shape.to_vec(), dtype, Role::Input, None)
    }

    /// A weight named by its checkpoint key.
    pub fn weight(&mut self, key: &str, shape: &[u32]) -> Result<TensorId> {
        self.new_tensor(key, shape.to_vec(), self.options.dtype, Role::Weight, None)
    }

    /// Marks `id` (its storage, for a view) as read by the caller after its phase.
    pub fn mark_output(&mut self, id: TensorId) {
        let base = self.graph.storage(id);
        let t = &mut self.graph.tensors[base.index()];
        if t.role != Role::Persistent {
            t.role = Role::Output;
        }
    }

    /// Marks `id` (its storage, for a view) as crossing phases.
    pub fn mark_persistent(&mut self, id: TensorId) {
        let base = self.graph.storage(id);
        self.graph.tensors[base.index()].role = Role::Persistent;
    }

    /// A view of `x`'s storage with another shape of the same element count (a reshape).
    pub fn view(&mut self, name: &str, x: TensorId, shape: &[u32]) -> Result<TensorId> {
        let xs = self.shape(x);
        let n = |s: &[u32]| s.iter().map(|&d| u64::from(d)).product::<u64>();
        if n(xs) != n(shape) {
            return Err(invalid(format!(
                "{name}: cannot view {xs:?} ({} elements) as {shape:?} ({} elements)",
                n(xs),
                n(shape)
            )));
        }
        let t = &self.graph.tensors[x.index()];
        let (dtype, role) = (t.dtype, t.role.clone());
        let role = if role == Role::Weight {
            Role::Weight
        } else {
            Role::Activation
        };
        let offset = t.offset;
        let v = self.new_tensor(name, shape.to_vec(), dtype, role, Some(x))?;
        self.graph.tensors[v.index()].offset = offset;
        Ok(v)
    }

    /// Rows `r0..r1` of `x` viewed as `[rows, C]` (C its last dimension): a window of its storage,
    /// written or read in place. Row windows let a model split an op along rows (feed-forward chunking);
    /// the window starts `r0 · C` elements in, which the kernels bind at that byte offset, so callers
    /// keep `r0 · C · dtype size` a multiple of 256 (the largest offset alignment WebGPU allows).
    pub fn rows(&mut self, name: &str, x: TensorId, r0: u32, r1: u32) -> Result<TensorId> {
        let xs = self.shape(x).to_vec();
        let c = *xs.last().unwrap_or(&1);
        let rows = xs.iter().map(|&d| u64::from(d)).product::<u64>() / u64::from(c.max(1));
        if r0 >= r1 || u64::from(r1) > rows {
            return Err(invalid(format!(
                "{name}: rows {r0}..{r1} of {xs:?} ({rows} rows)"
            )));
        }
        let t = &self.graph.tensors[x.index()];
        let (dtype, offset) = (t.dtype, t.offset + u64::from(r0) * u64::from(c));
        let v = self.new_tensor(name, vec![r1 - r0, c], dtype, Role::Activation, Some(x))?;
        self.graph.tensors[v.index()].offset = offset;
        Ok(v)
    }

    /// An activation no op has written yet, for ops that fill it through row windows ([`Self::rows`]).
    pub fn empty(&mut self, name: &str, shape: &[u32]) -> Result<TensorId> {
        self.activation(name, shape.to_vec())
    }

    /// [`Op::Linear`]: x `[.., in]`, weight `[out, in]`, bias `[out]` → `[.., out]`.
    pub fn linear(
        &mut self,
        name: &str,
        x: TensorId,
        weight: TensorId,
        bias: Option<TensorId>,
        act: Activation,
    ) -> Result<TensorId> {
        self.linear_to(name, x, (weight, bias), act, None)
    }

    /// [`Op::Linear`] writing into `y`, an existing tensor (a row window) of the output's size.
    pub fn linear_into(
        &mut self,
        y: TensorId,
        x: TensorId,
        weight: TensorId,
        bias: Option<TensorId>,
        act: Activation,
    ) -> Result<TensorId> {
        let name = self.graph.tensor(y).name.clone();
        self.linear_to(&name, x, (weight, bias), act, Some(y))
    }

    fn linear_to(
        &mut self,
        name: &str,
        x: TensorId,
        (weight, bias): (TensorId, Option<TensorId>),
        act: Activation,
        into: Option<TensorId>,
    ) -> Result<TensorId> {
        let xs = self.shape(x).to_vec();
        let ws = self.shape(weight).to_vec();
        let (Some(&k), [o, i]) = (xs.last(), ws.as_slice()) else {
            return Err(invalid(format!(
                "{name}: linear needs x [.., in] and weight [out, in], got {xs:?} and {ws:?}"
            )));
        };
        if k != *i {
            return Err(invalid(format!(
                "{name}: linear input has {k} features but the weight {ws:?} expects {i}"
            )));
        }
        self.check_bias(name, bias, *o)?;
        let mut ys = xs.clone();
        *ys.last_mut().expect("non-empty") = *o;
        let y = match into {
            None => self.activation(name, ys)?,
            Some(y) => {
                let n = |s: &[u32]| s.iter().map(|&d| u64::from(d)).product::<u64>();
                if n(self.shape(y)) != n(&ys) || self.graph.tensor(y).dtype != self.options.dtype {
                    return Err(invalid(format!(
                        "{name}: linear output {ys:?} does not fit {:?}",
                        self.shape(y)
                    )));
                }
                y
            }
        };
        Ok(self.push(Op::Linear {
            x,
            weight,
            bias,
            y,
            act,
        }))
    }

    fn check_bias(&self, name: &str, bias: Option<TensorId>, out: u32) -> Result<()> {
        match bias.map(|b| self.shape(b)) {
            Some(bs) if bs != [out] => {
                Err(invalid(format!("{name}: bias shape {bs:?} is not [{out}]")))
            }
            _ => Ok(()),
        }
    }

    /// [`Op::Conv2d`]: x `[B, Ci, H, W]`, weight `[Co, Ci, k, k]` →
    /// `[B, Co, (H + pad.begin + pad.end − k) / stride + 1, ..]`.
    pub fn conv2d(
        &mut self,
        name: &str,
        x: TensorId,
        weight: TensorId,
        bias: Option<TensorId>,
        stride: u32,
        pad: Padding,
    ) -> Result<TensorId> {
        let xs = self.shape(x).to_vec();
        let ws = self.shape(weight).to_vec();
        let ([b, ci, h, w], [co, wci, kh, kw]) = (xs.as_slice(), ws.as_slice()) else {
            return Err(invalid(format!(
                "{name}: conv2d needs x [B, C, H, W] and weight [Co, Ci, k, k], got {xs:?} and {ws:?}"
            )));
        };
        if ci != wci || kh != kw {
            return Err(invalid(format!(
                "{name}: conv2d input {xs:?} does not fit weight {ws:?}"
            )));
        }
        if stride == 0 {
            return Err(invalid(format!("{name}: conv2d stride 0")));
        }
        let out = |d: u32| -> Result<u32> {
            let padded = d + pad.begin + pad.end;
            if padded < *kh {
                return Err(invalid(format!(
                    "{name}: conv2d kernel {kh} is larger than the padded input {xs:?}"
                )));
            }
            Ok((padded - kh) / stride + 1)
        };
        self.check_bias(name, bias, *co)?;
        let ys = vec![*b, *co, out(*h)?, out(*w)?];
        let y = self.activation(name, ys)?;
        Ok(self.push(Op::Conv2d {
            x,
            weight,
            bias,
            y,
            stride,
            pad,
        }))
    }

    fn check_affine(&self, name: &str, gamma: TensorId, beta: TensorId, c: u32) -> Result<()> {
        for t in [gamma, beta] {
            if self.shape(t) != [c] {
                return Err(invalid(format!(
                    "{name}: affine parameter {} has shape {:?}, expected [{c}]",
                    self.graph.tensor(t).name,
                    self.shape(t)
                )));
            }
        }
        Ok(())
    }

    /// [`Op::GroupNorm`]: x `[B, C, *]`, `groups` dividing C, gamma and beta `[C]` → same shape.
    #[allow(clippy::too_many_arguments)]
    pub fn group_norm(
        &mut self,
        name: &str,
        x: TensorId,
        gamma: TensorId,
        beta: TensorId,
        groups: u32,
        eps: f32,
        silu: bool,
    ) -> Result<TensorId> {
        let xs = self.shape(x).to_vec();
        if xs.len() < 2 {
            return Err(invalid(format!(
                "{name}: group_norm needs [B, C, ..], got {xs:?}"
            )));
        }
        let c = xs[1];
        if groups == 0 || !c.is_multiple_of(groups) {
            return Err(invalid(format!(
                "{name}: {groups} groups do not divide {c} channels"
            )));
        }
        self.check_affine(name, gamma, beta, c)?;
        let shared = match self.tiles {
            Some(grid) if grid.shared_stats => {
                let pairs = xs[0] * groups;
                let stats = self.new_tensor(
                    &format!("{name}.tile_stats"),
                    vec![pairs, 4],
                    DType::F32,
                    Role::Persistent,
                    None,
                )?;
                Some(TileStats { stats, grid })
            }
            _ => None,
        };
        let y = self.activation(name, xs)?;
        Ok(self.push(Op::GroupNorm {
            x,
            gamma,
            beta,
            y,
            groups,
            eps,
            silu,
            shared,
        }))
    }

    /// [`Op::LayerNorm`] over the last dimension: gamma and beta `[C]` → same shape.
    pub fn layer_norm(
        &mut self,
        name: &str,
        x: TensorId,
        gamma: TensorId,
        beta: TensorId,
        eps: f32,
    ) -> Result<TensorId> {
        let xs = self.shape(x).to_vec();
        let Some(&c) = xs.last() else {
            return Err(invalid(format!("{name}: layer_norm of a scalar")));
        };
        self.check_affine(name, gamma, beta, c)?;
        let y = self.activation(name, xs)?;
        Ok(self.push(Op::LayerNorm {
            x,
            gamma,
            beta,
            y,
            eps,
        }))
    }

    fn check_qkv(&self, name: &str, q: TensorId, k: TensorId, heads: u32) -> Result<[u32; 4]> {
        let qs = self.shape(q);
        let ks = self.shape(k);
        let ([b, nq, c], [kb, nk, kc]) = (qs, ks) else {
            return Err(invalid(format!(
                "{name}: attention needs q and k [B, N, heads·D], got {qs:?} and {ks:?}"
            )));
        };
        if b != kb || c != kc {
            return Err(invalid(format!(
                "{name}: attention q {qs:?} and k {ks:?} differ in batch or width"
            )));
        }
        if heads == 0 || c % heads != 0 {
            return Err(invalid(format!(
                "{name}: {heads} heads do not divide the width {c}"
            )));
        }
        Ok([*b, *nq, *nk, *c])
    }

    /// [`Op::Attention`] (flash-style): q `[B, Nq, heads·D]`, k and v `[B, Nk, heads·D]` → like q.
    #[allow(clippy::too_many_arguments)]
    pub fn attention(
        &mut self,
        name: &str,
        q: TensorId,
        k: TensorId,
        v: TensorId,
        heads: u32,
        causal: bool,
        scale: f32,
    ) -> Result<TensorId> {
        self.check_qkv(name, q, k, heads)?;
        if self.shape(v) != self.shape(k) {
            return Err(invalid(format!(
                "{name}: attention v {:?} differs from k {:?}",
                self.shape(v),
                self.shape(k)
            )));
        }
        let y = self.activation(name, self.shape(q).to_vec())?;
        Ok(self.push(Op::Attention {
            q,
            k,
            v,
            y,
            heads,
            causal,
            scale,
        }))
    }

    /// [`Op::AttentionScores`]: q `[B, Nq, heads·D]`, k `[B, Nk, heads·D]` → `[B·heads, Nq, Nk]`.
    pub fn attention_scores(
        &mut self,
        name: &str,
        q: TensorId,
        k: TensorId,
        heads: u32,
        scale: f32,
    ) -> Result<TensorId> {
        let [b, nq, nk, _] = self.check_qkv(name, q, k, heads)?;
        let y = self.activation(name, vec![b * heads, nq, nk])?;
        Ok(self.push(Op::AttentionScores {
            q,
            k,
            y,
            heads,
            scale,
        }))
    }

    /// [`Op::Softmax`] over the last dimension into a new tensor.
    pub fn softmax(&mut self, name: &str, x: TensorId, causal: bool) -> Result<TensorId> {
        let y = self.activation(name, self.shape(x).to_vec())?;
        Ok(self.push(Op::Softmax { x, y, causal }))
    }

    /// [`Op::Softmax`] in place: the output is a view of `x`'s storage.
    pub fn softmax_in_place(&mut self, name: &str, x: TensorId, causal: bool) -> Result<TensorId> {
        let shape = self.shape(x).to_vec();
        let dtype = self.graph.tensor(x).dtype;
        let y = self.new_tensor(name, shape, dtype, Role::Activation, Some(x))?;
        Ok(self.push(Op::Softmax { x, y, causal }))
    }

    /// [`Op::AttentionValues`]: p `[B·heads, Nq, Nk]`, v `[B, Nk, heads·D]` → `[B, Nq, heads·D]`.
    pub fn attention_values(
        &mut self,
        name: &str,
        p: TensorId,
        v: TensorId,
        heads: u32,
    ) -> Result<TensorId> {
        let ps = self.shape(p).to_vec();
        let vs = self.shape(v).to_vec();
        let ([bh, nq, nk], [b, vnk, c]) = (ps.as_slice(), vs.as_slice()) else {
            return Err(invalid(format!(
                "{name}: attention_values needs p [B·heads, Nq, Nk] and v [B, Nk, C], got {ps:?} and {vs:?}"
            )));
        };
        if heads == 0 || *bh != b * heads || nk != vnk || c % heads != 0 {
            return Err(invalid(format!(
                "{name}: attention_values p {ps:?} does not fit v {vs:?} with {heads} heads"
            )));
        }
        let y = self.activation(name, vec![*b, *nq, *c])?;
        Ok(self.push(Op::AttentionValues { p, v, y, heads }))
    }

    fn broadcast(&self, name: &str, a: TensorId, b: TensorId) -> Result<BroadcastShape> {
        let pad4 = |s: &[u32]| -> Option<[u32; 4]> {
            if s.len() > 4 {
                return None;
            }
            let mut out = [1; 4];
            out[4 - s.len()..].copy_from_slice(s);
            Some(out)
        };
        let (asp, bsp) = (self.shape(a), self.shape(b));
        let (Some(a4), Some(b4)) = (pad4(asp), pad4(bsp)) else {
            return Err(invalid(format!(
                "{name}: broadcasting supports at most 4 dims, got {asp:?} and {bsp:?}"
            )));
        };
        if a4.iter().zip(&b4).any(|(x, y)| y != x && *y != 1) {
            return Err(invalid(format!(
                "{name}: {bsp:?} does not broadcast to {asp:?} (view it with matching dims first)"
            )));
        }
        Ok(BroadcastShape { a: a4, b: b4 })
    }

    /// [`Op::Add`]: `a + b`, b broadcast (each dim equal to a's or 1, leading dims padded) → a's shape.
    pub fn add(&mut self, name: &str, a: TensorId, b: TensorId) -> Result<TensorId> {
        let shape = self.broadcast(name, a, b)?;
        let y = self.activation(name, self.shape(a).to_vec())?;
        Ok(self.push(Op::Add { a, b, y, shape }))
    }

    /// [`Op::Mul`]: `a · b`, b broadcast as for [`GraphBuilder::add`].
    pub fn mul(&mut self, name: &str, a: TensorId, b: TensorId) -> Result<TensorId> {
        let shape = self.broadcast(name, a, b)?;
        let y = self.activation(name, self.shape(a).to_vec())?;
        Ok(self.push(Op::Mul { a, b, y, shape }))
    }

    /// [`Op::Scale`]: `alpha · x + beta` → x's shape.
    pub fn scale(&mut self, name: &str, x: TensorId, alpha: f32, beta: f32) -> Result<TensorId> {
        let y = self.activation(name, self.shape(x).to_vec())?;
        Ok(self.push(Op::Scale { x, y, alpha, beta }))
    }

    /// [`Op::Unary`]: `f(x)` → x's shape.
    pub fn unary(&mut self, name: &str, x: TensorId, f: Activation) -> Result<TensorId> {
        let y = self.activation(name, self.shape(x).to_vec())?;
        Ok(self.push(Op::Unary { x, y, f }))
    }

    /// [`Op::Geglu`]: `[.., 2F]` → `[.., F]`.
    pub fn geglu(&mut self, name: &str, x: TensorId) -> Result<TensorId> {
        let mut ys = self.shape(x).to_vec();
        match ys.last_mut() {
            Some(f) if *f % 2 == 0 => *f /= 2,
            _ => {
                return Err(invalid(format!(
                    "{name}: geglu needs an even last dimension, got {ys:?}"
                )))
            }
        }
        let y = self.activation(name, ys)?;
        Ok(self.push(Op::Geglu { x, y }))
    }

    /// [`Op::Upsample2x`]: `[B, C, H, W]` → `[B, C, 2H, 2W]`.
    pub fn upsample2x(&mut self, name: &str, x: TensorId) -> Result<TensorId> {
        let xs = self.shape(x).to_vec();
        let [b, c, h, w] = xs.as_slice() else {
            return Err(invalid(format!(
                "{name}: upsample2x needs [B, C, H, W], got {xs:?}"
            )));
        };
        let y = self.activation(name, vec![*b, *c, 2 * h, 2 * w])?;
        Ok(self.push(Op::Upsample2x { x, y }))
    }

    /// [`Op::Concat`] along channels: `[B, Ca, H, W]`, `[B, Cb, H, W]` → `[B, Ca + Cb, H, W]`.
    pub fn concat(&mut self, name: &str, a: TensorId, b: TensorId) -> Result<TensorId> {
        let (asp, bsp) = (self.shape(a).to_vec(), self.shape(b).to_vec());
        let ([ab, ca, ah, aw], [bb, cb, bh, bw]) = (asp.as_slice(), bsp.as_slice()) else {
            return Err(invalid(format!(
                "{name}: concat needs two [B, C, H, W], got {asp:?} and {bsp:?}"
            )));
        };
        if (ab, ah, aw) != (bb, bh, bw) {
            return Err(invalid(format!(
                "{name}: concat of {asp:?} and {bsp:?} differ outside the channels"
            )));
        }
        let y = self.activation(name, vec![*ab, ca + cb, *ah, *aw])?;
        Ok(self.push(Op::Concat { a, b, y }))
    }

    /// [`Op::Transpose`] of the last two dims: `[B, M, N]` → `[B, N, M]`.
    pub fn transpose(&mut self, name: &str, x: TensorId) -> Result<TensorId> {
        let xs = self.shape(x).to_vec();
        let [b, m, n] = xs.as_slice() else {
            return Err(invalid(format!(
                "{name}: transpose needs [B, M, N], got {xs:?}"
            )));
        };
        let y = self.activation(name, vec![*b, *n, *m])?;
        Ok(self.push(Op::Transpose { x, y }))
    }

    /// [`Op::TimestepEmbedding`]: t `[B]` → `[B, dim]`, `dim` even.
    pub fn timestep_embedding(
        &mut self,
        name: &str,
        t: TensorId,
        dim: u32,
        flip_sin_to_cos: bool,
        downscale_freq_shift: f32,
    ) -> Result<TensorId> {
        let ts = self.shape(t).to_vec();
        let [b] = ts.as_slice() else {
            return Err(invalid(format!(
                "{name}: timesteps must be [B], got {ts:?}"
            )));
        };
        if dim == 0 || !dim.is_multiple_of(2) {
            return Err(invalid(format!(
                "{name}: timestep embedding width {dim} is not even"
            )));
        }
        let y = self.activation(name, vec![*b, dim])?;
        Ok(self.push(Op::TimestepEmbedding {
            t,
            y,
            flip_sin_to_cos,
            downscale_freq_shift,
        }))
    }

    /// [`Op::TokenEmbedding`]: ids `[B, N]` (u32), token `[V, C]`, position `[P ≥ N, C]` → `[B, N, C]`.
    pub fn token_embedding(
        &mut self,
        name: &str,
        ids: TensorId,
        token: TensorId,
        position: TensorId,
    ) -> Result<TensorId> {
        let is = self.shape(ids).to_vec();
        let ts = self.shape(token).to_vec();
        let ps = self.shape(position).to_vec();
        let ([b, n], [_, c], [p, pc]) = (is.as_slice(), ts.as_slice(), ps.as_slice()) else {
            return Err(invalid(format!(
                "{name}: token_embedding needs ids [B, N], token [V, C], position [P, C], got {is:?}, {ts:?}, {ps:?}"
            )));
        };
        if c != pc || n > p {
            return Err(invalid(format!(
                "{name}: {n} tokens of width {c} do not fit position table {ps:?}"
            )));
        }
        if self.graph.tensor(ids).dtype != DType::U32 {
            return Err(invalid(format!("{name}: token ids must be u32")));
        }
        let y = self.activation(name, vec![*b, *n, *c])?;
        Ok(self.push(Op::TokenEmbedding {
            ids,
            token,
            position,
            y,
        }))
    }

    /// [`Op::Convert`]: f32 `x` → `alpha · x` in the options' dtype, same shape.
    pub fn convert(&mut self, name: &str, x: TensorId, alpha: f32) -> Result<TensorId> {
        self.expect_f32(name, x)?;
        let y = self.activation(name, self.shape(x).to_vec())?;
        Ok(self.push(Op::Convert { x, y, alpha }))
    }

    /// [`Op::SamplerInput`]: the U-Net's `(sample, timestep)` for `copies` copies of f32 `latents`
    /// `[I, C, h, w]`: sample `[copies·I, C, h, w]` in the options' dtype, timestep `[copies·I]` f32.
    pub fn sampler_input(
        &mut self,
        name: &str,
        latents: TensorId,
        copies: u32,
    ) -> Result<(TensorId, TensorId)> {
        self.expect_f32(name, latents)?;
        let mut shape = self.shape(latents).to_vec();
        if shape.len() != 4 || copies == 0 {
            return Err(invalid(format!(
                "{name}: sampler input needs latents [I, C, h, w] and copies ≥ 1, got {shape:?} × {copies}"
            )));
        }
        shape[0] *= copies;
        let batch = shape[0];
        let timestep = self.new_tensor(
            &format!("{name}.timestep"),
            vec![batch],
            DType::F32,
            Role::Activation,
            None,
        )?;
        let y = self.activation(name, shape)?;
        self.push(Op::SamplerInput {
            latents,
            timestep,
            y,
        });
        Ok((y, timestep))
    }

    /// [`Op::SamplerNoise`]: f32 standard normal noise of `shape`.
    pub fn sampler_noise(&mut self, name: &str, shape: &[u32]) -> Result<TensorId> {
        let y = self.new_tensor(name, shape.to_vec(), DType::F32, Role::Activation, None)?;
        Ok(self.push(Op::SamplerNoise { y }))
    }

    /// [`Op::SamplerStep`]: one scheduler step in place on f32 `latents` and `x0_prev`; `model_out` is
    /// `[2I, ..]` (guided) or `[I, ..]`. Returns `latents`.
    pub fn sampler_step(
        &mut self,
        latents: TensorId,
        model_out: TensorId,
        x0_prev: TensorId,
        noise: TensorId,
    ) -> Result<TensorId> {
        for t in [latents, x0_prev, noise] {
            self.expect_f32("sampler_step", t)?;
        }
        let ls = self.shape(latents).to_vec();
        let ms = self.shape(model_out).to_vec();
        let n = |s: &[u32]| s.iter().map(|&d| u64::from(d)).product::<u64>();
        let ok = ms.len() == 4
            && ms[1..] == ls[1..]
            && (ms[0] == ls[0] || ms[0] == 2 * ls[0])
            && n(self.shape(x0_prev)) == n(&ls)
            && n(self.shape(noise)) == n(&ls);
        if !ok {
            return Err(invalid(format!(
                "sampler_step: model output {ms:?} does not fit latents {ls:?} (or x0_prev/noise differ)"
            )));
        }
        Ok(self.push(Op::SamplerStep {
            latents,
            model_out,
            x0_prev,
            noise,
        }))
    }

    /// [`Op::TileCrop`]: tile `slot` of `grid` out of `x` `[B, C, height·scale, width·scale]`, times
    /// `alpha`, in the options' dtype: `[B, C, tile_h·scale, tile_w·scale]`.
    pub fn tile_crop(
        &mut self,
        name: &str,
        x: TensorId,
        grid: TileGrid,
        scale: u32,
        alpha: f32,
    ) -> Result<TensorId> {
        let xs = self.shape(x).to_vec();
        if xs.len() != 4 || xs[2] != grid.height * scale || xs[3] != grid.width * scale {
            return Err(invalid(format!(
                "{name}: {xs:?} is not a [B, C, {}, {}] plane for the tile grid",
                grid.height * scale,
                grid.width * scale
            )));
        }
        let dtype = self.graph.tensor(x).dtype;
        if dtype != DType::F32 && dtype != self.options.dtype {
            return Err(invalid(format!("{name}: cannot crop a {dtype:?} tensor")));
        }
        let y = self.activation(
            name,
            vec![xs[0], xs[1], grid.tile_h * scale, grid.tile_w * scale],
        )?;
        Ok(self.push(Op::TileCrop {
            x,
            y,
            grid,
            scale,
            alpha,
        }))
    }

    /// [`Op::TileBlend`]: blends tile `x` `[B, C, tile_h·scale, tile_w·scale]` into a new output
    /// tensor `name` `[B, C, height·scale, width·scale]`, which every tile's replay of the phase
    /// completes (mark it persistent to keep it past the phase).
    pub fn tile_blend(
        &mut self,
        name: &str,
        x: TensorId,
        grid: TileGrid,
        scale: u32,
    ) -> Result<TensorId> {
        let xs = self.shape(x).to_vec();
        if xs.len() != 4 || xs[2] != grid.tile_h * scale || xs[3] != grid.tile_w * scale {
            return Err(invalid(format!(
                "{name}: tile {xs:?} is not [B, C, {}, {}]",
                grid.tile_h * scale,
                grid.tile_w * scale
            )));
        }
        let y = self.activation(
            name,
            vec![xs[0], xs[1], grid.height * scale, grid.width * scale],
        )?;
        // Written in place by every tile: live over the whole phase (and kept to its end).
        self.mark_output(y);
        Ok(self.push(Op::TileBlend { x, y, grid, scale }))
    }

    fn expect_f32(&self, name: &str, x: TensorId) -> Result<()> {
        let t = self.graph.tensor(x);
        if t.dtype != DType::F32 {
            return Err(invalid(format!(
                "{name}: {} must be f32, is {:?}",
                t.name, t.dtype
            )));
        }
        Ok(())
    }
}
