//! An export's output file, written whole or not at all: the bytes go to a temp file beside
//! the target, which is renamed over the target only once everything is written and synced.
//! An export that fails half-way (a corrupt record, a full disk) leaves no target file and no
//! temp file, so a script never mistakes half an export for a whole one.
//!
//! An export that is killed cannot remove its temp file. So every temp file is held under an
//! exclusive `flock` for as long as it is being written (until it is renamed or removed),
//! and creating one removes the stale temp files of the same target: `.NAME.<16 hex>.tmp`
//! files beside it that are older than the new one and that no running export holds (their
//! lock can be taken). Temp files of other targets are left alone.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Error, IoContext, Result};
use crate::io_util;

/// Temp files tried before giving up (each name is random, so a clash is a leftover or a
/// concurrent export into the same directory).
const TEMP_ATTEMPTS: u32 = 16;
/// Hex digits of the random part of a temp file's name.
const TEMP_HEX_DIGITS: usize = 16;

/// A file being written; becomes `target` on [`AtomicFile::commit`], vanishes if dropped.
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    /// The temp file, locked (`flock`, exclusive) until it is renamed or removed.
    out: Option<BufWriter<File>>,
    /// Stale temp files of the same target removed by `create`.
    removed_stale: Vec<PathBuf>,
}

impl AtomicFile {
    /// Starts writing `target`: creates a new temp file in the same directory, so that the
    /// final rename stays on one file system, and locks it; then removes the stale temp
    /// files of `target` (see the module docs).
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let name = target.file_name().ok_or_else(|| {
            Error::InvalidOption(format!("output {} does not name a file", target.display()))
        })?;
        let dir = parent_dir(target);
        let mut last_err = None;
        for _ in 0..TEMP_ATTEMPTS {
            let temp = dir.join(temp_name(name, io_util::random_u64()));
            match OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(file) => {
                    let removed_stale = match lock_new(&file, &temp) {
                        Locked::Ours(created) => remove_stale(dir, name, &temp, created),
                        // Another export's cleanup removed it before we locked it.
                        Locked::Gone => continue,
                        // No locks on this file system: no export can tell a stale temp
                        // file from a running export's, so none is removed.
                        Locked::Unsupported => Vec::new(),
                    };
                    return Ok(AtomicFile {
                        target: target.to_owned(),
                        temp,
                        out: Some(BufWriter::new(file)),
                        removed_stale,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
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
    /// through this handle; `commit` still syncs and renames it. It stays locked while this
    /// value lives, so no other export removes it.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The stale temp files of the same target (left by killed exports) that `create`
    /// removed.
    pub fn removed_stale(&self) -> &[PathBuf] {
        &self.removed_stale
    }

    /// Makes the written bytes the target: flush, fsync, rename over the target (still
    /// locked, so no cleanup can take the temp file first), fsync the directory.
    pub fn commit(mut self) -> Result<()> {
        let Some(out) = self.out.take() else {
            return Err(Error::io("write", &self.temp, io::ErrorKind::BrokenPipe.into()));
        };
        let file = out.into_inner().map_err(|e| Error::io("write", &self.temp, e.into_error()))?;
        file.sync_all().ctx("fsync", &self.temp)?;
        if let Err(e) = fs::rename(&self.temp, &self.target) {
            // `drop` removes the temp file while it is still locked.
            self.out = Some(BufWriter::new(file));
            return Err(Error::io("rename", &self.temp, e));
        }
        // Renamed: nothing is left for `drop` to remove. Closing unlocks.
        self.temp = PathBuf::new();
        drop(file);
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
        // Not committed: the export failed or was abandoned; leave nothing behind. Removed
        // while still locked, then closed without writing what is buffered.
        let _ = fs::remove_file(&self.temp);
        if let Some(out) = self.out.take() {
            drop(out.into_parts());
        }
    }
}

/// `.NAME.<16 hex>.tmp`: the temp file name of target `NAME`.
fn temp_name(name: &OsStr, random: u64) -> OsString {
    let mut temp = OsString::from(".");
    temp.push(name);
    temp.push(format!(".{random:016x}{}", crate::disk::TMP_SUFFIX));
    temp
}

/// True when `file_name` is a temp file name of target `name` (any random part).
fn is_temp_of(file_name: &OsStr, name: &OsStr) -> bool {
    let (f, n, suffix) = (file_name.as_bytes(), name.as_bytes(), crate::disk::TMP_SUFFIX.as_bytes());
    let hex_at = 1 + n.len() + 1;
    f.len() == hex_at + TEMP_HEX_DIGITS + suffix.len()
        && f[0] == b'.'
        && &f[1..=n.len()] == n
        && f[n.len() + 1] == b'.'
        && f[hex_at..hex_at + TEMP_HEX_DIGITS].iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && f.ends_with(suffix)
}

/// What locking a new temp file found.
enum Locked {
    /// Locked, and still at its path; its modification time.
    Ours(SystemTime),
    /// A concurrent export's cleanup removed it between the create and the lock (it was
    /// unlocked then, and its time may be older than the other export's).
    Gone,
    /// The file system does not lock (or the lock failed): written unlocked.
    Unsupported,
}

/// Locks the temp file just created at `path`, then checks that `path` still names it.
fn lock_new(file: &File, path: &Path) -> Locked {
    // Blocking: the only other holder of a new file is a cleanup, for a moment.
    if file.lock().is_err() {
        return Locked::Unsupported;
    }
    let Ok(meta) = file.metadata() else { return Locked::Unsupported };
    match fs::symlink_metadata(path) {
        Ok(at_path) if same_file(&meta, &at_path) => {
            meta.modified().map_or(Locked::Unsupported, Locked::Ours)
        }
        _ => Locked::Gone,
    }
}

fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Removes the stale temp files of target `name` in `dir`: regular files named like a temp
/// file of it, other than `ours`, modified before `before` (our own temp file's time, from
/// the same file-system clock), whose exclusive lock is free (no running export holds them).
/// Best effort: a file that cannot be examined or removed is left. Returns what was removed.
fn remove_stale(dir: &Path, name: &OsStr, ours: &Path, before: SystemTime) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| is_temp_of(&e.file_name(), name))
        .map(|e| e.path())
        .filter(|p| p != ours && remove_if_stale(p, before).unwrap_or(false))
        .collect()
}

/// Removes `path` if it is a regular file modified before `before` and nobody holds its
/// lock; true if it did. The lock is held while removing, and the file removed is the one
/// locked.
fn remove_if_stale(path: &Path, before: SystemTime) -> io::Result<bool> {
    let at_path = fs::symlink_metadata(path)?;
    if !at_path.file_type().is_file() || at_path.modified()? >= before {
        return Ok(false);
    }
    let file = File::open(path)?;
    if file.try_lock().is_err() {
        // A running export holds it (or it cannot be locked at all): not ours to judge.
        return Ok(false);
    }
    let meta = file.metadata()?;
    if !same_file(&meta, &at_path) || meta.modified()? >= before {
        return Ok(false);
    }
    fs::remove_file(path)?;
    Ok(true)
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

    /// A fake temp file `name` in `dir`, last modified `age` ago.
    fn leftover(dir: &Path, name: &str, age: std::time::Duration) -> PathBuf {
        let path = dir.join(name);
        let file = File::create(&path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
        path
    }

    #[test]
    fn temp_names_are_recognized_by_target() {
        let name = OsStr::new("out.db");
        let temp = temp_name(name, 0x0123_4567_89ab_cdef);
        assert_eq!(temp, ".out.db.0123456789abcdef.tmp");
        assert!(is_temp_of(&temp, name));
        for other in [
            ".out.db.0123456789abcdeF.tmp",
            ".out.db.0123456789abcde.tmp",
            ".out.db.0123456789abcdef0.tmp",
            ".out.db.0123456789abcdef.tmpx",
            ".out.dbx0123456789abcdef.tmp",
            "out.db.0123456789abcdef.tmp.",
            ".out.db.x.0123456789abcdef.tmp",
            ".ut.db.0123456789abcdef.tmp",
        ] {
            assert!(!is_temp_of(OsStr::new(other), name), "{other}");
        }
        assert!(!is_temp_of(&temp, OsStr::new("out.d")));
        assert!(!is_temp_of(&temp, OsStr::new("ut.db")));
    }

    #[test]
    fn create_removes_only_stale_unlocked_older_temp_files_of_its_target() {
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let hour = Duration::from_secs(3600);
        let stale = [
            leftover(dir.path(), ".out.db.00000000000000aa.tmp", hour),
            leftover(dir.path(), ".out.db.00000000000000bb.tmp", Duration::from_secs(2)),
        ];
        let kept = [
            // Another target's, a name that is not a temp name, the target itself.
            leftover(dir.path(), ".other.db.00000000000000aa.tmp", hour),
            leftover(dir.path(), ".out.db.00000000000000aa.tmp.bak", hour),
            leftover(dir.path(), "out.db", hour),
            // Newer than this export: another export's, just created.
            leftover(dir.path(), ".out.db.00000000000000cc.tmp", Duration::ZERO),
        ];
        File::options().write(true).open(&kept[3]).unwrap().set_modified(SystemTime::now() + hour).unwrap();
        // A running export holds this one.
        let running = leftover(dir.path(), ".out.db.00000000000000dd.tmp", hour);
        let held = File::open(&running).unwrap();
        held.lock().unwrap();
        // Not a regular file.
        let not_a_file = dir.path().join(".out.db.00000000000000ee.tmp");
        fs::create_dir(&not_a_file).unwrap();

        let f = AtomicFile::create(&dir.path().join("out.db")).unwrap();
        let mut removed = f.removed_stale().to_vec();
        removed.sort();
        assert_eq!(removed, stale);
        for p in &stale {
            assert!(!p.exists(), "{}", p.display());
        }
        for p in kept.iter().chain([&running, &not_a_file]) {
            assert!(p.exists(), "{}", p.display());
        }
        // The new temp file is locked: a second export neither removes it nor blocks on it.
        let g = AtomicFile::create(&dir.path().join("out.db")).unwrap();
        assert!(g.removed_stale().is_empty(), "{:?}", g.removed_stale());
        assert!(f.temp_path().exists());
        assert!(File::open(f.temp_path()).unwrap().try_lock().is_err());
        f.commit().unwrap();
        drop(g);
        drop(held);
        // Once unlocked and older, the running export's file is stale too.
        let h = AtomicFile::create(&dir.path().join("out.db")).unwrap();
        assert_eq!(h.removed_stale(), [running]);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = AtomicFile::create(&dir.path().join("nope/out")).err().unwrap();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
