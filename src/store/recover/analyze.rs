//! Finding the end of the log (formats/recovery.md, steps 5 and 6): which segments are
//! sealed, the chain of frames through the others, where it breaks, the physical and the
//! committed end, and the evidence the scan itself turns up. Reads only.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::Context;
use super::files::{Header, Listing, SegFile};
use crate::disk::Disk;
use crate::error::{Error, Result};
use crate::frame::{self, Decoded};
use crate::index::SegmentIndex;
use crate::index::file::{self as index_file, IndexHeader};
use crate::segment::map::SegmentMap;
use crate::segment::scan::{Chain, Last, Scan, Stop};
use crate::segment::{self, Decode, INDEX_EXT, SegmentHeader};

/// A segment read frame by frame.
pub(crate) struct Scanned {
    /// Its place in the listing.
    pub file: usize,
    /// Its path.
    pub path: PathBuf,
    /// Its header.
    pub header: SegmentHeader,
    /// A read-only mapping of it (at most `segment_bytes`).
    pub map: SegmentMap,
    /// What the scan found.
    pub scan: Scan,
    /// The index the scan built.
    pub index: SegmentIndex,
}

/// Where the chain of frames breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BreakAt {
    /// The file.
    pub path: PathBuf,
    /// The offset.
    pub offset: u64,
    /// The seq expected there.
    pub seq: u64,
    /// What is there instead.
    pub why: String,
    /// A valid frame follows the break in the same segment.
    pub valid_after: bool,
}

/// A piece of durable evidence found in the log itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim {
    /// The seq the log must reach.
    pub seq: u64,
    /// Where the claim comes from.
    pub source: String,
    /// The claim is about frames (an index), not committed batches.
    pub physical: bool,
}

/// The end of the log.
pub(crate) struct Analysis {
    /// The first segment of the log (listing index).
    pub first: usize,
    /// Segments `first..sealed_end` are sealed: trusted until read.
    pub sealed_end: usize,
    /// The segments after them, scanned in order while the chain continued.
    pub scanned: Vec<Scanned>,
    /// The last frame of the chain.
    pub last: Option<Last>,
    /// One past the last frame of the chain (`P + 1`).
    pub next: u64,
    /// The last frame of the last committed batch (`C`).
    pub committed: u64,
    /// Where the chain breaks, if anything but zeros follows it.
    pub brk: Option<BreakAt>,
    /// Evidence from frames' durable points and index files.
    pub claims: Vec<Claim>,
}

impl Analysis {
    /// The scanned segment holding seq `seq` (the last one starting at or before it).
    pub fn scanned_holding(&self, seq: u64) -> Option<usize> {
        self.scanned.iter().rposition(|s| s.header.base_seq <= seq)
    }
}

/// Finds the end of the log in `listing`.
pub(crate) fn analyze(cx: &Context<'_>, listing: &Listing) -> Result<Analysis> {
    let segs = &listing.segments;
    let first = first_of_log(segs, cx.store.marks.log_start);
    // The first segment that is not valid, or does not follow its predecessor's number.
    let valid_end = (first..segs.len())
        .find(|&i| {
            !matches!(segs[i].header, Header::Valid(_)) || (i > first && segs[i].no != segs[i - 1].no + 1)
        })
        .unwrap_or(segs.len());
    check_bases(segs, first, valid_end, cx.store.marks.log_start)?;
    let sealed = last_sealed(cx.disk, segs, first, valid_end);
    // With nothing unsealed to scan, the last sealed segment is the tail again: scan it.
    let sealed_end = match sealed {
        Some((l, _)) if l + 1 == valid_end => l,
        Some((l, _)) => l + 1,
        None => first,
    };
    let (mut chain, mut last) = match sealed {
        Some((l, ix)) if sealed_end == l + 1 => chain_after_sealed(cx.disk, &segs[l], &ix),
        _ => {
            let base = segs.get(sealed_end).and_then(valid).map_or(cx.store.marks.log_start, |h| h.base_seq);
            (Chain::start(base), None)
        }
    };
    let mut a = Analysis {
        first,
        sealed_end,
        scanned: Vec::new(),
        last: None,
        next: 0,
        committed: 0,
        brk: None,
        claims: Vec::new(),
    };
    if let Some((l, ix)) = sealed {
        a.claims.push(Claim {
            seq: ix.last_seq(),
            source: format!("index {}", index_path(&segs[l].path).display()),
            physical: true,
        });
    }
    let probe = !cx.writer_live;
    let mut beyond = valid_end;
    for (i, seg) in segs.iter().enumerate().take(valid_end).skip(sealed_end) {
        let Some(h) = valid(seg) else { break };
        if h.base_seq != chain.seq {
            a.brk = Some(break_at(
                &seg.path,
                0,
                chain.seq,
                format!("segment starts at seq {} instead", h.base_seq),
                false,
            ));
            beyond = i;
            break;
        }
        let s = scan_file(cx.disk, i, seg, h, chain, probe)?;
        chain = s.scan.chain;
        last = s.scan.last.or(last);
        note_claim(&mut a.claims, s.scan.claim, &seg.path);
        let stop = s.scan.stop;
        if let Stop::Break(b) = stop {
            let why = b.why.to_string();
            a.brk = Some(break_at(&seg.path, s.scan.end as u64, chain.seq, why, b.valid_after.is_some()));
            note_claim(&mut a.claims, b.claim_after, &seg.path);
        }
        a.scanned.push(s);
        if matches!(stop, Stop::Break(_)) {
            beyond = i + 1;
            break;
        }
    }
    if a.scanned.is_empty() && a.sealed_end > first {
        // The segment after the last sealed one does not continue the log: that sealed
        // segment is the tail again.
        let l = a.sealed_end - 1;
        let h = valid(&segs[l]).ok_or_else(|| Error::corrupt(&segs[l].path, 0, None, "segment header"))?;
        let s = scan_file(cx.disk, l, &segs[l], h, Chain::start(h.base_seq), probe)?;
        chain = s.scan.chain;
        last = s.scan.last.or(last);
        a.sealed_end = l;
        a.scanned.push(s);
    }
    if a.brk.is_none() && beyond < segs.len() {
        a.brk = header_break(segs, beyond, chain.seq);
    }
    if probe {
        claims_beyond(cx, &segs[beyond..], &mut a.claims)?;
    }
    a.last = last;
    a.next = chain.seq;
    a.committed = match last {
        Some(l) if l.continues => l.seq - u64::from(l.position) - 1,
        _ => chain.seq - 1,
    };
    rescan_uncommitted_sealed(cx, segs, &mut a, probe)?;
    Ok(a)
}

/// A batch that runs from sealed segments into an unsynced one is not committed when its end
/// is lost (a power loss after the seal, before the batch's last sync): the segments it
/// starts in become the tail again, so that the cut can take it out of them.
fn rescan_uncommitted_sealed(
    cx: &Context<'_>,
    segs: &[SegFile],
    a: &mut Analysis,
    probe: bool,
) -> Result<()> {
    let start = a.committed + 1;
    if a.scanned.first().is_none_or(|s| s.header.base_seq <= start) {
        return Ok(());
    }
    let sealed = &segs[a.first..a.sealed_end];
    let Some(l) = sealed.iter().rposition(|f| valid(f).is_some_and(|h| h.base_seq <= start)) else {
        return Ok(());
    };
    let l = a.first + l;
    let mut chain = None;
    let mut rescanned = Vec::new();
    for (i, seg) in segs.iter().enumerate().take(a.sealed_end).skip(l) {
        let h = valid(seg).ok_or_else(|| Error::corrupt(&seg.path, 0, None, "segment header"))?;
        let s = scan_file(cx.disk, i, seg, h, chain.unwrap_or(Chain::start(h.base_seq)), probe)?;
        if let Stop::Break(b) = s.scan.stop {
            return Err(Error::corrupt(
                &seg.path,
                s.scan.end as u64,
                Some(s.scan.chain.seq),
                b.why.to_string(),
            ));
        }
        chain = Some(s.scan.chain);
        rescanned.push(s);
    }
    rescanned.append(&mut a.scanned);
    a.scanned = rescanned;
    a.sealed_end = l;
    Ok(())
}

/// The break at segment `i`, past the chain's end: a missing file, a damaged header, or a
/// header never written with more segments after it (a lone last one was prepared ahead).
fn header_break(segs: &[SegFile], i: usize, seq: u64) -> Option<BreakAt> {
    let f = &segs[i];
    if i > 0 && f.no != segs[i - 1].no + 1 {
        let missing = f.path.with_file_name(segment::file_name(segs[i - 1].no + 1, segment::SEGMENT_EXT));
        return Some(break_at(&missing, 0, seq, "segment file missing".into(), false));
    }
    let why = match f.header {
        Header::Invalid(e) => format!("segment header: {e}"),
        Header::Zero if i + 1 < segs.len() => "segment header never written, yet later segments exist".into(),
        Header::Zero => return None,
        Header::Valid(_) => "segment does not continue the log".into(),
    };
    Some(break_at(&f.path, 0, seq, why, false))
}

fn valid(f: &SegFile) -> Option<SegmentHeader> {
    match f.header {
        Header::Valid(h) => Some(h),
        _ => None,
    }
}

fn break_at(path: &Path, offset: u64, seq: u64, why: String, valid_after: bool) -> BreakAt {
    BreakAt { path: path.to_owned(), offset, seq, why, valid_after }
}

fn note_claim(claims: &mut Vec<Claim>, seq: u64, path: &Path) {
    if seq > 0 {
        claims.push(Claim {
            seq,
            source: format!("a frame's durable point in {}", path.display()),
            physical: false,
        });
    }
}

/// Segments wholly before `log_start` (an interrupted retention left them) are not part of
/// the log: the first segment of the log is the last one starting at or before it.
fn first_of_log(segs: &[SegFile], log_start: u64) -> usize {
    segs.iter().rposition(|f| valid(f).is_some_and(|h| h.base_seq <= log_start)).unwrap_or(0)
}

/// Base seqs must increase, and the log must begin where `STORE` says it does.
fn check_bases(segs: &[SegFile], first: usize, valid_end: usize, log_start: u64) -> Result<()> {
    if let Some(h) = segs.get(first).and_then(valid)
        && h.base_seq > log_start
    {
        let why = format!("the log starts at seq {log_start} but its first segment starts at {}", h.base_seq);
        return Err(Error::corrupt(&segs[first].path, 0, Some(log_start), why));
    }
    for pair in segs[first..valid_end].windows(2) {
        let (Some(a), Some(b)) = (valid(&pair[0]), valid(&pair[1])) else { continue };
        if b.base_seq <= a.base_seq {
            let why =
                format!("base seq {} does not follow the previous segment's {}", b.base_seq, a.base_seq);
            return Err(Error::corrupt(&pair[1].path, 0, None, why));
        }
    }
    Ok(())
}

/// The index file of `seg`.
pub(crate) fn index_path(seg: &Path) -> PathBuf {
    seg.with_extension(INDEX_EXT)
}

/// Reads and checks the header of an index file for segment `no` of this store (and, given
/// its segment's header, that segment's salt and base).
pub(crate) fn read_index_header(disk: &Disk, seg: &SegFile, store_id: u64) -> Option<IndexHeader> {
    let path = index_path(&seg.path);
    let mut buf = Vec::with_capacity(64);
    disk.open(&path).ok()?.take(64).read_to_end(&mut buf).ok()?;
    let ix = index_file::decode_header(&buf).ok()?;
    let ours = ix.store_id == store_id && ix.segment_no == seg.no;
    let matches = valid(seg).is_none_or(|h| h.salt == ix.salt && h.base_seq == ix.base_seq);
    (ours && matches).then_some(ix)
}

/// The last segment with a valid index file before `valid_end`: it and every segment
/// before it were synced when sealed.
fn last_sealed(
    disk: &Disk,
    segs: &[SegFile],
    first: usize,
    valid_end: usize,
) -> Option<(usize, IndexHeader)> {
    let store_id = (first..valid_end).find_map(|i| valid(&segs[i]))?.store_id;
    (first..valid_end).rev().find_map(|i| read_index_header(disk, &segs[i], store_id).map(|ix| (i, ix)))
}

/// The chain after a sealed segment, from its index header and its last frame.
fn chain_after_sealed(disk: &Disk, seg: &SegFile, ix: &IndexHeader) -> (Chain, Option<Last>) {
    let next = ix.base_seq + ix.records;
    let last = valid(seg).filter(|_| ix.records > 0).and_then(|h| {
        let file = disk.open(&seg.path).ok()?;
        let at = ix.last_frame_at as usize;
        let mut buf = vec![
            0u8;
            (ix.end as usize).checked_sub(at)?.min(
                crate::frame::FRAME_HEADER_BYTES + crate::limits::RECORD_BODY_BYTES_MAX as usize
            )
        ];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut buf, at as u64).ok()?;
        match frame::decode(&buf, 0, h.salt, h.layout()) {
            Decoded::Frame(f) if f.seq + 1 == next => {
                Some(Last { at, seq: f.seq, position: f.position(), continues: f.continues() })
            }
            _ => None,
        }
    });
    let position = last.map(|l| if l.continues { l.position + 1 } else { 0 });
    (Chain { seq: next, position }, last)
}

/// Maps segment `i` read-only and scans it along `chain`.
fn scan_file(
    disk: &Disk,
    i: usize,
    f: &SegFile,
    h: SegmentHeader,
    chain: Chain,
    probe: bool,
) -> Result<Scanned> {
    let map = map_read_only(disk, &f.path, f.len, h.segment_bytes)?;
    let (scan, index) = segment::scan_and_index(map.published(), &h, &f.path, chain, probe, Decode::Session)?;
    Ok(Scanned { file: i, path: f.path.clone(), header: h, map, scan, index })
}

/// A read-only mapping of at most `segment_bytes` of a segment file, all of it published.
pub(crate) fn map_read_only(disk: &Disk, path: &Path, len: u64, segment_bytes: u64) -> Result<SegmentMap> {
    let file = disk.open(path)?;
    let len =
        usize::try_from(len.min(segment_bytes)).map_err(|_| Error::corrupt(path, 0, None, "too long"))?;
    if len < segment::header::HEADER_BYTES {
        return Err(Error::corrupt(path, len as u64, None, "segment shorter than its header"));
    }
    let (mut map, _) = SegmentMap::map(disk, &file, path, len, false)?;
    map.set_end(len);
    Ok(map)
}

/// Evidence in the segments past the chain's end: index files, and the durable points of
/// the frames of those whose header is still valid.
fn claims_beyond(cx: &Context<'_>, beyond: &[SegFile], claims: &mut Vec<Claim>) -> Result<()> {
    for f in beyond {
        if let Some(ix) = read_index_header(cx.disk, f, cx.store.meta.store_id) {
            claims.push(Claim {
                seq: ix.last_seq(),
                source: format!("index {}", index_path(&f.path).display()),
                physical: true,
            });
        }
        let Some(h) = valid(f) else { continue };
        let map = map_read_only(cx.disk, &f.path, f.len, h.segment_bytes)?;
        let s = crate::segment::scan::scan(
            map.published(),
            h.salt,
            h.layout(),
            Chain::start(h.base_seq),
            true,
            |_, _| {},
        );
        let claim = match s.stop {
            Stop::Break(b) => s.claim.max(b.claim_after),
            Stop::Clean => s.claim,
        };
        note_claim(claims, claim, &f.path);
    }
    Ok(())
}

impl std::fmt::Debug for Scanned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanned").field("file", &self.file).field("scan", &self.scan).finish_non_exhaustive()
    }
}
