//! `wfstore validate`: the library's semantic checks (schemas, conservation, order,
//! snapshots = replay), printed with each violation's seq and rule.

use std::path::Path;

use anyhow::Context as _;

use super::output::{self, Exit};

/// Violations printed in the human form; `--json` prints every one the report kept.
const SHOWN: usize = 20;

/// Validates the store read-only; exits 3 when any rule is broken.
pub fn run(dir: &Path, json: bool) -> anyhow::Result<Exit> {
    let store = output::open_read_only(dir)?;
    let report =
        wfstore::validate::validate(&store).with_context(|| format!("validating store {}", dir.display()))?;
    if json {
        output::json(&report)?;
    } else {
        output::line(&format!(
            "{}: {} events, {} sessions, {} snapshots checked",
            dir.display(),
            report.events,
            report.sessions,
            report.snapshots
        ))?;
        for v in report.violations.iter().take(SHOWN) {
            output::line(&format!("violation: seq {} [{}] {}", v.seq, v.rule, v.what))?;
        }
        let shown = report.violations.len().min(SHOWN) as u64;
        if report.violation_count > shown {
            output::line(&format!("... and {} more", report.violation_count - shown))?;
        }
        if report.is_valid() {
            output::line("ok: every rule holds")?;
        }
    }
    if report.is_valid() {
        return Ok(Exit::Ok);
    }
    eprintln!(
        "wfstore: error: validation failed: {} violation(s) in {}",
        report.violation_count,
        dir.display()
    );
    Ok(Exit::Corrupt)
}
