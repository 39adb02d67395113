//! Many producer threads on one store: one total order, nothing lost, with `Always` (group
//! commit) and with `Periodic`.

use std::time::Duration;

use wfstore::sim::synthetic;
use wfstore::{Durability, OpenOptions, Store};

use crate::util::*;

fn run(durability: Durability) {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 400;
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let store = Store::open(
        dir.path(),
        &OpenOptions { durability, read_only: false, snapshots: None, ..OpenOptions::default() },
    )
    .unwrap();
    // Each thread appends its own synthetic stream (seed = thread) in batches of 1..=5.
    let acks: Vec<Vec<(u64, u64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let store = &store;
                s.spawn(move || {
                    let mut acks = Vec::new();
                    let mut i = 0;
                    while i < PER_THREAD {
                        let n = (1 + (i + t) % 5).min(PER_THREAD - i);
                        let batch: Vec<_> = (i..i + n).map(|k| synthetic(100 + t, k)).collect();
                        let r = store.append_batch(&batch).unwrap();
                        assert_eq!(r.end - r.start, n, "a batch gets consecutive seqs");
                        acks.extend(r.zip(i..i + n));
                        i += n;
                    }
                    acks
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    store.flush().unwrap();
    assert_eq!(store.last_seq(), THREADS * PER_THREAD, "no seq lost or doubled");
    let mut owner = vec![None; (THREADS * PER_THREAD + 1) as usize];
    for (t, acks) in acks.iter().enumerate() {
        assert!(acks.windows(2).all(|w| w[0].0 < w[1].0), "a thread's events keep its order");
        for &(seq, k) in acks {
            assert!(owner[seq as usize].replace((t as u64, k)).is_none(), "seq {seq} given twice");
        }
    }
    drop(store);
    let store = open(dir.path());
    for rec in store.iter(1..=u64::MAX) {
        let rec = rec.unwrap();
        let (t, k) = owner[rec.seq as usize].unwrap();
        assert_eq!(rec.event, synthetic(100 + t, k), "seq {}", rec.seq);
    }
}

#[test]
fn eight_producers_always_group_commit() {
    run(Durability::Always);
}

#[test]
fn eight_producers_periodic() {
    run(Durability::Periodic(Duration::from_millis(5)));
}
