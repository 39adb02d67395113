//! Readers in other processes beside a live writer in another process: `tail --follow`,
//! `stats`, `verify` and `export jsonl` run in loops while a writer child appends and rolls
//! hundreds of 64 KiB segments (and publishes snapshots). No reader may report corruption,
//! panic or die of a signal, and every reader sees a committed prefix of the log.
//!
//! The writer child is this test binary, re-run with `WFSTORE_READERS_CHILD` naming its role
//! (as `process.rs` does).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wfstore::event::to_json_line;
use wfstore::sim::synthetic;
use wfstore::{Durability, OpenOptions, SnapshotPolicy, Store};

use crate::util::{SEED, SMALL_SEGMENT, assert_prefix, create, open_ro};

/// Events the writer child appends.
const EVENTS: u64 = 200_000;
/// Events per `append_batch` of the writer child.
const BATCH: u64 = 500;

/// The child's entry point; a no-op when run as an ordinary test.
#[test]
fn child() {
    let (Ok(role), Ok(dir)) =
        (std::env::var("WFSTORE_READERS_CHILD"), std::env::var("WFSTORE_READERS_CHILD_DIR"))
    else {
        return;
    };
    let dir = Path::new(&dir);
    let mut out = std::io::stdout().lock();
    // libtest has printed "test readers::child ... " without a newline: end that line.
    writeln!(out).unwrap();
    match role.as_str() {
        "writer" => {
            // Snapshots often, so that readers also meet snapshots being published and pruned.
            let policy = SnapshotPolicy { every_events: 10_000, every: None, keep: 2, history: 0 };
            let opts = OpenOptions {
                durability: Durability::Periodic(Duration::from_millis(20)),
                snapshots: Some(policy),
                ..OpenOptions::default()
            };
            let store = Store::open(dir, &opts).unwrap();
            for b in 0..EVENTS / BATCH {
                let batch: Vec<_> = (b * BATCH + 1..=(b + 1) * BATCH).map(|i| synthetic(SEED, i)).collect();
                let seqs = store.append_batch(&batch).unwrap();
                assert_eq!(seqs, b * BATCH + 1..(b + 1) * BATCH + 1);
            }
            store.close().unwrap();
            writeln!(out, "DONE {EVENTS}").unwrap();
        }
        other => panic!("unknown child role {other}"),
    }
}

fn spawn_child(role: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "readers::child", "--nocapture", "--test-threads=1"])
        .env("WFSTORE_READERS_CHILD", role)
        .env("WFSTORE_READERS_CHILD_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wfstore(store: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfstore"));
    cmd.arg("--store").arg(store);
    cmd
}

/// One finished reader run.
struct ReaderRun {
    what: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl ReaderRun {
    fn exec(what: &str, mut cmd: Command) -> ReaderRun {
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        ReaderRun {
            what: what.to_owned(),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// A false corruption report, a panic, a death by signal (SIGBUS) or any other failure
    /// of a reader beside the writer, said in one line; `None` for a clean run.
    fn failure(&self) -> Option<String> {
        let both = format!("{}{}", self.stdout, self.stderr);
        let why = match self.status.code() {
            None => format!(
                "killed by a signal ({:?})",
                std::os::unix::process::ExitStatusExt::signal(&self.status)
            ),
            Some(3) => "exit 3 (corruption)".to_owned(),
            Some(0) if both.contains("corrupt") || both.contains("problem:") => {
                "reported corruption".to_owned()
            }
            Some(0) if both.contains("panicked") => "panicked".to_owned(),
            Some(0) => return None,
            Some(code) => format!("exit {code}"),
        };
        Some(format!("{}: {why}\nstdout: {:.2000}\nstderr: {:.2000}", self.what, self.stdout, self.stderr))
    }
}

/// The expected JSON Lines of events 1..=n (the `tail` and `export jsonl` form) and the byte
/// offset where each prefix ends: `text[..ends[k]]` is events 1..=k.
struct Expected {
    text: String,
    ends: Vec<usize>,
}

impl Expected {
    fn new(n: u64) -> Expected {
        let mut text = String::new();
        let mut ends = vec![0];
        for seq in 1..=n {
            text.push_str(&to_json_line(seq, &synthetic(SEED, seq)));
            text.push('\n');
            ends.push(text.len());
        }
        Expected { text, ends }
    }

    /// Some(k) when `got` is exactly events 1..=k.
    fn prefix_len(&self, got: &[u8]) -> Option<u64> {
        let k = self.ends.binary_search(&got.len()).ok()?;
        (got == &self.text.as_bytes()[..got.len()]).then_some(k as u64)
    }
}

/// Runs `make_run` again and again until `stop`; returns the runs' failures and how many
/// runs there were. `check` judges each clean run's output (a committed prefix that does not
/// shrink); its complaint counts as a failure.
fn reader_loop(
    stop: &AtomicBool,
    mut make_run: impl FnMut(u64) -> ReaderRun,
    mut check: impl FnMut(&ReaderRun) -> Option<String>,
) -> (u64, Vec<String>) {
    let mut failures = Vec::new();
    let mut runs = 0;
    while !stop.load(Ordering::Acquire) {
        let run = make_run(runs);
        runs += 1;
        if let Some(f) = run.failure().or_else(|| check(&run)) {
            failures.push(f);
        }
    }
    (runs, failures)
}

/// Keeps a high-water mark and complains when a reading goes backwards.
fn not_backwards(what: &str, seen: &AtomicU64, now: u64) -> Option<String> {
    let before = seen.fetch_max(now, Ordering::AcqRel);
    (now < before).then(|| format!("{what}: went back from {before} to {now}"))
}

/// A writer child appends `EVENTS` events in batches of `BATCH` into 64 KiB segments while
/// `tail --follow`, `stats --json`, `verify` and `export jsonl` run beside it in other
/// processes: no reader run reports corruption, panics or dies of a signal; each one sees a
/// committed prefix that never shrinks; the follower prints every seq exactly once, in
/// order; and afterwards the store holds exactly 1..=`EVENTS` and verifies clean.
#[test]
fn readers_in_other_processes_beside_a_rolling_writer_see_no_corruption() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    create(&dir, SMALL_SEGMENT);
    let expected = Arc::new(Expected::new(EVENTS));

    let mut follower = wfstore(&dir)
        .args(["tail", "--follow"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let followed = Arc::new(AtomicU64::new(0));
    let follower_out = {
        let (stdout, followed) = (follower.stdout.take().unwrap(), Arc::clone(&followed));
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let mut reader = BufReader::new(stdout);
            loop {
                let before = text.len();
                match reader.read_until(b'\n', &mut text) {
                    Ok(0) | Err(_) => return text,
                    Ok(_) if text[before..].ends_with(b"\n") => {
                        followed.fetch_add(1, Ordering::Release);
                    }
                    Ok(_) => {}
                }
            }
        })
    };
    let follower_err = {
        let stderr = follower.stderr.take().unwrap();
        std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default())
    };

    let writer = spawn_child("writer", &dir);
    let stop = Arc::new(AtomicBool::new(false));
    let loops = [stats_loop, verify_loop, export_loop].map(|f| {
        let (dir, stop, expected) = (dir.clone(), Arc::clone(&stop), Arc::clone(&expected));
        let out = tmp.path().to_owned();
        std::thread::spawn(move || f(&dir, &out, &stop, &expected))
    });

    let written = writer.wait_with_output().unwrap();
    let writer_stdout = String::from_utf8_lossy(&written.stdout);
    assert!(
        written.status.success() && writer_stdout.contains(&format!("DONE {EVENTS}")),
        "writer: {:?}\n{writer_stdout}\n{}",
        written.status,
        String::from_utf8_lossy(&written.stderr)
    );
    let writer_done = started.elapsed();
    stop.store(true, Ordering::Release);
    let mut failures = Vec::new();
    let mut runs = Vec::new();
    for (name, l) in ["stats", "verify", "export jsonl"].into_iter().zip(loops) {
        let (n, f) = l.join().unwrap();
        runs.push(format!("{name} {n}"));
        failures.extend(f);
    }

    // The follower polls every 200 ms: wait (bounded) until it has printed every event.
    let deadline = Instant::now() + Duration::from_secs(20);
    while followed.load(Ordering::Acquire) < EVENTS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // A follower that died on its own is a failure (it only ends when killed).
    let died = follower.try_wait().unwrap();
    follower.kill().unwrap();
    follower.wait().unwrap();
    let tailed = follower_out.join().unwrap();
    let tail_err = follower_err.join().unwrap();
    if let Some(status) = died {
        failures.push(format!("tail --follow ended by itself ({status:?}): {tail_err}"));
    } else if tail_err.contains("corrupt") || tail_err.contains("panicked") {
        failures.push(format!("tail --follow: {tail_err}"));
    }
    if expected.prefix_len(&tailed) != Some(EVENTS) {
        let lines = tailed.iter().filter(|&&b| b == b'\n').count();
        failures.push(format!(
            "tail --follow did not print seqs 1..={EVENTS} exactly once, in order ({lines} lines; stderr: {tail_err})"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} failed reader runs ({runs:?}):\n{}",
        failures.len(),
        failures.join("\n")
    );
    let segments = crate::util::segments(&dir).len();
    assert!(segments >= 100, "the writer rolled only {segments} times");
    let verify = ReaderRun::exec("verify", {
        let mut c = wfstore(&dir);
        c.arg("verify");
        c
    });
    assert_eq!(verify.failure(), None);
    assert!(verify.stdout.contains(&format!("{EVENTS} records, last seq {EVENTS}")), "{}", verify.stdout);
    assert_prefix(&open_ro(&dir).unwrap(), EVENTS);
    eprintln!(
        "readers beside a writer: {EVENTS} events, {segments} segments, writer {writer_done:?}, runs {runs:?}, total {:?}",
        started.elapsed()
    );
}

fn stats_loop(dir: &Path, _out: &Path, stop: &AtomicBool, _expected: &Expected) -> (u64, Vec<String>) {
    let seen = AtomicU64::new(0);
    let run = |_| {
        let mut c = wfstore(dir);
        c.args(["--json", "stats"]);
        ReaderRun::exec("stats --json", c)
    };
    reader_loop(stop, run, |r| {
        let v: serde_json::Value = match serde_json::from_str(&r.stdout) {
            Ok(v) => v,
            Err(e) => return Some(format!("stats --json: {e}: {}", r.stdout)),
        };
        let (events, last, first) = (v["events"].as_u64(), v["last_seq"].as_u64(), v["first_seq"].as_u64());
        match (events, last) {
            (Some(e), Some(l)) if e == l && (l == 0 || first == Some(1)) && l <= EVENTS => {
                not_backwards("stats last_seq", &seen, l)
            }
            _ => Some(format!("stats --json: not a committed prefix: {v}")),
        }
    })
}

fn verify_loop(dir: &Path, _out: &Path, stop: &AtomicBool, _expected: &Expected) -> (u64, Vec<String>) {
    let seen = AtomicU64::new(0);
    let run = |_| {
        let mut c = wfstore(dir);
        c.args(["--json", "verify"]);
        ReaderRun::exec("verify --json", c)
    };
    reader_loop(stop, run, |r| {
        let v: serde_json::Value = match serde_json::from_str(&r.stdout) {
            Ok(v) => v,
            Err(e) => return Some(format!("verify --json: {e}: {}", r.stdout)),
        };
        let problems = v["problems"].as_array().map_or(usize::MAX, Vec::len);
        let (records, last) = (v["records"].as_u64().unwrap_or(0), v["last_seq"].as_u64().unwrap_or(0));
        if problems != 0 {
            return Some(format!("verify --json: problems: {v}"));
        }
        // `records` counts every valid frame it scanned (the live tail may be ahead of the
        // open's last seq); the prefix it judged must never shrink.
        (records < last)
            .then(|| format!("verify --json: {records} records < last seq {last}"))
            .or_else(|| not_backwards("verify last_seq", &seen, last))
    })
}

fn export_loop(dir: &Path, out: &Path, stop: &AtomicBool, expected: &Expected) -> (u64, Vec<String>) {
    let seen = AtomicU64::new(0);
    let target: PathBuf = out.join("export.jsonl");
    let run = |_| {
        let mut c = wfstore(dir);
        c.args(["export", "jsonl"]).arg(&target);
        ReaderRun::exec("export jsonl", c)
    };
    reader_loop(stop, run, |_| {
        let bytes = match std::fs::read(&target) {
            Ok(b) => b,
            Err(e) => return Some(format!("export jsonl: reading {}: {e}", target.display())),
        };
        match expected.prefix_len(&bytes) {
            Some(k) => not_backwards("export jsonl events", &seen, k),
            None => Some(format!("export jsonl: {} bytes that are not events 1..=k", bytes.len())),
        }
    })
}
