//! The snapshotter: a background thread that follows the durable log with its own copy of
//! the energy state and publishes a snapshot every N events and/or T. It follows in steps
//! of N events with a snapshot after each, so one that fell behind (a writer faster than
//! its replay, or a store opened after appends without snapshots) leaves no gap that time
//! travel or recovery would replay whole; only a closing store's last catch-up is one step.
//! An append never
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
use crate::state::Fold;

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
    let Some(mut f) = Follower::recover(shared, &policy) else { return };
    drop(lifecycle);
    loop {
        let stopping = !matches!(stop.recv_timeout(TICK), Err(RecvTimeoutError::Timeout));
        // Catch up one step at a time, so that a snapshotter that fell behind still leaves a
        // snapshot every `every_events` (time travel replays at most about that many), and
        // purges, retention and backups get the lifecycle lock between steps.
        loop {
            if shared.durable.is_poisoned() {
                return;
            }
            // A purge or retention must not interleave with a snapshot; after a purge the
            // followed state is rebuilt from the log as it now is.
            let _lifecycle = shared.lifecycle.lock();
            let current = shared.state_epoch.load(Ordering::Acquire);
            if current != epoch {
                let Some(again) = Follower::recover(shared, &policy) else { return };
                (f, epoch) = (again, current);
            }
            match f.step(shared, &policy, retention.as_ref(), stopping) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return shared.warn(format!("snapshotter stopped: {e}")),
            }
        }
        if stopping {
            return;
        }
    }
}

/// The state the snapshotter follows the log with, and where it stands.
struct Follower {
    state: Fold,
    /// Its one cursor: it never seeks again, so no sealed segment's index is loaded.
    cursor: read::RecordIter,
    /// Seq of the newest snapshot (0: none); events after it count toward the next one.
    last_snap: u64,
    last_time: Instant,
}

impl Follower {
    /// The state at the newest snapshot, plus at most one step of events after it (the rest
    /// is followed step by step); `None` after a warning when it cannot be rebuilt.
    fn recover(shared: &Arc<Shared>, policy: &SnapshotPolicy) -> Option<Follower> {
        let durable = shared.durable.durable();
        let recovered = snapshot::list(&shared.dir).and_then(|list| {
            let newest = list.last().map_or(0, |i| i.seq);
            state::recover_state(shared, step_end(policy, newest, newest, durable))
        });
        let (state, rec) = match recovered {
            Ok(s) => s,
            Err(e) => {
                shared.warn(format!("snapshotter could not recover the state: {e}"));
                return None;
            }
        };
        let cursor = read::iter(shared, state.last_seq + 1..=state.last_seq);
        let last_snap = rec.snapshot.map_or(0, |i| i.seq);
        Some(Follower { state: Fold::new(state), cursor, last_snap, last_time: Instant::now() })
    }

    /// Follows the durable log one step on and publishes a snapshot if one is due. Returns
    /// whether there is more to follow right away.
    fn step(
        &mut self,
        shared: &Arc<Shared>,
        policy: &SnapshotPolicy,
        retention: Option<&Retention>,
        stopping: bool,
    ) -> Result<bool> {
        let durable = shared.durable.durable();
        // A closing store takes one snapshot of everything, whatever is behind: a close
        // that wrote one per step could take seconds.
        let end =
            if stopping { durable } else { step_end(policy, self.last_snap, self.state.last_seq(), durable) };
        self.cursor.extend_to(end);
        read::follow(&mut self.cursor, |seq, event| self.state.apply(seq, event))?;
        let new = self.state.last_seq() - self.last_snap;
        let due = (policy.every_events > 0 && new >= policy.every_events)
            || (new > 0 && policy.every.is_some_and(|t| self.last_time.elapsed() >= t))
            || (new > 0 && stopping);
        // A failed snapshot is tried again at the next tick, not right away.
        Ok(due && self.publish(shared, policy, retention) && self.state.last_seq() < durable)
    }

    /// Publishes a snapshot of the state and applies retention; whether it was published.
    fn publish(
        &mut self,
        shared: &Arc<Shared>,
        policy: &SnapshotPolicy,
        retention: Option<&Retention>,
    ) -> bool {
        let seq = self.state.last_seq();
        // The cursor's last frame is the state's last event unless a tombstone followed it.
        let bind = self.cursor.last_binding().filter(|_| self.cursor.last_seq_read() == Some(seq));
        // Ordered for the snapshot, then taken apart again to follow on (the states move;
        // only the ids are copied, once per session and user).
        let whole = std::mem::take(&mut self.state).into_state();
        let published = state::publish_bound(shared, &whole, bind)
            .and_then(|_| snapshot::prune_spaced(&shared.disk, &shared.dir, policy.keep, policy.history));
        self.state = Fold::new(whole);
        let ok = published.is_ok();
        match published {
            Ok(_) => {
                self.last_snap = seq;
                if let Some(r) = retention
                    && let Err(e) = retention::apply_policy(shared, r)
                {
                    shared.warn(format!("retention: {e}"));
                }
            }
            Err(e) => shared.warn(format!("snapshot at seq {seq}: {e}")),
        }
        self.last_time = Instant::now();
        ok
    }
}

/// Where one step of following ends: the next snapshot by count (or where the state
/// already is, if past it), never past the durable end.
fn step_end(policy: &SnapshotPolicy, last_snap: u64, at: u64, durable: u64) -> u64 {
    if policy.every_events == 0 {
        return durable;
    }
    last_snap.saturating_add(policy.every_events).max(at).min(durable)
}
