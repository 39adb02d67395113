//! `Store::stats`: counts and sizes, snapshots and durability, as `wfstore stats` prints them.

use super::{Store, read};
use crate::error::Result;

/// Counts and sizes, snapshots and durability, as `stats` prints them. Fields may be added.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Segment files in use.
    pub segments: usize,
    /// Events stored.
    pub events: u64,
    /// Seq of the first event (0 when empty).
    pub first_seq: u64,
    /// Seq of the last event (0 when empty).
    pub last_seq: u64,
    /// Bytes of frames in the log.
    pub data_bytes: u64,
    /// Bytes of segment files on disk (preallocated).
    pub disk_bytes: u64,
    /// Distinct sessions.
    pub sessions: usize,
    /// Preallocated size of one segment.
    pub segment_bytes: u64,
    /// Whether prompt and output text is kept.
    pub keep_content: bool,
    /// Snapshot files.
    pub snapshots: usize,
    /// Seq of the newest snapshot (0 when there is none).
    pub newest_snapshot_seq: u64,
    /// Events after the newest snapshot: what a recovery would replay.
    pub snapshot_lag: u64,
    /// The last seq on disk: a writer's last synced batch; for a read-only handle, what it
    /// found on disk at its open.
    pub durable_seq: u64,
    /// Events stored but not yet on disk (a writer's; 0 for a read-only handle).
    pub durable_lag: u64,
    /// A writer that stopped accepting appends after a failed sync (`Error::Poisoned`).
    pub poisoned: bool,
}

impl Store {
    /// Counts and sizes. Loads every segment's index to count sessions.
    pub fn stats(&self) -> Result<Stats> {
        let segments = self.segments();
        let mut sessions = std::collections::BTreeSet::new();
        let (mut data_bytes, mut disk_bytes) = (0u64, 0u64);
        for (i, seg) in segments.iter().enumerate() {
            let ix = read::index_of(&self.shared, &segments, i)?;
            data_bytes += (seg.end() - crate::segment::header::HEADER_BYTES) as u64;
            disk_bytes += self.shared.meta.segment_bytes;
            sessions.extend(ix.sessions().into_iter().map(str::to_owned));
        }
        let last_seq = self.last_seq();
        let first_seq = self.first_seq();
        let snapshots = self.snapshots()?;
        let newest_snapshot_seq = snapshots.last().map_or(0, |s| s.seq);
        // A read-only handle read the log from disk: all it has is durable as far as it knows.
        let durable_seq = if self.shared.writable { self.durable_seq().min(last_seq) } else { last_seq };
        Ok(Stats {
            segments: segments.len(),
            events: if first_seq == 0 { 0 } else { last_seq - first_seq + 1 },
            first_seq,
            last_seq,
            data_bytes,
            disk_bytes,
            sessions: sessions.len(),
            segment_bytes: self.shared.meta.segment_bytes,
            keep_content: self.shared.meta.keep_content,
            snapshots: snapshots.len(),
            newest_snapshot_seq,
            snapshot_lag: last_seq.saturating_sub(newest_snapshot_seq),
            durable_seq,
            durable_lag: last_seq - durable_seq,
            poisoned: self.shared.durable.is_poisoned(),
        })
    }
}
