//! What the store must hold: for every seq seen so far, the round whose event it holds, and
//! the last seq any child acknowledged.

use std::sync::Arc;

use anyhow::bail;
use wfstore::Store;
use wfstore::event::Event;
use wfstore::sim::synthetic;

use crate::tally::Tally;

/// The event round `round` writes at `seq`: a pure function, different for every round, so
/// that a seq written again by a later round is told apart.
pub fn event_for(seed: u64, round: u32, seq: u64) -> Event {
    synthetic(seed ^ u64::from(round).wrapping_mul(0xA24B_AED4_963E_E407), seq)
}

/// The rounds whose events seqs `1..=len` hold, and which round writes the seqs after.
#[derive(Debug, Clone)]
pub struct Expected {
    seed: u64,
    owners: Arc<Vec<u32>>,
    round: u32,
}

impl Expected {
    /// The event `seq` must hold.
    pub fn event(&self, seq: u64) -> Event {
        let owner = usize::try_from(seq - 1).ok().and_then(|i| self.owners.get(i).copied());
        event_for(self.seed, owner.unwrap_or(self.round), seq)
    }
}

/// The history of the log as checked after each kill.
#[derive(Debug)]
pub struct Ledger {
    seed: u64,
    /// `owners[i]`: the round whose event seq `i + 1` holds.
    owners: Vec<u32>,
    /// Every seq up to this one was acknowledged (and not yet reported lost).
    acked_through: u64,
}

impl Ledger {
    /// An empty log.
    pub fn new(seed: u64) -> Ledger {
        Ledger { seed, owners: Vec::new(), acked_through: 0 }
    }

    /// What readers beside round `round`'s child must see.
    pub fn expected(&self, round: u32) -> Expected {
        Expected { seed: self.seed, owners: Arc::new(self.owners.clone()), round }
    }

    /// Seqs the log has held so far.
    pub fn len(&self) -> u64 {
        self.owners.len() as u64
    }

    /// The last seq acknowledged so far.
    pub fn acked_through(&self) -> u64 {
        self.acked_through
    }

    /// Checks the store after round `round`, whose child acknowledged up to `acked`: no
    /// acknowledged seq missing, no seq holding another event than before, every new seq
    /// holding this round's event, no hole. Counts loss and reuse in `tally`; an event that
    /// no round wrote, a hole or a read error ends the check with an error.
    pub fn check(&mut self, store: &Store, round: u32, acked: u64, tally: &mut Tally) -> anyhow::Result<()> {
        let last = store.last_seq();
        let acked = self.acked_through.max(acked);
        if last < acked {
            tally.loss(acked - last, format!("round {round}: acknowledged seqs {}..={acked} lost", last + 1));
        }
        self.acked_through = acked.min(last);
        for (i, rec) in store.iter(1..=last).enumerate() {
            let rec = rec?;
            let due = i as u64 + 1;
            if rec.seq != due {
                bail!("round {round}: hole: seq {} where {due} was due", rec.seq);
            }
            self.check_event(i, &rec.event, round, tally)?;
        }
        Ok(())
    }

    /// Checks the event at index `i` (seq `i + 1`) and records its round.
    fn check_event(&mut self, i: usize, event: &Event, round: u32, tally: &mut Tally) -> anyhow::Result<()> {
        let seq = i as u64 + 1;
        match self.owners.get(i).copied() {
            Some(owner) if *event == event_for(self.seed, owner, seq) => Ok(()),
            Some(owner) => {
                let now = self.round_of(event, seq, round)?;
                tally
                    .reuse(format!("round {round}: seq {seq} held round {owner}'s event, now round {now}'s"));
                self.owners[i] = now;
                Ok(())
            }
            None if *event == event_for(self.seed, round, seq) => {
                self.owners.push(round);
                Ok(())
            }
            None => bail!("round {round}: new seq {seq} does not hold this round's event"),
        }
    }

    /// The round (up to `round`) whose event `event` is at `seq`.
    fn round_of(&self, event: &Event, seq: u64, round: u32) -> anyhow::Result<u32> {
        match (0..=round).rev().find(|&r| *event == event_for(self.seed, r, seq)) {
            Some(r) => Ok(r),
            None => bail!("round {round}: seq {seq} holds an event no round wrote"),
        }
    }
}
