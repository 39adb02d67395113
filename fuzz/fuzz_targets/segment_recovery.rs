//! Fuzz target: `wfstore::fuzzing::segment_recovery` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wfstore::fuzzing::segment_recovery(data));
