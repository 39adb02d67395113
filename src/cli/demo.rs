//! `wfstore demo`: a seeded 60 Hz WirthForge session into a fresh store, then reopen,
//! verify, read everything back and report what it cost against the frame budget.
//!
//! The frames are not paced at 60 Hz: they are generated and appended back to back, so a
//! minute of frames runs in about a second, and each frame's store cost is timed on its own.
//! A crash cannot be simulated safely in-process, so "recovery" here is a clean close and a
//! timed reopen; the crash tests cover the torn-tail path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use wfstore::event::{Energy, Event, EventBody};
use wfstore::sim::{SimConfig, Simulator};
use wfstore::{CreateOptions, Durability, OpenOptions, Store};

use super::output::{self, Exit};

/// The frame budget at 60 Hz.
const FRAME_BUDGET_NS: u64 = 16_666_667;

/// Segment size of the demo store: small, so that a minute of frames rolls segments a few
/// times and the rolls show up in the frame costs.
const DEMO_SEGMENT_BYTES: u64 = 256 << 10;

/// Options of `demo` (the global `--store` is not used: the demo always makes a new store).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Simulator seed: the same seed gives the same events.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Frames to simulate (60 per simulated second).
    #[arg(long, value_name = "N", default_value_t = 3600)]
    pub frames: u64,
    /// Where to create the store (missing or empty); a fresh temporary directory by default.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Keep the store afterwards (a `--dir` store is always kept).
    #[arg(long)]
    pub keep: bool,
}

/// The report, printed as text or as one JSON object.
#[derive(Debug, serde::Serialize)]
struct Report {
    seed: u64,
    frames: u64,
    store: PathBuf,
    kept: bool,
    events: u64,
    sessions: usize,
    segments: usize,
    event_types: BTreeMap<&'static str, u64>,
    energy_by_model: BTreeMap<String, Energy>,
    recovery_ms: f64,
    verify_problems: usize,
    read_back_equal: bool,
    frame_cost_us: FrameCost,
    budget_p99_pct: f64,
}

#[derive(Debug, serde::Serialize)]
struct FrameCost {
    p50: f64,
    p99: f64,
    max: f64,
}

/// Runs the demo; exits 3 if `verify` finds a problem in the store just written.
pub fn run(json: bool, args: &Args) -> anyhow::Result<Exit> {
    // Without `--dir`, a temporary directory owns the store and removes it on drop.
    let temp = match &args.dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("wfstore-demo-")
                .tempdir()
                .context("creating a temporary directory")?,
        ),
    };
    let dir = match (&args.dir, &temp) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t.path().to_owned(),
        (None, None) => bail!("no store directory"),
    };
    let report = run_in(&dir, args)?;
    let kept = args.keep || args.dir.is_some();
    let report = Report { kept, ..report };
    if let (true, Some(t)) = (args.keep, temp) {
        let _ = t.keep();
    }
    if json {
        output::json(&report)?;
    } else {
        print_human(&report)?;
    }
    if report.verify_problems > 0 {
        eprintln!(
            "wfstore: error: verify found {} problem(s); run `wfstore --store {} verify`",
            report.verify_problems,
            report.store.display()
        );
        return Ok(Exit::Corrupt);
    }
    Ok(Exit::Ok)
}

/// Writes, reopens, verifies and reads back the store in `dir`.
fn run_in(dir: &Path, args: &Args) -> anyhow::Result<Report> {
    let create = CreateOptions { segment_bytes: DEMO_SEGMENT_BYTES, keep_content: false };
    Store::create(dir, &create).with_context(|| format!("creating store {}", dir.display()))?;
    let cfg = SimConfig { seed: args.seed, frames: args.frames, ..SimConfig::default() };
    let (generated, costs) = write_frames(dir, cfg)?;

    let started = Instant::now();
    let store = Store::open(dir, &OpenOptions::default()).context("reopening the store")?;
    let recovery = started.elapsed();
    let verified = wfstore::verify::verify(dir).context("verifying the store")?;
    let seen = read_back(&store, &generated)?;
    let segments = store.stats().context("reading stats")?.segments;
    store.close().context("closing the store")?;

    let p99 = costs.value_at_quantile(0.99);
    Ok(Report {
        seed: args.seed,
        frames: args.frames,
        store: dir.to_owned(),
        kept: false,
        events: generated.len() as u64,
        sessions: seen.sessions.len(),
        segments,
        event_types: seen.types,
        energy_by_model: seen.energy_by_model,
        recovery_ms: ms(recovery),
        verify_problems: verified.problems.len(),
        read_back_equal: true,
        frame_cost_us: FrameCost {
            p50: us(costs.value_at_quantile(0.5)),
            p99: us(p99),
            max: us(costs.max()),
        },
        budget_p99_pct: round2(p99 as f64 * 100.0 / FRAME_BUDGET_NS as f64),
    })
}

/// Appends every frame's events with one `append_batch`, timing each; returns all events
/// generated (to compare with what is read back) and the per-frame costs in ns.
fn write_frames(dir: &Path, cfg: SimConfig) -> anyhow::Result<(Vec<Event>, Histogram<u64>)> {
    let opts = OpenOptions {
        durability: Durability::Periodic(Duration::from_millis(100)),
        ..OpenOptions::default()
    };
    let store = Store::open(dir, &opts).context("opening the new store")?;
    // 1 ns to 60 s at 3 significant digits: any frame cost fits.
    let mut costs = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
        .context("creating the frame-cost histogram")?;
    let bar = output::progress(cfg.frames, "frames");
    let mut generated = Vec::new();
    for (frame, events) in Simulator::new(cfg).enumerate() {
        let started = Instant::now();
        store.append_batch(&events).with_context(|| format!("appending frame {frame}"))?;
        let cost = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        costs.saturating_record(cost.max(1));
        generated.extend(events);
        bar.inc(1);
    }
    bar.finish_and_clear();
    store.close().context("closing the store")?;
    Ok((generated, costs))
}

/// What reading the store back found.
struct Seen {
    sessions: BTreeSet<String>,
    types: BTreeMap<&'static str, u64>,
    energy_by_model: BTreeMap<String, Energy>,
}

/// Reads every event back, checks each equals what was generated, and tallies sessions,
/// types and per-model energy (exact fixed-point sums, as conservation requires).
fn read_back(store: &Store, generated: &[Event]) -> anyhow::Result<Seen> {
    let mut seen =
        Seen { sessions: BTreeSet::new(), types: BTreeMap::new(), energy_by_model: BTreeMap::new() };
    let mut count = 0u64;
    for rec in store.iter(1..=u64::MAX) {
        let rec = rec.context("reading the store back")?;
        let expected = usize::try_from(rec.seq - 1).ok().and_then(|i| generated.get(i));
        if expected != Some(&rec.event) {
            bail!("seq {} read back differs from the event generated", rec.seq);
        }
        count += 1;
        let ev = rec.event;
        *seen.types.entry(ev.event_type().as_str()).or_default() += 1;
        if let EventBody::EnergyUpdate(u) = &ev.body {
            let total = seen.energy_by_model.entry(u.model.clone()).or_default();
            *total = total
                .checked_add(u.delta)
                .with_context(|| format!("energy of model {} overflows", u.model))?;
        }
        seen.sessions.insert(ev.session.as_str().to_owned());
    }
    if count != generated.len() as u64 {
        bail!("read back {count} events, but {} were generated", generated.len());
    }
    Ok(seen)
}

fn print_human(r: &Report) -> anyhow::Result<()> {
    let fate = if r.kept { "kept" } else { "removed" };
    let lines = [
        format!(
            "wfstore demo: seed {}, {} frames ({:.1} s at 60 Hz, not paced)",
            r.seed,
            r.frames,
            r.frames as f64 / 60.0
        ),
        format!("store          {} ({fate})", r.store.display()),
        format!("events         {} in {} sessions, {} segments", r.events, r.sessions, r.segments),
        format!("event types    {} seen", r.event_types.len()),
    ];
    for l in lines {
        output::line(&l)?;
    }
    for (kind, n) in &r.event_types {
        output::line(&format!("  {kind:<22}{n:>8}"))?;
    }
    output::line("energy by model (sum of energy.update deltas)")?;
    for (model, energy) in &r.energy_by_model {
        // `Energy`'s Display ignores width, so pad its text.
        output::line(&format!("  {model:<22}{:>14}", energy.to_string()))?;
    }
    let verify = match r.verify_problems {
        0 => "clean".to_owned(),
        n => format!("{n} problem(s)"),
    };
    let c = &r.frame_cost_us;
    let lines = [
        format!("recovery       reopen took {:.2} ms", r.recovery_ms),
        format!("verify         {verify}"),
        format!("read back      all {} events equal what was generated", r.events),
        format!("frame cost     p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs", c.p50, c.p99, c.max),
        format!("frame budget   p99 uses {:.2}% of 16.67 ms", r.budget_p99_pct),
    ];
    for l in lines {
        output::line(&l)?;
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    round2(d.as_secs_f64() * 1e3)
}

fn us(ns: u64) -> f64 {
    round2(ns as f64 / 1e3)
}

/// Two decimals are all a human or a script needs of a timing.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
