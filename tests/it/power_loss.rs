//! Power loss, simulated: workloads under each durability policy run under the recorder,
//! and the disk states a power loss could leave at captured moments (unsynced pages kept,
//! lost, torn at 512 B or zero-filled; directory entries since the last fsync there or not)
//! are each checked by the oracle (src/faultsim/oracle.rs). Seeded: a failure prints its
//! seed, the exact state, and where the store was saved.

use wfstore::faultsim::campaign::{self, Plan};

use crate::faultsim_util::scratch;

fn run(seed: u64, cases: u64) -> campaign::Report {
    let dir = scratch();
    let plan =
        Plan { seed, cases, time: std::time::Duration::from_secs(600), scratch: dir.path().to_owned() };
    match campaign::power_loss(&plan) {
        Ok(r) => r,
        Err(f) => {
            let _ = dir.keep();
            panic!("{f}")
        }
    }
}

#[test]
fn power_loss_states_never_lose_durable_events() {
    let r = run(
        std::env::var("PL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1),
        std::env::var("PL_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000),
    );
    println!("power loss: {r}");
    assert!(r.cases >= 10_000);
}

#[test]
fn power_loss_during_repair_and_migrate_leaves_the_old_or_the_new_store() {
    let dir = scratch();
    let v1 = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1/store");
    let plan = Plan {
        seed: std::env::var("PM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(11),
        cases: 1_000,
        time: std::time::Duration::from_secs(600),
        scratch: dir.path().to_owned(),
    };
    let r = campaign::power_loss_maintenance(&plan, Some(&v1)).unwrap_or_else(|f| {
        let _ = dir.keep();
        panic!("{f}")
    });
    println!("power loss in repair and migrate: {r}");
    assert!(r.cases >= 1_000);
}
