//! `wfstore export ...`: the store's events for audits and other tools, in other forms.
//!
//! - `sqlite`: the relational view (`schemas/audit.md`).
//! - `postgres`: the same view in a shared PostgreSQL, many stores in one database.
//! - `audit`: the audit document of one session, as YAML or JSON
//!   (`schemas/audit-document.md`).
//! - `jsonl`: every event as JSON Lines.
//! - `yaml`: the audit document's JSON re-emitted as YAML, energies still exact.

mod audit;
mod jsonl;
mod postgres;
pub mod sqlite;
mod yaml;

use std::path::Path;

use super::output::Exit;

/// The flags both relational exports take.
#[derive(Debug, clap::Args)]
pub struct ViewArgs {
    /// Add only the events after the last exported one, migrating an older schema first
    /// (without it, a full export replaces the export: SQLite's file, or the store's rows
    /// in PostgreSQL).
    #[arg(long)]
    pub incremental: bool,
    /// Keep prompt and output text in `events.body` (only there if the store keeps it).
    #[arg(long)]
    pub include_content: bool,
    /// Events per transaction.
    #[arg(long, value_name = "N", default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
}

impl ViewArgs {
    /// The library's options.
    pub fn options(&self) -> wfstore::export::ViewExport {
        wfstore::export::ViewExport {
            incremental: self.incremental,
            include_content: self.include_content,
            batch_events: self.batch,
        }
    }
}

/// The `export` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Materialize the relational view into a SQLite database (full, or `--incremental`).
    Sqlite(sqlite::Args),
    /// Materialize the relational view into a shared PostgreSQL, one store among many (full,
    /// `--incremental`, or `--drop-store ID`).
    Postgres(postgres::Args),
    /// The audit document of one session: metadata, events, energy checks, patterns,
    /// snapshots, summary. Exit 3 when an energy check fails.
    Audit(audit::Args),
    /// Every event as JSON Lines (the `tail` form), written whole or not at all.
    Jsonl(jsonl::Args),
}

/// Runs an export.
pub fn run(dir: &Path, json: bool, action: &Action) -> anyhow::Result<Exit> {
    match action {
        Action::Sqlite(args) => sqlite::run(dir, json, args),
        Action::Postgres(args) => postgres::run(dir, json, args),
        Action::Audit(args) => audit::run(dir, json, args),
        Action::Jsonl(args) => jsonl::run(dir, json, args),
    }
}
