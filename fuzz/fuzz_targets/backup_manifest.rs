//! Fuzz target: `wfstore::fuzzing::backup_manifest` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wfstore::fuzzing::backup_manifest(data));
