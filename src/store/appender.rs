//! Appender handles: any number of producer threads feed one writer thread through a
//! bounded queue.
//!
//! Back-pressure rule: the queue holds at most `OpenOptions::queue_capacity` submissions
//! (a single event or a batch each). When it is full, `append`, `append_batch` and `submit`
//! wait for room, and `try_append` returns `Error::QueueFull` at once, appending nothing.
//!
//! The writer thread takes every submission waiting in the queue (up to `GROUP_MAX`),
//! appends them in queue order under one writer lock, and answers them. Submissions that
//! must wait for the disk (all of them under `Durability::Always`, and `flush`) go on to the
//! committer thread, which makes them durable with one sync for the whole group (group
//! commit) while the writer thread appends the next group. A failed sync poisons the store
//! and fails every submission waiting on it; nothing is retried.

use std::ops::Range;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::{Mutex, RwLock};

use super::writer::Writer;
use super::{Durability, Shared};
use crate::error::{Error, IoContext, Result};
use crate::event::Event;

/// Most submissions appended under one lock and made durable by one sync.
const GROUP_MAX: usize = 1024;

/// Groups appended but waiting for their sync. Beyond that the writer thread waits, and the
/// queue fills: back-pressure reaches the producers.
const COMMIT_QUEUE_GROUPS: usize = 16;

/// A cheap, cloneable, `Send` handle that appends through the writer thread.
#[derive(Clone)]
pub struct Appender {
    pipeline: Arc<Pipeline>,
}

/// A submission in the queue; `Pending::wait` returns its seqs.
#[must_use = "a submission's outcome is only known by waiting for it"]
pub struct Pending {
    rx: Receiver<Result<Range<u64>>>,
}

/// The queue's sending side, shared by all appenders.
pub(super) struct Pipeline {
    tx: Sender<Message>,
    /// False once the store is closing: a send happens under a read guard, so after the
    /// write guard flips it no submission can enter the queue behind the stop message.
    open: RwLock<bool>,
    capacity: usize,
    #[cfg(feature = "tokio")]
    pub(super) room: tokio::sync::Notify,
}

enum Message {
    Submit(Job),
    Stop,
}

pub(super) struct Job {
    events: Batch,
    /// Wait for the disk whatever the policy (`flush`).
    sync: bool,
    reply: Reply,
}

enum Batch {
    One(Event),
    Many(Vec<Event>),
}

pub(super) enum Reply {
    Blocking(Sender<Result<Range<u64>>>),
    #[cfg(feature = "tokio")]
    Async(tokio::sync::oneshot::Sender<Result<Range<u64>>>),
}

/// The writer and committer threads; `stop` drains the queue and joins them.
pub(super) struct Threads {
    pipeline: Arc<Pipeline>,
    writer: JoinHandle<()>,
    committer: JoinHandle<()>,
}

impl Appender {
    /// Appends one event; returns its seq once it is as durable as the policy promises.
    /// Waits for room when the queue is full.
    pub fn append(&self, event: Event) -> Result<u64> {
        self.send(Batch::One(event), false)?.wait().map(|r| r.start)
    }

    /// Appends events with consecutive seqs; returns their range once they are as durable
    /// as the policy promises. Waits for room when the queue is full.
    pub fn append_batch(&self, events: Vec<Event>) -> Result<Range<u64>> {
        self.send(Batch::Many(events), false)?.wait()
    }

    /// Like `append`, but returns `Error::QueueFull` at once, appending nothing, when the
    /// queue has no room.
    pub fn try_append(&self, event: Event) -> Result<u64> {
        self.try_send(Batch::One(event))?.wait().map(|r| r.start)
    }

    /// Like `submit`, but returns `Error::QueueFull` at once, queueing nothing, when the
    /// queue has no room: a producer that must never block (a render thread) uses this.
    pub fn try_submit(&self, events: Vec<Event>) -> Result<Pending> {
        self.try_send(Batch::Many(events))
    }

    /// Queues events without waiting for them to be appended: a producer keeps many
    /// submissions in flight, so that one sync serves many of them. Waits for room when the
    /// queue is full.
    pub fn submit(&self, events: Vec<Event>) -> Result<Pending> {
        self.send(Batch::Many(events), false)
    }

    /// A durability barrier: returns once everything submitted before it, by any handle,
    /// is on disk.
    pub fn flush(&self) -> Result<()> {
        self.send(Batch::Many(Vec::new()), true)?.wait().map(drop)
    }

    fn send(&self, events: Batch, sync: bool) -> Result<Pending> {
        let (reply, rx) = crossbeam_channel::bounded(1);
        self.pipeline.enqueue(Job { events, sync, reply: Reply::Blocking(reply) })?;
        Ok(Pending { rx })
    }

    fn try_send(&self, events: Batch) -> Result<Pending> {
        let (reply, rx) = crossbeam_channel::bounded(1);
        self.pipeline.try_enqueue(Job { events, sync: false, reply: Reply::Blocking(reply) })?;
        Ok(Pending { rx })
    }

    /// The queue behind this handle (the async API enqueues its own jobs).
    #[cfg(feature = "tokio")]
    pub(super) fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }
}

impl Pending {
    /// Waits for the submission's seqs (and durability, as the policy promises).
    pub fn wait(self) -> Result<Range<u64>> {
        // The writer thread answers every job it takes, and takes every job queued before
        // the stop message; a dropped reply means it died.
        self.rx.recv().unwrap_or(Err(Error::Closed))
    }
}

impl Job {
    #[cfg(feature = "tokio")]
    pub(super) fn new_async(
        events: Vec<Event>,
        sync: bool,
        reply: tokio::sync::oneshot::Sender<Result<Range<u64>>>,
    ) -> Self {
        Job { events: Batch::Many(events), sync, reply: Reply::Async(reply) }
    }
}

impl Batch {
    fn as_slice(&self) -> &[Event] {
        match self {
            Batch::One(e) => std::slice::from_ref(e),
            Batch::Many(v) => v,
        }
    }
}

impl Reply {
    fn send(self, result: Result<Range<u64>>) {
        // A producer that stopped waiting does not care about the answer.
        match self {
            Reply::Blocking(tx) => drop(tx.send(result)),
            #[cfg(feature = "tokio")]
            Reply::Async(tx) => drop(tx.send(result)),
        }
    }
}

impl Pipeline {
    /// Queues a job, waiting for room.
    pub(super) fn enqueue(&self, job: Job) -> Result<()> {
        let open = self.open.read();
        if !*open {
            return Err(Error::Closed);
        }
        self.tx.send(Message::Submit(job)).map_err(|_| Error::Closed)
    }

    /// Queues a job if there is room; `QueueFull` otherwise.
    pub(super) fn try_enqueue(&self, job: Job) -> Result<()> {
        match self.try_enqueue_or_return(job)? {
            None => Ok(()),
            Some(_) => Err(Error::QueueFull { capacity: self.capacity }),
        }
    }

    /// Queues a job if there is room; hands it back when the queue is full (the async
    /// path waits for room and tries again).
    pub(super) fn try_enqueue_or_return(&self, job: Job) -> Result<Option<Job>> {
        let open = self.open.read();
        if !*open {
            return Err(Error::Closed);
        }
        match self.tx.try_send(Message::Submit(job)) {
            Ok(()) => Ok(None),
            Err(TrySendError::Full(Message::Submit(job))) => Ok(Some(job)),
            Err(_) => Err(Error::Closed),
        }
    }
}

impl Threads {
    /// Starts the writer and committer threads over `writer`.
    pub fn spawn(shared: &Arc<Shared>, writer: Arc<Mutex<Writer>>, capacity: usize) -> Result<Self> {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        let pipeline = Arc::new(Pipeline {
            tx,
            open: RwLock::new(true),
            capacity,
            #[cfg(feature = "tokio")]
            room: tokio::sync::Notify::new(),
        });
        let (commit_tx, commit_rx) = crossbeam_channel::bounded(COMMIT_QUEUE_GROUPS);
        let s = Arc::clone(shared);
        let committer = std::thread::Builder::new()
            .name("wfstore-commit".into())
            .spawn(move || run_committer(&s, &commit_rx))
            .ctx("spawn thread", &shared.dir)?;
        let s = Arc::clone(shared);
        let p = Arc::clone(&pipeline);
        let writer = std::thread::Builder::new()
            .name("wfstore-writer".into())
            .spawn(move || run_writer(&s, &p, &writer, &rx, &commit_tx))
            .ctx("spawn thread", &shared.dir)?;
        Ok(Threads { pipeline, writer, committer })
    }

    /// A new handle.
    pub fn appender(&self) -> Appender {
        Appender { pipeline: Arc::clone(&self.pipeline) }
    }

    /// Closes the queue to new submissions, lets the threads finish every queued one, and
    /// joins them; a thread that panicked is an error.
    pub fn stop(self) -> Result<()> {
        *self.pipeline.open.write() = false;
        // Room is guaranteed eventually: the writer thread keeps draining.
        let _ = self.pipeline.tx.send(Message::Stop);
        let writer = self.writer.join().map_err(|_| Error::ThreadPanicked { thread: "writer" });
        let committer = self.committer.join().map_err(|_| Error::ThreadPanicked { thread: "commit" });
        writer.and(committer)
    }
}

/// Appended jobs waiting for one sync through `last`.
struct Group {
    last: u64,
    replies: Vec<(Reply, Range<u64>)>,
}

fn run_writer(
    shared: &Shared,
    pipeline: &Pipeline,
    writer: &Mutex<Writer>,
    rx: &Receiver<Message>,
    commits: &Sender<Group>,
) {
    let mut jobs = Vec::with_capacity(GROUP_MAX);
    let mut stopping = false;
    while !stopping {
        let Ok(first) = rx.recv() else { return };
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Submit(job) => jobs.push(job),
                Message::Stop => stopping = true,
            }
            if jobs.len() < GROUP_MAX && !stopping {
                next = rx.try_recv().ok();
            }
        }
        #[cfg(feature = "tokio")]
        pipeline.room.notify_waiters();
        #[cfg(not(feature = "tokio"))]
        let _ = pipeline;
        append_group(shared, writer, &mut jobs, commits);
    }
}

/// Appends `jobs` in order under one lock; answers those that need no sync and hands the
/// others to the committer.
fn append_group(shared: &Shared, writer: &Mutex<Writer>, jobs: &mut Vec<Job>, commits: &Sender<Group>) {
    let always = shared.durable.policy() == Durability::Always;
    let mut group = Group { last: 0, replies: Vec::new() };
    let mut w = writer.lock();
    for job in jobs.drain(..) {
        let start = shared.clock.start();
        let result = w.append_batch(job.events.as_slice());
        w.record_append(start);
        match result {
            Ok(range) if always || job.sync => group.replies.push((job.reply, range)),
            other => job.reply.send(other),
        }
    }
    drop(w);
    if !group.replies.is_empty() {
        group.last = shared.last_seq();
        // The committer only stops after this sender is dropped: a send cannot fail while
        // it runs; if it died, nobody can make these durable.
        if let Err(e) = commits.send(group) {
            for (reply, _) in e.into_inner().replies {
                reply.send(Err(Error::Closed));
            }
        }
    }
}

fn run_committer(shared: &Shared, groups: &Receiver<Group>) {
    let mut batch: Vec<Group> = Vec::new();
    while let Ok(first) = groups.recv() {
        batch.push(first);
        batch.extend(groups.try_iter());
        let last = batch.iter().map(|g| g.last).max().unwrap_or(0);
        let synced = shared.sync_through(last);
        for group in batch.drain(..) {
            for (reply, range) in group.replies {
                reply.send(match &synced {
                    Ok(()) => Ok(range),
                    Err(_) => Err(shared.durable.error()),
                });
            }
        }
    }
}
