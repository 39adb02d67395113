//! `wfstore bench`: the frame-budget benchmark. Frames of N events at 60 Hz go into wfstore
//! under every durability policy and into SQLite (the design wfstore replaces), in the same
//! process and run; each frame's store cost and each append's latency are recorded in HDR
//! histograms and reported against the 16.67 ms frame budget, with events/s and the ratio
//! to SQLite. See tools/README.md for how to read the numbers.
//!
//! - `workload`: the events, the 60 Hz clock, histograms and percentiles.
//! - `store_run`: one wfstore run (frames, then single appends).
//! - `sqlite`: the SQLite run.
//! - `report`: the report, its table and its JSON.
//! - `plot`: the SVG plot.
//! - `figures`: the figures beyond the frames (replay, validate, time travel, recovery under
//!   load, memory), each against its bar.
//! - `writer`: the hidden `bench-writer` child that the recovery run kills.
//!
//! The code lives under `tools/` beside the other tools and is compiled into the command
//! line (`src/cli/mod.rs`), so that `wfstore bench` runs it.

mod figures;
mod plot;
mod report;
mod sqlite;
mod store_run;
mod workload;
pub mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use wfstore::Durability;

use self::report::{Report, Settings, round2};
use self::workload::{FRAME_BUDGET, ns};
use super::output::{self, Exit};

/// The durability policies, in the order they run.
const POLICIES: [Durability; 3] =
    [Durability::None, Durability::Periodic(Duration::from_millis(100)), Durability::Always];

/// Options of `bench` (the global `--store` is not used: the bench makes its own stores).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Events in each frame.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub events_per_frame: u64,
    /// Length of each run: 60 frames a second (the frame count is the same when unpaced).
    #[arg(long, value_name = "S", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,
    /// Store frames back to back instead of one every 16.67 ms.
    #[arg(long)]
    pub unpaced: bool,
    /// Write an SVG plot of the latency distributions to PATH.
    #[arg(long, value_name = "PATH")]
    pub svg: Option<PathBuf>,
    /// Where to put the stores and the SQLite database (missing or empty, kept afterwards); a
    /// fresh temporary directory by default, removed afterwards.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Events the recovery run's writer child appends (flat out, the app's default options)
    /// before it is killed with SIGKILL; its memory is read over them.
    #[arg(long, value_name = "N", default_value_t = 10_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub recovery_events: u64,
    /// Skip the figures beyond the frames: replay, validate, time travel, recovery under
    /// load and memory (the recovery run is the slow one).
    #[arg(long)]
    pub no_extras: bool,
}

/// What every run does.
pub struct Config {
    /// Frames per run.
    pub frames: u64,
    /// Events per frame.
    pub events_per_frame: u64,
    /// One frame per 60 Hz tick, or back to back.
    pub paced: bool,
}

impl Config {
    /// How long a paced run lasts.
    pub fn run_time(&self) -> Duration {
        FRAME_BUDGET * u32::try_from(self.frames).unwrap_or(u32::MAX)
    }
}

/// Runs every policy and SQLite, then prints the table or the JSON, and writes the plot.
pub fn run(json: bool, args: &Args) -> anyhow::Result<Exit> {
    // Without `--dir`, a temporary directory owns the stores and removes them on drop.
    let (dir, _temp) = output::work_dir(args.dir.as_deref(), "wfstore-bench-")?;
    if args.dir.is_some() {
        prepare_dir(&dir)?;
    }
    let cfg =
        Config { frames: args.seconds * 60, events_per_frame: args.events_per_frame, paced: !args.unpaced };

    let runs_total = POLICIES.len() as u64 + 1;
    let bar = output::progress(cfg.frames * runs_total, "frames");
    let mut runs = Vec::new();
    let mut periodic = None;
    for policy in POLICIES {
        let name = store_run::policy_name(policy);
        bar.set_message(format!("wfstore {name}"));
        let sub = dir.join(format!("wfstore-{}", dir_name(&name)));
        runs.push(store_run::run(&sub, policy, &cfg, &bar).with_context(|| format!("wfstore {name}"))?);
        // The app's default policy: its store is the one replay and validate read.
        if policy == Durability::default() {
            periodic = Some((sub, format!("the wfstore {name} run's store")));
        }
    }
    bar.set_message("SQLite");
    let sqlite = sqlite::run(&dir.join("sqlite.db"), &cfg, &bar).context("SQLite")?;
    bar.finish_and_clear();
    for run in &mut runs {
        if sqlite.events_per_s > 0.0 {
            run.ratio_vs_sqlite = Some(round2(run.events_per_s / sqlite.events_per_s));
        }
    }
    runs.push(sqlite);
    let extras = match (args.no_extras, periodic) {
        (false, Some((store, name))) => Some(extras(&dir, &store, &name, &cfg, args)?),
        _ => None,
    };

    let settings = Settings {
        frames: cfg.frames,
        events_per_frame: cfg.events_per_frame,
        paced: cfg.paced,
        budget_ns: ns(FRAME_BUDGET),
        body_bytes_mean: round2(workload::mean_body_bytes(cfg.events_per_frame)?),
        body: "the wfstore record body (bincode), encoded inside the timed call in both engines".to_owned(),
        sqlite_version: rusqlite::version().to_owned(),
        sqlite: sqlite::CONFIG.to_owned(),
        dir: dir.display().to_string(),
        kept: args.dir.is_some(),
        extras: extras.is_some(),
        recovery_events: args.recovery_events,
    };
    let mut report = Report {
        settings,
        runs,
        svg: None,
        replay: None,
        validate: None,
        time_travel: None,
        recovery: None,
        memory: None,
    };
    if let Some(x) = extras {
        report.replay = Some(x.replay);
        report.validate = Some(x.validate);
        report.time_travel = Some(x.killed.time_travel);
        report.recovery = Some(x.killed.recovery);
        report.memory = Some(x.killed.memory);
    }
    if let Some(path) = &args.svg {
        let title = format!(
            "wfstore bench: {} frames of {} events{}",
            cfg.frames,
            cfg.events_per_frame,
            if cfg.paced { " at 60 Hz" } else { ", unpaced" }
        );
        plot::write(path, &title, &report.runs)?;
        report.svg = Some(path.display().to_string());
    }
    if json {
        output::json(&report)?;
    } else {
        report::print_human(&report)?;
    }
    Ok(Exit::Ok)
}

/// The figures beyond the frames.
struct Extras {
    replay: figures::Replay,
    validate: figures::Validate,
    killed: figures::Killed,
}

/// Replays and validates the `Periodic` run's store (`periodic`, closed), then has a writer
/// child fill a store of its own and kills it.
fn extras(dir: &Path, periodic: &Path, name: &str, cfg: &Config, args: &Args) -> anyhow::Result<Extras> {
    let busy = output::busy("replay and validate");
    let replay = figures::replay(periodic, name).context("the replay figure")?;
    let validate = figures::validate(periodic, name).context("the validate figure")?;
    busy.finish_and_clear();
    let killed = figures::killed(&dir.join("wfstore-recovery"), args.recovery_events, cfg.events_per_frame)
        .context("the recovery run")?;
    Ok(Extras { replay, validate, killed })
}

/// A `--dir` must be missing or empty: the bench creates fresh stores in it.
fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        if entries.next().is_some() {
            bail!("{} is not empty: the bench needs a missing or empty directory", dir.display());
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// `Periodic(100 ms)` → `periodic-100-ms`: a policy's name as a directory name.
fn dir_name(policy: &str) -> String {
    let lower = policy.to_ascii_lowercase();
    let parts: Vec<&str> =
        lower.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()).collect();
    parts.join("-")
}
