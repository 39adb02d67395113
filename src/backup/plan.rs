//! What a backup holds, chosen under the lifecycle lock: its seq, and for each file of the
//! backup where its bytes come from. Sealed segments are copied whole with their index;
//! the segment holding the backup's seq is copied only up to the end of that seq's frame
//! (never its index, which would claim more); snapshots at or below the seq; `AUDIT`; and a
//! `STORE` written for the backup by the store's own encoder, its high-water mark the
//! backup's seq, so that recovery of the copy finds exactly the evidence its log meets.
//! Never `LOCK`, `PURGE`, temp files or `quarantine/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::manifest::{Entry, Manifest};
use crate::audit::{self, AUDIT_FILE, Action, RECORD_BYTES};
use crate::disk::Disk;
use crate::error::{Error, Result};
use crate::meta::{self, Marks, STORE_FILE, StoreFile};
use crate::segment::header::HEADER_BYTES;
use crate::segment::{INDEX_EXT, Segment, file_name};
use crate::snapshot::{self, SNAPSHOT_DIR};
use crate::store::Store;
use crate::store::purge::journal::PURGE_FILE;

/// Where a file's bytes come from.
pub(crate) enum Content {
    /// The first `len` bytes of a file of the store.
    File {
        /// The store's file.
        path: PathBuf,
        /// Bytes to copy.
        len: u64,
    },
    /// Bytes read (or made) while planning: small files that may change or go afterwards.
    Bytes(Vec<u8>),
}

/// One file of the backup.
pub(crate) struct Item {
    /// Its name in the backup (`manifest::name_ok`).
    pub name: String,
    /// Its bytes.
    pub content: Content,
}

impl Item {
    /// Its size in the backup.
    pub fn len(&self) -> u64 {
        match &self.content {
            Content::File { len, .. } => *len,
            Content::Bytes(b) => b.len() as u64,
        }
    }
}

/// A backup's content.
pub(crate) struct Plan {
    /// The seq it is consistent as of.
    pub seq: u64,
    /// The first seq it holds.
    pub log_start: u64,
    /// The store's id.
    pub store_id: u64,
    /// Its files, `STORE` first.
    pub items: Vec<Item>,
    /// `AUDIT`'s length when planned (a read-only handle watches it for a purge).
    audit_len: u64,
}

impl Plan {
    /// Bytes of every file.
    pub fn total(&self) -> u64 {
        self.items.iter().map(Item::len).sum()
    }
}

/// Chooses the seq and the files. The caller holds the store's lifecycle lock until the
/// copy is done.
pub(crate) fn make(store: &Store) -> Result<Plan> {
    let disk = store.disk();
    let dir = store.dir();
    refuse_pending_purge(dir)?;
    let log_start = store.log_start();
    let seq = if store.is_writable() {
        store.flush()?;
        store.durable_seq()
    } else {
        // A reader may see committed frames a crash could still take: only what `STORE`
        // says was durable is backed up.
        let high_water = StoreFile::load(disk, dir)?.marks.high_water;
        store.last_seq().min(high_water)
    };
    let seq = seq.max(log_start - 1);
    let segments = store.segments();
    let (last, end) = match store.locate(&segments, seq)? {
        // Durable seqs and high-water marks only ever end batches: this is a bug, said plainly.
        Some(place) if place.continues => {
            let first = seq - u64::from(place.position);
            return Err(Error::MidBatch { seq, first, last: batch_end(store, &segments, seq)? });
        }
        Some(place) => (place.segment, place.at + place.len),
        // An empty log: the first segment's header only.
        None => (0, HEADER_BYTES),
    };
    let meta = store.meta();
    let marks = Marks { high_water: seq, log_start };
    let mut items =
        vec![Item { name: STORE_FILE.into(), content: Content::Bytes(meta::encode_file(&meta, marks, 1)) }];
    for seg in &segments[..last] {
        let name = file_name(seg.no(), crate::segment::SEGMENT_EXT);
        items.push(Item { name, content: Content::File { path: seg.path.clone(), len: meta.segment_bytes } });
        let index = seg.index_path();
        if let Some(bytes) = read_if_there(disk, &index, crate::limits::INDEX_FILE_BYTES_MAX)? {
            items.push(Item { name: file_name(seg.no(), INDEX_EXT), content: Content::Bytes(bytes) });
        }
    }
    let seg = segments.get(last).ok_or_else(|| Error::corrupt(dir, 0, None, "no segment files"))?;
    let name = file_name(seg.no(), crate::segment::SEGMENT_EXT);
    items.push(Item { name, content: Content::File { path: seg.path.clone(), len: end as u64 } });
    for snap in snapshot::list(dir)? {
        if snap.seq < log_start || snap.seq > seq {
            continue;
        }
        // The snapshotter prunes old snapshots as it goes: one gone is simply not copied.
        if let Some(bytes) = read_if_there(disk, &snap.path, 96 + u64::from(u32::MAX))? {
            let name = format!("{SNAPSHOT_DIR}/{}", snapshot::file_name(snap.seq));
            items.push(Item { name, content: Content::Bytes(bytes) });
        }
    }
    let mut audit_len = 0;
    if let Some(mut bytes) = read_if_there(disk, &dir.join(AUDIT_FILE), audit::AUDIT_BYTES_MAX)? {
        // A record being appended right now is not ours to copy half of.
        bytes.truncate(bytes.len() / RECORD_BYTES * RECORD_BYTES);
        audit_len = bytes.len() as u64;
        items.push(Item { name: AUDIT_FILE.into(), content: Content::Bytes(bytes) });
    }
    Ok(Plan { seq, log_start, store_id: meta.store_id, items, audit_len })
}

/// The last seq of the batch holding `seq` (in `segments`, a list `Store::segments` gave).
pub(crate) fn batch_end(store: &Store, segments: &Arc<Vec<Arc<Segment>>>, seq: u64) -> Result<u64> {
    let mut s = seq;
    while let Some(p) = store.locate(segments, s)? {
        if !p.continues {
            return Ok(s);
        }
        s += 1;
    }
    Ok(s.saturating_sub(1))
}

/// After the copy: a purge in another process may have rewritten sealed frames under a
/// read-only handle (this handle's own purges wait for the lifecycle lock). A `PURGE`
/// journal now, or a purge or retention record appended to `AUDIT` since planning, means
/// the copy may mix two histories: refused, to be run again.
pub(crate) fn check_unchanged(store: &Store, plan: &Plan) -> Result<()> {
    let dir = store.dir();
    refuse_pending_purge(dir)?;
    let log = audit::read(store.disk(), dir)?;
    let first_new = plan.audit_len / RECORD_BYTES as u64;
    let rewritten = log
        .records
        .iter()
        .any(|(i, r)| *i >= first_new && matches!(r.action, Action::Purge | Action::Retention));
    if rewritten {
        return Err(Error::PurgePending { path: dir.to_owned() });
    }
    Ok(())
}

fn refuse_pending_purge(dir: &Path) -> Result<()> {
    if dir.join(PURGE_FILE).exists() {
        return Err(Error::PurgePending { path: dir.to_owned() });
    }
    Ok(())
}

/// A whole small file, or `None` when it does not exist (or vanished meanwhile).
fn read_if_there(disk: &Disk, path: &Path, max: u64) -> Result<Option<Vec<u8>>> {
    match disk.read_bounded(path, max) {
        Ok(b) => Ok(Some(b)),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The manifest of the copied `entries` (sorted by name), once the copy is known to be of
/// one history (`check_unchanged` for a read-only handle). The lifecycle lock is released.
pub(crate) fn manifest(store: &Store, plan: &Plan, mut entries: Vec<Entry>) -> Result<Manifest> {
    if !store.is_writable() {
        check_unchanged(store, plan)?;
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Manifest {
        store_id: plan.store_id,
        seq: plan.seq,
        log_start: plan.log_start,
        created_ns: crate::io_util::now_ns(),
        entries,
    })
}
