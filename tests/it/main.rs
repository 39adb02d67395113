//! The integration test binary; one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli;
mod events;
mod log;
mod util;
