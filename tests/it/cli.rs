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
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `wfstore --store DIR ARGS...` with `stdin` (empty when `None`).
fn wf(store: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfstore"));
    cmd.arg("--store").arg(store).args(args);
    run(cmd, stdin)
}

fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Run {
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
fn check(r: &Run, code: i32) {
    assert_eq!(r.code, code, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

/// Synthetic events `from..=to` as JSON Lines, as `tail` prints them.
fn lines(seqs: impl IntoIterator<Item = u64>) -> String {
    seqs.into_iter().map(|i| to_json_line(i, &synthetic(SEED, i)) + "\n").collect()
}

/// A new store with synthetic events 1..=n appended through the CLI.
fn store_with(dir: &Path, n: u64) {
    check(&wf(dir, &["init", "--segment-size", &SMALL_SEGMENT.to_string()], None), 0);
    check(&wf(dir, &["append"], Some(lines(1..=n).as_bytes())), 0);
}

fn stats(dir: &Path) -> serde_json::Value {
    let r = wf(dir, &["--json", "stats"], None);
    check(&r, 0);
    serde_json::from_str(&r.stdout).unwrap()
}

fn events_in(dir: &Path) -> u64 {
    stats(dir)["events"].as_u64().unwrap()
}

const GOOD: &str =
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
    assert_eq!(r.stdout, "{\"appended\":5,\"first_seq\":121,\"last_seq\":125}\n");
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
    bytes[at + 24 + (len - 24) / 2] ^= 0x10;
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
    for needle in ["events", "energy by model", "recovery", "frame cost", "verify         clean"] {
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
    assert!(report["sessions"].as_u64().unwrap() >= 2);
    assert!(report["energy_by_model"].as_object().unwrap().len() >= 2);
    // The kept store is a real store holding what the demo reported.
    assert_eq!(events_in(&kept), report["events"].as_u64().unwrap());
}

/// Two sessions with hand-checkable energies: s1 = 0.1 + 0.2 (model a) + 1.000001 (model b)
/// + 0.25 (amplification) = 1.550001; s2 = 2.5 (model a).
const ENERGY_LINES: &str = r#"{"ts_ns":1000,"frame":1,"session":"s1","user":"u1","type":"session.start","data":{"app_version":"1","models":["a","b"]}}
{"ts_ns":2000,"frame":2,"session":"s1","user":"u1","type":"energy.update","data":{"model":"a","tokens":1,"delta":0.1}}
{"ts_ns":3000,"frame":3,"session":"s1","user":"u1","type":"energy.update","data":{"model":"a","tokens":1,"delta":0.2}}
{"ts_ns":4000,"frame":4,"session":"s1","user":"u1","type":"energy.update","data":{"model":"b","tokens":2,"delta":1.000001}}
{"ts_ns":5000,"frame":5,"session":"s1","user":"u1","type":"energy.amplification","data":{"factor":1.5,"delta":0.25}}
{"ts_ns":1500,"frame":1,"session":"s2","user":"u2","type":"session.start","data":{"app_version":"1","models":["a"]}}
{"ts_ns":2500,"frame":2,"session":"s2","user":"u2","type":"energy.update","data":{"model":"a","tokens":3,"delta":2.5}}
"#;

/// A store made by `init` + `append FILE` of `jsonl`.
fn store_from_lines(tmp: &Path, jsonl: &str) -> std::path::PathBuf {
    let dir = tmp.join("store");
    check(&wf(&dir, &["init"], None), 0);
    let file = tmp.join("events.jsonl");
    std::fs::write(&file, jsonl).unwrap();
    check(&wf(&dir, &["append", file.to_str().unwrap()], None), 0);
    dir
}

/// The energies of session `id` exactly as `replay --json` prints them.
fn energies(id: &str, total: &str, by_model: &str, amplification: &str) -> String {
    format!(
        "\"{id}\":{{\"energy_total\":{total},\"by_model\":{{{by_model}}},\"amplification\":{amplification},\"conservation\":true,"
    )
}

#[test]
fn replay_json_prints_exact_energies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = store_from_lines(tmp.path(), ENERGY_LINES);
    let r = wf(&dir, &["--json", "replay"], None);
    check(&r, 0);
    assert!(r.stdout.starts_with("{\"last_seq\":7,\"hash\":\""), "{}", r.stdout);
    let s1 = energies("s1", "1.550001", "\"a\":0.3,\"b\":1.000001", "0.25");
    let s2 = energies("s2", "2.5", "\"a\":2.5", "0");
    for needle in [&s1, &s2, "\"u1\":{\"events\":5,", "\"energy\":1.550001,"] {
        assert!(r.stdout.contains(needle), "{needle}: {}", r.stdout);
    }
    // Exactly the library's rendering of the state, and its hash.
    let store = util::open_ro(&dir).unwrap();
    let (state, _) = store.state().unwrap();
    assert_eq!(r.stdout, state.to_json_string() + "\n");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["hash"], state.hash_hex());

    let human = wf(&dir, &["replay"], None);
    check(&human, 0);
    for needle in ["last seq   7", &state.hash_hex(), "1.550001", "1.000001", "conservation", " ok"] {
        assert!(human.stdout.contains(needle), "{needle}: {}", human.stdout);
    }
}

#[test]
fn replay_to_a_seq_a_frame_and_of_one_session() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = store_from_lines(tmp.path(), ENERGY_LINES);
    // 0.1 + 0.2 is 0.3, exactly.
    let r = wf(&dir, &["--json", "replay", "--to-seq", "3"], None);
    check(&r, 0);
    assert!(r.stdout.starts_with("{\"last_seq\":3,"), "{}", r.stdout);
    assert!(r.stdout.contains(&energies("s1", "0.3", "\"a\":0.3", "0")), "{}", r.stdout);
    assert!(!r.stdout.contains("\"s2\""), "{}", r.stdout);

    let r = wf(&dir, &["--json", "replay", "--to-frame", "2"], None);
    check(&r, 0);
    assert!(r.stdout.contains(&energies("s1", "0.1", "\"a\":0.1", "0")), "{}", r.stdout);
    assert!(r.stdout.contains(&energies("s2", "2.5", "\"a\":2.5", "0")), "{}", r.stdout);

    let r = wf(&dir, &["--json", "replay", "--session", "s2"], None);
    check(&r, 0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["sessions"].as_object().unwrap().len(), 1, "{v}");
    assert_eq!(v["users"].as_object().unwrap().keys().collect::<Vec<_>>(), ["u2"]);
    assert!(r.stdout.contains(&energies("s2", "2.5", "\"a\":2.5", "0")), "{}", r.stdout);

    let r = wf(&dir, &["--json", "replay", "--session", "s1", "--to-seq", "4"], None);
    check(&r, 0);
    assert!(r.stdout.contains(&energies("s1", "1.300001", "\"a\":0.3,\"b\":1.000001", "0")), "{}", r.stdout);

    for args in
        [&["replay", "--session", "nobody"][..], &["--json", "replay", "--session", "s2", "--to-seq", "3"]]
    {
        let r = wf(&dir, args, None);
        check(&r, 1);
        assert!(r.stderr.starts_with("wfstore: error: no session"), "{args:?}: {}", r.stderr);
        assert_eq!(r.stdout, "");
    }
    // One target at a time.
    check(&wf(&dir, &["replay", "--to-seq", "2", "--to-frame", "2"], None), 2);
}

#[test]
fn snapshot_create_then_list() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = store_from_lines(tmp.path(), ENERGY_LINES);
    // `append` closes the store, and closing may snapshot: start from none.
    let snapshots = dir.join("snapshots");
    if snapshots.exists() {
        std::fs::remove_dir_all(&snapshots).unwrap();
    }
    let r = wf(&dir, &["--json", "snapshot", "list"], None);
    check(&r, 0);
    assert_eq!(r.stdout, "[]\n");

    let r = wf(&dir, &["snapshot", "create"], None);
    check(&r, 0);
    assert!(r.stdout.contains("snapshot at seq 7"), "{}", r.stdout);
    let r = wf(&dir, &["--json", "snapshot", "list"], None);
    check(&r, 0);
    let list: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{list}");
    assert_eq!(rows[0]["seq"], 7);
    assert_eq!(rows[0]["valid"], true);
    assert_eq!(rows[0]["error"], serde_json::Value::Null);
    assert!(rows[0]["bytes"].as_u64().unwrap() > 0);
    let path = std::path::PathBuf::from(rows[0]["path"].as_str().unwrap());
    assert!(path.exists(), "{}", path.display());

    // A damaged snapshot is listed as invalid, with the reason.
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let r = wf(&dir, &["--json", "snapshot", "list"], None);
    check(&r, 0);
    let list: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(list[0]["valid"], false, "{list}");
    assert!(list[0]["error"].as_str().is_some_and(|e| !e.is_empty()), "{list}");
}

#[test]
fn snapshot_create_on_a_store_open_elsewhere_names_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = store_from_lines(tmp.path(), ENERGY_LINES);
    let writer = util::open(&dir);
    let r = wf(&dir, &["snapshot", "create"], None);
    check(&r, 1);
    assert!(r.stderr.contains("already open for writing"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("pid {}", std::process::id())), "{}", r.stderr);
    // Listing needs no lock.
    check(&wf(&dir, &["snapshot", "list"], None), 0);
    writer.close().unwrap();
    check(&wf(&dir, &["snapshot", "create"], None), 0);
}

#[test]
fn validate_a_valid_store_and_one_with_an_event_before_its_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = store_from_lines(tmp.path(), ENERGY_LINES);
    let r = wf(&dir, &["validate"], None);
    check(&r, 0);
    assert!(r.stdout.contains("7 events, 2 sessions"), "{}", r.stdout);
    let r = wf(&dir, &["--json", "validate"], None);
    check(&r, 0);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["violation_count"], 0);

    // s3's energy.update (seq 8) comes before its session.start (seq 9).
    let early = r#"{"ts_ns":6000,"frame":6,"session":"s3","user":"u3","type":"energy.update","data":{"model":"a","tokens":1,"delta":0.5}}
{"ts_ns":7000,"frame":7,"session":"s3","user":"u3","type":"session.start","data":{"app_version":"1","models":["a"]}}
"#;
    check(&wf(&dir, &["append"], Some(early.as_bytes())), 0);
    let r = wf(&dir, &["validate"], None);
    check(&r, 3);
    assert!(r.stdout.contains("violation: seq 8 [session-start]"), "{}", r.stdout);
    assert!(r.stderr.contains("validation failed"), "{}", r.stderr);
    let r = wf(&dir, &["--json", "validate"], None);
    check(&r, 3);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["violations"][0]["seq"], 8, "{report}");
    assert_eq!(report["violations"][0]["rule"], "session-start", "{report}");
}

#[test]
fn demo_kills_its_writer_and_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let r = wf(tmp.path(), &["--json", "demo", "--frames", "300"], None);
    check(&r, 0);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for key in [
        "events",
        "events_per_frame",
        "sessions",
        "users",
        "event_types",
        "energy_by_model",
        "energy_total",
        "conservation_holds",
        "recovery_ms",
        "recovery",
        "verify_problems",
        "validate_violations",
        "read_back_checked",
        "read_back_equal",
        "frame_cost_us",
        "budget_p99_pct",
    ] {
        assert!(report.get(key).is_some(), "missing {key}: {report}");
    }
    assert_eq!(report["conservation_holds"], true, "{report}");
    assert_eq!(report["verify_problems"], 0);
    assert_eq!(report["validate_violations"], 0);
    assert_eq!(report["read_back_equal"], true);
    let rec = &report["recovery"];
    assert!(rec["replayed"].as_u64().is_some(), "{rec}");
    assert!(rec["writer_ended"].as_str().unwrap().contains("SIGKILL"), "{rec}");
    // Nothing acknowledged by the writer's flush was lost to the kill.
    assert_eq!(rec["recovered_last_seq"], rec["writer_last_seq"], "{rec}");
    assert_eq!(report["events"], rec["recovered_last_seq"]);
    for q in ["p50", "p99", "p999", "max"] {
        assert!(report["frame_cost_us"][q].as_f64().is_some(), "{q}: {report}");
    }
    // The energies are exact decimals in the JSON text.
    assert!(r.stdout.contains("\"energy_total\":"), "{}", r.stdout);
}
