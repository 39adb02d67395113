//! `wfstore export sqlite OUT.db [--incremental]`: the relational view for audits.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use wfstore::export::sqlite;

use crate::cli::output::{self, Exit};

/// Options of `export sqlite`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The database to write (replaced atomically unless `--incremental`).
    #[arg(value_name = "OUT.db")]
    pub out: PathBuf,
    /// Incremental or full, content, batch size.
    #[command(flatten)]
    pub view: super::ViewArgs,
}

/// Runs the export; exit 3 if the store is corrupt.
pub fn run(dir: &Path, json: bool, args: &Args) -> anyhow::Result<Exit> {
    let store = output::open_read_only(dir)?;
    let opts = args.view.options();
    let bar = output::progress(0, "exporting");
    let mut progress = output::track(&bar);
    let report = sqlite::export(&store, &args.out, &opts, &mut progress)
        .with_context(|| format!("exporting {} into {}", dir.display(), args.out.display()))?;
    bar.finish_and_clear();
    if json {
        output::json(&report)?;
        return Ok(Exit::Ok);
    }
    let what = if report.events == 0 {
        format!("nothing new: {} is up to date at seq {}", report.path.display(), report.last_seq)
    } else {
        format!(
            "exported {} events (seq {}..={}) into {}",
            report.events,
            report.first_seq,
            report.last_seq,
            report.path.display()
        )
    };
    output::line(&what)?;
    if !report.migrated.is_empty() {
        output::line(&format!(
            "migrated the schema to version {} (applied {:?})",
            report.schema_version, report.migrated
        ))?;
    }
    if let Some(backup) = &report.backup {
        output::line(&format!("the database before the migration is kept in {}", backup.display()))?;
    }
    if report.audit_records > 0 {
        output::line(&format!(
            "imported {} records of the store's AUDIT into audit_log",
            report.audit_records
        ))?;
    }
    if report.purged_rows > 0 {
        output::line(&format!("deleted {} rows of events purged from the store", report.purged_rows))?;
        if let Some(backup) = &report.backup {
            output::line(&format!(
                "warning: {} was taken before that deletion and still holds those rows: delete it once the export is checked",
                backup.display()
            ))?;
        }
    }
    Ok(Exit::Ok)
}
