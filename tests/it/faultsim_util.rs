//! Running a fault campaign from a test: scratch space in memory when `/dev/shm` is there
//! (fsync is then free, so the sample fits its time budget), else the system temp
//! directory; the seed and case count overridable from the environment; a failing case's
//! scratch directory kept for `wfstore-torture --replay`.

use wfstore::faultsim::campaign::{Failure, Plan, Report};

pub fn scratch() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let in_memory =
        shm.is_dir().then(|| tempfile::Builder::new().prefix("wfstore-faultsim-").tempdir_in(shm));
    match in_memory {
        Some(Ok(d)) => d,
        _ => tempfile::tempdir().unwrap(),
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Runs `campaign` from seed `$<prefix>_SEED` (default `seed`) for `$<prefix>_CASES`
/// cases (default `cases`); panics with the failure (its scratch kept) or when fewer cases
/// ran than asked.
pub fn run_campaign(
    prefix: &str,
    seed: u64,
    cases: u64,
    campaign: impl FnOnce(&Plan) -> Result<Report, Box<Failure>>,
) -> Report {
    let dir = scratch();
    let plan = Plan {
        seed: env(&format!("{prefix}_SEED"), seed),
        cases: env(&format!("{prefix}_CASES"), cases),
        time: std::time::Duration::from_secs(600),
        scratch: dir.path().to_owned(),
    };
    let report = campaign(&plan).unwrap_or_else(|f| {
        let _ = dir.keep();
        panic!("{f}")
    });
    assert!(report.cases >= plan.cases, "{report}");
    report
}
