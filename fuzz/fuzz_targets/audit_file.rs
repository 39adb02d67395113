//! Fuzz target: `wfstore::fuzzing::audit_file` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wfstore::fuzzing::audit_file(data));
