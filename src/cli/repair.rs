//! `wfstore repair [--dry-run]`: the explicit salvage of a damaged store, then `verify`.

use std::path::Path;

use anyhow::Context as _;

use super::output::{self, Exit};

/// Options of `repair`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Report what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Repairs the store, prints what was kept, lost and quarantined, and checks the result.
pub fn run(dir: &Path, json: bool, args: &Args) -> anyhow::Result<Exit> {
    let report = wfstore::repair::repair(dir, args.dry_run)
        .with_context(|| format!("repairing store {}", dir.display()))?;
    let verified = if args.dry_run || report.nothing_to_do() {
        None
    } else {
        Some(
            wfstore::verify::verify(dir)
                .with_context(|| format!("verifying repaired store {}", dir.display()))?,
        )
    };
    if json {
        output::json(&serde_json::json!({ "repair": report, "verify": verified }))?;
    } else {
        print_human(&report)?;
    }
    match verified {
        Some(v) if !v.is_clean() => {
            eprintln!("wfstore: error: the repaired store does not verify: {:?}", v.problems);
            Ok(Exit::Corrupt)
        }
        _ => Ok(Exit::Ok),
    }
}

fn print_human(r: &wfstore::repair::RepairReport) -> anyhow::Result<()> {
    if r.nothing_to_do() {
        output::line("nothing to repair")?;
        return Ok(());
    }
    let verb = if r.dry_run { "would keep" } else { "kept" };
    if let Some(d) = &r.damage {
        output::line(&format!(
            "damage: {} at offset {} (seq {}): {}",
            d.path.display(),
            d.offset,
            d.seq,
            d.what
        ))?;
    }
    output::line(&format!("{verb} seqs up to {}", r.kept_through))?;
    if let Some(lost) = &r.lost {
        output::line(&format!(
            "lost: seqs {}..={} (the store's evidence says they were durable)",
            lost.start(),
            lost.end()
        ))?;
    }
    for f in &r.valid_beyond {
        let (a, b) = (f.seqs.start(), f.seqs.end());
        output::line(&format!(
            "valid beyond the damage: {} frames, seqs {a}..={b}, in {}",
            f.frames,
            f.path.display()
        ))?;
    }
    if let Some(q) = &r.quarantine {
        let verb = if r.dry_run { "would move" } else { "moved" };
        output::line(&format!("{verb} {} files to {}", r.quarantined.len(), q.display()))?;
    }
    for (p, why) in &r.removed_snapshots {
        output::line(&format!("snapshot {}: {why}", p.display()))?;
    }
    Ok(())
}
