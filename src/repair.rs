//! `repair`: the explicit salvage of a damaged store (formats/recovery.md, "Repair"). It keeps
//! the committed log up to the first damage, moves what it cannot keep into `quarantine/`
//! (never deleting a damaged file), and commits the result by rewriting `STORE` last: until
//! then the store is the old one (still refused), after it the repaired one.

use std::fs;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use crate::disk::{self, Disk};
use crate::error::{Corruption, Error, IoContext, Result};
use crate::frame::{self, Decoded, Layout};
use crate::meta::{Marks, StoreFile, StoreMeta};
use crate::segment::header::HEADER_BYTES;
use crate::segment::map::SegmentMap;
use crate::segment::scan::{Chain, Stop};
use crate::segment::{self, Decode, INDEX_EXT, SEGMENT_EXT, SegmentHeader};
use crate::snapshot;
use crate::store::recover::files::QUARANTINE_DIR;

/// What `repair` found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RepairReport {
    /// Where the log first stops being a valid chain (`None`: it never does).
    pub damage: Option<Damage>,
    /// The last seq kept.
    pub kept_through: u64,
    /// Seqs the store's evidence says were durable that are not kept.
    pub lost: Option<RangeInclusive<u64>>,
    /// Valid frames found after the damage: kept in quarantine, not in the log.
    pub valid_beyond: Vec<Found>,
    /// Where the files that were moved out went.
    pub quarantine: Option<PathBuf>,
    /// Files moved into quarantine (a segment that was cut is copied there first).
    pub quarantined: Vec<PathBuf>,
    /// Index files removed (rebuilt on use).
    pub removed_indexes: Vec<PathBuf>,
    /// Snapshots removed: past the kept log, damaged, or no longer bound to it.
    pub removed_snapshots: Vec<(PathBuf, String)>,
    /// `STORE` was rewritten (damaged, or its evidence lowered to the kept log).
    pub store_rewritten: bool,
    /// Nothing was changed (`--dry-run`).
    pub dry_run: bool,
}

/// A located break in the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Damage {
    /// The file.
    pub path: PathBuf,
    /// Offset in it.
    pub offset: u64,
    /// The seq expected there.
    pub seq: u64,
    /// What is there instead.
    pub what: String,
}

/// Valid frames found in one file after the damage.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Found {
    /// The file.
    pub path: PathBuf,
    /// Their seqs (lowest to highest; there may be gaps).
    pub seqs: RangeInclusive<u64>,
    /// How many.
    pub frames: u64,
}

impl RepairReport {
    /// True when the store needed nothing.
    pub fn nothing_to_do(&self) -> bool {
        self.damage.is_none()
            && self.lost.is_none()
            && self.quarantined.is_empty()
            && self.removed_snapshots.is_empty()
            && self.removed_indexes.is_empty()
            && !self.store_rewritten
    }
}

/// A segment file as repair finds it.
struct Seg {
    no: u64,
    path: PathBuf,
    header: Option<SegmentHeader>,
    /// A read-only mapping of it (at most `segment_bytes`); `None` for a file that cannot
    /// be mapped (not a regular file, shorter than a header).
    map: Option<SegmentMap>,
}

impl Seg {
    fn bytes(&self) -> &[u8] {
        self.map.as_ref().map_or(&[], SegmentMap::published)
    }

    /// A header never written: a segment prepared ahead (an empty file counts, it was cut
    /// to nothing or never filled; non-regular files do not).
    fn unused(&self) -> bool {
        self.map.is_some() && self.bytes().get(..HEADER_BYTES).is_some_and(|h| h.iter().all(|&b| b == 0))
    }
}

/// Where the log is cut: segment `seg` keeps `[0, offset)`.
struct Cut {
    seg: Option<usize>,
    offset: usize,
}

/// Repairs the store in `dir` (see the module docs); with `dry_run`, only reports.
pub fn repair(dir: &Path, dry_run: bool) -> Result<RepairReport> {
    repair_with(dir, dry_run, &Disk::default())
}

/// `repair` through a given file-system seam (fault injection in tests).
#[doc(hidden)]
pub fn repair_with(dir: &Path, dry_run: bool, disk: &Disk) -> Result<RepairReport> {
    let disk = disk.clone();
    let _lock = crate::store::lock_for_maintenance(dir)?;
    let mut report = RepairReport { dry_run, ..RepairReport::default() };
    let (meta, marks) = store_identity(&disk, dir, &mut report)?;
    let segs = read_segments(&disk, dir, &meta)?;
    let (cut, committed) = walk(&segs, &meta, marks.log_start, &mut report)?;
    report.kept_through = committed;
    let evidence = evidence(&disk, dir, &meta, &segs, marks)?;
    if evidence > committed {
        report.lost = Some(committed + 1..=evidence);
    }
    let plan = plan(dir, &disk, &segs, &cut, committed, &meta, &mut report)?;
    if report.nothing_to_do() || dry_run {
        return Ok(report);
    }
    apply(&disk, dir, &segs, &cut, &plan, &meta, Marks { high_water: committed, ..marks }, &mut report)?;
    Ok(report)
}

/// `STORE`'s identity and evidence, or, both copies damaged, the identity the segment
/// headers repeat.
fn store_identity(disk: &Disk, dir: &Path, report: &mut RepairReport) -> Result<(StoreMeta, Marks)> {
    match StoreFile::load(disk, dir) {
        Ok(f) if f.version != crate::meta::VERSION => {
            Err(Error::NeedsMigration { path: dir.into(), version: f.version })
        }
        Ok(f) => {
            report.store_rewritten = f.damaged.is_some();
            Ok((f.meta, f.marks))
        }
        Err(Error::Corrupt(_)) => {
            report.store_rewritten = true;
            Ok((identity_from_segments(dir)?, Marks::default()))
        }
        Err(e) => Err(e),
    }
}

fn identity_from_segments(dir: &Path) -> Result<StoreMeta> {
    for (_, path) in segment_names(dir)? {
        let Ok(bytes) = read_head(&path) else { continue };
        if let Ok(h) = SegmentHeader::decode(&bytes) {
            let created_ns = fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(0));
            let keep_content = h.flags & crate::meta::FLAG_KEEP_CONTENT != 0;
            return Ok(StoreMeta {
                store_id: h.store_id,
                segment_bytes: h.segment_bytes,
                keep_content,
                created_ns,
            });
        }
    }
    Err(Error::corrupt(
        dir.join(crate::meta::STORE_FILE),
        0,
        None,
        "STORE and every segment header are damaged",
    ))
}

fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut buf = Vec::with_capacity(HEADER_BYTES);
    fs::File::open(path)?.take(HEADER_BYTES as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

fn segment_names(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).ctx("list", dir)? {
        let entry = entry.ctx("list", dir)?;
        if let Some(no) = entry.file_name().to_str().and_then(|n| segment::parse_file_name(n, SEGMENT_EXT)) {
            out.push((no, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Every segment file, mapped (a non-regular or headerless file maps as nothing: damage).
fn read_segments(disk: &Disk, dir: &Path, meta: &StoreMeta) -> Result<Vec<Seg>> {
    let mut out = Vec::new();
    for (no, path) in segment_names(dir)? {
        let len = disk::check_regular(&path).map_or(0, |m| m.len());
        let map = if len >= HEADER_BYTES as u64 {
            Some(crate::store::recover::analyze::map_read_only(disk, &path, len, meta.segment_bytes)?)
        } else {
            None
        };
        let bytes = map.as_ref().map_or(&[][..], SegmentMap::published);
        let header = SegmentHeader::decode(bytes).ok().filter(|h| {
            h.store_id == meta.store_id
                && h.segment_no == no
                && h.segment_bytes == meta.segment_bytes
                && h.version == segment::header::VERSION
                && h.flags == meta.flags()
        });
        out.push(Seg { no, path, header, map });
    }
    Ok(out)
}

/// Follows the chain through every segment to the first break; returns where to cut (after
/// the last committed frame) and that frame's seq.
fn walk(segs: &[Seg], meta: &StoreMeta, log_start: u64, report: &mut RepairReport) -> Result<(Cut, u64)> {
    let first = segs.iter().rposition(|s| s.header.is_some_and(|h| h.base_seq <= log_start)).unwrap_or(0);
    // The log begins at `log_start`: a first segment that starts later lost what came before.
    let mut chain = Chain::start(log_start);
    if let Some(h) = segs.get(first).and_then(|s| s.header)
        && h.base_seq < log_start
    {
        chain = Chain::start(h.base_seq);
    }
    let mut last = None;
    let mut ends = Vec::new();
    for (i, s) in segs.iter().enumerate().skip(first) {
        let damage = |offset: usize, seq: u64, what: String| Damage {
            path: s.path.clone(),
            offset: offset as u64,
            seq,
            what,
        };
        // The segment the last writer prepared ahead (and any after it) holds nothing yet.
        if segs[i..].iter().all(Seg::unused) {
            break;
        }
        let contiguous = i == first || segs[i - 1].no + 1 == s.no;
        let Some(h) = s.header.filter(|h| contiguous && h.base_seq == chain.seq) else {
            report.damage =
                Some(damage(0, chain.seq, "segment header missing, damaged or out of place".into()));
            break;
        };
        let scanned = segment::scan_and_index(s.bytes(), &h, &s.path, chain, false, Decode::Full);
        let (scan, _) = match scanned {
            Ok(x) => x,
            Err(Error::Corrupt(c)) => {
                report.damage = Some(damage(
                    usize::try_from(c.offset).unwrap_or(usize::MAX),
                    c.seq.unwrap_or(chain.seq),
                    c.what,
                ));
                break;
            }
            Err(e) => return Err(e),
        };
        chain = scan.chain;
        last = scan.last.map(|l| (i, l)).or(last);
        ends.push((i, scan.end));
        if let Stop::Break(b) = scan.stop {
            report.damage = Some(damage(scan.end, chain.seq, b.why.to_string()));
            break;
        }
    }
    if report.damage.is_some() {
        report.valid_beyond = valid_beyond(segs, meta, report.damage.as_ref());
    }
    let committed = match last {
        Some((_, l)) if l.continues => l.seq - u64::from(l.position) - 1,
        _ => chain.seq - 1,
    };
    let cut = cut_at(segs, &ends, committed + 1);
    Ok((cut, committed))
}

/// The offset of seq `seq` (the first not kept) in the segments walked.
fn cut_at(segs: &[Seg], ends: &[(usize, usize)], seq: u64) -> Cut {
    let Some(&(i, end)) = ends.iter().rev().find(|(i, _)| segs[*i].header.is_some_and(|h| h.base_seq <= seq))
    else {
        return Cut { seg: None, offset: 0 };
    };
    let Some(h) = segs[i].header else { return Cut { seg: None, offset: 0 } };
    let mut at = HEADER_BYTES;
    let mut s = h.base_seq;
    while s < seq && at < end {
        match frame::decode(segs[i].bytes(), at, h.salt, Layout::V2) {
            Decoded::Frame(f) => at += f.len(),
            _ => break,
        }
        s += 1;
    }
    Cut { seg: Some(i), offset: at }
}

/// Valid frames after the damage, per file, for the report.
fn valid_beyond(segs: &[Seg], meta: &StoreMeta, damage: Option<&Damage>) -> Vec<Found> {
    let Some(d) = damage else { return Vec::new() };
    let mut out = Vec::new();
    for s in segs.iter().filter(|s| s.path >= d.path) {
        let bytes = s.bytes();
        let Some(h) = SegmentHeader::decode(bytes).ok().filter(|h| h.store_id == meta.store_id) else {
            continue;
        };
        let from = if s.path == d.path {
            usize::try_from(d.offset).unwrap_or(usize::MAX).saturating_add(1)
        } else {
            HEADER_BYTES
        };
        let (mut lo, mut hi, mut n) = (u64::MAX, 0, 0);
        let mut at = from;
        while at + frame::FRAME_HEADER_BYTES <= bytes.len() {
            match frame::decode(bytes, at, h.salt, h.layout()) {
                Decoded::Frame(f) => {
                    (lo, hi, n) = (lo.min(f.seq), hi.max(f.seq), n + 1);
                    at += f.len();
                }
                _ => at += 1,
            }
        }
        if n > 0 {
            out.push(Found { path: s.path.clone(), seqs: lo..=hi, frames: n });
        }
    }
    out
}

/// The largest seq the store's evidence vouches for (formats/recovery.md, "Evidence").
fn evidence(disk: &Disk, dir: &Path, meta: &StoreMeta, segs: &[Seg], marks: Marks) -> Result<u64> {
    let mut e = marks.high_water;
    for info in snapshot::list(dir)? {
        if let Ok(h) = snapshot::read_header(disk, &info.path, meta.store_id) {
            e = e.max(h.seq);
        }
    }
    for s in segs {
        let ix = s.path.with_extension(INDEX_EXT);
        let Ok(bytes) = read_head(&ix) else { continue };
        if let Ok(h) = crate::index::file::decode_header(&bytes)
            && h.store_id == meta.store_id
            && h.segment_no == s.no
        {
            e = e.max(h.last_seq());
        }
    }
    Ok(e)
}

/// What will change: files to move out, indexes and snapshots to remove.
struct Plan {
    /// Segment files after the cut one (moved to quarantine).
    move_out: Vec<usize>,
    /// The cut segment must be rewritten (it has bytes past the cut).
    rewrite: bool,
    /// Kept segment files of the wrong length (cut or grown by damage), whose frames are
    /// intact: given back exactly `segment_bytes`.
    resize: Vec<usize>,
    indexes: Vec<PathBuf>,
    snapshots: Vec<(PathBuf, String)>,
}

fn plan(
    dir: &Path,
    disk: &Disk,
    segs: &[Seg],
    cut: &Cut,
    committed: u64,
    meta: &StoreMeta,
    report: &mut RepairReport,
) -> Result<Plan> {
    let keep = cut.seg.map_or(0, |i| i + 1);
    // Segments after the cut go, but for the one a writer prepared ahead (nothing in it).
    let move_out: Vec<usize> = (keep..segs.len()).filter(|&i| !segs[i..].iter().all(Seg::unused)).collect();
    let rewrite = cut.seg.is_some_and(|i| {
        let b = segs[i].bytes();
        b[cut.offset.min(b.len())..].iter().any(|&x| x != 0)
    });
    let mut indexes: Vec<PathBuf> = Vec::new();
    let tail_and_later = cut.seg.map_or(0, |i| i);
    for s in &segs[tail_and_later.min(segs.len())..] {
        let ix = s.path.with_extension(INDEX_EXT);
        if ix.exists() {
            indexes.push(ix);
        }
    }
    let mut snapshots = Vec::new();
    for info in snapshot::list(dir)? {
        let why = match snapshot::read_header(disk, &info.path, meta.store_id) {
            Err(why) => Some(format!("damaged: {why}")),
            Ok(h) if h.seq > committed => Some(format!("past the kept log (seq {} > {committed})", h.seq)),
            Ok(h) if bound(segs, &h) => None,
            Ok(_) => Some("does not bind to the kept log".into()),
        };
        if let Some(why) = why {
            snapshots.push((info.path, why));
        }
    }
    let resize: Vec<usize> = (0..keep)
        .filter(|&i| Some(i) != cut.seg.filter(|_| rewrite))
        .filter(|&i| fs::metadata(&segs[i].path).is_ok_and(|m| m.len() != meta.segment_bytes))
        .collect();
    report.removed_indexes = indexes.clone();
    report.removed_snapshots = snapshots.clone();
    let mut quarantined: Vec<PathBuf> =
        move_out.iter().chain(&resize).map(|&i| segs[i].path.clone()).collect();
    if rewrite && let Some(i) = cut.seg {
        quarantined.insert(0, segs[i].path.clone());
    }
    report.quarantined = quarantined;
    if !report.quarantined.is_empty() {
        report.quarantine =
            Some(dir.join(QUARANTINE_DIR).join(format!("repair-{}", crate::io_util::now_ns())));
    }
    Ok(Plan { move_out, rewrite, resize, indexes, snapshots })
}

/// Whether a snapshot's frame is in the segments, unchanged.
fn bound(segs: &[Seg], h: &crate::snapshot::file::SnapshotHeader) -> bool {
    segs.iter().any(|s| {
        s.header.is_some_and(|sh| {
            sh.salt == h.bind.salt && {
                let (scan_seq, mut at) = (sh.base_seq, HEADER_BYTES);
                let mut seq = scan_seq;
                loop {
                    match frame::decode(s.bytes(), at, sh.salt, sh.layout()) {
                        Decoded::Frame(f) if f.seq == h.seq => break f.crc == h.bind.crc,
                        Decoded::Frame(f) if f.seq == seq && f.seq < h.seq => {
                            at += f.len();
                            seq += 1;
                        }
                        _ => break false,
                    }
                }
            }
        })
    })
}

#[expect(clippy::too_many_arguments, reason = "one call, from `repair`, with everything it decided")]
fn apply(
    disk: &Disk,
    dir: &Path,
    segs: &[Seg],
    cut: &Cut,
    plan: &Plan,
    meta: &StoreMeta,
    marks: Marks,
    report: &mut RepairReport,
) -> Result<()> {
    if let Some(q) = &report.quarantine {
        fs::create_dir_all(q).ctx("create directory", q)?;
        disk.sync_dir(q)?;
        disk.sync_dir(&dir.join(QUARANTINE_DIR))?;
        disk.sync_dir(dir)?;
        let json = serde_json::to_vec_pretty(&*report).unwrap_or_default();
        disk.write_atomic(q, "report.json", &json)?;
    }
    if let (true, Some(i), Some(q)) = (plan.rewrite, cut.seg, &report.quarantine) {
        let s = &segs[i];
        disk.write_atomic(q, &file_name(&s.path), s.bytes())?;
        let mut kept = vec![0u8; usize::try_from(meta.segment_bytes).unwrap_or(usize::MAX)];
        kept[..cut.offset].copy_from_slice(&s.bytes()[..cut.offset]);
        disk.write_atomic(dir, &file_name(&s.path), &kept)?;
    }
    if let Some(q) = &report.quarantine {
        for &i in &plan.resize {
            let s = &segs[i];
            disk.write_atomic(q, &file_name(&s.path), &fs::read(&s.path).ctx("read", &s.path)?)?;
            let file = disk.open_rw(&s.path)?;
            disk.set_len(&file, &s.path, meta.segment_bytes)?;
            disk.preallocate(&file, &s.path, meta.segment_bytes)?;
            disk.sync_file(&file, &s.path)?;
        }
        for &i in &plan.move_out {
            disk.rename(&segs[i].path, &q.join(file_name(&segs[i].path)))?;
        }
        disk.sync_dir(q)?;
    }
    for ix in &plan.indexes {
        if ix.exists() {
            disk.remove(ix)?;
        }
    }
    // Index files whose segment is gone (moved out by an earlier, interrupted run) would
    // otherwise speak for a segment a later writer creates under the same number.
    for ix in orphan_indexes(dir)? {
        disk.remove(&ix)?;
        report.removed_indexes.push(ix);
    }
    disk.sync_dir(dir)?;
    let snaps: Vec<PathBuf> = plan.snapshots.iter().map(|(p, _)| p.clone()).collect();
    snapshot::remove(disk, dir, &snaps)?;
    if cut.seg.is_none() {
        // Nothing of the log survives: start it again where it started.
        crate::store::fresh_first_segment(
            disk,
            dir,
            meta,
            segs.first().map_or(1, |s| s.no),
            marks.log_start,
        )?;
    }
    let generation = StoreFile::load(disk, dir).map_or(1, |f| f.generation + 1);
    StoreFile::publish(disk, dir, meta, marks, generation)?;
    report.store_rewritten = true;
    Ok(())
}

/// Index files with no segment file beside them.
fn orphan_indexes(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).ctx("list", dir)? {
        let p = entry.ctx("list", dir)?.path();
        let named =
            p.file_name().and_then(|n| n.to_str()).and_then(|n| segment::parse_file_name(n, INDEX_EXT));
        if named.is_some() && !p.with_extension(SEGMENT_EXT).exists() {
            out.push(p);
        }
    }
    Ok(out)
}

fn file_name(p: &Path) -> String {
    p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned()
}

impl From<&Damage> for Corruption {
    fn from(d: &Damage) -> Corruption {
        Corruption { path: d.path.clone(), offset: d.offset, seq: Some(d.seq), what: d.what.clone() }
    }
}
