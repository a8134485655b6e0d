//! The MiniMalloc instances in `tests/data/minimalloc/` (see the README there): they parse, their
//! LOAD is as documented, every strategy's plan passes the verifier, and the instances the exact
//! search solves in well under a second (B, C; A, F, H with the lowest-open-spot search) reach LOAD.

use std::time::Duration;
use wgsd::planner::{
    greedy_by_size, load, naive, pack_into, parse_minimalloc_csv, plan, verify, Limits, Options,
    Usage,
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

#[test]
fn lowest_spot_search_packs_a_f_h_at_load() {
    let options = Options {
        time_limit: Duration::from_secs(120),
    };
    for name in ["A", "F", "H"] {
        let usages = read(name);
        let plan = pack_into(&usages, CAPACITY, &options).unwrap();
        assert_eq!(verify(&usages, &LIMITS, &plan), Ok(()), "{name}");
        assert_eq!(plan.arena(), CAPACITY, "{name}");
        assert!(plan.optimal, "{name}");
    }
}
