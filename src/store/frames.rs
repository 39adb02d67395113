//! Frame-aware commits: the render thread hands the store a whole frame's events with a
//! deadline and never waits for the disk. The syncer thread makes the frame durable, aiming
//! to finish by the deadline, and the app asks which frame is durable.

use std::collections::VecDeque;
use std::ops::Range;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::housekeeper::SyncJob;
use super::metrics::{Metrics, elapsed_ns, record};
use super::{Durability, Shared, Store};
use crate::error::{Error, Result};
use crate::event::Event;

/// Frames tracked until durable. A disk stalled for longer (about 18 minutes at 60 Hz)
/// merges the newest entries, so memory stays bounded.
const PENDING_FRAMES_MAX: usize = 1 << 16;

/// What `commit_frame` appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameCommit {
    /// The app's frame number.
    pub frame: u64,
    /// Seqs of the frame's events.
    pub seqs: Range<u64>,
}

/// Frames committed but not yet durable, oldest first.
#[derive(Default)]
pub(super) struct Frames {
    pending: VecDeque<Pending>,
    last_committed: Option<u64>,
    /// Highest durable frame + 1 (0: none yet).
    durable: u64,
    /// The earliest deadline the syncer has been told about but has not picked up.
    nudge: Option<Instant>,
}

struct Pending {
    frame: u64,
    last_seq: u64,
    committed: Instant,
    deadline: Instant,
}

impl Store {
    /// Appends a frame's events at once without waiting for the disk; they become durable
    /// off-thread, by `deadline` if the disk allows (`durable_frame` tells when). Frame
    /// numbers must increase from call to call.
    ///
    /// The call costs what appending costs (it never syncs), so it fits in a render thread's
    /// frame budget under every durability policy. With `Durability::None` a frame counts as
    /// durable once appended: it survives a process crash, which is all `None` promises.
    pub fn commit_frame(&self, frame: u64, events: &[Event], deadline: Instant) -> Result<FrameCommit> {
        let committed = Instant::now();
        let start = self.shared.clock.start();
        let (seqs, tell_syncer) = {
            let mut writer = self.writer()?.lock();
            let mut frames = self.shared.frames.lock();
            if let Some(last) = frames.last_committed.filter(|&last| frame <= last) {
                return Err(Error::InvalidOption(format!(
                    "frame {frame} committed after frame {last}: frame numbers must increase"
                )));
            }
            let seqs = writer.append_batch(events)?;
            writer.record_append(start);
            frames.last_committed = Some(frame);
            let last_seq = seqs.end - 1;
            let entry = Pending { frame, last_seq, committed, deadline };
            if frames.pending.len() >= PENDING_FRAMES_MAX {
                frames.pending.pop_back();
            }
            frames.pending.push_back(entry);
            // Under `None` it is durable already; otherwise a sync may have just passed it.
            frames.settle(self.shared.durable_seq(), &self.shared.metrics);
            let tell = self.shared.durable.policy() != Durability::None && frames.note_deadline(deadline);
            (seqs, tell)
        };
        if let (true, Some(hk)) = (tell_syncer, &self.housekeeper) {
            let _ = hk.sync.send(SyncJob::Frame);
        }
        Ok(FrameCommit { frame, seqs })
    }

    /// The highest frame whose events are all durable, as the durability policy promises.
    pub fn durable_frame(&self) -> Option<u64> {
        self.shared.frames.lock().durable.checked_sub(1)
    }
}

impl Frames {
    /// Marks the frames whose events are durable through `durable_seq`, recording how long
    /// each took and whether it missed its deadline.
    fn settle(&mut self, durable_seq: u64, metrics: &Mutex<Metrics>) {
        let now = Instant::now();
        while self.pending.front().is_some_and(|p| p.last_seq <= durable_seq) {
            let Some(p) = self.pending.pop_front() else { break };
            self.durable = p.frame + 1;
            let mut m = metrics.lock();
            record(&mut m.frame_durable, elapsed_ns(p.committed));
            m.frame_deadline_misses += u64::from(now > p.deadline);
        }
    }

    /// Keeps `deadline` for the syncer if it is earlier than any not yet picked up; true
    /// when the syncer must be told.
    fn note_deadline(&mut self, deadline: Instant) -> bool {
        if self.nudge.is_some_and(|d| d <= deadline) {
            return false;
        }
        self.nudge = Some(deadline);
        true
    }
}

impl Shared {
    /// Marks the frames whose events are now durable.
    pub(super) fn settle_frames(&self) {
        self.frames.lock().settle(self.durable_seq(), &self.metrics);
    }

    /// The deadline the syncer should work to, taken once.
    pub(super) fn take_frame_deadline(&self) -> Option<Instant> {
        self.frames.lock().nudge.take()
    }
}

/// When to start syncing for a frame due at `deadline`, given how long syncs take lately.
pub(super) fn sync_start(deadline: Instant, sync_cost: Duration) -> Instant {
    let now = Instant::now();
    deadline.checked_sub(sync_cost * 2).map_or(now, |t| t.max(now))
}

/// A moving average of sync costs (weight 1/4 for the newest).
pub(super) fn average_cost(avg: Duration, newest: Duration) -> Duration {
    (avg * 3 + newest) / 4
}
