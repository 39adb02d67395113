//! `wfstore stats`: counts and sizes, snapshots and durability, as a table or JSON.

use std::path::Path;

use super::output::{self, Exit};

/// Prints the store's `Stats`; the JSON form is the library's serialization (it has
/// `events` and `last_seq`).
pub fn run(dir: &Path, json: bool) -> anyhow::Result<Exit> {
    let store = output::open_read_only(dir)?;
    let stats = store.stats()?;
    if json {
        output::json(&stats)?;
        return Ok(Exit::Ok);
    }
    let rows = [
        ("store", dir.display().to_string()),
        ("segments", stats.segments.to_string()),
        ("events", stats.events.to_string()),
        ("first seq", stats.first_seq.to_string()),
        ("last seq", stats.last_seq.to_string()),
        ("sessions", stats.sessions.to_string()),
        ("data bytes", stats.data_bytes.to_string()),
        ("disk bytes", stats.disk_bytes.to_string()),
        ("segment size", stats.segment_bytes.to_string()),
        ("keep content", if stats.keep_content { "yes" } else { "no" }.to_owned()),
        ("snapshots", stats.snapshots.to_string()),
        ("newest snap", snapshot_seq(stats.newest_snapshot_seq)),
        ("snapshot lag", format!("{} events (replayed by a recovery)", stats.snapshot_lag)),
        ("durable seq", stats.durable_seq.to_string()),
        ("durable lag", format!("{} events", stats.durable_lag)),
        (
            "poisoned",
            if stats.poisoned { "yes: appends fail; reopen after fixing the disk" } else { "no" }.to_owned(),
        ),
    ];
    for (name, value) in rows {
        output::line(&format!("{name:<14}{value}"))?;
    }
    Ok(Exit::Ok)
}

/// A snapshot's seq, or that there is none.
fn snapshot_seq(seq: u64) -> String {
    if seq == 0 { "none".to_owned() } else { seq.to_string() }
}
