//! `wfstore stats`: counts and sizes, as a table or JSON.

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
    ];
    for (name, value) in rows {
        output::line(&format!("{name:<14}{value}"))?;
    }
    Ok(Exit::Ok)
}
