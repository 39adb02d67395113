//! The writer and snapshot phases: kill a child that appends (and takes snapshots) on one
//! store, with readers beside it, and check the store after each kill.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use wfstore::state::EnergyState;
use wfstore::{CreateOptions, Durability, OpenOptions, Store};

use crate::kill::{self, Role};
use crate::ledger::Ledger;
use crate::readers::Readers;
use crate::tally::Tally;

/// Segment size: the smallest, so that the writer rolls (and seals, and publishes index
/// files) every few hundred events, beside the readers.
const SEGMENT_BYTES: u64 = 64 << 10;
/// Progress is printed every this many rounds.
const PROGRESS_EVERY: u64 = 20;

/// One store, killed writers on it, and what it must hold.
pub struct LogPhases {
    dir: PathBuf,
    seed: u64,
    readers: usize,
    max_run: Duration,
    ledger: Ledger,
    round: u32,
}

impl LogPhases {
    /// Creates the store.
    pub fn new(dir: &Path, seed: u64, readers: usize, max_run_ms: u64) -> anyhow::Result<LogPhases> {
        Store::create(dir, &CreateOptions { segment_bytes: SEGMENT_BYTES, ..CreateOptions::default() })
            .with_context(|| format!("creating {}", dir.display()))?;
        Ok(LogPhases {
            dir: dir.to_owned(),
            seed,
            readers,
            max_run: Duration::from_millis(max_run_ms.max(1)),
            ledger: Ledger::new(seed),
            round: 0,
        })
    }

    /// The writer phase: `kills` rounds of an appending child killed at a random moment,
    /// readers beside it.
    pub fn writer(&mut self, kills: u64, rng: &mut fastrand::Rng, tally: &mut Tally) -> anyhow::Result<()> {
        self.rounds("writer", Role::Writer, self.readers, kills, rng, tally)?;
        check_state(&self.dir).context("the state after the writer phase")
    }

    /// The snapshot phase: `kills` rounds of a child that appends and takes a snapshot in
    /// a loop; after each kill the recovered state must also equal a full replay.
    pub fn snapshot(&mut self, kills: u64, rng: &mut fastrand::Rng, tally: &mut Tally) -> anyhow::Result<()> {
        self.rounds("snapshot", Role::Snapshot, 0, kills, rng, tally)
    }

    fn rounds(
        &mut self,
        phase: &str,
        role: Role,
        readers: usize,
        kills: u64,
        rng: &mut fastrand::Rng,
        tally: &mut Tally,
    ) -> anyhow::Result<()> {
        for n in 1..=kills {
            self.round += 1;
            let run = kill::moment(rng, self.max_run).max(Duration::from_millis(1));
            self.round_once(role, readers, run, tally)
                .with_context(|| format!("{phase} round {}", self.round))?;
            if role == Role::Snapshot {
                check_state(&self.dir).with_context(|| format!("{phase} round {}", self.round))?;
            }
            if n % PROGRESS_EVERY == 0 || n == kills {
                println!(
                    "{phase} round {n}: {} events, {} acknowledged, all intact",
                    self.ledger.len(),
                    self.ledger.acked_through()
                );
            }
        }
        Ok(())
    }

    /// One round: start the child, then the readers beside it; kill the child after `run`,
    /// stop the readers, check the store.
    fn round_once(
        &mut self,
        role: Role,
        readers: usize,
        run: Duration,
        tally: &mut Tally,
    ) -> anyhow::Result<()> {
        let acked = Arc::new(AtomicU64::new(self.ledger.acked_through()));
        let seen = Arc::clone(&acked);
        let on_line = move |line: &str| {
            if let Some(seq) = line.strip_prefix("ACK ").and_then(|s| s.trim().parse().ok()) {
                seen.fetch_max(seq, Ordering::AcqRel);
            }
        };
        let deadline = Instant::now() + run;
        let child = kill::start(kill::child(role, &self.dir, self.seed, self.round)?, on_line)?;
        let readers = Readers::start(readers, &self.dir, &self.ledger.expected(self.round), &acked);
        let ended = child.kill_at(deadline);
        tally.absorb(readers.stop());
        let ended = ended?;
        if let Some(f) = ended.failure() {
            tally.other(format!("round {}: {f}", self.round));
        }
        tally.kills += u64::from(ended.killed);
        self.check_after_kill(acked.load(Ordering::Acquire), tally)
    }

    /// After a kill: the ledger's checks on a writable open, a second open that changes
    /// nothing, and a clean verify.
    fn check_after_kill(&mut self, acked: u64, tally: &mut Tally) -> anyhow::Result<()> {
        let store = match open(&self.dir) {
            Ok(s) => s,
            Err(e) if e.is_corruption() => {
                tally.false_corruption(format!("round {}: open after the kill: {e}", self.round));
                return Err(e).context("the store does not open");
            }
            Err(e) => return Err(e).context("open after the kill"),
        };
        self.ledger.check(&store, self.round, acked, tally)?;
        let last = store.last_seq();
        drop(store);
        let again = open(&self.dir).context("second open")?;
        if again.recovery_report().torn_tail.is_some() || again.last_seq() != last {
            tally.other(format!(
                "round {}: a second open changed the store: {:?}",
                self.round,
                again.recovery_report()
            ));
        }
        drop(again);
        let report = wfstore::verify::verify(&self.dir)?;
        if !report.is_clean() {
            tally.false_corruption(format!("round {}: verify: {:?}", self.round, report.problems));
        }
        Ok(())
    }
}

/// The state recovered from snapshots and the tail equals a full replay.
fn check_state(dir: &Path) -> anyhow::Result<()> {
    let store = open(dir)?;
    let (state, rec) = store.state()?;
    let events: Vec<_> = store.iter(1..=u64::MAX).collect::<Result<_, _>>()?;
    let full = EnergyState::replay(events.iter().map(|r| (r.seq, &r.event)));
    ensure!(
        state.hash() == full.hash(),
        "recovered state (snapshot {:?}) differs from a full replay",
        rec.snapshot
    );
    Ok(())
}

/// Opens for writing without the snapshotter (the checks read; they need no snapshots).
pub fn open(dir: &Path) -> wfstore::Result<Store> {
    Store::open(
        dir,
        &OpenOptions {
            durability: Durability::None,
            read_only: false,
            snapshots: None,
            ..OpenOptions::default()
        },
    )
}
