//! `wfstore migrate [--dry-run]`: upgrade an older store format in place.

use std::path::Path;

use anyhow::Context as _;

use super::output::{self, Exit};

/// Options of `migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Build and check the new store in a temporary directory; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Migrates the store and prints what was copied and checked.
pub fn run(dir: &Path, json: bool, args: &Args) -> anyhow::Result<Exit> {
    let report = wfstore::migrate::migrate(dir, args.dry_run)
        .with_context(|| format!("migrating store {}", dir.display()))?;
    if json {
        output::json(&report)?;
    } else if report.already_current {
        output::line(&format!("store is already format version {}", report.to_version))?;
    } else {
        let verb = match (report.dry_run, report.resumed) {
            (true, _) => "would migrate",
            (false, true) => "finished migrating",
            (false, false) => "migrated",
        };
        output::line(&format!(
            "{verb} format version {} to {}: {} events, last seq {}, state hash {}",
            report.from_version, report.to_version, report.events, report.last_seq, report.state_hash
        ))?;
    }
    Ok(Exit::Ok)
}
