//! Power loss, simulated: workloads under each durability policy run under the recorder,
//! and the disk states a power loss could leave at captured moments (unsynced pages kept,
//! lost, torn at 512 B or zero-filled; directory entries since the last fsync there or not)
//! are each checked by the oracle (src/faultsim/oracle.rs). Seeded: a failure prints its
//! seed, the exact state, and where the store was saved.

use wfstore::faultsim::campaign;

use crate::faultsim_util::run_campaign;

#[test]
fn power_loss_states_never_lose_durable_events() {
    let r = run_campaign("PL", 1, 10_000, campaign::power_loss);
    println!("power loss: {r}");
}

#[test]
fn power_loss_during_repair_and_migrate_leaves_the_old_or_the_new_store() {
    let v1 = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1/store");
    let r = run_campaign("PM", 11, 1_000, |plan| campaign::power_loss_maintenance(plan, Some(&v1)));
    println!("power loss in repair and migrate: {r}");
}
