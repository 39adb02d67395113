//! Per-append latency of one thread with `Durability::Periodic`, as an HDR histogram over
//! 10 M appends (segment rolls included): p50, p99, p99.9, p99.99, max, and the rate.
//! `cargo bench --bench append_latency`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_possible_truncation, missing_docs)]

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use wfstore::sim::synthetic;
use wfstore::{CreateOptions, Durability, OpenOptions, Store};

fn main() {
    let n: u64 = std::env::var("APPENDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000_000);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/wfstore-bench/latency");
    let _ = std::fs::remove_dir_all(&dir);
    Store::create(&dir, &CreateOptions::default()).unwrap();
    let durability = match std::env::var("DURABILITY").as_deref() {
        Ok("none") => Durability::None,
        Ok("periodic1s") => Durability::Periodic(Duration::from_secs(1)),
        _ => Durability::Periodic(Duration::from_millis(100)),
    };
    let opts = OpenOptions { durability, read_only: false, snapshots: None, ..OpenOptions::default() };
    let store = Store::open(&dir, &opts).unwrap();
    let events: Vec<_> = (1..=4096).map(|i| synthetic(1, i)).collect();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
    let mut slowest: Vec<(u64, u64)> = Vec::new();
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        store.append(&events[(i & 4095) as usize]).unwrap();
        let ns = t.elapsed().as_nanos() as u64;
        hist.record(ns).unwrap();
        if ns > 1_000_000 {
            slowest.push((i + 1, ns));
        }
    }
    let total = start.elapsed();
    let stats = store.stats().unwrap();
    store.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    println!("appends: {n}, {:.2} M events/s (timer included)", n as f64 / total.as_secs_f64() / 1e6);
    println!("mean frame: {} bytes; segments: {}", stats.data_bytes / n, stats.segments);
    for (name, q) in [("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999), ("p99.99", 0.9999)] {
        println!("{name:>7}: {:>8} ns", hist.value_at_quantile(q));
    }
    println!("{:>7}: {:>8} ns", "max", hist.max());
    for (seq, ns) in slowest.iter().take(10) {
        println!("over 1 ms: seq {seq}: {:.1} ms", *ns as f64 / 1e6);
    }
}
