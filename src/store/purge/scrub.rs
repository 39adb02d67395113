//! Scrubbing: a file that may hold purged ids or content is overwritten with zeros and
//! synced before it is unlinked, so the blocks the file system maps for it no longer hold
//! the bytes (formats/purge.md, "What a disk may still keep").

use std::fs;
use std::path::{Path, PathBuf};

use crate::disk::{self, Disk};
use crate::error::{IoContext, Result};
use crate::segment::INDEX_EXT;
use crate::snapshot::SNAPSHOT_DIR;
use crate::store::recover::files::QUARANTINE_DIR;

/// Zeros written per call.
const CHUNK: usize = 1 << 20;

/// Overwrites `path` with zeros, syncs it and unlinks it (the caller syncs the directory).
pub(super) fn remove(disk: &Disk, path: &Path) -> Result<()> {
    let file = disk.open_rw(path)?;
    let len = file.metadata().ctx("stat", path)?.len();
    let zeros = vec![0u8; CHUNK.min(usize::try_from(len).unwrap_or(CHUNK))];
    let mut at = 0u64;
    while at < len {
        let n = zeros.len().min(usize::try_from(len - at).unwrap_or(CHUNK));
        disk.write_at(&file, path, at, &zeros[..n])?;
        at += n as u64;
    }
    disk.sync_file(&file, path)?;
    drop(file);
    disk.remove(path)
}

/// Leftover temp files that can hold ids: of index files in the store, and anything in
/// `snapshots/`. (Temp files of segments and `STORE` hold none, and may be in use.)
pub(super) fn derived_temps(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let index_tmp = format!(".{INDEX_EXT}.");
    for (d, any) in [(dir.to_path_buf(), false), (dir.join(SNAPSHOT_DIR), true)] {
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for entry in entries {
            let entry = entry.ctx("list", &d)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if disk::is_temp(name) && (any || name.contains(&index_tmp)) && entry.path().is_file() {
                out.push(entry.path());
            }
        }
    }
    Ok(out)
}

/// Files under `quarantine/` (left by `repair`) that contain any of `needles`' bytes:
/// scrubbed and listed. The rest of the quarantine is left as evidence.
pub(super) fn quarantined(disk: &Disk, dir: &Path, needles: &[&str]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join(QUARANTINE_DIR)];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for entry in entries {
            let entry = entry.ctx("list", &d)?;
            let path = entry.path();
            let kind = entry.file_type().ctx("stat", &path)?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && holds_any(&path, needles)? {
                remove(disk, &path)?;
                disk.sync_dir(&d)?;
                out.push(path);
            }
        }
    }
    Ok(out)
}

/// Searches a file of any size in chunks, each overlapping the last by a needle's length,
/// so a match across a chunk boundary is found and memory stays bounded.
fn holds_any(path: &Path, needles: &[&str]) -> Result<bool> {
    use std::io::Read as _;
    let overlap = needles.iter().map(|n| n.len()).max().unwrap_or(0).saturating_sub(1);
    let mut file = fs::File::open(path).ctx("open", path)?;
    let mut buf = vec![0u8; CHUNK + overlap];
    let mut kept = 0;
    loop {
        let n = file.read(&mut buf[kept..]).ctx("read", path)?;
        let window = &buf[..kept + n];
        if needles.iter().any(|s| !s.is_empty() && window.windows(s.len()).any(|w| w == s.as_bytes())) {
            return Ok(true);
        }
        if n == 0 {
            return Ok(false);
        }
        kept = overlap.min(window.len());
        let from = window.len() - kept;
        buf.copy_within(from..from + kept, 0);
    }
}
