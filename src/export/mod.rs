//! Exports: what leaves the store for auditors and other tools. Every export reads the store
//! as it is when the export starts.
//!
//! - [`privacy`]: the filter that keeps prompt and output text out unless asked for.
//! - [`audit`]: the audit document of one session (`export audit`).
//! - [`jsonl`]: every event as JSON Lines (`export jsonl`).
//! - [`atomic`]: an output file written whole or not at all.
//! - `sqlite`: the relational view in SQLite (feature `sqlite`).
//! - `postgres`: the relational view in a shared PostgreSQL, many stores in one database
//!   (feature `postgres`).
//! - `chunks`, `rows`, `purged`: what both read from the store and make of it.

pub mod atomic;
pub mod audit;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod chunks;
pub mod jsonl;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod privacy;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod purged;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod rows;
#[cfg(feature = "sqlite")]
pub mod sqlite;
