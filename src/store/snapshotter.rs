//! The snapshotter: a background thread that follows the durable log with its own copy of
//! the energy state and publishes a snapshot every N events and/or T. An append never
//! waits for it; a snapshot only ever covers committed events a sync made durable (under
//! every policy, `None` too). It stops once the store is poisoned.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::options::SnapshotPolicy;
use super::retention::{self, Retention};
use super::{Shared, read, state};
use crate::error::{Error, IoContext, Result};
use crate::snapshot;

/// How often the thread looks for new durable events.
const TICK: Duration = Duration::from_millis(20);

/// The running thread. Dropping the sender asks it to catch up, snapshot and stop.
pub(super) struct Snapshotter {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl Snapshotter {
    pub fn spawn(shared: &Arc<Shared>, policy: SnapshotPolicy, retention: Option<Retention>) -> Result<Self> {
        let (stop, stop_rx) = crossbeam_channel::bounded(0);
        let s = Arc::clone(shared);
        let thread = std::thread::Builder::new()
            .name("wfstore-snapshot".into())
            .spawn(move || run(&s, policy, retention, &stop_rx))
            .ctx("spawn thread", &shared.dir)?;
        Ok(Snapshotter { stop, thread })
    }

    /// Catches up with the (by now durable) log, takes a final snapshot if anything is new,
    /// and joins the thread.
    pub fn stop(self) -> Result<()> {
        drop(self.stop);
        self.thread.join().map_err(|_| Error::ThreadPanicked { thread: "snapshot" })
    }
}

fn run(shared: &Arc<Shared>, policy: SnapshotPolicy, retention: Option<Retention>, stop: &Receiver<()>) {
    super::housekeeper::lower_priority();
    // Under the lifecycle lock, epoch first: a purge that ran before this recovery is in
    // the state; one after it moves the epoch and the first tick recovers again.
    let lifecycle = shared.lifecycle.lock();
    let mut epoch = shared.state_epoch.load(Ordering::Acquire);
    let (mut follower, rec) = match state::recover_state(shared, shared.durable.durable()) {
        Ok(s) => s,
        Err(e) => return shared.warn(format!("snapshotter could not recover the state: {e}")),
    };
    drop(lifecycle);
    // It follows the log with one cursor, never seeking again (no sealed index is loaded).
    let mut cursor = read::iter(shared, follower.last_seq + 1..=follower.last_seq);
    // Events since the newest snapshot count toward the next one, even those replayed here.
    let mut last_snap = rec.snapshot.map_or(0, |i| i.seq);
    let mut last_time = Instant::now();
    loop {
        let stopping = !matches!(stop.recv_timeout(TICK), Err(RecvTimeoutError::Timeout));
        if shared.durable.is_poisoned() {
            return;
        }
        // A purge or retention must not interleave with a snapshot; after a purge the
        // followed state is rebuilt from the log as it now is.
        let _lifecycle = shared.lifecycle.lock();
        let current = shared.state_epoch.load(Ordering::Acquire);
        if current != epoch {
            match state::recover_state(shared, shared.durable.durable()) {
                Ok((s, rec)) => (follower, last_snap) = (s, rec.snapshot.map_or(0, |i| i.seq)),
                Err(e) => return shared.warn(format!("snapshotter could not recover the state: {e}")),
            }
            cursor = read::iter(shared, follower.last_seq + 1..=follower.last_seq);
            epoch = current;
        }
        cursor.extend_to(shared.durable.durable());
        if let Err(e) = read::follow(&mut cursor, |seq, event| follower.apply_ref(seq, event)) {
            return shared.warn(format!("snapshotter stopped: {e}"));
        }
        let new = follower.last_seq - last_snap;
        let due = (policy.every_events > 0 && new >= policy.every_events)
            || (new > 0 && policy.every.is_some_and(|t| last_time.elapsed() >= t))
            || (new > 0 && stopping);
        if due {
            // The cursor's last frame is the state's last event unless a tombstone followed it.
            let bind = cursor.last_binding().filter(|_| cursor.last_seq_read() == Some(follower.last_seq));
            let published = state::publish_bound(shared, &follower, bind)
                .and_then(|_| snapshot::prune_spaced(&shared.disk, &shared.dir, policy.keep, policy.history));
            match published {
                Ok(_) => {
                    last_snap = follower.last_seq;
                    if let Some(r) = &retention
                        && let Err(e) = retention::apply_policy(shared, r)
                    {
                        shared.warn(format!("retention: {e}"));
                    }
                }
                Err(e) => shared.warn(format!("snapshot at seq {}: {e}", follower.last_seq)),
            }
            last_time = Instant::now();
        }
        if stopping {
            return;
        }
    }
}
