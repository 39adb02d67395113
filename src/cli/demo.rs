//! `wfstore demo`: a seeded 60 Hz WirthForge session written by a child process, which is
//! then killed with SIGKILL while the store is open; the store is reopened without a clean
//! shutdown, recovered, verified, validated, read back and exported to SQLite, and the
//! costs are reported against the frame budget.
//!
//! - `writer`: the hidden `demo-writer` child.
//! - `report`: the report and its human form.
//! - `export`: the SQLite export of the recovered store, checked against its state.
//!
//! The frames are not paced at 60 Hz: they are generated and appended back to back, so a
//! minute of frames runs in about a second, and each frame's store cost is timed on its own.

mod export;
mod report;
pub mod writer;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::value::RawValue;
use wfstore::event::format_micros;
use wfstore::sim::{SimConfig, Simulator};
use wfstore::{CreateOptions, OpenOptions, Store};

use self::report::{Recovery, Report};
use self::writer::Written;
use super::output::{self, Exit};

/// The frame budget at 60 Hz.
const FRAME_BUDGET_NS: f64 = 16_666_667.0;

/// Segment size of the demo store: small, so that a minute of frames rolls segments a few
/// times and the rolls show up in the frame costs.
const DEMO_SEGMENT_BYTES: u64 = 1 << 20;

/// Events read back and compared with the simulator's (spread over the log).
const READ_BACK: u64 = 16;

/// Options of `demo` (the global `--store` is not used: the demo always makes a new store).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Simulator seed: the same seed gives the same events.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Frames to simulate (60 per simulated second).
    #[arg(long, value_name = "N", default_value_t = 3600)]
    pub frames: u64,
    /// Concurrent sessions, each with up to 3 models streaming (the load per frame).
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub sessions: u16,
    /// Where to create the store (missing or empty); a fresh temporary directory by default.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Keep the store afterwards (a `--dir` store is always kept).
    #[arg(long)]
    pub keep: bool,
}

/// Runs the demo; exits 3 if verify, validate or the read-back finds a problem.
pub fn run(json: bool, args: &Args) -> anyhow::Result<Exit> {
    let (dir, temp) = output::work_dir(args.dir.as_deref(), "wfstore-demo-")?;
    let mut report = run_in(&dir, args)?;
    report.kept = args.keep || args.dir.is_some();
    if let (true, Some(t)) = (args.keep, temp) {
        let _ = t.keep();
    }
    if json {
        output::json(&report)?;
    } else {
        report::print_human(&report)?;
    }
    if !report.passed() {
        eprintln!(
            "wfstore: error: the recovered store failed a check; run `wfstore --store {} verify` and `validate`",
            report.store.display()
        );
        return Ok(Exit::Corrupt);
    }
    Ok(Exit::Ok)
}

/// Kills the child when dropped, so that no error path leaves a writer behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Creates the store, has the child write it, kills the child and examines what is left.
fn run_in(dir: &Path, args: &Args) -> anyhow::Result<Report> {
    let create = CreateOptions { segment_bytes: DEMO_SEGMENT_BYTES, ..CreateOptions::default() };
    Store::create(dir, &create).with_context(|| format!("creating store {}", dir.display()))?;
    let (written, ended) = write_in_child(dir, args)?;

    let started = Instant::now();
    let opts = OpenOptions { snapshots: None, ..OpenOptions::default() };
    let store = Store::open(dir, &opts).context("reopening the store after the kill")?;
    let (state, rec) = store.state().context("recovering the state")?;
    let recovery_ms = ms(started.elapsed());
    let repaired = store.recovery_report().clone();

    let verified = wfstore::verify::verify(dir).context("verifying the store")?;
    let validated = wfstore::validate::validate(&store).context("validating the store")?;
    let (read_back_checked, read_back_equal) = read_back(&store, args)?;
    let scratch = tempfile::Builder::new()
        .prefix("wfstore-demo-export-")
        .tempdir()
        .context("creating a temporary directory")?;
    let exported = export::run(&store, &state, scratch.path())?;
    let recovered_last_seq = store.last_seq();
    store.close().context("closing the store")?;

    let mut event_types: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_model: BTreeMap<&str, i128> = BTreeMap::new();
    for s in state.sessions.values() {
        for (kind, n) in &s.by_type {
            *event_types.entry(kind.clone()).or_default() += n;
        }
        for (model, e) in &s.by_model {
            *by_model.entry(model).or_default() += e;
        }
    }
    let total: i128 = state.sessions.values().map(|s| s.energy_total).sum();
    // Conservation per session from the state, and validate's independent sums; the
    // conservation violations come last, so a report cut short cannot vouch for them.
    let complete = validated.violation_count == validated.violations.len() as u64;
    let conservation_holds = state.sessions.values().all(|s| s.conservation_holds())
        && complete
        && !validated.violations.iter().any(|v| v.rule == "conservation");
    let energy_by_model =
        by_model.into_iter().map(|(m, e)| Ok((m.to_owned(), exact(e)?))).collect::<anyhow::Result<_>>()?;
    let events = state.last_seq;
    Ok(Report {
        seed: args.seed,
        frames: args.frames,
        sessions_simulated: usize::from(args.sessions),
        store: dir.to_owned(),
        kept: false,
        events,
        events_per_frame: round2(events as f64 / args.frames.max(1) as f64),
        sessions: state.sessions.len(),
        users: state.users.len(),
        event_types,
        energy_by_model,
        energy_total: exact(total)?,
        conservation_holds,
        recovery_ms,
        recovery: Recovery {
            writer_ended: ended,
            snapshot_seq: rec.snapshot.map(|s| s.seq),
            replayed: rec.replayed,
            skipped_snapshots: rec.skipped.len(),
            torn_tail: repaired.torn_tail.map(|t| {
                format!(
                    "torn tail cut: {} bytes at offset {} of {} ({})",
                    t.bytes,
                    t.offset,
                    t.path.display(),
                    t.why
                )
            }),
            removed_temp_files: repaired.removed_temp_files.len(),
            writer_last_seq: written.last_seq,
            recovered_last_seq,
        },
        verify_problems: verified.problems.len(),
        verify_notes: verified.notes,
        validate_violations: validated.violation_count,
        validate_snapshots: validated.snapshots,
        read_back_checked,
        read_back_equal,
        exported,
        budget_p99_pct: round2(written.frame_cost_us.p99 * 1e3 * 100.0 / FRAME_BUDGET_NS),
        frame_cost_us: written.frame_cost_us,
    })
}

/// Runs `demo-writer` in a child, reads its report line, then kills it with SIGKILL while
/// it holds the store open. Returns the report and how the child ended.
fn write_in_child(dir: &Path, args: &Args) -> anyhow::Result<(Written, String)> {
    let exe = std::env::current_exe().context("finding the wfstore executable")?;
    let mut child = Command::new(&exe)
        .arg("demo-writer")
        .arg("--dir")
        .arg(dir)
        .args(["--seed", &args.seed.to_string(), "--frames", &args.frames.to_string()])
        .args(["--sessions", &args.sessions.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting the writer {}", exe.display()))?;
    let stdout = child.stdout.take();
    let mut child = Reaped(child);
    let mut line = String::new();
    if let Some(out) = stdout {
        BufReader::new(out).read_line(&mut line).context("reading the writer's report")?;
    }
    if line.trim().is_empty() {
        let status = child.0.wait().context("waiting for the writer")?;
        bail!("the demo writer ended ({status}) before reporting");
    }
    let written: Written =
        serde_json::from_str(&line).with_context(|| format!("the writer's report {:?}", line.trim()))?;
    // SIGKILL: no destructor, no close, no final sync runs in the writer.
    child.0.kill().context("killing the writer")?;
    let status = child.0.wait().context("waiting for the killed writer")?;
    Ok((written, format!("killed with SIGKILL ({status})")))
}

/// Reads `READ_BACK` events spread over the log and compares them with the simulator's.
fn read_back(store: &Store, args: &Args) -> anyhow::Result<(usize, bool)> {
    let last = store.last_seq();
    let step = (last / READ_BACK).max(1);
    let wanted: Vec<u64> =
        (1..=last).step_by(usize::try_from(step).unwrap_or(usize::MAX)).chain([last]).collect();
    let cfg = SimConfig {
        seed: args.seed,
        frames: args.frames,
        sessions: usize::from(args.sessions),
        ..SimConfig::default()
    };
    let generated = Simulator::new(cfg).flatten();
    let mut checked = 0;
    let mut equal = true;
    let mut next = wanted.iter().copied().peekable();
    for (seq, event) in (1u64..).zip(generated) {
        if next.peek() != Some(&seq) {
            continue;
        }
        while next.next_if_eq(&seq).is_some() {}
        let rec = store.get(seq).with_context(|| format!("reading seq {seq} back"))?;
        equal &= rec.is_some_and(|r| r.event == event);
        checked += 1;
    }
    // Events the simulator never made, or made but the store lost, are mismatches too.
    Ok((checked, equal && next.peek().is_none() && last > 0))
}

/// An exact sum of micro-units as a JSON number.
fn exact(micros: i128) -> anyhow::Result<Box<RawValue>> {
    RawValue::from_string(format_micros(micros)).context("rendering an energy as JSON")
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
