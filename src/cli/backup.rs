//! `wfstore backup DEST [--format dir|tar] [--keep N]`: an online backup, consistent as of
//! one durable seq, checked before it reports success. Opens the store for writing when it
//! can (and records the backup in `AUDIT`); beside another process's writer, read-only.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use wfstore::backup::{BackupFormat, BackupOptions, Progress};
use wfstore::{Error, OpenOptions, Store};

use super::output::{self, Exit};

/// Options of `backup`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where: a backup directory (created, or updated incrementally), a `.tar` or
    /// `.tar.zst` file, or with `--keep` a directory of dated backups.
    pub dest: PathBuf,
    /// `dir` (a store you can open) or `tar` (one file; zstd when the name ends `.zst`).
    #[arg(long, value_enum, default_value = "dir")]
    pub format: Format,
    /// Keep dated backups in DEST (`wfstore-YYYYMMDDTHHMMSSZ-seqN`), the newest N; a new
    /// directory backup reuses the unchanged files of the newest one.
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
}

/// The formats `--format` takes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// A directory.
    Dir,
    /// A tar file.
    Tar,
}

/// An indicatif bar as the library's progress.
pub struct Bar(pub indicatif::ProgressBar);

impl Progress for Bar {
    fn phase(&self, name: &'static str, total: u64) {
        self.0.set_length(total);
        self.0.set_position(0);
        self.0.set_message(name);
    }

    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}

/// Opens (writable, else read-only beside a live writer), backs up, prints the report.
pub fn run(dir: &Path, json: bool, args: &Args) -> anyhow::Result<Exit> {
    let opts = OpenOptions { snapshots: None, ..OpenOptions::default() };
    let store = match Store::open(dir, &opts) {
        Err(Error::Locked { .. }) => output::open_read_only(dir)?,
        other => other.with_context(|| format!("opening store {}", dir.display()))?,
    };
    output::recovery_warnings(&store);
    let bar = Bar(output::progress(0, "backup"));
    let format = match args.format {
        Format::Dir => BackupFormat::Dir,
        Format::Tar => BackupFormat::Tar,
    };
    let bopts = BackupOptions { format, keep: args.keep, progress: Some(&bar) };
    let report = store
        .backup_with(&args.dest, &bopts)
        .with_context(|| format!("backing up store {} into {}", dir.display(), args.dest.display()))?;
    bar.0.finish_and_clear();
    store.close().with_context(|| format!("closing store {}", dir.display()))?;
    if json {
        output::json(&report)?;
        return Ok(Exit::Ok);
    }
    output::line(&format!(
        "backup of seq {} written to {} ({})",
        report.seq,
        report.path.display(),
        report.format
    ))?;
    output::line(&format!(
        "{} files, {} bytes: {} bytes copied, {} reused; verified",
        report.files, report.bytes, report.bytes_copied, report.bytes_reused
    ))?;
    for p in &report.rotated_out {
        output::line(&format!("removed old backup {}", p.display()))?;
    }
    for n in &report.notes {
        output::line(&format!("note: {n}"))?;
    }
    Ok(Exit::Ok)
}
