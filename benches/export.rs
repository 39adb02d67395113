//! Export throughput: a full `export sqlite` of a store of simulated WirthForge sessions,
//! run 5 times; prints each run and the median events/s. With `WFSTORE_PG_URL` set (a
//! local server: `tools/pg/cluster start DIR` prints one), each run also exports the same
//! store into PostgreSQL (its rows dropped and vacuumed before, untimed), alternating with
//! SQLite, and the medians are compared. Use a database of its own: the bench drops the
//! store's rows there.
//! `cargo bench --bench export` (`EVENTS=N` to change the store's size, default 1 M).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_possible_truncation, missing_docs)]

use std::time::Instant;

use wfstore::export::postgres::{self, PostgresExport};
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
    let mut pg = std::env::var("WFSTORE_PG_URL").ok().filter(|u| !u.is_empty()).map(|url| {
        let mut db = postgres::Database::connect(&url).unwrap();
        println!("PostgreSQL: {}", db.server());
        // Full export once untimed: the schema is created and the table files grown.
        postgres::export(&store, &mut db, &PostgresExport::default(), &mut |_, _| {}).unwrap();
        db
    });
    let (mut rates, mut pg_rates) = (Vec::new(), Vec::new());
    for run in 1..=5 {
        let start = Instant::now();
        let report = sqlite::export(&store, &out, &SqliteExport::default(), &mut |_, _| {}).unwrap();
        let secs = start.elapsed().as_secs_f64();
        let rate = report.events as f64 / secs;
        println!("run {run}: sqlite: {} events in {secs:.2} s: {:.0} events/s", report.events, rate);
        rates.push(rate);
        if let Some(db) = pg.as_mut() {
            // Untimed: the last run's rows go, and so do their dead versions, which a new
            // export would otherwise meet in every unique check (a first export does not).
            postgres::drop_store(db, &format!("{:016x}", store.store_id())).unwrap();
            db.client().batch_execute("VACUUM users, sessions, events, energy_contributions, snapshots, audit_log, export_state").unwrap();
            let start = Instant::now();
            let report = postgres::export(&store, db, &PostgresExport::default(), &mut |_, _| {}).unwrap();
            let secs = start.elapsed().as_secs_f64();
            let rate = report.events as f64 / secs;
            println!("run {run}: postgres: {} events in {secs:.2} s: {:.0} events/s", report.events, rate);
            pg_rates.push(rate);
        }
    }
    rates.sort_by(f64::total_cmp);
    pg_rates.sort_by(f64::total_cmp);
    let bytes = std::fs::metadata(&out).unwrap().len();
    println!("sqlite median: {:.0} events/s (bar: 300,000); database {:.1} MB", rates[2], bytes as f64 / 1e6);
    if let Some(&p) = pg_rates.get(2) {
        println!(
            "postgres median: {p:.0} events/s (bars: 300,000, and at least SQLite's): {:.2}x SQLite's",
            p / rates[2]
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}
