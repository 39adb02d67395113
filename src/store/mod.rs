//! The store: a directory of segments with one writer and any number of readers.
//!
//! - `recover`: recovery on open (formats/recovery.md).
//! - `durability`: the durable seq, the sync policy, poison and the high-water mark.
//! - `prepare`: new segment files, and activating one on a roll.
//! - `writer`: the append path and segment rolls.
//! - `read`: reads by seq, seq ranges and sessions.
//! - `housekeeper`: the background threads (prepare; seal and periodic sync).
//! - `lock`: the single-writer lock.
//! - `create`: a new store's files, and a fresh first segment.
//! - `options`: open and create options.
//! - `state`: the energy state (snapshot + replay), time travel, snapshots on demand.
//! - `snapshotter`: the background thread that publishes snapshots.
//! - `appender`: appender handles, the bounded queue, the writer and committer threads.
//! - `frames`: frame-aware commits (`commit_frame`, `durable_frame`).
//! - `metrics`: the latency histograms `metrics()` returns.

mod appender;
#[cfg(feature = "tokio")]
mod async_api;
mod batch;
mod create;
mod durability;
mod frames;
mod housekeeper;
mod lock;
mod metrics;
mod options;
mod prepare;
pub(crate) mod purge;
mod read;
mod read_ahead;
pub(crate) mod recover;
mod retention;
mod snapshotter;
mod state;
mod stats;
mod writer;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::disk::Disk;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::meta::{StoreFile, StoreMeta, StoreWriter};
use crate::segment::Segment;
pub use appender::{Appender, Pending};
#[cfg(feature = "tokio")]
pub use async_api::{AsyncAppender, MAX_LAG_DEFAULT, Subscription};
pub use batch::Batch;
pub(crate) use create::fresh_first_segment;
pub use durability::PoisonCause;
pub use frames::FrameCommit;
pub use lock::LOCK_FILE;
pub use metrics::Metrics;
pub use options::{CreateOptions, Durability, OpenOptions, SnapshotPolicy};
pub use purge::PurgeReport;
pub use read::{Record, RecordIter, SessionIter};
pub use recover::{Loss, RecoveryReport, TornTail};
pub use retention::{RetainRule, Retention, RetentionReport};
pub use state::{ReplayTarget, StateRecovery};
pub use stats::Stats;
use writer::Writer;

/// An open store. Reads take `&self` and run concurrently with appends.
pub struct Store {
    shared: Arc<Shared>,
    writer: Option<Arc<Mutex<Writer>>>,
    /// The appender pipeline's threads, started by the first `appender()` call.
    pipeline: Mutex<Option<appender::Threads>>,
    queue_capacity: usize,
    housekeeper: Option<housekeeper::Housekeeper>,
    snapshotter: Option<snapshotter::Snapshotter>,
    report: RecoveryReport,
    _lock: Option<lock::WriterLock>,
}

/// The writer lock, held (`Store::pause_writer`).
#[doc(hidden)]
pub struct WriterPause<'a> {
    _guard: parking_lot::MutexGuard<'a, Writer>,
}

/// State readers and the writer share.
pub(crate) struct Shared {
    dir: PathBuf,
    meta: StoreMeta,
    /// The store's format version (1: read-only until `migrate`).
    version: u16,
    disk: Disk,
    writable: bool,
    /// Copy-on-write: a reader clones one `Arc`, a roll copies the list.
    segments: RwLock<Arc<Vec<Arc<Segment>>>>,
    /// Seq of the last committed record; `log_start - 1` when the log is empty.
    last_seq: AtomicU64,
    /// The first seq the log holds: moves forward when retention removes segments.
    log_start: AtomicU64,
    /// The durable seq, the policy, poison and the high-water mark.
    durable: durability::Durable,
    warnings: Mutex<Vec<String>>,
    frames: Mutex<frames::Frames>,
    /// Every histogram but `append`, which the writer keeps under its own lock.
    metrics: Mutex<Metrics>,
    clock: metrics::LatencyClock,
    /// Set when the store closes: subscriptions end once they have read everything.
    closed: AtomicBool,
    /// Held by the lifecycle operations that must not overlap (backup, purge, retention):
    /// a purge rewrites sealed segments in place, retention removes them.
    lifecycle: Mutex<()>,
    /// Held while index files are written or scrubbed: by the syncer as it seals a segment
    /// (remap, index file) and by a purge from its tombstones to its fresh indexes, so that a
    /// seal never writes an index built before the purge, nor loses its temp file to it.
    index_files: Mutex<()>,
    /// Moves when a purge rewrote the log: a state followed incrementally (the
    /// snapshotter's) must be rebuilt.
    state_epoch: AtomicU64,
    /// Subscriptions waiting for an append, and how they are woken.
    #[cfg(feature = "tokio")]
    listeners: std::sync::atomic::AtomicUsize,
    #[cfg(feature = "tokio")]
    published: tokio::sync::Notify,
}

impl Store {
    /// Opens a store, recovering it: see `RecoveryReport` for what was cut or repaired.
    pub fn open(dir: impl AsRef<Path>, opts: &OpenOptions) -> Result<Store> {
        Self::open_inner(dir.as_ref(), opts, false)
    }

    /// A read-only open for `migrate`'s check of the store it switched, beside its own
    /// directories.
    pub(crate) fn open_for_check(dir: &Path) -> Result<Store> {
        Self::open_inner(dir, &OpenOptions::read_only(), true)
    }

    fn open_inner(dir: &Path, opts: &OpenOptions, migrating: bool) -> Result<Store> {
        let dir = dir.to_owned();
        let disk = opts.disk.clone();
        // Mid-migration, `STORE` may be in either place: say so before reading it.
        if !migrating && recover::files::migration_pending(&dir) {
            return Err(Error::MigrationPending { path: dir });
        }
        let file = StoreFile::load(&disk, &dir)?;
        let writable = !opts.read_only;
        if writable && file.version != crate::meta::VERSION {
            return Err(Error::NeedsMigration { path: dir, version: file.version });
        }
        let lock = if writable { Some(lock::WriterLock::acquire(&dir)?) } else { None };
        // A purge past its commit point is finished before the log is read (its frames may
        // be half rewritten); a reader waits for a writer to finish it.
        let finished_purge = if writable {
            purge::finish_interrupted(&disk, &dir, file.meta.store_id)?
        } else if dir.join(purge::journal::PURGE_FILE).exists() {
            return Err(Error::PurgePending { path: dir });
        } else {
            None
        };
        let mut store_writer = if writable { Some(StoreWriter::open(&disk, &dir, &file)?) } else { None };
        let rec = if writable {
            let cx = recover::Context { disk: &disk, dir: &dir, store: &file, writable, writer_live: false };
            recover::recover(&cx, store_writer.as_mut())?
        } else {
            read_only_recovery(&disk, &dir, &file)?
        };
        let committed = rec.next_seq - 1;
        let shared = Arc::new(Shared {
            dir,
            meta: file.meta,
            version: file.version,
            disk,
            writable,
            last_seq: AtomicU64::new(committed),
            log_start: AtomicU64::new(file.marks.log_start),
            // A writable open synced what recovery kept; a reader does not know.
            durable: durability::Durable::new(
                opts.durability,
                if writable { committed } else { 0 },
                rec.segments.last().map_or(0, |s| s.no().saturating_sub(1)),
                store_writer,
            ),
            segments: RwLock::new(Arc::new(rec.segments)),
            warnings: Mutex::new(Vec::new()),
            frames: Mutex::new(frames::Frames::default()),
            metrics: Mutex::new(Metrics::new()?),
            clock: metrics::LatencyClock::new(),
            closed: AtomicBool::new(false),
            lifecycle: Mutex::new(()),
            index_files: Mutex::new(()),
            state_epoch: AtomicU64::new(0),
            #[cfg(feature = "tokio")]
            listeners: std::sync::atomic::AtomicUsize::new(0),
            #[cfg(feature = "tokio")]
            published: tokio::sync::Notify::new(),
        });
        let mut store = Store {
            shared: Arc::clone(&shared),
            writer: None,
            pipeline: Mutex::new(None),
            queue_capacity: opts.queue_capacity,
            housekeeper: None,
            snapshotter: None,
            report: RecoveryReport { finished_purge, ..rec.report },
            _lock: lock,
        };
        if writable {
            let removed = state::remove_unbound_snapshots(&store.shared, rec.scanned_from)?;
            store.report.removed_snapshots.extend(removed);
            let (prep_tx, prep_rx) = crossbeam_channel::bounded(1);
            let period = match opts.durability {
                Durability::Periodic(p) => Some(p),
                _ => None,
            };
            let hk = housekeeper::Housekeeper::spawn(&shared, prep_tx, period)?;
            let token = rec.token.ok_or(Error::ReadOnly)?;
            let (prepare, sync) = (hk.prepare.clone(), hk.sync.clone());
            let latency = metrics::histogram()?;
            let writer = Writer::new(shared, token, rec.next_seq, rec.spare, prepare, sync, prep_rx, latency);
            store.writer = Some(Arc::new(Mutex::new(writer)));
            store.housekeeper = Some(hk);
            if let Some(policy) = opts.snapshots {
                store.snapshotter =
                    Some(snapshotter::Snapshotter::spawn(&store.shared, policy, opts.retention)?);
            }
        }
        Ok(store)
    }

    /// What recovery found and did when this store was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// Appends one event; returns its seq.
    pub fn append(&self, event: &Event) -> Result<u64> {
        self.append_batch(std::slice::from_ref(event)).map(|r| r.start)
    }

    /// Appends events with consecutive seqs as one batch; returns their seq range. The
    /// batch is atomic: after an error, a crash or a power loss, either all of it is in the
    /// log or none of it is.
    ///
    /// With `Durability::Always` it returns once the batch is on disk. The sync happens after
    /// the writer lock is released, and one sync serves every producer waiting at the time
    /// (group commit): producers that keep batches in flight share each fsync.
    pub fn append_batch(&self, events: &[Event]) -> Result<Range<u64>> {
        let start = self.shared.clock.start();
        let range = {
            let mut w = self.writer()?.lock();
            let range = w.append_batch(events);
            w.record_append(start);
            range?
        };
        if self.shared.durable.policy() == Durability::Always && !range.is_empty() {
            self.shared.sync_through(range.end - 1)?;
        }
        Ok(range)
    }

    /// A durability barrier: returns once every event appended so far is on disk.
    pub fn flush(&self) -> Result<()> {
        self.writer()?;
        self.shared.sync_through(self.last_seq())
    }

    /// The last seq known to be on disk (synced), whatever the durability policy: what a
    /// power loss cannot take. Only a writer knows it; a read-only handle says 0.
    pub fn durable_seq(&self) -> u64 {
        self.shared.durable.durable()
    }

    /// A function that reads `durable_seq` without holding the store: the fault-simulation
    /// recorder calls it from inside the store's own I/O. Not for applications.
    #[doc(hidden)]
    pub fn durable_probe(&self) -> impl Fn() -> u64 + Send + Sync + 'static {
        // Weak: the probe lives in the disk hook, which the store holds; a strong reference
        // would make a cycle and leak the store.
        let shared = Arc::downgrade(&self.shared);
        move || shared.upgrade().map_or(0, |s| s.durable.durable())
    }

    /// The store's format version: 2, or 1 for a store that must be migrated (it opens
    /// read-only).
    pub fn format_version(&self) -> u16 {
        self.shared.version
    }

    /// A handle for appending from any thread through the bounded queue (see
    /// `Appender`). The first call starts the writer and committer threads.
    pub fn appender(&self) -> Result<Appender> {
        let writer = self.writer()?;
        let mut pipeline = self.pipeline.lock();
        if pipeline.is_none() {
            let threads = appender::Threads::spawn(&self.shared, Arc::clone(writer), self.queue_capacity)?;
            *pipeline = Some(threads);
        }
        match pipeline.as_ref() {
            Some(threads) => Ok(threads.appender()),
            None => Err(Error::Closed),
        }
    }

    /// Holds the writer lock until the guard drops, so that tests can fill the appender
    /// queue deterministically. Not for applications.
    #[doc(hidden)]
    pub fn pause_writer(&self) -> Result<WriterPause<'_>> {
        Ok(WriterPause { _guard: self.writer()?.lock() })
    }

    /// The store's latency histograms so far (see `Metrics`).
    pub fn metrics(&self) -> Metrics {
        let mut m = self.shared.metrics.lock().clone();
        if let Some(w) = &self.writer {
            m.append = w.lock().latency.clone();
        }
        m
    }

    /// Seq of the last event, 0 when the store is empty.
    pub fn last_seq(&self) -> u64 {
        self.shared.last_seq.load(Ordering::Acquire)
    }

    /// Seq of the first event, 0 when the store is empty.
    pub fn first_seq(&self) -> u64 {
        let first = self.shared.log_start();
        if self.last_seq() >= first { first } else { 0 }
    }

    /// The segments in use, oldest first (for `verify`).
    pub(crate) fn segments(&self) -> Arc<Vec<Arc<Segment>>> {
        Arc::clone(&self.shared.segments.read())
    }

    /// The store's audit trail of purges, backups, restores and retention (`AUDIT`,
    /// formats/audit.md), read now.
    pub fn audit(&self) -> Result<crate::audit::AuditLog> {
        crate::audit::read(&self.shared.disk, &self.shared.dir)
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The store's random identity (from its `STORE` file): exports and snapshots name it.
    pub fn store_id(&self) -> u64 {
        self.shared.meta.store_id
    }

    /// Whether this store keeps prompt and output text.
    pub fn keeps_content(&self) -> bool {
        self.shared.meta.keep_content
    }

    /// How many segments hold their index in memory now (a writer keeps only the active
    /// segment's and those whose index file could not be written). For tests.
    #[doc(hidden)]
    pub fn loaded_indexes(&self) -> usize {
        self.shared.segments.read().iter().filter(|s| s.index().is_some()).count()
    }

    /// Non-fatal problems met since open (an index that could not be written, say).
    pub fn warnings(&self) -> Vec<String> {
        self.shared.warnings.lock().clone()
    }

    /// Syncs, stops the background thread and closes the store. Dropping does the same but
    /// cannot report an error.
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        let mut result = Ok(());
        // Drain the queue first: every submission taken before the close is appended.
        if let Some(threads) = self.pipeline.lock().take() {
            result = threads.stop();
        }
        if self.writer.take().is_some() && !self.shared.durable.is_poisoned() {
            result = result.and(self.shared.sync_through(self.shared.last_seq()));
        }
        // Everything is durable now: the snapshotter catches up and takes a final snapshot.
        if let Some(s) = self.snapshotter.take() {
            result = result.and(s.stop());
        }
        // The writer (dropped above) held the other ends of the job channels.
        if let Some(hk) = self.housekeeper.take() {
            result = result.and(hk.stop());
        }
        if self.shared.writable && !self.shared.durable.is_poisoned() {
            // The log is durable through its last seq: record it, so that damage to its
            // tail can never pass for a torn write.
            result = result.and(self.shared.durable.record_evidence(&self.shared.disk, true));
        }
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake_listeners();
        // A sync that failed while closing (sealing the last segments) is the close's error.
        if self.shared.writable && result.is_ok() {
            result = self.shared.durable.check();
        }
        result
    }

    /// Excludes the other lifecycle operations (backup, purge, retention) of this handle
    /// while the guard lives.
    pub(crate) fn lifecycle_guard(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.shared.lifecycle.lock()
    }

    /// The file-system seam this store's files go through.
    pub(crate) fn disk(&self) -> &Disk {
        &self.shared.disk
    }

    /// The store's identity and fixed settings.
    pub(crate) fn meta(&self) -> StoreMeta {
        self.shared.meta
    }

    /// Whether this handle is a writer.
    pub fn is_writable(&self) -> bool {
        self.writer.is_some()
    }

    /// The first seq the log holds (`log_start`), even when the log is empty.
    pub(crate) fn log_start(&self) -> u64 {
        self.shared.log_start()
    }

    /// Where the frame of `seq` lies in `segments` (a list `segments()` returned); `None`
    /// when `seq` is not in the committed log.
    pub(crate) fn locate(
        &self,
        segments: &Arc<Vec<Arc<Segment>>>,
        seq: u64,
    ) -> Result<Option<read::FramePlace>> {
        read::locate(&self.shared, segments, seq)
    }

    fn writer(&self) -> Result<&Arc<Mutex<Writer>>> {
        self.writer.as_ref().ok_or(Error::ReadOnly)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl Shared {
    fn active(&self) -> Arc<Segment> {
        let segs = self.segments.read();
        // A store always has at least one segment (recovery guarantees it).
        Arc::clone(&segs[segs.len() - 1])
    }

    /// Swaps in a new object for the same segment (a read-only remap); returns it.
    fn replace_segment(&self, seg: Segment) -> Arc<Segment> {
        let seg = Arc::new(seg);
        let mut segs = self.segments.write();
        if let Some(slot) = Arc::make_mut(&mut segs).iter_mut().find(|s| s.no() == seg.no()) {
            *slot = Arc::clone(&seg);
        }
        seg
    }

    fn last_seq(&self) -> u64 {
        self.last_seq.load(Ordering::Acquire)
    }

    fn log_start(&self) -> u64 {
        self.log_start.load(Ordering::Acquire)
    }

    /// The seq up to which the log is on disk as the durability policy promises: with
    /// `None`, what survives a process crash (everything committed).
    pub(crate) fn durable_seq(&self) -> u64 {
        self.durable.promised(self.last_seq())
    }

    /// Returns once the log is on disk up to `target`. Group commit: the first waiter syncs
    /// everything published so far while later ones wait for the lock; when they get it,
    /// that one sync has usually covered them too. A failed sync poisons the store and
    /// fails every waiter; it is never retried and reported as success.
    fn sync_through(&self, target: u64) -> Result<()> {
        if self.durable.durable() >= target {
            return self.check_writable();
        }
        let start = std::time::Instant::now();
        // Seq first, then the segments and their ends: the ends cover the frame of `last`.
        let result =
            self.durable.sync_through(target, || (self.last_seq(), Arc::clone(&self.segments.read())));
        metrics::record(&mut self.metrics.lock().commit, metrics::elapsed_ns(start));
        if let Ok(true) = result {
            self.settle_frames();
        }
        result.map(drop)
    }

    /// Records that a sync made the log durable through `seq` (ignored once poisoned).
    fn mark_durable(&self, seq: u64) {
        if self.durable.mark(seq) {
            self.settle_frames();
        }
    }

    fn set_last_seq(&self, seq: u64) {
        self.last_seq.store(seq, Ordering::Release);
        #[cfg(feature = "tokio")]
        {
            // Dekker with the subscriber's wait: see `async_api::wait_for_append`.
            std::sync::atomic::fence(Ordering::SeqCst);
            if self.listeners.load(Ordering::Relaxed) > 0 {
                self.published.notify_waiters();
            }
        }
    }

    /// Wakes every subscription waiting for an append.
    fn wake_listeners(&self) {
        #[cfg(feature = "tokio")]
        self.published.notify_waiters();
    }

    fn check_writable(&self) -> Result<()> {
        self.durable.check()
    }

    fn warn(&self, what: String) {
        self.warnings.lock().push(what);
    }
}

/// A reader's recovery. One that finds damage without a live writer looks again: a writer
/// that started meanwhile may have been writing the very bytes it judged.
fn read_only_recovery(disk: &Disk, dir: &Path, file: &StoreFile) -> Result<recover::Recovered> {
    let attempt = |writer_live| {
        let cx = recover::Context { disk, dir, store: file, writable: false, writer_live };
        recover::recover(&cx, None)
    };
    let live = lock::writer_live(dir);
    let first = attempt(live);
    let damaged = match &first {
        Ok(r) => r.report.loss.is_some(),
        Err(e) => e.is_corruption(),
    };
    if !live && damaged && lock::writer_live(dir) { attempt(true) } else { first }
}

/// Takes the writer lock for a maintenance command (`repair`, `migrate`) that rewrites
/// files itself: no writer may run meanwhile.
pub(crate) fn lock_for_maintenance(dir: &Path) -> Result<lock::WriterLock> {
    lock::WriterLock::acquire(dir)
}
