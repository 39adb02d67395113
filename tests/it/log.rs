//! The log engine's happy paths: append, read, iterate, sessions, rolls, stats, reopen.

use wfstore::event::Sha256Hex;
use wfstore::event::body::{EventBody, UserPrompt};
use wfstore::sim::{self, synthetic};
use wfstore::{CreateOptions, Error, Store};

use crate::util::*;

#[test]
fn append_read_reopen_across_rolls() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 2000, SMALL_SEGMENT);
    let s = open(dir.path());
    assert!(data_segments(dir.path()).len() > 3, "rolled several times");
    assert_prefix(&s, 2000);
    assert_eq!(s.get(1234).unwrap().unwrap().event, synthetic(SEED, 1234));
    assert_eq!(s.get(2001).unwrap(), None);
    assert_eq!(s.get(0).unwrap(), None);
    let range: Vec<u64> = s.iter(500..=520).map(|r| r.unwrap().seq).collect();
    assert_eq!(range, (500..=520).collect::<Vec<_>>());
    assert_eq!(s.recovery_report(), &wfstore::RecoveryReport::default());
}

#[test]
fn a_writer_drops_each_sealed_segments_index_once_it_is_on_disk_and_reads_load_it_again() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let s = open(dir.path());
    for i in 1..=3000 {
        s.append(&synthetic(SEED, i)).unwrap();
    }
    assert!(data_segments(dir.path()).len() > 3, "rolled several times");
    // Seals run on the housekeeper: wait for the last one (an index file per sealed segment).
    wait_until(&s, "seal", || s.loaded_indexes() <= 1);
    assert_eq!(s.loaded_indexes(), 1, "only the active segment's index stays in memory");
    let session = synthetic(SEED, 3).session;
    let want: Vec<u64> = (1..=3000).filter(|i| synthetic(SEED, *i).session == session).collect();
    let got: Vec<u64> = s.session(session.as_str()).map(|r| r.unwrap().seq).collect();
    assert_eq!(got, want);
    assert_prefix(&s, 3000);
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
}

#[test]
fn the_snapshotter_follows_the_log_without_loading_sealed_indexes() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let policy = wfstore::SnapshotPolicy { every_events: 100, every: None, keep: 2, history: 0 };
    let s = open_snapshotting(dir.path(), policy);
    let events: Vec<_> = (1..=3000).map(|i| synthetic(SEED, i)).collect();
    for chunk in events.chunks(130) {
        let last = s.append_batch(chunk).unwrap().end - 1;
        s.flush().unwrap();
        wait_until(&s, "snapshot", || s.snapshots().unwrap().last().map_or(0, |i| i.seq) + 100 > last);
    }
    assert!(data_segments(dir.path()).len() > 5, "rolled several times");
    wait_until(&s, "seal", || s.loaded_indexes() <= 1);
    assert_eq!(s.loaded_indexes(), 1, "the snapshotter loaded no sealed segment's index");
    s.close().unwrap();
    let s = open(dir.path());
    let (state, _) = s.state().unwrap();
    assert_eq!(state, wfstore::state::EnergyState::replay((1..).zip(&events)));
}

#[test]
fn batch_seqs_are_consecutive() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let s = open(dir.path());
    let batch: Vec<_> = (1..=700).map(|i| synthetic(SEED, i)).collect();
    assert_eq!(s.append_batch(&batch).unwrap(), 1..701);
    assert_eq!(s.append(&synthetic(SEED, 701)).unwrap(), 701);
    assert_prefix(&s, 701);
}

#[test]
fn session_reads_through_the_index() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 3000, SMALL_SEGMENT);
    let s = open(dir.path());
    let want: Vec<u64> =
        (1..=3000).filter(|i| synthetic(SEED, *i).session == synthetic(SEED, 3).session).collect();
    let got: Vec<u64> = s.session(synthetic(SEED, 3).session.as_str()).map(|r| r.unwrap().seq).collect();
    assert_eq!(got, want);
    assert_eq!(s.session("no-such-session").count(), 0);
    let stats = s.stats().unwrap();
    assert_eq!((stats.events, stats.last_seq, stats.sessions), (3000, 3000, 8));
}

#[test]
fn readers_run_alongside_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let s = open(dir.path());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for i in 1..=3000 {
                s.append(&synthetic(SEED, i)).unwrap();
            }
        });
        scope.spawn(|| {
            let mut seen = 0;
            while seen < 3000 {
                let last = s.last_seq();
                for rec in s.iter(seen + 1..=last) {
                    let rec = rec.unwrap();
                    assert_eq!(rec.event, synthetic(SEED, rec.seq));
                    seen = rec.seq;
                }
                let id = "session-0001-wirthforge-desktop";
                for rec in s.session(id) {
                    let rec = rec.unwrap();
                    assert_eq!((rec.event.session.as_str(), &rec.event), (id, &synthetic(SEED, rec.seq)));
                }
            }
        });
    });
}

#[test]
fn content_is_dropped_unless_kept() {
    for keep in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        Store::create(dir.path(), &CreateOptions { keep_content: keep, ..CreateOptions::default() }).unwrap();
        let s = open(dir.path());
        let mut e = synthetic(SEED, 1);
        e.body = EventBody::UserPrompt(UserPrompt {
            prompt_hash: Sha256Hex::from_bytes([1; 32]),
            chars: 6,
            content: Some("secret".into()),
        });
        s.append(&e).unwrap();
        let EventBody::UserPrompt(p) = s.get(1).unwrap().unwrap().event.body else { panic!() };
        assert_eq!(p.content.is_some(), keep);
        drop(s);
        let bytes: Vec<u8> = segments(dir.path()).iter().flat_map(|p| std::fs::read(p).unwrap()).collect();
        assert_eq!(bytes.windows(6).any(|w| w == b"secret"), keep);
    }
}

#[test]
fn oversized_event_is_refused_and_leaves_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let s = open(dir.path());
    s.append(&synthetic(SEED, 1)).unwrap();
    let mut big = synthetic(SEED, 2);
    big.body = EventBody::SessionEnd(wfstore::event::body::SessionEnd { reason: "x".repeat(100_000) });
    assert!(matches!(s.append(&big), Err(Error::RecordTooLarge { .. })));
    assert_eq!(s.append(&synthetic(SEED, 2)).unwrap(), 2);
    drop(s);
    let s = open(dir.path());
    assert_eq!(s.recovery_report(), &wfstore::RecoveryReport::default());
    assert_prefix(&s, 2);
}

#[test]
fn read_only_open_refuses_appends() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 10, SMALL_SEGMENT);
    let s = open_ro(dir.path()).unwrap();
    assert!(matches!(s.append(&synthetic(SEED, 11)), Err(Error::ReadOnly)));
    assert_prefix(&s, 10);
}

#[test]
fn create_refuses_a_non_empty_directory_and_bad_sizes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    assert!(matches!(Store::create(dir.path(), &CreateOptions::default()), Err(Error::NotAStore { .. })));
    let empty = tempfile::tempdir().unwrap();
    let tiny = CreateOptions { segment_bytes: 100, ..CreateOptions::default() };
    assert!(matches!(Store::create(empty.path(), &tiny), Err(Error::InvalidOption(_))));
    assert!(matches!(open_ro(dir.path()), Err(Error::NotAStore { .. })));
    // A STORE file that is too long is refused without being read whole.
    let long = tempfile::tempdir().unwrap();
    store_with(long.path(), 1, SMALL_SEGMENT);
    std::fs::write(long.path().join("STORE"), vec![0u8; 100_000]).unwrap();
    let Err(Error::Corrupt(c)) = open_ro(long.path()) else { panic!("long STORE accepted") };
    assert_eq!((c.path, c.what.as_str()), (long.path().join("STORE"), "STORE is too long"));
}

#[test]
fn simulator_is_deterministic_and_realistic() {
    let frames = |seed| {
        sim::Simulator::new(sim::SimConfig { seed, ..Default::default() }).flatten().collect::<Vec<_>>()
    };
    let a = frames(3);
    assert_eq!(a, frames(3));
    assert_ne!(a, frames(4));
    let types: std::collections::BTreeSet<_> = a.iter().map(|e| e.event_type()).collect();
    assert!(types.len() >= 14, "only {} event types", types.len());
}
