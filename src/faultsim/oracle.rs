//! The oracle: after every fault, what the store must (and must never) do, checked against
//! the model of what was appended (event `seq` is `workload::event(seed, seq)`):
//!
//! - what is served is a hole-free prefix of what was appended, every event intact;
//! - nothing durable is lost silently: a shorter log than the evidence is refused by a
//!   writer and reported to a reader;
//! - the energy state equals a full replay; a second open changes nothing; `verify` agrees;
//! - no panic, no hang (callers run each case under a `Watchdog`).

use std::path::Path;
use std::time::Duration;

use super::workload::event;
use crate::error::Error;
use crate::state::EnergyState;
use crate::store::{Durability, OpenOptions, Store};

/// A case failed: why.
pub type Verdict = Result<Outcome, String>;

/// How a case that passed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Opened with nothing to cut or report.
    Clean,
    /// A torn tail or an uncommitted batch was cut (past the durable point).
    Cut,
    /// An index or a `STORE` copy was repaired by the writer's open, a damaged snapshot
    /// skipped: nothing lost, `verify` reported what it had to.
    Repaired,
    /// Damage reported with its location (exit 3), the writer refused; `repair` then
    /// salvaged a verified prefix.
    Reported,
}

/// Checks a store after a power loss: it must open, for readers and the writer, with every
/// event through `required` (the durable seq when the power went) and none past `appended`;
/// nothing may be reported lost.
pub fn power_loss(dir: &Path, seed: u64, required: u64, appended: u64) -> Verdict {
    let ro =
        Store::open(dir, &OpenOptions::read_only()).map_err(|e| format!("read-only open failed: {e}"))?;
    if let Some(loss) = &ro.recovery_report().loss {
        return Err(format!("a power loss was reported as loss: {loss}"));
    }
    let served = ro.last_seq();
    check_prefix(&ro, seed, served)?;
    drop(ro);
    let rw = writer(dir)?;
    let c = rw.last_seq();
    if c != served {
        return Err(format!("the writer recovered to seq {c}, a reader to {served}"));
    }
    if c < required {
        return Err(format!("durable seqs lost: recovered to {c}, but {required} was durable"));
    }
    if c > appended {
        return Err(format!("recovered to {c}, past the last seq ever committed ({appended})"));
    }
    let outcome = if rw.recovery_report().is_clean() { Outcome::Clean } else { Outcome::Cut };
    check_state(&rw)?;
    finish(dir, seed, rw, c)?;
    Ok(outcome)
}

/// Checks a store after damage to its files: whatever it serves is an intact prefix; if it
/// serves less than all `appended` events, it says so (a reader's loss report, an error
/// while reading, a writer's refusal, `verify`'s problems); a writer that opens serves
/// everything. A refused store is then salvaged with `repair`.
pub fn media(dir: &Path, seed: u64, appended: u64) -> Verdict {
    let reported = match Store::open(dir, &OpenOptions::read_only()) {
        Ok(ro) => {
            let loss = ro.recovery_report().loss.is_some();
            let read = read_prefix(&ro, seed)?;
            (read.served < appended && !loss && read.error.is_none())
                .then(|| format!("a reader silently served {} of {appended} events", read.served))
                .map_or(Ok(()), Err)?;
            loss || read.error.is_some()
        }
        Err(Error::Corrupt(_)) => true,
        Err(e) => return Err(format!("read-only open failed without a located error: {e}")),
    };
    let verify = crate::verify::verify(dir).map_err(|e| format!("verify failed to run: {e}"))?;
    if reported && verify.is_clean() {
        return Err("readers saw damage that verify calls clean".into());
    }
    match writer(dir) {
        Ok(rw) => {
            if rw.last_seq() != appended {
                return Err(format!("a writer opened with {} of {appended} events", rw.last_seq()));
            }
            // Sealed segments are checked when read: damage there surfaces now, located.
            if let Some(e) = read_prefix(&rw, seed)?.error {
                if verify.is_clean() {
                    return Err(format!("reading failed ({e}) in a store verify calls clean"));
                }
                drop(rw);
                salvage(dir, seed, appended)?;
                return Ok(Outcome::Reported);
            }
            finish(dir, seed, rw, appended)?;
            Ok(if verify.is_clean() && !reported { Outcome::Clean } else { Outcome::Repaired })
        }
        Err(e) if e.starts_with("corrupt:") => {
            if verify.is_clean() {
                return Err(format!("a writer refused ({e}) a store verify calls clean"));
            }
            salvage(dir, seed, appended)?;
            Ok(Outcome::Reported)
        }
        Err(e) => Err(e),
    }
}

/// After an I/O error stopped a workload: reopened without faults, the store holds every
/// acknowledged event (the page cache kept them) and verifies clean.
pub fn io_error(dir: &Path, seed: u64, acked: u64, appended: u64) -> Verdict {
    let rw = writer(dir)?;
    let c = rw.last_seq();
    if c < acked || c > appended {
        return Err(format!("recovered to {c}; acknowledged {acked}, committed at most {appended}"));
    }
    check_prefix(&rw, seed, c)?;
    check_state(&rw)?;
    finish(dir, seed, rw, c)?;
    Ok(Outcome::Clean)
}

/// After a `repair` that a fault (an I/O error, a crash) interrupted: the store is the old
/// one or the repaired one, and a rerun of `repair` finishes it: verified, intact prefix.
pub fn after_repair(dir: &Path, seed: u64, appended: u64) -> Verdict {
    salvage(dir, seed, appended)?;
    Ok(Outcome::Reported)
}

/// After a `migrate` that a crash interrupted: a rerun finishes it (or finds it done), and
/// the store is then format 2, verifies clean, and holds exactly the events of the version-1
/// store `v1`.
pub fn after_migrate(dir: &Path, v1: &Path) -> Verdict {
    crate::migrate::migrate(dir, false).map_err(|e| format!("rerunning migrate: {e}"))?;
    let v = crate::verify::verify(dir).map_err(|e| format!("verify failed to run: {e}"))?;
    if !v.is_clean() {
        return Err(format!("the migrated store does not verify: {:?}", v.problems));
    }
    let new = Store::open(dir, &OpenOptions::read_only()).map_err(|e| format!("open: {e}"))?;
    let old = Store::open(v1, &OpenOptions::read_only()).map_err(|e| format!("open v1: {e}"))?;
    if new.format_version() != crate::meta::VERSION || new.last_seq() != old.last_seq() {
        return Err(format!(
            "migrated to version {} with {} of {} events",
            new.format_version(),
            new.last_seq(),
            old.last_seq()
        ));
    }
    for (a, b) in old.iter(1..=u64::MAX).zip(new.iter(1..=u64::MAX)) {
        let (a, b) = (a.map_err(|e| e.to_string())?, b.map_err(|e| e.to_string())?);
        if a != b {
            return Err(format!("seq {} differs after the migration", a.seq));
        }
    }
    Ok(Outcome::Repaired)
}

/// Runs `repair`, then checks the result verifies clean and is an intact prefix.
fn salvage(dir: &Path, seed: u64, appended: u64) -> Result<(), String> {
    let r = crate::repair::repair(dir, false).map_err(|e| format!("repair failed: {e}"))?;
    let v = crate::verify::verify(dir).map_err(|e| format!("verify after repair failed to run: {e}"))?;
    if !v.is_clean() {
        return Err(format!("the repaired store does not verify: {:?}", v.problems));
    }
    let rw = writer(dir)?;
    if rw.last_seq() != r.kept_through || rw.last_seq() > appended {
        return Err(format!("repair kept {} but the store holds {}", r.kept_through, rw.last_seq()));
    }
    check_prefix(&rw, seed, rw.last_seq())?;
    check_state(&rw)?;
    // A snapshot that outlived the cut describes the lost history: other events written at
    // the lost seqs must not be read through it.
    let others: Vec<_> = (rw.last_seq() + 1..=appended).map(|s| event(seed ^ 0x0BAD, s)).collect();
    if !others.is_empty() {
        rw.append_batch(&others).map_err(|e| format!("append after repair: {e}"))?;
        check_state(&rw).map_err(|e| format!("after new events at the lost seqs: {e}"))?;
    }
    Ok(())
}

fn writer(dir: &Path) -> Result<Store, String> {
    let opts = OpenOptions { durability: Durability::None, snapshots: None, ..OpenOptions::default() };
    Store::open(dir, &opts).map_err(|e| match e {
        Error::Corrupt(c) => format!("corrupt: {c}"),
        other => format!("writable open failed: {other}"),
    })
}

/// What a read of the whole log gave.
struct Read {
    served: u64,
    error: Option<String>,
}

/// Reads every event; each must be the one appended at its seq. Stops at an error (which
/// must be located damage).
fn read_prefix(store: &Store, seed: u64) -> Result<Read, String> {
    let mut served = 0;
    for (i, rec) in store.iter(1..=u64::MAX).enumerate() {
        let rec = match rec {
            Ok(r) => r,
            Err(e @ (Error::Corrupt(_) | Error::Decode { .. })) => {
                return Ok(Read { served, error: Some(e.to_string()) });
            }
            Err(e) => return Err(format!("reading failed without a located error: {e}")),
        };
        let want = i as u64 + 1;
        if rec.seq != want {
            return Err(format!("hole: seq {} where {want} was due", rec.seq));
        }
        if rec.event != event(seed, rec.seq) {
            return Err(format!("seq {} is not what was appended", rec.seq));
        }
        served = rec.seq;
    }
    Ok(Read { served, error: None })
}

fn check_prefix(store: &Store, seed: u64, last: u64) -> Result<(), String> {
    let read = read_prefix(store, seed)?;
    match read.error {
        Some(e) => Err(format!("reading the recovered log failed: {e}")),
        None if read.served != last => Err(format!("served {} events, last seq {last}", read.served)),
        None => Ok(()),
    }
}

fn check_state(store: &Store) -> Result<(), String> {
    let (state, _) = store.state().map_err(|e| format!("state: {e}"))?;
    let mut full = EnergyState::default();
    for rec in store.iter(1..=u64::MAX) {
        let rec = rec.map_err(|e| format!("replay: {e}"))?;
        full.apply(rec.seq, &rec.event);
    }
    if state.hash() != full.hash() {
        return Err("the recovered state differs from a full replay".into());
    }
    Ok(())
}

/// A second open changes nothing and `verify` is clean; the writer goes on from `last`.
fn finish(dir: &Path, seed: u64, store: Store, last: u64) -> Result<(), String> {
    store.close().map_err(|e| format!("close: {e}"))?;
    let again = writer(dir)?;
    if !again.recovery_report().is_clean() || again.last_seq() != last {
        return Err(format!("a second open changed things: {:?}", again.recovery_report()));
    }
    let next = event(seed ^ 0x5EED, last + 1);
    let seq = again.append(&next).map_err(|e| format!("append after recovery: {e}"))?;
    if seq != last + 1 {
        return Err(format!("the next append got seq {seq}, not {}", last + 1));
    }
    again.close().map_err(|e| format!("close: {e}"))?;
    let v = crate::verify::verify(dir).map_err(|e| format!("verify failed to run: {e}"))?;
    if !v.is_clean() {
        return Err(format!("verify after recovery: {:?}", v.problems));
    }
    Ok(())
}

/// Aborts the process, saying what it was doing, if a case runs past its time limit: a
/// hang is a failure too, and a hung test would never report it.
pub struct Watchdog {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Watchdog {
    /// Arms the watchdog for `limit`; `what` names the case (its seed).
    pub fn arm(limit: Duration, what: String) -> Watchdog {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + limit;
            while std::time::Instant::now() < deadline {
                if flag.load(std::sync::atomic::Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("faultsim: case hung for {limit:?}: {what}");
            std::process::abort();
        });
        Watchdog { done }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Release);
    }
}
