//! Media faults on closed stores: a flipped bit, a zeroed or copied 4 KiB block, a
//! truncation, a stale copy or the loss of a file, in every file kind and offset class. The
//! oracle (src/faultsim/oracle.rs) holds the store to: intact prefix or located damage,
//! never a silently shorter log; a refused store salvaged by `repair` verifies clean.

use wfstore::faultsim::campaign;

use crate::faultsim_util::run_campaign;

#[test]
fn media_faults_are_repaired_or_reported_never_absorbed() {
    let r = run_campaign("MF", 1, 5_000, campaign::media);
    println!("media faults: {r}");
}
