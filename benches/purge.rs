//! Criterion benchmark of `Store::purge_user` on a 100 MB store (two 64 MB segments, 1 M
//! events, 20 users): the lifecycle bar is backup and restore of 100 MB in a second
//! each; a purge rewrites in place the segments holding the user, rebuilds their indexes
//! and takes a new snapshot, so it is measured on the same store. Each sample purges a
//! fresh copy (the copy is not timed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_possible_truncation, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use wfstore::event::{Event, Id};
use wfstore::sim::synthetic;
use wfstore::{CreateOptions, OpenOptions, Store};

const EVENTS: u64 = 1_000_000;

/// Event `i`: 100 sessions, each of one of 20 users, so one user is 5 % of the events.
fn event(i: u64) -> Event {
    let mut e = synthetic(3, i);
    let session = i % 100;
    e.session = Id::try_from(format!("session-{session:04}-wirthforge-desktop")).unwrap();
    e.user = Id::try_from(format!("user-{:03}-local", session % 20)).unwrap();
    e
}

fn bench_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/wfstore-bench").join(name)
}

/// The 100 MB store, built on first use.
fn store_100mb() -> PathBuf {
    let dir = bench_dir("purge-100mb");
    if Store::open(&dir, &OpenOptions::read_only()).is_ok_and(|s| s.last_seq() == EVENTS) {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Store::create(&dir, &CreateOptions::default()).unwrap();
    let s = Store::open(&dir, &OpenOptions { snapshots: None, ..OpenOptions::default() }).unwrap();
    let events: Vec<Event> = (1..=EVENTS).map(event).collect();
    for chunk in events.chunks(10_000) {
        s.append_batch(chunk).unwrap();
    }
    s.snapshot_now(3).unwrap();
    s.close().unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

fn purge(c: &mut Criterion) {
    let source = store_100mb();
    let bytes: u64 = std::fs::read_dir(&source).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    eprintln!("purge bench store: {} MB", bytes >> 20);
    let scratch = bench_dir("purge-scratch");
    let mut g = c.benchmark_group("lifecycle");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("purge_user_100mb", |b| {
        b.iter_batched(
            || {
                copy_dir(&source, &scratch);
                Store::open(&scratch, &OpenOptions { snapshots: None, ..OpenOptions::default() }).unwrap()
            },
            |store| {
                let report = store.purge_user("user-007-local").unwrap();
                assert_eq!(report.events, EVENTS / 20);
                store
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&scratch);
}

criterion_group!(benches, purge);
criterion_main!(benches);
