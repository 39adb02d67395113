//! The `wfstore` operator command line.
fn main() {}
