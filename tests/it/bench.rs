//! `wfstore bench` end to end, on short runs: every run is reported with sane percentiles,
//! exact event counts and a ratio; the figures beyond the frames are there with their bars
//! (or null with `--no-extras`); the plot is an SVG; bad arguments are usage errors.

use serde_json::Value;

use crate::cli::{check, wf};

/// Every run in order, as `engine` and `policy`.
const RUNS: [(&str, &str); 4] =
    [("wfstore", "None"), ("wfstore", "Periodic(100 ms)"), ("wfstore", "Always"), ("sqlite", "")];

fn assert_ordered(p: &Value, what: &str) {
    let get = |k: &str| p[k].as_u64().unwrap_or_else(|| panic!("{what}.{k}: {p}"));
    assert!(get("count") > 0, "{what}: {p}");
    assert!(get("p50") > 0, "{what}: {p}");
    assert!(get("p50") <= get("p99"), "{what}: {p}");
    assert!(get("p99") <= get("p999"), "{what}: {p}");
    assert!(get("p999") <= get("p9999"), "{what}: {p}");
    assert!(get("p9999") <= get("max"), "{what}: {p}");
}

#[test]
fn bench_reports_every_run_as_json_and_plots_them() {
    let tmp = tempfile::tempdir().unwrap();
    let svg = tmp.path().join("bench.svg");
    let dir = tmp.path().join("stores");
    let args =
        ["--json", "bench", "--seconds", "1", "--events-per-frame", "100", "--recovery-events", "3000"];
    let paths = ["--svg", svg.to_str().unwrap(), "--dir", dir.to_str().unwrap()];
    // The global --store is ignored: the bench makes its own stores under --dir.
    let r = wf(&tmp.path().join("unused"), &[&args[..], &paths[..]].concat(), None);
    check(&r, 0);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let settings = &report["settings"];
    assert_eq!(settings["frames"], 60);
    assert_eq!(settings["events_per_frame"], 100);
    assert_eq!(settings["paced"], true);
    assert_eq!(settings["kept"], true);

    let runs = report["runs"].as_array().unwrap();
    let names: Vec<(&str, &str)> =
        runs.iter().map(|r| (r["engine"].as_str().unwrap(), r["policy"].as_str().unwrap())).collect();
    assert_eq!(names.len(), RUNS.len(), "{names:?}");
    for (got, want) in names.iter().zip(RUNS) {
        assert_eq!(got.0, want.0);
        assert!(want.1.is_empty() || got.1 == want.1, "{got:?} vs {want:?}");
    }
    for run in runs {
        let name = format!("{} {}", run["engine"], run["policy"]);
        assert_eq!(run["frames"], 60, "{name}");
        assert_eq!(run["events"], 60 * 100, "{name}");
        assert_ordered(&run["frame_cost_ns"], &format!("{name} frame_cost_ns"));
        assert_ordered(&run["append_ns"], &format!("{name} append_ns"));
        assert!(run["events_per_s"].as_f64().unwrap() > 0.0, "{name}");
        assert!(run["ratio_vs_sqlite"].as_f64().unwrap() > 0.0, "{name}");
        assert!(run["budget_pct_p99"].as_f64().unwrap() > 0.0, "{name}");
        if run["engine"] == "wfstore" {
            let store = &run["store"];
            assert_eq!(store["all_frames_durable"], true, "{name}: {store}");
            assert_eq!(store["durable_frame"], 59, "{name}");
            // The store timed every commit_frame of the run.
            assert_eq!(store["metrics"]["append_ns"]["count"], 60, "{name}");
            assert_eq!(store["metrics"]["frame_durable_ns"]["count"], 60, "{name}");
            // Only `Always` measures the disk's fdatasync baseline.
            if run["policy"] == "Always" {
                assert_eq!(store["fdatasync_ns"]["count"], 200, "{name}");
                assert_ordered(&store["fdatasync_ns"], &format!("{name} fdatasync_ns"));
            } else {
                assert!(store["fdatasync_ns"].is_null(), "{name}");
            }
        }
    }

    assert_figures(&report);

    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..text.len().min(200)]);
    for (engine, policy) in RUNS.iter().take(3) {
        assert!(text.contains(&format!("{engine} {policy}")), "legend names {engine} {policy}");
    }
    assert!(text.contains("SQLite"));
    assert!(dir.join("sqlite.db").is_file());
}

/// The figures beyond the frames of the run above: 60 frames of 100 events then 6,000
/// single appends in the `Periodic` store; a writer killed after 3,000 events.
fn assert_figures(report: &Value) {
    assert_eq!(report["settings"]["extras"], true);
    assert_eq!(report["settings"]["recovery_events"], 3000);
    let rate = |fig: &Value, bar: f64| {
        let (secs, per_s) = (fig["seconds"].as_f64().unwrap(), fig["events_per_s"].as_f64().unwrap());
        assert!(secs > 0.0 && per_s > 0.0, "{fig}");
        assert_eq!(fig["bar"], bar, "{fig}");
        assert_eq!(fig["met"].as_bool().unwrap(), per_s >= bar, "{fig}");
    };
    // Replay and validate read every event the Periodic run wrote, from the log alone.
    let replay = &report["replay"];
    assert_eq!(replay["events"], 2 * 60 * 100, "{replay}");
    rate(replay, 10e6);
    let validate = &report["validate"];
    assert_eq!(validate["events"], 2 * 60 * 100, "{validate}");
    rate(validate, 2e6);

    let rec = &report["recovery"];
    assert_eq!(rec["writer_events"], 3000, "{rec}");
    assert!(rec["writer_ended"].as_str().unwrap().contains("SIGKILL"), "{rec}");
    // The writer appended on after its report: nothing it had reported is lost.
    let last = rec["recovered_last_seq"].as_u64().unwrap();
    assert!(last >= 3000, "{rec}");
    let from = rec["snapshot_seq"].as_u64().unwrap_or(0);
    assert_eq!(rec["replayed"].as_u64().unwrap(), last - from, "{rec}");
    let ms = rec["ms"].as_f64().unwrap();
    assert!(ms > 0.0 && ms >= rec["open_ms"].as_f64().unwrap(), "{rec}");
    assert_eq!(rec["met"].as_bool().unwrap(), ms <= 50.0, "{rec}");

    let tt = &report["time_travel"];
    assert_eq!(tt["store_events"], last, "{tt}");
    let seqs = tt["seqs"].as_array().unwrap();
    assert_eq!(seqs.len(), 5, "{tt}");
    assert!(seqs.iter().all(|s| (1..=last).contains(&s.as_u64().unwrap())), "{tt}");
    assert_eq!(tt["ms"].as_array().unwrap().len(), 5, "{tt}");
    let median = tt["median_ms"].as_f64().unwrap();
    assert!(median >= 0.0 && median <= tt["max_ms"].as_f64().unwrap(), "{tt}");
    assert_eq!(tt["met"].as_bool().unwrap(), median <= 50.0, "{tt}");

    // Memory is a real reading or null (not Linux), never a made-up number.
    let mem = &report["memory"];
    assert_eq!(mem["events"], 3000, "{mem}");
    assert_eq!(mem["bar"], 8.0, "{mem}");
    match mem["mb"].as_f64() {
        Some(mb) => {
            assert!(mb >= 0.0, "{mem}");
            assert!(mem["rss_anon_open_mb"].as_f64().unwrap() > 0.0, "{mem}");
            assert_eq!(mem["met"].as_bool().unwrap(), mb <= 8.0, "{mem}");
        }
        None => {
            if cfg!(target_os = "linux") {
                panic!("RssAnon is readable on Linux: {mem}");
            }
            assert!(mem["mb"].is_null() && mem["met"].is_null(), "{mem}");
        }
    }
}

#[test]
fn bench_without_extras_reports_them_as_null() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--json", "bench", "--seconds", "1", "--events-per-frame", "10", "--unpaced", "--no-extras"];
    let r = wf(tmp.path(), &args, None);
    check(&r, 0);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["settings"]["extras"], false);
    for key in ["replay", "validate", "time_travel", "recovery", "memory"] {
        assert!(report[key].is_null(), "{key}: {}", report[key]);
    }
}

#[test]
fn bench_rejects_bad_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in [
        &["bench", "--events-per-frame", "0"][..],
        &["bench", "--seconds", "0"],
        &["bench", "--recovery-events", "0"],
        &["bench", "--frobnicate"],
    ] {
        let r = wf(tmp.path(), bad, None);
        check(&r, 2);
        assert!(r.stdout.is_empty(), "{bad:?}: {}", r.stdout);
    }
    // A --dir with something in it is refused before anything runs.
    std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    let r = wf(tmp.path(), &["bench", "--dir", tmp.path().to_str().unwrap()], None);
    check(&r, 1);
    assert!(r.stderr.contains("not empty"), "{}", r.stderr);
}
