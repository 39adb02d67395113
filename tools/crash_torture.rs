//! `wfstore-torture`: the crash-torture driver. Child processes of this binary do the work
//! that must survive `kill -9`; the parent kills them with SIGKILL at random moments and
//! checks what is left. Four phases:
//!
//! - **writer**: a child appends small batches with `Durability::Always` (snapshots on) and
//!   acknowledges each seq on stdout, while reader threads beside it open the store
//!   read-only again and again and check every event and the prefix they see. After each
//!   kill the store is reopened: every acknowledged event is there, intact, as a hole-free
//!   prefix; a seq never changes its event; a second open changes nothing; verify is clean.
//! - **snapshot**: the same, with a child that appends and takes `Store::snapshot_now` in a
//!   loop (`snapshot create`); the recovered state must equal a full replay after each kill.
//! - **repair**: a store damaged in the middle of a sealed segment is repaired by a child
//!   (`repair::repair`) that is killed and rerun until it completes; every interrupted state
//!   must be the damaged store or the repaired one, and the result verifies clean and holds
//!   exactly the events before the damage.
//! - **migrate**: a copy of the version-1 fixture is migrated by a child (`migrate::migrate`)
//!   that is killed and rerun until it completes; while interrupted, every open must refuse
//!   with "a migration ... was interrupted"; the result is format 2, verifies clean and
//!   holds the fixture's events exactly.
//!
//! With `--campaign`, the driver instead runs the fault-simulation campaigns of
//! `src/faultsim/` (power loss, media faults, I/O errors, power loss during maintenance) for
//! `--seconds` each, printing cases per second; a failing case is saved and
//! `--replay DIR` reruns the oracle on it.
//!
//! Each phase prints its kills, acknowledged loss, seq reuse and false corruption reports
//! (all must be 0) and any other failure; the exit status is 0 only if every phase is clean.
//! Event bodies are a pure function of seed, round and seq, so a seq that comes back with
//! another round's event is seen. The seed is printed so a run can be replayed.
//!
//! ```text
//! wfstore-torture [--iterations N] [--snapshot-kills N] [--repair-kills N]
//!                 [--migrate-kills N] [--readers N] [--seed S] [--dir DIR] [--max-run-ms MS]
//! wfstore-torture --campaign power-loss|media|io-errors|maintenance|all [--seconds N] [--seed S]
//! wfstore-torture --replay DIR
//! ```

#[path = "crash_torture/campaigns.rs"]
mod campaigns;
#[path = "crash_torture/child.rs"]
mod child;
#[path = "crash_torture/kill.rs"]
mod kill;
#[path = "crash_torture/ledger.rs"]
mod ledger;
#[path = "crash_torture/log_phases.rs"]
mod log_phases;
#[path = "crash_torture/migrate.rs"]
mod migrate;
#[path = "crash_torture/readers.rs"]
mod readers;
#[path = "crash_torture/repair.rs"]
mod repair;
#[path = "crash_torture/restartable.rs"]
mod restartable;
#[path = "crash_torture/tally.rs"]
mod tally;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, ensure};
use clap::Parser;

use self::kill::Role;
use self::tally::Tally;

/// Kill writers, snapshots, repairs and migrations at random moments; check what survives.
#[derive(Debug, Parser)]
#[command(name = "wfstore-torture", version)]
struct Args {
    /// Kills of the appending writer (the writer phase).
    #[arg(long, default_value_t = 200)]
    iterations: u64,
    /// Kills of a child taking snapshots (`snapshot create`) between appends.
    #[arg(long, default_value_t = 50)]
    snapshot_kills: u64,
    /// Kills of `repair` on damaged stores.
    #[arg(long, default_value_t = 50)]
    repair_kills: u64,
    /// Kills of `migrate` on copies of the version-1 fixture.
    #[arg(long, default_value_t = 50)]
    migrate_kills: u64,
    /// Reader threads beside the writer.
    #[arg(long, default_value_t = 2)]
    readers: usize,
    /// Seed of the kill timings and of the event bodies.
    #[arg(long)]
    seed: Option<u64>,
    /// Work directory (must not exist); a temporary one by default. With `--campaign`, the
    /// directory the scratch directory is made in (default: /dev/shm, else the temp directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Longest a writer runs before it is killed, ms.
    #[arg(long, default_value_t = 40)]
    max_run_ms: u64,
    /// The version-1 store the migrate phase copies.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/store-v1/store"))]
    fixture: PathBuf,
    /// Run this fault-simulation campaign instead of the kill phases.
    #[arg(long, value_enum)]
    campaign: Option<campaigns::Campaign>,
    /// How long the campaign runs (each, with `all`), seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Rerun the oracle on a case a campaign saved (the directory its failure names).
    #[arg(long, conflicts_with = "campaign")]
    replay: Option<PathBuf>,
    /// Run as a child in this role (internal).
    #[arg(long, value_enum, hide = true)]
    child: Option<Role>,
    /// The child's store directory (internal).
    #[arg(long, hide = true)]
    child_dir: Option<PathBuf>,
    /// The child's round: its events are this round's (internal).
    #[arg(long, hide = true, default_value_t = 0)]
    round: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = match (args.child, &args.child_dir) {
        (Some(role), Some(dir)) => child::run(role, dir, args.seed.unwrap_or(0), args.round),
        (Some(_), None) => Err(anyhow::anyhow!("--child needs --child-dir")),
        (None, _) => match (args.campaign, &args.replay) {
            (_, Some(case)) => campaigns::replay(case),
            (Some(c), None) => {
                let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
                campaigns::run(c, args.seconds, seed, args.dir.as_deref(), &args.fixture)
            }
            (None, None) => torture(&args),
        },
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("wfstore-torture: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every phase; true when all are clean.
fn torture(args: &Args) -> anyhow::Result<bool> {
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    println!(
        "wfstore-torture: seed {seed}, {} iterations, {} snapshot kills, {} repair kills, {} migrate kills",
        args.iterations, args.snapshot_kills, args.repair_kills, args.migrate_kills
    );
    let temp = tempfile::tempdir()?;
    let work = match &args.dir {
        Some(d) => {
            ensure!(!d.exists(), "{} exists", d.display());
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d.clone()
        }
        None => temp.path().to_owned(),
    };
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut tallies = Vec::new();
    let log = log_phases::LogPhases::new(&work.join("store"), seed, args.readers, args.max_run_ms)?;
    let mut log = log;
    tallies.push(("writer", phase(|t| log.writer(args.iterations, &mut rng, t))));
    tallies.push(("snapshot", phase(|t| log.snapshot(args.snapshot_kills, &mut rng, t))));
    tallies.push(("repair", phase(|t| repair::phase(&work, seed, args.repair_kills, &mut rng, t))));
    tallies
        .push(("migrate", phase(|t| migrate::phase(&work, &args.fixture, args.migrate_kills, &mut rng, t))));
    report(seed, &tallies, &work, args.dir.is_some())
}

/// Runs one phase into a new tally; an error ends the phase and is recorded as a failure.
fn phase(run: impl FnOnce(&mut Tally) -> anyhow::Result<()>) -> Tally {
    let mut tally = Tally::default();
    if let Err(e) = run(&mut tally) {
        tally.other(format!("phase ended early: {e:#}"));
    }
    tally
}

/// Prints every phase's line and the verdict; true when every phase is clean.
fn report(seed: u64, tallies: &[(&str, Tally)], work: &Path, kept: bool) -> anyhow::Result<bool> {
    for (name, t) in tallies {
        println!("{}", t.line(name));
        for (f, n) in t.failures() {
            println!("  ! ({n}x) {f}");
        }
    }
    let kills: u64 = tallies.iter().map(|(_, t)| t.kills).sum();
    if tallies.iter().all(|(_, t)| t.is_clean()) {
        println!(
            "wfstore-torture: {kills} kills, zero acknowledged loss, zero seq reuse, zero false corruption reports"
        );
        return Ok(true);
    }
    let kept = if kept { format!("; the stores are in {}", work.display()) } else { String::new() };
    println!("wfstore-torture: FAILED after {kills} kills (seed {seed}){kept}");
    Ok(false)
}
