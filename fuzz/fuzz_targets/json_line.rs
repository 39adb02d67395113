//! Fuzz target: `wfstore::fuzzing::json_line` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wfstore::fuzzing::json_line(data));
