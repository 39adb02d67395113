//! Fuzz target: `wfstore::fuzzing::index_check`, an index validated against a segment.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wfstore::fuzzing::index_check(data));
