//! Criterion benchmarks of the log engine: append (one thread), read by seq, read one session
//! of 10 k events out of 10 M, and open + recover. The 10 M-event store is built once under
//! `target/wfstore-bench/` and reused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_possible_truncation, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use wfstore::event::Event;
use wfstore::sim::synthetic;
use wfstore::{CreateOptions, Durability, OpenOptions, Store};

const BIG_EVENTS: u64 = 10_000_000;
const BIG_SESSIONS: u64 = 1_000;

/// Event `i` of the big store: `synthetic` with 1,000 sessions of 10 k events each.
fn big_event(i: u64) -> Event {
    let mut e = synthetic(1, i);
    e.session =
        wfstore::event::Id::try_from(format!("session-{:04}-wirthforge-desktop", i % BIG_SESSIONS)).unwrap();
    e
}

fn bench_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/wfstore-bench").join(name)
}

/// `Periodic` with the default snapshot policy (every 100 k events or 10 s).
fn periodic() -> OpenOptions {
    OpenOptions { durability: Durability::Periodic(Duration::from_millis(100)), ..OpenOptions::default() }
}

/// `Periodic` without the snapshotter: the log's own cost.
fn periodic_log_only() -> OpenOptions {
    OpenOptions { snapshots: None, ..periodic() }
}

/// The 10 M-event store, built on first use.
fn big_store() -> PathBuf {
    let dir = bench_dir("10m");
    if let Ok(s) = Store::open(&dir, &OpenOptions::read_only())
        && s.last_seq() == BIG_EVENTS
        && s.snapshots().is_ok_and(|v| v.len() > 1)
    {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Store::create(&dir, &CreateOptions::default()).unwrap();
    let s = Store::open(&dir, &periodic()).unwrap();
    let t = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for i in 1..=BIG_EVENTS {
        batch.push(big_event(i));
        if batch.len() == batch.capacity() {
            s.append_batch(&batch).unwrap();
            batch.clear();
        }
    }
    s.close().unwrap();
    eprintln!("built {} in {:.1?}", dir.display(), t.elapsed());
    dir
}

fn append(c: &mut Criterion) {
    let dir = bench_dir("append");
    let _ = std::fs::remove_dir_all(&dir);
    Store::create(&dir, &CreateOptions::default()).unwrap();
    let store = Store::open(&dir, &periodic_log_only()).unwrap();
    let events: Vec<Event> = (1..=4096).map(|i| synthetic(1, i)).collect();
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(1)).measurement_time(Duration::from_secs(4)).sample_size(20);
    g.bench_function("one_thread_periodic", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 1) & 4095;
            store.append(&events[i]).unwrap()
        })
    });
    g.throughput(Throughput::Elements(1000));
    g.bench_function("batch_of_1000_periodic", |b| b.iter(|| store.append_batch(&events[..1000]).unwrap()));
    g.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    always_producers(c, &events);
}

/// `Always` with 4 producer threads, each keeping a batch of 100 in flight: group commit
/// shares each fsync among the producers waiting at the time.
fn always_producers(c: &mut Criterion, events: &[Event]) {
    let dir = bench_dir("always");
    let _ = std::fs::remove_dir_all(&dir);
    Store::create(&dir, &CreateOptions::default()).unwrap();
    let opts = OpenOptions { durability: Durability::Always, ..periodic_log_only() };
    let store = Store::open(&dir, &opts).unwrap();
    let mut g = c.benchmark_group("append");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(4 * 20 * 100));
    g.bench_function("always_4_producers_batches_of_100", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for t in 0..4 {
                    let (store, batch) = (&store, &events[t * 100..t * 100 + 100]);
                    s.spawn(move || {
                        for _ in 0..20 {
                            store.append_batch(batch).unwrap();
                        }
                    });
                }
            })
        })
    });
    // Appender handles: each producer keeps up to 256 single-event submissions in flight.
    let appender = store.appender().unwrap();
    g.throughput(Throughput::Elements(4 * 4000));
    g.bench_function("always_4_appender_handles_256_in_flight", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for e in &events[..4] {
                    let appender = appender.clone();
                    s.spawn(move || {
                        let mut in_flight = std::collections::VecDeque::new();
                        for _ in 0..4000 {
                            if in_flight.len() == 256 {
                                let p: wfstore::Pending = in_flight.pop_front().unwrap();
                                p.wait().unwrap();
                            }
                            in_flight.push_back(appender.submit(vec![e.clone()]).unwrap());
                        }
                        for p in in_flight {
                            p.wait().unwrap();
                        }
                    });
                }
            })
        })
    });
    g.throughput(Throughput::Elements(4 * 200));
    g.bench_function("always_4_producers_single_appends", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for e in &events[..4] {
                    let store = &store;
                    s.spawn(move || {
                        for _ in 0..200 {
                            store.append(e).unwrap();
                        }
                    });
                }
            })
        })
    });
    g.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn reads(c: &mut Criterion) {
    let dir = big_store();
    let store = Store::open(&dir, &OpenOptions::read_only()).unwrap();
    store.check_indexes().unwrap();
    let mut g = c.benchmark_group("read");
    let mut rng = fastrand::Rng::with_seed(9);
    g.throughput(Throughput::Elements(1));
    g.bench_function("by_seq_random_of_10m", |b| b.iter(|| store.get(rng.u64(1..=BIG_EVENTS)).unwrap()));
    g.throughput(Throughput::Elements(BIG_EVENTS / BIG_SESSIONS));
    g.sample_size(20);
    g.bench_function("one_session_10k_of_10m", |b| {
        b.iter(|| {
            let id = format!("session-{:04}-wirthforge-desktop", rng.u64(..BIG_SESSIONS));
            let n = store.session(&id).try_fold(0u64, |n, r| r.map(|_| n + 1)).unwrap();
            assert_eq!(n, BIG_EVENTS / BIG_SESSIONS);
        })
    });
    g.throughput(Throughput::Elements(1_000_000));
    g.bench_function("iterate_1m_decode", |b| {
        b.iter(|| {
            let start = rng.u64(1..BIG_EVENTS - 1_000_000);
            store.iter(start..=start + 999_999).try_fold(0u64, |n, r| r.map(|_| n + 1)).unwrap()
        })
    });
    g.finish();
}

fn open_recover(c: &mut Criterion) {
    let dir = big_store();
    let mut g = c.benchmark_group("open");
    g.sample_size(20);
    g.bench_function("recover_10m_read_only", |b| {
        b.iter(|| Store::open(&dir, &OpenOptions::read_only()).unwrap())
    });
    g.bench_function("recover_10m_writer", |b| {
        b.iter_batched(|| (), |()| Store::open(&dir, &periodic_log_only()).unwrap(), BatchSize::PerIteration)
    });
    // Open and rebuild the energy state: newest snapshot + the tail after it.
    g.bench_function("recover_state_10m_clean_close", |b| {
        b.iter(|| {
            let s = Store::open(&dir, &OpenOptions::read_only()).unwrap();
            s.state().unwrap()
        })
    });
    // A crash 50 k events after a snapshot: recovery = that snapshot + a 50 k tail, whatever
    // the store's size. (The snapshotter, at low priority, lags a build that appends
    // flat out, so the snapshots kept are not at round seqs.)
    let snaps = Store::open(&dir, &OpenOptions::read_only()).unwrap().snapshots().unwrap();
    let target = snaps.iter().rev().find(|s| s.seq + 50_000 <= BIG_EVENTS).unwrap().seq + 50_000;
    let (_, rec) = Store::open(&dir, &OpenOptions::read_only()).unwrap().state_at(target).unwrap();
    eprintln!(
        "state_at({target}): snapshot at {:?}, {} events replayed",
        rec.snapshot.map(|i| i.seq),
        rec.replayed
    );
    g.bench_function("recover_state_10m_mid_interval_tail", |b| {
        b.iter(|| {
            let s = Store::open(&dir, &OpenOptions::read_only()).unwrap();
            s.state_at(target).unwrap()
        })
    });
    g.finish();
}

fn replay_and_snapshots(c: &mut Criterion) {
    let dir = big_store();
    let store = Store::open(&dir, &OpenOptions::read_only()).unwrap();
    store.check_indexes().unwrap();
    let mut g = c.benchmark_group("state");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1_000_000));
    // The library's replay (check, decode, apply), from an empty state.
    // From seq 1 to before the oldest snapshot kept, so nothing is skipped.
    let n = store.snapshots().unwrap()[0].seq - 1;
    g.throughput(Throughput::Elements(n));
    g.bench_function("replay_from_empty_crc_decode_apply", |b| {
        b.iter(|| {
            let (st, rec) = store.state_at(n).unwrap();
            assert_eq!((rec.snapshot, rec.replayed), (None, n));
            st
        })
    });
    let (state, _) = store.state().unwrap();
    let out = bench_dir("snapshot-write");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    g.throughput(Throughput::Elements(1));
    g.bench_function("snapshot_encode_compress_publish_1000_sessions", |b| {
        b.iter(|| {
            let bytes = wfstore::codec::encode_state(&state);
            let snap = wfstore::snapshot::file::Snapshot {
                seq: state.last_seq,
                bind: wfstore::snapshot::file::Binding { salt: 1, crc: 2 },
                state_hash: state.hash(),
                state: bytes,
            };
            wfstore::snapshot::publish(&wfstore::disk::Disk::default(), &out, 1, &snap).unwrap()
        })
    });
    let info = store.snapshots().unwrap().pop().unwrap();
    g.bench_function("snapshot_load_check_1000_sessions", |b| b.iter(|| store.load_snapshot(&info).unwrap()));
    g.finish();
}

criterion_group!(benches, append, reads, open_recover, replay_and_snapshots);
criterion_main!(benches);
