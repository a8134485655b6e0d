//! Table tests of the planner: `{size, first, last}` records with the exact expected offsets, each
//! derived by hand in the comment above it, plus the limits and the verifier's own failures.

use wgsd::planner::{
    load, naive, pack_into, parse_minimalloc_csv, plan, verify, Limits, Options, Placement, Plan,
    PlanError, Usage, VerifyError,
};

/// Limits that never bind: alignment 1, one huge buffer.
const LOOSE: Limits = Limits {
    alignment: 1,
    max_buffer_size: 1 << 40,
    max_binding_size: 1 << 40,
};

fn u(size: u64, first: u32, last: u32) -> Usage {
    Usage { size, first, last }
}

/// Plans, checks the independent verifier, and returns the offsets (all in buffer 0).
fn offsets(usages: &[Usage], limits: &Limits) -> (Vec<u64>, Plan) {
    let plan = plan(usages, limits, &Options::default()).expect("plannable");
    assert_eq!(verify(usages, limits, &plan), Ok(()));
    assert!(plan.load <= plan.arena());
    let offsets = plan
        .placements
        .iter()
        .map(|p| {
            assert_eq!(p.buffer, 0);
            p.offset
        })
        .collect();
    (offsets, plan)
}

#[test]
fn chain_9_3_5_7_reaches_load() {
    // Tensor i written by op i, read by op i + 1. LOAD = max(9+3, 3+5, 5+7) = 12; greedy by size
    // gives 15 (9@0, 7@0, 5@7, 3@12). Two-sided packing: the chain alternates bottom/top, so
    // 9@0, 3@12-3=9, 5@0, 7@12-7=5.
    let usages = [u(9, 0, 1), u(3, 1, 2), u(5, 2, 3), u(7, 3, 4)];
    let (offsets, plan) = offsets(&usages, &LOOSE);
    assert_eq!(offsets, [0, 9, 0, 5]);
    assert_eq!(plan.load, 12);
    assert_eq!(plan.arena(), 12);
    assert!(plan.optimal);
    assert_eq!(plan.method, "two-sided");
    assert_eq!(plan.buffer_sizes, [12]);
}

#[test]
fn chain_9_3_5_7_misses_with_greedy_by_size() {
    // The same chain under greedy by size alone: 9@0, 7@0, 5@7 (above 7), 3@12 (above 9 and 5).
    let usages = [u(9, 0, 1), u(3, 1, 2), u(5, 2, 3), u(7, 3, 4)];
    let plan = wgsd::planner::greedy_by_size(&usages, &LOOSE).unwrap();
    let offsets: Vec<u64> = plan.placements.iter().map(|p| p.offset).collect();
    assert_eq!(offsets, [0, 12, 7, 0]);
    assert_eq!(plan.arena(), 15);
}

#[test]
fn disjoint_lifetimes_share_offset_zero() {
    // No two usages are live together: each goes at 0 and the arena is the largest, 8.
    let usages = [u(8, 0, 1), u(4, 2, 3), u(8, 4, 5)];
    let (offsets, plan) = offsets(&usages, &LOOSE);
    assert_eq!(offsets, [0, 0, 0]);
    assert_eq!(plan.arena(), 8);
    assert!(plan.optimal);
}

#[test]
fn all_live_together_stack_by_size() {
    // All three live over ops 0..=5 (three at once, so greedy). Greedy by size, best fit:
    // 8@0, 4@8, 2@12. LOAD = 14 = arena.
    let usages = [u(4, 0, 5), u(8, 0, 5), u(2, 0, 5)];
    let (offsets, plan) = offsets(&usages, &LOOSE);
    assert_eq!(offsets, [8, 0, 12]);
    assert_eq!(plan.arena(), 14);
    assert!(plan.optimal);
    assert_eq!(plan.method, "greedy-size-best-fit");
}

#[test]
fn greedy_by_size_reuses_space_across_time() {
    // LOAD: op 0: 10+6; op 1: 10+4; op 2: 10+4+6 = 20; op 3: 6. Greedy by size, best fit (size
    // ties go to the longer interval): A(10)@0; D(6, ops 2..=3) meets A -> 10; B(6, op 0) meets
    // A only -> 10; C(4, ops 1..=2) meets A [0,10) and D [10,16) -> 16. Arena 20 = LOAD.
    let usages = [u(10, 0, 2), u(6, 0, 0), u(4, 1, 2), u(6, 2, 3)];
    let (offsets, plan) = offsets(&usages, &LOOSE);
    assert_eq!(offsets, [0, 10, 16, 10]);
    assert_eq!(plan.load, 20);
    assert_eq!(plan.arena(), 20);
}

#[test]
fn exact_search_beats_greedy() {
    // The 9,3,5,7 chain plus a 1-byte tensor live throughout: three live at once, so no
    // two-sided packing. LOAD = 12 + 1 = 13; greedy by size gives 16 (the chain's 15 plus the 1
    // on top). Put the 1 at 0 and the chain above it: 9@1, 3@10, 5@1, 7@6 is arena 13.
    let usages = [u(9, 0, 1), u(3, 1, 2), u(5, 2, 3), u(7, 3, 4), u(1, 0, 4)];
    let greedy = wgsd::planner::greedy_by_size(&usages, &LOOSE).unwrap();
    assert_eq!(greedy.arena(), 16);
    let (_, plan) = offsets(&usages, &LOOSE);
    assert_eq!(plan.load, 13);
    assert_eq!(plan.arena(), 13);
    assert!(plan.optimal);
}

#[test]
fn offsets_are_aligned() {
    // Alignment 256: sizes round up to 256, 512, 256, all live together: LOAD 1024. Greedy by
    // size: the 512 first @0, then the two 256 in index order: 100@512, 50@768.
    let limits = Limits {
        alignment: 256,
        ..LOOSE
    };
    let usages = [u(100, 0, 1), u(300, 0, 1), u(50, 0, 1)];
    let (offsets, plan) = offsets(&usages, &limits);
    assert_eq!(offsets, [512, 0, 768]);
    assert_eq!(plan.load, 1024);
    assert_eq!(load(&usages, 256), 1024);
    assert_eq!(load(&usages, 1), 450);
}

#[test]
fn arena_splits_into_buffers_within_max_buffer_size() {
    // Three 8-byte tensors live together: one arena of 24 @0, 8, 16. With max_buffer_size 16 the
    // third does not fit the first buffer and opens a second one at its own offset.
    let limits = Limits {
        max_buffer_size: 16,
        ..LOOSE
    };
    let usages = [u(8, 0, 0), u(8, 0, 0), u(8, 0, 0)];
    let plan = plan(&usages, &limits, &Options::default()).unwrap();
    assert_eq!(verify(&usages, &limits, &plan), Ok(()));
    assert_eq!(
        plan.placements,
        [
            Placement {
                buffer: 0,
                offset: 0
            },
            Placement {
                buffer: 0,
                offset: 8
            },
            Placement {
                buffer: 1,
                offset: 0
            },
        ]
    );
    assert_eq!(plan.buffer_sizes, [16, 8]);
}

#[test]
fn one_buffer_when_everything_fits() {
    let limits = Limits {
        max_buffer_size: 24,
        ..LOOSE
    };
    let usages = [u(8, 0, 0), u(8, 0, 0), u(8, 0, 0)];
    let plan = plan(&usages, &limits, &Options::default()).unwrap();
    assert_eq!(plan.buffer_sizes, [24]);
}

#[test]
fn binding_limit_is_named() {
    let limits = Limits {
        max_binding_size: 64,
        ..LOOSE
    };
    let usages = [u(64, 0, 1), u(65, 1, 2)];
    let error = plan(&usages, &limits, &Options::default()).unwrap_err();
    assert!(matches!(
        error,
        PlanError::BindingTooLarge {
            index: 1,
            size: 65,
            max: 64
        }
    ));
    assert!(error
        .to_string()
        .contains("max_storage_buffer_binding_size"));
    assert!(naive(&usages, &limits).is_err());
}

#[test]
fn buffer_limit_is_named() {
    // 100 bytes round up to 128 at alignment 64, over a max_buffer_size of 120.
    let limits = Limits {
        alignment: 64,
        max_buffer_size: 120,
        max_binding_size: 1000,
    };
    let error = plan(&[u(100, 0, 0)], &limits, &Options::default()).unwrap_err();
    assert!(matches!(
        error,
        PlanError::BufferTooLarge {
            index: 0,
            size: 128,
            max: 120
        }
    ));
    assert!(error.to_string().contains("max_buffer_size"));
}

#[test]
fn malformed_usages_are_rejected() {
    let backwards = plan(&[u(4, 0, 0), u(4, 3, 2)], &LOOSE, &Options::default());
    assert!(matches!(
        backwards,
        Err(PlanError::Malformed { index: 1, .. })
    ));
    let empty = plan(&[u(0, 0, 0)], &LOOSE, &Options::default());
    assert!(matches!(empty, Err(PlanError::Malformed { index: 0, .. })));
}

#[test]
fn no_usages_make_an_empty_plan() {
    let plan = plan(&[], &LOOSE, &Options::default()).unwrap();
    assert!(plan.placements.is_empty());
    assert_eq!(plan.arena(), 0);
    assert_eq!(plan.load, 0);
}

#[test]
fn load_counts_inclusive_intervals() {
    // [0,1] and [2,3] never meet: LOAD is the larger, 7. [0,1] and [1,2] meet at op 1.
    assert_eq!(load(&[u(5, 0, 1), u(7, 2, 3)], 1), 7);
    assert_eq!(load(&[u(5, 0, 1), u(7, 1, 2)], 1), 12);
    // Alignment rounds each size before adding: 5 -> 8, 7 -> 8.
    assert_eq!(load(&[u(5, 0, 1), u(7, 1, 2)], 8), 16);
    assert_eq!(load(&[], 1), 0);
}

#[test]
fn naive_gives_every_usage_its_own_range() {
    // Aligned to 4: 5 -> 8, 3 -> 4, 9 -> 12; laid out in input order.
    let limits = Limits {
        alignment: 4,
        ..LOOSE
    };
    let usages = [u(5, 0, 0), u(3, 5, 5), u(9, 9, 9)];
    let plan = naive(&usages, &limits).unwrap();
    let offsets: Vec<u64> = plan.placements.iter().map(|p| p.offset).collect();
    assert_eq!(offsets, [0, 8, 12]);
    assert_eq!(plan.buffer_sizes, [24]);
    assert_eq!(verify(&usages, &limits, &plan), Ok(()));
}

#[test]
fn verifier_rejects_broken_plans() {
    let usages = [u(8, 0, 1), u(8, 1, 2)];
    let good = Plan {
        placements: vec![
            Placement {
                buffer: 0,
                offset: 0,
            },
            Placement {
                buffer: 0,
                offset: 8,
            },
        ],
        buffer_sizes: vec![16],
        load: 16,
        optimal: true,
        method: "hand",
    };
    assert_eq!(verify(&usages, &LOOSE, &good), Ok(()));

    let mut overlap = good.clone();
    overlap.placements[1].offset = 4;
    assert_eq!(
        verify(&usages, &LOOSE, &overlap),
        Err(VerifyError::Overlap {
            a: 0,
            b: 1,
            buffer: 0
        })
    );

    // The same offsets in two buffers do not overlap.
    let mut two_buffers = overlap.clone();
    two_buffers.placements[1].buffer = 1;
    two_buffers.buffer_sizes = vec![16, 12];
    assert_eq!(verify(&usages, &LOOSE, &two_buffers), Ok(()));

    let aligned = Limits {
        alignment: 8,
        ..LOOSE
    };
    assert!(matches!(
        verify(&usages, &aligned, &overlap),
        Err(VerifyError::Misaligned { index: 1, .. })
    ));

    let mut outside = good.clone();
    outside.buffer_sizes = vec![15];
    assert!(matches!(
        verify(&usages, &LOOSE, &outside),
        Err(VerifyError::OutsideBuffer { index: 1, .. })
    ));

    let small_buffers = Limits {
        max_buffer_size: 15,
        ..LOOSE
    };
    assert!(matches!(
        verify(&usages, &small_buffers, &good),
        Err(VerifyError::BufferTooLarge { buffer: 0, .. })
    ));

    let small_bindings = Limits {
        max_binding_size: 7,
        ..LOOSE
    };
    assert!(matches!(
        verify(&usages, &small_bindings, &good),
        Err(VerifyError::BindingTooLarge { index: 0, .. })
    ));

    let mut missing = good.clone();
    missing.placements.pop();
    assert!(matches!(
        verify(&usages, &LOOSE, &missing),
        Err(VerifyError::Count { .. })
    ));

    let mut no_buffer = good;
    no_buffer.placements[0].buffer = 3;
    assert!(matches!(
        verify(&usages, &LOOSE, &no_buffer),
        Err(VerifyError::NoSuchBuffer { index: 0, .. })
    ));
}

#[test]
fn minimalloc_csv_intervals_are_half_open() {
    // [10, 20) is live at ops 10..=19.
    let usages = parse_minimalloc_csv("id,lower,upper,size\n0,10,20,5\n1,20,21,3\n").unwrap();
    assert_eq!(usages, [u(5, 10, 19), u(3, 20, 20)]);
    // They touch but do not meet: LOAD is 5, not 8.
    assert_eq!(load(&usages, 1), 5);
    assert!(parse_minimalloc_csv("id,size\n").is_err());
    assert_eq!(
        parse_minimalloc_csv("id,lower,upper,size\n0,4,4,1\n")
            .unwrap_err()
            .line,
        2
    );
}

#[test]
fn pack_into_capacity() {
    let usages = [u(9, 0, 1), u(3, 1, 2), u(5, 2, 3), u(7, 3, 4)];
    let plan = pack_into(&usages, 12, &Options::default()).unwrap();
    assert_eq!(plan.arena(), 12);
    assert_eq!(plan.buffer_sizes, [12]);
    let error = pack_into(&usages, 11, &Options::default()).unwrap_err();
    assert!(matches!(
        error,
        PlanError::OverCapacity {
            needed: 12,
            capacity: 11,
            proven: true
        }
    ));
}
