//! The GPU layer: the only module that imports wgpu.
