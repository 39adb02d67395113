//! Fuzz target: `wfstore::fuzzing::store_model`, the store against a model through random
//! operations, process crashes and power losses.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wfstore::fuzzing::store_model(data));
