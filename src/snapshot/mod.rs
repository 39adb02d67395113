//! Snapshots of the energy state: the `snapshots/` directory of a store.
//!
//! - `file`: the byte format of one snapshot file.
//!
//! A snapshot is published atomically (temp file, fsync, rename, fsync of the directory);
//! the newest `keep` are kept. Which one to trust is decided by the caller, who also checks
//! the state's hash and that the snapshot still binds to the log.

pub mod file;

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::disk::{self, Disk};
use crate::error::{Error, IoContext, Result};

/// The snapshot directory inside a store.
pub const SNAPSHOT_DIR: &str = "snapshots";
const PREFIX: &str = "snap-";
const EXT: &str = ".wfsnap";

/// A snapshot file on disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotInfo {
    /// The last seq its state covers (from the file name; checked when loaded).
    pub seq: u64,
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
}

/// The file name of the snapshot covering up to `seq`: zero-padded so names sort by seq.
pub fn file_name(seq: u64) -> String {
    format!("{PREFIX}{seq:020}{EXT}")
}

/// The seq in a snapshot file name, if `name` is one.
pub fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(EXT)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The snapshots of the store in `store_dir`, oldest first. A snapshot name that is not a
/// regular file is refused.
pub fn list(store_dir: &Path) -> Result<Vec<SnapshotInfo>> {
    let dir = store_dir.join(SNAPSHOT_DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.ctx("list", &dir)?;
        let Some(seq) = entry.file_name().to_str().and_then(parse_name) else { continue };
        out.extend(info_of(entry.path(), seq)?);
    }
    out.sort_by_key(|s| s.seq);
    Ok(out)
}

/// One listed snapshot; `None` when it is gone already: a writer beside a read-only open
/// prunes old snapshots between its listing and its stat.
fn info_of(path: PathBuf, seq: u64) -> Result<Option<SnapshotInfo>> {
    let meta = disk::vanished(disk::check_regular(&path))?;
    Ok(meta.map(|m| SnapshotInfo { seq, path, bytes: m.len() }))
}

/// The header of a snapshot file, read without the rest: its seq is durable evidence even
/// when its payload is damaged.
pub fn read_header(
    disk: &Disk,
    path: &Path,
    store_id: u64,
) -> std::result::Result<file::SnapshotHeader, String> {
    let mut buf = Vec::with_capacity(64);
    let f = disk.open(path).map_err(|e| e.to_string())?;
    f.take(64).read_to_end(&mut buf).map_err(|e| e.to_string())?;
    file::decode_header(&buf, store_id)
}

/// Publishes a snapshot atomically; returns where it is.
pub fn publish(disk: &Disk, store_dir: &Path, store_id: u64, snap: &file::Snapshot) -> Result<SnapshotInfo> {
    let dir = store_dir.join(SNAPSHOT_DIR);
    if !dir.exists() {
        disk.create_dir(&dir)?;
    }
    let bytes = file::encode(store_id, snap).ctx("compress snapshot", &dir)?;
    let name = file_name(snap.seq);
    disk.write_atomic(&dir, &name, &bytes)?;
    Ok(SnapshotInfo { seq: snap.seq, path: dir.join(name), bytes: bytes.len() as u64 })
}

/// Removes snapshot files and makes that durable.
pub fn remove(disk: &Disk, store_dir: &Path, paths: &[PathBuf]) -> Result<()> {
    for p in paths {
        disk.remove(p)?;
    }
    if !paths.is_empty() {
        disk.sync_dir(&store_dir.join(SNAPSHOT_DIR))?;
    }
    Ok(())
}

/// Removes all but the newest `keep` snapshots; returns the removed files.
pub fn prune(disk: &Disk, store_dir: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    prune_spaced(disk, store_dir, keep, 0)
}

/// Removes all but the newest `keep` snapshots and, before them, one at least every
/// `spacing` events of history (0: none): time travel to any seq then replays at most
/// about `spacing` events. Returns the removed files.
pub fn prune_spaced(disk: &Disk, store_dir: &Path, keep: usize, spacing: u64) -> Result<Vec<PathBuf>> {
    let all = list(store_dir)?;
    let seqs: Vec<u64> = all.iter().map(|s| s.seq).collect();
    let paths: Vec<PathBuf> =
        thinned(&seqs, keep, spacing).into_iter().map(|i| all[i].path.clone()).collect();
    remove(disk, store_dir, &paths)?;
    Ok(paths)
}

/// Which of `seqs` (ascending) go: none of the newest `keep` (at least one), and of the
/// older ones each that lies within `spacing` events after the last one kept.
fn thinned(seqs: &[u64], keep: usize, spacing: u64) -> Vec<usize> {
    let older = seqs.len().saturating_sub(keep.max(1));
    let mut kept: Option<u64> = None;
    let mut out = Vec::new();
    for (i, &seq) in seqs[..older].iter().enumerate() {
        if spacing > 0 && kept.is_none_or(|k| seq - k >= spacing) {
            kept = Some(seq);
        } else {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pruning_keeps_the_newest_and_one_per_spacing_of_history() {
        let seqs = [100, 150, 200, 260, 300, 500, 510, 520, 530];
        assert_eq!(thinned(&seqs, 3, 0), [0, 1, 2, 3, 4, 5], "no history kept");
        // 100 kept; 150 within 100 of it; 200 kept; 260 within; 300 kept; 500 kept.
        assert_eq!(thinned(&seqs, 3, 100), [1, 3]);
        assert_eq!(thinned(&seqs, 0, 0), [0, 1, 2, 3, 4, 5, 6, 7], "at least one kept");
        assert_eq!(thinned(&seqs[..2], 3, 100), Vec::<usize>::new());
    }

    #[test]
    fn a_snapshot_pruned_between_listing_and_stat_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name(7));
        assert!(info_of(path.clone(), 7).unwrap().is_none());
        fs::write(&path, b"x").unwrap();
        let info = info_of(path.clone(), 7).unwrap().unwrap();
        assert_eq!((info.seq, info.bytes), (7, 1));
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        assert!(info_of(path, 7).unwrap_err().to_string().contains("a directory"), "still refused");
    }
}
