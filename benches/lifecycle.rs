//! Criterion benchmarks of the lifecycle operations on a ~100 MB store: a full directory
//! backup, a restore (with and without `validate`), and an incremental backup after 1 %
//! new events. The store is built once under `target/wfstore-bench/lifecycle/` and reused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_possible_truncation, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use wfstore::backup::{RestoreOptions, restore};
use wfstore::sim::synthetic;
use wfstore::{CreateOptions, Durability, OpenOptions, Store};

/// About 100 MB of frames.
const DATA_BYTES: u64 = 100 << 20;
const SEGMENT_BYTES: u64 = 8 << 20;

fn bench_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/wfstore-bench/lifecycle").join(name)
}

fn quiet() -> OpenOptions {
    OpenOptions { durability: Durability::None, snapshots: None, ..OpenOptions::default() }
}

/// Appends synthetic events from `from` until the log holds `bytes` more bytes of frames;
/// returns the next seq.
fn fill(store: &Store, from: u64, bytes: u64) -> u64 {
    let start = store.stats().unwrap().data_bytes;
    let mut i = from;
    let mut batch = Vec::with_capacity(10_000);
    while store.stats().unwrap().data_bytes < start + bytes {
        for _ in 0..10_000 {
            batch.push(synthetic(1, i));
            i += 1;
        }
        store.append_batch(&batch).unwrap();
        batch.clear();
    }
    i
}

/// The ~100 MB store, built on first use (with one snapshot at its end).
fn store() -> PathBuf {
    let dir = bench_dir("store");
    if let Ok(s) = Store::open(&dir, &OpenOptions::read_only())
        && s.stats().is_ok_and(|st| st.data_bytes >= DATA_BYTES)
    {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    Store::create(&dir, &CreateOptions { segment_bytes: SEGMENT_BYTES, ..CreateOptions::default() }).unwrap();
    let s = Store::open(&dir, &quiet()).unwrap();
    fill(&s, 1, DATA_BYTES);
    s.snapshot_now(3).unwrap();
    let st = s.stats().unwrap();
    eprintln!(
        "lifecycle store: {} events, {} MB of frames, {} segments",
        st.events,
        st.data_bytes >> 20,
        st.segments
    );
    s.close().unwrap();
    dir
}

fn remove(p: &Path) {
    if p.exists() {
        std::fs::remove_dir_all(p).unwrap();
    }
}

fn lifecycle(c: &mut Criterion) {
    let src = store();
    let mut g = c.benchmark_group("lifecycle_100mb");
    g.sample_size(10).measurement_time(Duration::from_secs(10));

    let dest = bench_dir("backup");
    g.bench_function("backup_dir", |b| {
        let store = Store::open(&src, &quiet()).unwrap();
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                remove(&dest);
                let t = Instant::now();
                store.backup_to(&dest).unwrap();
                total += t.elapsed();
            }
            total
        });
    });

    let target = bench_dir("restored");
    for (name, validate) in [("restore_dir", true), ("restore_dir_no_validate", false)] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    remove(&target);
                    let t = Instant::now();
                    restore(&dest, &target, &RestoreOptions { validate, ..RestoreOptions::default() })
                        .unwrap();
                    total += t.elapsed();
                }
                total
            });
        });
    }
    remove(&target);

    // Incremental: a scratch copy of the store grows by 1 % (untimed) before each backup
    // into the same destination.
    let scratch = bench_dir("scratch");
    remove(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), scratch.join(e.file_name())).unwrap();
        }
    }
    let store = Store::open(&scratch, &quiet()).unwrap();
    let inc = bench_dir("incremental");
    remove(&inc);
    store.backup_to(&inc).unwrap();
    let mut next = store.last_seq() + 1;
    g.bench_function("incremental_backup_1pct", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                next = fill(&store, next, DATA_BYTES / 100);
                let t = Instant::now();
                let r = store.backup_to(&inc).unwrap();
                total += t.elapsed();
                assert!(r.bytes_copied * 10 < r.bytes, "{r:?}");
            }
            total
        });
    });
    g.finish();
    store.close().unwrap();
    remove(&scratch);
    remove(&inc);
}

criterion_group!(benches, lifecycle);
criterion_main!(benches);
