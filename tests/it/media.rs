//! Media faults on closed stores: a flipped bit, a zeroed or copied 4 KiB block, a
//! truncation, a stale copy or the loss of a file, in every file kind and offset class. The
//! oracle (src/faultsim/oracle.rs) holds the store to: intact prefix or located damage,
//! never a silently shorter log; a refused store salvaged by `repair` verifies clean.

use wfstore::faultsim::campaign::{self, Plan};

use crate::faultsim_util::scratch;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

#[test]
fn media_faults_are_repaired_or_reported_never_absorbed() {
    let dir = scratch();
    let plan = Plan {
        seed: env("MF_SEED", 1),
        cases: env("MF_CASES", 5_000),
        time: std::time::Duration::from_secs(600),
        scratch: dir.path().to_owned(),
    };
    let r = campaign::media(&plan).unwrap_or_else(|f| {
        let _ = dir.keep();
        panic!("{f}")
    });
    println!("media faults: {r}");
    assert!(r.cases >= plan.cases);
}
