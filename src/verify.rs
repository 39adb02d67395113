//! `verify`: a read-only check of every byte the store relies on — every frame, CRC, seq,
//! body, segment header and index — reporting each problem with its location.

use std::path::{Path, PathBuf};

use crate::error::{Corruption, Error, Result};
use crate::segment::Segment;
use crate::segment::scan::Stop;
use crate::store::{OpenOptions, Store};

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Segments checked.
    pub segments: usize,
    /// Records checked.
    pub records: u64,
    /// Seq of the last valid record (0 when empty).
    pub last_seq: u64,
    /// Damage: the store is not sound (the CLI exits 3).
    pub problems: Vec<Problem>,
    /// Things recovery repairs by itself: a torn tail, a missing or stale index.
    pub notes: Vec<String>,
}

/// One located problem.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The file.
    pub path: PathBuf,
    /// Byte offset in it.
    pub offset: u64,
    /// The seq concerned, when known.
    pub seq: Option<u64>,
    /// What is wrong.
    pub what: String,
}

impl From<Corruption> for Problem {
    fn from(c: Corruption) -> Self {
        Problem { path: c.path, offset: c.offset, seq: c.seq, what: c.what }
    }
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the store in `dir` without changing any byte and without taking the writer
/// lock. Corruption is reported in the result; `Err` is for I/O errors and non-stores.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let store = match Store::open(dir, &OpenOptions::read_only()) {
        Ok(s) => s,
        Err(Error::Corrupt(c)) => {
            report.problems.push((*c).into());
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
    if let Some(t) = &store.recovery_report().torn_tail {
        report.notes.push(format!(
            "torn tail in {} at offset {}: {} bytes ({}); the next writer cuts it",
            t.path.display(),
            t.offset,
            t.bytes,
            t.why
        ));
    }
    let segments = store.segments();
    report.segments = segments.len();
    for (i, seg) in segments.iter().enumerate() {
        let next_seq = segments.get(i + 1).map(|n| n.header.base_seq);
        if let Err(p) = check_segment(seg, next_seq, &mut report) {
            report.problems.push(p);
        }
    }
    report.last_seq = store.last_seq();
    check_snapshots(&store, &mut report)?;
    Ok(report)
}

/// Every snapshot must decode, match its hash and store, and not be ahead of the log.
/// Recovery would skip a bad one, so it is damage but not data loss.
fn check_snapshots(store: &Store, report: &mut VerifyReport) -> Result<()> {
    for info in store.snapshots()? {
        if info.seq > report.last_seq {
            report.notes.push(format!(
                "snapshot {} is ahead of the log (seq {} > last seq {}); recovery skips it",
                info.path.display(),
                info.seq,
                report.last_seq
            ));
            continue;
        }
        if let Err(why) = store.load_snapshot(&info) {
            report.problems.push(Problem { path: info.path, offset: 0, seq: Some(info.seq), what: why });
        }
    }
    Ok(())
}

/// Scans one segment completely, decoding every body; checks its index file when sealed.
fn check_segment(seg: &Segment, next_seq: Option<u64>, report: &mut VerifyReport) -> Result<(), Problem> {
    let (scan, index) = seg.scan_and_decode().map_err(problem)?;
    report.records += scan.records;
    let located = |what: String| Problem {
        path: seg.path.clone(),
        offset: scan.end as u64,
        seq: Some(scan.next_seq(seg.header.base_seq)),
        what,
    };
    if let Stop::Corrupt { why, next_valid_at, next_valid_seq } = scan.stop {
        return Err(located(format!(
            "{why}, yet a valid frame (seq {next_valid_seq}) follows at offset {next_valid_at}"
        )));
    }
    let Some(next_seq) = next_seq else {
        return Ok(());
    };
    if scan.next_seq(seg.header.base_seq) != next_seq || scan.stop != Stop::Clean {
        return Err(located(format!(
            "sealed segment ends at seq {} but the next segment starts at {next_seq}",
            scan.next_seq(seg.header.base_seq)
        )));
    }
    check_index_file(seg, &index, next_seq, report);
    Ok(())
}

fn check_index_file(
    seg: &Segment,
    rebuilt: &crate::index::SegmentIndex,
    next_seq: u64,
    report: &mut VerifyReport,
) {
    let path = seg.index_path();
    let verdict = seg
        .load_index_file(next_seq)
        .and_then(|ix| if &ix == rebuilt { Ok(()) } else { Err("differs from the segment".into()) });
    if let Err(why) = verdict {
        report.notes.push(format!("index {}: {why}; rebuilt on next use", path.display()));
    }
}

fn problem(e: Error) -> Problem {
    match e {
        Error::Corrupt(c) => (*c).into(),
        other => Problem { path: PathBuf::new(), offset: 0, seq: None, what: other.to_string() },
    }
}
