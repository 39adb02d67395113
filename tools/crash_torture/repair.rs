//! The repair phase: a store with a flipped byte in the middle frame of a sealed segment is
//! repaired by a child that is killed at random moments and rerun until it completes.
//!
//! After every kill the store must be the damaged one (its reads stop with corruption at
//! or before the damage, every event before intact, or its opens refuse) or the repaired
//! one, never a third thing. After completion it verifies clean, holds exactly the events
//! before the damage, takes appends, and a second repair (dry run) finds nothing to do.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail, ensure};
use wfstore::{CreateOptions, Durability, OpenOptions, SnapshotPolicy, Store};

use crate::kill::Role;
use crate::ledger::event_for;
use crate::restartable::{self, Job};
use crate::tally::Tally;

/// Events in the store before the damage (one per batch, so every seq ends a batch).
const EVENTS: u64 = 4_000;
/// Segment size: the events fill about a dozen segments.
const SEGMENT_BYTES: u64 = 64 << 10;
/// The round the events belong to (`ledger::event_for`).
const ROUND: u32 = 0;

/// A damaged store to copy.
struct Damaged {
    dir: PathBuf,
    seed: u64,
    /// The seq of the damaged frame: the repaired store ends just before it.
    seq: u64,
}

/// Repairs copies of a damaged store, killing each repair at random moments (see
/// `restartable`), until `kills` kills are done.
pub fn phase(
    work: &Path,
    seed: u64,
    kills: u64,
    rng: &mut fastrand::Rng,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    if kills == 0 {
        return Ok(());
    }
    let damaged = damaged_store(&work.join("repair-template"), seed)?;
    let (copies, span) = restartable::phase(&damaged, work, kills, rng, tally)?;
    println!(
        "repair: {} kills over {copies} damaged stores (a whole repair: {span:?}), all repaired",
        tally.kills
    );
    Ok(())
}

impl Job for Damaged {
    const NAME: &'static str = "repair";
    const ROLE: Role = Role::Repair;

    fn source(&self) -> &Path {
        &self.dir
    }

    fn child_args(&self) -> (u64, u32) {
        (self.seed, ROUND)
    }

    fn check_done(&self, dir: &Path, tally: &mut Tally) -> anyhow::Result<()> {
        check_repaired(dir, self, tally)
    }

    fn check_interrupted(&self, dir: &Path, tally: &mut Tally) {
        check_interrupted(dir, self, tally);
    }
}

/// What an interrupted repair may leave: the damaged store or the repaired one.
fn check_interrupted(dir: &Path, damaged: &Damaged, tally: &mut Tally) {
    let store = match Store::open(dir, &OpenOptions::read_only()) {
        // The damaged store, refused.
        Err(e) if e.is_corruption() => return,
        Err(e) => return tally.other(format!("an interrupted repair left a store that does not open: {e}")),
        Ok(s) => s,
    };
    let mut last = 0;
    for rec in store.iter(1..=u64::MAX) {
        match rec {
            Ok(r) if r.seq == last + 1 && r.event == event_for(damaged.seed, ROUND, r.seq) => last = r.seq,
            Ok(r) => {
                return tally.other(format!("an interrupted repair left seq {} wrong (after {last})", r.seq));
            }
            // The damaged store: its reads stop with corruption, at the damage or (once the
            // segment holding it is rewritten but `STORE` is not yet) at the start of that
            // segment, whose index still describes the old file.
            Err(e) if e.is_corruption() && last < damaged.seq => return,
            Err(e) => {
                return tally.other(format!("an interrupted repair left a store whose reads fail: {e}"));
            }
        }
    }
    // Read whole: the repaired store, or one whose evidence says loss (refused for writing).
    if last + 1 != damaged.seq {
        tally.other(format!(
            "an interrupted repair left a store ending at seq {last}: neither the damaged one nor the repaired one (ends at {})",
            damaged.seq - 1
        ));
    }
}

/// After a repair completed: exactly seqs `1..damaged.seq`, intact; verify clean; a
/// writer opens it, appends and closes, and it still opens and verifies clean; a second
/// repair then has nothing to do.
fn check_repaired(dir: &Path, damaged: &Damaged, tally: &mut Tally) -> anyhow::Result<()> {
    let kept = damaged.seq - 1;
    let store = match Store::open(dir, &OpenOptions::read_only()) {
        Ok(s) => s,
        Err(e) if e.is_corruption() => {
            tally.false_corruption(format!("the repaired store does not open: {e}"));
            return Ok(());
        }
        Err(e) => return Err(e).context("opening the repaired store"),
    };
    let last = store.last_seq();
    if last < kept {
        tally.loss(kept - last, format!("the repaired store ends at seq {last}, not {kept}"));
    }
    ensure!(last <= kept, "the repaired store holds seq {last}, past the damage at {}", damaged.seq);
    for rec in store.iter(1..=last) {
        let rec = rec?;
        if rec.event != event_for(damaged.seed, ROUND, rec.seq) {
            tally.reuse(format!("seq {} changed in the repair", rec.seq));
        }
    }
    drop(store);
    verify_clean(dir, "the repaired store", tally)?;
    if let Err(e) = append_after_repair(dir, damaged) {
        tally.false_corruption(format!("the repaired store refuses a writer: {e:#}"));
        return Ok(());
    }
    verify_clean(dir, "the repaired store, after a writer used it", tally)?;
    let again = wfstore::repair::repair(dir, true)?;
    if !again.nothing_to_do() {
        let found =
            again.damage.as_ref().map_or_else(String::new, |d| format!("{}: {}", d.path.display(), d.what));
        tally.false_corruption(format!(
            "a second repair of the repaired store finds damage {found:?}, lost {:?}",
            again.lost
        ));
    }
    Ok(())
}

/// A writer opens the repaired store, appends 10 events (seqs from `damaged.seq`, the
/// repair gave them up) and closes; a second writable open must work too.
fn append_after_repair(dir: &Path, damaged: &Damaged) -> anyhow::Result<()> {
    let store = crate::log_phases::open(dir)?;
    let events: Vec<_> =
        (damaged.seq..damaged.seq + 10).map(|s| event_for(damaged.seed, ROUND + 1, s)).collect();
    let seqs = store.append_batch(&events)?;
    ensure!(seqs == (damaged.seq..damaged.seq + 10), "appended at {seqs:?}");
    store.close()?;
    drop(crate::log_phases::open(dir)?);
    Ok(())
}

fn verify_clean(dir: &Path, what: &str, tally: &mut Tally) -> anyhow::Result<()> {
    let report = wfstore::verify::verify(dir)?;
    if !report.is_clean() {
        tally.false_corruption(format!("{what}: verify: {:?}", report.problems));
    }
    Ok(())
}

/// Creates a store of `EVENTS` events (with snapshots) at `dir` and flips a byte in the
/// middle frame of a sealed segment in the middle of the log.
fn damaged_store(dir: &Path, seed: u64) -> anyhow::Result<Damaged> {
    Store::create(dir, &CreateOptions { segment_bytes: SEGMENT_BYTES, ..CreateOptions::default() })?;
    let opts = OpenOptions {
        durability: Durability::None,
        snapshots: Some(SnapshotPolicy { every_events: 500, every: None, keep: 3, history: 0 }),
        ..OpenOptions::default()
    };
    let store = Store::open(dir, &opts)?;
    for seq in 1..=EVENTS {
        store.append(&event_for(seed, ROUND, seq))?;
    }
    store.close()?;
    let segments = data_segments(dir)?;
    ensure!(segments.len() >= 4, "only {} segments", segments.len());
    let seq = flip_middle_frame(&segments[segments.len() / 2])?;
    Ok(Damaged { dir: dir.to_owned(), seed, seq })
}

/// The segment files holding data, in order (a prepared one has an all-zero header).
fn data_segments(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut segs = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let path = e?.path();
        if path.extension().is_some_and(|x| x == "seg") && std::fs::read(&path)?.starts_with(b"WFSEGMT\0") {
            segs.push(path);
        }
    }
    segs.sort();
    Ok(segs)
}

/// Flips a byte in the body of the middle frame of `seg` (formats/segment.md: frames
/// from offset 64, each a 32-byte header with `body_len` first and `seq` at 8); returns
/// that frame's seq.
fn flip_middle_frame(seg: &Path) -> anyhow::Result<u64> {
    let mut bytes = std::fs::read(seg)?;
    let mut frames = Vec::new();
    let mut at = 64;
    while at + 32 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into()?) as usize;
        if len == 0 {
            break;
        }
        frames.push((at, len));
        at += 32 + len;
    }
    let Some(&(at, len)) = frames.get(frames.len() / 2) else { bail!("{} has no frames", seg.display()) };
    let seq = u64::from_le_bytes(bytes[at + 8..at + 16].try_into()?);
    bytes[at + 32 + len / 2] ^= 0x20;
    std::fs::write(seg, bytes)?;
    Ok(seq)
}
