//! The async API: appends that resolve when durable, back-pressure without blocking a
//! runtime thread, and subscriptions that catch up and then follow live appends.

use std::time::Duration;

use futures_util::StreamExt;
use wfstore::sim::synthetic;
use wfstore::{Durability, Error, OpenOptions, Store};

use crate::util::*;

fn open_with(dir: &std::path::Path, durability: Durability, queue_capacity: usize) -> Store {
    let opts = OpenOptions { durability, snapshots: None, queue_capacity, ..OpenOptions::default() };
    crate::util::open_with(dir, &opts).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_appends_from_many_tasks_are_durable_when_they_resolve() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let store = open_with(dir.path(), Durability::Always, 64);
    let appender = store.async_appender().unwrap();
    let tasks: Vec<_> = (0..8u64)
        .map(|t| {
            let appender = appender.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for k in 0..100 {
                    seqs.push((appender.append(synthetic(400 + t, k)).await.unwrap(), k));
                }
                seqs
            })
        })
        .collect();
    let mut owner = vec![None; 801];
    for (t, task) in tasks.into_iter().enumerate() {
        let seqs = task.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0].0 < w[1].0), "task {t} kept its order");
        for (seq, k) in seqs {
            assert!(owner[seq as usize].replace((t as u64, k)).is_none(), "seq {seq} twice");
        }
    }
    appender.flush().await.unwrap();
    // Durable when resolved: a drop without close loses nothing.
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.last_seq(), 800);
    for rec in store.iter(1..=800) {
        let rec = rec.unwrap();
        let (t, k) = owner[rec.seq as usize].unwrap();
        assert_eq!(rec.event, synthetic(400 + t, k));
    }
}

/// A full queue makes async appends wait, not fail and not block a runtime thread: the
/// runtime (one worker) still runs another task meanwhile.
#[tokio::test(flavor = "current_thread")]
async fn a_full_queue_makes_async_appends_wait() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let store = open_with(dir.path(), Durability::None, 2);
    let appender = store.async_appender().unwrap();
    let pause = store.pause_writer().unwrap();
    let tasks: Vec<_> = (1..=50u64)
        .map(|k| {
            let appender = appender.clone();
            tokio::spawn(async move { appender.append(synthetic(SEED, k)).await })
        })
        .collect();
    // Every task has run up to its wait; this one-thread runtime is still free.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tasks.iter().all(|t| !t.is_finished()));
    drop(pause);
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
}

/// A subscriber that starts while a writer appends flat out sees every seq exactly once,
/// in order, across the handover from stored records to live ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_hands_over_from_disk_to_live_without_gap_or_duplicate() {
    const TOTAL: u64 = 30_000;
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let store = std::sync::Arc::new(open_with(dir.path(), Durability::None, 64));
    let writer = {
        let store = std::sync::Arc::clone(&store);
        std::thread::spawn(move || {
            for b in 0..TOTAL / 10 {
                let batch: Vec<_> = (b * 10 + 1..=b * 10 + 10).map(|i| synthetic(SEED, i)).collect();
                store.append_batch(&batch).unwrap();
                if b % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        })
    };
    while store.last_seq() < 5_000 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let from_start = store.subscribe(1).take(TOTAL as usize);
    let from_middle = store.subscribe(7_001).take((TOTAL - 7_000) as usize);
    let (a, b) = tokio::join!(from_start.collect::<Vec<_>>(), from_middle.collect::<Vec<_>>());
    writer.join().unwrap();
    for (records, first) in [(a, 1), (b, 7_001)] {
        let records: Vec<_> = records.into_iter().map(Result::unwrap).collect();
        assert_eq!(records.len() as u64, TOTAL - first + 1);
        for (rec, seq) in records.iter().zip(first..) {
            assert_eq!(rec.seq, seq);
            assert_eq!(rec.event, synthetic(SEED, seq));
        }
    }
}

/// A subscriber that falls too far behind once live gets `Lagged` with the seq to resume
/// from, and the stream ends; resuming from it catches up.
#[tokio::test(flavor = "current_thread")]
async fn a_slow_subscriber_gets_lagged_with_the_seq_to_resume_from() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let store = open_with(dir.path(), Durability::None, 64);
    store.append(&synthetic(SEED, 1)).unwrap();
    let mut sub = store.subscribe_with_max_lag(1, 10);
    assert_eq!(sub.next().await.unwrap().unwrap().seq, 1);
    store.append_batch(&(2..=3).map(|i| synthetic(SEED, i)).collect::<Vec<_>>()).unwrap();
    assert_eq!(sub.next().await.unwrap().unwrap().seq, 2, "within the lag: live");
    assert_eq!(sub.next().await.unwrap().unwrap().seq, 3);
    store.append_batch(&(4..=100).map(|i| synthetic(SEED, i)).collect::<Vec<_>>()).unwrap();
    match sub.next().await {
        Some(Err(Error::Lagged { resume_from })) => assert_eq!(resume_from, 4),
        other => panic!("expected Lagged, got {other:?}"),
    }
    assert!(sub.next().await.is_none(), "a lagged stream ends");
    let resumed: Vec<u64> = store.subscribe(4).take(97).map(|r| r.unwrap().seq).collect().await;
    assert_eq!(resumed, (4..=100).collect::<Vec<_>>());
}

/// Closing the store ends a waiting subscription after the last record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_ends_when_the_store_closes() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let store = open_with(dir.path(), Durability::None, 64);
    let appender = store.async_appender().unwrap();
    let sub = store.subscribe(1);
    let reader = tokio::spawn(sub.map(|r| r.unwrap().seq).collect::<Vec<_>>());
    for i in 1..=5 {
        appender.append(synthetic(SEED, i)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    tokio::task::spawn_blocking(move || store.close().unwrap()).await.unwrap();
    let seqs = tokio::time::timeout(Duration::from_secs(10), reader).await.unwrap().unwrap();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    assert!(matches!(appender.append(synthetic(SEED, 6)).await, Err(Error::Closed)));
}
