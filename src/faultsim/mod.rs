//! Fault simulation for tests and soaks (feature `faultsim`): the harness that proves the
//! recovery rules of formats/recovery.md hold under power loss, media faults and I/O errors.
//!
//! - `inject`: I/O errors at the Nth operation, once or forever.
//! - `recorder`: what each file holds as of its last sync, captured beside the page cache.
//! - `crash`: the disk states a power loss at a captured moment could leave.
//! - `media`: damage to files at rest (flips, zeroed or copied blocks, truncation, stale or
//!   lost files).
//! - `workload`: the seeded writer workload every campaign runs.
//! - `oracle`: what the store must and must never do after each fault.
//! - `campaign`: seeded campaigns of each class, their reports and failures.
//!
//! Everything here works through the store's one file-system seam (`disk::DiskHook`); the
//! production path is unchanged.

pub mod campaign;
pub mod crash;
pub mod inject;
pub mod media;
pub mod oracle;
pub mod recorder;
pub mod workload;
