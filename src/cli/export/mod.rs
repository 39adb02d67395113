//! `wfstore export ...`: the store's events for audits, in other forms.
//!
//! - `sqlite`: the relational view (`schemas/audit.md`).

pub mod sqlite;

use std::path::Path;

use super::output::Exit;

/// The `export` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Materialize the relational view into a SQLite database (full, or `--incremental`).
    Sqlite(sqlite::Args),
}

/// Runs an export.
pub fn run(dir: &Path, json: bool, action: &Action) -> anyhow::Result<Exit> {
    match action {
        Action::Sqlite(args) => sqlite::run(dir, json, args),
    }
}
