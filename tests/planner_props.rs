//! Property tests of the planner on random instances: the verifier passes, LOAD <= arena <= naive,
//! plans are deterministic, the exact search matches a brute force, and instances with a known
//! optimum (chains, rectangles cut into pieces) reach LOAD.

use proptest::prelude::*;
use std::time::Duration;
use wgsd::planner::{
    fit_into, load, naive, pack_into, plan, verify, Limits, Options, PlanError, Usage,
};

/// A generous time limit, so that the node budget (deterministic) is what ends a search.
fn options() -> Options {
    Options {
        time_limit: Duration::from_secs(20),
    }
}

fn limits(alignment: u64) -> Limits {
    Limits {
        alignment,
        max_buffer_size: 1 << 40,
        max_binding_size: 1 << 40,
    }
}

/// Random usages: `n` of them, sizes 1..=max_size, starting at ops 0..=10, 1..=6 ops long.
fn usages(n: std::ops::RangeInclusive<usize>, max_size: u64) -> impl Strategy<Value = Vec<Usage>> {
    prop::collection::vec((1..=max_size, 0u32..=10, 0u32..=5), n).prop_map(|records| {
        records
            .into_iter()
            .map(|(size, first, length)| Usage {
                size,
                first,
                last: first + length,
            })
            .collect()
    })
}

/// The smallest arena over all packings, by brute force.
///
/// - Push every block of a packing down as far as it goes: each then rests on 0 or on the top of
///   another block, so its offset is a sum of other blocks' sizes. Trying every subset sum for every
///   block therefore covers an optimal packing.
/// - Blocks are given offsets in index order; a partial assignment is dropped when two blocks live
///   together overlap, or when it already reaches the best arena found.
fn brute_force(usages: &[Usage]) -> u64 {
    let mut sums = vec![0u64];
    for u in usages {
        let more: Vec<u64> = sums.iter().map(|s| s + u.size).collect();
        sums.extend(more);
    }
    sums.sort_unstable();
    sums.dedup();
    fn assign(usages: &[Usage], sums: &[u64], offsets: &mut Vec<u64>, best: &mut u64) {
        let i = offsets.len();
        if i == usages.len() {
            let arena = usages
                .iter()
                .zip(offsets.iter())
                .map(|(u, o)| o + u.size)
                .max()
                .unwrap_or(0);
            *best = (*best).min(arena);
            return;
        }
        for &offset in sums {
            if offset + usages[i].size >= *best {
                break;
            }
            let clash = (0..i).any(|j| {
                let meet = usages[i].first <= usages[j].last && usages[j].first <= usages[i].last;
                let overlap =
                    offset < offsets[j] + usages[j].size && offsets[j] < offset + usages[i].size;
                meet && overlap
            });
            if !clash {
                offsets.push(offset);
                assign(usages, sums, offsets, best);
                offsets.pop();
            }
        }
    }
    let mut best = usages.iter().map(|u| u.size).sum::<u64>() + 1;
    assign(usages, &sums, &mut Vec::new(), &mut best);
    best
}

/// Cuts the rectangle `capacity` bytes × `ops` ops into pieces with `cuts` random cuts, each one
/// splitting a random piece across time or across memory; every piece becomes a usage. The pieces
/// tile the rectangle, so LOAD is `capacity` and a packing at LOAD exists.
fn cut_rectangle(capacity: u64, ops: u32, choices: &[(usize, bool, u64)]) -> Vec<Usage> {
    // (offset, size, first, last) of each piece.
    let mut pieces = vec![(0u64, capacity, 0u32, ops - 1)];
    for &(pick, across_time, at) in choices {
        let k = pick % pieces.len();
        let (offset, size, first, last) = pieces[k];
        if across_time && last > first {
            let cut = first + (at % u64::from(last - first)) as u32;
            pieces[k] = (offset, size, first, cut);
            pieces.push((offset, size, cut + 1, last));
        } else if size > 1 {
            let cut = 1 + at % (size - 1);
            pieces[k] = (offset, cut, first, last);
            pieces.push((offset + cut, size - cut, first, last));
        }
    }
    pieces
        .into_iter()
        .map(|(_, size, first, last)| Usage { size, first, last })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn plans_are_valid_bounded_and_deterministic(
        usages in usages(1..=24, 64),
        alignment in prop::sample::select(vec![1u64, 4, 16]),
    ) {
        let limits = limits(alignment);
        let first = plan(&usages, &limits, &options()).unwrap();
        prop_assert_eq!(verify(&usages, &limits, &first), Ok(()));
        let naive = naive(&usages, &limits).unwrap();
        prop_assert_eq!(verify(&usages, &limits, &naive), Ok(()));
        prop_assert_eq!(first.load, load(&usages, alignment));
        prop_assert!(first.load <= first.arena());
        prop_assert!(first.arena() <= naive.arena());
        prop_assert_eq!(first.buffer_sizes.len(), 1);
        let second = plan(&usages, &limits, &options()).unwrap();
        prop_assert_eq!(first, second);
    }

    #[test]
    fn small_buffers_split_validly(
        usages in usages(1..=24, 64),
        max_buffer_size in 64u64..=200,
    ) {
        let limits = Limits { alignment: 4, max_buffer_size, max_binding_size: 64 };
        let plan = plan(&usages, &limits, &options()).unwrap();
        prop_assert_eq!(verify(&usages, &limits, &plan), Ok(()));
        prop_assert!(plan.buffer_sizes.iter().all(|&b| b <= max_buffer_size));
    }

    #[test]
    fn exact_search_matches_brute_force(usages in usages(1..=7, 8)) {
        let best = brute_force(&usages);
        let plan = plan(&usages, &limits(1), &options()).unwrap();
        prop_assert_eq!(plan.arena(), best);
        prop_assert!(plan.optimal);
        let packed = pack_into(&usages, best, &options()).unwrap();
        prop_assert_eq!(packed.arena(), best);
        let too_small = pack_into(&usages, best - 1, &options());
        prop_assert!(too_small.is_err());
        let fitted = fit_into(&usages, best, &options()).unwrap();
        prop_assert_eq!(verify(&usages, &limits(1), &fitted), Ok(()));
        prop_assert!(fitted.arena() <= best);
        let proven_too_small = matches!(
            fit_into(&usages, best - 1, &options()),
            Err(PlanError::OverCapacity { proven: true, .. })
        );
        prop_assert!(proven_too_small);
    }

    #[test]
    fn fit_into_fits_any_capacity_above_the_optimum(
        usages in usages(1..=7, 8),
        slack in 0u64..=8,
    ) {
        let best = brute_force(&usages);
        let plan = fit_into(&usages, best + slack, &options()).unwrap();
        prop_assert_eq!(verify(&usages, &limits(1), &plan), Ok(()));
        prop_assert!(plan.arena() <= best + slack);
        prop_assert_eq!(plan.optimal, plan.arena() == plan.load);
    }

    #[test]
    fn chains_reach_load(sizes in prop::collection::vec(1u64..=1000, 1..=60)) {
        let usages: Vec<Usage> = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| Usage { size, first: i as u32, last: i as u32 + 1 })
            .collect();
        let plan = plan(&usages, &limits(1), &options()).unwrap();
        prop_assert_eq!(verify(&usages, &limits(1), &plan), Ok(()));
        prop_assert_eq!(plan.arena(), plan.load);
        prop_assert!(plan.optimal);
    }

    #[test]
    fn cut_rectangles_reach_load(
        capacity in 8u64..=4096,
        ops in 2u32..=12,
        choices in prop::collection::vec((0usize..64, any::<bool>(), any::<u64>()), 1..=14),
    ) {
        let usages = cut_rectangle(capacity, ops, &choices);
        prop_assert_eq!(load(&usages, 1), capacity);
        let plan = plan(&usages, &limits(1), &options()).unwrap();
        prop_assert_eq!(verify(&usages, &limits(1), &plan), Ok(()));
        prop_assert_eq!(plan.arena(), capacity);
        prop_assert!(plan.optimal);
    }
}
