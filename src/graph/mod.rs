//! The graph IR: an ordered list of [`Op`]s over [`TensorInfo`]s.
//!
//! Models build graphs (see [`crate::models`]) through a [`GraphBuilder`]; [`liveness`] turns their
//! tensors' lifetimes into [`crate::planner::Usage`]s; the GPU executor replays the ops. All three read the
//! same graph, so there is one definition of each architecture.
//!
//! Layout conventions, shared by every op and kernel:
//! - images are NCHW, contiguous, like diffusers;
//! - sequences are `[batch, tokens, channels]`, contiguous;
//! - linear weights are torch's `[out, in]`, conv weights `[out, in, kh, kw]`.
//!
//! A *view* is a tensor that aliases another's storage with a new shape (a reshape, free in contiguous
//! layouts), and an in-place op writes its output as a view of its input. Views own no memory: liveness
//! extends the base tensor's interval over every use of its views.
//!
//! # Example usage
//! ```
//! use wgsd::graph::{GraphBuilder, GraphOptions, Padding};
//! let mut b = GraphBuilder::new(GraphOptions::default());
//! let x = b.input("x", &[1, 4, 8, 8]).unwrap(); // [1, 4, 8, 8]
//! let w = b.weight("conv.weight", &[8, 4, 3, 3]).unwrap();
//! let y = b.conv2d("conv", x, w, None, 1, Padding::symmetric(1)).unwrap(); // [1, 8, 8, 8]
//! b.mark_output(y);
//! let g = b.finish();
//! assert_eq!(g.tensor(y).shape, vec![1, 8, 8, 8]);
//! ```

mod builder;
pub mod liveness;
mod op;

pub use builder::{GraphBuilder, GraphOptions, Scope};
pub use op::{Activation, BroadcastShape, Op, Padding, TileGrid, TileStats};

use std::ops::Range;

/// Element type of a tensor as stored on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 16-bit IEEE float (storage only; kernels accumulate in f32).
    F16,
    /// 32-bit unsigned integer (token ids).
    U32,
}

impl DType {
    /// Bytes per element.
    pub const fn size(self) -> u64 {
        match self {
            DType::F32 | DType::U32 => 4,
            DType::F16 => 2,
        }
    }
}

/// Index of a tensor in its [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct TensorId(pub u32);

impl TensorId {
    /// The index as `usize`.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a tensor is for; decides where it is stored and how long it lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Role {
    /// Fed by the caller before the graph (or its phase) runs; live from its first use.
    Input,
    /// Read by the caller after the graph (or its phase) ran; live until the end of its phase.
    Output,
    /// A parameter, stored outside the activation arena. The tensor's name is its checkpoint key
    /// (`down_blocks.0.resnets.0.conv1.weight`).
    Weight,
    /// An intermediate, live from the op that writes it to the last op that reads it.
    Activation,
    /// Crosses phases (text embeddings, latents): live from when it is made to the end of the graph.
    Persistent,
}

/// One tensor of a graph.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TensorInfo {
    /// Unique name: the checkpoint key for weights, the module path and op for activations.
    pub name: String,
    /// Shape, outermost dimension first.
    pub shape: Vec<u32>,
    /// Element type.
    pub dtype: DType,
    /// What the tensor is for.
    pub role: Role,
    /// `Some(base)` when this tensor is a view of `base`'s storage (a reshape or an in-place result);
    /// `base` is never itself a view.
    pub alias_of: Option<TensorId>,
    /// Elements into the base's storage where this view starts: 0 except for a row window
    /// ([`GraphBuilder::rows`]).
    pub offset: u64,
}

impl TensorInfo {
    /// Number of elements.
    pub fn numel(&self) -> u64 {
        self.shape.iter().map(|&d| u64::from(d)).product()
    }

    /// Bytes of storage (before alignment).
    pub fn bytes(&self) -> u64 {
        self.numel() * self.dtype.size()
    }

    /// True for weights.
    pub fn is_weight(&self) -> bool {
        self.role == Role::Weight
    }
}

/// A named, contiguous range of ops: text encode, one U-Net step, VAE decode, VAE encode.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Phase {
    /// Short name (`text_encode`, `unet_step`, `vae_decode`, `vae_encode`).
    pub name: String,
    /// Op indices of the phase.
    pub ops: Range<usize>,
}

/// An ordered list of ops over tensors, split into phases.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Graph {
    /// Every tensor, indexed by [`TensorId`].
    pub tensors: Vec<TensorInfo>,
    /// The ops in execution order.
    pub ops: Vec<Op>,
    /// The phases, in order, covering all ops.
    pub phases: Vec<Phase>,
}

impl Graph {
    /// The tensor `id`.
    pub fn tensor(&self, id: TensorId) -> &TensorInfo {
        &self.tensors[id.index()]
    }

    /// The storage a tensor lives in: itself, or the base of its view.
    pub fn storage(&self, id: TensorId) -> TensorId {
        self.tensor(id).alias_of.unwrap_or(id)
    }

    /// Ids of all weights, in the order the builder created them.
    pub fn weights(&self) -> impl Iterator<Item = TensorId> + '_ {
        self.tensors
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_weight())
            .map(|(i, _)| TensorId(i as u32))
    }

    /// Total bytes of all weights.
    pub fn weight_bytes(&self) -> u64 {
        self.weights().map(|w| self.tensor(w).bytes()).sum()
    }

    /// The id of the tensor called `name`, if any.
    pub fn find(&self, name: &str) -> Option<TensorId> {
        self.tensors
            .iter()
            .position(|t| t.name == name)
            .map(|i| TensorId(i as u32))
    }
}
