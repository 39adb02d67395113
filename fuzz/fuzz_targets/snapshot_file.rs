//! Fuzz target: `wfstore::fuzzing::snapshot_file` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wfstore::fuzzing::snapshot_file(data));
