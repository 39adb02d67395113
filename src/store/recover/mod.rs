//! Recovery on open (formats/recovery.md): find the end of the log, weigh it against the
//! durable evidence, cut what was never durable, refuse what lost durable data.
//!
//! - `files`: what the directory holds (non-regular files refused).
//! - `analyze`: the chain of frames, its physical and committed end, evidence in the log.
//! - `report`: `RecoveryReport`, `TornTail`, `Loss`.
//!
//! The steps run in order: list, gather the evidence that needs no scan, analyze, judge,
//! then (writers only) apply the cut, and map the segments for use. Each apply step is
//! idempotent, so a crash during recovery leaves a store the next open recovers the same
//! way.

pub(crate) mod analyze;
pub(crate) mod files;
mod report;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::disk::Disk;
use crate::error::{Corruption, Error, Result};
use crate::meta::{Marks, StoreFile, StoreWriter};
use crate::segment::map::{SegmentMap, TailToken};
use crate::segment::scan::Stop;
use crate::segment::{self, Segment};
use crate::snapshot;
use analyze::{Analysis, Claim, Scanned};
use files::{Header, Listing, SegFile};
pub use report::{Loss, RecoveryReport, TornTail};

/// What recovery needs to know about the open.
pub(crate) struct Context<'a> {
    pub disk: &'a Disk,
    pub dir: &'a Path,
    pub store: &'a StoreFile,
    pub writable: bool,
    /// A read-only open beside a live writer: judge nothing at the tail.
    pub writer_live: bool,
}

/// The store as recovery leaves it.
pub(crate) struct Recovered {
    pub segments: Vec<Arc<Segment>>,
    /// The tail segment's token when opened for writing.
    pub token: Option<TailToken>,
    /// The seq the next append gets: one past the last committed seq.
    pub next_seq: u64,
    /// The unused segment file after the tail, prepared ahead by the last writer (writers).
    pub spare: Vec<super::prepare::Prepared>,
    pub report: RecoveryReport,
    /// First seq of the segments this open scanned frame by frame: everything before it
    /// lies in sealed segments, trusted through their indexes and not read. One past the
    /// log when nothing was scanned.
    pub scanned_from: u64,
}

/// Recovers the store in `cx.dir`. A writer passes the open `STORE` to record the new
/// high-water mark in.
pub(crate) fn recover(cx: &Context<'_>, store: Option<&mut StoreWriter>) -> Result<Recovered> {
    let mut report = RecoveryReport {
        writer_live: cx.writer_live,
        store_copy_damaged: cx.store.damaged.as_ref().map(|(slot, why)| {
            format!(
                "copy {} is damaged ({why}){}",
                ["A", "B"][*slot & 1],
                if cx.writable { "; rewritten" } else { "" }
            )
        }),
        ..RecoveryReport::default()
    };
    // Evidence is read before the directory is listed: beside a live writer, whatever it
    // speaks for was written (and is listed, and scanned) before it.
    let mut claims = evidence_before_scan(cx)?;
    let listing = files::list(cx.disk, cx.dir, cx.store)?;
    let a = analyze::analyze(cx, &listing)?;
    claims.extend(a.claims.iter().cloned());
    judge(cx, &a, &claims, &mut report)?;
    let cut = plan_cut(cx, &listing, &a, &mut report)?;
    if cx.writable {
        apply(cx, &listing, &a, &cut, &mut report)?;
    }
    let spare = match cut.reuse.filter(|_| cx.writable) {
        Some(i) => vec![reuse(cx, &listing.segments[i])?],
        None => Vec::new(),
    };
    let scanned_from = a.scanned.first().map_or(cut.committed + 1, |s| s.header.base_seq);
    let (segments, token) = map_for_use(cx, &listing, a, &cut, &mut report)?;
    if let Some(store) = store {
        // Everything kept is durable now (`apply` synced it): that is the new evidence.
        let marks = Marks { high_water: cut.committed.max(store.marks().high_water), ..store.marks() };
        if marks != store.marks() {
            store.update(cx.disk, marks)?;
        }
    }
    Ok(Recovered { segments, token, next_seq: cut.committed + 1, spare, report, scanned_from })
}

/// The unused segment a writer prepared ahead, mapped for the next roll.
fn reuse(cx: &Context<'_>, f: &SegFile) -> Result<super::prepare::Prepared> {
    let file = cx.disk.open_rw(&f.path)?;
    let len = usize::try_from(cx.store.meta.segment_bytes).unwrap_or(usize::MAX);
    let (map, token) = SegmentMap::map(cx.disk, &file, &f.path, len, true)?;
    let token = token.ok_or(Error::ReadOnly)?;
    Ok(super::prepare::Prepared { no: f.no, path: f.path.clone(), map, token })
}

/// `STORE`'s high-water mark and every snapshot header's seq.
fn evidence_before_scan(cx: &Context<'_>) -> Result<Vec<Claim>> {
    let mut claims = Vec::new();
    let h = cx.store.marks.high_water;
    if h > 0 {
        claims.push(Claim { seq: h, source: "STORE's high-water mark".into(), physical: false });
    }
    for info in snapshot::list(cx.dir)? {
        if let Ok(header) = snapshot::read_header(cx.disk, &info.path, cx.store.meta.store_id) {
            claims.push(Claim {
                seq: header.seq,
                source: format!("snapshot {}", info.path.display()),
                physical: false,
            });
        }
    }
    Ok(claims)
}

/// Refuses a store whose committed end is below its evidence (formats/recovery.md,
/// "Evidence"); a read-only open of one serves the prefix with the loss in its report.
fn judge(cx: &Context<'_>, a: &Analysis, claims: &[Claim], report: &mut RecoveryReport) -> Result<()> {
    // An index speaks for frames (a sealed segment may end inside a batch that runs on into
    // the next one); everything else for committed batches.
    let reached = |c: &&Claim| if c.physical { a.next - 1 } else { a.committed };
    let Some(best) = claims.iter().filter(|c| reached(c) < c.seq).max_by_key(|c| c.seq) else {
        return Ok(());
    };
    let at = match &a.brk {
        Some(b) => {
            Corruption { path: b.path.clone(), offset: b.offset, seq: Some(b.seq), what: b.why.clone() }
        }
        None => end_of_log(a),
    };
    let loss = Loss { at, last_seq: a.committed, durable: best.seq, evidence: best.source.clone() };
    let mid_log = a.brk.as_ref().is_some_and(|b| b.valid_after) && !cx.writer_live;
    if cx.writable || mid_log {
        let c = &loss.at;
        return Err(Error::corrupt(&c.path, c.offset, c.seq, loss.to_string()));
    }
    report.loss = Some(loss);
    Ok(())
}

/// Where a log that ends cleanly ends.
fn end_of_log(a: &Analysis) -> Corruption {
    let (path, offset) =
        a.scanned.last().map_or((PathBuf::new(), 0), |s| (s.path.clone(), s.scan.end as u64));
    Corruption { path, offset, seq: Some(a.next), what: "the log ends here".into() }
}

/// Where the log is cut: in scanned segment `tail` at `offset` (everything from there to
/// `garbage_end` is zeroed), every segment file after it removed.
struct Cut {
    /// Index into `Analysis::scanned`; `None` when no segment of the log is usable.
    tail: Option<usize>,
    offset: usize,
    garbage_end: usize,
    /// The last committed seq.
    committed: u64,
    /// Listing indexes of the segment files after the tail.
    remove: Vec<usize>,
    /// The one unused, full-length segment file right after the tail (the last writer's
    /// prepared one): kept for the next roll, not removed.
    reuse: Option<usize>,
}

fn plan_cut(cx: &Context<'_>, listing: &Listing, a: &Analysis, report: &mut RecoveryReport) -> Result<Cut> {
    let committed = a.committed;
    let Some(k) = a.scanned_holding(committed + 1) else {
        if !a.scanned.is_empty() || a.sealed_end > a.first {
            let why = "a batch that was never committed reaches into a sealed segment";
            return Err(Error::corrupt(cx.dir, 0, Some(committed + 1), why));
        }
        let remove = (0..listing.segments.len()).collect();
        return Ok(Cut { tail: None, offset: 0, garbage_end: 0, committed, remove, reuse: None });
    };
    let s = &a.scanned[k];
    let offset = offset_of(s, committed + 1)?;
    let garbage_end = match s.scan.stop {
        Stop::Break(b) => b.garbage_end,
        Stop::Clean => s.scan.end,
    };
    let mut remove: Vec<usize> = (s.file + 1..listing.segments.len()).collect();
    let prepared = |i: &usize| {
        let f = &listing.segments[*i];
        f.header == Header::Zero && f.len == cx.store.meta.segment_bytes
    };
    let reuse = (remove.len() == 1 && prepared(&remove[0])).then(|| remove[0]);
    if reuse.is_some() {
        remove.clear();
    }
    if committed + 1 < a.next {
        report.incomplete_batch = Some(committed + 1..=a.next - 1);
    }
    let beyond_data = remove.iter().any(|&i| !matches!(listing.segments[i].header, Header::Zero));
    if garbage_end > offset || beyond_data {
        let path = listing.segments[s.file].path.clone();
        let why = match (&a.brk, report.incomplete_batch.is_some()) {
            (Some(b), _) if b.path == path => b.why.clone(),
            // The cut is in an earlier segment than the break: a batch's end was lost.
            (Some(b), _) => format!(
                "a batch that was never committed (the log breaks in {} at offset {}: {})",
                b.path.display(),
                b.offset,
                b.why
            ),
            (None, true) => "a batch that was never committed".into(),
            (None, false) => "segments past the end of the log".into(),
        };
        let bytes = (garbage_end.max(offset) - offset) as u64;
        report.torn_tail = Some(TornTail { path, offset: offset as u64, bytes, why });
    }
    if cx.writer_live {
        // Beside a live writer, later segments are the writer's business: not a finding.
        report.torn_tail = None;
        report.incomplete_batch = None;
    }
    Ok(Cut { tail: Some(k), offset, garbage_end, committed, remove, reuse })
}

/// The offset of the frame of `seq` in a scanned segment (its end when `seq` is one past
/// its last frame).
fn offset_of(s: &Scanned, seq: u64) -> Result<usize> {
    if seq == s.scan.next_seq() {
        return Ok(s.scan.end);
    }
    let data = s.map.published();
    let (mut at_seq, at) =
        s.index.seek(seq).ok_or_else(|| Error::corrupt(&s.path, 0, Some(seq), "seq not in its segment"))?;
    let mut at = at as usize;
    while at_seq < seq {
        match crate::frame::decode(data, at, s.header.salt, s.header.layout()) {
            crate::frame::Decoded::Frame(f) => at += f.len(),
            _ => {
                return Err(Error::corrupt(
                    &s.path,
                    at as u64,
                    Some(at_seq),
                    "frame vanished while recovering",
                ));
            }
        }
        at_seq += 1;
    }
    Ok(at)
}

/// The writer's part: remove leftovers, cut, sync what is kept, write missing indexes.
fn apply(
    cx: &Context<'_>,
    listing: &Listing,
    a: &Analysis,
    cut: &Cut,
    report: &mut RecoveryReport,
) -> Result<()> {
    for t in &listing.temps {
        cx.disk.remove(t)?;
        report.removed_temp_files.push(t.clone());
    }
    for ix in &listing.orphan_indexes {
        cx.disk.remove(ix)?;
        report.removed_indexes.push(ix.clone());
    }
    let mut removed_any = !listing.temps.is_empty() || !listing.orphan_indexes.is_empty();
    let mut remove: Vec<usize> = (0..a.first).chain(cut.remove.iter().copied()).collect();
    remove.sort_unstable();
    remove.dedup();
    for i in remove {
        let f = &listing.segments[i];
        remove_with_index(cx.disk, f, report)?;
        report.removed_segments.push(f.path.clone());
        removed_any = true;
    }
    if let Some(k) = cut.tail {
        let f = &listing.segments[a.scanned[k].file];
        let ix = analyze::index_path(&f.path);
        if ix.exists() {
            cx.disk.remove(&ix)?;
            report.removed_indexes.push(ix);
            removed_any = true;
        }
        fit_tail(cx, f, cut, report)?;
        sync_scanned(cx, a, k, report)?;
    }
    if removed_any {
        cx.disk.sync_dir(cx.dir)?;
    }
    Ok(())
}

fn remove_with_index(disk: &Disk, f: &SegFile, report: &mut RecoveryReport) -> Result<()> {
    disk.remove(&f.path)?;
    let ix = analyze::index_path(&f.path);
    if ix.exists() {
        disk.remove(&ix)?;
        report.removed_indexes.push(ix);
    }
    Ok(())
}

/// Gives the tail segment file exactly `segment_bytes` of real blocks and zeroes what is
/// cut, syncing both.
fn fit_tail(cx: &Context<'_>, f: &SegFile, cut: &Cut, report: &mut RecoveryReport) -> Result<()> {
    let seg_bytes = cx.store.meta.segment_bytes;
    let file = cx.disk.open_rw(&f.path)?;
    if f.len > seg_bytes {
        cx.disk.set_len(&file, &f.path, seg_bytes)?;
        report.trimmed.push(f.path.clone());
    }
    if f.len < seg_bytes {
        // Bytes past the end of a cut file were never valid; give the file its blocks back.
        cx.disk.preallocate(&file, &f.path, seg_bytes)?;
        report.extended_tail = Some(f.path.clone());
    }
    if cut.garbage_end > cut.offset {
        let len = usize::try_from(seg_bytes).unwrap_or(usize::MAX);
        let (mut map, _) = SegmentMap::map(cx.disk, &file, &f.path, len, true)?;
        if let Some(bytes) = map.all_mut() {
            let end = cut.garbage_end.min(bytes.len());
            bytes[cut.offset..end].fill(0);
        }
        map.set_end(len);
        map.sync(cx.disk, &f.path, cut.offset, cut.garbage_end.min(len))?;
    }
    if f.len != seg_bytes {
        cx.disk.sync_file(&file, &f.path)?;
    }
    Ok(())
}

/// Syncs every scanned segment up to the tail (a crash may have left their pages in the
/// page cache only), and writes the index of each complete one before the tail, as sealing
/// would have.
fn sync_scanned(cx: &Context<'_>, a: &Analysis, tail: usize, report: &mut RecoveryReport) -> Result<()> {
    for (k, s) in a.scanned.iter().enumerate().take(tail + 1) {
        let path = &s.path;
        let file = cx.disk.open(path)?;
        cx.disk.sync_file(&file, path)?;
        if k < tail {
            let key = crate::index::file::IndexKey {
                store_id: s.header.store_id,
                salt: s.header.salt,
                segment_no: s.header.segment_no,
            };
            let ix = analyze::index_path(path);
            let name = ix.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            crate::index::file::publish(cx.disk, cx.dir, &name, key, &s.index)?;
            report.written_indexes.push(ix);
        }
    }
    Ok(())
}

/// The segments for use: sealed ones mapped read-only (indexes loaded lazily), scanned ones
/// with the index their scan built, the tail cut at the committed end (and writable for a
/// writer).
fn map_for_use(
    cx: &Context<'_>,
    listing: &Listing,
    a: Analysis,
    cut: &Cut,
    report: &mut RecoveryReport,
) -> Result<(Vec<Arc<Segment>>, Option<TailToken>)> {
    let meta = &cx.store.meta;
    let Some(tail) = cut.tail else {
        return fresh(cx, listing, a.first, report);
    };
    let mut segments = Vec::new();
    for f in &listing.segments[a.first..a.sealed_end] {
        let Header::Valid(h) = f.header else { continue };
        if f.len < meta.segment_bytes {
            let why = format!("sealed segment is {} bytes, its header says {}", f.len, meta.segment_bytes);
            return Err(Error::corrupt(&f.path, f.len, None, why));
        }
        let map = analyze::map_read_only(cx.disk, &f.path, f.len, meta.segment_bytes)?;
        segments.push(Arc::new(Segment::new(f.path.clone(), h, map, None, cx.disk)));
    }
    let mut token = None;
    for (k, s) in a.scanned.into_iter().enumerate().take(tail + 1) {
        let path = listing.segments[s.file].path.clone();
        if k < tail {
            let mut map = s.map;
            map.set_end(map.len());
            segments.push(Arc::new(Segment::new(path, s.header, map, Some(s.index), cx.disk)));
            continue;
        }
        let (seg, t) = open_tail(cx, path, s, cut.offset)?;
        token = t;
        segments.push(Arc::new(seg));
    }
    Ok((segments, token))
}

/// The tail segment, published up to `end`, with its index: writable for a writer.
fn open_tail(
    cx: &Context<'_>,
    path: PathBuf,
    s: Scanned,
    end: usize,
) -> Result<(Segment, Option<TailToken>)> {
    let len = usize::try_from(cx.store.meta.segment_bytes).unwrap_or(usize::MAX);
    let (mut map, token) = if cx.writable {
        let file = cx.disk.open_rw(&path)?;
        SegmentMap::map(cx.disk, &file, &path, len, true)?
    } else {
        (s.map, None)
    };
    map.set_end(end);
    let index = if end == s.scan.end {
        s.index
    } else {
        let data = &map.published()[..end];
        let chain = crate::segment::scan::Chain::start(s.header.base_seq);
        segment::scan_and_index(data, &s.header, &path, chain, false, segment::Decode::Session)?.1
    };
    Ok((Segment::new(path, s.header, map, Some(index), cx.disk), token))
}

/// A store none of whose segments holds any of the log: a writer starts it again with an
/// empty first segment; a reader has nothing to read.
fn fresh(
    cx: &Context<'_>,
    listing: &Listing,
    first: usize,
    report: &mut RecoveryReport,
) -> Result<(Vec<Arc<Segment>>, Option<TailToken>)> {
    let no = listing.segments.get(first).map_or(1, |f| f.no);
    if !cx.writable {
        return Ok((Vec::new(), None));
    }
    let log_start = cx.store.marks.log_start;
    let (seg, token) = super::prepare::create_segment(cx.disk, cx.dir, &cx.store.meta, no, log_start)?;
    let _ = report;
    Ok((vec![Arc::new(seg)], Some(token)))
}
