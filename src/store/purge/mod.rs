//! Purge (formats/purge.md): every event of a user or a session becomes a tombstone in
//! place, the derived files that could hold their ids or content are overwritten and
//! removed, and a content-free audit record is left. The `PURGE` journal makes it
//! all-or-nothing across crashes.
//!
//! - `journal`: the `PURGE` file's bytes.
//! - `scrub`: overwriting files before unlinking them.

pub(crate) mod journal;
mod scrub;

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Shared, Store, state};
use crate::audit::{self, Action, AuditRecord, Subject};
use crate::codec;
use crate::disk::Disk;
use crate::error::{Error, IoContext, Result};
use crate::frame::{self, FRAME_HEADER_BYTES, SaltKey, Stamp};
use crate::header::HEADER_BYTES;
use crate::index::file as index_file;
use crate::segment::scan::Chain;
use crate::segment::{self, INDEX_EXT, SEGMENT_EXT, Segment, SegmentHeader};
use crate::snapshot;
use journal::{Entry, Journal, PURGE_EVENTS_MAX, PURGE_FILE, PURGE_FILE_BYTES_MAX};

/// What a purge did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct PurgeReport {
    /// Events that became tombstones.
    pub events: u64,
    /// The smallest and largest seq purged (none when nothing matched).
    pub seqs: Option<(u64, u64)>,
    /// Segment files rewritten.
    pub segments: usize,
    /// Derived files (indexes, snapshots, temp and quarantined files) overwritten with zeros
    /// and removed.
    pub scrubbed: Vec<PathBuf>,
    /// The seq of the snapshot written after the purge, if snapshots were kept.
    pub snapshot: Option<u64>,
}

impl Store {
    /// Purges every event of `user` (all their sessions): afterwards no file of the store
    /// holds the id, their session ids or their content. Other events keep their seqs and
    /// the state is what a replay of the remaining events gives. Crash-safe: a crash at any
    /// point leaves the store as it was or fully purged (a writable open finishes it).
    /// Appends wait while the frames are rewritten.
    pub fn purge_user(&self, user: &str) -> Result<PurgeReport> {
        self.purge(Subject::USER, user)
    }

    /// Purges every event of one session, as `purge_user` does for a user.
    pub fn purge_session(&self, session: &str) -> Result<PurgeReport> {
        self.purge(Subject::SESSION, session)
    }

    fn purge(&self, kind: u8, id: &str) -> Result<PurgeReport> {
        if id.is_empty() || id.len() > crate::limits::ID_BYTES_MAX {
            return Err(Error::InvalidOption(format!("an id of {} bytes cannot be stored", id.len())));
        }
        let writer = self.writer()?;
        let shared = &self.shared;
        let _lifecycle = self.lifecycle_guard();
        // Most of the log is scanned while appends go on; the rest under the writer lock.
        let mut found = Found::default();
        find(shared, kind, id, shared.last_seq(), &mut found)?;
        let held = writer.lock();
        find(shared, kind, id, shared.last_seq(), &mut found)?;
        shared.sync_through(shared.last_seq())?;
        let mut report = PurgeReport { events: found.entries.len() as u64, ..PurgeReport::default() };
        let needles: Vec<&str> =
            std::iter::once(id).chain(found.sessions.iter().map(String::as_str)).collect();
        report.scrubbed = scrub::quarantined(&shared.disk, &shared.dir, &needles)?;
        let journal = found.journal(shared.meta.store_id, kind, id)?;
        report.seqs = journal.entries.first().zip(journal.entries.last()).map(|(a, b)| (a.seq, b.seq));
        let index_files = shared.index_files.lock();
        shared.disk.write_atomic(&shared.dir, PURGE_FILE, &journal.encode())?;
        // Past the commit point: a failure leaves the journal for the next open to finish,
        // and this handle must not go on with a half-rewritten log.
        let finished = finish(&shared.disk, &shared.dir, &journal)
            .and_then(|done| refresh_indexes(shared, &journal).map(|()| done))
            .map_err(|e| shared.durable.poison_with(e))?;
        drop(index_files);
        report.segments = finished.segments;
        report.scrubbed.extend(finished.scrubbed);
        shared.state_epoch.fetch_add(1, Ordering::AcqRel);
        drop(held);
        if finished.had_snapshots && shared.last_seq() >= shared.log_start() {
            let (state, _) = state::recover_state(shared, shared.durable.durable())?;
            report.snapshot = Some(state::publish(shared, &state)?.seq);
        }
        Ok(report)
    }
}

/// The frames a purge rewrites, and where the scan stopped.
#[derive(Default)]
struct Found {
    entries: Vec<Entry>,
    /// The session ids of the events found (in memory only: for the quarantine search).
    sessions: std::collections::BTreeSet<String>,
    /// The next seq to look at.
    next: u64,
    /// Where its frame is: segment number and offset.
    at: Option<(u64, usize)>,
}

impl Found {
    fn journal(&self, store_id: u64, kind: u8, id: &str) -> Result<Journal> {
        if self.entries.len() as u64 > PURGE_EVENTS_MAX {
            return Err(Error::InvalidOption(format!(
                "{} events to purge, over the {PURGE_EVENTS_MAX} one purge rewrites",
                self.entries.len()
            )));
        }
        let mut audit = AuditRecord::new(Action::Purge, store_id);
        audit.subject = Some(Subject::new(kind, id));
        audit.events = self.entries.len() as u64;
        if let (Some(a), Some(b)) = (self.entries.first(), self.entries.last()) {
            (audit.seq_first, audit.seq_last) = (a.seq, b.seq);
        }
        Ok(Journal { store_id, audit, entries: self.entries.clone() })
    }
}

/// Scans the committed frames from where `found` stopped up to `upto`, noting those of
/// `id`. Every frame is checked (CRC and seq chain).
fn find(shared: &Shared, kind: u8, id: &str, upto: u64, found: &mut Found) -> Result<()> {
    let segments = Arc::clone(&shared.segments.read());
    let next = found.next.max(shared.log_start());
    let first = segments.partition_point(|s| s.header.base_seq <= next).saturating_sub(1);
    for seg in &segments[first..] {
        let (mut seq, mut at) = match found.at {
            Some((no, at)) if no == seg.no() => (found.next, at),
            _ => (seg.header.base_seq, HEADER_BYTES),
        };
        while seq <= upto {
            let Ok(f) = seg.frame_at(at, seq) else { break };
            if !f.purged() {
                let (session, user) = codec::decode_ids(f.body).map_err(|why| Error::Decode { seq, why })?;
                if (if kind == Subject::USER { user } else { session }) == id {
                    found.entries.push(entry(seg, at, &f));
                    found.sessions.insert(session.to_owned());
                }
            }
            (seq, at) = (seq + 1, at + f.len());
        }
        (found.next, found.at) = (seq, Some((seg.no(), at)));
        if seq > upto {
            break;
        }
    }
    Ok(())
}

fn entry(seg: &Segment, at: usize, f: &frame::Frame<'_>) -> Entry {
    Entry {
        seq: f.seq,
        segment_no: seg.no(),
        offset: segment::offset32(at),
        body_len: segment::offset32(f.body.len()),
        ts_ns: f.ts_ns,
        durable_lag: f.durable_lag,
        batch: f.batch,
    }
}

/// What `finish` did.
pub(crate) struct Finished {
    pub segments: usize,
    pub scrubbed: Vec<PathBuf>,
    pub had_snapshots: bool,
}

/// Steps 4 to 6 of formats/purge.md, idempotent: tombstones written and synced, derived
/// files scrubbed, the audit record appended, the journal removed. What a live purge runs
/// after publishing the journal, and what a writable open runs when it finds one.
pub(crate) fn finish(disk: &Disk, dir: &Path, journal: &Journal) -> Result<Finished> {
    let mut by_segment: BTreeMap<u64, Vec<&Entry>> = BTreeMap::new();
    for e in &journal.entries {
        by_segment.entry(e.segment_no).or_default().push(e);
    }
    let mut scrubbed = Vec::new();
    for (&no, entries) in &by_segment {
        rewrite(disk, dir, journal.store_id, no, entries)?;
        let index = dir.join(segment::file_name(no, INDEX_EXT));
        if index.exists() {
            scrub::remove(disk, &index)?;
            scrubbed.push(index);
        }
    }
    let snapshots: Vec<PathBuf> = snapshot::list(dir)?.into_iter().map(|s| s.path).collect();
    let had_snapshots = !snapshots.is_empty();
    for p in snapshots.into_iter().chain(scrub::derived_temps(dir)?) {
        scrub::remove(disk, &p)?;
        scrubbed.push(p);
    }
    disk.sync_dir(dir)?;
    let snap_dir = dir.join(snapshot::SNAPSHOT_DIR);
    if snap_dir.exists() {
        disk.sync_dir(&snap_dir)?;
    }
    if !audit::read(disk, dir)?.records.iter().any(|(_, r)| *r == journal.audit) {
        audit::append(disk, dir, &journal.audit)?;
    }
    disk.remove(&dir.join(PURGE_FILE))?;
    disk.sync_dir(dir)?;
    Ok(Finished { segments: by_segment.len(), scrubbed, had_snapshots })
}

/// Writes the tombstones of one segment's entries and syncs the file. The tombstone's
/// bytes come from the journal and the segment's salt alone: the frame on disk may be torn.
fn rewrite(disk: &Disk, dir: &Path, store_id: u64, no: u64, entries: &[&Entry]) -> Result<()> {
    let path = dir.join(segment::file_name(no, SEGMENT_EXT));
    let file = disk.open_rw(&path)?;
    let mut head = [0u8; HEADER_BYTES];
    file.read_exact_at(&mut head, 0).ctx("read", &path)?;
    let header = SegmentHeader::decode(&head)
        .ok()
        .filter(|h| h.store_id == store_id && h.segment_no == no)
        .ok_or_else(|| {
        Error::corrupt(&path, 0, None, "the segment a purge rewrites has no valid header")
    })?;
    let len = file.metadata().ctx("stat", &path)?.len();
    let key = SaltKey::new(header.salt);
    let mut bytes = Vec::new();
    for e in entries {
        // One buffer for every tombstone: sealed over zeros each time.
        bytes.clear();
        bytes.resize(FRAME_HEADER_BYTES + e.body_len as usize, 0);
        if u64::from(e.offset) + bytes.len() as u64 > len {
            return Err(Error::corrupt(
                &path,
                e.offset.into(),
                Some(e.seq),
                "purge journal points past the segment",
            ));
        }
        let stamp = Stamp { seq: e.seq, ts_ns: e.ts_ns, durable_lag: e.durable_lag, batch: e.batch };
        frame::seal(&mut bytes, stamp, key);
        frame::tombstone(&mut bytes, key);
        disk.write_at(&file, &path, e.offset.into(), &bytes)?;
    }
    disk.sync_file(&file, &path)
}

/// After a live purge: sealed segments get fresh indexes (memory and file), the last one's
/// in-memory index forgets the tombstones' session postings.
fn refresh_indexes(shared: &Shared, journal: &Journal) -> Result<()> {
    let segments = Arc::clone(&shared.segments.read());
    let Some(last) = segments.last().map(|s| s.no()) else { return Ok(()) };
    for seg in segments.iter() {
        let mut offsets: Vec<u32> =
            journal.entries.iter().filter(|e| e.segment_no == seg.no()).map(|e| e.offset).collect();
        if offsets.is_empty() {
            continue;
        }
        if seg.no() == last {
            offsets.sort_unstable();
            seg.with_index_mut(|ix| ix.forget(&offsets));
            continue;
        }
        let (_, index) = seg.scan_and_index(Chain::start(seg.header.base_seq), false)?;
        let name = segment::file_name(seg.no(), INDEX_EXT);
        index_file::publish(&shared.disk, &shared.dir, &name, seg.index_key(), &index)?;
        seg.set_index(index);
    }
    Ok(())
}

/// A writable open's first step: a purge that was interrupted after its commit point is
/// finished before recovery reads the log. Returns the events it purged.
pub(crate) fn finish_interrupted(disk: &Disk, dir: &Path, store_id: u64) -> Result<Option<u64>> {
    let Some(journal) = pending(disk, dir, store_id)? else { return Ok(None) };
    finish(disk, dir, &journal)?;
    Ok(Some(journal.entries.len() as u64))
}

/// The journal of a purge that has not finished, if any. A damaged one is damage.
pub(crate) fn pending(disk: &Disk, dir: &Path, store_id: u64) -> Result<Option<Journal>> {
    let path = dir.join(PURGE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = disk.read_bounded(&path, PURGE_FILE_BYTES_MAX)?;
    Journal::decode(&bytes, store_id).map(Some).map_err(|why| Error::corrupt(&path, 0, None, why))
}
