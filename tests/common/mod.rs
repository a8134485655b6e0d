//! Shared harness of the kernel tests: one device per test binary, random inputs, and running a kernel
//! with its tensors either in buffers of their own or as aligned windows of one shared, NaN-poisoned
//! buffer (the way the arena holds them).

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

pub mod reference;

use rand::{Rng, SeedableRng};
use wgsd::gpu::kernels::{Dispatch, ParamArena};
use wgsd::gpu::{Gpu, GpuOptions, TensorView};
use wgsd::graph::DType;

/// The device of this test binary. A missing adapter fails the test: CI must never skip GPU tests.
pub fn gpu() -> &'static Gpu {
    shared_gpu_ref()
}

fn shared_gpu_ref() -> &'static Arc<Gpu> {
    static GPU: OnceLock<Arc<Gpu>> = OnceLock::new();
    GPU.get_or_init(|| match Gpu::new(&GpuOptions::default()) {
        Ok(g) => Arc::new(g),
        Err(e) => panic!("kernel tests need a GPU adapter: {e}"),
    })
}

/// The same device, shared (for a [`wgsd::pipeline::Pipeline`], which holds its GPU).
pub fn shared_gpu() -> Arc<Gpu> {
    Arc::clone(shared_gpu_ref())
}

/// Float storage types this device supports (f32 always, f16 where `SHADER_F16` is present).
pub fn float_dtypes() -> Vec<DType> {
    if gpu().caps().f16 {
        vec![DType::F32, DType::F16]
    } else {
        vec![DType::F32]
    }
}

/// `n` values uniform in `[-scale, scale)`, reproducible from `seed`.
pub fn random(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-scale..scale)).collect()
}

/// Rounds through the storage type, so a reference sees what the kernel read.
pub fn quantize(x: &[f32], dtype: DType) -> Vec<f32> {
    match dtype {
        DType::F16 => x.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect(),
        _ => x.to_vec(),
    }
}

/// True when `a` and `b` have the same length and the same bits everywhere.
pub fn bit_identical(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// One input tensor of a case.
pub struct Input {
    pub name: &'static str,
    pub data: Vec<f32>,
    pub dtype: DType,
}

/// One output tensor of a case.
pub struct Output {
    pub name: &'static str,
    pub len: usize,
    pub dtype: DType,
}

/// Where the tensors live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Each tensor in a buffer of its own.
    Separate,
    /// All tensors at aligned offsets of one buffer; the gaps are poisoned with NaN.
    Shared,
}

/// Builds the dispatches of a case from its views (inputs first, then outputs).
pub type Build<'a> = dyn Fn(&Gpu, &ParamArena, &[TensorView]) -> wgsd::Result<Vec<Dispatch>> + 'a;

/// Runs a case in one layout and returns the outputs as f32.
pub fn run_layout(
    inputs: &[Input],
    outputs: &[Output],
    layout: Layout,
    build: &Build,
) -> Vec<Vec<f32>> {
    run_layout_inplace(inputs, 0, outputs, layout, build).split_off(inputs.len())
}

/// Like [`run_layout`] for kernels that also update inputs in place: the first `updated` inputs may
/// change. Returns every tensor, inputs first.
pub fn run_layout_inplace(
    inputs: &[Input],
    updated: usize,
    outputs: &[Output],
    layout: Layout,
    build: &Build,
) -> Vec<Vec<f32>> {
    let gpu = gpu();
    let arena = ParamArena::new(gpu, 64);
    let sizes: Vec<(u64, DType, &str)> = inputs
        .iter()
        .map(|i| (i.data.len() as u64, i.dtype, i.name))
        .chain(outputs.iter().map(|o| (o.len as u64, o.dtype, o.name)))
        .collect();
    let views: Vec<TensorView> = match layout {
        Layout::Separate => sizes
            .iter()
            .map(|&(len, dtype, name)| {
                let buf = gpu.create_storage(name, len * dtype.size()).unwrap();
                TensorView::new(&buf, 0, len, dtype, name)
            })
            .collect(),
        Layout::Shared => {
            let align = gpu.limits().min_storage_buffer_offset_alignment as u64;
            let mut offset = align; // a poisoned gap before the first tensor too
            let mut placed = Vec::new();
            for &(len, dtype, name) in &sizes {
                placed.push((offset, len, dtype, name));
                offset += (len * dtype.size()).div_ceil(align) * align + align;
            }
            let buf = gpu.create_storage("shared", offset).unwrap();
            // 0xFF bytes are NaN in f32 and in f16.
            gpu.queue()
                .write_buffer(&buf, 0, &vec![0xFFu8; offset as usize]);
            placed
                .into_iter()
                .map(|(o, len, dtype, name)| TensorView::new(&buf, o, len, dtype, name))
                .collect()
        }
    };
    for (view, input) in views.iter().zip(inputs) {
        gpu.write(view, &input.data).unwrap();
    }
    let before = snapshot(&views);
    let dispatches = build(gpu, &arena, &views).unwrap();
    gpu.run(&dispatches.iter().collect::<Vec<_>>()).unwrap();
    if layout == Layout::Shared {
        check_untouched(&views, inputs.len(), updated, &before);
    }
    views.iter().map(|v| gpu.read(v).unwrap()).collect()
}

fn snapshot(views: &[TensorView]) -> Vec<u8> {
    let buf = &views[0].buffer;
    gpu().read_bytes(buf, 0, buf.size()).unwrap()
}

/// In the shared layout, every byte outside the outputs (and the first `updated` inputs) must be as it
/// was: inputs and poison alike.
fn check_untouched(views: &[TensorView], n_inputs: usize, updated: usize, before: &[u8]) {
    let after = snapshot(views);
    let outputs: Vec<(u64, u64)> = views[..updated]
        .iter()
        .chain(&views[n_inputs..])
        .map(|v| (v.offset, v.offset + v.bytes().div_ceil(4) * 4))
        .collect();
    for (i, (a, b)) in after.iter().zip(before).enumerate() {
        let i = i as u64;
        if a != b && !outputs.iter().any(|&(s, e)| i >= s && i < e) {
            panic!("byte {i} of the shared buffer changed outside every output ({b:#x} -> {a:#x})");
        }
    }
}

/// Runs a case in both layouts, checks they agree bit for bit, and returns the outputs.
pub fn run_both(inputs: &[Input], outputs: &[Output], build: &Build) -> Vec<Vec<f32>> {
    run_both_inplace(inputs, 0, outputs, build).split_off(inputs.len())
}

/// [`run_both`] for kernels that update their first `updated` inputs in place; returns every tensor,
/// inputs first.
pub fn run_both_inplace(
    inputs: &[Input],
    updated: usize,
    outputs: &[Output],
    build: &Build,
) -> Vec<Vec<f32>> {
    let separate = run_layout_inplace(inputs, updated, outputs, Layout::Separate, build);
    let shared = run_layout_inplace(inputs, updated, outputs, Layout::Shared, build);
    let names = inputs
        .iter()
        .map(|i| i.name)
        .chain(outputs.iter().map(|o| o.name));
    for ((s, h), name) in separate.iter().zip(&shared).zip(names) {
        let same = s.iter().zip(h).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(
            same,
            "tensor {name} differs between separate buffers and the shared buffer"
        );
    }
    separate
}

/// Asserts relative L2 error ≤ `tol`, naming the case.
pub fn assert_close(got: &[f32], want: &[f32], tol: f64, what: &str) {
    assert!(
        got.iter().all(|v| v.is_finite()),
        "{what}: output has NaN/Inf"
    );
    let err = wgsd::cpu::rel_l2(got, want);
    assert!(
        err <= tol,
        "{what}: relative L2 error {err:.3e} > {tol:.0e}"
    );
}

/// The stated tolerance of most ops: f32 ≤ 1e-5, f16 storage ≤ 2e-3 (relative L2).
pub fn tolerance(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => 2e-3,
        _ => 1e-5,
    }
}
