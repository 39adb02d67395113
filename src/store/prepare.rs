//! New segment files: created ahead of need (preallocated, zeroed, mapped, their directory
//! entry durable), and activated when the writer rolls onto them (the header written).

use std::path::{Path, PathBuf};

use crate::disk::Disk;
use crate::error::{Error, Result};
use crate::io_util;
use crate::meta::StoreMeta;
use crate::segment::header::HEADER_BYTES;
use crate::segment::map::{SegmentMap, TailToken};
use crate::segment::{self, SEGMENT_EXT, Segment, SegmentHeader};

/// A segment file created ahead of need: preallocated, zeroed, mapped, its directory entry
/// durable, no header yet.
pub(crate) struct Prepared {
    pub no: u64,
    pub path: PathBuf,
    pub map: SegmentMap,
    pub token: TailToken,
}

/// Creates segment file `no` (which must not exist). `prefault` faults its pages in now so
/// the first writes to it take no page faults.
pub(crate) fn prepare(
    disk: &Disk,
    dir: &Path,
    meta: &StoreMeta,
    no: u64,
    prefault: bool,
) -> Result<Prepared> {
    let path = dir.join(segment::file_name(no, SEGMENT_EXT));
    // An index left under this number (by a segment retired or quarantined) must not speak
    // for the new segment.
    let stale = path.with_extension(segment::INDEX_EXT);
    if stale.exists() {
        disk.remove(&stale)?;
        disk.sync_dir(dir)?;
    }
    let file = disk.create_new(&path)?;
    let made = disk
        .preallocate(&file, &path, meta.segment_bytes)
        .and_then(|()| disk.sync_file(&file, &path))
        .and_then(|()| disk.sync_dir(dir));
    if let Err(e) = made {
        // A file without its blocks (a full disk) must not be left for a later roll.
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    let len =
        usize::try_from(meta.segment_bytes).map_err(|_| Error::corrupt(&path, 0, None, "segment size"))?;
    let (map, token) = SegmentMap::map(disk, &file, &path, len, true)?;
    if prefault {
        map.prefault(0);
    }
    let token = token.ok_or(Error::ReadOnly)?;
    Ok(Prepared { no, path, map, token })
}

/// Writes the header into a prepared (zeroed, mapped) segment and wraps it.
pub(crate) fn activate(
    disk: &Disk,
    p: Prepared,
    meta: &StoreMeta,
    base_seq: u64,
) -> Result<(Segment, TailToken)> {
    let Prepared { no, path, mut map, token } = p;
    let header = SegmentHeader {
        version: segment::header::VERSION,
        flags: meta.flags(),
        store_id: meta.store_id,
        salt: io_util::random_u64(),
        segment_no: no,
        base_seq,
        segment_bytes: meta.segment_bytes,
    };
    let bytes = map.all_mut().ok_or(Error::ReadOnly)?;
    bytes[..HEADER_BYTES].copy_from_slice(&header.encode());
    map.set_end(HEADER_BYTES);
    let index = crate::index::SegmentIndex::new(base_seq, segment::offset32(HEADER_BYTES));
    Ok((Segment::new(path, header, map, Some(index), disk), token))
}

/// Turns an activated segment the writer never published anything in back into a prepared
/// one: every byte it wrote (header included) zeroed again.
pub(crate) fn deactivate(seg: Segment, token: TailToken, written: usize) -> Prepared {
    let Segment { path, header, mut map, .. } = seg;
    if let Some(bytes) = map.all_mut() {
        let n = written.min(bytes.len());
        bytes[..n].fill(0);
    }
    map.set_end(0);
    Prepared { no: header.segment_no, path, map, token }
}

/// Creates segment `no` starting at `base_seq`, header written and synced: `init`, and a
/// store whose every segment file was unused.
pub(crate) fn create_segment(
    disk: &Disk,
    dir: &Path,
    meta: &StoreMeta,
    no: u64,
    base_seq: u64,
) -> Result<(Segment, TailToken)> {
    let p = prepare(disk, dir, meta, no, false)?;
    let (seg, token) = activate(disk, p, meta, base_seq)?;
    seg.sync_published()?;
    Ok((seg, token))
}
