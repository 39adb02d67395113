//! `validate`: the semantic rules, each broken on purpose.

use wfstore::event::body::{EventBody, SessionStart};
use wfstore::sim::{SimConfig, Simulator};
use wfstore::validate::validate;

use crate::util::*;

fn sim(seed: u64) -> Vec<wfstore::event::Event> {
    Simulator::new(SimConfig { seed, frames: 200, ..SimConfig::default() }).flatten().collect()
}

fn check(events: &[wfstore::event::Event]) -> wfstore::validate::ValidateReport {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let s = open(dir.path());
    s.append_batch(events).unwrap();
    s.snapshot_now(3).unwrap();
    validate(&s).unwrap()
}

#[test]
fn a_simulated_store_is_valid() {
    let events = sim(1);
    let r = check(&events);
    assert!(r.is_valid(), "{:?}", r.violations);
    assert_eq!((r.events, r.sessions, r.snapshots), (events.len() as u64, 3, 1));
}

#[test]
fn an_event_before_session_start() {
    let mut events = sim(2);
    let first = events.iter().position(|e| matches!(e.body, EventBody::SessionStart(_))).unwrap();
    events.swap(first, first + 1);
    let r = check(&events);
    assert_eq!(r.violations[0].rule, "session-start");
    assert_eq!(r.violations[0].seq, first as u64 + 1);
}

#[test]
fn a_second_session_start() {
    let mut events = sim(3);
    let mut again = events[0].clone();
    again.body = EventBody::SessionStart(SessionStart { app_version: "x".into(), models: vec![] });
    events.insert(10, again);
    let r = check(&events);
    assert!(r.violations.iter().any(|v| v.rule == "session-start" && v.seq == 11), "{:?}", r.violations);
}

#[test]
fn timestamps_and_frames_going_backwards() {
    let mut events = sim(4);
    let s0 = events[0].session.clone();
    let k = events.iter().rposition(|e| e.session == s0).unwrap();
    events[k].ts_ns = events[0].ts_ns - 1;
    events[k].frame = 0;
    let r = check(&events);
    let rules: Vec<_> = r.violations.iter().filter(|v| v.seq == k as u64 + 1).map(|v| v.rule).collect();
    assert_eq!(rules, ["timestamps", "frames"]);
}

#[test]
fn a_snapshot_that_differs_from_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let s = open(dir.path());
    s.append_batch(&sim(5)).unwrap();
    // A well-formed snapshot, in this store, of another history at the same seq.
    let mut forged = wfstore::state::EnergyState::default();
    for (i, e) in sim(6).iter().take(s.last_seq() as usize).enumerate() {
        forged.apply(i as u64 + 1, e);
    }
    let snap = wfstore::snapshot::file::Snapshot {
        seq: forged.last_seq,
        bind: s.binding_of(forged.last_seq).unwrap().unwrap(),
        state_hash: forged.hash(),
        state: wfstore::codec::encode_state(&forged),
    };
    wfstore::snapshot::publish(&wfstore::disk::Disk::default(), dir.path(), s.store_id(), &snap).unwrap();
    let r = validate(&s).unwrap();
    assert_eq!(r.violations.len(), 1, "{:?}", r.violations);
    assert_eq!((r.violations[0].rule, r.violations[0].seq), ("snapshot", forged.last_seq));
}
