//! I/O errors at the Nth operation, once and forever, for every class of operation the
//! writer workload uses (open, create, fallocate, mmap, msync, fdatasync, directory fsync,
//! write, rename, remove), EIO and ENOSPC: the error stops the workload, and the store,
//! reopened without faults, holds every acknowledged event and verifies clean.

use wfstore::faultsim::campaign;

use crate::faultsim_util::run_campaign;

#[test]
fn io_errors_at_the_nth_operation_lose_no_acknowledged_event() {
    let r = run_campaign("IO", 1, 1_500, campaign::io_errors);
    println!("io errors: {r}");
}
