//! `export audit`: the audit document of one session — its metadata, its events (through the
//! privacy filter), its energy recomputed from the events and checked against the replayed
//! state, its patterns, the store's snapshots, and summary metrics.
//!
//! - `energy`: the sums, the conservation check, the comparison with the replay.
//! - `summary`: patterns and metrics taken from the replayed state.
//! - `snapshots`: each snapshot file, checked and compared with the session's events.
//!
//! The document is a plain `Serialize` value. Its JSON form (`serde_json::to_string`) is
//! exact: energies are written from their digits and events in the `tail` form, both through
//! `RawValue`; `schemas/audit-document.md` describes every field. Never pass it through
//! `serde_json::Value`, which would turn energies into `f64`.

mod energy;
mod snapshots;
mod summary;

use serde::ser::{Error as _, SerializeSeq as _};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

pub use self::energy::{ByModel, Conservation, EnergyReport, ExactEnergy, ReplayedEnergy};
pub use self::snapshots::{Coverage, SnapshotRecord};
pub use self::summary::{CouplingReport, PatternReport, PatternsReport, PerformanceSummary, Summary};
use super::privacy::{self, ContentPolicy};
use crate::error::{Error, Result};
use crate::event::to_json_line;
use crate::store::{Record, Store};

/// The `format` field of every audit document.
pub const AUDIT_FORMAT: &str = "wfstore-audit";

/// The `version` of the document layout this build writes.
pub const AUDIT_VERSION: u32 = 1;

/// The audit document of one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditDocument {
    /// Always [`AUDIT_FORMAT`].
    pub format: &'static str,
    /// [`AUDIT_VERSION`].
    pub version: u32,
    /// The document covers the store up to this seq (its last seq when the export began).
    pub store_last_seq: u64,
    /// Prompt and output text was asked for (`--include-content`).
    pub content_requested: bool,
    /// The store keeps such text (`init --keep-content`); without it there is none to include.
    pub content_kept: bool,
    /// The events below carry the text: requested and kept.
    pub content_included: bool,
    /// Who, when, what, and how it ended.
    pub session: SessionInfo,
    /// Energy recomputed from the events, checked, compared with the replay.
    pub energy: EnergyReport,
    /// Patterns, from the replayed state.
    pub patterns: PatternsReport,
    /// The store's snapshot files.
    pub snapshots: Vec<SnapshotRecord>,
    /// Summary metrics, from the replayed state.
    pub summary: Summary,
    /// The session's events in seq order, content filtered; serialized in the `tail` form.
    #[serde(serialize_with = "tail_form")]
    pub events: Vec<Record>,
}

impl AuditDocument {
    /// The energy checks pass: conservation holds and the events agree with the replay.
    pub fn checks_pass(&self) -> bool {
        self.energy.conservation.holds && self.energy.matches_replay
    }
}

/// The session's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    /// The session id.
    pub id: String,
    /// The user of its first event.
    pub user: String,
    /// Seq of its first event.
    pub first_seq: u64,
    /// Seq of its last event.
    pub last_seq: u64,
    /// `ts_ns` of its first event.
    pub first_ts_ns: i64,
    /// `ts_ns` of its last event.
    pub last_ts_ns: i64,
    /// Render frame of its first event.
    pub first_frame: u64,
    /// Highest render frame seen.
    pub last_frame: u64,
    /// Distinct render frames with events.
    pub frames: u64,
    /// Its events.
    pub events: u64,
    /// `app_version` from `session.start`; `null` when it never started.
    pub app_version: Option<String>,
    /// Models listed at `session.start`.
    pub models: Vec<String>,
    /// Models in use at the end (after `ai.model_change` events).
    pub active_models: Vec<String>,
    /// A `session.start` was seen.
    pub started: bool,
    /// A `session.end` was seen.
    pub ended: bool,
    /// Its reason, when ended.
    pub end_reason: Option<String>,
    /// The app version of `system.startup`, if reported.
    pub system_version: Option<String>,
    /// Whether `system.shutdown` said the shutdown was clean; `null` when none was seen.
    pub shutdown_clean: Option<bool>,
}

/// Builds the audit document of session `id` from the store as it is now.
///
/// The events are read through the session index and filtered by `policy`; the state is the
/// newest valid snapshot plus the tail, at the same last seq. A session with no event is
/// [`Error::UnknownSession`]; a damaged record is the store's corruption error.
pub fn build(store: &Store, id: &str, policy: ContentPolicy) -> Result<AuditDocument> {
    // One cut for the whole document: events, state and snapshots are judged at this seq.
    let last_seq = store.last_seq();
    let mut events = Vec::new();
    for rec in store.session(id) {
        let rec = rec?;
        if rec.seq <= last_seq {
            events.push(rec);
        }
    }
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Err(Error::UnknownSession { session: id.to_owned() });
    };
    let (state, _) = store.state_at(last_seq)?;
    // A session the state lacks is compared as empty: the checks then fail and say so.
    let replayed = state.sessions.get(id).cloned().unwrap_or_default();
    let c = &replayed.context;
    let session = SessionInfo {
        id: id.to_owned(),
        user: first.event.user.as_str().to_owned(),
        first_seq: first.seq,
        last_seq: last.seq,
        first_ts_ns: first.event.ts_ns,
        last_ts_ns: last.event.ts_ns,
        first_frame: first.event.frame,
        last_frame: replayed.frame.last_frame,
        frames: replayed.frame.frames,
        events: events.len() as u64,
        app_version: c.started.then(|| c.app_version.clone()),
        models: c.models.clone(),
        active_models: c.active_models.clone(),
        started: c.started,
        ended: c.ended.is_some(),
        end_reason: c.ended.clone(),
        system_version: c.system_version.clone(),
        shutdown_clean: c.shutdown_clean,
    };
    let snapshots = snapshots::records(store, id, &events, last_seq)?;
    let energy = energy::report(&events, &replayed);
    for rec in &mut events {
        privacy::filter(&mut rec.event, policy);
    }
    let content_requested = policy == ContentPolicy::Include;
    Ok(AuditDocument {
        format: AUDIT_FORMAT,
        version: AUDIT_VERSION,
        store_last_seq: last_seq,
        content_requested,
        content_kept: store.keeps_content(),
        content_included: content_requested && store.keeps_content(),
        session,
        energy,
        patterns: summary::patterns(&replayed),
        snapshots,
        summary: summary::summary(&replayed),
        events,
    })
}

/// Writes the events as `tail` writes them, one JSON object each.
fn tail_form<S: Serializer>(events: &[Record], serializer: S) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(events.len()))?;
    for rec in events {
        let raw = RawValue::from_string(to_json_line(rec.seq, &rec.event)).map_err(S::Error::custom)?;
        seq.serialize_element(&raw)?;
    }
    seq.end()
}
