//! File-system steps with a durability protocol: atomic publish, directory fsync,
//! preallocation of real blocks.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::{IoContext, Result};

/// Suffix of files being written; a leftover one is removed on open.
pub const TMP_SUFFIX: &str = ".tmp";

/// Publishes `bytes` as `dir/name` atomically: write a temp file, fsync it, rename it over
/// the target, fsync the directory. A crash leaves the old file or the new one, never a mix.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let dst = dir.join(name);
    let mut f = File::create(&tmp).ctx("create", &tmp)?;
    f.write_all(bytes).ctx("write", &tmp)?;
    f.sync_all().ctx("fsync", &tmp)?;
    drop(f);
    fs::rename(&tmp, &dst).ctx("rename", &tmp)?;
    sync_dir(dir)
}

/// Reads a whole file of at most `max` bytes. A longer file is an error before more than
/// `max + 1` bytes are read: a file on disk never decides how much is allocated.
pub fn read_bounded(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    File::open(path)?.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("longer than the {max}-byte limit"),
        ));
    }
    Ok(bytes)
}

/// Makes a directory's entries (created, renamed, removed files) durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).ctx("fsync directory", dir)
}

/// Creates `path` (which must not exist) with `len` bytes of real, zeroed blocks. A sparse
/// file would turn a full disk into SIGBUS on a mapped write; `fallocate` fails up front.
pub fn create_preallocated(path: &Path, len: u64) -> Result<File> {
    let f = OpenOptions::new().read(true).write(true).create_new(true).open(path).ctx("create", path)?;
    if let Err(e) = preallocate(&f, len) {
        let _ = fs::remove_file(path);
        return Err(e).ctx("preallocate", path);
    }
    Ok(f)
}

/// Extends (or fills holes in) an open file up to `len` bytes of allocated blocks.
pub fn preallocate(f: &File, len: u64) -> std::io::Result<()> {
    rustix::fs::fallocate(f, rustix::fs::FallocateFlags::empty(), 0, len)?;
    Ok(())
}

/// A random 64-bit value for store ids and segment salts: unique, not secret.
pub fn random_u64() -> u64 {
    loop {
        let v = fastrand::u64(..);
        if v != 0 {
            return v;
        }
    }
}

/// Wall-clock now, ns since the epoch (0 if the clock is before 1970).
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn read_bounded_refuses_a_longer_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, [7u8; 10]).unwrap();
        assert_eq!(read_bounded(&path, 10).unwrap(), vec![7u8; 10]);
        assert_eq!(read_bounded(&path, 9).unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    }
}
