//! SQLite export throughput: a full `export sqlite` of a store of simulated WirthForge
//! sessions, run 5 times; prints each run and the median events/s.
//! `cargo bench --bench export` (`EVENTS=N` to change the store's size, default 1 M).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_possible_truncation, missing_docs)]

use std::time::Instant;

use wfstore::export::sqlite::{self, SqliteExport};
use wfstore::sim::{SimConfig, Simulator};
use wfstore::{CreateOptions, Durability, OpenOptions, Store};

fn main() {
    let n: usize = std::env::var("EVENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/wfstore-bench/export");
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("store");
    Store::create(&dir, &CreateOptions::default()).unwrap();
    let opts = OpenOptions { durability: Durability::None, snapshots: None, ..OpenOptions::default() };
    let store = Store::open(&dir, &opts).unwrap();
    let cfg = SimConfig { seed: 3, sessions: 32, frames: u64::MAX, ..SimConfig::default() };
    let mut sim = Simulator::new(cfg);
    let mut appended = 0;
    while appended < n {
        let Some(frame) = sim.next_frame() else { break };
        let take = frame.len().min(n - appended);
        store.append_batch(&frame[..take]).unwrap();
        appended += take;
    }
    store.close().unwrap();
    let store = Store::open(&dir, &OpenOptions::read_only()).unwrap();
    let out = root.join("audit.db");
    let mut rates = Vec::new();
    for run in 1..=5 {
        let start = Instant::now();
        let report = sqlite::export(&store, &out, &SqliteExport::default(), &mut |_, _| {}).unwrap();
        let secs = start.elapsed().as_secs_f64();
        let rate = report.events as f64 / secs;
        println!("run {run}: {} events in {secs:.2} s: {:.0} events/s", report.events, rate);
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let bytes = std::fs::metadata(&out).unwrap().len();
    println!("median: {:.0} events/s (bar: 300,000); database {:.1} MB", rates[2], bytes as f64 / 1e6);
    let _ = std::fs::remove_dir_all(&root);
}
