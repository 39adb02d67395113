//! `wfstore append FILE` is one atomic batch, even when the process is killed with SIGKILL
//! at any moment: the store then holds either none of the file or all of it. With
//! `--batch-size N` it holds a whole number of N-event batches: exactly a prefix of the file.
//!
//! Kill moments come from a seeded rng; the seed is printed (and taken from
//! `WFSTORE_TEST_SEED` when set) so that a failure can be replayed.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wfstore::event::to_json_line;
use wfstore::sim::synthetic;

use crate::util::{SEED, create, open, open_ro};

/// Lines in the import file of the kill tests.
const FILE_EVENTS: u64 = 100_000;
/// Events in the store before the first import.
const BEFORE: u64 = 1_000;
/// Segment size of the kill tests' store: an import spans dozens of segments.
const SEGMENT: u64 = 1 << 20;

/// Writes `n` JSON Lines events, line `i` holding `synthetic(SEED, i)`, to `path`; returns
/// the file's size in bytes.
pub(crate) fn write_events_file(path: &Path, n: u64) -> u64 {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 1..=n {
        writeln!(out, "{}", to_json_line(i, &synthetic(SEED, i))).unwrap();
    }
    out.into_inner().unwrap().sync_all().unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// The seed of the kill moments: `WFSTORE_TEST_SEED`, or a new one; printed either way.
pub(crate) fn test_seed(test: &str) -> u64 {
    let seed = std::env::var("WFSTORE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("{test}: seed {seed} (replay with WFSTORE_TEST_SEED={seed})");
    seed
}

fn append_cmd(dir: &Path, file: &Path, batch_size: Option<u64>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfstore"));
    cmd.arg("--store").arg(dir).arg("append").arg(file);
    if let Some(n) = batch_size {
        cmd.args(["--batch-size", &n.to_string()]);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

/// Runs `append` to completion; returns how long it took.
fn append_whole(dir: &Path, file: &Path) -> Duration {
    let started = Instant::now();
    let out = append_cmd(dir, file, None).output().unwrap();
    assert!(out.status.success(), "append: {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    started.elapsed()
}

/// Starts `append`, kills it with SIGKILL after `after` (if it is still running); returns
/// true if the kill happened (false: it had finished, successfully, on its own).
fn append_killed_after(dir: &Path, file: &Path, batch_size: Option<u64>, after: Duration) -> bool {
    let mut child = append_cmd(dir, file, batch_size).spawn().unwrap();
    let deadline = Instant::now() + after;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let err = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
            assert!(status.success(), "append ended on its own but failed: {status:?}: {err}");
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(2)));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    // It may have exited by itself between the last look and the kill.
    status.code().is_none() || {
        assert!(status.success(), "append: {status:?}");
        false
    }
}

/// What a read-only open sees after a round: the last seq, and whether frames of a batch
/// that was never committed were found past it (the kill landed inside the import).
fn look(dir: &Path) -> (u64, bool) {
    let store = open_ro(dir).unwrap();
    let report = store.recovery_report();
    assert!(report.loss.is_none(), "{report:?}");
    (store.last_seq(), report.incomplete_batch.is_some())
}

/// The store's events `from..=to` are the import file's lines 1..: `synthetic(SEED, i)`.
fn assert_file_prefix_at(dir: &Path, from: u64, to: u64) {
    let store = open_ro(dir).unwrap();
    let mut n = 0;
    for rec in store.iter(from..=to) {
        let rec = rec.unwrap();
        assert_eq!(rec.seq, from + n);
        assert_eq!(rec.event, synthetic(SEED, n + 1), "seq {} is not line {} of the file", rec.seq, n + 1);
        n += 1;
    }
    assert_eq!(n, to + 1 - from, "events {from}..={to}");
}

fn assert_verifies(dir: &Path, context: &str) {
    let report = wfstore::verify::verify(dir).unwrap();
    assert!(report.is_clean(), "{context}: {:?}", report.problems);
}

/// At least 10 kills of `append FILE` (100,000 events, one batch) at random moments, 5 or
/// more of them inside the batch: after each, the store holds either what it held before or
/// that plus the whole file, never part of it; what it holds is intact and verifies clean,
/// and the next `append` (a writable open) cuts the uncommitted frames.
#[test]
fn a_killed_import_leaves_none_or_all_of_the_file() {
    let seed = test_seed("a_killed_import_leaves_none_or_all_of_the_file");
    let mut rng = fastrand::Rng::with_seed(seed);
    let tmp = tempfile::tempdir().unwrap();
    let (dir, file) = (tmp.path().join("store"), tmp.path().join("events.jsonl"));
    crate::util::store_with(&dir, BEFORE, SEGMENT);
    write_events_file(&file, FILE_EVENTS);

    // One whole import first: its duration bounds the kill moments.
    let whole = append_whole(&dir, &file);
    let mut count = BEFORE + FILE_EVENTS;
    assert_file_prefix_at(&dir, BEFORE + 1, count);
    let (mut kills, mut inside, mut rounds) = (0, 0, 0);
    while kills < 10 || inside < 5 {
        rounds += 1;
        assert!(rounds <= 40, "seed {seed}: {kills} kills, {inside} inside the batch after 40 rounds");
        let after = whole.mul_f64(rng.f64());
        let killed = append_killed_after(&dir, &file, None, after);
        let (last, cut) = look(&dir);
        let context = format!("seed {seed}, round {rounds}, killed after {after:?}: {killed}");
        assert!(
            last == count || last == count + FILE_EVENTS,
            "{context}: the store went from {count} to {last} events: a partial import"
        );
        if last > count {
            assert_file_prefix_at(&dir, count + 1, last);
        }
        assert_verifies(&dir, &context);
        kills += u64::from(killed);
        inside += u64::from(cut);
        count = last;
    }
    // A writable open cuts what the last kill left, and keeps everything committed.
    let store = open(&dir);
    assert_eq!(store.last_seq(), count, "seed {seed}");
    drop(store);
    assert_verifies(&dir, &format!("seed {seed}, at the end"));
    assert_eq!(crate::cli::events_in(&dir), count);
    eprintln!(
        "seed {seed}: {kills} kills in {rounds} rounds, {inside} inside the batch; whole import {whole:?}"
    );
}

/// `append --batch-size 10000` killed at random moments: each time, the store grew by a
/// whole number of 10,000-event batches, exactly the file's first lines. At least one kill
/// lands between two commits (some batches kept, not all).
#[test]
fn a_killed_import_in_batches_keeps_whole_batches_of_the_file_prefix() {
    const BATCH: u64 = 10_000;
    let seed = test_seed("a_killed_import_in_batches_keeps_whole_batches_of_the_file_prefix");
    let mut rng = fastrand::Rng::with_seed(seed);
    let tmp = tempfile::tempdir().unwrap();
    let (dir, file) = (tmp.path().join("store"), tmp.path().join("events.jsonl"));
    create(&dir, SEGMENT);
    write_events_file(&file, FILE_EVENTS);

    let started = Instant::now();
    let out = append_cmd(&dir, &file, Some(BATCH)).output().unwrap();
    let whole = started.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut count = FILE_EVENTS;
    let (mut between, mut rounds) = (0, 0);
    while rounds < 4 || between == 0 {
        rounds += 1;
        assert!(rounds <= 20, "seed {seed}: no kill landed between two commits in 20 rounds");
        let after = whole.mul_f64(rng.f64());
        append_killed_after(&dir, &file, Some(BATCH), after);
        let (last, _) = look(&dir);
        let grew = last - count;
        let context = format!("seed {seed}, round {rounds}, killed after {after:?}");
        assert!(grew.is_multiple_of(BATCH) && grew <= FILE_EVENTS, "{context}: grew by {grew}");
        if grew > 0 {
            assert_file_prefix_at(&dir, count + 1, last);
        }
        assert_verifies(&dir, &context);
        between += u64::from(grew > 0 && grew < FILE_EVENTS);
        count = last;
    }
    assert_eq!(open(&dir).last_seq(), count, "seed {seed}");
    eprintln!("seed {seed}: {rounds} kills, {between} between two commits; whole import {whole:?}");
}
