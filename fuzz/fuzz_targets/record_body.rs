//! Fuzz target: `wfstore::fuzzing::record_body` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wfstore::fuzzing::record_body(data));
