//! The energy state from the log: newest valid snapshot plus replay of the tail, time
//! travel, and taking snapshots.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Shared, Store, read, read_ahead};
use sha2::{Digest, Sha256};

use crate::codec;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::limits::STATE_BYTES_MAX;
use crate::snapshot::{self, SnapshotInfo, file as snapshot_file};
use crate::state::{EnergyState, Fold};
use snapshot_file::Binding;

/// How a state was rebuilt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateRecovery {
    /// The snapshot it started from, if one validated.
    pub snapshot: Option<SnapshotInfo>,
    /// Snapshots that were skipped, and why (damaged, foreign, ahead of the log, ...).
    pub skipped: Vec<(PathBuf, String)>,
    /// Events replayed after the snapshot.
    pub replayed: u64,
    /// Time taken.
    pub elapsed: Duration,
}

/// Where time travel stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayTarget {
    /// Up to and including this seq.
    Seq(u64),
    /// Events whose render frame is at most this.
    Frame(u64),
    /// Events whose wall-clock timestamp is at most this (ns since the epoch).
    Time(i64),
}

impl Store {
    /// The current energy state: the newest valid snapshot, then the events after it.
    /// Takes time in proportion to the events since that snapshot, not to the store.
    pub fn state(&self) -> Result<(EnergyState, StateRecovery)> {
        recover_state(&self.shared, self.last_seq())
    }

    /// The state as it was after event `seq`.
    pub fn state_at(&self, seq: u64) -> Result<(EnergyState, StateRecovery)> {
        recover_state(&self.shared, seq.min(self.last_seq()))
    }

    /// Time travel: the state after the events up to `target`, of one session or all.
    /// A seq target starts from a snapshot; frame and time targets replay from the start
    /// (through the session index when a session is given), keeping the events at or
    /// before the target.
    pub fn replay_to(&self, target: ReplayTarget, session: Option<&str>) -> Result<EnergyState> {
        let keep = |e: &Event| match target {
            ReplayTarget::Seq(_) => true,
            ReplayTarget::Frame(f) => e.frame <= f,
            ReplayTarget::Time(t) => e.ts_ns <= t,
        };
        let upto = match target {
            ReplayTarget::Seq(s) => s.min(self.last_seq()),
            _ => self.last_seq(),
        };
        let mut state = match (target, session) {
            (ReplayTarget::Seq(_), None) => return Ok(recover_state(&self.shared, upto)?.0),
            _ => self.replay_base(session, &keep)?,
        };
        let from = state.last_seq + 1;
        let records: Box<dyn Iterator<Item = Result<read::Record>>> = match session {
            Some(id) => Box::new(self.session(id)),
            None => Box::new(self.iter(from..=upto)),
        };
        for rec in records {
            let rec = rec?;
            if rec.seq > upto {
                break;
            }
            if keep(&rec.event) {
                state.apply(rec.seq, &rec.event);
            }
        }
        Ok(state)
    }

    /// Where a frame or time replay starts: the empty state while the log is whole; after
    /// retention, the oldest valid snapshot, if every event it covers is within the target
    /// (a session's replay needs the whole log).
    fn replay_base(&self, session: Option<&str>, keep: &dyn Fn(&Event) -> bool) -> Result<EnergyState> {
        let start = self.shared.log_start();
        if start == 1 {
            return Ok(EnergyState::default());
        }
        let before = |first| Error::BeforeLogStart { seq: start, first };
        let base = snapshot::list(&self.shared.dir)?
            .into_iter()
            .filter(|i| i.seq >= start)
            .find_map(|i| load(&self.shared, &i).ok())
            .ok_or_else(|| before(start))?;
        if session.is_some() {
            return Err(before(base.last_seq));
        }
        match self.get(base.last_seq)? {
            Some(rec) if keep(&rec.event) => Ok(base),
            _ => Err(before(base.last_seq)),
        }
    }

    /// The snapshot files, oldest first.
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        snapshot::list(&self.shared.dir)
    }

    /// Loads one snapshot and checks it completely (format, store, hash, binding); says why
    /// not.
    pub fn load_snapshot(&self, info: &SnapshotInfo) -> std::result::Result<EnergyState, String> {
        load(&self.shared, info)
    }

    /// What a snapshot of the state after `seq` binds to (formats/snapshot.md); `None` when
    /// `seq` is not in the log. For tools that write snapshots.
    #[doc(hidden)]
    pub fn binding_of(&self, seq: u64) -> Result<Option<Binding>> {
        read::binding_of(&self.shared, seq)
    }

    /// Takes a snapshot of the current state now (after a durability barrier) and keeps the
    /// newest `keep`.
    pub fn snapshot_now(&self, keep: usize) -> Result<SnapshotInfo> {
        self.flush()?;
        if self.last_seq() < self.shared.log_start() {
            return Err(Error::InvalidOption("nothing to snapshot: the log is empty".into()));
        }
        let (state, _) = self.state()?;
        let info = publish(&self.shared, &state)?;
        snapshot::prune(&self.shared.disk, &self.shared.dir, keep)?;
        Ok(info)
    }
}

/// Newest valid snapshot at or before `upto`, then replay to `upto`.
pub(super) fn recover_state(shared: &Arc<Shared>, upto: u64) -> Result<(EnergyState, StateRecovery)> {
    let started = Instant::now();
    let mut rec = StateRecovery::default();
    let mut state = EnergyState::default();
    // A writer beside a read-only open prunes old snapshots after it publishes a new one:
    // one that vanished since the listing is not damage, and a new listing has its successor.
    for _ in 0..3 {
        match newest_snapshot(shared, upto, &mut rec)? {
            Base::Found(s) => state = s,
            Base::Vanished => continue,
            Base::None => {}
        }
        break;
    }
    // After retention the log alone cannot rebuild a state: a snapshot is the base.
    let start = shared.log_start();
    if rec.snapshot.is_none() && start > 1 {
        let first = snapshot::list(&shared.dir)?.into_iter().map(|i| i.seq).find(|&s| s >= start);
        return Err(Error::BeforeLogStart { seq: upto, first: first.unwrap_or(start) });
    }
    rec.replayed = replay(shared, &mut state, upto)?;
    rec.elapsed = started.elapsed();
    Ok((state, rec))
}

enum Base {
    Found(EnergyState),
    /// One that was listed is gone: the listing is stale.
    Vanished,
    None,
}

/// The newest snapshot at or before `upto` that loads; the skipped ones go into `rec`.
fn newest_snapshot(shared: &Arc<Shared>, upto: u64, rec: &mut StateRecovery) -> Result<Base> {
    let last = shared.last_seq();
    rec.skipped.clear();
    for info in snapshot::list(&shared.dir)?.into_iter().rev() {
        if info.seq > last {
            rec.skipped.push((info.path, format!("ahead of the log (seq {} > last seq {last})", info.seq)));
            continue;
        }
        if info.seq > upto || info.seq < shared.log_start() {
            continue;
        }
        match load(shared, &info) {
            Ok(s) => {
                rec.snapshot = Some(info);
                return Ok(Base::Found(s));
            }
            Err(_) if !info.path.exists() => return Ok(Base::Vanished),
            Err(why) => rec.skipped.push((info.path, why)),
        }
    }
    Ok(Base::None)
}

/// Applies the events after `state.last_seq` up to `upto`; returns how many.
pub(super) fn replay(shared: &Arc<Shared>, state: &mut EnergyState, upto: u64) -> Result<u64> {
    let mut fold = Fold::new(std::mem::take(state));
    let replayed =
        read_ahead::for_each_ref(shared, fold.last_seq() + 1..=upto, |seq, event| fold.apply(seq, event));
    *state = fold.into_state();
    replayed
}

/// Loads one snapshot and checks everything: format, store, seq, state hash, and that it
/// still binds to the log (formats/snapshot.md).
pub(crate) fn load(shared: &Arc<Shared>, info: &SnapshotInfo) -> std::result::Result<EnergyState, String> {
    let max = (snapshot_file::PREFIX_BYTES + STATE_BYTES_MAX) as u64;
    let bytes = shared.disk.read_bounded(&info.path, max).map_err(|e| e.to_string())?;
    let snap = snapshot_file::decode(&bytes, shared.meta.store_id)?;
    if snap.seq != info.seq {
        return Err(format!("header says seq {} but the name says {}", snap.seq, info.seq));
    }
    check_binding(shared, snap.seq, snap.bind)?;
    let state = codec::decode_state(&snap.state)?;
    if state.hash() != snap.state_hash {
        return Err("state does not match its hash".into());
    }
    if state.last_seq != snap.seq {
        return Err(format!("state covers seq {} but the snapshot says {}", state.last_seq, snap.seq));
    }
    Ok(state)
}

/// Checks that the frame of `seq` is the one a snapshot was taken after.
fn check_binding(shared: &Arc<Shared>, seq: u64, bind: Binding) -> std::result::Result<(), String> {
    match read::binding_of(shared, seq) {
        Ok(Some(b)) if b == bind => Ok(()),
        Ok(Some(_)) => {
            Err(format!("does not bind to the log: the frame of seq {seq} is not the one it covers"))
        }
        Ok(None) => Err(format!("does not bind to the log: seq {seq} is not in it")),
        Err(e) => Err(format!("cannot read the frame it binds to: {e}")),
    }
}

/// Publishes a snapshot of `state` (whose events must be durable), bound to the frame of
/// its last seq.
pub(super) fn publish(shared: &Arc<Shared>, state: &EnergyState) -> Result<SnapshotInfo> {
    publish_bound(shared, state, None)
}

/// `publish`, with the binding of `state.last_seq`'s frame when the caller has just read it
/// (the snapshotter): no seek, so no sealed segment's index is loaded.
pub(super) fn publish_bound(
    shared: &Arc<Shared>,
    state: &EnergyState,
    bind: Option<Binding>,
) -> Result<SnapshotInfo> {
    let bytes = codec::encode_state(state);
    if bytes.len() > STATE_BYTES_MAX {
        return Err(Error::InvalidOption(format!(
            "state of {} bytes is over the snapshot limit",
            bytes.len()
        )));
    }
    let bind = match bind {
        Some(b) => b,
        None => read::binding_of(shared, state.last_seq)?.ok_or_else(|| {
            Error::InvalidOption(format!("no frame of seq {} to bind a snapshot to", state.last_seq))
        })?,
    };
    // The state's hash is the hash of these very bytes (`EnergyState::hash`).
    let state_hash = Sha256::digest(&bytes).into();
    let snap = snapshot_file::Snapshot { seq: state.last_seq, bind, state_hash, state: bytes };
    snapshot::publish(&shared.disk, &shared.dir, shared.meta.store_id, &snap)
}

/// A writer's open removes the snapshots at or below the log's end that are damaged or do
/// not bind to it (formats/recovery.md, "Snapshots"): they are derived data, like an
/// index, and the log they describe is sound. Returns them and why. Only the header, the
/// payload CRC and, for a snapshot of a seq at or after `scanned_from`, the binding are
/// checked here, so the open stays cheap: recovery changes nothing before `scanned_from`
/// (sealed segments it trusted), and checking a binding there would load and check the
/// index of every sealed segment a snapshot lies in. `load` checks every binding before
/// any use.
pub(super) fn remove_unbound_snapshots(
    shared: &Arc<Shared>,
    scanned_from: u64,
) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    for info in snapshot::list(&shared.dir)? {
        if info.seq > shared.last_seq() || info.seq < shared.log_start() {
            continue;
        }
        let max = (snapshot_file::PREFIX_BYTES + STATE_BYTES_MAX) as u64;
        let checked = shared
            .disk
            .read_bounded(&info.path, max)
            .map_err(|e| e.to_string())
            .and_then(|bytes| snapshot_file::check_payload(&bytes, shared.meta.store_id));
        let why = match checked {
            Ok(h) if h.seq != info.seq => Some(format!("header says seq {}", h.seq)),
            Ok(h) if h.seq < scanned_from => None,
            Ok(h) => check_binding(shared, h.seq, h.bind).err(),
            Err(why) => Some(format!("damaged: {why}")),
        };
        if let Some(why) = why {
            snapshot::remove(&shared.disk, &shared.dir, std::slice::from_ref(&info.path))?;
            out.push((info.path, why));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::sim;
    use crate::store::{CreateOptions, OpenOptions, Store};

    #[test]
    fn a_writers_open_checks_bindings_only_where_it_scanned_and_loads_no_sealed_index() {
        let dir = tempfile::tempdir().unwrap();
        Store::create(dir.path(), &CreateOptions { segment_bytes: 64 << 10, ..CreateOptions::default() })
            .unwrap();
        let opts = OpenOptions { snapshots: None, ..OpenOptions::default() };
        let s = Store::open(dir.path(), &opts).unwrap();
        let events: Vec<_> = (0..3_000).map(|i| sim::synthetic(9, i)).collect();
        s.append_batch(&events[..500]).unwrap();
        let snap = s.snapshot_now(3).unwrap();
        s.append_batch(&events[500..]).unwrap();
        s.close().unwrap();

        let s = Store::open(dir.path(), &opts).unwrap();
        let segments = s.shared.segments.read().clone();
        let holding = segments.iter().rposition(|g| g.header.base_seq <= snap.seq).unwrap();
        assert!(holding + 1 < segments.len(), "the snapshot lies in a sealed segment");
        // The open read that snapshot's header and CRC, and left the sealed index unloaded
        // (the old open loaded it to check the binding).
        assert!(segments[holding].index().is_none(), "sealed index loaded at open");
        assert!(s.recovery_report().removed_snapshots.is_empty());
        // A use checks the binding, which holds.
        let (state, rec) = s.state_at(snap.seq + 1).unwrap();
        assert_eq!((rec.snapshot.map(|i| i.seq), rec.replayed), (Some(snap.seq), 1));
        let expected =
            crate::state::EnergyState::replay((1..).zip(&events[..usize::try_from(snap.seq).unwrap() + 1]));
        assert_eq!(state, expected);
    }
}
