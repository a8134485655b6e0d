//! Liveness on tiny hand-built graphs: intervals, views, in-place ops, outputs, persistence across phases.

use wgsd::graph::liveness::{self, Interval};
use wgsd::graph::{Activation, Graph, GraphBuilder, GraphOptions, TensorId};

fn span(g: &Graph, iv: &[Interval], name: &str) -> Option<(u32, u32, u64)> {
    let id = g.find(name).unwrap();
    iv.iter()
        .find(|i| i.tensor == id)
        .map(|i| (i.first, i.last, i.size))
}

const SILU: Activation = Activation::Silu;

/// x → a → b → c, with c also reading x: x lives to the end.
#[test]
fn chain_and_long_lived_input() {
    let mut b = GraphBuilder::new(GraphOptions::default());
    let x = b.input("x", &[4]).unwrap(); // 16 B
    let a = b.unary("a", x, SILU).unwrap(); // op 0
    let bb = b.unary("b", a, SILU).unwrap(); // op 1
    let c = b.add("c", bb, x).unwrap(); // op 2
    b.mark_output(c);
    let g = b.finish();
    let iv = liveness::intervals(&g);
    assert_eq!(span(&g, &iv, "x"), Some((0, 2, 16)));
    assert_eq!(span(&g, &iv, "a"), Some((0, 1, 16)));
    assert_eq!(span(&g, &iv, "b"), Some((1, 2, 16)));
    assert_eq!(span(&g, &iv, "c"), Some((2, 2, 16)));
    assert_eq!(liveness::live_bytes(&iv, 1), vec![32, 48, 48]);
    assert_eq!(liveness::load(&iv, 1), 48);
    assert_eq!(
        liveness::load(&iv, 64),
        192,
        "sizes are rounded up to the alignment"
    );
}

/// A view owns no storage; its uses extend its base's interval. In-place softmax likewise.
#[test]
fn views_and_in_place_extend_the_base() {
    let mut b = GraphBuilder::new(GraphOptions::default());
    let x = b.input("x", &[2, 3]).unwrap();
    let a = b.unary("a", x, SILU).unwrap(); // op 0: a [2, 3]
    let v = b.view("v", a, &[6]).unwrap(); // no op
    let vv = b.view("vv", v, &[3, 2]).unwrap(); // a view of a view aliases the base
    assert_eq!(b.graph().tensor(vv).alias_of, Some(a));
    let s = b.softmax_in_place("s", a, false).unwrap(); // op 1, writes into a
    let _ = b.unary("u1", x, SILU).unwrap(); // op 2
    let _ = b.unary("u2", x, SILU).unwrap(); // op 3
    let y = b.unary("y", vv, SILU).unwrap(); // op 4 reads a through the view
    let s2 = b.view("s2", s, &[3, 2]).unwrap(); // a view of the in-place result
    let z = b.add("z", y, s2).unwrap(); // op 5 reads a through the in-place result
    b.mark_output(z);
    let g = b.finish();
    let iv = liveness::intervals(&g);
    assert_eq!(span(&g, &iv, "a"), Some((0, 5, 24)));
    for view in ["v", "vv", "s", "s2"] {
        assert_eq!(span(&g, &iv, view), None, "{view} is a view");
    }
    assert_eq!(iv.len(), 6, "x, a, u1, u2, y, z");
}

/// Outputs live to the end of their phase; persistent tensors to the end of the graph; clipping a
/// phase renumbers from 0 and keeps persistent tensors made earlier.
#[test]
fn phases_outputs_and_persistence() {
    let mut b = GraphBuilder::new(GraphOptions::default());
    b.begin_phase("text");
    let ids = b.input("ids", &[4]).unwrap();
    let emb = b.unary("emb", ids, SILU).unwrap(); // op 0
    let out = b.unary("text_out", emb, SILU).unwrap(); // op 1
    let side = b.unary("side", ids, SILU).unwrap(); // op 2
    b.mark_output(side);
    let _ = b.unary("filler", ids, SILU).unwrap(); // op 3
    b.mark_persistent(out);
    b.begin_phase("step");
    let lat = b.input("latents", &[8]).unwrap();
    b.mark_persistent(lat);
    let h = b.scale("h", lat, 2.0, 0.0).unwrap(); // op 4
    let y = b.unary("y", h, SILU).unwrap(); // op 5
    b.mark_output(y);
    b.begin_phase("decode");
    let d = b.unary("d", lat, SILU).unwrap(); // op 6
    let _ = b.unary("e", d, SILU).unwrap(); // op 7
    let g = b.finish();
    let iv = liveness::intervals(&g);
    assert_eq!(
        span(&g, &iv, "text_out"),
        Some((1, 7, 16)),
        "persistent: to the end"
    );
    assert_eq!(
        span(&g, &iv, "side"),
        Some((2, 3, 16)),
        "output: to its phase's end"
    );
    assert_eq!(
        span(&g, &iv, "latents"),
        Some((4, 7, 32)),
        "persistent from first use"
    );
    assert_eq!(
        span(&g, &iv, "y"),
        Some((5, 5, 32)),
        "output at the phase's last op"
    );
    assert_eq!(
        span(&g, &iv, "e"),
        Some((7, 7, 32)),
        "a dead value still needs room for its write"
    );

    let step = liveness::clip(&iv, g.phases[1].ops.clone());
    let names: Vec<&str> = step
        .iter()
        .map(|i| g.tensor(i.tensor).name.as_str())
        .collect();
    assert_eq!(names, ["text_out", "latents", "h", "y"]);
    assert_eq!(
        step[0].first, 0,
        "a persistent tensor from an earlier phase spans the phase"
    );
    assert_eq!(step[0].last, 1);
    let decode = liveness::clip(&iv, g.phases[2].ops.clone());
    assert!(decode.iter().all(|i| i.last <= 1));
    assert_eq!(liveness::usages(&decode).len(), decode.len());
}

/// Weights are not activations, but have intervals of their own for later planning.
#[test]
fn weights_are_separate() {
    let mut b = GraphBuilder::new(GraphOptions::default());
    let x = b.input("x", &[1, 4]).unwrap();
    let w = b.weight("fc.weight", &[4, 4]).unwrap();
    let h = b.linear("h", x, w, None, Activation::None).unwrap(); // op 0
    let h2 = b.unary("h2", h, SILU).unwrap(); // op 1
    let y = b.linear("y", h2, w, None, Activation::None).unwrap(); // op 2
    b.mark_output(y);
    let g = b.finish();
    let iv = liveness::intervals(&g);
    assert!(iv.iter().all(|i| !g.tensor(i.tensor).is_weight()));
    let wv = liveness::weight_intervals(&g);
    assert_eq!(wv.len(), 1);
    assert_eq!((wv[0].tensor, wv[0].first, wv[0].last), (TensorId(1), 0, 2));
    assert_eq!(g.weight_bytes(), 64);
}

/// In a tiled phase whose grid shares statistics, a group norm gets a persistent f32 summary that it
/// reads before writing, so the summary is live over the whole replayed phase (every slot of both
/// passes); outside the tile scope, group norms keep their own statistics.
#[test]
fn shared_tile_statistics_live_over_the_tiled_phase() {
    use wgsd::graph::{DType, Op, TileGrid};
    let mut b = GraphBuilder::new(GraphOptions::default());
    b.begin_phase("step");
    let lat = b.input("latents", &[1, 4, 6, 10]).unwrap();
    b.mark_persistent(lat);
    let _ = b.unary("step_out", lat, SILU).unwrap(); // op 0
    b.begin_phase("decode");
    let grid = TileGrid::new(6, 10, 4, 1).unwrap().with_shared_stats(true);
    let ones = b.weight("gamma", &[4]).unwrap();
    let zeros = b.weight("beta", &[4]).unwrap();
    b.begin_tiles(grid);
    let t = b.tile_crop("tile", lat, grid, 1, 1.0).unwrap(); // op 1
    let n = b.group_norm("norm", t, ones, zeros, 2, 1e-6, true).unwrap(); // op 2
    let y = b.tile_blend("image", n, grid, 1).unwrap(); // op 3
    b.end_tiles();
    let _ = b
        .group_norm("after", y, ones, zeros, 2, 1e-6, false)
        .unwrap(); // op 4
    let g = b.finish();
    let stats = g.find("norm.tile_stats").unwrap();
    assert_eq!(g.tensor(stats).dtype, DType::F32);
    assert_eq!(g.tensor(stats).shape, [2, 4]);
    assert!(g.find("after.tile_stats").is_none());
    let slots = 2 * grid.count();
    let tiles: Vec<Option<u32>> = g.ops.iter().map(Op::tiles).collect();
    assert_eq!(tiles, [None, Some(slots), Some(slots), Some(slots), None]);
    let iv = liveness::intervals(&g);
    assert_eq!(
        span(&g, &iv, "norm.tile_stats"),
        Some((1, 4, 32)),
        "from the tiled phase's start to the end"
    );
}
