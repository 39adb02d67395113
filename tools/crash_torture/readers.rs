//! Readers beside a writer in another process: read-only opens, again and again, each
//! reading everything and checking it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use wfstore::{OpenOptions, Store};

use crate::ledger::Expected;
use crate::tally::Tally;

/// Reader threads and what tells them to stop.
pub struct Readers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Tally>>,
}

impl Readers {
    /// Starts `n` readers of `dir`. `acked` is the last seq acknowledged so far: an open
    /// after it must show at least that much.
    pub fn start(n: usize, dir: &Path, expected: &Expected, acked: &Arc<AtomicU64>) -> Readers {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let (dir, expected, acked, stop) =
                    (dir.to_owned(), expected.clone(), Arc::clone(acked), Arc::clone(&stop));
                std::thread::spawn(move || read_until(&stop, &dir, &expected, &acked))
            })
            .collect();
        Readers { stop, threads }
    }

    /// Stops the readers and adds up what they found.
    pub fn stop(self) -> Tally {
        self.stop.store(true, Ordering::Release);
        let mut tally = Tally::default();
        for t in self.threads {
            match t.join() {
                Ok(found) => tally.absorb(found),
                Err(_) => tally.other("a reader thread panicked".into()),
            }
        }
        tally
    }
}

/// Reads until told to stop (at least once).
fn read_until(stop: &AtomicBool, dir: &Path, expected: &Expected, acked: &AtomicU64) -> Tally {
    let mut tally = Tally::default();
    loop {
        read_once(dir, expected, acked, &mut tally);
        if stop.load(Ordering::Acquire) {
            return tally;
        }
    }
}

/// One read-only open: no corruption or loss reported, every acknowledged seq there, every
/// event the one expected, no hole.
fn read_once(dir: &Path, expected: &Expected, acked: &AtomicU64, tally: &mut Tally) {
    let acked_before = acked.load(Ordering::Acquire);
    tally.reader_opens += 1;
    let store = match Store::open(dir, &OpenOptions::read_only()) {
        Ok(s) => s,
        Err(e) if e.is_corruption() => return tally.false_corruption(format!("reader open: {e}")),
        Err(e) => return tally.other(format!("reader open failed: {e}")),
    };
    if let Some(loss) = &store.recovery_report().loss {
        tally.false_corruption(format!("reader open reported loss: {loss}"));
    }
    let last = store.last_seq();
    if last < acked_before {
        tally.other(format!(
            "a reader saw seqs up to {last}, but {acked_before} was acknowledged before it opened"
        ));
    }
    for (i, rec) in store.iter(1..=last).enumerate() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) if e.is_corruption() => return tally.false_corruption(format!("reader read: {e}")),
            Err(e) => return tally.other(format!("reader read failed: {e}")),
        };
        let due = i as u64 + 1;
        if rec.seq != due {
            return tally.other(format!("a reader saw a hole: seq {} where {due} was due", rec.seq));
        }
        if rec.event != expected.event(rec.seq) {
            return tally.other(format!("a reader saw seq {} holding an event it never held", rec.seq));
        }
    }
}
