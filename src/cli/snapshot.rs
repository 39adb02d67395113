//! `wfstore snapshot create|list`: take a snapshot of the energy state now, or list the
//! snapshot files and whether each one loads and checks.

use std::path::Path;

use anyhow::Context as _;
use wfstore::{OpenOptions, Store};

use super::output::{self, Exit};

/// Snapshots kept by `snapshot create`, as the background snapshotter keeps by default.
const KEEP: usize = 3;

/// The `snapshot` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Take a snapshot of the current state now (opens the store for writing).
    Create,
    /// List the snapshot files, oldest first, and check each one.
    List,
}

/// One row of `snapshot list --json`.
#[derive(Debug, serde::Serialize)]
struct Listed {
    seq: u64,
    path: String,
    bytes: u64,
    valid: bool,
    error: Option<String>,
}

/// Runs `snapshot create` or `snapshot list`.
pub fn run(dir: &Path, json: bool, action: &Action) -> anyhow::Result<Exit> {
    match action {
        Action::Create => create(dir, json),
        Action::List => list(dir, json),
    }
}

fn create(dir: &Path, json: bool) -> anyhow::Result<Exit> {
    // No background snapshotter: this command takes the one snapshot it was asked for.
    let opts = OpenOptions { snapshots: None, ..OpenOptions::default() };
    let store =
        Store::open(dir, &opts).with_context(|| format!("opening store {} for writing", dir.display()))?;
    let info = store.snapshot_now(KEEP).context("taking a snapshot")?;
    store.close().context("closing the store")?;
    let row = Listed {
        seq: info.seq,
        path: info.path.display().to_string(),
        bytes: info.bytes,
        valid: true,
        error: None,
    };
    if json {
        output::json(&row)?;
    } else {
        output::line(&format!("snapshot at seq {}: {} ({} bytes)", row.seq, row.path, row.bytes))?;
    }
    Ok(Exit::Ok)
}

fn list(dir: &Path, json: bool) -> anyhow::Result<Exit> {
    let store = output::open_read_only(dir)?;
    let rows: Vec<Listed> = store
        .snapshots()
        .context("listing snapshots")?
        .into_iter()
        .map(|info| {
            let error = store.load_snapshot(&info).err();
            Listed {
                seq: info.seq,
                path: info.path.display().to_string(),
                bytes: info.bytes,
                valid: error.is_none(),
                error,
            }
        })
        .collect();
    if json {
        output::json(&rows)?;
        return Ok(Exit::Ok);
    }
    if rows.is_empty() {
        output::line("no snapshots")?;
    }
    for r in &rows {
        let status = r.error.as_deref().map_or_else(|| "valid".to_owned(), |e| format!("INVALID: {e}"));
        output::line(&format!("seq {:>12}  {:>10} bytes  {}  {status}", r.seq, r.bytes, r.path))?;
    }
    Ok(Exit::Ok)
}
