//! Fault simulation for tests and soaks (feature `faultsim`): the harness that proves the
//! recovery rules of formats/recovery.md hold under power loss, media faults and I/O errors.
//!
//! - `inject`: I/O errors at the Nth operation, once or forever.
//!
//! Everything here works through the store's one file-system seam (`disk::DiskHook`); the
//! production path is unchanged.

pub mod inject;
