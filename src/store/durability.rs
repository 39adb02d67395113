//! The durability component: the one owner of the sync policy, the durable seq, poison and
//! the high-water mark (formats/recovery.md). Its rules live here and nowhere else:
//!
//! - the durable seq moves only forward, only after a successful sync, and never once the
//!   store is poisoned;
//! - a failed sync poisons the store: every waiter and every later write gets the first
//!   error, nothing is retried;
//! - the high-water mark in `STORE` is written only after the sync that made it true, at
//!   most every `EVIDENCE_INTERVAL` (and at close), and never past the durable seq.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::options::Durability;
use crate::disk::Disk;
use crate::error::{Error, Result};
use crate::meta::{Marks, StoreWriter};
use crate::segment::Segment;

/// How often, at most, the high-water mark is rewritten while the store is busy.
pub(super) const EVIDENCE_INTERVAL: Duration = Duration::from_millis(100);

/// Why a store is poisoned: the first failed sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoisonCause {
    /// What was being made durable ("msync", "fdatasync of a sealed segment", ...).
    pub op: String,
    /// The file.
    pub path: PathBuf,
    /// The OS error's message.
    pub error: String,
}

impl std::fmt::Display for PoisonCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.op, self.path.display(), self.error)
    }
}

/// Durability state shared by the writer, the syncer, the committer and readers.
pub(super) struct Durable {
    policy: Durability,
    /// The last committed seq an msync/fdatasync has made durable.
    durable: AtomicU64,
    /// Every segment numbered up to this is synced whole (sealed, or recovered at open).
    sealed_through: AtomicU64,
    /// Held by the one thread syncing for a group of waiters (group commit).
    sync_lock: Mutex<()>,
    poisoned: AtomicBool,
    cause: Mutex<Option<PoisonCause>>,
    /// The `STORE` writer (writers only) and when it last recorded the high-water mark.
    evidence: Mutex<Option<(StoreWriter, Instant)>>,
}

impl Durable {
    /// A tracker whose log is durable through `durable`; `store` records evidence (a
    /// writer's), `None` for readers.
    pub fn new(policy: Durability, durable: u64, sealed_through: u64, store: Option<StoreWriter>) -> Durable {
        Durable {
            policy,
            durable: AtomicU64::new(durable),
            sealed_through: AtomicU64::new(sealed_through),
            sync_lock: Mutex::new(()),
            poisoned: AtomicBool::new(false),
            cause: Mutex::new(None),
            evidence: Mutex::new(store.map(|s| (s, Instant::now()))),
        }
    }

    /// The policy.
    pub fn policy(&self) -> Durability {
        self.policy
    }

    /// The last seq really on disk (after a sync).
    pub fn durable(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    /// The seq up to which the log is as durable as the policy promises, given the last
    /// committed seq: with `None`, what survives a process crash (everything committed).
    pub fn promised(&self, last_committed: u64) -> u64 {
        match self.policy {
            Durability::None => last_committed,
            _ => self.durable(),
        }
    }

    /// Records that a sync made the log durable through `seq`; false (and nothing moves)
    /// once poisoned.
    pub fn mark(&self, seq: u64) -> bool {
        if self.is_poisoned() {
            return false;
        }
        self.durable.fetch_max(seq, Ordering::AcqRel);
        true
    }

    /// Makes the log durable through `last` (the last committed seq; callers read it
    /// before the segment list, so the list covers its frame), syncing the segments.
    /// Group commit: the first waiter syncs; those queued behind the lock are usually
    /// covered by then. Returns whether it synced anything.
    pub fn sync_through(
        &self,
        target: u64,
        last: impl FnOnce() -> (u64, Arc<Vec<Arc<Segment>>>),
    ) -> Result<bool> {
        if self.durable() >= target {
            return self.check().map(|()| false);
        }
        let _syncing = self.sync_lock.lock();
        self.check()?;
        if self.durable() >= target {
            return Ok(false);
        }
        let (last, segments) = last();
        if let Err(e) = self.sync_segments(&segments) {
            return Err(self.poison_with(e));
        }
        self.mark(last);
        Ok(true)
    }

    /// Syncs the active segment, and any the writer has left that the syncer has not
    /// finished sealing (a barrier must not wait for its queue).
    fn sync_segments(&self, segments: &[Arc<Segment>]) -> Result<()> {
        let Some((active, left)) = segments.split_last() else { return Ok(()) };
        let sealed = self.sealed_through();
        for seg in left.iter().rev().take_while(|s| s.no() > sealed) {
            seg.sync_file()?;
        }
        active.sync_published()
    }

    /// Every segment numbered up to this is synced whole.
    pub fn sealed_through(&self) -> u64 {
        self.sealed_through.load(Ordering::Acquire)
    }

    /// Segment `no` (and, the syncer sealing in order, every one before it) is synced whole.
    pub fn sealed(&self, no: u64) {
        if !self.is_poisoned() {
            self.sealed_through.fetch_max(no, Ordering::AcqRel);
        }
    }

    /// Poisons the store with the error of a failed sync; returns the error every caller
    /// gets from now on.
    pub fn poison_with(&self, e: Error) -> Error {
        let cause = match &e {
            Error::Io { op, path, source } => {
                PoisonCause { op: (*op).to_owned(), path: path.clone(), error: source.to_string() }
            }
            other => PoisonCause { op: "sync".into(), path: PathBuf::new(), error: other.to_string() },
        };
        self.poison(cause);
        self.error()
    }

    /// Poisons the store (the first cause wins).
    pub fn poison(&self, cause: PoisonCause) {
        self.cause.lock().get_or_insert(cause);
        self.poisoned.store(true, Ordering::Release);
    }

    /// True once a sync failed.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// `Ok` unless poisoned.
    pub fn check(&self) -> Result<()> {
        if self.is_poisoned() { Err(self.error()) } else { Ok(()) }
    }

    /// The error every write gets once poisoned.
    pub fn error(&self) -> Error {
        let cause = self.cause.lock().clone();
        Error::Poisoned(Box::new(cause.unwrap_or_else(|| PoisonCause {
            op: "sync".into(),
            path: PathBuf::new(),
            error: "unknown".into(),
        })))
    }

    /// Durably moves the log's start to `start` (retention's commit point), with the
    /// high-water mark brought up to the durable seq. A failure poisons the store.
    pub fn set_log_start(&self, disk: &Disk, start: u64) -> Result<()> {
        let mut guard = self.evidence.lock();
        let Some((store, _)) = guard.as_mut() else { return Err(Error::ReadOnly) };
        self.check()?;
        let marks = store.marks();
        let marks =
            Marks { high_water: marks.high_water.max(self.durable()), log_start: start.max(marks.log_start) };
        store.update(disk, marks).map_err(|e| self.poison_with(e))
    }

    /// Writes the durable seq as the high-water mark if it moved, and if `force` or the
    /// last write is `EVIDENCE_INTERVAL` old. A failure poisons the store.
    pub fn record_evidence(&self, disk: &Disk, force: bool) -> Result<()> {
        let mut guard = self.evidence.lock();
        let Some((store, last)) = guard.as_mut() else { return Ok(()) };
        self.check()?;
        let durable = self.durable();
        if durable <= store.marks().high_water || (!force && last.elapsed() < EVIDENCE_INTERVAL) {
            return Ok(());
        }
        let marks = Marks { high_water: durable, ..store.marks() };
        match store.update(disk, marks) {
            Ok(()) => {
                *last = Instant::now();
                Ok(())
            }
            Err(e) => Err(self.poison_with(e)),
        }
    }
}
