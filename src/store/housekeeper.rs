//! The background threads that keep work off the append path. One prepares: it creates
//! and prefaults the next segment. The other syncs: the periodic `msync`, sealing a full
//! segment (sync, then write its index), and recording the high-water mark in `STORE`.
//! They are apart so that a slow disk flush never delays the next segment. Once the store
//! is poisoned, the syncer syncs, seals and records nothing more.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::durability::{EVIDENCE_INTERVAL, PoisonCause};
use super::prepare::{self, Prepared};
use super::{Shared, frames};
use crate::error::{Error, IoContext, Result};
use crate::index::SegmentIndex;
use crate::index::file as index_file;
use crate::segment::Segment;

/// Page size the periodic sync rounds down to (4 KiB; a larger real page only means more
/// of the tail waits for the next tick).
const PAGE_BYTES: usize = 4096;

/// Work for the preparer.
pub(super) enum PrepareJob {
    /// Create segment file `no` and send it back.
    Segment(u64),
    /// Fault in the unwritten rest of the active segment (after open).
    Prefault(Arc<Segment>),
}

/// Work for the syncer.
pub(super) enum SyncJob {
    /// Sync a segment the writer has left, then write its index.
    Seal(Arc<Segment>),
    /// A frame was committed: pick up its deadline (`Shared::take_frame_deadline`).
    Frame,
}

/// The two threads and the channels that feed them. Dropping the senders stops them.
pub(super) struct Housekeeper {
    pub prepare: Sender<PrepareJob>,
    pub sync: Sender<SyncJob>,
    threads: Vec<JoinHandle<()>>,
}

impl Housekeeper {
    pub fn spawn(
        shared: &Arc<Shared>,
        prepared: Sender<Result<Prepared>>,
        period: Option<Duration>,
    ) -> Result<Self> {
        let (prepare, prepare_rx) = crossbeam_channel::unbounded();
        let (sync, sync_rx) = crossbeam_channel::unbounded();
        let s = Arc::clone(shared);
        let preparer = std::thread::Builder::new()
            .name("wfstore-prepare".into())
            .spawn(move || run_preparer(&s, &prepare_rx, &prepared))
            .ctx("spawn thread", &shared.dir)?;
        let s = Arc::clone(shared);
        let syncer = std::thread::Builder::new()
            .name("wfstore-sync".into())
            .spawn(move || run_syncer(&s, &sync_rx, period))
            .ctx("spawn thread", &shared.dir)?;
        Ok(Housekeeper { prepare, sync, threads: vec![preparer, syncer] })
    }

    /// Finishes queued work and joins the threads; a thread that panicked is an error.
    pub fn stop(self) -> Result<()> {
        drop(self.prepare);
        drop(self.sync);
        let mut result = Ok(());
        for (t, name) in self.threads.into_iter().zip(["prepare", "sync"]) {
            if t.join().is_err() {
                result = Err(Error::ThreadPanicked { thread: name });
            }
        }
        result
    }
}

/// Background work must never take a core from the writer: on a 2-core machine the kernel's
/// page zeroing (prefault) and writeback (msync) would otherwise preempt appends. Linux
/// applies `setpriority` on a thread id to that thread alone. Best effort.
pub(super) fn lower_priority() {
    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10);
}

fn run_preparer(shared: &Shared, jobs: &Receiver<PrepareJob>, prepared: &Sender<Result<Prepared>>) {
    lower_priority();
    for job in jobs {
        match job {
            PrepareJob::Segment(no) => {
                let _ = prepared.send(prepare::prepare(&shared.disk, &shared.dir, &shared.meta, no, true));
            }
            PrepareJob::Prefault(seg) => seg.map.prefault(seg.map.end()),
        }
    }
}

fn run_syncer(shared: &Shared, jobs: &Receiver<SyncJob>, period: Option<Duration>) {
    lower_priority();
    let mut last_sync = Instant::now();
    let mut last_end = 0;
    // When to start syncing for committed frames, and what a sync has cost lately.
    let mut frame_due: Option<Instant> = None;
    let mut sync_cost = Duration::ZERO;
    loop {
        // The high-water mark follows the durable seq at its own pace, whatever the policy.
        let evidence = Instant::now() + EVIDENCE_INTERVAL;
        let wake = [period.map(|p| last_sync + p), frame_due, Some(evidence)].into_iter().flatten().min();
        let job = match wake {
            Some(t) => jobs.recv_deadline(t),
            None => jobs.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match job {
            Ok(SyncJob::Seal(seg)) => seal(shared, seg),
            Ok(SyncJob::Frame) => {
                if let Some(deadline) = shared.take_frame_deadline() {
                    let start = frames::sync_start(deadline, sync_cost);
                    frame_due = Some(frame_due.map_or(start, |due| due.min(start)));
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if frame_due.is_some_and(|due| Instant::now() >= due) {
            frame_due = None;
            let start = Instant::now();
            // A failure poisons the store; the frames stay pending, never reported durable.
            let _ = shared.sync_through(shared.last_seq());
            sync_cost = frames::average_cost(sync_cost, start.elapsed());
        }
        if period.is_some_and(|p| last_sync.elapsed() >= p) {
            periodic_sync(shared, &mut last_end);
            last_sync = Instant::now();
        }
        // A failure poisons the store; every later write reports it.
        let _ = shared.durable.record_evidence(&shared.disk, false);
    }
}

/// Syncs the active segment. Writing back the page the writer is filling would make its
/// next write wait for the disk, so only whole pages are synced, and the rest once the
/// writer is idle (its end has not moved since the last tick).
fn periodic_sync(shared: &Shared, last_end: &mut usize) {
    if shared.durable.is_poisoned() {
        return;
    }
    // Seq first, then segment and end: the end read covers the frame of `last`.
    let last = shared.last_seq();
    let active = shared.active();
    let end = active.map.end();
    let upto = if end == *last_end { end } else { end & !(PAGE_BYTES - 1) };
    *last_end = end;
    if let Err(e) = active.sync_to(upto) {
        shared.durable.poison(cause("periodic msync", &active, &e));
        return;
    }
    // Only if every earlier segment is durable (sealing may still be queued).
    if shared.durable.sealed_through() + 1 < active.no() {
        return;
    }
    // Only whole committed batches become durable: a batch that runs past `upto` (or on
    // into the next segment) is not durable until all of it is.
    let durable = active.index().and_then(|ix| ix.committed_before(upto)).unwrap_or(0).min(last);
    shared.mark_durable(durable);
}

/// Makes a segment the writer has left durable, then publishes its index. The index is
/// written only after the data it describes is on disk.
///
/// Readers first get a read-only mapping of it and the writable one is dropped, so the
/// flush cleans pages no longer mapped in this process: no TLB shootdown interrupts the
/// writer for each page written back.
fn seal(shared: &Shared, seg: Arc<Segment>) {
    if shared.durable.is_poisoned() {
        return;
    }
    if let Err(e) = seg.sync_file() {
        shared.durable.poison(cause("fdatasync of sealed segment", &seg, &e));
        return;
    }
    shared.durable.sealed(seg.no());
    // Its last committed batch is durable now; frames after it belong to a batch that runs
    // on into the next segment, durable only once that segment is synced too.
    if let Some(seq) = seg.index().and_then(|ix| ix.last_commit()) {
        shared.mark_durable(seq);
    }
    let _index_files = shared.index_files.lock();
    if seg.header.base_seq < shared.log_start() {
        // Retention removed it meanwhile: an index file would be an orphan.
        return;
    }
    // The index file first, from the writer's copy: once it is on disk the read-only copy
    // needs none in memory (a read loads it again), so a writer's memory stays flat however
    // long the log grows (an index holds a posting per event).
    let written = seg.index().is_some_and(|ix| write_index(shared, &seg, &ix));
    match seg.reopen_read_only(!written) {
        Ok(ro) => {
            drop(seg);
            shared.replace_segment(ro);
        }
        Err(e) => {
            shared.warn(format!("remapping sealed segment {} read-only: {e}", seg.path.display()));
            if written {
                seg.clear_index();
            }
        }
    }
}

/// Writes a sealed segment's index file; says whether it is on disk.
fn write_index(shared: &Shared, seg: &Segment, index: &SegmentIndex) -> bool {
    let path = seg.index_path();
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    match index_file::publish(&shared.disk, &shared.dir, name, seg.index_key(), index) {
        Ok(()) => true,
        // The index is derivable from the log: a missing one is rebuilt when it is needed.
        Err(e) => {
            shared.warn(format!("writing index {name}: {e}"));
            false
        }
    }
}

/// The poison cause of a failed sync of `seg`.
fn cause(op: &str, seg: &Segment, e: &Error) -> PoisonCause {
    let error = match e {
        Error::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    };
    PoisonCause { op: op.into(), path: seg.path.clone(), error }
}
