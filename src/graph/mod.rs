//! The graph IR: an ordered list of [`Op`]s over [`TensorInfo`]s.
//!
//! Models build graphs (see [`crate::models`]); the planner turns their tensors' lifetimes into arena
//! offsets; the GPU executor replays the ops. All three read the same graph, so there is one definition of
//! each architecture.
//!
//! Layout conventions, shared by every op and kernel:
//! - images are NCHW, contiguous, like diffusers;
//! - sequences are `[batch, tokens, channels]`, contiguous;
//! - linear weights are torch's `[out, in]`, conv weights `[out, in, kh, kw]`.

mod op;

pub use op::{Activation, BroadcastShape, Op, Padding};

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
