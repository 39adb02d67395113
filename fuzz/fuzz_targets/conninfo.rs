//! Fuzz target: `wfstore::fuzzing::conninfo` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wfstore::fuzzing::conninfo(data));
