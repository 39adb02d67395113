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

/// How a relational export (`sqlite::SqliteExport`, `postgres::PostgresExport`) runs.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[derive(Debug, Clone)]
pub struct ViewExport {
    /// Continue from the last exported seq instead of replacing the export (SQLite: the
    /// file; PostgreSQL: the store's rows).
    pub incremental: bool,
    /// Keep prompt and output text in `events.body` (only present if the store keeps it).
    pub include_content: bool,
    /// Events per transaction.
    pub batch_events: u64,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Default for ViewExport {
    fn default() -> Self {
        ViewExport { incremental: false, include_content: false, batch_events: 50_000 }
    }
}
