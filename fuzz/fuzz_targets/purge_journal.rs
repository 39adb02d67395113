//! Fuzz target: `wfstore::fuzzing::purge_journal` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wfstore::fuzzing::purge_journal(data));
