//! `repair` and `migrate`, end to end: what they keep, report, quarantine and refuse, with
//! the exact outcome of each.

use std::path::{Path, PathBuf};

use wfstore::sim::synthetic;
use wfstore::verify::verify;
use wfstore::{Error, OpenOptions, Store};

use crate::cli::{check, wf};
use crate::util::*;

const N: u64 = 3000;

fn tree(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut out: Vec<_> = wfstore::faultsim::recorder::walk(dir)
        .unwrap()
        .into_iter()
        .filter(|p| !p.ends_with("LOCK"))
        .map(|p| {
            let crc = crc32fast::hash(&std::fs::read(&p).unwrap());
            (p, crc)
        })
        .collect();
    out.sort();
    out
}

/// N events of simulated sessions (valid for `validate`).
fn sim_events() -> Vec<wfstore::event::Event> {
    let cfg = wfstore::sim::SimConfig { seed: 3, frames: 2000, ..Default::default() };
    wfstore::sim::Simulator::new(cfg).flatten().take(N as usize).collect()
}

/// A store of N simulated events with a flipped byte in the middle of a sealed segment's
/// frames; returns it, the damaged segment and the seq of the damaged frame.
fn damaged() -> (tempfile::TempDir, PathBuf, u64) {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let s = open(dir.path());
    for e in sim_events() {
        s.append(&e).unwrap();
    }
    s.close().unwrap();
    let segs = data_segments(dir.path());
    let before: u64 = segs[..2].iter().map(|s| frame_offsets(s).len() as u64).sum();
    let frames = frame_offsets(&segs[2]);
    let (at, len) = frames[frames.len() / 2];
    let mut bytes = std::fs::read(&segs[2]).unwrap();
    bytes[at + len / 2] ^= 0x20;
    std::fs::write(&segs[2], bytes).unwrap();
    (dir, segs[2].clone(), before + frames.len() as u64 / 2 + 1)
}

#[test]
fn repair_keeps_the_log_up_to_the_damage_quarantines_the_rest_and_verifies() {
    let (dir, seg, bad) = damaged();
    assert_eq!(verify(dir.path()).unwrap().problems.len(), 1);
    let before = tree(dir.path());
    let r = wf(dir.path(), &["--json", "repair", "--dry-run"], None);
    check(&r, 0);
    assert!(tree(dir.path()) == before, "a dry run changed files");
    let r = wf(dir.path(), &["--json", "repair"], None);
    check(&r, 0);
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rep = &out["repair"];
    assert_eq!(rep["kept_through"], bad - 1);
    assert_eq!(rep["damage"]["path"], seg.display().to_string());
    assert_eq!(rep["damage"]["seq"], bad);
    assert_eq!(rep["lost"], serde_json::json!({"start": bad, "end": N}));
    let beyond: u64 =
        rep["valid_beyond"].as_array().unwrap().iter().map(|f| f["frames"].as_u64().unwrap()).sum();
    assert_eq!(beyond, N - bad, "every valid frame after the damaged one is found and reported");
    let q = PathBuf::from(rep["quarantine"].as_str().unwrap());
    assert!(q.join("report.json").is_file());
    assert!(q.join(seg.file_name().unwrap()).is_file(), "the damaged segment is kept in quarantine");
    assert_eq!(out["verify"]["problems"], serde_json::json!([]));
    check(&wf(dir.path(), &["validate"], None), 0);
    let s = open(dir.path());
    let kept: Vec<_> = s.iter(1..=u64::MAX).map(|r| r.unwrap().event).collect();
    assert_eq!(kept, sim_events()[..bad as usize - 1]);
    assert_eq!(s.append(&synthetic(SEED, bad)).unwrap(), bad, "the salvaged store takes the next seq");
    drop(s);
    // Nothing left to do.
    let again = wfstore::repair::repair(dir.path(), true).unwrap();
    assert!(again.nothing_to_do(), "{again:?}");
}

#[test]
fn repair_of_a_sound_store_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 1000, SMALL_SEGMENT);
    let before = tree(dir.path());
    let r = wfstore::repair::repair(dir.path(), false).unwrap();
    assert!(r.nothing_to_do(), "{r:?}");
    assert!(tree(dir.path()) == before);
}

#[test]
fn repair_rebuilds_a_lost_or_wholly_damaged_store_file() {
    for lose in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        store_with(dir.path(), 1000, SMALL_SEGMENT);
        let store = dir.path().join("STORE");
        if lose {
            std::fs::remove_file(&store).unwrap();
        } else {
            std::fs::write(&store, vec![0xAB; 8192]).unwrap();
        }
        let Err(Error::Corrupt(_)) = open_ro(dir.path()) else { panic!("a damaged STORE was accepted") };
        let r = wfstore::repair::repair(dir.path(), false).unwrap();
        assert!(r.store_rewritten);
        assert!(verify(dir.path()).unwrap().is_clean());
        assert_prefix(&open(dir.path()), 1000);
    }
}

#[test]
fn an_index_left_without_its_segment_never_speaks_for_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 1000, SMALL_SEGMENT);
    let segs = data_segments(dir.path());
    // An index of a segment that is gone (a retired one, or one repair moved out).
    let orphan = dir.path().join("0000000009.idx");
    std::fs::copy(segs[0].with_extension("idx"), &orphan).unwrap();
    let s = open(dir.path());
    assert_eq!(s.recovery_report().removed_indexes, vec![orphan.clone()]);
    drop(s);
    assert!(!orphan.exists());
}

fn v1_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1/store"), dir.path());
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    wfstore::faultsim::campaign::copy_tree(from, to).unwrap();
}

const V1_EVENTS: u64 = 2927;
const V1_TAIL_SHA256: &str = "f7904f5ed696f401f4445f0907fe3a326940be29962844f80393c58aa0dd9b3a";
const V1_STATE_HASH: &str = "f991ab7f88b021004e9118875421c58f07e65b350b75a0fcba6d778a26c00c2c";

#[test]
fn a_version_1_store_opens_read_only_and_migrates_to_the_same_events() {
    use sha2::Digest as _;
    let dir = v1_fixture();
    let Err(Error::NeedsMigration { version: 1, .. }) = Store::open(dir.path(), &OpenOptions::default())
    else {
        panic!("a writer opened a version-1 store")
    };
    let tail = |d: &Path| {
        let r = wf(d, &["tail"], None);
        check(&r, 0);
        format!("{:x}", sha2::Sha256::digest(r.stdout.as_bytes()))
    };
    assert_eq!(tail(dir.path()), V1_TAIL_SHA256, "read-only, the v1 store reads as its last build wrote it");
    let before = tree(dir.path());
    let r = wf(dir.path(), &["--json", "migrate", "--dry-run"], None);
    check(&r, 0);
    assert!(tree(dir.path()) == before, "a dry run changed files");
    let r = wf(dir.path(), &["--json", "migrate"], None);
    check(&r, 0);
    let rep: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((rep["events"].as_u64(), rep["state_hash"].as_str()), (Some(V1_EVENTS), Some(V1_STATE_HASH)));
    let s = open_ro(dir.path()).unwrap();
    assert_eq!((s.format_version(), s.last_seq()), (2, V1_EVENTS));
    assert_eq!(s.state().unwrap().0.hash_hex(), V1_STATE_HASH);
    drop(s);
    assert_eq!(tail(dir.path()), V1_TAIL_SHA256, "the migrated store prints every event the same");
    assert!(verify(dir.path()).unwrap().is_clean());
    assert!(!dir.path().join(".migrate.tmp").exists() && !dir.path().join(".migrate.v1").exists());
    let r = wf(dir.path(), &["migrate"], None);
    check(&r, 0);
    assert!(r.stdout.contains("already format version 2"), "{}", r.stdout);
    // Writable now, and the events go on.
    let s = open(dir.path());
    assert_eq!(s.append(&synthetic(SEED, 1)).unwrap(), V1_EVENTS + 1);
}

#[test]
fn an_interrupted_migration_is_named_by_every_open_and_finished_by_migrate() {
    // Killed in the switch: `STORE` already moved aside, the new one not yet in place.
    let dir = v1_fixture();
    let report = wfstore::migrate::migrate(dir.path(), true).unwrap();
    assert_eq!(report.events, V1_EVENTS);
    std::fs::create_dir(dir.path().join(".migrate.v1")).unwrap();
    std::fs::rename(dir.path().join("STORE"), dir.path().join(".migrate.v1/STORE")).unwrap();
    for opts in [OpenOptions::read_only(), OpenOptions::default()] {
        let Err(Error::MigrationPending { .. }) = Store::open(dir.path(), &opts) else {
            panic!("an open did not name the interrupted migration")
        };
    }
    let r = wf(dir.path(), &["stats"], None);
    check(&r, 1);
    assert!(
        r.stderr.contains("a migration of store") && r.stderr.contains("was interrupted"),
        "{}",
        r.stderr
    );

    // Killed while cleaning up after a finished switch: both directories left behind.
    let dir = v1_fixture();
    wfstore::migrate::migrate(dir.path(), false).unwrap();
    std::fs::create_dir(dir.path().join(".migrate.tmp")).unwrap();
    std::fs::create_dir(dir.path().join(".migrate.v1")).unwrap();
    std::fs::write(dir.path().join(".migrate.tmp/0000000001.seg"), b"partly removed").unwrap();
    let r = wfstore::migrate::migrate(dir.path(), false).unwrap();
    assert!(r.resumed);
    assert!(!dir.path().join(".migrate.tmp").exists() && !dir.path().join(".migrate.v1").exists());
    assert_eq!(open_ro(dir.path()).unwrap().last_seq(), V1_EVENTS);
}
