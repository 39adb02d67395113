//! Exports of the log for audits: the relational view in SQLite (feature `sqlite`).

#[cfg(feature = "sqlite")]
pub mod sqlite;
