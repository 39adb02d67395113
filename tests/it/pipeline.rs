//! Appender handles and the bounded queue: total order across producers, the back-pressure
//! rule, group commit, shutdown under load; frame-aware commits and the metrics.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use wfstore::sim::synthetic;
use wfstore::{Durability, Error, OpenOptions, SnapshotPolicy, Store};

use crate::util::*;

fn open_with(dir: &std::path::Path, durability: Durability, queue_capacity: usize) -> Store {
    let opts = OpenOptions { durability, snapshots: None, queue_capacity, ..OpenOptions::default() };
    crate::util::open_with(dir, &opts).unwrap()
}

/// Checks that `acks` (per producer: seq and the event's index in that producer's stream)
/// cover 1..=last exactly once, keep each producer's order, and match what is stored.
fn check_total_order(store: &Store, acks: &[Vec<(u64, u64)>], seed_base: u64) {
    let mut owner = BTreeMap::new();
    for (t, acks) in acks.iter().enumerate() {
        assert!(acks.windows(2).all(|w| w[0].0 < w[1].0), "producer {t} kept its order");
        for &(seq, k) in acks {
            assert!(owner.insert(seq, (t as u64, k)).is_none(), "seq {seq} given twice");
        }
    }
    let total = owner.len() as u64;
    assert_eq!(store.last_seq(), total);
    assert_eq!(owner.keys().copied().collect::<Vec<_>>(), (1..=total).collect::<Vec<_>>());
    for rec in store.iter(1..=u64::MAX) {
        let rec = rec.unwrap();
        let (t, k) = owner[&rec.seq];
        assert_eq!(rec.event, synthetic(seed_base + t, k), "seq {}", rec.seq);
    }
}

/// 8 producers, each with its own handle, mixing single appends, batches and submissions
/// kept in flight.
fn eight_handles(durability: Durability) {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 600;
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let store = open_with(dir.path(), durability, 64);
    let appender = store.appender().unwrap();
    let acks: Vec<Vec<(u64, u64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let appender = appender.clone();
                s.spawn(move || {
                    let mut acks = Vec::new();
                    let mut in_flight = Vec::new();
                    let mut i = 0;
                    while i < PER_THREAD {
                        let n = (1 + (i + t) % 4).min(PER_THREAD - i);
                        let events: Vec<_> = (i..i + n).map(|k| synthetic(100 + t, k)).collect();
                        match i % 3 {
                            0 if n == 1 => acks.push((appender.append(events[0].clone()).unwrap(), i)),
                            1 => acks.extend(appender.append_batch(events).unwrap().zip(i..i + n)),
                            _ => in_flight.push((appender.submit(events).unwrap(), i, n)),
                        }
                        i += n;
                    }
                    for (p, i, n) in in_flight {
                        let r = p.wait().unwrap();
                        assert_eq!(r.end - r.start, n);
                        acks.extend(r.zip(i..i + n));
                    }
                    acks.sort_unstable();
                    acks
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    appender.flush().unwrap();
    check_total_order(&store, &acks, 100);
    drop(store);
    check_total_order(&open(dir.path()), &acks, 100);
}

#[test]
fn eight_appender_handles_always() {
    eight_handles(Durability::Always);
}

#[test]
fn eight_appender_handles_periodic() {
    eight_handles(Durability::Periodic(Duration::from_millis(5)));
}

#[test]
fn appender_handles_are_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<wfstore::Appender>();
}

/// With the writer held, the queue fills to exactly its capacity plus what the writer
/// thread took before it blocked; `try_submit` then fails with `QueueFull` and queues
/// nothing, while every accepted submission is appended once the writer goes on.
#[test]
fn a_full_queue_fails_try_append_and_blocks_append() {
    const CAPACITY: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let store = open_with(dir.path(), Durability::None, CAPACITY);
    let appender = store.appender().unwrap();
    let pause = store.pause_writer().unwrap();
    let mut accepted = Vec::new();
    let full = loop {
        assert!(accepted.len() < 10_000, "the queue never filled");
        match appender.try_submit(vec![synthetic(SEED, accepted.len() as u64 + 1)]) {
            Ok(p) => accepted.push(p),
            Err(e) => break e,
        }
    };
    assert!(matches!(full, Error::QueueFull { capacity: CAPACITY }), "{full}");
    // The queue's capacity, plus what the writer thread had taken as one group (none if
    // it had not woken yet, at most its group limit of 1,024) before it blocked on the lock.
    assert!((CAPACITY..=CAPACITY + 1024).contains(&accepted.len()), "{} accepted", accepted.len());
    assert!(matches!(appender.try_append(synthetic(SEED, 999)), Err(Error::QueueFull { .. })));
    // `append` waits for room instead.
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    let blocked = appender.clone();
    let n = accepted.len() as u64;
    let waiter = std::thread::spawn(move || done_tx.send(blocked.append(synthetic(SEED, n + 1))).unwrap());
    assert!(done_rx.recv_timeout(Duration::from_millis(100)).is_err(), "append waits for room");
    drop(pause);
    assert_eq!(done_rx.recv().unwrap().unwrap(), n + 1);
    waiter.join().unwrap();
    let seqs: Vec<u64> = accepted.into_iter().map(|p| p.wait().unwrap().start).collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>());
    assert_prefix(&store, n + 1);
}

/// Producers keep many `Always` submissions in flight: every one is durable when
/// acknowledged, and syncs are shared (far fewer syncs than submissions).
#[test]
fn always_submissions_share_syncs() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 500;
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let store = open_with(dir.path(), Durability::Always, 256);
    let appender = store.appender().unwrap();
    let commits_before = store.metrics().commit.len();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let appender = appender.clone();
            s.spawn(move || {
                let pending: Vec<_> =
                    (0..PER_THREAD).map(|k| appender.submit(vec![synthetic(200 + t, k)]).unwrap()).collect();
                for p in pending {
                    p.wait().unwrap();
                }
            });
        }
    });
    let syncs = store.metrics().commit.len() - commits_before;
    let submissions = THREADS * PER_THREAD;
    assert!(syncs * 4 <= submissions, "{syncs} syncs for {submissions} submissions");
    assert_eq!(store.last_seq(), submissions);
    // Durable means on disk before the answer: a reopen after a plain drop finds them all.
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.last_seq(), submissions);
    assert_eq!(store.iter(1..=u64::MAX).filter(|r| r.is_ok()).count() as u64, submissions);
}

/// Closing while 4 producers append flat out: every submission is either acknowledged and
/// stored, or refused with `Closed` and absent; the final snapshot covers the last event.
#[test]
fn shutdown_under_load_drains_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let policy = SnapshotPolicy { every_events: 0, every: None, keep: 2, history: 0 };
    let opts = OpenOptions {
        durability: Durability::Periodic(Duration::from_millis(5)),
        snapshots: Some(policy),
        queue_capacity: 32,
        ..OpenOptions::default()
    };
    let store = crate::util::open_with(dir.path(), &opts).unwrap();
    let appender = store.appender().unwrap();
    let producers: Vec<_> = (0..4u64)
        .map(|t| {
            let appender = appender.clone();
            std::thread::spawn(move || {
                let mut acks = Vec::new();
                for k in 0.. {
                    match appender.append(synthetic(300 + t, k)) {
                        Ok(seq) => acks.push((seq, k)),
                        Err(Error::Closed) => return acks,
                        Err(e) => panic!("producer {t}: {e}"),
                    }
                }
                acks
            })
        })
        .collect();
    while store.last_seq() < 2_000 {
        std::thread::sleep(Duration::from_millis(1));
    }
    store.close().unwrap();
    let acks: Vec<Vec<(u64, u64)>> = producers.into_iter().map(|p| p.join().unwrap()).collect();
    assert!(matches!(appender.append(synthetic(SEED, 1)), Err(Error::Closed)));
    let store = open(dir.path());
    assert_eq!(store.recovery_report().torn_tail, None);
    check_total_order(&store, &acks, 300);
    let snaps = store.snapshots().unwrap();
    assert_eq!(snaps.last().map(|s| s.seq), Some(store.last_seq()), "final snapshot");
}

#[test]
fn dropping_the_store_answers_every_queued_submission() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let store = open_with(dir.path(), Durability::Always, 1024);
    let appender = store.appender().unwrap();
    let pending: Vec<_> = (1..=500).map(|k| appender.submit(vec![synthetic(SEED, k)]).unwrap()).collect();
    drop(store);
    let seqs: Vec<u64> = pending.into_iter().map(|p| p.wait().unwrap().start).collect();
    assert_eq!(seqs, (1..=500).collect::<Vec<_>>());
    assert!(matches!(appender.flush(), Err(Error::Closed)));
    assert_prefix(&open(dir.path()), 500);
}

#[test]
fn a_read_only_store_has_no_appender() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 3, SMALL_SEGMENT);
    assert!(matches!(open_ro(dir.path()).unwrap().appender(), Err(Error::ReadOnly)));
}

/// `commit_frame` never syncs: with a deadline an hour away nothing is durable until a
/// barrier; frame numbers must increase.
#[test]
fn commit_frame_returns_before_durability_and_flush_settles_it() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let store = open_with(dir.path(), Durability::Periodic(Duration::from_secs(3600)), 64);
    let far = Instant::now() + Duration::from_secs(3600);
    let frame: Vec<_> = (1..=100).map(|i| synthetic(SEED, i)).collect();
    let c = store.commit_frame(10, &frame, far).unwrap();
    assert_eq!((c.frame, c.seqs), (10, 1..101));
    assert_eq!(store.durable_frame(), None);
    let err = store.commit_frame(10, &frame, far).unwrap_err();
    assert!(err.to_string().contains("frame numbers must increase"), "{err}");
    assert_eq!(store.last_seq(), 100, "a refused frame appends nothing");
    store.commit_frame(11, &frame[..0], far).unwrap();
    store.flush().unwrap();
    assert_eq!(store.durable_frame(), Some(11));
    let m = store.metrics();
    assert_eq!(m.frame_durable.len(), 2);
    assert_eq!(m.frame_deadline_misses, 0);
}

/// A near deadline makes the syncer sync the frame on its own, off the caller's thread.
#[test]
fn frames_become_durable_off_thread_by_their_deadline() {
    for durability in [Durability::Always, Durability::Periodic(Duration::from_secs(3600))] {
        let dir = tempfile::tempdir().unwrap();
        create(dir.path(), SMALL_SEGMENT);
        let store = open_with(dir.path(), durability, 64);
        for f in 1..=5u64 {
            let events: Vec<_> = (f * 10..f * 10 + 10).map(|i| synthetic(SEED, i)).collect();
            store.commit_frame(f, &events, Instant::now() + Duration::from_millis(20)).unwrap();
        }
        let start = Instant::now();
        while store.durable_frame() != Some(5) {
            assert!(start.elapsed() < Duration::from_secs(10), "{durability:?}: frame 5 never durable");
            std::thread::sleep(Duration::from_millis(1));
        }
        let m = store.metrics();
        assert_eq!(m.frame_durable.len(), 5, "{durability:?}");
        assert!(!m.commit.is_empty(), "{durability:?}: the syncer's commit was recorded");
    }
}

#[test]
fn with_durability_none_a_frame_is_durable_once_appended() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let store = open_with(dir.path(), Durability::None, 64);
    store.commit_frame(1, &[synthetic(SEED, 1)], Instant::now()).unwrap();
    assert_eq!(store.durable_frame(), Some(1));
}

#[test]
fn metrics_count_every_append_call() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let store = open_with(dir.path(), Durability::None, 64);
    for i in 1..=50 {
        store.append(&synthetic(SEED, i)).unwrap();
    }
    store.append_batch(&(51..=60).map(|i| synthetic(SEED, i)).collect::<Vec<_>>()).unwrap();
    let appender = store.appender().unwrap();
    appender.append(synthetic(SEED, 61)).unwrap();
    let m = store.metrics();
    assert_eq!(m.append.len(), 52);
    assert!(m.append.min() >= 1, "latencies are recorded, not zeros");
    assert!(m.commit.is_empty(), "Durability::None never waits for a sync");
    assert!(m.frame_durable.is_empty() && m.frame_deadline_misses == 0);
}

/// Found by the `store_model` fuzz target under LeakSanitizer: the probe the fault recorder
/// keeps inside the store's own disk hook held the store strongly, a cycle that leaked it.
#[test]
fn the_durable_probe_does_not_keep_its_store_alive() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let s = open(dir.path());
    s.append(&synthetic(SEED, 1)).unwrap();
    s.flush().unwrap();
    let probe = s.durable_probe();
    assert_eq!(probe(), 1);
    s.close().unwrap();
    assert_eq!(probe(), 0, "the probe kept the closed store alive");
}

/// Holds every seal at its `fdatasync` until released.
#[derive(Default)]
struct HeldSeals {
    released: std::sync::atomic::AtomicBool,
}

impl wfstore::disk::DiskHook for HeldSeals {
    fn before(&self, op: &wfstore::disk::Op<'_>) -> std::io::Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        if let wfstore::disk::Op::SyncFile { path } = op
            && path.extension().is_some_and(|e| e == "seg")
            && std::thread::current().name() == Some("wfstore-sync")
        {
            while !self.released.load(SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    }

    fn after(&self, _: &wfstore::disk::Op<'_>) {}
}

#[test]
fn a_writer_that_outruns_its_seals_waits_with_two_segments_unsealed() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let hook = std::sync::Arc::new(HeldSeals::default());
    // Released however the test ends, so that a failing run still closes its store.
    struct Release(std::sync::Arc<HeldSeals>);
    impl Drop for Release {
        fn drop(&mut self) {
            self.0.released.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let opts = OpenOptions {
        snapshots: None,
        durability: Durability::None,
        disk: wfstore::disk::Disk::hooked(hook.clone()),
        ..OpenOptions::default()
    };
    let store = std::sync::Arc::new(crate::util::open_with(dir.path(), &opts).unwrap());
    // Dropped before the store: a store closes only once its seals are let go.
    let release = Release(hook.clone());
    let writer = {
        let store = std::sync::Arc::clone(&store);
        std::thread::spawn(move || {
            for i in 1..=3000 {
                store.append(&synthetic(SEED, i)).unwrap();
            }
        })
    };
    // Segment 1 is the active one at open; 2 and 3 may be left unsealed, then 4 is active
    // and the next batch waits.
    let t = Instant::now();
    let mut stalled_at = None;
    while t.elapsed() < Duration::from_secs(10) {
        let (before, segments) = (store.last_seq(), store.stats().unwrap().segments);
        std::thread::sleep(Duration::from_millis(200));
        if store.last_seq() == before && before > 0 {
            stalled_at = Some((before, segments));
            break;
        }
    }
    let (stalled_seq, segments) = stalled_at.expect("the writer never waited for its seals");
    assert_eq!(segments, 4, "waits with segments 1..=3 unsealed and 4 active");
    assert!(stalled_seq < 3000);
    drop(release);
    writer.join().unwrap();
    assert_eq!(store.last_seq(), 3000);
    assert_prefix(&store, 3000);
}
