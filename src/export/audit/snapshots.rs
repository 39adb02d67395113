//! The audit's snapshot records: every snapshot file of the store, whether it loads and
//! checks, how much of the session it covers, and whether its copy of the session's state
//! equals a replay of the session's events up to its seq.

use serde::Serialize;

use crate::error::Result;
use crate::snapshot::SNAPSHOT_DIR;
use crate::state::EnergyState;
use crate::store::{Record, Store};

/// One snapshot file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotRecord {
    /// The last seq its state covers.
    pub seq: u64,
    /// The file, relative to the store directory.
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// It loads and checks (format, store id, seq, state hash).
    pub valid: bool,
    /// Why not, when it does not.
    pub error: Option<String>,
    /// How much of the session it covers.
    pub covers: Coverage,
    /// Its copy of the session's state equals a replay of the session's events up to its
    /// seq; `null` when not compared (invalid, before the session, or ahead of the document).
    pub session_matches_events: Option<bool>,
}

/// How much of the session a snapshot covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Coverage {
    /// It was taken before the session's first event.
    None,
    /// It was taken during the session.
    Part,
    /// It was taken after the session's last event, up to the document's last seq.
    All,
    /// It covers seqs past the document's last seq (a live writer took it after the export
    /// began reading), so it is not compared.
    Ahead,
}

/// The store's snapshots, oldest first, against the session `id` whose events are `events`
/// (in seq order, non-empty) and a document cut at `last_seq`.
pub(super) fn records(
    store: &Store,
    id: &str,
    events: &[Record],
    last_seq: u64,
) -> Result<Vec<SnapshotRecord>> {
    let (first, last) = match (events.first(), events.last()) {
        (Some(f), Some(l)) => (f.seq, l.seq),
        _ => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    for info in store.snapshots()? {
        let covers = if info.seq > last_seq {
            Coverage::Ahead
        } else if info.seq < first {
            Coverage::None
        } else if info.seq < last {
            Coverage::Part
        } else {
            Coverage::All
        };
        let loaded = store.load_snapshot(&info);
        let session_matches_events = match (&loaded, covers) {
            (Ok(state), Coverage::Part | Coverage::All) => {
                let upto = events.iter().take_while(|r| r.seq <= info.seq);
                let replayed = EnergyState::replay(upto.map(|r| (r.seq, &r.event)));
                Some(state.sessions.get(id) == replayed.sessions.get(id))
            }
            _ => None,
        };
        let name = info.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        out.push(SnapshotRecord {
            seq: info.seq,
            file: format!("{SNAPSHOT_DIR}/{name}"),
            bytes: info.bytes,
            valid: loaded.is_ok(),
            error: loaded.err(),
            covers,
            session_matches_events,
        });
    }
    Ok(out)
}
