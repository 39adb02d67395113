//! One wfstore run under one durability policy: the frame phase (the render thread hands
//! the store each frame), then the per-append phase (single `append` calls, each timed).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use wfstore::event::Event;
use wfstore::{CreateOptions, Durability, OpenOptions, Store};

use super::Config;
use super::report::{Run, StoreMetrics, StoreSide, budget_pct, round2};
use super::workload::{FRAME_BUDGET, Pacer, Percentiles, fill_frame, histogram, ns, record};

/// Most appends timed one by one under `None` and `Periodic`: enough for a stable p99.99.
const APPENDS_MAX: u64 = 1_000_000;

/// Under `Always` each single append waits for its own sync (about a millisecond here), so
/// that phase stops at this many appends or `ALWAYS_APPEND_TIME`, whichever comes first.
const ALWAYS_APPENDS_MAX: u64 = 2_000;
const ALWAYS_APPEND_TIME: Duration = Duration::from_secs(2);

/// The policy's short name, as the report prints it.
pub fn policy_name(policy: Durability) -> String {
    match policy {
        Durability::None => "None".to_owned(),
        Durability::Periodic(every) => format!("Periodic({} ms)", every.as_millis()),
        Durability::Always => "Always".to_owned(),
    }
}

/// Creates a store in `dir` (missing or empty), opens it with `policy` and the app's other
/// defaults (background snapshots on), and runs both phases.
pub fn run(dir: &Path, policy: Durability, cfg: &Config, bar: &ProgressBar) -> anyhow::Result<Run> {
    Store::create(dir, &CreateOptions::default())
        .with_context(|| format!("creating store {}", dir.display()))?;
    let opts = OpenOptions { durability: policy, ..OpenOptions::default() };
    let store = Store::open(dir, &opts).with_context(|| format!("opening store {}", dir.display()))?;

    let frames = frame_phase(&store, cfg, bar)?;
    let durable = wait_durable(&store, cfg.frames - 1);
    // The store's own view of the frames, before the single appends add to it.
    let metrics = StoreMetrics::of(&store.metrics());

    let appends = append_phase(&store, policy, cfg)?;
    store.close().context("closing the store")?;
    // The disk's own fdatasync, beside the store: the baseline of the `Always` ack bar.
    let fdatasync = match policy {
        Durability::Always => Some(Percentiles::of(&fdatasync_baseline(&dir.with_extension("fdatasync"))?)),
        _ => None,
    };

    let f = Percentiles::of(&frames.costs);
    let events = cfg.frames * cfg.events_per_frame;
    Ok(Run {
        engine: "wfstore".to_owned(),
        policy: policy_name(policy),
        frames: cfg.frames,
        events,
        frame_call: FRAME_CALL.to_owned(),
        budget_pct_p99: budget_pct(f.p99),
        budget_pct_max: budget_pct(f.max),
        frames_over_budget: frames.over_budget,
        frame_work_ns: ns(frames.work),
        events_per_s: rate(events, frames.work),
        ratio_vs_sqlite: None,
        append_call: "store.append(&event), one call per event, each timed (timer included), \
                      unpaced, after the frames"
            .to_owned(),
        append_ns: Percentiles::of(&appends.latencies),
        store: Some(StoreSide {
            metrics,
            durable_frame: durable.frame,
            all_frames_durable: durable.frame == Some(cfg.frames - 1),
            durable_wait_ns: ns(durable.waited),
            append_phase: appends.note,
            fdatasync_ns: fdatasync,
            append_events_per_s: rate(appends.latencies.len(), appends.elapsed),
        }),
        frame_cost_ns: f,
        frame_hist: frames.costs,
        append_hist: appends.latencies,
    })
}

/// What the frame cost times.
const FRAME_CALL: &str = "store.commit_frame(frame, &events, deadline = the frame's tick + 16.67 ms): \
                          appends the frame and returns; a background thread makes it durable";

/// Stores one frame the way the render thread does: hand it over, never wait for the disk.
fn store_frame(store: &Store, frame: u64, events: &[Event], deadline: Instant) -> anyhow::Result<()> {
    store.commit_frame(frame, events, deadline)?;
    Ok(())
}

struct Frames {
    costs: Histogram<u64>,
    work: Duration,
    over_budget: u64,
}

/// Stores `cfg.frames` frames, timing each one.
fn frame_phase(store: &Store, cfg: &Config, bar: &ProgressBar) -> anyhow::Result<Frames> {
    let mut out = Frames { costs: histogram()?, work: Duration::ZERO, over_budget: 0 };
    let mut events = Vec::new();
    let mut pacer = Pacer::new(cfg.paced);
    for frame in 0..cfg.frames {
        // The events are made before the tick: making them is the app's work, not the store's.
        fill_frame(&mut events, frame, cfg.events_per_frame);
        let deadline = pacer.next_frame();
        let started = Instant::now();
        store_frame(store, frame, &events, deadline).with_context(|| format!("storing frame {frame}"))?;
        let cost = started.elapsed();
        record(&mut out.costs, cost);
        out.work += cost;
        out.over_budget += u64::from(cost > FRAME_BUDGET);
        bar.inc(1);
    }
    Ok(out)
}

/// How long to wait after the last frame for the store to make every frame durable: far
/// beyond the 100 ms periodic interval or any sync, so only a stalled disk reaches it.
const DURABLE_WAIT_MAX: Duration = Duration::from_secs(10);

struct Durable {
    frame: Option<u64>,
    waited: Duration,
}

/// Waits until `last` is durable (or `DURABLE_WAIT_MAX` passes), polling `durable_frame`.
fn wait_durable(store: &Store, last: u64) -> Durable {
    let started = Instant::now();
    loop {
        let frame = store.durable_frame();
        let waited = started.elapsed();
        if frame >= Some(last) || waited >= DURABLE_WAIT_MAX {
            return Durable { frame, waited };
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

struct Appends {
    latencies: Histogram<u64>,
    elapsed: Duration,
    note: String,
}

/// Appends events one call at a time, timing each call. The events continue where the
/// frames stopped, a frame's worth at a time.
fn append_phase(store: &Store, policy: Durability, cfg: &Config) -> anyhow::Result<Appends> {
    let frame_events = cfg.frames * cfg.events_per_frame;
    let (limit, time_limit) = match policy {
        Durability::Always => {
            (ALWAYS_APPENDS_MAX.min(frame_events), Some(ALWAYS_APPEND_TIME.min(cfg.run_time())))
        }
        _ => (APPENDS_MAX.min(frame_events), None),
    };
    let mut latencies = histogram()?;
    let mut events = Vec::new();
    let started = Instant::now();
    let mut done = 0u64;
    let mut timed_out = false;
    'frames: for frame in cfg.frames.. {
        fill_frame(&mut events, frame, cfg.events_per_frame);
        for event in &events {
            if done == limit {
                break 'frames;
            }
            if time_limit.is_some_and(|t| started.elapsed() >= t) {
                timed_out = true;
                break 'frames;
            }
            let t = Instant::now();
            store
                .append(event)
                .with_context(|| format!("appending event {} of the append phase", done + 1))?;
            record(&mut latencies, t.elapsed());
            done += 1;
        }
    }
    let elapsed = started.elapsed();
    let note = match (policy, time_limit) {
        (Durability::Always, Some(t)) => format!(
            "{done} single appends ({}: each waits for its own sync, so capped at {ALWAYS_APPENDS_MAX} or {:.1} s)",
            if timed_out { "stopped by time" } else { "stopped by count" },
            t.as_secs_f64()
        ),
        _ => format!("{done} single appends (as many as the frames held, at most {APPENDS_MAX})"),
    };
    Ok(Appends { latencies, elapsed, note })
}

/// Syncs that `fdatasync_baseline` times.
const FDATASYNC_SAMPLES: usize = 200;

/// Times `fdatasync` after each small write into a file whose blocks are already written
/// (no metadata to commit): the fastest durable write this disk offers, so the `Always`
/// bar measured against it is strict. The file is removed afterwards.
fn fdatasync_baseline(path: &Path) -> anyhow::Result<Histogram<u64>> {
    use std::io::{Seek as _, SeekFrom, Write as _};
    let mut f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let record_bytes = [0x5a_u8; 128];
    f.write_all(&vec![0; FDATASYNC_SAMPLES * record_bytes.len()])?;
    f.sync_all()?;
    f.seek(SeekFrom::Start(0))?;
    let mut latencies = histogram()?;
    for _ in 0..FDATASYNC_SAMPLES {
        f.write_all(&record_bytes)?;
        let t = Instant::now();
        f.sync_data().with_context(|| format!("fdatasync of {}", path.display()))?;
        record(&mut latencies, t.elapsed());
    }
    drop(f);
    std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    Ok(latencies)
}

/// Events per second over `work`, rounded to whole events.
pub fn rate(events: u64, work: Duration) -> f64 {
    let secs = work.as_secs_f64();
    if secs > 0.0 { round2(events as f64 / secs).round() } else { 0.0 }
}
