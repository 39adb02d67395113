//! The crash-torture driver (`tools/crash_torture.rs`) as CI runs it: 220 kill -9s over its
//! four phases (an appending writer with readers beside it, `snapshot create`, `repair` of
//! a damaged store, `migrate` of the version-1 fixture). Every phase must end with zero
//! acknowledged loss, zero seq reuse, zero false corruption reports and no other failure.
//! The seed is fixed (1) unless `WFSTORE_TEST_SEED` says otherwise; kill moments also
//! depend on timing, so each run tries other moments.

use std::process::Command;

/// Kills per phase, as CI runs them.
const PHASES: [(&str, &str, u64); 4] = [
    ("writer", "--iterations", 100),
    ("snapshot", "--snapshot-kills", 40),
    ("repair", "--repair-kills", 40),
    ("migrate", "--migrate-kills", 40),
];

/// The number before `what` in `line` (`"100 kills"` → 100).
fn number_before(line: &str, what: &str) -> u64 {
    let head = &line[..line.find(what).unwrap_or_else(|| panic!("no {what:?} in {line}"))];
    head.rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before {what:?}: {line}"))
}

#[test]
fn kills_in_every_phase_lose_nothing_reuse_no_seq_and_report_no_false_corruption() {
    let seed = std::env::var("WFSTORE_TEST_SEED").unwrap_or_else(|_| "1".into());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfstore-torture"));
    cmd.args(["--seed", &seed, "--max-run-ms", "20", "--readers", "2"]);
    for (_, flag, kills) in PHASES {
        cmd.args([flag, &kills.to_string()]);
    }
    let started = std::time::Instant::now();
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("wfstore-torture took {:?}", started.elapsed());
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stdout.starts_with(&format!("wfstore-torture: seed {seed}, 100 iterations, 40 snapshot kills")),
        "{stdout}"
    );
    let mut total = 0;
    let mut unclean = Vec::new();
    for (phase, _, wanted) in PHASES {
        let prefix = format!("phase {phase}: ");
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {prefix}: {stdout}"));
        let kills = number_before(line, " kills,");
        assert!(kills >= wanted, "{line}");
        if !line.contains(
            " kills, acknowledged loss 0, seq reuse 0, false corruption reports 0, other failures 0 ",
        ) {
            unclean.push(line);
        }
        if phase == "writer" {
            let opens: u64 =
                line.rsplit("reader opens ").next().unwrap().trim_end_matches(')').parse().unwrap();
            assert!(opens >= kills, "readers beside the writer: {line}");
        }
        total += kills;
    }
    assert!(unclean.is_empty(), "phases not clean: {unclean:#?}\n{stdout}\n{stderr}");
    assert!(total >= 200, "{stdout}");
    assert!(
        stdout.ends_with(&format!(
            "wfstore-torture: {total} kills, zero acknowledged loss, zero seq reuse, zero false corruption reports\n"
        )),
        "{stdout}\n{stderr}"
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
}

#[test]
fn a_campaign_runs_for_its_time_and_prints_its_rate() {
    let out = Command::new(env!("CARGO_BIN_EXE_wfstore-torture"))
        .args(["--campaign", "media", "--seconds", "1", "--seed", "3"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("wfstore-torture: campaign Media, seed 3, 1 s"));
    let report = lines.next().unwrap();
    assert!(number_before(report, " cases from") > 0, "{stdout}");
    assert!(lines.next().unwrap().ends_with(" ms per case"), "{stdout}");
}

/// A saved case as a campaign leaves it: the store in `case.orig`, `case.json` beside it.
fn saved_case(dir: &std::path::Path, seed_in_case_json: u64) -> std::path::PathBuf {
    use wfstore::faultsim::{campaign::Saved, workload::Workload};
    let case = dir.join("case.orig");
    let w = Workload { seed: 5, durability: wfstore::Durability::None, events: 300, snapshotter: false };
    wfstore::Store::create(&case, &Default::default()).unwrap();
    let store = wfstore::Store::open(&case, &w.options(Default::default())).unwrap();
    w.run(&store);
    let last = store.last_seq();
    store.close().unwrap();
    let saved = Saved {
        kind: "media".into(),
        seed: seed_in_case_json,
        required: 0,
        last,
        v1: None,
        description: "no fault".into(),
    };
    std::fs::write(dir.join("case.json"), serde_json::to_vec(&saved).unwrap()).unwrap();
    case
}

#[test]
fn replay_reruns_the_oracle_on_a_saved_case_and_leaves_it_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let replay = |case: &std::path::Path| {
        let out =
            Command::new(env!("CARGO_BIN_EXE_wfstore-torture")).arg("--replay").arg(case).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let good = saved_case(&dir.path().join("good"), 5);
    let (ok, stdout) = replay(&good);
    assert!(ok, "{stdout}");
    assert!(stdout.ends_with(": passes (Clean)\n"), "{stdout}");
    // The oracle expects another workload's events: every event differs, and it says so.
    let bad = saved_case(&dir.path().join("bad"), 6);
    let files = |d: &std::path::Path| -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let walk = wfstore::faultsim::recorder::walk(d).unwrap();
        walk.into_iter().map(|p| (p.clone(), std::fs::read(p).unwrap())).collect()
    };
    let before = files(&bad);
    let (ok, stdout) = replay(&bad);
    assert!(!ok, "{stdout}");
    assert!(stdout.ends_with(": FAILS: seq 1 is not what was appended\n"), "{stdout}");
    assert!(files(&bad) == before, "the saved case was changed");
    assert!(!dir.path().join("bad/replay").exists());
}
