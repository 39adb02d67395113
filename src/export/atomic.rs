//! An export's output file, written whole or not at all: the bytes go to a temp file beside
//! the target, which is renamed over the target only once everything is written and synced.
//! An export that fails half-way (a corrupt record, a full disk) leaves no target file and no
//! temp file, so a script never mistakes half an export for a whole one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::io_util;

/// Temp files tried before giving up (each name is random, so a clash is a leftover or a
/// concurrent export into the same directory).
const TEMP_ATTEMPTS: u32 = 16;

/// A file being written; becomes `target` on [`AtomicFile::commit`], vanishes if dropped.
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `target`: creates a new temp file in the same directory, so that the
    /// final rename stays on one file system.
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let name = target.file_name().ok_or_else(|| {
            Error::InvalidOption(format!("output {} does not name a file", target.display()))
        })?;
        let dir = parent_dir(target);
        let mut last_err = None;
        for _ in 0..TEMP_ATTEMPTS {
            let temp = dir.join(format!(
                ".{}.{:016x}{}",
                name.to_string_lossy(),
                io_util::random_u64(),
                crate::disk::TMP_SUFFIX
            ));
            match OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(file) => {
                    return Ok(AtomicFile {
                        target: target.to_owned(),
                        temp,
                        out: Some(BufWriter::new(file)),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
                // Named after the target: the temp name means nothing to the caller.
                Err(e) => return Err(Error::io("create a temp file for", target, e)),
            }
        }
        let e = last_err.unwrap_or_else(|| io::ErrorKind::AlreadyExists.into());
        Err(Error::io("create a temp file for", target, e))
    }

    /// The file this becomes.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The temp file, for a writer that opens it by path (SQLite) instead of writing
    /// through this handle; `commit` still syncs and renames it.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Makes the written bytes the target: flush, fsync, rename over the target, fsync the
    /// directory.
    pub fn commit(mut self) -> Result<()> {
        let Some(out) = self.out.take() else {
            return Err(Error::io("write", &self.temp, io::ErrorKind::BrokenPipe.into()));
        };
        let file = out.into_inner().map_err(|e| Error::io("write", &self.temp, e.into_error()))?;
        file.sync_all().ctx("fsync", &self.temp)?;
        drop(file);
        fs::rename(&self.temp, &self.target).ctx("rename", &self.temp)?;
        // Renamed: nothing is left for `drop` to remove.
        self.temp = PathBuf::new();
        crate::disk::Disk::default().sync_dir(parent_dir(&self.target))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.out {
            Some(out) => out.write(buf),
            None => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.temp.as_os_str().is_empty() {
            return;
        }
        // Not committed: the export failed or was abandoned; leave nothing behind.
        drop(self.out.take());
        let _ = fs::remove_file(&self.temp);
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn commit_publishes_and_drop_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.jsonl");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"half").unwrap();
        assert!(!target.exists());
        drop(f);
        assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));

        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"whole").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"whole");
        assert_eq!(names(dir.path()), ["out.jsonl"]);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = AtomicFile::create(&dir.path().join("nope/out")).err().unwrap();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
