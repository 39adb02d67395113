//! The sidecar index of one segment: sparse seq → offset (with timestamps) and per-session
//! frame offsets. Derivable from the log at any time; the log is the truth.
//!
//! - `file`: the byte format of `NNNNNNNNNN.idx` files and their validation.

pub mod file;
mod postings;

pub(crate) use postings::Postings;

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

/// Session id → frame offsets. Fx hashing: ids are not attacker-controlled keys worth
/// SipHash's cost on every append.
pub(crate) type SessionMap = HashMap<Box<str>, Postings, FxBuildHasher>;

/// Commit points are kept at this granularity.
const COMMIT_PAGE_BYTES: u32 = 4096;

/// One sparse entry is kept for every this many records.
pub const SPARSE_EVERY: u64 = 64;

/// A sparse entry: where record `k * SPARSE_EVERY` of the segment starts, and its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SparseEntry {
    /// Frame offset in the segment.
    pub offset: u32,
    /// The record's timestamp.
    pub ts_ns: i64,
}

/// The in-memory index of one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentIndex {
    /// Seq of the segment's first record.
    pub base_seq: u64,
    /// Records indexed.
    pub records: u64,
    /// Offset one past the last frame.
    pub end: u32,
    /// Offset of the last frame (0 when there is none).
    pub last_frame_at: u32,
    sparse: Vec<SparseEntry>,
    sessions: SessionMap,
    /// Where committed batches end in this segment, in memory only (the writer's): the
    /// latest commit ending in each 4 KiB page, as (end offset, its last seq). A sync that
    /// covers bytes up to a page boundary makes the last batch ending before it durable,
    /// never part of a batch that runs on.
    commits: Vec<(u32, u64)>,
}

impl SegmentIndex {
    /// An empty index for a segment whose data starts at `data_start`.
    pub fn new(base_seq: u64, data_start: u32) -> Self {
        SegmentIndex {
            base_seq,
            records: 0,
            end: data_start,
            last_frame_at: 0,
            sparse: Vec::new(),
            sessions: SessionMap::default(),
            commits: Vec::new(),
        }
    }

    /// Records that a batch ending at offset `end` with seq `seq` committed.
    pub fn note_commit(&mut self, end: u32, seq: u64) {
        match self.commits.last_mut() {
            Some(last) if last.0 / COMMIT_PAGE_BYTES == end / COMMIT_PAGE_BYTES => *last = (end, seq),
            _ => self.commits.push((end, seq)),
        }
    }

    /// The last seq of the last committed batch ending at or before `offset`, as the writer
    /// recorded them (page precision).
    pub fn committed_before(&self, offset: usize) -> Option<u64> {
        let k = self.commits.partition_point(|&(end, _)| end as usize <= offset);
        k.checked_sub(1).map(|k| self.commits[k].1)
    }

    /// The last seq of the last batch committed in this segment.
    pub fn last_commit(&self) -> Option<u64> {
        self.commits.last().map(|c| c.1)
    }

    /// Records the next frame: `seq` must be `base_seq + records`.
    pub fn note(&mut self, ts_ns: i64, at: u32, frame_len: u32, session: &str) {
        self.note_purged(ts_ns, at, frame_len);
        match self.sessions.get_mut(session) {
            Some(offsets) => offsets.push(at),
            None => {
                self.sessions.insert(session.into(), Postings::one(at));
            }
        }
    }

    /// Records the next frame, a tombstone: it counts and can be sought, but belongs to no
    /// session.
    pub fn note_purged(&mut self, ts_ns: i64, at: u32, frame_len: u32) {
        if self.records.is_multiple_of(SPARSE_EVERY) {
            self.sparse.push(SparseEntry { offset: at, ts_ns });
        }
        self.records += 1;
        self.last_frame_at = at;
        self.end = at + frame_len;
    }

    /// Drops the session postings of frames that became tombstones (offsets sorted).
    pub fn forget(&mut self, purged: &[u32]) {
        self.sessions.retain(|_, offsets| {
            offsets.retain(|o| purged.binary_search(&o).is_err());
            !offsets.is_empty()
        });
    }

    /// Forgets every frame from record number `records` on (an abandoned batch): the index
    /// becomes what it was when it held `records` frames ending at `end`, the last at
    /// `last_frame_at`.
    pub fn truncate(&mut self, records: u64, end: u32, last_frame_at: u32) {
        if records >= self.records {
            return;
        }
        self.sparse.truncate(usize::try_from(records.div_ceil(SPARSE_EVERY)).unwrap_or(usize::MAX));
        self.sessions.retain(|_, offsets| {
            offsets.retain(|o| o < end);
            !offsets.is_empty()
        });
        self.commits.retain(|&(e, _)| e <= end);
        self.records = records;
        self.end = end;
        self.last_frame_at = last_frame_at;
    }

    /// Seq one past the last indexed record.
    pub fn next_seq(&self) -> u64 {
        self.base_seq + self.records
    }

    /// The nearest sparse point at or before `seq`: its seq and frame offset.
    pub fn seek(&self, seq: u64) -> Option<(u64, u32)> {
        if seq < self.base_seq || seq >= self.next_seq() {
            return None;
        }
        let k = (seq - self.base_seq) / SPARSE_EVERY;
        let entry = self.sparse.get(usize::try_from(k).ok()?)?;
        Some((self.base_seq + k * SPARSE_EVERY, entry.offset))
    }

    /// Frame offsets of one session's records, in seq order.
    pub fn session_offsets(&self, session: &str) -> Vec<u32> {
        self.sessions.get(session).map_or_else(Vec::new, |p| p.iter().collect())
    }

    /// One session's postings, if it has any here.
    pub(crate) fn postings(&self, session: &str) -> Option<&Postings> {
        self.sessions.get(session)
    }

    /// The sessions with records in this segment, sorted.
    pub fn sessions(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.sessions.keys().map(|k| &**k).collect();
        ids.sort_unstable();
        ids
    }

    /// The sparse entries.
    pub fn sparse(&self) -> &[SparseEntry] {
        &self.sparse
    }
}
