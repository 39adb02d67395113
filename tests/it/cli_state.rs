//! The `wfstore` binary end to end, for the energy-state commands: `replay`, `snapshot`,
//! `validate`, and the whole `demo`.

use std::path::Path;

use crate::cli::{check, wf};
use crate::util;

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
