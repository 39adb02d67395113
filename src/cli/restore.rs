//! `wfstore restore SRC DIR [--to-seq N]`: a backup into a new or empty directory, every
//! file checked against the manifest, then `verify` and `validate`; a damaged backup exits
//! 3 and leaves nothing behind. Violations of `validate` leave the (exact) copy in place,
//! with a warning and exit 3.

use std::path::PathBuf;

use anyhow::Context as _;
use wfstore::backup::{RestoreOptions, restore};

use super::backup::Bar;
use super::output::{self, Exit};

/// Options of `restore`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The backup: a backup directory, a directory of dated backups (the newest is taken),
    /// or a `.tar` / `.tar.zst` file.
    pub src: PathBuf,
    /// The new store's directory: missing or empty.
    pub dir: PathBuf,
    /// Restore the log up to seq N only (point in time). N must end a batch: a seq inside
    /// one is refused, naming the batch's bounds.
    #[arg(long, value_name = "N")]
    pub to_seq: Option<u64>,
    /// Skip `validate` (schemas, conservation) of the result; `verify` still runs.
    #[arg(long)]
    pub no_validate: bool,
}

/// Restores and prints the report.
pub fn run(json: bool, args: &Args) -> anyhow::Result<Exit> {
    let bar = Bar(output::progress(0, "restore"));
    let opts = RestoreOptions { to_seq: args.to_seq, validate: !args.no_validate, progress: Some(&bar) };
    let report = restore(&args.src, &args.dir, &opts)
        .with_context(|| format!("restoring {} into {}", args.src.display(), args.dir.display()))?;
    bar.0.finish_and_clear();
    let exit = if report.validated == Some(false) {
        eprintln!(
            "wfstore: warning: the restored store breaks {} semantic rules (first: {}); the backup held them too",
            report.violations,
            report.first_violation.as_deref().unwrap_or("?")
        );
        Exit::Corrupt
    } else {
        Exit::Ok
    };
    if json {
        output::json(&report)?;
        return Ok(exit);
    }
    output::line(&format!(
        "restored seqs {}..={} from {} into {}",
        report.log_start,
        report.seq,
        report.source.display(),
        report.dir.display()
    ))?;
    output::line(&format!(
        "{} files, {} bytes checked; verify clean{}; state hash {}",
        report.files,
        report.bytes,
        match report.validated {
            Some(true) => ", validate clean",
            _ => "",
        },
        report.state_hash
    ))?;
    if !report.cut.is_empty() {
        output::line(&format!("cut after seq {}: removed {}", report.seq, report.cut.join(", ")))?;
    }
    Ok(exit)
}
