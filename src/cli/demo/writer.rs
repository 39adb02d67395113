//! The demo's writer child (`wfstore demo-writer`, hidden): appends the simulated frames
//! to a store, reports on stdout, and then waits to be killed with the store still open.
//!
//! It never closes the store. Once its report is out it blocks on stdin; the parent kills
//! it with SIGKILL, and should the parent die first, stdin reaches its end and the child
//! leaves through `process::exit`, which runs no destructor: a crash either way.

use std::io::Read as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use wfstore::sim::{SimConfig, Simulator};
use wfstore::{Durability, OpenOptions, SnapshotPolicy, Store};

use super::super::output::{self, Exit};

/// Options of the hidden `demo-writer` command.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The store, already created.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Simulator seed.
    #[arg(long, value_name = "N")]
    pub seed: u64,
    /// Frames to simulate.
    #[arg(long, value_name = "N")]
    pub frames: u64,
    /// Concurrent sessions to simulate.
    #[arg(long, value_name = "N")]
    pub sessions: usize,
}

/// What the writer did: its one line of JSON on stdout.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Written {
    /// Events appended.
    pub events: u64,
    /// The store's last seq after the final flush.
    pub last_seq: u64,
    /// Frames appended.
    pub frames: u64,
    /// Wall time of the whole append loop, ms.
    pub write_ms: f64,
    /// Per-frame store cost (one `append_batch`), µs.
    pub frame_cost_us: FrameCost,
}

/// Percentiles of the per-frame store cost, µs.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct FrameCost {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Worst frame.
    pub max: f64,
}

/// Appends every frame, flushes, prints the report, then waits without closing the store.
pub fn run(args: &Args) -> anyhow::Result<Exit> {
    let opts = OpenOptions {
        durability: Durability::Periodic(Duration::from_millis(100)),
        read_only: false,
        snapshots: Some(SnapshotPolicy {
            every_events: 5_000,
            every: Some(Duration::from_millis(500)),
            keep: 3,
            history: 0,
        }),
        ..OpenOptions::default()
    };
    let store =
        Store::open(&args.dir, &opts).with_context(|| format!("opening store {}", args.dir.display()))?;
    let cfg =
        SimConfig { seed: args.seed, frames: args.frames, sessions: args.sessions, ..SimConfig::default() };
    // 1 ns to 60 s at 3 significant digits: any frame cost fits.
    let mut costs = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
        .context("creating the frame-cost histogram")?;
    let bar = output::progress(args.frames, "frames");
    let started = Instant::now();
    let mut events = 0u64;
    for (frame, batch) in Simulator::new(cfg).enumerate() {
        let t = Instant::now();
        store.append_batch(&batch).with_context(|| format!("appending frame {frame}"))?;
        let cost = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        costs.saturating_record(cost.max(1));
        events += batch.len() as u64;
        bar.inc(1);
    }
    let write_ms = super::ms(started.elapsed());
    bar.finish_and_clear();
    store.flush().context("flushing the store")?;
    let written = Written {
        events,
        last_seq: store.last_seq(),
        frames: args.frames,
        write_ms,
        frame_cost_us: FrameCost {
            p50: super::us(costs.value_at_quantile(0.5)),
            p99: super::us(costs.value_at_quantile(0.99)),
            p999: super::us(costs.value_at_quantile(0.999)),
            max: super::us(costs.max()),
        },
    };
    output::json(&written)?;
    // Wait to be killed; the store stays open. Whatever stdin brings, or its end, the
    // store is left as a crash leaves it.
    let mut sink = [0u8; 64];
    while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
    std::process::exit(0)
}
