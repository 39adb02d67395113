//! The shape of the `repair` and `migrate` phases: a one-shot job that a child runs on a
//! copy of a source store, killed at random moments within the time a whole run takes and
//! rerun until it completes, each interrupted state and the result checked.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::kill::{self, Role};
use crate::tally::Tally;

/// Kills of one copy's job before it is let run to its end.
const KILLS_PER_STORE: u64 = 8;

/// A restartable job and what its states must be.
pub trait Job {
    /// `repair` or `migrate`: names the copies and the messages.
    const NAME: &'static str;
    /// The child's role.
    const ROLE: Role;
    /// The store each run starts from (copied).
    fn source(&self) -> &Path;
    /// The child's seed and round.
    fn child_args(&self) -> (u64, u32);
    /// Checks a store the job finished.
    fn check_done(&self, dir: &Path, tally: &mut Tally) -> anyhow::Result<()>;
    /// Checks a store a kill interrupted (problems go into the tally).
    fn check_interrupted(&self, dir: &Path, tally: &mut Tally);
}

/// Runs `job` on fresh copies until `kills` kills are done; returns the copies used and the
/// time of a whole run.
pub fn phase<J: Job>(
    job: &J,
    work: &Path,
    kills: u64,
    rng: &mut fastrand::Rng,
    tally: &mut Tally,
) -> anyhow::Result<(u64, Duration)> {
    let span = calibrate(job, work, tally)?;
    let mut copies = 0;
    while tally.kills < kills {
        copies += 1;
        let dir = work.join(format!("{}-{copies}", J::NAME));
        copy_dir(job.source(), &dir)?;
        with_kills(job, &dir, span, rng, tally).with_context(|| format!("copy {copies}"))?;
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok((copies, span))
}

/// Times whole runs on `CALIBRATION_RUNS` copies, checking each result; returns the
/// shortest, so that kill moments drawn within it land inside a run.
fn calibrate<J: Job>(job: &J, work: &Path, tally: &mut Tally) -> anyhow::Result<Duration> {
    let (seed, round) = job.child_args();
    let mut shortest = Duration::MAX;
    for run in 1..=kill::CALIBRATION_RUNS {
        let dir = work.join(format!("{}-whole-{run}", J::NAME));
        copy_dir(job.source(), &dir)?;
        let started = Instant::now();
        let ended = kill::run_to_end(kill::child(J::ROLE, &dir, seed, round)?)?;
        shortest = shortest.min(started.elapsed());
        if let Some(f) = ended.failure() {
            bail!("a {} run to its end failed: {f}", J::NAME);
        }
        job.check_done(&dir, tally)?;
    }
    Ok(shortest)
}

/// Runs the job on `dir`, killing it at random moments within `span`, until it completes;
/// checks the store after each kill and at the end.
fn with_kills<J: Job>(
    job: &J,
    dir: &Path,
    span: Duration,
    rng: &mut fastrand::Rng,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let (seed, round) = job.child_args();
    for attempt in 1.. {
        let after =
            if attempt <= KILLS_PER_STORE { kill::moment(rng, span) } else { Duration::from_secs(3600) };
        let ended = kill::run_killed_after(kill::child(J::ROLE, dir, seed, round)?, after)?;
        if let Some(f) = ended.failure() {
            tally.other(format!("{} (attempt {attempt}): {f}", J::NAME));
            return Ok(());
        }
        if !ended.killed {
            return job.check_done(dir, tally);
        }
        tally.kills += 1;
        job.check_interrupted(dir, tally);
    }
    Ok(())
}

/// Copies a store directory (its files and its subdirectories).
pub fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target).with_context(|| format!("copying {}", e.path().display()))?;
        }
    }
    Ok(())
}
