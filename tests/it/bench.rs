//! `wfstore bench` end to end, on short runs: every run is reported with sane percentiles,
//! exact event counts and a ratio; the plot is an SVG; bad arguments are usage errors.

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
    let args = ["--json", "bench", "--seconds", "1", "--events-per-frame", "100"];
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

    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..text.len().min(200)]);
    for (engine, policy) in RUNS.iter().take(3) {
        assert!(text.contains(&format!("{engine} {policy}")), "legend names {engine} {policy}");
    }
    assert!(text.contains("SQLite"));
    assert!(dir.join("sqlite.db").is_file());
}

#[test]
fn bench_rejects_bad_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in
        [&["bench", "--events-per-frame", "0"][..], &["bench", "--seconds", "0"], &["bench", "--frobnicate"]]
    {
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
