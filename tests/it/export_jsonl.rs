//! `wfstore export jsonl` end to end: every event, in the `tail` form, content filtered;
//! beside a live writer; and nothing at all written from a corrupt store.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

use wfstore::event::{parse_line, to_json_line};
use wfstore::export::privacy::{self, ContentPolicy};
use wfstore::sim::synthetic;

use crate::cli::{check, wf};
use crate::export_audit::{SECRET_OUTPUT, SECRET_PROMPT, sim_store};
use crate::util::{self, SEED, SMALL_SEGMENT};

/// Runs `export jsonl OUT` (plus `extra`) and returns the lines written.
fn export(dir: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["export", "jsonl", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let r = wf(dir, &args, None);
    check(&r, 0);
    std::fs::read_to_string(out).unwrap().lines().map(str::to_owned).collect()
}

/// Asserts `lines` are exactly the store's events under `policy`, each parsing back.
fn assert_all_events(dir: &Path, lines: &[String], policy: ContentPolicy) {
    let store = util::open_ro(dir).unwrap();
    assert_eq!(lines.len() as u64, store.last_seq(), "one line per event");
    for (line, rec) in lines.iter().zip(store.iter(1..=u64::MAX)) {
        let mut rec = rec.unwrap();
        privacy::filter(&mut rec.event, policy);
        assert_eq!(*line, to_json_line(rec.seq, &rec.event));
        assert_eq!(parse_line(line, 0).unwrap(), rec.event, "seq {}", rec.seq);
    }
}

#[test]
fn every_event_once_in_the_tail_form_content_only_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = sim_store(tmp.path(), true);
    let out = tmp.path().join("events.jsonl");

    let lines = export(&dir, &out, &[]);
    assert_all_events(&dir, &lines, ContentPolicy::Strip);
    let text = lines.join("\n");
    for secret in ["SECRET", "prompt of ", "answer from "] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    assert!(text.contains(&"ab".repeat(32)) && text.contains(&"cd".repeat(32)), "hashes stay");

    let lines = export(&dir, &out, &["--include-content"]);
    assert_all_events(&dir, &lines, ContentPolicy::Include);
    let contents: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["data"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(contents.iter().any(|c| c.starts_with("prompt of ")), "{contents:?}");
    assert!(contents.iter().any(|c| c.starts_with("answer from ")), "{contents:?}");
    assert!(contents.iter().any(|c| c == SECRET_PROMPT) && contents.iter().any(|c| c == SECRET_OUTPUT));
}

#[test]
fn exports_beside_a_live_writer_and_reports_the_count() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    util::store_with(&dir, 500, SMALL_SEGMENT);
    // The writer keeps the store open (and its lock) while the export reads.
    let writer = util::open(&dir);
    writer.append(&synthetic(SEED, 501)).unwrap();
    writer.flush().unwrap();
    let out = tmp.path().join("events.jsonl");
    let r = wf(&dir, &["--json", "export", "jsonl", out.to_str().unwrap()], None);
    check(&r, 0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["events"], 501);
    assert_eq!(v["path"], out.to_str().unwrap());
    assert_eq!(v["content_included"], false);
    writer.close().unwrap();
    let lines: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().map(str::to_owned).collect();
    assert_all_events(&dir, &lines, ContentPolicy::Strip);

    let r = wf(&dir, &["export", "jsonl", out.to_str().unwrap()], None);
    check(&r, 0);
    assert!(r.stdout.starts_with("exported 501 events to "), "{}", r.stdout);
}

#[test]
fn a_corrupt_store_exits_3_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    util::store_with(&dir, 1200, SMALL_SEGMENT);
    // One byte in the middle of a sealed segment, as recovery.rs damages them.
    let segs = util::data_segments(&dir);
    assert!(segs.len() >= 3);
    let sealed = &segs[1];
    let frames = util::frame_offsets(sealed);
    let (at, len) = frames[frames.len() / 2];
    let f = OpenOptions::new().read(true).write(true).open(sealed).unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, (at + len / 2) as u64).unwrap();
    f.write_all_at(&[b[0] ^ 0x10], (at + len / 2) as u64).unwrap();
    drop(f);
    let damaged_seq = util::frame_offsets(&segs[0]).len() as u64 + frames.len() as u64 / 2 + 1;

    let outdir = tmp.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let out = outdir.join("events.jsonl");
    let r = wf(&dir, &["export", "jsonl", out.to_str().unwrap()], None);
    check(&r, 3);
    assert!(r.stderr.contains("corruption in "), "{}", r.stderr);
    assert!(r.stderr.contains("nothing was written"), "{}", r.stderr);
    assert_eq!(r.stdout, "");

    // The audit of the session holding the damaged record stops the same way.
    let session = synthetic(SEED, damaged_seq).session;
    let doc = outdir.join("audit.json");
    let args = [
        "export",
        "audit",
        "--session",
        session.as_str(),
        "--format",
        "json",
        "--out",
        doc.to_str().unwrap(),
    ];
    let r = wf(&dir, &args, None);
    check(&r, 3);
    assert!(r.stderr.contains("corruption in "), "{}", r.stderr);
    let r = wf(&dir, &args[..6], None);
    check(&r, 3);
    assert_eq!(r.stdout, "", "no half document on stdout");

    let left: Vec<_> = std::fs::read_dir(&outdir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "no output and no temp file: {left:?}");
}
