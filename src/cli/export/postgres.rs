//! `wfstore export postgres [--url URL] [--incremental] [--follow]`: the relational view in
//! a shared PostgreSQL, one store among many; `--drop-store ID` deletes a store's rows.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use wfstore::export::postgres::{self, Database, FollowNote, FollowOptions, PgExportReport, PostgresExport};

use crate::cli::output::{self, Exit};

/// Options of `export postgres`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The database: a `postgresql://` URL or libpq `key=value` pairs. What it leaves out
    /// comes from `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGPASSWORD`, the password file
    /// (`PGPASSFILE`, `~/.pgpass`) and libpq's defaults (the socket in /var/run/postgresql).
    #[arg(long, env = "WFSTORE_PG_URL", value_name = "URL", default_value = "", hide_env_values = true)]
    pub url: String,
    /// Incremental or full, content, batch size.
    #[command(flatten)]
    pub view: super::ViewArgs,
    /// Keep the database current until interrupted: export what is new since the bookmark
    /// (as `--incremental`), wait `--commit-ms`, again. A lost connection is retried, and
    /// said so on stderr; a killed follower resumes from the bookmark.
    #[arg(long)]
    pub follow: bool,
    /// With `--follow`: the wait between rounds, so at most about this long between an
    /// event's append and its commit.
    #[arg(long, value_name = "MS", default_value_t = 200, requires = "follow", value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub commit_ms: u64,
    /// Delete every row of the store with this id (16 hex digits, as `stats` shows it)
    /// instead of exporting; the store itself is not opened.
    #[arg(long, value_name = "STORE_ID", conflicts_with_all = ["incremental", "include_content", "follow"])]
    pub drop_store: Option<String>,
}

/// Runs the export (or the drop); exit 3 if the store is corrupt.
pub fn run(dir: &Path, json: bool, args: &Args) -> anyhow::Result<Exit> {
    if args.follow {
        return follow(dir, json, args);
    }
    let mut db = Database::connect(&args.url).context("connecting to PostgreSQL")?;
    if let Some(id) = &args.drop_store {
        let had = postgres::drop_store(&mut db, id).with_context(|| format!("dropping store {id}"))?;
        let what = if had { "dropped every row of store" } else { "no rows of store" };
        if json {
            output::json(&serde_json::json!({ "server": db.server(), "store_id": id, "dropped": had }))?;
        } else {
            output::line(&format!("{what} {id} in {}", db.server()))?;
        }
        return Ok(Exit::Ok);
    }
    let store = output::open_read_only(dir)?;
    let opts = args.view.options();
    let bar = output::progress(0, "exporting");
    let mut progress = output::track(&bar);
    let report = postgres::export(&store, &mut db, &opts, &mut progress)
        .with_context(|| format!("exporting {} into {}", dir.display(), db.server()))?;
    bar.finish_and_clear();
    if json {
        output::json(&report)?;
        return Ok(Exit::Ok);
    }
    print_report(&report)?;
    Ok(Exit::Ok)
}

/// Follows the store until the process is stopped.
fn follow(dir: &Path, json: bool, args: &Args) -> anyhow::Result<Exit> {
    let opts = FollowOptions {
        export: PostgresExport { incremental: true, ..args.view.options() },
        commit_every: Duration::from_millis(args.commit_ms),
        ..FollowOptions::default()
    };
    // Set when stdout is gone: nobody is reading the follower any more.
    let stop = AtomicBool::new(false);
    let mut failed = None;
    let mut notes = |note: FollowNote<'_>| {
        let said = match note {
            FollowNote::Exported(report) if json => output::json(report),
            FollowNote::Exported(report) => print_report(report),
            FollowNote::Disconnected { error, retry_in } => {
                eprintln!(
                    "wfstore: PostgreSQL lost: {error}; trying again in {:.1} s",
                    retry_in.as_secs_f64()
                );
                Ok(())
            }
            FollowNote::Reconnected => {
                eprintln!("wfstore: PostgreSQL reached again; following from the bookmark");
                Ok(())
            }
        };
        if let Err(e) = said {
            failed.get_or_insert(e);
            stop.store(true, Ordering::Release);
        }
    };
    postgres::follow(dir, &args.url, &opts, &stop, &mut notes)
        .with_context(|| format!("following {} into PostgreSQL", dir.display()))?;
    failed.map_or(Ok(Exit::Ok), Err)
}

/// What an export did, for people.
fn print_report(report: &PgExportReport) -> anyhow::Result<()> {
    let what = if report.events == 0 {
        format!(
            "nothing new: store {} is up to date at seq {} in {}",
            report.store_id, report.last_seq, report.server
        )
    } else {
        format!(
            "exported {} events (seq {}..={}) of store {} into {}",
            report.events, report.first_seq, report.last_seq, report.store_id, report.server
        )
    };
    output::line(&what)?;
    if !report.migrated.is_empty() {
        output::line(&format!(
            "migrated the schema to version {} (applied {:?})",
            report.schema_version, report.migrated
        ))?;
    }
    if report.audit_records > 0 {
        output::line(&format!(
            "imported {} records of the store's AUDIT into audit_log",
            report.audit_records
        ))?;
    }
    if report.purged_rows > 0 {
        output::line(&format!("deleted {} rows of events purged from the store", report.purged_rows))?;
    }
    Ok(())
}
