//! Online backup and restore (formats/backup.md).
//!
//! - `plan`: what a backup holds — its seq (one durable seq), the files and byte ranges to
//!   copy, the `STORE` copy rewritten for that seq — chosen under the lifecycle lock.
//! - `manifest`: the `MANIFEST` file format and its hostile decoder.
//! - `copy`: hashing copies, hard links and the re-read that checks what was written.
//! - `dir`: the directory format: staging, reuse of unchanged files, the commit, `--keep`
//!   rotation of dated backups.
//! - `tar`: the `.tar` / `.tar.zst` format: one file, written and re-read.
//! - `restore`: into a new or empty directory through a staging directory, optionally cut at
//!   a seq; checked with `verify` and `validate` before it is renamed into place.

pub(crate) mod copy;
mod dir;
pub mod manifest;
pub(crate) mod plan;
mod restore;
mod tar;

use std::path::{Path, PathBuf};

use crate::audit::{self, Action, AuditRecord};
use crate::error::Result;
use crate::store::Store;
pub use restore::{RestoreOptions, RestoreReport, restore};

/// How a backup is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupFormat {
    /// A directory that is itself a store (plus `MANIFEST`): opens with `Store::open`.
    /// Into an existing backup, only what changed is copied.
    #[default]
    Dir,
    /// One `.tar` file (zstd-compressed when its name ends `.tar.zst`), for moving elsewhere.
    Tar,
}

/// Progress of long work: told the total of a phase, then how many bytes were done.
pub trait Progress: Sync {
    /// A phase starts (`"copy"`, `"verify"`), with its total bytes.
    fn phase(&self, name: &'static str, total: u64);
    /// `bytes` more were done.
    fn advance(&self, bytes: u64);
}

/// Options of a backup.
#[derive(Clone, Copy, Default)]
pub struct BackupOptions<'a> {
    /// Directory or tar.
    pub format: BackupFormat,
    /// Rotate dated backups inside the destination, keeping the newest `keep`
    /// (`DEST/wfstore-YYYYMMDDTHHMMSSZ-seqN/`, or `….tar.zst` files for tar).
    pub keep: Option<usize>,
    /// Told how the work goes (the CLI's progress bar).
    pub progress: Option<&'a dyn Progress>,
}

/// What a backup wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct BackupReport {
    /// The backup: a directory, or a tar file.
    pub path: PathBuf,
    /// `dir`, `tar` or `tar.zst`.
    pub format: String,
    /// The seq the backup is consistent as of: every event up to it, nothing after.
    pub seq: u64,
    /// The first seq it holds.
    pub log_start: u64,
    /// The store's id, in hex.
    pub store_id: String,
    /// Files in the backup (with `MANIFEST`'s entries, not `MANIFEST` itself).
    pub files: usize,
    /// Files written anew.
    pub files_copied: usize,
    /// Files reused from the previous backup (unchanged by checksum).
    pub files_reused: usize,
    /// Bytes of all files listed.
    pub bytes: u64,
    /// Bytes written anew.
    pub bytes_copied: u64,
    /// Bytes reused.
    pub bytes_reused: u64,
    /// Every file was read back and matched the manifest.
    pub verified: bool,
    /// An `AUDIT` record was appended to the source store (not from a read-only handle).
    pub audited: bool,
    /// Older dated backups removed by `keep`.
    pub rotated_out: Vec<PathBuf>,
    /// Things worth knowing (a read-only handle's skipped audit record, ...).
    pub notes: Vec<String>,
    /// Milliseconds taken.
    pub elapsed_ms: u64,
}

impl Store {
    /// Backs the store up into `dest` as a directory (see `backup_with`).
    pub fn backup_to(&self, dest: impl AsRef<Path>) -> Result<BackupReport> {
        self.backup_with(dest.as_ref(), &BackupOptions::default())
    }

    /// Backs the store up while it keeps appending: the backup is a consistent store as of
    /// one durable seq (a writer flushes first and takes its durable seq; a read-only
    /// handle takes the smaller of what it sees and `STORE`'s high-water mark). Sealed
    /// data is copied under the lifecycle lock, so no purge or retention of this handle
    /// rewrites it meanwhile. Every file written is read back and checked against the
    /// manifest before this returns. A writer appends an `AUDIT` record to the store.
    pub fn backup_with(&self, dest: &Path, opts: &BackupOptions<'_>) -> Result<BackupReport> {
        let started = std::time::Instant::now();
        let mut report = match opts.format {
            BackupFormat::Dir => dir::backup(self, dest, opts)?,
            BackupFormat::Tar => tar::backup(self, dest, opts)?,
        };
        if self.is_writable() {
            let mut rec = AuditRecord::new(Action::Backup, self.store_id());
            (rec.seq_first, rec.seq_last, rec.events, rec.bytes) =
                (report.log_start, report.seq, report.files_copied as u64, report.bytes_copied);
            audit::append(self.disk(), self.dir(), &rec)?;
            report.audited = true;
        } else {
            report.notes.push("read-only handle: no AUDIT record was appended to the source store".into());
        }
        report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(report)
    }

    /// Restores the backup at `src` (a backup directory, a `--keep` directory of dated
    /// backups, or a tar) into `dir`, a new or empty directory, up to `to_seq` when given.
    /// See [`restore`].
    pub fn restore(
        src: impl AsRef<Path>,
        dir: impl AsRef<Path>,
        to_seq: Option<u64>,
    ) -> Result<RestoreReport> {
        restore(src.as_ref(), dir.as_ref(), &RestoreOptions { to_seq, ..RestoreOptions::default() })
    }
}

/// Reports a phase to `progress`, if any.
pub(crate) fn phase(progress: Option<&dyn Progress>, name: &'static str, total: u64) {
    if let Some(p) = progress {
        p.phase(name, total);
    }
}

/// Reports progress, if anyone listens.
pub(crate) fn advance(progress: Option<&dyn Progress>, bytes: u64) {
    if let Some(p) = progress {
        p.advance(bytes);
    }
}
