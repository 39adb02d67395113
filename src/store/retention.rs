//! Retention: whole sealed segments at the start of the log are removed once a snapshot
//! covers them; the snapshot becomes the state's base and `STORE`'s `log_start` moves in
//! one durable step (formats/store.md, formats/recovery.md "Retention").

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Shared, Store, read, state};
use crate::audit::{self, Action, AuditRecord};
use crate::error::{Error, Result};
use crate::segment::{INDEX_EXT, Segment, file_name};
use crate::snapshot;

/// Which early events may go. Whole segments are removed, oldest first, never the last
/// one, and never past the newest snapshot (one is taken when none covers enough).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetainRule {
    /// Events with a seq below this.
    BeforeSeq(u64),
    /// Events with a timestamp below this (ns since the Unix epoch).
    BeforeTime(i64),
    /// Segment files beyond this many bytes, oldest first.
    MaxBytes(u64),
    /// Events beyond this many, oldest first.
    MaxEvents(u64),
}

/// A retention policy a writer applies after every snapshot it takes (`OpenOptions`'s
/// `retention`). Every limit set applies; none set keeps everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Remove segments whose newest event is older than this.
    pub max_age: Option<Duration>,
    /// Keep the segment files within this many bytes.
    pub max_bytes: Option<u64>,
    /// Keep about this many events (whole segments: the newest segments holding more).
    pub max_events: Option<u64>,
}

impl Retention {
    fn rules(&self) -> Vec<RetainRule> {
        let mut out = Vec::new();
        if let Some(age) = self.max_age {
            let age = i64::try_from(age.as_nanos()).unwrap_or(i64::MAX);
            out.push(RetainRule::BeforeTime(crate::io_util::now_ns().saturating_sub(age)));
        }
        out.extend(self.max_bytes.map(RetainRule::MaxBytes));
        out.extend(self.max_events.map(RetainRule::MaxEvents));
        out
    }
}

/// What retention removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RetentionReport {
    /// The log's first seq before.
    pub old_start: u64,
    /// The log's first seq now (equal to `old_start` when nothing was removed).
    pub new_start: u64,
    /// Segment files removed (with their index files).
    pub removed_segments: Vec<PathBuf>,
    /// Snapshots removed: they described states before the new start.
    pub removed_snapshots: Vec<PathBuf>,
    /// Bytes of segment files removed.
    pub bytes: u64,
    /// The snapshot that is now the state's base.
    pub base_snapshot: Option<u64>,
}

impl Store {
    /// Removes whole early segments as `rule` allows, after a snapshot covers them; returns
    /// what went. Replay and time travel before the new start are then an error naming it.
    pub fn retain(&self, rule: RetainRule) -> Result<RetentionReport> {
        self.writer()?;
        let _lifecycle = self.lifecycle_guard();
        retain(&self.shared, &[rule])
    }
}

/// Applies `policy` (the snapshotter's call, holding the lifecycle lock).
pub(super) fn apply_policy(shared: &Arc<Shared>, policy: &Retention) -> Result<RetentionReport> {
    let rules = policy.rules();
    if rules.is_empty() {
        let start = shared.log_start();
        return Ok(RetentionReport { old_start: start, new_start: start, ..RetentionReport::default() });
    }
    retain(shared, &rules)
}

/// The lifecycle lock must be held.
fn retain(shared: &Arc<Shared>, rules: &[RetainRule]) -> Result<RetentionReport> {
    let old_start = shared.log_start();
    let mut report = RetentionReport { old_start, new_start: old_start, ..RetentionReport::default() };
    let segments = Arc::clone(&shared.segments.read());
    let wanted = removable(shared, &segments, rules)?;
    if wanted == 0 {
        return Ok(report);
    }
    let base = covering_snapshot(shared, segments[wanted].header.base_seq)?;
    // The base snapshot's frame must stay in the log: cut at the segment holding it.
    let k = wanted.min(segments.partition_point(|s| s.header.base_seq <= base).saturating_sub(1));
    report.base_snapshot = Some(base);
    if k == 0 {
        return Ok(report);
    }
    let new_start = segments[k].header.base_seq;
    // A seal in progress writes its index file before this, or sees the new start and skips.
    let _index_files = shared.index_files.lock();
    shared.durable.set_log_start(&shared.disk, new_start)?;
    shared.log_start.store(new_start, Ordering::Release);
    {
        let mut list = shared.segments.write();
        Arc::make_mut(&mut list).retain(|s| s.header.base_seq >= new_start);
    }
    report.new_start = new_start;
    remove_files(shared, &segments[..k], &mut report)?;
    let mut rec = AuditRecord::new(Action::Retention, shared.meta.store_id);
    (rec.seq_first, rec.seq_last, rec.events, rec.bytes) =
        (old_start, new_start - 1, new_start - old_start, report.bytes);
    audit::append(&shared.disk, &shared.dir, &rec)?;
    Ok(report)
}

/// How many leading segments the rules let go: sealed (synced, indexed) ones only, never
/// the last.
fn removable(shared: &Arc<Shared>, segments: &[Arc<Segment>], rules: &[RetainRule]) -> Result<usize> {
    let sealed = shared.durable.sealed_through();
    let n = segments.len();
    let last = shared.last_seq();
    let seg_bytes = shared.meta.segment_bytes;
    let mut k = 0;
    while k + 1 < n && segments[k].no() <= sealed {
        let next_base = segments[k + 1].header.base_seq;
        let mut go = false;
        for rule in rules {
            go |= match *rule {
                RetainRule::BeforeSeq(s) => next_base <= s,
                RetainRule::BeforeTime(t) => newest_ts(shared, segments, k)? < t,
                RetainRule::MaxBytes(b) => (n - k) as u64 * seg_bytes > b,
                RetainRule::MaxEvents(e) => last.saturating_sub(segments[k].header.base_seq) + 1 > e,
            };
        }
        if !go {
            break;
        }
        k += 1;
    }
    Ok(k)
}

/// The timestamp of sealed segment `i`'s last frame.
fn newest_ts(shared: &Arc<Shared>, segments: &[Arc<Segment>], i: usize) -> Result<i64> {
    let at = read::index_of(shared, segments, i)?.last_frame_at as usize;
    let last_seq = segments[i + 1].header.base_seq - 1;
    Ok(segments[i].frame_at(at, last_seq)?.ts_ns)
}

/// The seq of a valid snapshot at or after `needed`, taking one now when there is none.
fn covering_snapshot(shared: &Arc<Shared>, needed: u64) -> Result<u64> {
    for info in snapshot::list(&shared.dir)?.into_iter().rev() {
        if info.seq < needed {
            break;
        }
        if info.seq <= shared.durable.durable() && state::load(shared, &info).is_ok() {
            return Ok(info.seq);
        }
    }
    shared.sync_through(shared.last_seq())?;
    let (st, _) = state::recover_state(shared, shared.durable.durable())?;
    if st.last_seq < needed {
        return Err(Error::InvalidOption(format!(
            "no event at or after seq {needed} to base a snapshot on: nothing can be retained away"
        )));
    }
    Ok(state::publish(shared, &st)?.seq)
}

/// Removes the segments before the new start, their index files, and the snapshots that
/// can no longer bind; makes it durable. A crash midway leaves files a writable open
/// removes (formats/recovery.md).
fn remove_files(shared: &Arc<Shared>, gone: &[Arc<Segment>], report: &mut RetentionReport) -> Result<()> {
    for seg in gone {
        let index = shared.dir.join(file_name(seg.no(), INDEX_EXT));
        if index.exists() {
            shared.disk.remove(&index)?;
        }
        shared.disk.remove(&seg.path)?;
        report.removed_segments.push(seg.path.clone());
        report.bytes += shared.meta.segment_bytes;
    }
    shared.disk.sync_dir(&shared.dir)?;
    let start = shared.log_start();
    let stale: Vec<PathBuf> =
        snapshot::list(&shared.dir)?.into_iter().filter(|s| s.seq < start).map(|s| s.path).collect();
    snapshot::remove(&shared.disk, &shared.dir, &stale)?;
    report.removed_snapshots = stale;
    Ok(())
}
