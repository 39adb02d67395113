//! The bench's writer child (`wfstore bench-writer`, hidden): opens a store with the app's
//! defaults, appends frames flat out until it has appended the events it was asked for,
//! reports on stdout (with its anonymous memory after the open and after the events), and
//! keeps appending until the parent kills it with SIGKILL: a crash under load.
//!
//! It never closes the store. Should the parent die instead of killing it, a thread sees
//! stdin reach its end and leaves through `process::exit`, which runs no destructor: a
//! crash either way. The appends after the report stop at twice the events asked for, so
//! that a child nobody kills cannot fill the disk.

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use wfstore::{OpenOptions, Store};

use super::super::output::{self, Exit};
use super::workload::{fill_frame, ns};

/// Options of the hidden `bench-writer` command.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The store, already created.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Events to append before reporting.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub events: u64,
    /// Events in each frame (one `append_batch` each).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub events_per_frame: u64,
}

/// What the writer did: its one line of JSON on stdout.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Written {
    /// Events appended before the report.
    pub events: u64,
    /// The store's last seq at the report.
    pub last_seq: u64,
    /// Time from the first append to the report, ns.
    pub write_ns: u64,
    /// `RssAnon` right after the open, kB (`None` where `/proc/self/status` has none).
    pub rss_anon_open_kb: Option<u64>,
    /// `RssAnon` after the events, kB.
    pub rss_anon_end_kb: Option<u64>,
}

/// Appends `args.events` events, reports, then appends on until killed.
pub fn run(args: &Args) -> anyhow::Result<Exit> {
    // The app's defaults: `Periodic(100 ms)` durability and background snapshots.
    let store = Store::open(&args.dir, &OpenOptions::default())
        .with_context(|| format!("opening store {}", args.dir.display()))?;
    watch_stdin();
    let mut events = Vec::new();
    // The first frame is made before the baseline, so that the reused buffer of one frame's
    // events counts as the app's memory, not the store's.
    fill_frame(&mut events, 0, args.events_per_frame);
    let rss_anon_open_kb = rss_anon_kb();

    let bar = output::progress(args.events, "bench writer: events");
    let started = Instant::now();
    let mut appended = 0u64;
    let mut frame = 0u64;
    while appended < args.events {
        fill_frame(&mut events, frame, args.events_per_frame);
        let want = usize::try_from(args.events - appended).unwrap_or(usize::MAX);
        events.truncate(want);
        store.append_batch(&events).with_context(|| format!("appending frame {frame}"))?;
        appended += events.len() as u64;
        frame += 1;
        bar.set_position(appended);
    }
    let write_ns = ns(started.elapsed());
    bar.finish_and_clear();
    let written = Written {
        events: appended,
        last_seq: store.last_seq(),
        write_ns,
        rss_anon_open_kb,
        rss_anon_end_kb: rss_anon_kb(),
    };
    output::json(&written)?;

    // Under load until the SIGKILL: the kill lands in the middle of appends.
    let cap = args.events.saturating_mul(2);
    while appended < cap {
        fill_frame(&mut events, frame, args.events_per_frame);
        store.append_batch(&events).with_context(|| format!("appending frame {frame}"))?;
        appended += events.len() as u64;
        frame += 1;
    }
    // Nobody killed it: wait for that, or for stdin's end, with the store still open.
    loop {
        std::thread::park();
    }
}

/// Leaves the process without closing anything once stdin ends (the parent is gone).
fn watch_stdin() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0)
    });
}

/// This process's anonymous resident memory (heap and stacks, not mapped files), kB, from
/// `/proc/self/status`; `None` where there is no such file (not Linux).
pub fn rss_anon_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    line["RssAnon:".len()..].trim().trim_end_matches("kB").trim().parse().ok()
}
