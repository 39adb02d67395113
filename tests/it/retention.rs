//! Retention: whole early segments go once a snapshot covers them; the log's start moves
//! durably in the same step; `verify` stays clean; a state or replay before the start is
//! an error naming the first available seq; a power loss at any step leaves the old log or
//! the retained one.

use std::path::Path;
use std::sync::Arc;

use wfstore::disk::Disk;
use wfstore::faultsim::{crash, recorder::Recorder};
use wfstore::sim::synthetic;
use wfstore::state::EnergyState;
use wfstore::{Error, OpenOptions, ReplayTarget, RetainRule, Retention, SnapshotPolicy, Store};

use crate::util::{SEED, SMALL_SEGMENT, open, open_with, store_with};

const N: u64 = 3000;

fn full_replay(n: u64) -> EnergyState {
    let mut s = EnergyState::default();
    for i in 1..=n {
        s.apply(i, &synthetic(SEED, i));
    }
    s
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".seg"))
        .collect();
    v.sort();
    v
}

#[test]
fn retain_before_a_seq_removes_whole_early_segments_and_keeps_the_state() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), N, SMALL_SEGMENT);
    let before = segment_files(dir.path());
    let store = open(dir.path());
    let report = store.retain(RetainRule::BeforeSeq(2000)).unwrap();
    assert!(report.new_start > 1 && report.new_start <= 2000, "{report:?}");
    assert_eq!(report.old_start, 1);
    assert_eq!(report.removed_segments.len(), before.len() - segment_files(dir.path()).len());
    assert!(!report.removed_segments.is_empty());
    assert_eq!(report.base_snapshot, Some(N), "a snapshot was taken to cover them");
    let start = report.new_start;
    assert_eq!(store.first_seq(), start);
    assert_eq!(store.get(start - 1).unwrap(), None);
    assert_eq!(store.get(start).unwrap().unwrap().event, synthetic(SEED, start));
    assert_eq!(store.iter(1..=N).count() as u64, N - start + 1);
    // The state is the whole history's: the snapshot is its base.
    assert_eq!(store.state().unwrap().0.hash(), full_replay(N).hash());
    store.close().unwrap();

    assert!(wfstore::verify::verify(dir.path()).unwrap().is_clean());
    let store = open(dir.path());
    assert!(store.recovery_report().is_clean(), "{:?}", store.recovery_report());
    assert_eq!(store.first_seq(), start, "the start is durable");
    let v = wfstore::validate::validate(&store).unwrap();
    assert!(v.is_valid(), "{:?}", v.violations);
    match store.state_at(start - 1) {
        Err(Error::BeforeLogStart { seq, first }) => assert_eq!((seq, first), (start - 1, N)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(store.replay_to(ReplayTarget::Seq(10), None), Err(Error::BeforeLogStart { .. })));
    assert!(matches!(store.replay_to(ReplayTarget::Time(0), None), Err(Error::BeforeLogStart { .. })));
    let t = synthetic(SEED, N).ts_ns;
    assert_eq!(store.replay_to(ReplayTarget::Time(t), None).unwrap().hash(), full_replay(N).hash());
    // Appends and a later state go on from the base.
    store.append(&synthetic(SEED, N + 1)).unwrap();
    assert_eq!(store.state().unwrap().0.hash(), full_replay(N + 1).hash());
    store.close().unwrap();
    let audit = wfstore::audit::read(&Disk::default(), dir.path()).unwrap();
    let rec = audit.records.last().unwrap().1;
    assert_eq!((rec.action, rec.seq_first, rec.seq_last), (wfstore::audit::Action::Retention, 1, start - 1));
}

#[test]
fn retain_by_bytes_and_by_time_and_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), N, SMALL_SEGMENT);
    let store = open(dir.path());
    let r = store.retain(RetainRule::BeforeTime(0)).unwrap();
    assert_eq!((r.new_start, r.removed_segments.len()), (1, 0), "nothing is that old");
    let r = store.retain(RetainRule::MaxBytes(3 * SMALL_SEGMENT)).unwrap();
    assert!(r.new_start > 1);
    assert!(segment_files(dir.path()).len() <= 4, "{:?}", segment_files(dir.path()));
    let t = synthetic(SEED, N).ts_ns + 1;
    store.retain(RetainRule::BeforeTime(t)).unwrap();
    assert_eq!(store.stats().unwrap().segments, 1, "only the last segment is left");
    assert_eq!(store.state().unwrap().0.hash(), full_replay(N).hash());
    store.close().unwrap();
    assert!(wfstore::verify::verify(dir.path()).unwrap().is_clean());
}

#[test]
fn a_retention_policy_keeps_the_store_within_its_bytes_as_it_grows() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 1, SMALL_SEGMENT);
    let opts = OpenOptions {
        snapshots: Some(SnapshotPolicy { every_events: 300, every: None, keep: 2, history: 0 }),
        retention: Some(Retention { max_bytes: Some(4 * SMALL_SEGMENT), ..Retention::default() }),
        ..OpenOptions::default()
    };
    let store = open_with(dir.path(), &opts).unwrap();
    for i in 2..=N * 2 {
        store.append(&synthetic(SEED, i)).unwrap();
        if i % 500 == 0 {
            store.flush().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(60));
        }
    }
    store.close().unwrap();
    let store = open(dir.path());
    assert!(store.first_seq() > 1, "retention ran");
    assert!(segment_files(dir.path()).len() <= 6, "{:?}", segment_files(dir.path()));
    assert_eq!(store.state().unwrap().0.hash(), full_replay(N * 2).hash());
    assert!(store.warnings().is_empty(), "{:?}", store.warnings());
    store.close().unwrap();
    assert!(wfstore::verify::verify(dir.path()).unwrap().is_clean());
}

#[test]
fn power_loss_during_retention_leaves_the_old_log_or_the_retained_one() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("store");
    store_with(&dir, N, SMALL_SEGMENT);
    let rec = Arc::new(Recorder::new(&dir).unwrap());
    let opts = OpenOptions { snapshots: None, disk: Disk::hooked(rec.clone()), ..OpenOptions::default() };
    let store = open_with(&dir, &opts).unwrap();
    rec.capture_rate(1.0, 3);
    let start = store.retain(RetainRule::BeforeSeq(2500)).unwrap().new_start;
    rec.capture_now("after retain").unwrap();
    drop(store);
    let captures = rec.take_captures();
    let mut rng = fastrand::Rng::with_seed(5);
    let (mut olds, mut news) = (0, 0);
    let want = full_replay(N).hash();
    for (i, cap) in captures.iter().enumerate() {
        for k in 0..4 {
            let state = crash::crash_state(cap, &mut rng);
            let at = scratch.path().join(format!("crash-{i}-{k}"));
            crash::materialize(&state, &at).unwrap();
            let store = open(&at);
            match store.first_seq() {
                1 => olds += 1,
                s if s == start => news += 1,
                s => panic!("log starts at {s}: {}", state.description),
            }
            assert_eq!(store.last_seq(), N, "{}", state.description);
            assert_eq!(store.state().unwrap().0.hash(), want, "{}", state.description);
            store.close().unwrap();
            let v = wfstore::verify::verify(&at).unwrap();
            assert!(v.is_clean(), "{v:?}\n{}", state.description);
            std::fs::remove_dir_all(&at).unwrap();
        }
    }
    assert!(olds > 0 && news > 0, "old {olds}, new {news}");
}

#[test]
fn the_retain_command() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), N, SMALL_SEGMENT);
    let wf = |args: &[&str]| crate::cli::wf(dir.path(), args, None);
    let r = wf(&["--json", "retain", "--before-seq", "2000"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let start = v["new_start"].as_u64().unwrap();
    assert!(start > 1 && start <= 2000);
    assert_eq!(wf(&["retain"]).code, 2, "one rule is required");
    let replay = wf(&["replay", "--to-seq", "5"]);
    assert_eq!(replay.code, 1, "{}", replay.stderr);
    assert!(replay.stderr.contains("before the log's start"), "{}", replay.stderr);
    let human = wf(&["retain", "--max-bytes", "1"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(human.stdout.starts_with("log now starts at seq "), "{}", human.stdout);
    let _ = Store::open(dir.path(), &OpenOptions::read_only()).unwrap();
}

/// A segment whose seal is still writing its index when retention removes it: the index
/// file is not written after the segment is gone (an orphan `.idx` in the store).
#[test]
fn a_segment_retained_away_while_it_is_sealed_leaves_no_orphan_index() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 10, SMALL_SEGMENT);
    let hook = Arc::new(crate::util::PausedSeal::until_removed(".seg"));
    let opts = OpenOptions { snapshots: None, disk: Disk::hooked(hook.clone()), ..OpenOptions::default() };
    let store = open_with(dir.path(), &opts).unwrap();
    let mut i = 11;
    while !hook.paused() {
        assert!(i < 100_000, "no segment was sealed");
        store.append(&synthetic(SEED, i)).unwrap();
        i += 1;
    }
    let report = store.retain(RetainRule::BeforeSeq(store.last_seq())).unwrap();
    assert!(!report.removed_segments.is_empty(), "{report:?}");
    store.close().unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for name in names.iter().filter(|n| n.ends_with(".idx")) {
        assert!(names.contains(&name.replace(".idx", ".seg")), "orphan {name} in {names:?}");
    }
    assert!(wfstore::verify::verify(dir.path()).unwrap().is_clean());
}
