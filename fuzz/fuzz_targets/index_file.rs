//! Fuzz target: `wfstore::fuzzing::index_file` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wfstore::fuzzing::index_file(data));
