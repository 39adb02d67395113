//! The bench's report: what each run measured, as one JSON object (`--json`, durations in
//! ns) or as a table for people.

use hdrhistogram::Histogram;

use super::super::output;
use super::figures::{self, Memory, Recovery, Replay, TimeTravel, Validate};
use super::workload::{FRAME_BUDGET, Percentiles, ns};

/// The design's bars for a 60 Hz frame of 1,000 events (DESIGN.md, "Performance bars").
const BAR_FRAME_P99_NS: u64 = 500_000;
const BAR_FRAME_MAX_NS: u64 = 2_000_000;
const BAR_RATIO: f64 = 20.0;

/// Everything the bench measured.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    /// How the runs were made.
    pub settings: Settings,
    /// One per run: wfstore under each durability policy, then SQLite.
    pub runs: Vec<Run>,
    /// Where the plot was written, if it was.
    pub svg: Option<String>,
    /// Events/s rebuilding the state from the `Periodic` run's log alone (`null` with
    /// `--no-extras`, as the four below).
    pub replay: Option<Replay>,
    /// Events/s of `validate` on that store.
    pub validate: Option<Validate>,
    /// The state at random seqs of the recovery run's store.
    pub time_travel: Option<TimeTravel>,
    /// Open + recover + `state()` after a writer child was killed under load.
    pub recovery: Option<Recovery>,
    /// That writer's anonymous memory growth over its events.
    pub memory: Option<Memory>,
}

/// How the runs were made.
#[derive(Debug, serde::Serialize)]
pub struct Settings {
    /// Frames per run.
    pub frames: u64,
    /// Events in each frame.
    pub events_per_frame: u64,
    /// Whether frames were paced at 60 Hz (otherwise back to back).
    pub paced: bool,
    /// The frame budget, ns.
    pub budget_ns: u64,
    /// Mean record body, bytes.
    pub body_bytes_mean: f64,
    /// What the bodies are, in both engines.
    pub body: String,
    /// The SQLite library's version.
    pub sqlite_version: String,
    /// The SQLite configuration.
    pub sqlite: String,
    /// Where the stores were.
    pub dir: String,
    /// Whether they were kept afterwards.
    pub kept: bool,
    /// Whether the figures beyond the frames ran (not `--no-extras`).
    pub extras: bool,
    /// Events the recovery run's writer appended before it was killed.
    pub recovery_events: u64,
}

/// One run: one engine, one durability policy.
#[derive(Debug, serde::Serialize)]
pub struct Run {
    /// `wfstore` or `sqlite`.
    pub engine: String,
    /// The durability policy (wfstore) or the configuration (SQLite).
    pub policy: String,
    /// Frames stored.
    pub frames: u64,
    /// Events stored in the frames.
    pub events: u64,
    /// How one frame was stored (what the frame cost times).
    pub frame_call: String,
    /// Time the store took for each frame, ns.
    pub frame_cost_ns: Percentiles,
    /// Frame cost at p99 as a share of the 16.67 ms budget, %.
    pub budget_pct_p99: f64,
    /// The worst frame's cost as a share of the budget, %.
    pub budget_pct_max: f64,
    /// Frames whose cost alone exceeded the budget.
    pub frames_over_budget: u64,
    /// Σ frame costs, ns: the time the caller spent storing.
    pub frame_work_ns: u64,
    /// Events ÷ Σ frame costs: what the engine could absorb with nothing else to do.
    pub events_per_s: f64,
    /// This run's events/s ÷ SQLite's, in the same process and run.
    pub ratio_vs_sqlite: Option<f64>,
    /// How per-append latency was measured.
    pub append_call: String,
    /// Latency of each append, ns.
    pub append_ns: Percentiles,
    /// wfstore only: what the store saw.
    pub store: Option<StoreSide>,
    /// Frame costs, for the plot.
    #[serde(skip)]
    pub frame_hist: Histogram<u64>,
    /// Append latencies, for the plot.
    #[serde(skip)]
    pub append_hist: Histogram<u64>,
}

/// wfstore's own view of a run.
#[derive(Debug, serde::Serialize)]
pub struct StoreSide {
    /// What `Store::metrics` recorded during the frames.
    pub metrics: StoreMetrics,
    /// The highest durable frame once the bench stopped waiting.
    pub durable_frame: Option<u64>,
    /// Whether every frame became durable.
    pub all_frames_durable: bool,
    /// Time from the last `commit_frame` until the last frame was durable, ns.
    pub durable_wait_ns: u64,
    /// Appends in the per-append phase, and why it stopped where it did.
    pub append_phase: String,
    /// Rate of the per-append phase (one `append` call per event, timer included).
    pub append_events_per_s: f64,
    /// Under `Always`: this disk's `fdatasync` latency after a small overwrite, ns (the
    /// baseline of the bar "ack p99 ≤ 3 × fdatasync p99").
    pub fdatasync_ns: Option<Percentiles>,
}

/// `Store::metrics` after the frames, ns.
#[derive(Debug, serde::Serialize)]
pub struct StoreMetrics {
    /// Each `commit_frame` call as the store timed it.
    pub append_ns: Percentiles,
    /// Each sync that made appends durable.
    pub commit_ns: Percentiles,
    /// From `commit_frame` to the frame being durable.
    pub frame_durable_ns: Percentiles,
    /// Frames that became durable after their deadline.
    pub frame_deadline_misses: u64,
}

impl StoreMetrics {
    /// The percentiles of `m`.
    pub fn of(m: &wfstore::store::Metrics) -> StoreMetrics {
        StoreMetrics {
            append_ns: Percentiles::of(&m.append),
            commit_ns: Percentiles::of(&m.commit),
            frame_durable_ns: Percentiles::of(&m.frame_durable),
            frame_deadline_misses: m.frame_deadline_misses,
        }
    }
}

impl Run {
    /// The run's name in the table and the plot.
    pub fn name(&self) -> String {
        if self.engine == "sqlite" { "SQLite".to_owned() } else { format!("wfstore {}", self.policy) }
    }
}

/// Share of the frame budget, %, to two decimals.
pub fn budget_pct(cost_ns: u64) -> f64 {
    round2(cost_ns as f64 * 100.0 / ns(FRAME_BUDGET) as f64)
}

/// Two decimals are all a reader needs of a share or a ratio.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Prints the report for people: the settings, one table row per run, the store's view and
/// the bars.
pub fn print_human(r: &Report) -> anyhow::Result<()> {
    let s = &r.settings;
    let pacing = if s.paced { "paced at 60 Hz" } else { "back to back (--unpaced)" };
    let mut lines = vec![
        format!(
            "wfstore bench: {} frames of {} events per run, {pacing}; frame budget {:.2} ms",
            s.frames,
            s.events_per_frame,
            s.budget_ns as f64 / 1e6
        ),
        format!("bodies: {:.0} bytes mean, {}", s.body_bytes_mean, s.body),
        format!("SQLite {}: {}", s.sqlite_version, s.sqlite),
        String::new(),
        format!(
            "{:<26} {:>50}  {:>7} {:>11} {:>7}  {:>31}",
            "", "store cost per frame, µs", "budget", "capacity", "vs", "per append, µs"
        ),
        format!(
            "{:<26} {:>9} {:>9} {:>9} {:>10} {:>10}  {:>7} {:>11} {:>7}  {:>7} {:>7} {:>7} {:>8}",
            "run",
            "p50",
            "p99",
            "p99.9",
            "p99.99",
            "max",
            "% p99",
            "events/s",
            "SQLite",
            "p50",
            "p99",
            "p99.9",
            "max"
        ),
    ];
    for run in &r.runs {
        let f = &run.frame_cost_ns;
        let a = &run.append_ns;
        let ratio = run.ratio_vs_sqlite.map_or_else(|| "-".to_owned(), |x| format!("{x:.1}×"));
        lines.push(format!(
            "{:<26} {:>9} {:>9} {:>9} {:>10} {:>10}  {:>6.2}% {:>11.0} {:>7}  {:>7} {:>7} {:>7} {:>8}",
            run.name(),
            us(f.p50),
            us(f.p99),
            us(f.p999),
            us(f.p9999),
            us(f.max),
            run.budget_pct_p99,
            run.events_per_s,
            ratio,
            us(a.p50),
            us(a.p99),
            us(a.p999),
            us(a.max),
        ));
    }
    lines.push(String::new());
    lines.push("how each run stored a frame, and timed an append:".to_owned());
    for run in &r.runs {
        lines.push(format!("  {:<24} frame: {}", run.name(), run.frame_call));
        lines.push(format!("  {:<24} append: {}", "", run.append_call));
        if let Some(st) = &run.store {
            lines.push(format!(
                "  {:<24} {}; {:.0} single appends/s",
                "", st.append_phase, st.append_events_per_s
            ));
        }
    }
    lines.push(String::new());
    lines.push("the store's own metrics during the frames (Store::metrics), µs: p50 / p99 / max".to_owned());
    for run in &r.runs {
        if let Some(st) = &run.store {
            lines.extend(store_lines(&run.name(), st, run.frames));
        }
    }
    lines.push(String::new());
    lines.extend(bars(r));
    lines.push(String::new());
    let killed = match (&r.recovery, &r.time_travel, &r.memory) {
        (Some(rec), Some(tt), Some(mem)) => Some((rec, tt, mem)),
        _ => None,
    };
    if r.settings.extras {
        lines.extend(figures::lines(r.replay.as_ref(), r.validate.as_ref(), killed));
    } else {
        lines.push("figures beyond the frames: skipped (--no-extras)".to_owned());
    }
    if let Some(svg) = &r.svg {
        lines.push(format!("plot: {svg}"));
    }
    let fate = if s.kept { "kept" } else { "removed" };
    lines.push(format!("stores: {} ({fate})", s.dir));
    for line in lines {
        output::line(&line)?;
    }
    Ok(())
}

/// The store-side lines of one wfstore run.
fn store_lines(name: &str, st: &StoreSide, frames: u64) -> Vec<String> {
    let m = &st.metrics;
    let durable = if st.all_frames_durable {
        format!("every frame durable {} µs after the last commit", us(st.durable_wait_ns))
    } else {
        format!(
            "NOT every frame durable: durable frame {:?} of {} after waiting {} µs",
            st.durable_frame,
            frames.saturating_sub(1),
            us(st.durable_wait_ns)
        )
    };
    vec![
        format!(
            "  {name:<24} commit_frame {} / {} / {}; syncs: {}, {} / {} / {}",
            us(m.append_ns.p50),
            us(m.append_ns.p99),
            us(m.append_ns.max),
            m.commit_ns.count,
            us(m.commit_ns.p50),
            us(m.commit_ns.p99),
            us(m.commit_ns.max)
        ),
        format!(
            "  {:<24} frame durable after {} / {} / {}; {} of {} frames missed their deadline; {durable}",
            "",
            us(m.frame_durable_ns.p50),
            us(m.frame_durable_ns.p99),
            us(m.frame_durable_ns.max),
            m.frame_deadline_misses,
            m.frame_durable_ns.count
        ),
    ]
}

/// The design's frame bars, checked for each wfstore run. They are stated for frames of
/// 1,000 events; other sizes are shown for reference.
fn bars(r: &Report) -> Vec<String> {
    let mut out = vec![format!(
        "bars (DESIGN.md, frames of 1,000 events{}): frame cost p99 ≤ 500 µs, max ≤ 2,000 µs, ≥ 20× SQLite",
        if r.settings.events_per_frame == 1000 { "" } else { "; this run used another size" }
    )];
    for run in r.runs.iter().filter(|run| run.engine == "wfstore") {
        let f = &run.frame_cost_ns;
        let ratio = run.ratio_vs_sqlite.unwrap_or(0.0);
        out.push(format!(
            "  {:<24} p99 {} {}   max {} {}   ratio {:.1}× {}",
            run.name(),
            us(f.p99),
            mark(f.p99 <= BAR_FRAME_P99_NS),
            us(f.max),
            mark(f.max <= BAR_FRAME_MAX_NS),
            ratio,
            mark(ratio >= BAR_RATIO)
        ));
        if let Some(sync) = run.store.as_ref().and_then(|s| s.fdatasync_ns.as_ref()) {
            let times = run.append_ns.p99 as f64 / sync.p99.max(1) as f64;
            out.push(format!(
                "  {:<24} ack p99 {} µs = {times:.1} × this disk's fdatasync p99 ({} µs) {}   (bar ≤ 3×)",
                run.name(),
                us(run.append_ns.p99),
                us(sync.p99),
                mark(times <= 3.0)
            ));
        }
    }
    out
}

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

/// Nanoseconds as microseconds for the table: two decimals below 100 µs, none above.
fn us(ns: u64) -> String {
    let us = ns as f64 / 1e3;
    if us < 100.0 { format!("{us:.2}") } else { format!("{us:.0}") }
}
