//! The demo's report: what it holds, and its human form (`--json` prints it as is).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::value::RawValue;

use super::super::output;
use super::writer::FrameCost;

/// Everything the demo found, printed as text or as one JSON object.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    /// Simulator seed.
    pub seed: u64,
    /// Frames simulated.
    pub frames: u64,
    /// Sessions simulated.
    pub sessions_simulated: usize,
    /// The store directory.
    pub store: PathBuf,
    /// Whether the store is kept afterwards.
    pub kept: bool,
    /// Events in the recovered store.
    pub events: u64,
    /// Mean events per frame.
    pub events_per_frame: f64,
    /// Sessions in the recovered state.
    pub sessions: usize,
    /// Users in the recovered state.
    pub users: usize,
    /// Events per type, over all sessions.
    pub event_types: BTreeMap<String, u64>,
    /// Σ `by_model` over the sessions of the recovered state: exact JSON numbers.
    pub energy_by_model: BTreeMap<String, Box<RawValue>>,
    /// Σ `energy_total` over the sessions: exact.
    pub energy_total: Box<RawValue>,
    /// Every session's `conservation_holds()` and no conservation violation from validate.
    pub conservation_holds: bool,
    /// Reopen after the kill: `Store::open` + `Store::state`, ms.
    pub recovery_ms: f64,
    /// What recovery did.
    pub recovery: Recovery,
    /// Problems `verify` found.
    pub verify_problems: usize,
    /// What `verify` noted (repairable things such as a torn tail).
    pub verify_notes: Vec<String>,
    /// Violations `validate` found.
    pub validate_violations: u64,
    /// Snapshots `validate` compared with the replay.
    pub validate_snapshots: usize,
    /// Events read back and compared with what the simulator generated.
    pub read_back_checked: usize,
    /// Whether they were all equal.
    pub read_back_equal: bool,
    /// The relational view exported from the recovered store.
    pub exported: super::export::Exported,
    /// Per-frame store cost in the writer, µs.
    pub frame_cost_us: FrameCost,
    /// Share of the 16.67 ms frame budget used at p99, %.
    pub budget_p99_pct: f64,
}

/// How the killed writer's store came back.
#[derive(Debug, serde::Serialize)]
pub struct Recovery {
    /// How the writer ended.
    pub writer_ended: String,
    /// Seq of the snapshot the state started from (`None`: full replay).
    pub snapshot_seq: Option<u64>,
    /// Events replayed after it.
    pub replayed: u64,
    /// Snapshots skipped as invalid.
    pub skipped_snapshots: usize,
    /// The torn tail cut on open, if any.
    pub torn_tail: Option<String>,
    /// Leftover temporary files removed (a snapshot being written at the kill).
    pub removed_temp_files: usize,
    /// The writer's last seq, and the recovered store's.
    pub writer_last_seq: u64,
    /// The recovered store's last seq.
    pub recovered_last_seq: u64,
}

impl Report {
    /// True when verify, validate and the read-back all passed.
    pub fn passed(&self) -> bool {
        self.verify_problems == 0
            && self.validate_violations == 0
            && self.read_back_equal
            && self.exported.energy_equal
    }
}

/// Prints the report for a human.
pub fn print_human(r: &Report) -> anyhow::Result<()> {
    let fate = if r.kept { "kept" } else { "removed" };
    let rc = &r.recovery;
    let snapshot = rc
        .snapshot_seq
        .map_or_else(|| "no snapshot (full replay)".to_owned(), |s| format!("snapshot at seq {s}"));
    let torn = rc.torn_tail.clone().unwrap_or_else(|| "no torn tail".to_owned());
    let mut lines = vec![
        format!(
            "wfstore demo: seed {}, {} frames ({:.1} s at 60 Hz, not paced), {} sessions",
            r.seed,
            r.frames,
            r.frames as f64 / 60.0,
            r.sessions_simulated
        ),
        format!("store          {} ({fate})", r.store.display()),
        format!(
            "events         {} ({:.1} per frame) in {} sessions of {} users",
            r.events, r.events_per_frame, r.sessions, r.users
        ),
        format!("event types    {} seen", r.event_types.len()),
    ];
    lines.extend(r.event_types.iter().map(|(kind, n)| format!("  {kind:<22}{n:>10}")));
    lines.push("energy by model (recovered state, summed over sessions)".to_owned());
    lines.extend(r.energy_by_model.iter().map(|(m, e)| format!("  {m:<22}{:>16}", e.get())));
    lines.push(format!("  {:<22}{:>16}", "total", r.energy_total.get()));
    let conservation = if r.conservation_holds { "holds in every session (exact)" } else { "BROKEN" };
    lines.extend([
        format!("conservation   {conservation}"),
        format!("writer         {}; last seq {}", rc.writer_ended, rc.writer_last_seq),
        format!(
            "recovery       {:.2} ms to open + rebuild state: {snapshot} + {} events replayed",
            r.recovery_ms, rc.replayed
        ),
        format!(
            "               {torn}, {} snapshot(s) skipped, {} temp file(s) removed, last seq {}",
            rc.skipped_snapshots, rc.removed_temp_files, rc.recovered_last_seq
        ),
        format!("verify         {}", verdict(r.verify_problems as u64, "problem")),
        format!(
            "validate       {} ({} snapshots compared with the replay)",
            verdict(r.validate_violations, "violation"),
            r.validate_snapshots
        ),
        format!(
            "read back      {} events {}",
            r.read_back_checked,
            if r.read_back_equal { "equal what was generated" } else { "DIFFER from what was generated" }
        ),
        format!(
            "export sqlite  {} events in {:.0} ms ({:.0} events/s); energy by session and model {}",
            r.exported.events,
            r.exported.ms,
            r.exported.events_per_s,
            if r.exported.energy_equal {
                "equals the recovered state (exact)"
            } else {
                "DIFFERS from the state"
            }
        ),
    ]);
    let c = &r.frame_cost_us;
    lines.push(format!(
        "frame cost     p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
        c.p50, c.p99, c.p999, c.max
    ));
    lines.push(format!("frame budget   p99 uses {:.2}% of 16.67 ms", r.budget_p99_pct));
    for l in lines {
        output::line(&l)?;
    }
    for note in &r.verify_notes {
        output::line(&format!("note: {note}"))?;
    }
    Ok(())
}

fn verdict(n: u64, what: &str) -> String {
    match n {
        0 => "clean".to_owned(),
        n => format!("{n} {what}(s)"),
    }
}
