//! The MiniMalloc instances in `tests/data/minimalloc/` (see the README there): they parse, their
//! LOAD is as documented, every strategy's plan passes the verifier, all eleven fit the capacity of
//! 1,048,576 bytes (MiniMalloc's own test), and C reaches its LOAD below the capacity.

use std::time::Duration;
use wgsd::planner::{
    fit_into, greedy_by_size, load, naive, pack_into, parse_minimalloc_csv, plan, verify, Limits,
    Options, Usage,
};

/// The capacity in every file name.
const CAPACITY: u64 = 1_048_576;

/// (instance, number of buffers, LOAD): buffer counts are the CSV line counts minus the header;
/// LOAD as listed in `tests/data/minimalloc/README.md`.
const INSTANCES: [(&str, usize, u64); 11] = [
    ("A", 154, 1_048_576),
    ("B", 170, 1_048_576),
    ("C", 203, 1_039_360),
    ("D", 213, 986_112),
    ("E", 215, 1_048_576),
    ("F", 296, 1_048_576),
    ("G", 308, 1_048_576),
    ("H", 316, 1_048_576),
    ("I", 374, 1_048_576),
    ("J", 409, 989_184),
    ("K", 454, 1_048_576),
];

fn read(name: &str) -> Vec<Usage> {
    let path = format!(
        "{}/tests/data/minimalloc/{name}.{CAPACITY}.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).expect("instance in the repository");
    parse_minimalloc_csv(&text).expect("well-formed CSV")
}

const LIMITS: Limits = Limits {
    alignment: 1,
    max_buffer_size: u64::MAX,
    max_binding_size: u64::MAX,
};

#[test]
fn instances_parse_with_documented_load() {
    for (name, count, expected_load) in INSTANCES {
        let usages = read(name);
        assert_eq!(usages.len(), count, "{name}");
        assert_eq!(load(&usages, 1), expected_load, "{name}");
    }
}

#[test]
fn every_strategy_passes_the_verifier() {
    let options = Options {
        time_limit: Duration::from_millis(50),
    };
    for (name, _, expected_load) in INSTANCES {
        let usages = read(name);
        for plan in [
            naive(&usages, &LIMITS).unwrap(),
            greedy_by_size(&usages, &LIMITS).unwrap(),
            plan(&usages, &LIMITS, &options).unwrap(),
        ] {
            assert_eq!(verify(&usages, &LIMITS, &plan), Ok(()), "{name}");
            assert!(plan.arena() >= expected_load, "{name}");
        }
    }
}

/// Time [`fit_into`] may take per instance. Each fits in under two seconds on a 2-core machine
/// (`cargo bench --bench planner` shows the times); the margin is for slow CI runners.
const FIT_TIME_LIMIT: Duration = Duration::from_secs(20);

#[test]
fn every_instance_fits_the_capacity() {
    let options = Options {
        time_limit: FIT_TIME_LIMIT,
    };
    let mut missed = Vec::new();
    for (name, _, expected_load) in INSTANCES {
        let usages = read(name);
        match fit_into(&usages, CAPACITY, &options) {
            Ok(plan) => {
                assert_eq!(verify(&usages, &LIMITS, &plan), Ok(()), "{name}");
                assert!(plan.arena() <= CAPACITY, "{name}: {}", plan.arena());
                if expected_load == CAPACITY {
                    // Fitting means a perfect packing: the arena is LOAD, and so optimal.
                    assert!(plan.optimal, "{name}");
                }
            }
            Err(e) => missed.push(format!("{name}: {e}")),
        }
    }
    assert!(missed.is_empty(), "instances that do not fit: {missed:?}");
}

#[test]
fn exact_search_reaches_load_on_b_and_c() {
    let options = Options {
        time_limit: Duration::from_secs(60),
    };
    for name in ["B", "C"] {
        let usages = read(name);
        let plan = pack_into(&usages, CAPACITY, &options).unwrap();
        assert_eq!(verify(&usages, &LIMITS, &plan), Ok(()), "{name}");
        assert_eq!(plan.arena(), load(&usages, 1), "{name}");
        assert!(plan.optimal, "{name}");
    }
}
