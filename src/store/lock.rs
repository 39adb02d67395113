//! The writer lock: an exclusive `flock` on `LOCK`. The kernel drops it when the holder dies,
//! so a lock left by a killed process never blocks the next open.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{Error, IoContext, Result};

/// The lock file's name.
pub const LOCK_FILE: &str = "LOCK";

/// Held for as long as a store is open for writing.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes the lock, or says who holds it. Changes no byte unless the lock was won.
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        if path.symlink_metadata().is_ok() {
            // A FIFO under this name would block the open forever.
            crate::disk::check_regular(&path)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .ctx("open", &path)?;
        match try_lock(&file) {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "another process".to_owned(),
                    h => h.to_owned(),
                };
                return Err(Error::Locked { path: dir.to_owned(), holder });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", path, e)),
        }
        let me = format!("pid {}", std::process::id());
        file.set_len(0).ctx("truncate", &path)?;
        file.seek(SeekFrom::Start(0)).ctx("seek", &path)?;
        file.write_all(me.as_bytes()).ctx("write", &path)?;
        Ok(WriterLock { _file: file })
    }
}

/// Takes the exclusive lock, retrying for up to 50 ms: a reader asking whether a writer is
/// live holds a shared lock for an instant (`writer_live`), and a child process forked
/// while the lock was held keeps a copy of it until it execs; neither is a writer.
fn try_lock(file: &File) -> Result<(), std::fs::TryLockError> {
    for _ in 0..50 {
        match file.try_lock() {
            Err(std::fs::TryLockError::WouldBlock) => std::thread::sleep(std::time::Duration::from_millis(1)),
            other => return other,
        }
    }
    file.try_lock()
}

/// Whether a writer holds the store in `dir` right now: a shared lock attempt on `LOCK`
/// fails while one does. Taken and released at once, so a reader never blocks a writer. A
/// missing or unreadable `LOCK` (a read-only copy of a store) means no writer.
pub fn writer_live(dir: &Path) -> bool {
    let path = dir.join(LOCK_FILE);
    if crate::disk::check_regular(&path).is_err() {
        return false;
    }
    let Ok(file) = File::open(&path) else { return false };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => false,
    }
}
