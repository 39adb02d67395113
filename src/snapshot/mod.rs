//! Snapshots of the energy state: the `snapshots/` directory of a store.
//!
//! - `file`: the byte format of one snapshot file.
//!
//! A snapshot is published atomically (temp file, fsync, rename, fsync of the directory);
//! the newest `keep` are kept. Which one to trust is decided by the caller, who also checks
//! the state's hash and that the snapshot is not ahead of the log.

pub mod file;

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::io_util::{self, TMP_SUFFIX};

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

fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(EXT)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The snapshots of the store in `store_dir`, oldest first.
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
        let bytes = entry.metadata().ctx("stat", &entry.path())?.len();
        out.push(SnapshotInfo { seq, path: entry.path(), bytes });
    }
    out.sort_by_key(|s| s.seq);
    Ok(out)
}

/// Removes temp files a crash left in the snapshot directory; returns them.
pub fn remove_temps(store_dir: &Path) -> Result<Vec<PathBuf>> {
    let dir = store_dir.join(SNAPSHOT_DIR);
    let Ok(entries) = fs::read_dir(&dir) else { return Ok(Vec::new()) };
    let mut removed = Vec::new();
    for entry in entries {
        let path = entry.ctx("list", &dir)?.path();
        if path.to_str().is_some_and(|p| p.ends_with(TMP_SUFFIX)) {
            fs::remove_file(&path).ctx("remove", &path)?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// Publishes a snapshot atomically; returns where it is.
pub fn publish(store_dir: &Path, store_id: u64, snap: &file::Snapshot) -> Result<SnapshotInfo> {
    let dir = store_dir.join(SNAPSHOT_DIR);
    if !dir.exists() {
        fs::create_dir(&dir).ctx("create directory", &dir)?;
        io_util::sync_dir(store_dir)?;
    }
    let bytes = file::encode(store_id, snap).ctx("compress snapshot", &dir)?;
    let name = file_name(snap.seq);
    io_util::write_atomic(&dir, &name, &bytes)?;
    Ok(SnapshotInfo { seq: snap.seq, path: dir.join(name), bytes: bytes.len() as u64 })
}

/// Removes all but the newest `keep` snapshots; returns the removed files.
pub fn prune(store_dir: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    let all = list(store_dir)?;
    let excess = all.len().saturating_sub(keep.max(1));
    let mut removed = Vec::new();
    for s in &all[..excess] {
        fs::remove_file(&s.path).ctx("remove", &s.path)?;
        removed.push(s.path.clone());
    }
    if !removed.is_empty() {
        io_util::sync_dir(&store_dir.join(SNAPSHOT_DIR))?;
    }
    Ok(removed)
}
