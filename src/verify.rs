//! `verify`: a read-only check of every byte the store relies on — every frame, CRC, seq,
//! body, segment header and index — reporting each problem with its location.

use std::path::{Path, PathBuf};

use crate::error::{Corruption, Error, Result};
use crate::segment::Segment;
use crate::segment::scan::{Chain, Stop};
use crate::store::{OpenOptions, RecoveryReport, Store};

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
    recovery_findings(store.recovery_report(), &mut report);
    if store.format_version() < crate::meta::VERSION {
        report.notes.push(format!(
            "store format version {}: it opens read-only until `wfstore migrate` upgrades it",
            store.format_version()
        ));
    }
    let segments = store.segments();
    report.segments = segments.len();
    let mut chain = None;
    for (i, seg) in segments.iter().enumerate() {
        let next_seq = segments.get(i + 1).map(|n| n.header.base_seq);
        let start = chain.unwrap_or_else(|| Chain::start(seg.header.base_seq));
        match check_segment(seg, start, next_seq, &mut report) {
            Ok(c) => chain = Some(c),
            Err(p) => {
                report.problems.push(p);
                chain = None;
            }
        }
    }
    report.last_seq = store.last_seq();
    check_snapshots(&store, &mut report)?;
    Ok(report)
}

/// What recovery found: loss and a damaged `STORE` copy are problems; a torn tail and an
/// uncommitted batch are what any crash leaves, notes.
fn recovery_findings(r: &RecoveryReport, report: &mut VerifyReport) {
    if let Some(loss) = &r.loss {
        report.problems.push(Problem {
            path: loss.at.path.clone(),
            offset: loss.at.offset,
            seq: Some(loss.last_seq + 1),
            what: loss.to_string(),
        });
    }
    if let Some(c) = &r.store_copy_damaged {
        report.problems.push(Problem {
            path: PathBuf::from(crate::meta::STORE_FILE),
            offset: 0,
            seq: None,
            what: format!("{c}: a torn update or a damaged sector; the next writable open rewrites it"),
        });
    }
    if let Some(t) = &r.torn_tail {
        report.notes.push(format!("{t}; the next writer cuts it"));
    }
    if let Some(b) = &r.incomplete_batch {
        report.notes.push(format!(
            "seqs {}..={} belong to a batch that was never committed; the next writer cuts them",
            b.start(),
            b.end()
        ));
    }
    if r.writer_live {
        report.notes.push("a writer holds the store: its tail was read up to what it has written".into());
    }
}

/// Every snapshot must decode, match its hash and store, bind to the log and not be past
/// it. Recovery would skip a bad one, so it is damage but not data loss.
fn check_snapshots(store: &Store, report: &mut VerifyReport) -> Result<()> {
    for info in store.snapshots()? {
        // One past the log when the store was opened is loss, which recovery reported; one
        // past it now was published since by a live writer.
        if info.seq > report.last_seq || info.seq < store.first_seq().max(1) {
            continue;
        }
        let what = store.load_snapshot(&info).err();
        if let Some(what) = what {
            report.problems.push(Problem { path: info.path, offset: 0, seq: Some(info.seq), what });
        }
    }
    Ok(())
}

/// Scans one segment completely along `chain`, decoding every body; checks its index file
/// when sealed. Returns the chain after it.
fn check_segment(
    seg: &Segment,
    chain: Chain,
    next_seq: Option<u64>,
    report: &mut VerifyReport,
) -> Result<Chain, Problem> {
    let (scan, index) = seg.scan_and_decode(chain).map_err(problem)?;
    report.records += scan.records;
    let located = |what: String| Problem {
        path: seg.path.clone(),
        offset: scan.end as u64,
        seq: Some(scan.next_seq()),
        what,
    };
    if let Stop::Break(b) = scan.stop
        && let Some((at, seq)) = b.valid_after
    {
        return Err(located(format!("{}, yet a valid frame (seq {seq}) follows at offset {at}", b.why)));
    }
    let Some(next_seq) = next_seq else {
        return Ok(scan.chain);
    };
    if scan.next_seq() != next_seq {
        return Err(located(format!(
            "sealed segment ends at seq {} but the next segment starts at {next_seq}",
            scan.next_seq()
        )));
    }
    if let Stop::Break(b) = scan.stop {
        report.notes.push(format!(
            "{}: {} non-zero bytes after the last frame (offset {}); never read",
            seg.path.display(),
            b.garbage_end - scan.end,
            scan.end
        ));
    }
    check_index_file(seg, &index, next_seq, report);
    Ok(scan.chain)
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
