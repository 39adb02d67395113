//! The children: the work that is killed.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use wfstore::{Durability, OpenOptions, SnapshotPolicy, Store};

use crate::kill::Role;
use crate::ledger::event_for;

/// Snapshots kept by the snapshot child (fewer than `snapshot create` keeps, so that every
/// snapshot also prunes one).
const SNAPSHOTS_KEPT: usize = 2;

/// Runs `role` on `dir`; the writers run until killed. True on success.
pub fn run(role: Role, dir: &Path, seed: u64, round: u32) -> anyhow::Result<bool> {
    match role {
        Role::Writer => append_forever(dir, seed, round, false),
        Role::Snapshot => append_forever(dir, seed, round, true),
        Role::Repair => {
            wfstore::repair::repair(dir, false).context("repair")?;
            Ok(true)
        }
        Role::Migrate => {
            wfstore::migrate::migrate(dir, false).context("migrate")?;
            Ok(true)
        }
    }
}

/// Appends batches of 1 to 4 (writer) or 1 to 8 (snapshot) events of `round`, printing
/// `ACK <last seq>` once each is durable; the snapshot child takes a snapshot after each
/// batch (the writer's background snapshotter runs every 300 events).
fn append_forever(dir: &Path, seed: u64, round: u32, snapshot_each: bool) -> anyhow::Result<bool> {
    let snapshots =
        (!snapshot_each).then_some(SnapshotPolicy { every_events: 300, every: None, keep: 2, history: 0 });
    let opts =
        OpenOptions { durability: Durability::Always, snapshots, read_only: false, ..OpenOptions::default() };
    let store = Store::open(dir, &opts).context("child open")?;
    let mut out = std::io::stdout().lock();
    let mut seq = store.last_seq();
    let spread = if snapshot_each { 8 } else { 4 };
    loop {
        let batch: Vec<_> = (seq + 1..=seq + 1 + seq % spread).map(|i| event_for(seed, round, i)).collect();
        seq = store.append_batch(&batch)?.end - 1;
        writeln!(out, "ACK {seq}")?;
        out.flush()?;
        if snapshot_each {
            let info = store.snapshot_now(SNAPSHOTS_KEPT)?;
            writeln!(out, "SNAP {}", info.seq)?;
            out.flush()?;
        }
    }
}
