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
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .ctx("open", &path)?;
        match file.try_lock() {
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
