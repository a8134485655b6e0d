//! The executor against the CPU interpreter on a small graph that uses every runnable op (and row
//! windows, written and read in place), in two
//! phases that share one arena; and the promise that running creates nothing on the device.
//! Tolerance: relative L2 ≤ 1e-4 in f32 over the whole graph, ≤ 1e-2 with f16 storage.

mod common;

use std::collections::HashMap;

use common::{float_dtypes, gpu, random};
use wgsd::cpu::graph::{self as cpu_graph, Values};
use wgsd::gpu::{encode, WeightSource};
use wgsd::graph::{Activation, DType, Graph, GraphBuilder, GraphOptions, Padding, TensorId};
use wgsd::planner::Options;

struct RandomWeights(HashMap<String, Vec<f32>>);

impl WeightSource for RandomWeights {
    fn fill(&self, name: &str, _shape: &[u32], dtype: DType, dst: &mut [u8]) -> wgsd::Result<()> {
        let values = self
            .0
            .get(name)
            .ok_or_else(|| wgsd::Error::Invalid(format!("no weight {name}")))?;
        dst.copy_from_slice(&encode(values, dtype));
        Ok(())
    }
}

struct Model {
    graph: Graph,
    ids: TensorId,
    x: TensorId,
    t: TensorId,
    context: TensorId,
    out: TensorId,
}

fn build(dtype: DType) -> wgsd::Result<Model> {
    let mut b = GraphBuilder::new(GraphOptions {
        dtype,
        ..Default::default()
    });
    let w = |b: &mut GraphBuilder, name: &str, shape: &[u32]| b.weight(name, shape);

    b.begin_phase("text_encode");
    let ids = b.input_typed("ids", &[2, 7], DType::U32)?; // [2, 7]
    let (tok, pos) = (w(&mut b, "tok", &[50, 12])?, w(&mut b, "pos", &[9, 12])?);
    let e = b.token_embedding("embed", ids, tok, pos)?; // [2, 7, 12]
    let (g, be) = (w(&mut b, "ln.weight", &[12])?, w(&mut b, "ln.bias", &[12])?);
    let ln = b.layer_norm("ln", e, g, be, 1e-5)?; // [2, 7, 12]
    let wq = w(&mut b, "q.weight", &[12, 12])?;
    let wk = w(&mut b, "k.weight", &[12, 12])?;
    let wv = w(&mut b, "v.weight", &[12, 12])?;
    let q = b.linear("q", ln, wq, None, Activation::None)?; // [2, 7, 12]
    let k = b.linear("k", ln, wk, None, Activation::None)?;
    let v = b.linear("v", ln, wv, None, Activation::None)?;
    let a = b.attention("self_attn", q, k, v, 3, true, 0.5)?; // [2, 7, 12], 3 heads of 4
    let context = b.add("context", a, e)?; // [2, 7, 12]
    b.mark_persistent(context);

    b.begin_phase("unet_step");
    let x = b.input("x", &[2, 6, 5, 7])?; // [2, 6, 5, 7]
    let t = b.input_typed("t", &[2], DType::F32)?; // [2]
    let temb = b.timestep_embedding("temb", t, 16, true, 0.0)?; // [2, 16]
    let (wt, bt) = (
        w(&mut b, "time.weight", &[6, 16])?,
        w(&mut b, "time.bias", &[6])?,
    );
    let temb = b.linear("time", temb, wt, Some(bt), Activation::Silu)?; // [2, 6]
    let temb = b.view("time_4d", temb, &[2, 6, 1, 1])?; // [2, 6, 1, 1]
    let xt = b.add("x_plus_t", x, temb)?; // [2, 6, 5, 7]
    let (wc, bc) = (
        w(&mut b, "conv1.weight", &[8, 6, 3, 3])?,
        w(&mut b, "conv1.bias", &[8])?,
    );
    let h = b.conv2d("conv1", xt, wc, Some(bc), 1, Padding::symmetric(1))?; // [2, 8, 5, 7]
    let (gg, gb) = (
        w(&mut b, "norm.weight", &[8])?,
        w(&mut b, "norm.bias", &[8])?,
    );
    let h = b.group_norm("norm", h, gg, gb, 4, 1e-5, true)?; // [2, 8, 5, 7]
    let hs = b.view("h_seq", h, &[2, 8, 35])?; // [2, 8, 35]
    let tokens = b.transpose("tokens", hs)?; // [2, 35, 8]
    let wq2 = w(&mut b, "attn2.q.weight", &[8, 8])?;
    let wk2 = w(&mut b, "attn2.k.weight", &[8, 12])?;
    let wv2 = w(&mut b, "attn2.v.weight", &[8, 12])?;
    let q2 = b.linear("attn2.q", tokens, wq2, None, Activation::None)?; // [2, 35, 8]
    let k2 = b.linear("attn2.k", context, wk2, None, Activation::None)?; // [2, 7, 8]
    let v2 = b.linear("attn2.v", context, wv2, None, Activation::None)?;
    let c = b.attention("attn2", q2, k2, v2, 2, false, 0.5)?; // [2, 35, 8]
    let (wf, bf) = (
        w(&mut b, "ff.proj.weight", &[16, 8])?,
        w(&mut b, "ff.proj.bias", &[16])?,
    );
    // The projection in two row windows (rows 0..32 and 32..70 of [70, 8]), as a chunked
    // feed-forward runs it: the second window starts 1 KiB (f32) / 512 B (f16) into both tensors.
    let f = b.empty("ff.proj", &[70, 16])?; // [70, 16]
    for (r0, r1) in [(0, 32), (32, 70)] {
        let xi = b.rows("ff.in_rows", c, r0, r1)?; // [r, 8]
        let yi = b.rows("ff.proj_rows", f, r0, r1)?; // [r, 16]
        b.linear_into(yi, xi, wf, Some(bf), Activation::None)?;
    }
    let f = b.view("ff.proj_seq", f, &[2, 35, 16])?; // [2, 35, 16]
    let f = b.geglu("ff.geglu", f)?; // [2, 35, 8]
    let f = b.unary("ff.gelu_tanh", f, Activation::GeluTanh)?;
    let f = b.scale("ff.scale", f, 0.7, 0.1)?;
    let f = b.mul("ff.gate", f, c)?; // [2, 35, 8]
    let back = b.transpose("back", f)?; // [2, 8, 35]
    let back = b.view("back_4d", back, &[2, 8, 5, 7])?; // [2, 8, 5, 7]
    let wd = w(&mut b, "down.weight", &[6, 8, 3, 3])?;
    let d = b.conv2d("down", back, wd, None, 2, Padding { begin: 0, end: 1 })?; // [2, 6, 3, 4]
    let u = b.upsample2x("up", d)?; // [2, 6, 6, 8]
    let wo = w(&mut b, "out.weight", &[5, 6, 1, 1])?;
    let o = b.conv2d("out", u, wo, None, 1, Padding::symmetric(0))?; // [2, 5, 6, 8]
    let out = b.concat("cat", o, u)?; // [2, 11, 6, 8]
    b.mark_output(out);
    Ok(Model {
        graph: b.finish(),
        ids,
        x,
        t,
        context,
        out,
    })
}

fn weights(graph: &Graph, dtype: DType) -> RandomWeights {
    let mut map = HashMap::new();
    for (i, id) in graph.weights().enumerate() {
        let info = graph.tensor(id);
        let values = random(info.numel() as usize, 100 + i as u64, 0.5);
        map.insert(info.name.clone(), common::quantize(&values, dtype));
    }
    RandomWeights(map)
}

#[test]
fn executor_matches_the_cpu_interpreter_across_phases() {
    let gpu = gpu();
    for dtype in float_dtypes() {
        let m = build(dtype).unwrap();
        let source = weights(&m.graph, dtype);
        let exec = wgsd::gpu::Executor::new(gpu, &m.graph, &source, &Options::default()).unwrap();

        let ids: Vec<f32> = [49, 3, 7, 0, 11, 12, 1, 5, 5, 5, 9, 40, 2, 8]
            .iter()
            .map(|&i| i as f32)
            .collect();
        let x = common::quantize(&random(2 * 6 * 5 * 7, 1, 1.0), dtype);
        let t = vec![421.0, 17.0];
        let mut values = Values::new(&m.graph);
        for id in m.graph.weights() {
            values.set(&m.graph, id, source.0[&m.graph.tensor(id).name].clone());
        }
        values.set(&m.graph, m.ids, ids.clone());
        values.set(&m.graph, m.x, x.clone());
        values.set(&m.graph, m.t, t.clone());
        cpu_graph::run(&m.graph, 0..m.graph.ops.len(), &mut values).unwrap();

        // Phase by phase, the way the pipeline drives it: inputs are written just before their phase.
        let phases = m.graph.phases.clone();
        exec.write(gpu, m.ids, &ids).unwrap();
        exec.run(gpu, phases[0].ops.clone()).unwrap();
        exec.write(gpu, m.x, &x).unwrap();
        exec.write(gpu, m.t, &t).unwrap();
        exec.run(gpu, phases[1].ops.clone()).unwrap();

        let tol = if dtype == DType::F16 { 1e-2 } else { 1e-4 };
        for (id, what) in [
            (m.context, "context (persistent across phases)"),
            (m.out, "output"),
        ] {
            let got = exec.read(gpu, id).unwrap();
            common::assert_close(
                &got,
                values.get(&m.graph, id).unwrap(),
                tol,
                &format!("{what} {dtype:?}"),
            );
        }
        assert!(exec.plan().activation_plan.arena() < exec.plan().activation_plan.load * 2);
    }
}

#[test]
fn running_creates_nothing_on_the_device() {
    // A device of its own: the other tests of this binary allocate on the shared one concurrently.
    let gpu = &wgsd::gpu::Gpu::new(&Default::default()).unwrap();
    let m = build(DType::F32).unwrap();
    let exec = wgsd::gpu::Executor::new(
        gpu,
        &m.graph,
        &weights(&m.graph, DType::F32),
        &Options::default(),
    )
    .unwrap();
    exec.write(gpu, m.ids, &[1.0; 14]).unwrap();
    exec.write(gpu, m.x, &[0.5; 420]).unwrap();
    exec.write(gpu, m.t, &[3.0, 4.0]).unwrap();
    let n = m.graph.ops.len();
    exec.run(gpu, 0..n).unwrap();
    gpu.wait().unwrap(); // let wgpu free the staging memory of the writes above
    let before = gpu.memory().expect("allocator report");
    for _ in 0..5 {
        exec.run(gpu, 0..n).unwrap();
    }
    let after = gpu.memory().unwrap();
    assert_eq!(before, after, "running the graph allocated device memory");
    let mem = exec.memory();
    assert!(
        mem.activations > 0 && mem.weights > 0 && mem.params > 0,
        "{mem:?}"
    );
}

#[test]
fn the_nan_check_names_the_first_bad_op() {
    let gpu = gpu();
    let m = build(DType::F32).unwrap();
    let exec = wgsd::gpu::Executor::new(
        gpu,
        &m.graph,
        &weights(&m.graph, DType::F32),
        &Options::default(),
    )
    .unwrap();
    let phases = m.graph.phases.clone();
    exec.write(gpu, m.ids, &[1.0; 14]).unwrap();
    exec.run_checked(gpu, phases[0].ops.clone()).unwrap();
    let mut x = vec![0.5; 420];
    x[17] = f32::NAN;
    exec.write(gpu, m.x, &x).unwrap();
    exec.write(gpu, m.t, &[3.0, 4.0]).unwrap();
    let err = exec
        .run_checked(gpu, phases[1].ops.clone())
        .unwrap_err()
        .to_string();
    assert!(err.contains("x_plus_t"), "{err}");
}
