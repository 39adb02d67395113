//! Restore: a backup (directory, `--keep` root, or tar) into a new or empty directory. The
//! files are copied into a staging directory beside the target while each is checked
//! against the manifest; a point-in-time restore then cuts the log after the asked seq
//! (which must end a batch); a writable open recovers the copy (it must find no loss), a
//! restore record is appended to its `AUDIT`, and `verify` must find no problem; only then
//! is the staging directory renamed to the target. Any failure removes the staging
//! directory: nothing is left half restored. `validate` runs last: its violations are
//! reported (they were in the source too), not a reason to refuse an exact copy.

use std::path::{Path, PathBuf};

use super::copy::{self, check_found, copy_file};
use super::dir::{dated, read_manifest};
use super::manifest::{MANIFEST_FILE, Manifest};
use super::{Progress, phase};
use crate::audit::{self, Action, AuditRecord};
use crate::disk::Disk;
use crate::error::{Error, Result};
use crate::meta::{Marks, STORE_FILE, StoreFile};
use crate::segment::{INDEX_EXT, SEGMENT_EXT, file_name};
use crate::snapshot::{self, SNAPSHOT_DIR};
use crate::store::{OpenOptions, Store};

/// Options of a restore.
#[derive(Clone, Copy)]
pub struct RestoreOptions<'a> {
    /// Restore the log up to this seq only (it must end a batch); `None`: all of it.
    pub to_seq: Option<u64>,
    /// Run `validate` on the result; `verify` always runs.
    pub validate: bool,
    /// Told how the work goes.
    pub progress: Option<&'a dyn Progress>,
}

impl Default for RestoreOptions<'_> {
    fn default() -> Self {
        RestoreOptions { to_seq: None, validate: true, progress: None }
    }
}

/// What a restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RestoreReport {
    /// The backup restored (for a `--keep` root, the dated backup chosen).
    pub source: PathBuf,
    /// The new store.
    pub dir: PathBuf,
    /// The backup's seq.
    pub backup_seq: u64,
    /// The restored log's last seq (`to_seq` when given).
    pub seq: u64,
    /// Its first seq.
    pub log_start: u64,
    /// Seqs restored (`seq - log_start + 1`; purged events keep their seqs).
    pub events: u64,
    /// Files restored and checked against the manifest.
    pub files: usize,
    /// Bytes of them.
    pub bytes: u64,
    /// Files removed by the cut at `to_seq` (later segments, indexes, snapshots).
    pub cut: Vec<String>,
    /// `verify` found no problem.
    pub verified: bool,
    /// `validate` found no violation (`None`: not run).
    pub validated: Option<bool>,
    /// Violations `validate` found (the source held them too: the copy is exact).
    pub violations: u64,
    /// The first of them.
    pub first_violation: Option<String>,
    /// The restored state's hash (hex).
    pub state_hash: String,
}

/// Restores the backup at `src` into `dir` (see the module).
pub fn restore(src: &Path, dir: &Path, opts: &RestoreOptions<'_>) -> Result<RestoreReport> {
    let disk = Disk::default();
    check_target(dir)?;
    let source = resolve(src)?;
    let staging = staging_of(dir)?;
    if staging.exists() {
        // Ours by name: a restore interrupted before its rename.
        disk.remove_tree(&staging)?;
    }
    let done = restore_into(&disk, &source, &staging, opts);
    let mut report = match done {
        Ok(r) => r,
        Err(e) => {
            if staging.exists() {
                let _ = disk.remove_tree(&staging);
            }
            return Err(e);
        }
    };
    // A rename replaces an empty directory.
    if let Err(e) = disk.rename(&staging, dir) {
        let _ = disk.remove_tree(&staging);
        return Err(e);
    }
    disk.sync_dir(crate::disk::parent(&staging))?;
    report.source = source.path().to_owned();
    report.dir = dir.to_owned();
    Ok(report)
}

/// The target must be missing or an empty directory: never a store, never anything else.
fn check_target(dir: &Path) -> Result<()> {
    let refuse = |why: &str| Err(Error::RestoreTarget { path: dir.to_owned(), why: why.into() });
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("stat", dir, e)),
        Ok(m) if !m.is_dir() => refuse("not a directory"),
        Ok(_) if dir.join(STORE_FILE).exists() => refuse("it is a store; a restore never overwrites one"),
        Ok(_) => match std::fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))?.next() {
            None => Ok(()),
            Some(_) => refuse("not empty; restore into a new or empty directory"),
        },
    }
}

/// A backup to read.
enum Source {
    Dir(PathBuf),
    Tar(PathBuf),
}

impl Source {
    fn path(&self) -> &Path {
        match self {
            Source::Dir(p) | Source::Tar(p) => p,
        }
    }
}

/// A file is a tar; a directory with `MANIFEST` a backup; a `--keep` root its newest dated
/// backup. A directory that holds segments without a manifest is a damaged backup.
fn resolve(src: &Path) -> Result<Source> {
    let not = |why: &str| Err(Error::NotABackup { path: src.to_owned(), why: why.into() });
    let meta = match std::fs::metadata(src) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return not("no such file or directory"),
        Err(e) => return Err(Error::io("stat", src, e)),
    };
    if meta.is_file() {
        return Ok(Source::Tar(src.to_owned()));
    }
    if src.join(MANIFEST_FILE).exists() {
        return Ok(Source::Dir(src.to_owned()));
    }
    if src.join(STORE_FILE).exists() {
        if src.join(crate::store::LOCK_FILE).exists() {
            return not("it is a store (LOCK, no MANIFEST): back it up first");
        }
        return Err(Error::corrupt(
            src.join(MANIFEST_FILE),
            0,
            None,
            "missing: a backup without its manifest",
        ));
    }
    let newest_dir = dated(src, false).pop();
    let newest_tar = dated(src, true).pop();
    let key = |p: &PathBuf| p.file_name().map(|n| n.to_string_lossy().replace(super::dir::TAR_ZST, ""));
    match (newest_dir, newest_tar) {
        (Some(d), Some(t)) if key(&t) > key(&d) => Ok(Source::Tar(t)),
        (Some(d), _) => Ok(Source::Dir(d)),
        (None, Some(t)) => Ok(Source::Tar(t)),
        (None, None) => not("no MANIFEST, and no dated backups (wfstore-*) inside"),
    }
}

/// `.NAME.tmp-restore` beside `dir`.
fn staging_of(dir: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(dir).map_err(|e| Error::io("resolve", dir, e))?;
    let (Some(parent), Some(name)) = (abs.parent(), abs.file_name()) else {
        return Err(Error::RestoreTarget { path: dir.to_owned(), why: "has no parent directory".into() });
    };
    if !parent.is_dir() {
        return Err(Error::RestoreTarget {
            path: dir.to_owned(),
            why: "its parent directory does not exist".into(),
        });
    }
    Ok(parent.join(format!(".{}.tmp-restore", name.to_string_lossy())))
}

fn restore_into(
    disk: &Disk,
    source: &Source,
    staging: &Path,
    opts: &RestoreOptions<'_>,
) -> Result<RestoreReport> {
    disk.create_dir(staging)?;
    let manifest = match source {
        Source::Dir(d) => copy_dir(disk, d, staging, opts.progress)?,
        Source::Tar(t) => {
            phase(opts.progress, "restore", std::fs::metadata(t).map_or(0, |m| m.len()));
            let (m, found) = super::tar::read(disk, t, Some(staging), opts.progress)?;
            check_found(&found, &m, t)?;
            m
        }
    };
    if staging.join(SNAPSHOT_DIR).exists() {
        disk.sync_dir(&staging.join(SNAPSHOT_DIR))?;
    }
    disk.sync_dir(staging)?;
    let mut report = RestoreReport {
        backup_seq: manifest.seq,
        seq: manifest.seq,
        log_start: manifest.log_start,
        files: manifest.entries.len(),
        bytes: manifest.total_bytes(),
        ..RestoreReport::default()
    };
    if let Some(n) = opts.to_seq.filter(|&n| n != manifest.seq) {
        report.cut = cut(disk, staging, &manifest, n)?;
        report.seq = n;
    }
    report.events = (report.seq + 1).saturating_sub(report.log_start);
    check(disk, staging, &mut report, opts)?;
    Ok(report)
}

/// Copies every file the manifest lists from `src` into `staging`, checking each.
fn copy_dir(disk: &Disk, src: &Path, staging: &Path, progress: Option<&dyn Progress>) -> Result<Manifest> {
    let manifest = read_manifest(disk, src)?;
    phase(progress, "restore", manifest.total_bytes());
    if manifest.entries.iter().any(|e| e.name.starts_with(SNAPSHOT_DIR)) {
        disk.create_dir(&staging.join(SNAPSHOT_DIR))?;
    }
    for e in &manifest.entries {
        let from = src.join(&e.name);
        let len = copy::file_len(&from)?;
        if len != e.size {
            return Err(copy::size_mismatch(&from, len, e.size));
        }
        let got = copy_file(disk, &from, len, Some(&staging.join(&e.name)), progress)?;
        if got != e.sha256 {
            return Err(copy::hash_mismatch(&from, &got, &e.sha256));
        }
    }
    Ok(manifest)
}

/// Point in time: keeps the log up to `n`, which must end a batch; returns what it removed.
fn cut(disk: &Disk, staging: &Path, manifest: &Manifest, n: u64) -> Result<Vec<String>> {
    if n > manifest.seq {
        return Err(Error::InvalidOption(format!("--to-seq {n} is past the backup's seq {}", manifest.seq)));
    }
    let log_start = manifest.log_start;
    let snapshots = snapshot::list(staging)?;
    if n + 1 < log_start || (log_start > 1 && !snapshots.iter().any(|s| s.seq >= log_start && s.seq <= n)) {
        // After retention a state needs a snapshot inside the log at or before `n`.
        let first = snapshots.iter().map(|s| s.seq).find(|&s| s >= log_start).unwrap_or(log_start);
        return Err(Error::BeforeLogStart { seq: n, first });
    }
    let store = Store::open(staging, &OpenOptions::read_only())?;
    let segments = store.segments();
    let (seg_no, end) = match store.locate(&segments, n)? {
        Some(p) if p.continues => {
            let first = n - u64::from(p.position);
            let last = super::plan::batch_end(&store, &segments, n)?;
            return Err(Error::MidBatch { seq: n, first, last });
        }
        Some(p) => (segments[p.segment].no(), (p.at + p.len) as u64),
        None => (segments.first().map_or(1, |s| s.no()), crate::segment::header::HEADER_BYTES as u64),
    };
    let later: Vec<u64> = segments.iter().map(|s| s.no()).filter(|&no| no > seg_no).collect();
    let file = StoreFile::load(disk, staging)?;
    drop(segments);
    drop(store);
    let mut removed = Vec::new();
    let mut remove = |name: String| -> Result<()> {
        let path = staging.join(&name);
        if path.exists() {
            disk.remove(&path)?;
            removed.push(name);
        }
        Ok(())
    };
    for no in later {
        remove(file_name(no, SEGMENT_EXT))?;
        remove(file_name(no, INDEX_EXT))?;
    }
    remove(file_name(seg_no, INDEX_EXT))?;
    for s in snapshots.iter().filter(|s| s.seq > n) {
        remove(format!("{SNAPSHOT_DIR}/{}", snapshot::file_name(s.seq)))?;
    }
    let seg = staging.join(file_name(seg_no, SEGMENT_EXT));
    let f = disk.open_rw(&seg)?;
    disk.set_len(&f, &seg, end)?;
    disk.sync_file(&f, &seg)?;
    disk.sync_dir(staging)?;
    // The evidence now says the log ends at `n`: `STORE` is written anew by its own code.
    StoreFile::publish(disk, staging, &file.meta, Marks { high_water: n, log_start }, file.generation + 1)?;
    Ok(removed)
}

/// Recovers the restored store with a writable open (no loss allowed), records the
/// restore in its `AUDIT`, then `verify` and `validate`.
fn check(disk: &Disk, staging: &Path, report: &mut RestoreReport, opts: &RestoreOptions<'_>) -> Result<()> {
    let damaged = |what: String| Error::corrupt(staging, 0, None, what);
    let open = OpenOptions { snapshots: None, ..OpenOptions::default() };
    let store = Store::open(staging, &open)?;
    if let Some(loss) = &store.recovery_report().loss {
        return Err(damaged(format!("the restored store reports loss: {loss:?}")));
    }
    if store.last_seq() != report.seq && !(report.seq < report.log_start && store.last_seq() == 0) {
        return Err(damaged(format!(
            "the restored log ends at seq {}, expected {}",
            store.last_seq(),
            report.seq
        )));
    }
    let mut rec = AuditRecord::new(Action::Restore, store.store_id());
    (rec.seq_first, rec.seq_last, rec.events, rec.bytes) =
        (report.log_start, report.seq, report.events, report.bytes);
    audit::append(disk, staging, &rec)?;
    report.state_hash = store.state()?.0.hash_hex();
    store.close()?;
    // `verify` (bytes) and `validate` (meaning) read the copy independently: side by side.
    let (verified, validated) = std::thread::scope(|scope| {
        let validating = opts.validate.then(|| {
            scope.spawn(|| {
                Store::open(staging, &OpenOptions::read_only()).and_then(|s| crate::validate::validate(&s))
            })
        });
        let verified = crate::verify::verify(staging);
        let validated =
            validating.map(|t| t.join().unwrap_or(Err(Error::ThreadPanicked { thread: "validate" })));
        (verified, validated)
    });
    let v = verified?;
    if let Some(p) = v.problems.first() {
        let what = format!(
            "verify: {} problems; first: {} at offset {}: {}",
            v.problems.len(),
            p.path.display(),
            p.offset,
            p.what
        );
        return Err(Error::corrupt(&p.path, p.offset, p.seq, what));
    }
    report.verified = true;
    if let Some(v) = validated {
        // Semantic rules speak of what the source held, not of the copy: a violation is
        // reported (the command exits 3), never a reason to refuse a faithful copy.
        let v = v?;
        report.violations = v.violation_count;
        report.first_violation =
            v.violations.first().map(|x| format!("seq {}: {}: {}", x.seq, x.rule, x.what));
        report.validated = Some(v.is_valid());
    }
    Ok(())
}
