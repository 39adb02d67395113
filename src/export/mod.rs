//! Exports: what leaves the store for auditors and other tools. Every export reads the store
//! as it is when the export starts.
//!
//! - [`privacy`]: the filter that keeps prompt and output text out unless asked for.
//! - [`audit`]: the audit document of one session (`export audit`).
//! - [`jsonl`]: every event as JSON Lines (`export jsonl`).
//! - [`atomic`]: an output file written whole or not at all.
//! - `sqlite`: the relational view in SQLite (feature `sqlite`).

pub mod atomic;
pub mod audit;
pub mod jsonl;
pub mod privacy;
#[cfg(feature = "sqlite")]
pub mod sqlite;
