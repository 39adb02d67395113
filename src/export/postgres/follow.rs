//! `export postgres --follow`: keeps a database current with a live store, whichever
//! process writes it. Each round opens the store read-only (a read-only handle sees the log
//! as it was at its open), exports what is new since the bookmark in transactions of at
//! most `batch_events` events, then waits `commit_every`: a new event reaches the database
//! within about that long. Every round resumes from the bookmark, so a killed follower, a
//! restarted server or a dropped connection leaves no gap and no duplicate; a lost
//! connection is retried with a doubling wait, and said so through `notes`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Database, PgExportReport, PostgresExport, export};
use crate::error::{Error, Result};
use crate::store::{OpenOptions, Store};

/// How `follow` keeps a database current.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Content and batch size, as for one export (`incremental` is implied).
    pub export: PostgresExport,
    /// The wait between rounds: at most about this long between an event's append and its
    /// commit. Default 200 ms.
    pub commit_every: Duration,
    /// The longest wait between two attempts to reach a lost server. Default 5 s.
    pub max_backoff: Duration,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            export: PostgresExport { incremental: true, ..PostgresExport::default() },
            commit_every: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// What `follow` tells its caller as it goes.
#[derive(Debug)]
pub enum FollowNote<'a> {
    /// A round exported events or `AUDIT` records.
    Exported(&'a PgExportReport),
    /// The server could not be reached or the connection broke; the next attempt is in
    /// `retry_in`.
    Disconnected {
        /// Why.
        error: &'a Error,
        /// The wait before the next attempt.
        retry_in: Duration,
    },
    /// The server is reached again; following resumes from the bookmark.
    Reconnected,
}

/// Follows the store in `dir` into the database `conn` until `stop` is set. Returns an error
/// only for what waiting cannot mend: a damaged store, a database that is not an export of
/// it, a refusal by the server (a permission, say).
pub fn follow(
    dir: &Path,
    conn: &str,
    opts: &FollowOptions,
    stop: &AtomicBool,
    notes: &mut dyn FnMut(FollowNote<'_>),
) -> Result<()> {
    let export_opts = PostgresExport { incremental: true, ..opts.export.clone() };
    let mut retry = Retry::new(opts.max_backoff);
    let mut db: Option<Database> = None;
    while !stop.load(Ordering::Acquire) {
        let d = match db.as_mut() {
            Some(d) => d,
            None => match Database::connect(conn) {
                Ok(d) => {
                    // Said before the round: its first commit may be seen before it ends.
                    retry.reached(notes);
                    db.insert(d)
                }
                Err(e) if retryable(&e, None) => {
                    retry.wait(&e, stop, notes);
                    continue;
                }
                Err(e) => return Err(e),
            },
        };
        let round = Store::open(dir, &OpenOptions::read_only())
            .and_then(|s| export(&s, d, &export_opts, &mut |_, _| {}));
        match round {
            Ok(report) => {
                if report.events > 0 || report.audit_records > 0 {
                    notes(FollowNote::Exported(&report));
                }
                pause(opts.commit_every, stop);
            }
            Err(e) if retryable(&e, Some(d)) => {
                db = None;
                retry.wait(&e, stop, notes);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The doubling wait between attempts to reach a lost server.
struct Retry {
    first: Duration,
    max: Duration,
    next: Duration,
    lost: bool,
}

impl Retry {
    fn new(max: Duration) -> Retry {
        let first = Duration::from_millis(100).min(max);
        Retry { first, max, next: first, lost: false }
    }

    /// Says why and waits before the next attempt.
    fn wait(&mut self, e: &Error, stop: &AtomicBool, notes: &mut dyn FnMut(FollowNote<'_>)) {
        self.lost = true;
        notes(FollowNote::Disconnected { error: e, retry_in: self.next });
        pause(self.next, stop);
        self.next = (self.next * 2).min(self.max);
    }

    /// A connection was made: says so if the server had been lost.
    fn reached(&mut self, notes: &mut dyn FnMut(FollowNote<'_>)) {
        self.next = self.first;
        if std::mem::take(&mut self.lost) {
            notes(FollowNote::Reconnected);
        }
    }
}

/// Whether waiting may mend `e`: the server was not reached (an I/O error), the connection
/// broke, or the server is shutting down or starting (SQLSTATE classes 08 and 57P).
fn retryable(e: &Error, db: Option<&mut Database>) -> bool {
    let Error::Postgres { source, .. } = e else { return false };
    let closed = source.is_closed() || db.is_some_and(|d| d.client().is_closed());
    let io = std::error::Error::source(source).is_some_and(|s| s.is::<std::io::Error>());
    let code = source.code().map(|c| c.code());
    closed || io || code.is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
}

/// Sleeps `d`, waking early when `stop` is set.
fn pause(d: Duration, stop: &AtomicBool) {
    let until = Instant::now() + d;
    while !stop.load(Ordering::Acquire) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}
