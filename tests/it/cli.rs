//! The `wfstore` binary end to end: exit codes, error lines, exact outputs. Every run also
//! checks that nothing printed a panic.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use wfstore::event::to_json_line;
use wfstore::limits::JSON_LINE_BYTES_MAX;
use wfstore::sim::synthetic;

use crate::util::{self, SEED, SMALL_SEGMENT};

/// What one run of the binary did.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `wfstore --store DIR ARGS...` with `stdin` (empty when `None`).
pub(crate) fn wf(store: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfstore"));
    cmd.arg("--store").arg(store).args(args);
    run(cmd, stdin)
}

pub(crate) fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Run {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.unwrap_or_default().to_vec();
    // Write from a thread: a large input would otherwise deadlock against a full stdout.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let run = Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains("panicked"), "{cmd:?} panicked: {text}");
        assert!(!text.contains("RUST_BACKTRACE"), "{cmd:?}: {text}");
    }
    run
}

/// Asserts the exit code, showing both streams when it is wrong.
pub(crate) fn check(r: &Run, code: i32) {
    assert_eq!(r.code, code, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

/// Synthetic events `from..=to` as JSON Lines, as `tail` prints them.
pub(crate) fn lines(seqs: impl IntoIterator<Item = u64>) -> String {
    seqs.into_iter().map(|i| to_json_line(i, &synthetic(SEED, i)) + "\n").collect()
}

/// A new store with synthetic events 1..=n appended through the CLI.
pub(crate) fn store_with(dir: &Path, n: u64) {
    check(&wf(dir, &["init", "--segment-size", &SMALL_SEGMENT.to_string()], None), 0);
    check(&wf(dir, &["append"], Some(lines(1..=n).as_bytes())), 0);
}

pub(crate) fn stats(dir: &Path) -> serde_json::Value {
    let r = wf(dir, &["--json", "stats"], None);
    check(&r, 0);
    serde_json::from_str(&r.stdout).unwrap()
}

pub(crate) fn events_in(dir: &Path) -> u64 {
    stats(dir)["events"].as_u64().unwrap()
}

pub(crate) const GOOD: &str =
    r#"{"session":"s1","user":"u1","type":"energy.update","data":{"model":"m","tokens":3,"delta":1.5}}"#;

#[test]
fn init_creates_and_refuses_a_non_empty_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let r = wf(&dir, &["init", "--keep-content"], None);
    check(&r, 0);
    assert!(r.stdout.contains("created store"), "{}", r.stdout);
    assert_eq!(stats(&dir)["keep_content"], true);
    assert_eq!(events_in(&dir), 0);

    let again = wf(&dir, &["init"], None);
    check(&again, 1);
    assert!(again.stderr.starts_with("wfstore: error: "), "{}", again.stderr);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);

    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let r = wf(&other, &["init"], None);
    check(&r, 1);
    assert!(r.stderr.contains("not empty"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1, "left untouched");
}

#[test]
fn init_rejects_a_bad_segment_size() {
    let tmp = tempfile::tempdir().unwrap();
    let r = wf(tmp.path(), &["init", "--segment-size", "10"], None);
    check(&r, 1);
    assert!(r.stderr.contains("segment size 10"), "{}", r.stderr);
}

#[test]
fn append_from_a_file_and_from_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    check(&wf(&dir, &["init"], None), 0);
    let file = tmp.path().join("events.jsonl");
    // Blank lines and CRLF endings are accepted.
    std::fs::write(&file, lines(1..=120).replace('\n', "\r\n\n")).unwrap();
    let r = wf(&dir, &["append", file.to_str().unwrap()], None);
    check(&r, 0);
    assert_eq!(r.stdout, "appended 120 events, seqs 1..=120\n");

    let r = wf(&dir, &["--json", "append"], Some(lines(121..=125).as_bytes()));
    check(&r, 0);
    assert_eq!(r.stdout, "{\"appended\":5,\"first_seq\":121,\"last_seq\":125,\"batches\":1}\n");
    assert_eq!(events_in(&dir), 125);
    let r = wf(&dir, &["tail"], None);
    check(&r, 0);
    assert_eq!(r.stdout, lines(1..=125));
}

#[test]
fn append_of_nothing_appends_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    check(&wf(tmp.path(), &["init"], None), 0);
    let r = wf(tmp.path(), &["append"], Some(b"\n\n"));
    check(&r, 0);
    assert_eq!(r.stdout, "appended 0 events\n");
}

#[test]
fn a_bad_line_rejects_the_whole_batch() {
    let tmp = tempfile::tempdir().unwrap();
    check(&wf(tmp.path(), &["init"], None), 0);
    let bad = GOOD.replace("1.5", "1.1234567");
    let input = format!("{GOOD}\n{GOOD}\n{bad}\n{GOOD}\n");
    let r = wf(tmp.path(), &["append"], Some(input.as_bytes()));
    check(&r, 1);
    assert!(r.stderr.contains("line 3: field `data.delta`: 7 decimals, at most 6 allowed"), "{}", r.stderr);
    assert!(r.stderr.contains("nothing was appended"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    assert_eq!(r.stdout, "");
    assert_eq!(events_in(tmp.path()), 0);
}

#[test]
fn an_oversized_line_is_an_error_with_its_number() {
    let tmp = tempfile::tempdir().unwrap();
    check(&wf(tmp.path(), &["init"], None), 0);
    let input = format!("{GOOD}\n{}\n{GOOD}\n", "x".repeat(JSON_LINE_BYTES_MAX + 10));
    let r = wf(tmp.path(), &["append"], Some(input.as_bytes()));
    check(&r, 1);
    assert!(r.stderr.contains("line 2: longer than"), "{}", r.stderr);
    assert_eq!(events_in(tmp.path()), 0);

    // Exactly at the limit is only a (bad) JSON line, not a long one.
    let input = format!("{}\n", " ".repeat(JSON_LINE_BYTES_MAX - 1) + "x");
    let r = wf(tmp.path(), &["append"], Some(input.as_bytes()));
    check(&r, 1);
    assert!(r.stderr.contains("line 1: not a JSON object"), "{}", r.stderr);
}

#[test]
fn invalid_utf8_is_an_error_with_its_line_number() {
    let tmp = tempfile::tempdir().unwrap();
    check(&wf(tmp.path(), &["init"], None), 0);
    let mut input = format!("{GOOD}\n").into_bytes();
    input.extend_from_slice(b"{\"session\":\"s\xff\"}\n");
    let r = wf(tmp.path(), &["append"], Some(&input));
    check(&r, 1);
    assert!(r.stderr.contains("line 2: invalid UTF-8"), "{}", r.stderr);
    assert_eq!(events_in(tmp.path()), 0);
}

#[test]
fn an_unknown_event_type_names_the_type_field() {
    let tmp = tempfile::tempdir().unwrap();
    check(&wf(tmp.path(), &["init"], None), 0);
    let input = GOOD.replace("energy.update", "energy.teleport");
    let r = wf(tmp.path(), &["append"], Some(input.as_bytes()));
    check(&r, 1);
    assert!(
        r.stderr.contains("line 1: field `type`: unknown event type \"energy.teleport\""),
        "{}",
        r.stderr
    );
}

#[test]
fn hostile_lines_are_errors_not_panics() {
    let tmp = tempfile::tempdir().unwrap();
    check(&wf(tmp.path(), &["init"], None), 0);
    let deep = "[".repeat(100_000);
    for input in ["{", "null", "[]", "\"x\"", "{}}", "\u{0}", &deep, "{\"a\":1e999}"] {
        let r = wf(tmp.path(), &["append"], Some(input.as_bytes()));
        check(&r, 1);
        assert!(r.stderr.contains("line 1"), "{input:.20}: {}", r.stderr);
    }
    assert_eq!(events_in(tmp.path()), 0);
}

#[test]
fn tail_from_a_seq_and_of_one_session() {
    let tmp = tempfile::tempdir().unwrap();
    store_with(tmp.path(), 40);
    let r = wf(tmp.path(), &["tail", "--from", "30"], None);
    check(&r, 0);
    assert_eq!(r.stdout, lines(30..=40));

    let session = "session-0003-wirthforge-desktop";
    let r = wf(tmp.path(), &["tail", "--session", session, "--from", "10"], None);
    check(&r, 0);
    assert_eq!(r.stdout, lines((10..=40).filter(|i| i % 8 == 3)));

    let r = wf(tmp.path(), &["tail", "--from", "41"], None);
    check(&r, 0);
    assert_eq!(r.stdout, "");
    let r = wf(tmp.path(), &["tail", "--session", "nobody"], None);
    check(&r, 0);
    assert_eq!(r.stdout, "");
}

#[test]
fn tail_follow_prints_new_events() {
    let tmp = tempfile::tempdir().unwrap();
    store_with(tmp.path(), 3);
    let mut child = Command::new(env!("CARGO_BIN_EXE_wfstore"))
        .arg("--store")
        .arg(tmp.path())
        .args(["tail", "--follow", "--from", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    check(&wf(tmp.path(), &["append"], Some(lines(4..=6).as_bytes())), 0);
    // Poll every 200 ms: give it a few polls, then stop it.
    std::thread::sleep(std::time::Duration::from_millis(800));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), lines(2..=6));
}

#[test]
fn stats_json_has_the_documented_fields() {
    let tmp = tempfile::tempdir().unwrap();
    store_with(tmp.path(), 25);
    let s = stats(tmp.path());
    assert_eq!(s["events"], 25);
    assert_eq!(s["last_seq"], 25);
    assert_eq!(s["first_seq"], 1);
    assert_eq!(s["sessions"], 8);
    assert_eq!(s["segment_bytes"], SMALL_SEGMENT);
    assert!(s["segments"].as_u64().unwrap() >= 1);
    let human = wf(tmp.path(), &["stats"], None);
    check(&human, 0);
    assert!(human.stdout.contains("last seq      25"), "{}", human.stdout);
}

#[test]
fn stats_show_the_snapshots_and_what_a_recovery_would_replay() {
    let tmp = tempfile::tempdir().unwrap();
    // The CLI's append closes its store, which snapshots everything new at the close.
    store_with(tmp.path(), 300);
    let opts = wfstore::OpenOptions { snapshots: None, ..wfstore::OpenOptions::default() };
    let s = crate::util::open_with(tmp.path(), &opts).unwrap();
    for i in 301..=350 {
        s.append(&synthetic(SEED, i)).unwrap();
    }
    s.close().unwrap();
    let s = stats(tmp.path());
    let got: Vec<_> =
        ["snapshots", "newest_snapshot_seq", "snapshot_lag", "durable_seq", "durable_lag", "poisoned"]
            .iter()
            .map(|k| s[k].clone())
            .collect();
    assert_eq!(got, serde_json::json!([1, 300, 50, 350, 0, false]).as_array().unwrap().clone(), "{s}");
    let human = wf(tmp.path(), &["stats"], None);
    check(&human, 0);
    assert!(human.stdout.contains("snapshot lag  50 events (replayed by a recovery)"), "{}", human.stdout);
}

#[test]
fn the_store_defaults_to_wfstore_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfstore"));
    cmd.env("WFSTORE_DIR", tmp.path()).arg("init");
    check(&run(cmd, None), 0);
    assert!(tmp.path().join("STORE").exists());
}

#[test]
fn verify_a_clean_store_and_one_with_a_flipped_bit() {
    let tmp = tempfile::tempdir().unwrap();
    store_with(tmp.path(), 50);
    let r = wf(tmp.path(), &["verify"], None);
    check(&r, 0);
    assert!(r.stdout.contains("50 records"), "{}", r.stdout);
    let r = wf(tmp.path(), &["--json", "verify"], None);
    check(&r, 0);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["records"], 50);
    assert_eq!(report["problems"], serde_json::json!([]));

    // Flip a byte in the middle of the 10th frame's body: frames 11..=50 stay valid.
    let seg = tmp.path().join("0000000001.seg");
    let (at, len) = util::frame_offsets(&seg)[9];
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[at + 32 + (len - 32) / 2] ^= 0x10;
    std::fs::write(&seg, bytes).unwrap();

    let r = wf(tmp.path(), &["verify"], None);
    check(&r, 3);
    let located = format!("0000000001.seg at offset {at}");
    assert!(r.stdout.contains(&located), "{}", r.stdout);
    assert!(r.stdout.contains("seq 10"), "{}", r.stdout);
    assert!(r.stderr.contains("verification failed"), "{}", r.stderr);

    let r = wf(tmp.path(), &["--json", "verify"], None);
    check(&r, 3);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let problem = &report["problems"][0];
    assert!(problem["path"].as_str().unwrap().ends_with("0000000001.seg"), "{problem}");
    assert_eq!(problem["offset"], at as u64);
    assert_eq!(problem["seq"], 10);

    // Commands that open the store meet the same damage: exit 3, located, one line.
    for args in [&["stats"][..], &["tail"]] {
        let r = wf(tmp.path(), args, None);
        check(&r, 3);
        assert!(r.stderr.contains("0000000001.seg"), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [&["frobnicate"][..], &["tail", "--from", "ten"], &["init", "--segment-size"], &[]] {
        let r = wf(tmp.path(), args, None);
        check(&r, 2);
        assert!(r.stderr.contains("error:") || r.stderr.contains("Usage"), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn commands_on_a_missing_store_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let commands = [&["stats"][..], &["tail"], &["verify"], &["append"], &["replay"], &["validate"]];
    for args in commands.into_iter().chain([&["snapshot", "list"][..], &["snapshot", "create"]]) {
        let r = wf(&missing, args, Some(GOOD.as_bytes()));
        check(&r, 1);
        assert!(r.stderr.starts_with("wfstore: error: "), "{}", r.stderr);
        assert!(r.stderr.contains("nope"), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn append_to_a_store_open_elsewhere_names_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    util::create(tmp.path(), SMALL_SEGMENT);
    let writer = util::open(tmp.path());
    let r = wf(tmp.path(), &["append"], Some(GOOD.as_bytes()));
    check(&r, 1);
    assert!(r.stderr.contains("already open for writing"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("pid {}", std::process::id())), "{}", r.stderr);
    // Readers do not need the lock.
    check(&wf(tmp.path(), &["stats"], None), 0);
    writer.close().unwrap();
    check(&wf(tmp.path(), &["append"], Some(GOOD.as_bytes())), 0);
}

#[test]
fn demo_runs_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let r = wf(tmp.path(), &["demo", "--frames", "120"], None);
    check(&r, 0);
    for needle in [
        "events",
        "energy by model",
        "recovery",
        "frame cost",
        "verify         clean",
        "equals the recovered state",
    ] {
        assert!(r.stdout.contains(needle), "{needle}: {}", r.stdout);
    }

    let kept = tmp.path().join("demo-store");
    let args = ["--json", "demo", "--frames", "120", "--seed", "9"];
    let r = wf(tmp.path(), &[&args[..], &["--dir", kept.to_str().unwrap()]].concat(), None);
    check(&r, 0);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for key in [
        "seed",
        "frames",
        "events",
        "sessions",
        "event_types",
        "energy_by_model",
        "recovery_ms",
        "verify_problems",
        "frame_cost_us",
        "budget_p99_pct",
    ] {
        assert!(report.get(key).is_some(), "missing {key}: {report}");
    }
    assert_eq!(report["frames"], 120);
    assert_eq!(report["verify_problems"], 0);
    assert_eq!(report["kept"], true);
    assert_eq!(report["exported"]["events"], report["events"]);
    assert_eq!(report["exported"]["energy_equal"], true);
    assert!(report["sessions"].as_u64().unwrap() >= 2);
    assert!(report["energy_by_model"].as_object().unwrap().len() >= 2);
    // The kept store is a real store holding what the demo reported.
    assert_eq!(events_in(&kept), report["events"].as_u64().unwrap());
}
