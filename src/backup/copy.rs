//! Moving bytes with their checksum: a copy hashes what it reads, a check re-reads what was
//! written and compares it with the manifest. Every call goes through the `Disk` seam.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read as _};
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::manifest::{Manifest, hex};
use super::{Progress, advance};
use crate::disk::Disk;
use crate::error::{Error, Result};

/// Files found in a backup: name → (size, SHA-256).
pub(crate) type Found = BTreeMap<String, (u64, [u8; 32])>;

/// A backup to reuse files from: its directory and its manifest.
pub(crate) type Previous = (std::path::PathBuf, Manifest);

/// Bytes read and written at a time.
const CHUNK: usize = 1 << 20;

/// Writes through the disk seam at a running offset, as `io::Write` (for tar and zstd).
pub(crate) struct DiskWriter<'a> {
    pub disk: &'a Disk,
    pub file: &'a File,
    pub path: &'a Path,
    pub offset: u64,
}

impl io::Write for DiskWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.disk.write_at(self.file, self.path, self.offset, buf).map_err(io::Error::other)?;
        self.offset += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads exactly the first `len` bytes of `src`, hashing them; writes them into the new
/// file `dst` (synced) when given. Returns the SHA-256.
pub(crate) fn copy_file(
    disk: &Disk,
    src: &Path,
    len: u64,
    dst: Option<&Path>,
    progress: Option<&dyn Progress>,
) -> Result<[u8; 32]> {
    let mut input = disk.open(src)?.take(len);
    let out = match dst {
        Some(d) => Some((disk.create_new(d)?, d)),
        None => None,
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK.min(usize::try_from(len).unwrap_or(CHUNK)).max(1)];
    let mut done = 0u64;
    while done < len {
        let n = input.read(&mut buf).map_err(|e| Error::io("read", src, e))?;
        if n == 0 {
            let e = io::Error::new(io::ErrorKind::UnexpectedEof, format!("{done} bytes, expected {len}"));
            return Err(Error::io("read", src, e));
        }
        let chunk = &buf[..n];
        hasher.update(chunk);
        if let Some((f, d)) = &out {
            disk.write_at(f, d, done, chunk)?;
        }
        done += n as u64;
        advance(progress, n as u64);
    }
    if let Some((f, d)) = &out {
        disk.sync_file(f, d)?;
    }
    Ok(hasher.finalize().into())
}

/// Writes `bytes` as the new file `dst`, synced.
pub(crate) fn write_new(disk: &Disk, dst: &Path, bytes: &[u8]) -> Result<()> {
    let f = disk.create_new(dst)?;
    disk.write_at(&f, dst, 0, bytes)?;
    disk.sync_file(&f, dst)
}

/// Re-reads every file `manifest` lists under `dir` and checks its size and SHA-256; the
/// first mismatch is damage, naming the file.
pub(crate) fn verify_dir(
    disk: &Disk,
    dir: &Path,
    manifest: &Manifest,
    progress: Option<&dyn Progress>,
) -> Result<()> {
    for e in &manifest.entries {
        let path = dir.join(&e.name);
        let len = file_len(&path)?;
        if len != e.size {
            return Err(size_mismatch(&path, len, e.size));
        }
        let got = copy_file(disk, &path, len, None, progress)?;
        if got != e.sha256 {
            return Err(hash_mismatch(&path, &got, &e.sha256));
        }
    }
    Ok(())
}

/// A file's length; a missing file is damage to the backup, named.
pub(crate) fn file_len(path: &Path) -> Result<u64> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => Ok(m.len()),
        Ok(_) => Err(Error::corrupt(path, 0, None, "not a regular file, yet the manifest lists it")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(Error::corrupt(path, 0, None, "missing: the manifest lists it"))
        }
        Err(e) => Err(Error::io("stat", path, e)),
    }
}

/// The damage of a file whose size is not the manifest's.
pub(crate) fn size_mismatch(path: &Path, len: u64, want: u64) -> Error {
    Error::corrupt(path, len.min(want), None, format!("{len} bytes, the manifest says {want}"))
}

/// The damage of a file whose content is not the manifest's.
pub(crate) fn hash_mismatch(path: &Path, got: &[u8; 32], want: &[u8; 32]) -> Error {
    Error::corrupt(path, 0, None, format!("SHA-256 {}, the manifest says {}", hex(got), hex(want)))
}

/// Checks files found (name → size and SHA-256) against `manifest`: every listed file must
/// be there and match; nothing else may be. `at` names where they were found (a tar).
pub(crate) fn check_found(
    found: &BTreeMap<String, (u64, [u8; 32])>,
    manifest: &Manifest,
    at: &Path,
) -> Result<()> {
    for e in &manifest.entries {
        let path = at.join(&e.name);
        match found.get(&e.name) {
            None => return Err(Error::corrupt(path, 0, None, "missing: the manifest lists it")),
            Some((len, _)) if *len != e.size => return Err(size_mismatch(&path, *len, e.size)),
            Some((_, h)) if *h != e.sha256 => return Err(hash_mismatch(&path, h, &e.sha256)),
            Some(_) => {}
        }
    }
    if let Some(extra) = found.keys().find(|n| manifest.get(n).is_none()) {
        return Err(Error::corrupt(at.join(extra), 0, None, "a file the manifest does not list"));
    }
    Ok(())
}
