//! The directory format. A backup is built in a staging directory beside its final place:
//! files whose size and SHA-256 match a file of the previous backup are hard-linked from it
//! (copied where links are refused), the rest copied; `MANIFEST` is written, everything is
//! read back and checked, and only then does the staging directory take the backup's place
//! (a rename; an existing backup is moved aside first and removed after). With `keep`, each
//! backup is a dated subdirectory and the oldest beyond `keep` are removed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::copy::{self, Previous, copy_file, write_new};
use super::manifest::{self, Entry, MANIFEST_BYTES_MAX, MANIFEST_FILE, Manifest};
use super::plan::{self, Content};
use super::{BackupOptions, BackupReport, advance, phase};
use crate::disk::Disk;
use crate::error::{Error, Result};
use crate::io_util;
use crate::snapshot::SNAPSHOT_DIR;
use crate::store::Store;

/// Prefix of dated backups (`--keep`).
pub(crate) const DATED_PREFIX: &str = "wfstore-";
/// Extension of dated tar backups.
pub(crate) const TAR_ZST: &str = ".tar.zst";

/// Backs `store` up into `dest` (see the module).
pub(crate) fn backup(store: &Store, dest: &Path, opts: &BackupOptions<'_>) -> Result<BackupReport> {
    let disk = store.disk();
    match opts.keep {
        None => {
            let (previous, mut notes) = previous_in_place(dest, store.store_id())?;
            let staging = sibling(dest, "backup-tmp")?;
            let mut report = build_or_clean(store, &staging, previous.as_ref(), opts)?;
            commit_in_place(disk, &staging, dest)?;
            report.path = dest.to_owned();
            report.notes.append(&mut notes);
            Ok(report)
        }
        Some(keep) => {
            check_keep(keep)?;
            ensure_dir(disk, dest)?;
            let previous = newest_dated(dest, store.store_id(), false);
            let staging = dest.join(".wfstore-backup.tmp");
            let mut report = build_or_clean(store, &staging, previous.as_ref(), opts)?;
            let last = unique_dated(dest, report.seq, "");
            disk.rename(&staging, &last)?;
            disk.sync_dir(dest)?;
            report.rotated_out = rotate(disk, dest, keep, false)?;
            report.path = last;
            Ok(report)
        }
    }
}

/// Refuses `keep == 0`: it would remove the backup just made.
pub(crate) fn check_keep(keep: usize) -> Result<()> {
    if keep == 0 {
        return Err(Error::InvalidOption("--keep must be at least 1".into()));
    }
    Ok(())
}

/// Creates `dir` (and its parents) when missing.
pub(crate) fn ensure_dir(disk: &Disk, dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        ensure_dir(disk, parent)?;
    }
    disk.create_dir(dir)
}

/// Builds the backup in `staging`; removes `staging` when that fails.
fn build_or_clean(
    store: &Store,
    staging: &Path,
    previous: Option<&(PathBuf, Manifest)>,
    opts: &BackupOptions<'_>,
) -> Result<BackupReport> {
    let disk = store.disk();
    if staging.exists() {
        // Ours by name: a backup interrupted before its commit.
        disk.remove_tree(staging)?;
    }
    let built = build(store, staging, previous, opts);
    if built.is_err() && staging.exists() {
        let _ = disk.remove_tree(staging);
    }
    built
}

/// Copies (or reuses) every file of the plan into `staging`, writes `MANIFEST`, reads
/// everything back.
fn build(
    store: &Store,
    staging: &Path,
    previous: Option<&(PathBuf, Manifest)>,
    opts: &BackupOptions<'_>,
) -> Result<BackupReport> {
    let disk = store.disk();
    let progress = opts.progress;
    disk.create_dir(staging)?;
    let reusable: HashMap<(u64, [u8; 32]), PathBuf> = previous
        .map(|(dir, m)| m.entries.iter().map(|e| ((e.size, e.sha256), dir.join(&e.name))).collect())
        .unwrap_or_default();
    let sizes: std::collections::HashSet<u64> = reusable.keys().map(|(s, _)| *s).collect();
    let mut report = BackupReport { format: "dir".into(), ..BackupReport::default() };
    let mut entries = Vec::new();
    let lifecycle = store.lifecycle_guard();
    let plan = plan::make(store)?;
    phase(progress, "copy", plan.total());
    if plan.items.iter().any(|i| i.name.starts_with(SNAPSHOT_DIR)) {
        disk.create_dir(&staging.join(SNAPSHOT_DIR))?;
    }
    for item in &plan.items {
        let dst = staging.join(&item.name);
        let size = item.len();
        let sha256 = match &item.content {
            Content::Bytes(b) => manifest::sha256(b),
            // Hashed first only when the previous backup has a file of that size to reuse.
            Content::File { path, len } if sizes.contains(len) => copy_file(disk, path, *len, None, None)?,
            Content::File { path, len } => {
                let h = copy_file(disk, path, *len, Some(&dst), progress)?;
                entries.push(Entry { name: item.name.clone(), size, sha256: h });
                (report.files_copied, report.bytes_copied) =
                    (report.files_copied + 1, report.bytes_copied + size);
                continue;
            }
        };
        if let Some(from) = reusable.get(&(size, sha256)) {
            reuse(disk, from, &dst, size, &sha256)?;
            advance(progress, size);
            (report.files_reused, report.bytes_reused) =
                (report.files_reused + 1, report.bytes_reused + size);
        } else {
            let written = match &item.content {
                Content::Bytes(b) => {
                    write_new(disk, &dst, b)?;
                    advance(progress, size);
                    sha256
                }
                Content::File { path, len } => copy_file(disk, path, *len, Some(&dst), progress)?,
            };
            if written != sha256 {
                return Err(Error::io(
                    "copy",
                    dst,
                    std::io::Error::other("the source changed between two reads under the lifecycle lock"),
                ));
            }
            (report.files_copied, report.bytes_copied) =
                (report.files_copied + 1, report.bytes_copied + size);
        }
        entries.push(Entry { name: item.name.clone(), size, sha256 });
    }
    drop(lifecycle);
    let manifest = plan::manifest(store, &plan, entries)?;
    disk.write_atomic(staging, MANIFEST_FILE, &manifest.encode())?;
    if staging.join(SNAPSHOT_DIR).exists() {
        disk.sync_dir(&staging.join(SNAPSHOT_DIR))?;
    }
    disk.sync_dir(staging)?;
    phase(progress, "verify", manifest.total_bytes());
    let written = read_manifest(disk, staging)?;
    if written != manifest {
        return Err(Error::corrupt(staging.join(MANIFEST_FILE), 0, None, "does not read back as written"));
    }
    copy::verify_dir(disk, staging, &written, progress)?;
    report.verified = true;
    report.seq = manifest.seq;
    report.log_start = manifest.log_start;
    report.store_id = format!("{:016x}", manifest.store_id);
    report.files = manifest.entries.len();
    report.bytes = manifest.total_bytes();
    Ok(report)
}

/// Makes `dst` the same file as `from` (a hard link), or a checked copy of it where links
/// are not possible (another file system).
fn reuse(disk: &Disk, from: &Path, dst: &Path, size: u64, sha256: &[u8; 32]) -> Result<()> {
    if disk.hard_link(from, dst).is_ok() {
        return Ok(());
    }
    let got = copy_file(disk, from, size, Some(dst), None)?;
    if got != *sha256 {
        return Err(copy::hash_mismatch(from, &got, sha256));
    }
    Ok(())
}

/// Reads and decodes `dir/MANIFEST`; a bad one is damage naming it.
pub(crate) fn read_manifest(disk: &Disk, dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST_FILE);
    copy::file_len(&path)?;
    let bytes = disk.read_bounded(&path, MANIFEST_BYTES_MAX).map_err(|e| match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::InvalidData => {
            Error::corrupt(&path, MANIFEST_BYTES_MAX, None, "longer than a manifest can be")
        }
        other => other,
    })?;
    Manifest::decode(&bytes).map_err(|why| Error::corrupt(&path, 0, None, why))
}

/// What `dest` holds now: nothing, or a backup of this store to reuse files from. Anything
/// else is refused: a backup never replaces what it did not write.
fn previous_in_place(dest: &Path, store_id: u64) -> Result<(Option<Previous>, Vec<String>)> {
    let refuse = |why: &str| Err(Error::BackupTarget { path: dest.to_owned(), why: why.into() });
    if !dest.exists() {
        return Ok((None, Vec::new()));
    }
    if !dest.is_dir() {
        return refuse("not a directory (use --format tar to write a file)");
    }
    let mut entries = std::fs::read_dir(dest).map_err(|e| Error::io("list", dest, e))?;
    if entries.next().is_none() {
        return Ok((None, Vec::new()));
    }
    if !dest.join(MANIFEST_FILE).exists() {
        if dest.join(crate::meta::STORE_FILE).exists() {
            return refuse("it is a store, not a backup (no MANIFEST)");
        }
        return refuse("not empty, and not a backup (no MANIFEST)");
    }
    match read_manifest(&Disk::default(), dest) {
        Ok(m) if m.store_id != store_id => {
            refuse(&format!("it holds a backup of another store (id {:016x})", m.store_id))
        }
        Ok(m) => Ok((Some((dest.to_owned(), m)), Vec::new())),
        Err(e) => {
            Ok((None, vec![format!("the previous backup's manifest is damaged ({e}): nothing was reused")]))
        }
    }
}

/// `.NAME.what` beside `path`.
fn sibling(path: &Path, what: &str) -> Result<PathBuf> {
    let abs = std::path::absolute(path).map_err(|e| Error::io("resolve", path, e))?;
    let (Some(parent), Some(name)) = (abs.parent(), abs.file_name()) else {
        return Err(Error::BackupTarget { path: path.to_owned(), why: "has no parent directory".into() });
    };
    Ok(parent.join(format!(".{}.{what}", name.to_string_lossy())))
}

/// Puts the verified `staging` in `dest`'s place; an old backup there is moved aside and
/// removed once the new one is in place.
fn commit_in_place(disk: &Disk, staging: &Path, dest: &Path) -> Result<()> {
    let parent = crate::disk::parent(staging).to_owned();
    let empty =
        dest.is_dir() && std::fs::read_dir(dest).map_err(|e| Error::io("list", dest, e))?.next().is_none();
    if dest.exists() && !empty {
        let old = sibling(dest, "backup-old")?;
        if old.exists() {
            disk.remove_tree(&old)?;
        }
        disk.rename(dest, &old)?;
        disk.rename(staging, dest)?;
        disk.sync_dir(&parent)?;
        disk.remove_tree(&old)?;
    } else {
        // A rename replaces an empty directory.
        disk.rename(staging, dest)?;
    }
    disk.sync_dir(&parent)
}

/// `YYYYMMDDTHHMMSSZ` for a time in ns since the Unix epoch (UTC).
pub(crate) fn stamp(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A dated name's sort key: (stamp, seq, n) from `wfstore-STAMP-seqN[-n][ext]`.
pub(crate) fn parse_dated(name: &str, ext: &str) -> Option<(String, u64, u64)> {
    let rest = name.strip_prefix(DATED_PREFIX)?.strip_suffix(ext)?;
    let (stamp, rest) = (rest.get(..16)?, rest.get(16..)?);
    let rest = rest.strip_prefix("-seq")?;
    let (seq, n) = match rest.split_once('-') {
        Some((s, n)) => (s, n.parse().ok()?),
        None => (rest, 0),
    };
    if !stamp.ends_with('Z') || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stamp.to_owned(), seq.parse().ok()?, n))
}

/// A new dated name in `root` for a backup at `seq`, taken now.
pub(crate) fn unique_dated(root: &Path, seq: u64, ext: &str) -> PathBuf {
    let base = format!("{DATED_PREFIX}{}-seq{seq}", stamp(io_util::now_ns()));
    let mut path = root.join(format!("{base}{ext}"));
    let mut n = 1;
    while path.exists() {
        path = root.join(format!("{base}-{n}{ext}"));
        n += 1;
    }
    path
}

/// The dated backups in `root` (directories, or `.tar.zst` files), oldest first.
pub(crate) fn dated(root: &Path, tar: bool) -> Vec<PathBuf> {
    let ext = if tar { TAR_ZST } else { "" };
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    let mut found: Vec<((String, u64, u64), PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| if tar { t.is_file() } else { t.is_dir() }))
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            // A directory name never has the tar extension.
            if !tar && name.ends_with(TAR_ZST) {
                return None;
            }
            Some((parse_dated(&name, ext)?, e.path()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

/// The newest dated backup directory of this store whose manifest reads.
fn newest_dated(root: &Path, store_id: u64, tar: bool) -> Option<(PathBuf, Manifest)> {
    dated(root, tar).into_iter().rev().find_map(|dir| {
        let m = read_manifest(&Disk::default(), &dir).ok()?;
        (m.store_id == store_id).then_some((dir, m))
    })
}

/// Removes the oldest dated backups beyond `keep`; returns them.
pub(crate) fn rotate(disk: &Disk, root: &Path, keep: usize, tar: bool) -> Result<Vec<PathBuf>> {
    let all = dated(root, tar);
    let old: Vec<PathBuf> = all[..all.len().saturating_sub(keep)].to_vec();
    for p in &old {
        if tar { disk.remove(p)? } else { disk.remove_tree(p)? }
    }
    if !old.is_empty() {
        disk.sync_dir(root)?;
    }
    Ok(old)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn stamps_are_utc_and_parse_back() {
        assert_eq!(stamp(0), "19700101T000000Z");
        assert_eq!(stamp(1_764_633_600_000_000_000 + 3_723_000_000_000), "20251202T010203Z");
        let name = format!("wfstore-{}-seq42-3", stamp(0));
        assert_eq!(parse_dated(&name, ""), Some(("19700101T000000Z".into(), 42, 3)));
        assert_eq!(parse_dated("wfstore-19700101T000000Z-seq7.tar.zst", TAR_ZST).unwrap().1, 7);
        assert_eq!(parse_dated("other", ""), None);
    }
}
