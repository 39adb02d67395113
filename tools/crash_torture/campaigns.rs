//! `--campaign`: the fault-simulation campaigns of `src/faultsim/` (the ones the test suite
//! samples) run for as long as asked, and `--replay`: the oracle rerun on a saved failure.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use wfstore::faultsim::campaign::{self, Failure, Plan, Report};

/// Which campaign to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Campaign {
    /// Crash states a power loss could leave, during workloads under every durability policy.
    PowerLoss,
    /// Bit flips, zeroed or copied blocks, truncations, stale copies and lost files.
    Media,
    /// EIO or ENOSPC at the Nth operation of each class, once or forever.
    IoErrors,
    /// Power loss during `repair` and `migrate`.
    Maintenance,
    /// Each of the above in turn, for the given time each.
    All,
}

/// Runs `which` for `seconds` (each, for `All`) from `seed`, in `dir` or a scratch directory
/// (in memory where there is one); true when no case failed.
pub fn run(which: Campaign, seconds: u64, seed: u64, dir: Option<&Path>, v1: &Path) -> anyhow::Result<bool> {
    let scratch = scratch(dir)?;
    let all = [Campaign::PowerLoss, Campaign::Media, Campaign::IoErrors, Campaign::Maintenance];
    let chosen = if which == Campaign::All { &all[..] } else { std::slice::from_ref(&which) };
    for &c in chosen {
        let plan = Plan {
            seed,
            cases: u64::MAX,
            time: Duration::from_secs(seconds),
            scratch: scratch.path().to_owned(),
        };
        println!("wfstore-torture: campaign {c:?}, seed {seed}, {seconds} s");
        match one(c, &plan, v1) {
            Ok(report) => println!("  {report}\n  {:.1} ms per case", per_case_ms(&report)),
            Err(failure) => {
                let kept = scratch.keep();
                println!("  FAILED: {failure}\n  (scratch kept in {})", kept.display());
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn one(c: Campaign, plan: &Plan, v1: &Path) -> Result<Report, Box<Failure>> {
    match c {
        Campaign::PowerLoss => campaign::power_loss(plan),
        Campaign::Media => campaign::media(plan),
        Campaign::IoErrors => campaign::io_errors(plan),
        Campaign::Maintenance | Campaign::All => campaign::power_loss_maintenance(plan, Some(v1)),
    }
}

fn per_case_ms(r: &Report) -> f64 {
    r.elapsed.as_secs_f64() * 1e3 / r.cases.max(1) as f64
}

/// A scratch directory: in `dir` if given, else in /dev/shm when it exists (a campaign
/// writes a great deal and needs no real disk), else the system temp directory.
fn scratch(dir: Option<&Path>) -> anyhow::Result<tempfile::TempDir> {
    let builder = || {
        let mut b = tempfile::Builder::new();
        b.prefix("wfstore-campaign-");
        b
    };
    if let Some(d) = dir {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        return builder().tempdir_in(d).with_context(|| format!("a scratch directory in {}", d.display()));
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(t) = builder().tempdir_in(shm)
    {
        return Ok(t);
    }
    builder().tempdir().context("a scratch directory")
}

/// Reruns the oracle on a saved failing case (the `case.orig` directory a failure names,
/// with its `case.json` beside it); true when it now passes.
pub fn replay(case: &Path) -> anyhow::Result<bool> {
    ensure!(case.is_dir(), "{} is not a saved case directory", case.display());
    match campaign::replay_saved(case) {
        Ok(outcome) => {
            println!("wfstore-torture: replay of {}: passes ({outcome:?})", case.display());
            Ok(true)
        }
        Err(e) => {
            println!("wfstore-torture: replay of {}: FAILS: {e}", case.display());
            Ok(false)
        }
    }
}
