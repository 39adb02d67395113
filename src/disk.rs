//! Every file-system call the engine makes goes through one seam, `Disk`, which owns the
//! durability protocol (write a temp file, fsync, rename, fsync the directory) and nothing
//! else. In production it is a thin wrapper over the system calls. Tests install a
//! [`DiskHook`] that sees each operation before it runs (and may fail it: I/O errors at the
//! Nth operation) and after it succeeded (the power-loss recorder copies what a sync made
//! durable). Writes through a segment's mapping are memory stores, not calls: the hook sees
//! them when they are synced (`Op::SyncRange`, `Op::SyncFile`).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _};
use std::os::unix::fs::{FileExt as _, FileTypeExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, IoContext, Result};
use crate::io_util;

/// Suffix of files being written; a leftover one is removed on open.
pub const TMP_SUFFIX: &str = ".tmp";

/// One file-system operation, as a hook sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op<'a> {
    /// Opening an existing file (for writing when `write`).
    Open {
        /// The file.
        path: &'a Path,
        /// Opened for writing.
        write: bool,
    },
    /// Creating a new file.
    Create {
        /// The file.
        path: &'a Path,
    },
    /// Giving a file real blocks up to `len` (`fallocate`).
    Preallocate {
        /// The file.
        path: &'a Path,
        /// Its new length.
        len: u64,
    },
    /// Cutting or extending a file to `len` (`ftruncate`).
    SetLen {
        /// The file.
        path: &'a Path,
        /// Its new length.
        len: u64,
    },
    /// Mapping the first `len` bytes of a file.
    Map {
        /// The file.
        path: &'a Path,
        /// Bytes mapped.
        len: usize,
        /// A writable, shared mapping.
        write: bool,
    },
    /// Making bytes `from..to` of a mapped file durable (`msync`).
    SyncRange {
        /// The file.
        path: &'a Path,
        /// First byte.
        from: usize,
        /// One past the last byte.
        to: usize,
    },
    /// Making a whole file durable (`fsync`/`fdatasync`).
    SyncFile {
        /// The file.
        path: &'a Path,
    },
    /// Making a directory's entries durable (`fsync` of the directory).
    SyncDir {
        /// The directory.
        path: &'a Path,
    },
    /// Writing `len` bytes at `offset` (`pwrite`, or the whole content of a new file).
    Write {
        /// The file.
        path: &'a Path,
        /// Where.
        offset: u64,
        /// How many bytes.
        len: usize,
    },
    /// Renaming a file (replacing `to` if it exists).
    Rename {
        /// The old name.
        from: &'a Path,
        /// The new name.
        to: &'a Path,
    },
    /// Removing a file.
    Remove {
        /// The file.
        path: &'a Path,
    },
    /// Creating a directory.
    CreateDir {
        /// The directory.
        path: &'a Path,
    },
    /// Making `to` a second name of the file `from` (a hard link; backups reuse files).
    Link {
        /// The existing file.
        from: &'a Path,
        /// The new name.
        to: &'a Path,
    },
}

/// The class of an operation: what fault injection counts ("the 3rd msync").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum OpKind {
    /// `Op::Open`.
    Open,
    /// `Op::Create`.
    Create,
    /// `Op::Preallocate`.
    Preallocate,
    /// `Op::SetLen`.
    SetLen,
    /// `Op::Map`.
    Map,
    /// `Op::SyncRange`.
    SyncRange,
    /// `Op::SyncFile`.
    SyncFile,
    /// `Op::SyncDir`.
    SyncDir,
    /// `Op::Write`.
    Write,
    /// `Op::Rename`.
    Rename,
    /// `Op::Remove`.
    Remove,
    /// `Op::CreateDir`.
    CreateDir,
    /// `Op::Link`.
    Link,
}

impl Op<'_> {
    /// The operation's class.
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Open { .. } => OpKind::Open,
            Op::Create { .. } => OpKind::Create,
            Op::Preallocate { .. } => OpKind::Preallocate,
            Op::SetLen { .. } => OpKind::SetLen,
            Op::Map { .. } => OpKind::Map,
            Op::SyncRange { .. } => OpKind::SyncRange,
            Op::SyncFile { .. } => OpKind::SyncFile,
            Op::SyncDir { .. } => OpKind::SyncDir,
            Op::Write { .. } => OpKind::Write,
            Op::Rename { .. } => OpKind::Rename,
            Op::Remove { .. } => OpKind::Remove,
            Op::CreateDir { .. } => OpKind::CreateDir,
            Op::Link { .. } => OpKind::Link,
        }
    }

    /// The file (or directory) the operation is about; a rename's new name.
    pub fn path(&self) -> &Path {
        match self {
            Op::Open { path, .. }
            | Op::Create { path }
            | Op::Preallocate { path, .. }
            | Op::SetLen { path, .. }
            | Op::Map { path, .. }
            | Op::SyncRange { path, .. }
            | Op::SyncFile { path }
            | Op::SyncDir { path }
            | Op::Write { path, .. }
            | Op::Remove { path }
            | Op::CreateDir { path } => path,
            Op::Rename { to, .. } | Op::Link { to, .. } => to,
        }
    }
}

/// Sees every file-system operation of a store: for fault injection and crash simulation
/// in tests. Not for applications.
pub trait DiskHook: Send + Sync {
    /// Called before `op` runs; an error is returned to the store instead of running it.
    fn before(&self, op: &Op<'_>) -> io::Result<()>;
    /// Called after `op` succeeded.
    fn after(&self, op: &Op<'_>);
}

/// The file-system seam: the real calls, seen by an optional hook.
#[derive(Clone, Default)]
pub struct Disk {
    hook: Option<Arc<dyn DiskHook>>,
}

impl fmt::Debug for Disk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.hook.is_some() { "Disk(hooked)" } else { "Disk" })
    }
}

impl Disk {
    /// A disk whose every operation `hook` sees.
    pub fn hooked(hook: Arc<dyn DiskHook>) -> Disk {
        Disk { hook: Some(hook) }
    }

    /// Runs `f` as operation `op`: asks the hook first, tells it after a success.
    pub(crate) fn run<T>(&self, op: Op<'_>, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        if let Some(h) = &self.hook {
            h.before(&op)?;
        }
        let out = f()?;
        if let Some(h) = &self.hook {
            h.after(&op);
        }
        Ok(out)
    }

    /// Opens an existing regular file for reading. Anything but a regular file is refused
    /// before it is opened (a FIFO would block the open).
    pub fn open(&self, path: &Path) -> Result<File> {
        check_regular(path)?;
        self.run(Op::Open { path, write: false }, || File::open(path)).ctx("open", path)
    }

    /// Opens an existing regular file for reading and writing.
    pub fn open_rw(&self, path: &Path) -> Result<File> {
        check_regular(path)?;
        self.run(Op::Open { path, write: true }, || OpenOptions::new().read(true).write(true).open(path))
            .ctx("open", path)
    }

    /// Creates `path`, which must not exist, for reading and writing.
    pub fn create_new(&self, path: &Path) -> Result<File> {
        self.run(Op::Create { path }, || {
            OpenOptions::new().read(true).write(true).create_new(true).open(path)
        })
        .ctx("create", path)
    }

    /// Extends (or fills holes in) a file up to `len` bytes of allocated blocks. A sparse
    /// file would turn a full disk into SIGBUS on a mapped write; `fallocate` fails up front.
    pub fn preallocate(&self, file: &File, path: &Path, len: u64) -> Result<()> {
        self.run(Op::Preallocate { path, len }, || {
            rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len)?;
            Ok(())
        })
        .ctx("preallocate", path)
    }

    /// Cuts or extends a file to `len` bytes.
    pub fn set_len(&self, file: &File, path: &Path, len: u64) -> Result<()> {
        self.run(Op::SetLen { path, len }, || file.set_len(len)).ctx("truncate", path)
    }

    /// Makes a file's data and size durable (`fdatasync`).
    pub fn sync_file(&self, file: &File, path: &Path) -> Result<()> {
        self.run(Op::SyncFile { path }, || file.sync_data()).ctx("fdatasync", path)
    }

    /// Makes a directory's entries (created, renamed, removed files) durable.
    pub fn sync_dir(&self, dir: &Path) -> Result<()> {
        self.run(Op::SyncDir { path: dir }, || File::open(dir).and_then(|d| d.sync_all()))
            .ctx("fsync directory", dir)
    }

    /// Writes `bytes` at `offset` of an open file (not synced).
    pub fn write_at(&self, file: &File, path: &Path, offset: u64, bytes: &[u8]) -> Result<()> {
        self.run(Op::Write { path, offset, len: bytes.len() }, || file.write_all_at(bytes, offset))
            .ctx("write", path)
    }

    /// Renames `from` to `to`, replacing `to` (not synced: see `sync_dir`).
    pub fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.run(Op::Rename { from, to }, || fs::rename(from, to)).ctx("rename", from)
    }

    /// Removes a file (not synced: see `sync_dir`).
    pub fn remove(&self, path: &Path) -> Result<()> {
        self.run(Op::Remove { path }, || fs::remove_file(path)).ctx("remove", path)
    }

    /// Makes `to` a hard link to `from` (not synced: see `sync_dir`).
    pub fn hard_link(&self, from: &Path, to: &Path) -> Result<()> {
        self.run(Op::Link { from, to }, || fs::hard_link(from, to)).ctx("link", to)
    }

    /// Removes a directory and everything under it (a backup's staging or a rotated
    /// backup; never a store's own files). Not synced: see `sync_dir`.
    pub fn remove_tree(&self, path: &Path) -> Result<()> {
        self.run(Op::Remove { path }, || fs::remove_dir_all(path)).ctx("remove directory", path)
    }

    /// Creates a directory and makes its entry durable.
    pub fn create_dir(&self, path: &Path) -> Result<()> {
        self.run(Op::CreateDir { path }, || fs::create_dir(path)).ctx("create directory", path)?;
        self.sync_dir(parent(path))
    }

    /// Reads a whole regular file of at most `max` bytes. A longer file is an error before
    /// more than `max + 1` bytes are read: a file on disk never decides how much is allocated.
    pub fn read_bounded(&self, path: &Path, max: u64) -> Result<Vec<u8>> {
        let file = self.open(path)?;
        let mut bytes = Vec::new();
        file.take(max.saturating_add(1)).read_to_end(&mut bytes).ctx("read", path)?;
        if bytes.len() as u64 > max {
            let e = io::Error::new(io::ErrorKind::InvalidData, format!("longer than the {max}-byte limit"));
            return Err(Error::io("read", path, e));
        }
        Ok(bytes)
    }

    /// Publishes `bytes` as `dir/name` atomically: write a temp file with a random name,
    /// fsync it, rename it over the target, fsync the directory. A crash leaves the old file
    /// or the new one, never a mix; a failure leaves no temp file behind.
    pub fn write_atomic(&self, dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
        self.write_atomic_with(dir, name, |out| out.write_all(bytes))
    }

    /// `write_atomic` of the content `write` streams into the writer it is given: each of
    /// its writes is one `Op::Write`.
    pub fn write_atomic_with(
        &self,
        dir: &Path,
        name: &str,
        write: impl FnOnce(&mut dyn io::Write) -> io::Result<()>,
    ) -> Result<()> {
        let (tmp, file) = self.create_temp(dir, name)?;
        let mut out = NewFile { disk: self, file: &file, path: &tmp, offset: 0 };
        let written = write(&mut out).ctx("write", &tmp).and_then(|()| self.sync_file(&file, &tmp));
        drop(file);
        if let Err(e) = written.and_then(|()| self.rename(&tmp, &dir.join(name))) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        self.sync_dir(dir)
    }

    /// A new temp file `dir/.name.<random>.tmp`: its name is unique, so two writers never
    /// share one (and a leftover is recognised by its suffix).
    pub fn create_temp(&self, dir: &Path, name: &str) -> Result<(PathBuf, File)> {
        let mut last = None;
        for _ in 0..16 {
            let tmp = dir.join(format!(".{name}.{:016x}{TMP_SUFFIX}", io_util::random_u64()));
            match self.create_new(&tmp) {
                Ok(f) => return Ok((tmp, f)),
                Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => {
                    last = Some(source);
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::io(
            "create a temp file in",
            dir,
            last.unwrap_or_else(|| io::ErrorKind::AlreadyExists.into()),
        ))
    }
}

/// A file being written from its start, each write seen by the disk's hook.
struct NewFile<'a> {
    disk: &'a Disk,
    file: &'a File,
    path: &'a Path,
    offset: u64,
}

impl io::Write for NewFile<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (path, offset) = (self.path, self.offset);
        self.disk.run(Op::Write { path, offset, len: buf.len() }, || self.file.write_all_at(buf, offset))?;
        self.offset += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Refuses anything at `path` that is not a regular file, without opening it; returns the
/// file's metadata.
pub fn check_regular(path: &Path) -> Result<fs::Metadata> {
    let meta = fs::symlink_metadata(path).ctx("stat", path)?;
    let t = meta.file_type();
    if t.is_file() {
        return Ok(meta);
    }
    let what = if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a device"
    };
    Err(Error::corrupt(path, 0, None, format!("{what} where the store keeps a regular file")))
}

/// `Ok(None)` for a file that is not there (any more): a live writer renames and removes
/// files while a reader lists them.
pub fn vanished<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The directory holding `path` (`.` for a bare name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// True when `path` names a leftover temp file.
pub fn is_temp(name: &str) -> bool {
    name.ends_with(TMP_SUFFIX)
}
