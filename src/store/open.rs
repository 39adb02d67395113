//! Recovery on open: find the segments, check their headers, find the valid tail, cut a torn
//! tail, refuse corruption with its location.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, IoContext, Result};
use crate::header::HeaderError;
use crate::io_util::{self, TMP_SUFFIX};
use crate::meta::StoreMeta;
use crate::segment::header::HEADER_BYTES;
use crate::segment::map::{SegmentMap, TailToken};
use crate::segment::scan::Stop;
use crate::segment::{self, SEGMENT_EXT, Segment, SegmentHeader};

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// A torn tail that was cut (or, read-only, that would be).
    pub torn_tail: Option<TornTail>,
    /// Segment files removed because they were never used or their header was torn in a roll.
    pub removed_segments: Vec<PathBuf>,
    /// Leftover temporary files removed.
    pub removed_temp_files: Vec<PathBuf>,
    /// A tail segment file found shorter than preallocated, and extended again.
    pub extended_tail: Option<PathBuf>,
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

pub(super) struct Recovered {
    pub segments: Vec<Arc<Segment>>,
    /// The tail segment's token when opened for writing.
    pub token: Option<TailToken>,
    pub next_seq: u64,
    pub report: RecoveryReport,
}

/// A segment file before it is mapped.
struct Found {
    no: u64,
    path: PathBuf,
}

pub(super) fn recover(dir: &Path, meta: &StoreMeta, writable: bool) -> Result<Recovered> {
    let mut report = RecoveryReport::default();
    let mut found = list_segments(dir, writable, &mut report)?;
    let mut headers = Vec::with_capacity(found.len());
    for (i, f) in found.iter().enumerate() {
        match read_header(&f.path, f.no, meta)? {
            Ok(h) => headers.push(h),
            // Only trailing segments may lack a header: one prepared ahead, or torn in a roll.
            Err(why) if unused_tail(&f.path)? => {
                for (k, f) in found[i..].iter().enumerate() {
                    // The one prepared ahead is kept for the writer; others are removed.
                    if k == 0 && why == HeaderError::Zero {
                        continue;
                    }
                    if writable {
                        fs::remove_file(&f.path).ctx("remove", &f.path)?;
                    }
                    report.removed_segments.push(f.path.clone());
                }
                break;
            }
            Err(why) => {
                return Err(Error::corrupt(&f.path, 0, None, format!("segment header: {why}")));
            }
        }
    }
    found.truncate(headers.len());
    if writable && !report.removed_segments.is_empty() {
        io_util::sync_dir(dir)?;
    }
    if headers.is_empty() {
        return fresh(dir, meta, writable, &report, found.first().map_or(1, |f| f.no));
    }
    check_continuity(&found, &headers)?;
    let mut segments = Vec::with_capacity(found.len());
    let last = found.len() - 1;
    for (i, (f, h)) in found.iter().zip(&headers).enumerate() {
        if i < last {
            segments.push(Arc::new(open_sealed(f, h)?));
        }
    }
    let (tail, token, next_seq) = open_tail(&found[last], &headers[last], writable, &mut report)?;
    segments.push(Arc::new(tail));
    Ok(Recovered { segments, token, next_seq, report })
}

/// A store whose every segment was unused: start it again with an empty first segment.
fn fresh(
    dir: &Path,
    meta: &StoreMeta,
    writable: bool,
    report: &RecoveryReport,
    no: u64,
) -> Result<Recovered> {
    if !writable {
        return Err(Error::NotAStore { path: dir.to_owned(), why: "no segment with a valid header".into() });
    }
    let (seg, token) = create_segment(dir, meta, no, 1)?;
    Ok(Recovered { segments: vec![Arc::new(seg)], token: Some(token), next_seq: 1, report: report.clone() })
}

/// Creates segment `no` starting at `base_seq`, header written.
pub(super) fn create_segment(
    dir: &Path,
    meta: &StoreMeta,
    no: u64,
    base_seq: u64,
) -> Result<(Segment, TailToken)> {
    let p = prepare(dir, meta, no, false)?;
    Ok((activate(p.path, p.map, meta, no, base_seq)?, p.token))
}

/// A segment file created ahead of need: preallocated, zeroed, mapped, its directory entry
/// durable, no header yet.
pub(super) struct Prepared {
    pub no: u64,
    pub path: PathBuf,
    pub map: SegmentMap,
    pub token: TailToken,
}

/// Creates segment file `no`, or takes the unused one recovery left in place. `prefault`
/// faults its pages in now so the first writes to it take no page faults.
pub(super) fn prepare(dir: &Path, meta: &StoreMeta, no: u64, prefault: bool) -> Result<Prepared> {
    let path = dir.join(segment::file_name(no, SEGMENT_EXT));
    let file = match OpenOptions::new().read(true).write(true).open(&path) {
        // Recovery checked it is unused (no header, no data); make sure it has all its blocks.
        Ok(file) => {
            io_util::preallocate(&file, meta.segment_bytes).ctx("preallocate", &path)?;
            file
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            io_util::create_preallocated(&path, meta.segment_bytes)?
        }
        Err(e) => return Err(Error::io("open", path, e)),
    };
    file.sync_all().ctx("fsync", &path)?;
    io_util::sync_dir(dir)?;
    let (map, token) = SegmentMap::map(&file, true, &path)?;
    if prefault {
        map.prefault(0);
    }
    let token = token.ok_or(Error::ReadOnly)?;
    Ok(Prepared { no, path, map, token })
}

/// Writes the header into a prepared (zeroed, mapped) segment and wraps it.
pub(super) fn activate(
    path: PathBuf,
    mut map: SegmentMap,
    meta: &StoreMeta,
    no: u64,
    base_seq: u64,
) -> Result<Segment> {
    let header = SegmentHeader {
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
    Ok(Segment::new(path, header, map, Some(index)))
}

fn list_segments(dir: &Path, writable: bool, report: &mut RecoveryReport) -> Result<Vec<Found>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).ctx("list", dir)? {
        let entry = entry.ctx("list", dir)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(TMP_SUFFIX) {
            if writable {
                fs::remove_file(entry.path()).ctx("remove", &entry.path())?;
            }
            report.removed_temp_files.push(entry.path());
        } else if let Some(no) = segment::parse_file_name(name, SEGMENT_EXT) {
            found.push(Found { no, path: entry.path() });
        }
    }
    found.sort_by_key(|f| f.no);
    for pair in found.windows(2) {
        if pair[1].no != pair[0].no + 1 {
            let missing = dir.join(segment::file_name(pair[0].no + 1, SEGMENT_EXT));
            return Err(Error::corrupt(missing, 0, None, "segment file missing from the middle of the log"));
        }
    }
    if found.is_empty() {
        return Err(Error::NotAStore { path: dir.to_owned(), why: "no segment files".into() });
    }
    Ok(found)
}

/// Reads and checks a segment header. The outer error is I/O or a foreign segment; the inner
/// one a header that does not decode.
fn read_header(
    path: &Path,
    no: u64,
    meta: &StoreMeta,
) -> Result<std::result::Result<SegmentHeader, HeaderError>> {
    let mut buf = Vec::with_capacity(HEADER_BYTES);
    File::open(path).and_then(|f| f.take(HEADER_BYTES as u64).read_to_end(&mut buf)).ctx("read", path)?;
    let h = match SegmentHeader::decode(&buf) {
        Ok(h) => h,
        Err(e) => return Ok(Err(e)),
    };
    let wrong = |what: String| Err(Error::corrupt(path, 0, None, what));
    if h.store_id != meta.store_id {
        return wrong(format!("segment of another store (id {:#x})", h.store_id));
    }
    if h.segment_no != no {
        return wrong(format!("header says segment {} but the file name says {no}", h.segment_no));
    }
    if h.segment_bytes < HEADER_BYTES as u64 || h.segment_bytes > crate::limits::SEGMENT_BYTES_MAX {
        return wrong(format!("segment size {} out of range", h.segment_bytes));
    }
    Ok(Ok(h))
}

/// A segment with no valid header is an unused tail when nothing was written after its
/// header: prepared ahead and never used, or torn while being activated.
fn unused_tail(path: &Path) -> Result<bool> {
    let mut buf = Vec::with_capacity(4096);
    File::open(path).and_then(|f| f.take(4096).read_to_end(&mut buf)).ctx("read", path)?;
    Ok(buf.get(HEADER_BYTES..).is_none_or(|data| data.iter().all(|&b| b == 0)))
}

fn check_continuity(found: &[Found], headers: &[SegmentHeader]) -> Result<()> {
    for (pair, f) in headers.windows(2).zip(&found[1..]) {
        if pair[1].base_seq <= pair[0].base_seq {
            return Err(Error::corrupt(
                &f.path,
                0,
                None,
                format!(
                    "base seq {} does not follow the previous segment's {}",
                    pair[1].base_seq, pair[0].base_seq
                ),
            ));
        }
    }
    Ok(())
}

fn open_sealed(f: &Found, h: &SegmentHeader) -> Result<Segment> {
    let file = File::open(&f.path).ctx("open", &f.path)?;
    let len = file.metadata().ctx("stat", &f.path)?.len();
    if len != h.segment_bytes {
        return Err(Error::corrupt(
            &f.path,
            len,
            None,
            format!("sealed segment is {len} bytes, its header says {}", h.segment_bytes),
        ));
    }
    let (mut map, _) = SegmentMap::map(&file, false, &f.path)?;
    map.set_end(map.len());
    Ok(Segment::new(f.path.clone(), *h, map, None))
}

fn open_tail(
    f: &Found,
    h: &SegmentHeader,
    writable: bool,
    report: &mut RecoveryReport,
) -> Result<(Segment, Option<TailToken>, u64)> {
    let file = OpenOptions::new().read(true).write(writable).open(&f.path).ctx("open", &f.path)?;
    let len = file.metadata().ctx("stat", &f.path)?.len();
    if len < h.segment_bytes && writable {
        // Bytes past the end of a cut file were never valid; give the file its blocks back.
        io_util::preallocate(&file, h.segment_bytes).ctx("preallocate", &f.path)?;
        file.sync_all().ctx("fsync", &f.path)?;
        report.extended_tail = Some(f.path.clone());
    }
    let (mut map, token) = SegmentMap::map(&file, writable, &f.path)?;
    map.set_end(map.len());
    let (scan, index) = segment::scan_and_index(map.published(), h, &f.path, segment::Decode::Session)?;
    match scan.stop {
        Stop::Clean => {}
        Stop::Torn { why, garbage_end } => {
            report.torn_tail = Some(TornTail {
                path: f.path.clone(),
                offset: scan.end as u64,
                bytes: (garbage_end - scan.end) as u64,
                why: why.to_string(),
            });
            if let Some(bytes) = map.all_mut() {
                bytes[scan.end..garbage_end].fill(0);
                map.sync(scan.end, garbage_end).ctx("msync", &f.path)?;
            }
        }
        Stop::Corrupt { why, next_valid_at, next_valid_seq } => {
            return Err(Error::corrupt(
                &f.path,
                scan.end as u64,
                Some(scan.next_seq(h.base_seq)),
                format!("{why}, yet a valid frame (seq {next_valid_seq}) follows at offset {next_valid_at}"),
            ));
        }
    }
    map.set_end(scan.end);
    let next_seq = scan.next_seq(h.base_seq);
    Ok((Segment::new(f.path.clone(), *h, map, Some(index)), token, next_seq))
}
