//! The streamed import's memory is bounded: `wfstore append` of a ~60 MB JSON Lines file
//! (one atomic batch) peaks well under 100 MB resident. The implementation before the
//! streamed batch held every parsed event and peaked near 3x the input.
//!
//! What is measured: the resident set counts the store's mapped segment pages (`RssFile`)
//! beside what the importer allocates (`RssAnon`). The writer maps the segment it writes and
//! the one it prepared ahead, and keeps written segments mapped for reads: with the default
//! 64 MiB segments those mappings alone make ~135 MB resident, whatever the importer does
//! (page cache, shared and reclaimable, not the importer's memory). The test therefore uses
//! 1 MiB segments, where the mappings stay near the data written (~40 MB here), and bounds
//! both the whole resident peak (`VmHWM` < 100 MB) and the anonymous part alone (< 32 MB;
//! ~7 MB measured). Checked against an importer that keeps every parsed event until the end
//! (`CHUNK_EVENTS` unbounded): 68 MB anonymous, 104 MB `VmHWM`, so both bounds catch it, the
//! anonymous one with a wide margin.
//!
//! How it is measured: `/proc/<pid>/status` sampled every millisecond until the child exits,
//! keeping the largest value of each field. `VmHWM` is the kernel's own high-water mark, so
//! only growth in the last millisecond before exit could be missed; `RssAnon` is a current
//! value, but an importer that holds its input holds it for the whole commit (hundreds of
//! milliseconds), far longer than a sampling interval.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::import_kill::write_events_file;

/// Events in the import file: about 60 MB of JSON Lines.
const EVENTS: u64 = 240_000;
/// The bound on the importer's peak resident memory.
const PEAK_MAX_KB: u64 = 100 << 10;
/// The bound on its peak anonymous memory (heap, stacks).
const ANON_MAX_KB: u64 = 32 << 10;
/// Segment size of the store imported into (see the module docs).
const SEGMENT: u64 = 1 << 20;

/// The `kB` value of `field` in `/proc/<pid>/status`; `None` once the process is gone (or a
/// zombie, whose status has no memory lines).
fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// Peak memory of one child, sampled from `/proc/<pid>/status` every millisecond until it
/// exits.
#[derive(Debug, Default)]
struct Peak {
    /// The largest `VmHWM` read: the kernel's own high-water mark of the resident set.
    hwm_kb: u64,
    /// The largest `RssAnon` read: heap and stacks, without the mapped segment files.
    anon_kb: u64,
    /// The largest `RssFile` read: mapped file pages (the segments being written).
    file_kb: u64,
    samples: u64,
}

/// Runs `wfstore append FILE` into `dir`, sampling its memory until it exits.
fn append_sampled(dir: &Path, file: &Path) -> Peak {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wfstore"))
        .arg("--store")
        .arg(dir)
        .arg("append")
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = Peak::default();
    // See the module docs on why the largest samples are the peaks.
    while child.try_wait().unwrap().is_none() {
        if let Some(hwm) = status_kb(pid, "VmHWM:") {
            peak.hwm_kb = peak.hwm_kb.max(hwm);
            peak.anon_kb = peak.anon_kb.max(status_kb(pid, "RssAnon:").unwrap_or(0));
            peak.file_kb = peak.file_kb.max(status_kb(pid, "RssFile:").unwrap_or(0));
            peak.samples += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "append: {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("appended {EVENTS} events, seqs 1..={EVENTS}\n")
    );
    peak
}

/// A ~60 MB import peaks under 100 MB resident (`VmHWM`), and its anonymous memory (what the
/// importer allocates, as opposed to mapped segment pages) under 32 MB.
#[test]
fn a_60_mb_import_peaks_under_100_mb() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, file) = (tmp.path().join("store"), tmp.path().join("events.jsonl"));
    crate::util::create(&dir, SEGMENT);
    let bytes = write_events_file(&file, EVENTS);
    assert!((55 << 20..70 << 20).contains(&bytes), "input is {bytes} bytes");
    let started = Instant::now();
    let peak = append_sampled(&dir, &file);
    eprintln!("import of {bytes} bytes: {peak:?} in {:?}", started.elapsed());
    assert!(peak.samples >= 10, "too few samples to judge: {peak:?}");
    assert!(peak.hwm_kb < PEAK_MAX_KB, "peak resident {} kB >= {PEAK_MAX_KB} kB: {peak:?}", peak.hwm_kb);
    assert!(peak.anon_kb < ANON_MAX_KB, "peak anonymous {} kB >= {ANON_MAX_KB} kB: {peak:?}", peak.anon_kb);
    assert_eq!(crate::cli::events_in(&dir), EVENTS);
}
