//! The library's error type: every failure says what went wrong and where.

use std::io;
use std::path::PathBuf;

/// Result alias for wfstore operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done ("open", "fsync", ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Another process holds the writer lock.
    #[error("store {} is already open for writing by {holder}", path.display())]
    Locked {
        /// The store directory.
        path: PathBuf,
        /// Who holds the lock, as the holder wrote it into the lock file.
        holder: String,
    },
    /// Bytes on disk are damaged in a way that recovery must not cut silently.
    #[error("{0}")]
    Corrupt(Box<Corruption>),
    /// The directory is not a wfstore store (or not one this build can read).
    #[error("{} is not a wfstore store: {why}", path.display())]
    NotAStore {
        /// The directory or file examined.
        path: PathBuf,
        /// What was missing or wrong.
        why: String,
    },
    /// A record body encodes to more than the frame limit allows.
    #[error("event encodes to {len} bytes, over the {max}-byte record limit")]
    RecordTooLarge {
        /// Encoded size (a lower bound when the encoding was cut short).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An earlier sync failed, so the store no longer accepts writes.
    #[error("store is poisoned after a failed sync ({0}); reopen it to recover")]
    Poisoned(Box<crate::store::PoisonCause>),
    /// The store is of an older format: it opens read-only, and `migrate` upgrades it.
    #[error("store {} is format version {version}: open it read-only, or run `wfstore migrate` to upgrade it", path.display())]
    NeedsMigration {
        /// The store directory.
        path: PathBuf,
        /// Its format version.
        version: u16,
    },
    /// A `migrate` of this store was interrupted: run it again to finish.
    #[error("a migration of store {} was interrupted: run `wfstore migrate` to finish it", path.display())]
    MigrationPending {
        /// The store directory.
        path: PathBuf,
    },
    /// A background thread of the store panicked (a bug): what it was doing is lost.
    #[error("the store's {thread} thread panicked")]
    ThreadPanicked {
        /// Which thread.
        thread: &'static str,
    },
    /// The store is closing or closed: the submission was not appended.
    #[error("store is closed")]
    Closed,
    /// The append queue is full (`try_append`): nothing was appended.
    #[error("append queue is full ({capacity} submissions waiting); nothing was appended")]
    QueueFull {
        /// The queue's capacity.
        capacity: usize,
    },
    /// A subscriber fell too far behind the log's head.
    #[error("subscriber lagged behind the log; resume from seq {resume_from}")]
    Lagged {
        /// The first seq the subscriber has not received.
        resume_from: u64,
    },
    /// A file given as an export target is not an export this store may write.
    #[error("{} is not a wfstore export of this store: {why}", path.display())]
    NotAnExport {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        why: String,
    },
    /// SQLite failed while exporting.
    #[cfg(feature = "sqlite")]
    #[error("sqlite {}: {source}", path.display())]
    Sqlite {
        /// The database.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A schema migration of an export failed; the database is as it was before the run.
    #[cfg(feature = "sqlite")]
    #[error(
        "migrating {} to schema version {version} failed in the {stage}: {why}; the database is unchanged{}",
        path.display(),
        backup.as_ref().map(|b| format!(" (its backup: {})", b.display())).unwrap_or_default()
    )]
    SqlMigration {
        /// The database.
        path: PathBuf,
        /// The migration that failed.
        version: u32,
        /// Where: "pre-migration checks", "backup", "steps", "post-migration verification".
        stage: &'static str,
        /// What went wrong.
        why: String,
        /// The copy taken before the first step, kept.
        backup: Option<PathBuf>,
    },
    /// PostgreSQL failed while exporting: the server's message, and its SQLSTATE when the
    /// server sent one. Never holds a password: the server is named as `user@host:port/db`.
    #[cfg(feature = "postgres")]
    #[error("postgres {server}, {context}: {source}{}", sqlstate_note(source))]
    Postgres {
        /// The server and database, without a password.
        server: String,
        /// What the export was doing.
        context: String,
        /// The client's error (the server's, for a database error).
        #[source]
        source: postgres::Error,
    },
    /// The store was opened read-only.
    #[error("store is open read-only")]
    ReadOnly,
    /// An option or argument is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A session id that no stored event has.
    #[error("no session {session:?} in the store")]
    UnknownSession {
        /// The id asked for.
        session: String,
    },
    /// A purge of this store was interrupted, or is running in another handle: a writable
    /// open finishes it (formats/purge.md).
    #[error("a purge of store {} is not finished: open it for writing to finish it, or retry", path.display())]
    PurgePending {
        /// The store directory.
        path: PathBuf,
    },
    /// A state or replay asked for a point before the log's start: retention removed the
    /// events it needs.
    #[error(
        "seq {seq} is before the log's start: retention removed it; the earliest state available is after seq {first}"
    )]
    BeforeLogStart {
        /// The seq asked for.
        seq: u64,
        /// The earliest seq whose state can be rebuilt.
        first: u64,
    },
    /// A path given as a backup source is not a wfstore backup.
    #[error("{} is not a wfstore backup: {why}", path.display())]
    NotABackup {
        /// The file or directory examined.
        path: PathBuf,
        /// What was missing or wrong.
        why: String,
    },
    /// A backup destination this backup must not write into (another store's backup, a
    /// directory holding other files, a live store).
    #[error("cannot back up into {}: {why}", path.display())]
    BackupTarget {
        /// The destination.
        path: PathBuf,
        /// Why not.
        why: String,
    },
    /// A restore target that is not a new or empty directory (a live store is never
    /// restored over).
    #[error("cannot restore into {}: {why}", path.display())]
    RestoreTarget {
        /// The target directory.
        path: PathBuf,
        /// Why not.
        why: String,
    },
    /// A point-in-time restore asked for a seq inside a batch: batches are atomic, so the
    /// log can only end at a batch boundary.
    #[error(
        "seq {seq} is inside the batch of seqs {first}..={last}: batches are atomic; restore to seq {} or {last}",
        first.saturating_sub(1)
    )]
    MidBatch {
        /// The seq asked for.
        seq: u64,
        /// The batch's first seq.
        first: u64,
        /// The batch's last seq.
        last: u64,
    },
    /// A record's frame is intact but its body does not decode.
    #[error("seq {seq}: record body does not decode: {why}")]
    Decode {
        /// The record's seq.
        seq: u64,
        /// The decoder's message.
        why: String,
    },
}

/// Where and what: a damaged byte range the store refuses to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// The damaged file.
    pub path: PathBuf,
    /// Byte offset of the damage in that file.
    pub offset: u64,
    /// The seq expected there, when known.
    pub seq: Option<u64>,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for Corruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "corruption in {} at offset {}", self.path.display(), self.offset)?;
        if let Some(seq) = self.seq {
            write!(f, " (expected seq {seq})")?;
        }
        write!(f, ": {}", self.what)
    }
}

impl Error {
    /// Wraps an I/O error with the operation and the path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io { op, path: path.into(), source }
    }

    /// Builds a corruption error.
    pub fn corrupt(path: impl Into<PathBuf>, offset: u64, seq: Option<u64>, what: impl Into<String>) -> Self {
        Error::Corrupt(Box::new(Corruption { path: path.into(), offset, seq, what: what.into() }))
    }

    /// True when this error means damaged data (the CLI's exit code 3).
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corrupt(_))
    }
}

/// Adds the operation and path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|e| Error::io(op, path, e))
    }
}

/// ` (SQLSTATE 42501)` for a database error, nothing otherwise.
#[cfg(feature = "postgres")]
fn sqlstate_note(e: &postgres::Error) -> String {
    e.code().map(|c| format!(" (SQLSTATE {})", c.code())).unwrap_or_default()
}
