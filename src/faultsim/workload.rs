//! The writer workload every campaign runs: a seeded mix of single appends, batches, streamed
//! batches, frame commits, flushes and snapshots over small segments, so that rolls, seals,
//! index writes and snapshot publication all happen. Event `seq` is always
//! `sim::synthetic(seed, seq)`, so a checker knows every byte that was appended.

use crate::event::Event;
use crate::sim::synthetic;
use crate::store::{Durability, OpenOptions, SnapshotPolicy, Store};

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Seed of the operation mix and of the events.
    pub seed: u64,
    /// The durability policy.
    pub durability: Durability,
    /// Events to append in all.
    pub events: u64,
    /// Let the background snapshotter run (every 200 events), besides explicit snapshots.
    pub snapshotter: bool,
}

/// What the workload did before it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The last seq acknowledged as committed.
    pub acked: u64,
    /// The last seq acknowledged as durable (`Always`, `flush`, `snapshot_now`).
    pub durable: u64,
    /// The error that stopped it, if any.
    pub error: Option<String>,
}

/// Event `seq` of workload `seed`.
pub fn event(seed: u64, seq: u64) -> Event {
    synthetic(seed, seq)
}

impl Workload {
    /// Open options for this workload's store (with the caller's disk seam).
    pub fn options(&self, disk: crate::disk::Disk) -> OpenOptions {
        OpenOptions {
            durability: self.durability,
            snapshots: self.snapshotter.then_some(SnapshotPolicy {
                every_events: 200,
                every: None,
                keep: 3,
                history: 0,
            }),
            disk,
            ..OpenOptions::default()
        }
    }

    /// Runs the workload on `store` until `events` are appended or an operation fails.
    pub fn run(&self, store: &Store) -> Outcome {
        let mut rng = fastrand::Rng::with_seed(self.seed);
        let mut out = Outcome::default();
        let mut frame = 0;
        while store.last_seq() < self.events {
            let next = store.last_seq() + 1;
            let n = (self.events - next + 1).min(rng.u64(1..=32));
            let events: Vec<Event> = (next..next + n).map(|s| event(self.seed, s)).collect();
            // Under `Always`, an append returns once it is durable; `commit_frame` never waits.
            let always = self.durability == Durability::Always;
            let step = match rng.u8(..100) {
                0..50 => store.append_batch(&events).map(|r| (r.end - 1, always)),
                50..70 => store.append(&events[0]).map(|s| (s, always)),
                70..80 => {
                    frame += 1;
                    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(16);
                    store.commit_frame(frame, &events, deadline).map(|c| (c.seqs.end - 1, false))
                }
                80..88 => streamed(store, &events).map(|seq| (seq, always)),
                88..94 => store.flush().map(|()| (store.last_seq(), true)),
                _ if store.last_seq() == 0 => continue,
                _ => store.snapshot_now(3).map(|i| (i.seq, true)),
            };
            match step {
                Ok((seq, durable)) => {
                    out.acked = out.acked.max(seq);
                    if durable {
                        out.durable = out.durable.max(seq);
                    }
                }
                Err(e) => {
                    out.error = Some(e.to_string());
                    break;
                }
            }
        }
        out
    }
}

/// A batch streamed in two pushes; returns its last seq.
fn streamed(store: &Store, events: &[Event]) -> crate::Result<u64> {
    let mut batch = store.batch()?;
    let half = events.len() / 2;
    batch.push(&events[..half])?;
    batch.push(&events[half..])?;
    batch.commit().map(|r| r.end - 1)
}
