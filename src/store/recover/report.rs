//! What recovery found and did, as the library reports it.

use std::ops::RangeInclusive;
use std::path::PathBuf;

use crate::error::Corruption;

/// What recovery found and did when a store was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Bytes past the committed end that were cut (or, read-only, that would be): a write
    /// cut short by a crash, pages a power loss kept out of order.
    pub torn_tail: Option<TornTail>,
    /// Seqs of a batch that was never committed, discarded (or, read-only, not shown).
    pub incomplete_batch: Option<RangeInclusive<u64>>,
    /// Durable data that is missing (read-only opens only: a writable open refuses).
    pub loss: Option<Loss>,
    /// Segment files removed: prepared and never used, or holding only a torn tail.
    pub removed_segments: Vec<PathBuf>,
    /// Index files removed because their segment is the last one again.
    pub removed_indexes: Vec<PathBuf>,
    /// Index files written for complete segments recovery found without one.
    pub written_indexes: Vec<PathBuf>,
    /// Snapshots removed because they no longer bind to the log, and why.
    pub removed_snapshots: Vec<(PathBuf, String)>,
    /// Leftover temporary files removed.
    pub removed_temp_files: Vec<PathBuf>,
    /// A tail segment file found shorter than preallocated, and extended again.
    pub extended_tail: Option<PathBuf>,
    /// Segment files longer than the segment size, cut back (the excess was never data).
    pub trimmed: Vec<PathBuf>,
    /// A damaged copy of `STORE` (which one, and why); a writer rewrote it.
    pub store_copy_damaged: Option<String>,
    /// A read-only open found a live writer: the tail was read up to its first gap and not
    /// judged.
    pub writer_live: bool,
    /// A purge interrupted after its commit point, finished: the events it purged.
    pub finished_purge: Option<u64>,
}

impl RecoveryReport {
    /// True when recovery changed nothing and found nothing to report.
    pub fn is_clean(&self) -> bool {
        let empty = RecoveryReport { writer_live: self.writer_live, ..RecoveryReport::default() };
        *self == empty
    }

    /// One line per finding, for the CLI's warnings.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(n) = self.finished_purge {
            out.push(format!("finished an interrupted purge ({n} events)"));
        }
        if let Some(l) = &self.loss {
            out.push(l.to_string());
        }
        if let Some(t) = &self.torn_tail {
            out.push(t.to_string());
        }
        if let Some(b) = &self.incomplete_batch {
            out.push(format!(
                "a batch that was never committed (seqs {}..={}) was discarded",
                b.start(),
                b.end()
            ));
        }
        if let Some(c) = &self.store_copy_damaged {
            out.push(format!("STORE: {c}"));
        }
        for p in &self.trimmed {
            out.push(format!("{}: longer than the segment size, cut back", p.display()));
        }
        for (p, why) in &self.removed_snapshots {
            out.push(format!("removed snapshot {}: {why}", p.display()));
        }
        out
    }
}

/// A torn write at the end of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file.
    pub path: PathBuf,
    /// Where valid data ends.
    pub offset: u64,
    /// Bytes zeroed (or that would be zeroed).
    pub bytes: u64,
    /// Why the bytes at `offset` are not a frame.
    pub why: String,
}

impl std::fmt::Display for TornTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (path, offset, bytes, why) = (self.path.display(), self.offset, self.bytes, &self.why);
        write!(f, "torn tail in {path} at offset {offset}: {bytes} bytes ({why})")
    }
}

/// Durable data that recovery did not find: the log ends short of its durable evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    /// Where the log breaks.
    pub at: Corruption,
    /// The last seq the log still holds.
    pub last_seq: u64,
    /// The seq the evidence says was durable.
    pub durable: u64,
    /// The evidence.
    pub evidence: String,
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "durable data lost: the log ends at seq {} but {} shows seq {} was durable (seqs {}..={} missing); {}",
            self.last_seq,
            self.evidence,
            self.durable,
            self.last_seq + 1,
            self.durable,
            self.at
        )
    }
}
