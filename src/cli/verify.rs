//! `wfstore verify`: the library's read-only check, printed with each problem's location.

use std::path::Path;

use anyhow::Context as _;

use super::output::{self, Exit};

/// Verifies the store; exits 3 when the report lists any problem.
pub fn run(dir: &Path, json: bool) -> anyhow::Result<Exit> {
    let report =
        wfstore::verify::verify(dir).with_context(|| format!("verifying store {}", dir.display()))?;
    if json {
        output::json(&report)?;
    } else {
        output::line(&format!(
            "{}: {} segments, {} records, last seq {}",
            dir.display(),
            report.segments,
            report.records,
            report.last_seq
        ))?;
        for note in &report.notes {
            output::line(&format!("note: {note}"))?;
        }
        for p in &report.problems {
            let seq = p.seq.map(|s| format!(" (seq {s})")).unwrap_or_default();
            output::line(&format!("problem: {} at offset {}{seq}: {}", p.path.display(), p.offset, p.what))?;
        }
    }
    if report.is_clean() {
        if !json {
            output::line("ok: no problems found")?;
        }
        return Ok(Exit::Ok);
    }
    eprintln!(
        "wfstore: error: verification failed: {} problem(s) in {}",
        report.problems.len(),
        dir.display()
    );
    Ok(Exit::Corrupt)
}
