//! The figures beyond the frames, each against its bar (tools/README.md): replay and
//! validate rates on the `Periodic` run's store, and, on a store a writer child fills flat
//! out and is killed in, the time to recover, time travel, and the writer's memory.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use wfstore::{CreateOptions, OpenOptions, Store};

use super::super::output;
use super::report::round2;
use super::store_run::rate;
use super::writer::Written;

/// Replay from the log alone, events/s.
pub const BAR_REPLAY: f64 = 10_000_000.0;
/// `validate`, events/s.
pub const BAR_VALIDATE: f64 = 2_000_000.0;
/// The state at an arbitrary seq, median, ms.
pub const BAR_TIME_TRAVEL_MS: f64 = 50.0;
/// Open + recover + `state()` after a SIGKILL under load, ms.
pub const BAR_RECOVERY_MS: f64 = 50.0;
/// The writer's anonymous memory growth over its events, MB (stated for 10 M events).
pub const BAR_MEMORY_MB: f64 = 8.0;

/// Seqs that time travel goes to.
const TIME_TRAVEL_SEQS: usize = 5;
/// Seed of those seqs: the same store gives the same seqs.
const TIME_TRAVEL_SEED: u64 = 42;

/// Events/s rebuilding the state from the log alone.
#[derive(Debug, serde::Serialize)]
pub struct Replay {
    /// The store replayed (its run's name).
    pub store: String,
    /// Snapshot files removed first, so that nothing but the log is read.
    pub snapshots_removed: usize,
    /// Events replayed (`StateRecovery.replayed`): the whole log.
    pub events: u64,
    /// Time of `Store::state()`, s.
    pub seconds: f64,
    /// Events ÷ seconds.
    pub events_per_s: f64,
    /// The bar, events/s (at least).
    pub bar: f64,
    /// Whether `events_per_s` reached it.
    pub met: bool,
}

/// Events/s of the library's `validate`.
#[derive(Debug, serde::Serialize)]
pub struct Validate {
    /// The store validated.
    pub store: String,
    /// Events checked.
    pub events: u64,
    /// Time of `validate::validate`, s.
    pub seconds: f64,
    /// Events ÷ seconds.
    pub events_per_s: f64,
    /// Rules broken (the bench's synthetic events are not a real session: informative).
    pub violations: u64,
    /// The bar, events/s (at least).
    pub bar: f64,
    /// Whether `events_per_s` reached it.
    pub met: bool,
}

/// The state at arbitrary seqs, from the store's own snapshots.
#[derive(Debug, serde::Serialize)]
pub struct TimeTravel {
    /// The store travelled in.
    pub store: String,
    /// Its events.
    pub store_events: u64,
    /// The snapshots it holds (the default policy keeps the newest 3), by seq.
    pub snapshot_seqs: Vec<u64>,
    /// The seqs asked for, in the order asked.
    pub seqs: Vec<u64>,
    /// Time of each `Store::state_at`, ms.
    pub ms: Vec<f64>,
    /// Events each one replayed after its snapshot.
    pub replayed: Vec<u64>,
    /// The median of `ms`: the figure.
    pub median_ms: f64,
    /// The slowest.
    pub max_ms: f64,
    /// The bar, ms (at most), for the median.
    pub bar: f64,
    /// Whether `median_ms` is within it.
    pub met: bool,
}

/// Recovery after a SIGKILL under load.
#[derive(Debug, serde::Serialize)]
pub struct Recovery {
    /// The store.
    pub store: String,
    /// Events the writer appended before it reported (`--recovery-events`).
    pub writer_events: u64,
    /// Its rate over them (one `append_batch` per frame, unpaced), events/s.
    pub writer_events_per_s: f64,
    /// How the writer ended.
    pub writer_ended: String,
    /// The last seq after recovery (the writer appended on until the kill).
    pub recovered_last_seq: u64,
    /// The snapshot the state started from.
    pub snapshot_seq: Option<u64>,
    /// Events replayed after it (`StateRecovery.replayed`).
    pub replayed: u64,
    /// Snapshots skipped (damaged, ahead of the log, ...).
    pub skipped_snapshots: usize,
    /// Whether a torn tail was cut at the open.
    pub torn_tail: bool,
    /// Time of `Store::open` (writer, the app's defaults), ms.
    pub open_ms: f64,
    /// Time of `Store::state()` after it, ms.
    pub state_ms: f64,
    /// open + state: the figure.
    pub ms: f64,
    /// The bar, ms (at most).
    pub bar: f64,
    /// Whether `ms` is within it.
    pub met: bool,
}

/// The writer child's anonymous memory (`RssAnon`: heap and stacks, not the mapped
/// segments) after its events minus right after its open.
#[derive(Debug, serde::Serialize)]
pub struct Memory {
    /// Events appended between the two readings.
    pub events: u64,
    /// `RssAnon` right after the open, MB (`null` where it cannot be read: not Linux).
    pub rss_anon_open_mb: Option<f64>,
    /// `RssAnon` after the events, MB.
    pub rss_anon_end_mb: Option<f64>,
    /// The growth: the figure (`null` when unavailable).
    pub mb: Option<f64>,
    /// The bar, MB (at most), stated for 10 M events.
    pub bar: f64,
    /// Whether `mb` is within it (`null` when unavailable).
    pub met: Option<bool>,
}

/// The figures of the recovery run.
pub struct Killed {
    /// Recovery after the kill.
    pub recovery: Recovery,
    /// Time travel in the recovered store.
    pub time_travel: TimeTravel,
    /// The writer's memory.
    pub memory: Memory,
}

/// Times `state()` from the log alone in `dir` (a closed store of the bench's own): its
/// snapshot files are removed first.
pub fn replay(dir: &Path, name: &str) -> anyhow::Result<Replay> {
    let snapshots_removed = remove_snapshots(dir)?;
    let store = open_read_only(dir)?;
    let started = Instant::now();
    let (_, rec) = store.state().context("replaying the state")?;
    let took = started.elapsed();
    if rec.snapshot.is_some() {
        bail!("the replay started from a snapshot after the snapshots were removed");
    }
    let events_per_s = rate(rec.replayed, took);
    Ok(Replay {
        store: name.to_owned(),
        snapshots_removed,
        events: rec.replayed,
        seconds: secs(took),
        events_per_s,
        bar: BAR_REPLAY,
        met: events_per_s >= BAR_REPLAY,
    })
}

/// Times the library's `validate` on `dir`.
pub fn validate(dir: &Path, name: &str) -> anyhow::Result<Validate> {
    let store = open_read_only(dir)?;
    let started = Instant::now();
    let report = wfstore::validate::validate(&store).context("validating the store")?;
    let took = started.elapsed();
    let events_per_s = rate(report.events, took);
    Ok(Validate {
        store: name.to_owned(),
        events: report.events,
        seconds: secs(took),
        events_per_s,
        violations: report.violation_count,
        bar: BAR_VALIDATE,
        met: events_per_s >= BAR_VALIDATE,
    })
}

/// Removes the snapshot files of `dir`, returning how many there were.
fn remove_snapshots(dir: &Path) -> anyhow::Result<usize> {
    let snapshots = dir.join(wfstore::snapshot::SNAPSHOT_DIR);
    if !snapshots.exists() {
        return Ok(0);
    }
    let mut removed = 0;
    for entry in std::fs::read_dir(&snapshots).with_context(|| format!("reading {}", snapshots.display()))? {
        let path = entry.with_context(|| format!("reading {}", snapshots.display()))?.path();
        if path.is_file() {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Creates a store in `dir`, has a writer child fill it with `events` events and kills it
/// under load, then times the recovery, travels in time and reads the child's memory.
pub fn killed(dir: &Path, events: u64, events_per_frame: u64) -> anyhow::Result<Killed> {
    Store::create(dir, &CreateOptions::default())
        .with_context(|| format!("creating store {}", dir.display()))?;
    let (written, ended) = write_in_child(dir, events, events_per_frame)?;
    let recovery = recover(dir, &written, ended)?;
    let time_travel = time_travel(dir)?;
    let memory = memory(&written);
    Ok(Killed { recovery, time_travel, memory })
}

/// The store's name in the report.
pub const KILLED_STORE: &str = "the recovery run's store";

/// Opens `dir` as the app would after a crash and rebuilds the state, timing both.
fn recover(dir: &Path, written: &Written, writer_ended: String) -> anyhow::Result<Recovery> {
    let started = Instant::now();
    let store = Store::open(dir, &OpenOptions::default()).context("reopening the store after the kill")?;
    let opened = started.elapsed();
    let (_, rec) = store.state().context("recovering the state")?;
    let took = started.elapsed();
    let torn_tail = store.recovery_report().torn_tail.is_some();
    let recovered_last_seq = store.last_seq();
    store.close().context("closing the recovered store")?;
    let total = ms(took);
    Ok(Recovery {
        store: KILLED_STORE.to_owned(),
        writer_events: written.events,
        writer_events_per_s: rate(written.events, Duration::from_nanos(written.write_ns)),
        writer_ended,
        recovered_last_seq,
        snapshot_seq: rec.snapshot.map(|s| s.seq),
        replayed: rec.replayed,
        skipped_snapshots: rec.skipped.len(),
        torn_tail,
        open_ms: ms(opened),
        state_ms: ms(took - opened),
        ms: total,
        bar: BAR_RECOVERY_MS,
        met: total <= BAR_RECOVERY_MS,
    })
}

/// Times `state_at` at `TIME_TRAVEL_SEQS` seqs drawn at random (seeded) from the store.
fn time_travel(dir: &Path) -> anyhow::Result<TimeTravel> {
    let store = open_read_only(dir)?;
    let (first, last) = (store.first_seq(), store.last_seq());
    if last < first {
        bail!("the recovered store is empty: no seq to travel to");
    }
    let snapshot_seqs = store.snapshots().context("listing the snapshots")?.iter().map(|s| s.seq).collect();
    let mut rng = fastrand::Rng::with_seed(TIME_TRAVEL_SEED);
    let seqs: Vec<u64> = (0..TIME_TRAVEL_SEQS).map(|_| rng.u64(first..=last)).collect();
    let (mut times, mut replayed) = (Vec::new(), Vec::new());
    for &seq in &seqs {
        let started = Instant::now();
        let (_, rec) = store.state_at(seq).with_context(|| format!("the state at seq {seq}"))?;
        times.push(ms(started.elapsed()));
        replayed.push(rec.replayed);
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median_ms = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    Ok(TimeTravel {
        store: KILLED_STORE.to_owned(),
        store_events: last + 1 - first,
        snapshot_seqs,
        seqs,
        ms: times,
        replayed,
        median_ms,
        max_ms: sorted.last().copied().unwrap_or(0.0),
        bar: BAR_TIME_TRAVEL_MS,
        met: median_ms <= BAR_TIME_TRAVEL_MS,
    })
}

/// The writer's `RssAnon` growth, when both readings exist.
fn memory(written: &Written) -> Memory {
    let mb = |kb: Option<u64>| kb.map(|kb| round2(kb as f64 / 1024.0));
    let (open, end) = (mb(written.rss_anon_open_kb), mb(written.rss_anon_end_kb));
    let growth = match (written.rss_anon_open_kb, written.rss_anon_end_kb) {
        (Some(a), Some(b)) => Some(round2((b as f64 - a as f64) / 1024.0)),
        _ => None,
    };
    Memory {
        events: written.events,
        rss_anon_open_mb: open,
        rss_anon_end_mb: end,
        mb: growth,
        bar: BAR_MEMORY_MB,
        met: growth.map(|g| g <= BAR_MEMORY_MB),
    }
}

/// Kills the child when dropped, so that no error path leaves a writer behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `bench-writer` in a child, reads its report line, then kills it with SIGKILL while
/// it appends. Returns the report and how the child ended.
fn write_in_child(dir: &Path, events: u64, events_per_frame: u64) -> anyhow::Result<(Written, String)> {
    let exe = std::env::current_exe().context("finding the wfstore executable")?;
    let child = Command::new(&exe)
        .arg("bench-writer")
        .arg("--dir")
        .arg(dir)
        .args(["--events", &events.to_string(), "--events-per-frame", &events_per_frame.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting the writer {}", exe.display()))?;
    let mut child = Reaped(child);
    let mut line = String::new();
    if let Some(out) = child.0.stdout.take() {
        BufReader::new(out).read_line(&mut line).context("reading the writer's report")?;
    }
    if line.trim().is_empty() {
        let status = child.0.wait().context("waiting for the writer")?;
        bail!("the bench writer ended ({status}) before reporting");
    }
    // SIGKILL: no destructor, no close, no final sync runs in the writer.
    child.0.kill().context("killing the writer")?;
    let status = child.0.wait().context("waiting for the killed writer")?;
    let written: Written =
        serde_json::from_str(&line).with_context(|| format!("the writer's report {:?}", line.trim()))?;
    Ok((written, format!("killed with SIGKILL while appending ({status})")))
}

fn open_read_only(dir: &Path) -> anyhow::Result<Store> {
    output::open_read_only(dir)
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e6
}

fn ms(d: Duration) -> f64 {
    round2(d.as_secs_f64() * 1e3)
}

/// The human lines of the figures that ran.
pub fn lines(
    replay: Option<&Replay>,
    validate: Option<&Validate>,
    killed: Option<(&Recovery, &TimeTravel, &Memory)>,
) -> Vec<String> {
    let mut out = vec!["figures beyond the frames, each against its bar (tools/README.md):".to_owned()];
    if let Some(r) = replay {
        out.push(format!(
            "  {:<20} {:>8.2} M events/s  bar ≥ {:.0} M/s {}   ({} events from the log alone, {} snapshots removed, {})",
            "replay",
            r.events_per_s / 1e6,
            r.bar / 1e6,
            mark(r.met),
            r.events,
            r.snapshots_removed,
            r.store
        ));
    }
    if let Some(v) = validate {
        out.push(format!(
            "  {:<20} {:>8.2} M events/s  bar ≥ {:.0} M/s {}   ({} events, {} violations in the synthetic events, {})",
            "validate",
            v.events_per_s / 1e6,
            v.bar / 1e6,
            mark(v.met),
            v.events,
            v.violations,
            v.store
        ));
    }
    let Some((rec, tt, mem)) = killed else {
        out.push("  (time travel, recovery under load and memory: missing)".to_owned());
        return out;
    };
    out.push(format!(
        "  {:<20} {:>8.2} ms          bar ≤ {:.0} ms {}   (median of {} random seqs, max {:.2} ms; {} events, snapshots at {:?})",
        "time travel",
        tt.median_ms,
        tt.bar,
        mark(tt.met),
        tt.seqs.len(),
        tt.max_ms,
        tt.store_events,
        tt.snapshot_seqs
    ));
    out.push(format!(
        "  {:<20} {:>8.2} ms          bar ≤ {:.0} ms {}   (open {:.2} + state {:.2} ms after a SIGKILL at {} events; {} events replayed {}; writer {:.2} M events/s)",
        "recovery under load",
        rec.ms,
        rec.bar,
        mark(rec.met),
        rec.open_ms,
        rec.state_ms,
        rec.recovered_last_seq,
        rec.replayed,
        rec.snapshot_seq.map_or_else(|| "from the start (no snapshot)".to_owned(), |s| format!("after the snapshot at seq {s}")),
        rec.writer_events_per_s / 1e6
    ));
    out.push(match (mem.mb, mem.met) {
        (Some(mb), Some(met)) => format!(
            "  {:<20} {:>8.2} MB          bar ≤ {:.0} MB {}   (writer RssAnon {:.2} → {:.2} MB over {} events; the bar is for 10 M)",
            "memory",
            mb,
            mem.bar,
            mark(met),
            mem.rss_anon_open_mb.unwrap_or(0.0),
            mem.rss_anon_end_mb.unwrap_or(0.0),
            mem.events
        ),
        _ => format!("  {:<20} unavailable (no RssAnon in /proc/self/status here)", "memory"),
    });
    out
}

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}
