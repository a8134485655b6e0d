//! Shape inference and shape errors of `GraphBuilder`, one table row per op.

use wgsd::graph::{Activation, DType, GraphBuilder, GraphOptions, Op, Padding, Role};

/// (x shape, weight shape, expected output shape or `None` for an error).
type LinearCase<'a> = (&'a [u32], &'a [u32], Option<&'a [u32]>);
/// (x shape, weight shape, stride, padding, expected output shape or `None`).
type ConvCase<'a> = (&'a [u32], &'a [u32], u32, Padding, Option<&'a [u32]>);

fn builder() -> GraphBuilder {
    GraphBuilder::new(GraphOptions::default())
}

#[test]
fn linear_shapes() {
    // (x, weight, expected y or None for an error)
    let table: &[LinearCase] = &[
        (&[2, 77, 768], &[3072, 768], Some(&[2, 77, 3072])),
        (&[2, 1280], &[320, 1280], Some(&[2, 320])),
        (&[5], &[3, 5], Some(&[3])),
        (&[2, 77, 768], &[3072, 769], None),
        (&[2, 77, 768], &[768], None),
    ];
    for (xs, ws, want) in table {
        let mut b = builder();
        let x = b.input("x", xs).unwrap();
        let w = b.weight("w", ws).unwrap();
        let got = b.linear("y", x, w, None, Activation::None);
        match want {
            Some(want) => assert_eq!(b.shape(got.unwrap()), *want, "{xs:?} {ws:?}"),
            None => assert!(got.is_err(), "{xs:?} {ws:?} should fail"),
        }
    }
}

#[test]
fn conv2d_shapes() {
    // (x, weight, stride, pad, expected)
    let table: &[ConvCase] = &[
        (
            &[2, 4, 64, 64],
            &[320, 4, 3, 3],
            1,
            Padding::symmetric(1),
            Some(&[2, 320, 64, 64]),
        ),
        (
            &[2, 320, 64, 64],
            &[320, 320, 3, 3],
            2,
            Padding::symmetric(1),
            Some(&[2, 320, 32, 32]),
        ),
        // the VAE encoder's asymmetric (0, 1) pad: 512 → 256
        (
            &[1, 128, 512, 512],
            &[128, 128, 3, 3],
            2,
            Padding { begin: 0, end: 1 },
            Some(&[1, 128, 256, 256]),
        ),
        (
            &[1, 128, 7, 7],
            &[128, 128, 3, 3],
            2,
            Padding { begin: 0, end: 1 },
            Some(&[1, 128, 3, 3]),
        ),
        (
            &[1, 640, 8, 8],
            &[320, 640, 1, 1],
            1,
            Padding::symmetric(0),
            Some(&[1, 320, 8, 8]),
        ),
        (&[1, 3, 8, 8], &[8, 4, 3, 3], 1, Padding::symmetric(1), None),
        (&[1, 4, 2, 2], &[8, 4, 5, 5], 1, Padding::symmetric(0), None),
        (&[4, 8, 8], &[8, 4, 3, 3], 1, Padding::symmetric(1), None),
        (&[1, 4, 8, 8], &[8, 4, 3, 3], 0, Padding::symmetric(1), None),
    ];
    for (xs, ws, stride, pad, want) in table {
        let mut b = builder();
        let x = b.input("x", xs).unwrap();
        let w = b.weight("w", ws).unwrap();
        let got = b.conv2d("y", x, w, None, *stride, *pad);
        match want {
            Some(want) => assert_eq!(b.shape(got.unwrap()), *want, "{xs:?} {ws:?}"),
            None => assert!(got.is_err(), "{xs:?} {ws:?} should fail"),
        }
    }
}

#[test]
fn elementwise_and_layout_shapes() {
    let mut b = builder();
    let x = b.input("x", &[2, 320, 16, 8]).unwrap(); // [2, 320, 16, 8]
    let t = b.input("t", &[2, 320]).unwrap(); // [2, 320]
                                              // [2, 320] does not broadcast to NCHW until viewed as [2, 320, 1, 1]
    assert!(b.add("bad", x, t).is_err());
    let t4 = b.view("t4", t, &[2, 320, 1, 1]).unwrap();
    let y = b.add("y", x, t4).unwrap();
    assert_eq!(b.shape(y), [2, 320, 16, 8]);
    match b.graph().ops.last().unwrap() {
        Op::Add { shape, .. } => {
            assert_eq!(shape.a, [2, 320, 16, 8]);
            assert_eq!(shape.b, [2, 320, 1, 1]);
        }
        other => panic!("{other:?}"),
    }
    let bias = b.input("bias", &[8]).unwrap();
    let m = b.mul("m", x, bias).unwrap(); // trailing-dim broadcast
    assert_eq!(b.shape(m), [2, 320, 16, 8]);
    assert!(b.view("v", x, &[2, 320, 100]).is_err());
    let flat = b.view("flat", x, &[2, 320, 128]).unwrap();
    let seq = b.transpose("seq", flat).unwrap();
    assert_eq!(b.shape(seq), [2, 128, 320]);
    let up = b.upsample2x("up", x).unwrap();
    assert_eq!(b.shape(up), [2, 320, 32, 16]);
    let skip = b.input("skip", &[2, 640, 16, 8]).unwrap();
    let cat = b.concat("cat", x, skip).unwrap();
    assert_eq!(b.shape(cat), [2, 960, 16, 8]);
    assert!(b.concat("bad_cat", x, up).is_err());
    let h = b.input("h", &[2, 4096, 2560]).unwrap();
    let g = b.geglu("g", h).unwrap();
    assert_eq!(b.shape(g), [2, 4096, 1280]);
    let odd = b.input("odd", &[3, 5]).unwrap();
    assert!(b.geglu("bad_geglu", odd).is_err());
    let s = b.scale("s", x, 2.0, 0.0).unwrap();
    assert_eq!(b.shape(s), [2, 320, 16, 8]);
    let u = b.unary("u", x, Activation::Silu).unwrap();
    assert_eq!(b.shape(u), [2, 320, 16, 8]);
}

#[test]
fn norm_attention_and_embedding_shapes() {
    let mut b = builder();
    let x = b.input("x", &[1, 320, 8, 8]).unwrap();
    let g = b.weight("norm.weight", &[320]).unwrap();
    let be = b.weight("norm.bias", &[320]).unwrap();
    let y = b.group_norm("gn", x, g, be, 32, 1e-5, true).unwrap();
    assert_eq!(b.shape(y), [1, 320, 8, 8]);
    assert!(b.group_norm("gn_bad", x, g, be, 30, 1e-5, false).is_err());
    let seq = b.input("seq", &[2, 77, 320]).unwrap();
    let ln = b.layer_norm("ln", seq, g, be, 1e-5).unwrap();
    assert_eq!(b.shape(ln), [2, 77, 320]);
    let short = b.weight("short", &[319]).unwrap();
    assert!(b.layer_norm("ln_bad", seq, short, be, 1e-5).is_err());

    let q = b.input("q", &[2, 4096, 320]).unwrap();
    let k = b.input("k", &[2, 77, 320]).unwrap();
    let a = b.attention("attn", q, k, k, 8, false, 0.125).unwrap();
    assert_eq!(b.shape(a), [2, 4096, 320]);
    assert!(b.attention("attn_bad", q, k, k, 7, false, 0.125).is_err());
    let s = b.attention_scores("scores", q, k, 8, 0.125).unwrap();
    assert_eq!(b.shape(s), [16, 4096, 77]);
    let p = b.softmax_in_place("probs", s, false).unwrap();
    assert_eq!(b.graph().tensor(p).alias_of, Some(s));
    let o = b.attention_values("out", p, k, 8).unwrap();
    assert_eq!(b.shape(o), [2, 4096, 320]);
    assert!(b.attention_values("out_bad", p, q, 8).is_err());

    let t = b.input_typed("t", &[2], DType::F32).unwrap();
    let e = b.timestep_embedding("temb", t, 320, true, 0.0).unwrap();
    assert_eq!(b.shape(e), [2, 320]);
    assert!(b.timestep_embedding("temb_bad", t, 321, true, 0.0).is_err());
    let ids = b.input_typed("ids", &[2, 77], DType::U32).unwrap();
    let tok = b.weight("tok", &[1000, 32]).unwrap();
    let pos = b.weight("pos", &[77, 32]).unwrap();
    let h = b.token_embedding("emb", ids, tok, pos).unwrap();
    assert_eq!(b.shape(h), [2, 77, 32]);
    let float_ids = b.input("float_ids", &[2, 77]).unwrap();
    assert!(b.token_embedding("emb_bad", float_ids, tok, pos).is_err());
}

#[test]
fn names_roles_and_phases() {
    let mut b = builder();
    assert!(b.input("zero", &[2, 0, 4]).is_err());
    b.weight("w", &[4, 4]).unwrap();
    assert!(
        b.weight("w", &[4, 4]).is_err(),
        "a weight key is defined once"
    );
    b.begin_phase("one");
    let x = b.input("x", &[4]).unwrap();
    let y = b.unary("y", x, Activation::Silu).unwrap();
    let y2 = b.unary("y", y, Activation::Silu).unwrap();
    b.begin_phase("two");
    let z = b.unary("z", y2, Activation::Silu).unwrap();
    b.mark_persistent(y2);
    b.mark_output(z);
    let g = b.finish();
    assert_eq!(g.tensor(y2).name, "y#1", "activation names are made unique");
    assert_eq!(g.tensor(y2).role, Role::Persistent);
    assert_eq!(g.tensor(z).role, Role::Output);
    assert_eq!(g.phases.len(), 2);
    assert_eq!(
        (g.phases[0].ops.clone(), g.phases[1].ops.clone()),
        (0..2, 2..3)
    );
    assert_eq!(g.weight_bytes(), 64);
}
