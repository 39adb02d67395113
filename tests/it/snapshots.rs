//! Energy state recovery: newest valid snapshot + replay equals a full replay, whatever
//! happened to the snapshots; the background snapshotter; time travel.

use std::path::Path;

use proptest::prelude::*;
use wfstore::sim::{SimConfig, Simulator};
use wfstore::state::EnergyState;
use wfstore::{Error, OpenOptions, ReplayTarget, SnapshotPolicy, Store};

use crate::util::*;

fn sim_events(seed: u64, frames: u64) -> Vec<wfstore::event::Event> {
    Simulator::new(SimConfig { seed, frames, ..SimConfig::default() }).flatten().collect()
}

/// Cuts the log so it ends at seq `keep` (as a lost tail would): the segment holding it is
/// truncated after that frame, later segments removed.
fn cut_log_at(dir: &Path, keep: usize) {
    let mut before = 0;
    for seg in segments(dir) {
        let frames = frame_offsets(&seg);
        if before > keep {
            std::fs::remove_file(&seg).unwrap();
        } else if before + frames.len() > keep {
            let at = frames[keep - before].0 as u64;
            std::fs::OpenOptions::new().write(true).open(&seg).unwrap().set_len(at).unwrap();
        }
        before += frames.len();
    }
}

fn full_replay(store: &Store) -> EnergyState {
    let mut s = EnergyState::default();
    for r in store.iter(1..=u64::MAX) {
        let r = r.unwrap();
        s.apply(r.seq, &r.event);
    }
    s
}

/// A store of simulated events with snapshots taken at `points` (seqs).
fn store_with_snapshots(dir: &Path, events: &[wfstore::event::Event], points: &[usize]) {
    create(dir, SMALL_SEGMENT);
    let s = open(dir);
    let mut start = 0;
    for &p in points {
        s.append_batch(&events[start..p]).unwrap();
        s.snapshot_now(10).unwrap();
        start = p;
    }
    s.append_batch(&events[start..]).unwrap();
    s.close().unwrap();
}

#[test]
fn state_is_snapshot_plus_tail_and_equals_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let events = sim_events(1, 600);
    store_with_snapshots(dir.path(), &events, &[300, 900]);
    let s = open(dir.path());
    let (state, rec) = s.state().unwrap();
    assert_eq!(state, full_replay(&s));
    assert_eq!(rec.snapshot.as_ref().map(|i| i.seq), Some(900));
    assert_eq!(rec.replayed, events.len() as u64 - 900);
    assert!(rec.skipped.is_empty());
    assert_eq!(s.snapshots().unwrap().iter().map(|i| i.seq).collect::<Vec<_>>(), vec![300, 900]);
}

/// Damages the newest snapshot with `damage` and expects a fallback to the older one.
fn check_fallback(damage: impl Fn(&Path), reason: &str) {
    let dir = tempfile::tempdir().unwrap();
    let events = sim_events(2, 300);
    store_with_snapshots(dir.path(), &events, &[200, 400]);
    let newest = dir.path().join("snapshots").join(wfstore::snapshot::file_name(400));
    damage(&newest);
    // A reader skips it, saying why, and falls back.
    let s = open_ro(dir.path()).unwrap();
    let (state, rec) = s.state().unwrap();
    assert_eq!(state, full_replay(&s));
    assert_eq!(rec.snapshot.map(|i| i.seq), Some(200), "fell back to the older snapshot");
    assert_eq!(rec.skipped.len(), 1);
    assert!(rec.skipped[0].1.contains(reason), "{:?}", rec.skipped);
    drop(s);
    // A writer removes it: like an index, a snapshot is derived from the sound log.
    let s = open(dir.path());
    assert_eq!(
        s.recovery_report().removed_snapshots.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        vec![newest]
    );
    let (state, rec) = s.state().unwrap();
    assert_eq!((state, rec.snapshot.map(|i| i.seq), rec.skipped.len()), (full_replay(&s), Some(200), 0));
}

#[test]
fn truncated_snapshot_is_skipped() {
    check_fallback(
        |p| std::fs::OpenOptions::new().write(true).open(p).unwrap().set_len(100).unwrap(),
        "bytes",
    );
}

#[test]
fn bit_flipped_snapshot_is_skipped() {
    check_fallback(
        |p| {
            let mut b = std::fs::read(p).unwrap();
            let n = b.len() - 3;
            b[n] ^= 0x20;
            std::fs::write(p, b).unwrap();
        },
        "checksum",
    );
}

#[test]
fn foreign_snapshot_is_skipped() {
    let other = tempfile::tempdir().unwrap();
    store_with_snapshots(other.path(), &sim_events(2, 300), &[400]);
    let theirs = other.path().join("snapshots").join(wfstore::snapshot::file_name(400));
    check_fallback(
        |p| {
            std::fs::copy(&theirs, p).unwrap();
        },
        "another store",
    );
}

#[test]
fn future_version_snapshot_is_skipped() {
    check_fallback(
        |p| {
            let mut b = std::fs::read(p).unwrap();
            b[8] = 3; // format version 3, header CRC recomputed: a well-formed future file
            let crc = crc32fast::hash(&b[..60]);
            b[60..64].copy_from_slice(&crc.to_le_bytes());
            std::fs::write(p, b).unwrap();
        },
        "version 3",
    );
}

#[test]
fn a_snapshot_past_the_log_is_evidence_of_loss() {
    let dir = tempfile::tempdir().unwrap();
    let events = sim_events(3, 300);
    store_with_snapshots(dir.path(), &events, &[200, 400]);
    unsynced_after(dir.path(), 200);
    // Cut inside the batch 401..: what remains ends at 390, in the batch 201..=400.
    cut_log_at(dir.path(), 390);
    // A snapshot is only ever taken of durable events: a log ending before it lost them.
    let Err(Error::Corrupt(c)) = open_with(dir.path(), &OpenOptions::default()) else {
        panic!("a writer reused seqs a snapshot vouched for")
    };
    assert!(c.what.contains("snapshot") && c.what.contains("seqs 201..=400 missing"), "{}", c.what);
    // A reader serves the committed prefix (the batch 201..=400 is cut short, so none of
    // it), says what is missing, and skips the snapshot.
    let s = open_ro(dir.path()).unwrap();
    assert_eq!(s.last_seq(), 200);
    assert_eq!(s.recovery_report().loss.as_ref().map(|l| (l.last_seq, l.durable)), Some((200, 400)));
    let (state, rec) = s.state().unwrap();
    assert_eq!(state, full_replay(&s));
    assert_eq!(rec.snapshot.map(|i| i.seq), Some(200));
    assert!(rec.skipped[0].1.contains("ahead of the log"), "{:?}", rec.skipped);
}

#[test]
fn decompression_bomb_is_refused_before_allocation() {
    use wfstore::snapshot::file::{self, Binding, Snapshot};
    let bind = Binding { salt: 1, crc: 2 };
    let bomb =
        Snapshot { seq: 1, bind, state_hash: [0; 32], state: vec![0; wfstore::limits::STATE_BYTES_MAX + 1] };
    let bytes = file::encode(1, &bomb).unwrap();
    assert!(bytes.len() < 100_000, "a tiny file ...");
    assert!(file::decode(&bytes, 1).unwrap_err().contains("limit"), "... refused by its declared size");
    // A header that lies small about a large frame fails on the frame's own size claim.
    let small = Snapshot { seq: 1, bind, state_hash: [0; 32], state: vec![0; 1 << 20] };
    let mut bytes = file::encode(1, &small).unwrap();
    bytes[32..36].copy_from_slice(&100u32.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..60]);
    bytes[60..64].copy_from_slice(&crc.to_le_bytes());
    assert!(file::decode(&bytes, 1).unwrap_err().contains("zstd frame size"));
}

#[test]
fn leftover_temp_files_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    store_with_snapshots(dir.path(), &sim_events(4, 100), &[50]);
    let tmp = dir.path().join("snapshots").join(format!("{}.tmp", wfstore::snapshot::file_name(99)));
    std::fs::write(&tmp, b"half a snapshot").unwrap();
    let s = open(dir.path());
    assert!(s.recovery_report().removed_temp_files.contains(&tmp));
    assert!(!tmp.exists());
}

#[test]
fn the_snapshotter_follows_the_log_and_snapshots_on_close() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let policy = SnapshotPolicy { every_events: 500, every: None, keep: 2, history: 0 };
    let events = sim_events(5, 900);
    let s = open_snapshotting(dir.path(), policy);
    s.append_batch(&events[..1200]).unwrap();
    // Under `None` events are durable (and so snapshotted) once synced: here, by a flush.
    s.flush().unwrap();
    wait_until(&s, "snapshot", || !s.snapshots().unwrap().is_empty());
    s.append_batch(&events[1200..]).unwrap();
    s.close().unwrap();
    let s = open(dir.path());
    let snaps = s.snapshots().unwrap();
    assert_eq!(snaps.len(), 2, "keeps the newest 2");
    assert_eq!(snaps[1].seq, events.len() as u64, "a final snapshot on close");
    let (state, rec) = s.state().unwrap();
    assert_eq!((rec.replayed, rec.snapshot.map(|i| i.seq)), (0, Some(events.len() as u64)));
    assert_eq!(state, full_replay(&s));
}

#[test]
fn the_snapshotter_keeps_one_snapshot_per_history_span_for_time_travel() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let policy = SnapshotPolicy { every_events: 100, every: None, keep: 2, history: 300 };
    let events = sim_events(5, 900);
    let s = open_snapshotting(dir.path(), policy);
    for chunk in events.chunks(150) {
        let last = s.append_batch(chunk).unwrap().end - 1;
        s.flush().unwrap();
        wait_until(&s, "snapshot", || s.snapshots().unwrap().last().map_or(0, |i| i.seq) + 100 > last);
    }
    s.close().unwrap();
    let s = open(dir.path());
    let seqs: Vec<u64> = s.snapshots().unwrap().iter().map(|i| i.seq).collect();
    let (older, newest) = seqs.split_at(seqs.len() - 2);
    assert!(older.len() >= 2, "history kept: {seqs:?}");
    assert!(older.windows(2).all(|w| w[1] - w[0] >= 300), "one per 300 events: {seqs:?}");
    assert_eq!(newest[1], events.len() as u64, "a final snapshot on close");
    // Time travel into the history starts from the snapshot before the target.
    let target = older[1] + 1;
    let (state, rec) = s.state_at(target).unwrap();
    assert_eq!((rec.snapshot.map(|i| i.seq), rec.replayed), (Some(older[1]), 1));
    assert_eq!(state, EnergyState::replay((1..).zip(&events[..target as usize])));
}

#[test]
fn a_snapshotter_that_starts_behind_leaves_a_snapshot_every_step_for_time_travel() {
    // It used to follow everything durable in one go and snapshot once at the end: a
    // snapshotter behind by N events left a gap of N that time travel had to replay.
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let events = sim_events(5, 300);
    let n = events.len() as u64;
    let s = open(dir.path());
    s.append_batch(&events).unwrap();
    s.close().unwrap();
    let policy = SnapshotPolicy { every_events: 100, every: None, keep: 1, history: 100 };
    let s = open_snapshotting(dir.path(), policy);
    let last_step = (n - 1) / 100 * 100;
    wait_until(&s, "the last step's snapshot", || {
        s.snapshots().unwrap().last().map(|i| i.seq) == Some(last_step)
    });
    // Closing catches up the rest in one step, with one snapshot.
    s.close().unwrap();
    let s = open(dir.path());
    let seqs: Vec<u64> = s.snapshots().unwrap().iter().map(|i| i.seq).collect();
    let mut expected: Vec<u64> = (1..=(n - 1) / 100).map(|k| k * 100).collect();
    expected.push(n);
    assert_eq!(seqs, expected, "{n} events");
    for target in [1, 150, 299, n / 2, n - 1] {
        let (state, rec) = s.state_at(target).unwrap();
        assert!(rec.replayed < 100, "{target}: replayed {}", rec.replayed);
        assert_eq!(state, EnergyState::replay((1..).zip(&events[..target as usize])));
    }
}

#[test]
fn time_travel_by_seq_frame_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let events = sim_events(6, 400);
    store_with_snapshots(dir.path(), &events, &[500]);
    let s = open(dir.path());
    let replay_where = |keep: &dyn Fn(u64, &wfstore::event::Event) -> bool| {
        let mut st = EnergyState::default();
        for (i, e) in events.iter().enumerate() {
            if keep(i as u64 + 1, e) {
                st.apply(i as u64 + 1, e);
            }
        }
        st
    };
    assert_eq!(s.replay_to(ReplayTarget::Seq(700), None).unwrap(), replay_where(&|seq, _| seq <= 700));
    assert_eq!(s.replay_to(ReplayTarget::Seq(300), None).unwrap(), replay_where(&|seq, _| seq <= 300));
    assert_eq!(s.replay_to(ReplayTarget::Frame(120), None).unwrap(), replay_where(&|_, e| e.frame <= 120));
    let t = events[333].ts_ns;
    assert_eq!(s.replay_to(ReplayTarget::Time(t), None).unwrap(), replay_where(&|_, e| e.ts_ns <= t));
    let one = events[10].session.clone();
    assert_eq!(
        s.replay_to(ReplayTarget::Frame(200), Some(one.as_str())).unwrap(),
        replay_where(&|_, e| e.session == one && e.frame <= 200)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Random streams, random snapshot points, a crash that loses a random tail: the
    /// recovered state always equals a full replay of what survived.
    #[test]
    fn recovered_state_equals_full_replay(
        seed in 0u64..1_000,
        frames in 20u64..200,
        points in proptest::collection::vec(0.0f64..1.0, 0..4),
        cut in 0.0f64..1.0,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let events = sim_events(seed, frames);
        let mut pts: Vec<usize> = points.iter().map(|p| (p * events.len() as f64) as usize).collect();
        // A snapshot needs an event to cover: a point at 0 is no snapshot.
        pts.retain(|&p| p > 0);
        pts.sort_unstable();
        pts.dedup();
        store_with_snapshots(dir.path(), &events, &pts);
        // The crash came after the last snapshot: everything after it may be lost.
        let durable = pts.last().copied().unwrap_or(0);
        unsynced_after(dir.path(), durable as u64);
        let keep = durable + ((events.len() - durable) as f64 * cut) as usize;
        cut_log_at(dir.path(), keep);
        let s = open(dir.path());
        let (state, _) = s.state().unwrap();
        prop_assert_eq!(state.hash(), full_replay(&s).hash());
    }
}

/// Removes one snapshot file just before it is opened, once armed: what a writer's prune
/// does beside a read-only open that has listed it.
struct PruneOnOpen {
    name: String,
    armed: std::sync::atomic::AtomicBool,
}

impl wfstore::disk::DiskHook for PruneOnOpen {
    fn before(&self, op: &wfstore::disk::Op<'_>) -> std::io::Result<()> {
        if let wfstore::disk::Op::Open { path, .. } = op
            && path.ends_with(&self.name)
            && self.armed.swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            std::fs::remove_file(path)?;
        }
        Ok(())
    }

    fn after(&self, _: &wfstore::disk::Op<'_>) {}
}

#[test]
fn a_snapshot_pruned_after_the_listing_is_not_damage_and_the_next_listing_is_used() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let events = sim_events(5, 300);
    let s = open(dir.path());
    s.append_batch(&events[..500]).unwrap();
    let older = s.snapshot_now(5).unwrap();
    s.append_batch(&events[500..]).unwrap();
    let newest = s.snapshot_now(5).unwrap();
    s.close().unwrap();
    let name = newest.path.file_name().unwrap().to_string_lossy().into_owned();
    let hook = std::sync::Arc::new(PruneOnOpen { name, armed: false.into() });
    let opts = OpenOptions { disk: wfstore::disk::Disk::hooked(hook.clone()), ..OpenOptions::read_only() };
    let s = Store::open(dir.path(), &opts).unwrap();
    hook.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let (state, rec) = s.state().unwrap();
    assert!(!newest.path.exists(), "the hook pruned it");
    assert_eq!(rec.skipped, Vec::new(), "a pruned snapshot is not reported as damaged");
    assert_eq!((rec.snapshot.map(|i| i.seq), rec.replayed), (Some(older.seq), newest.seq - older.seq));
    assert_eq!(state, full_replay(&s));
}
