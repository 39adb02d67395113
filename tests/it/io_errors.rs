//! I/O errors at the Nth operation, once and forever, for every class of operation the
//! writer workload uses (open, create, fallocate, mmap, msync, fdatasync, directory fsync,
//! write, rename, remove), EIO and ENOSPC: the error stops the workload, and the store,
//! reopened without faults, holds every acknowledged event and verifies clean.

use wfstore::faultsim::campaign::{self, Plan};

use crate::faultsim_util::scratch;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

#[test]
fn io_errors_at_the_nth_operation_lose_no_acknowledged_event() {
    let dir = scratch();
    let plan = Plan {
        seed: env("IO_SEED", 1),
        cases: env("IO_CASES", 1_500),
        time: std::time::Duration::from_secs(600),
        scratch: dir.path().to_owned(),
    };
    let r = campaign::io_errors(&plan).unwrap_or_else(|f| {
        let _ = dir.keep();
        panic!("{f}")
    });
    println!("io errors: {r}");
    assert!(r.cases >= plan.cases);
}
