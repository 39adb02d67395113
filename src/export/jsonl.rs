//! `export jsonl`: every event of the store as JSON Lines, in the form `tail` prints (with
//! `seq`), through the privacy filter, written whole or not at all.

use std::io::Write;
use std::path::Path;

use super::atomic::AtomicFile;
use super::privacy::{self, ContentPolicy};
use crate::error::{Error, Result};
use crate::event::to_json_line;
use crate::store::Store;

/// Events between two calls of the progress callback.
const PROGRESS_EVERY: u64 = 4_096;

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonlExport {
    /// Lines (events) written.
    pub events: u64,
    /// Seq of the last event written (0 for an empty store).
    pub last_seq: u64,
}

/// Writes the events stored when the export starts (seq `first_seq..=last_seq`) to `out`, one
/// JSON line each, content filtered by `policy`. `progress` is told how many events are done
/// now and then, and at the end.
///
/// The file appears only if every event was read and written: a corrupt record stops the
/// export with the store's corruption error and leaves no `out` (and no temp file).
pub fn export(
    store: &Store,
    out: &Path,
    policy: ContentPolicy,
    progress: &mut dyn FnMut(u64),
) -> Result<JsonlExport> {
    let mut file = AtomicFile::create(out)?;
    // One cut for the whole export: events appended by a live writer meanwhile are not in it.
    let last_seq = store.last_seq();
    let mut events = 0;
    for rec in store.iter(store.first_seq().max(1)..=last_seq) {
        let mut rec = rec?;
        privacy::filter(&mut rec.event, policy);
        let mut line = to_json_line(rec.seq, &rec.event);
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(|e| Error::io("write", out, e))?;
        events += 1;
        if events % PROGRESS_EVERY == 0 {
            progress(events);
        }
    }
    file.commit()?;
    progress(events);
    Ok(JsonlExport { events, last_seq })
}
