//! `validate`: semantic checks of a store, beyond bytes — exact energy conservation per
//! session, per-session timestamps and frames never going backwards, `session.start` before
//! a session's other events, and every snapshot's state equal to the replayed state at its
//! seq.
//!
//! Each event's shape is not checked here against `schemas/events.schema.json`: an event
//! read from the log was decoded into the typed `Event`, and every value of that type
//! satisfies the schema (the property test `arbitrary_events_satisfy_the_schema` proves it
//! over the whole domain of each field). The JSON form is checked where JSON comes in:
//! `parse_line` (append) agrees with the schema field by field, in tests.

use std::collections::BTreeMap;

use crate::event::{BodyView, EventRef, EventType};
use crate::snapshot::SnapshotInfo;
use crate::state::EnergyState;
use crate::store::Store;
use crate::{Error, Result};

/// How many violations are kept in a report (all are counted).
pub const VIOLATIONS_KEPT: usize = 50;

/// What `validate` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ValidateReport {
    /// Events checked.
    pub events: u64,
    /// Sessions seen.
    pub sessions: usize,
    /// Snapshots compared with the replay.
    pub snapshots: usize,
    /// Violations found in all.
    pub violation_count: u64,
    /// The first `VIOLATIONS_KEPT` violations, in seq order.
    pub violations: Vec<Violation>,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// The event's seq (for a snapshot, the seq it covers; for a session total, its last).
    pub seq: u64,
    /// Which rule.
    pub rule: &'static str,
    /// What was found.
    pub what: String,
}

impl ValidateReport {
    /// True when every rule held.
    pub fn is_valid(&self) -> bool {
        self.violation_count == 0
    }

    fn push(&mut self, seq: u64, rule: &'static str, what: String) {
        self.violation_count += 1;
        if self.violations.len() < VIOLATIONS_KEPT {
            self.violations.push(Violation { seq, rule, what });
        }
    }
}

/// Per-session facts gathered independently of `apply`, to check it against.
#[derive(Default)]
struct SessionCheck {
    started: bool,
    last_ts: i64,
    last_frame: u64,
    last_seq: u64,
    total: i128,
    by_model: BTreeMap<String, i128>,
    amplification: i128,
}

/// Validates every event and snapshot of `store`.
pub fn validate(store: &Store) -> Result<ValidateReport> {
    let mut report = ValidateReport::default();
    let mut sessions: BTreeMap<String, SessionCheck> = BTreeMap::new();
    let mut snapshots: Vec<SnapshotInfo> =
        store.snapshots()?.into_iter().filter(|s| s.seq <= store.last_seq()).collect();
    snapshots.reverse();
    let mut state = base_state(store, &mut sessions)?;
    compare_snapshots(store, &state, &mut snapshots, &mut report);
    // Ids are read in place, as replay reads them: no allocation per event.
    store.for_each_ref(state.last_seq + 1..=u64::MAX, |seq, event| {
        report.events += 1;
        if !sessions.contains_key(event.session) {
            sessions.insert(event.session.to_owned(), SessionCheck::default());
        }
        if let Some(s) = sessions.get_mut(event.session) {
            check_order(s, seq, event, &mut report);
        }
        state.apply_ref(seq, event);
        compare_snapshots(store, &state, &mut snapshots, &mut report);
    })?;
    report.sessions = sessions.len();
    for (id, s) in &sessions {
        check_conservation(id, s, &state, &mut report);
    }
    Ok(report)
}

/// Where the checks start: the empty state while the log is whole. After retention, the
/// state at the log's first snapshot (itself checked against its hash and binding), with
/// each of its sessions' facts taken from it: events before it are gone.
fn base_state(store: &Store, sessions: &mut BTreeMap<String, SessionCheck>) -> Result<EnergyState> {
    if store.first_seq() <= 1 {
        return Ok(EnergyState::default());
    }
    let start = store.first_seq();
    let base =
        store.snapshots()?.into_iter().filter(|i| i.seq >= start).find_map(|i| store.load_snapshot(&i).ok());
    let base = base.ok_or(Error::BeforeLogStart { seq: start, first: start })?;
    for (id, st) in &base.sessions {
        sessions.insert(
            id.clone(),
            SessionCheck {
                started: st.by_type.contains_key(EventType::SessionStart.as_str()),
                last_ts: st.frame.last_ts_ns,
                last_frame: st.frame.last_frame,
                last_seq: st.last_seq,
                total: st.energy_total,
                by_model: st.by_model.clone(),
                amplification: st.amplification,
            },
        );
    }
    Ok(base)
}

/// Session order rules, and the independent energy sums.
fn check_order(s: &mut SessionCheck, seq: u64, event: &EventRef<'_>, report: &mut ValidateReport) {
    let event_type = event.body.event_type();
    let is_start = event_type == EventType::SessionStart;
    if is_start && s.started {
        report.push(seq, "session-start", format!("session {} started twice", event.session));
    }
    if !is_start && !s.started {
        report.push(seq, "session-start", format!("{event_type} before session.start of {}", event.session));
    }
    if s.last_seq > 0 && event.ts_ns < s.last_ts {
        report.push(
            seq,
            "timestamps",
            format!("ts_ns {} before the session's previous {}", event.ts_ns, s.last_ts),
        );
    }
    if s.last_seq > 0 && event.frame < s.last_frame {
        report.push(
            seq,
            "frames",
            format!("frame {} after the session's frame {}", event.frame, s.last_frame),
        );
    }
    s.started |= is_start;
    s.last_ts = s.last_ts.max(event.ts_ns);
    s.last_frame = s.last_frame.max(event.frame);
    s.last_seq = seq;
    match event.body {
        BodyView::EnergyUpdate { model, delta, .. } => {
            let d = i128::from(delta);
            s.total += d;
            match s.by_model.get_mut(model) {
                Some(sum) => *sum += d,
                None => {
                    s.by_model.insert(model.to_owned(), d);
                }
            }
        }
        BodyView::EnergyAmplification { delta, .. } => {
            let d = i128::from(delta);
            s.total += d;
            s.amplification += d;
        }
        _ => {}
    }
}

/// The replayed state's accumulator must equal the sums taken from the events, exactly.
fn check_conservation(id: &str, s: &SessionCheck, state: &EnergyState, report: &mut ValidateReport) {
    let Some(st) = state.sessions.get(id) else {
        return report.push(
            s.last_seq,
            "conservation",
            format!("session {id} missing from the replayed state"),
        );
    };
    let by_model_sum: i128 = st.by_model.values().sum();
    let checks = [
        (
            st.energy_total == s.total,
            format!("energy_total {} != sum of deltas {}", st.energy_total, s.total),
        ),
        (st.by_model == s.by_model, "per-model contributions differ from the event sums".to_owned()),
        (
            st.amplification == s.amplification,
            format!("amplification {} != {}", st.amplification, s.amplification),
        ),
        (
            by_model_sum + st.amplification == st.energy_total,
            format!(
                "by_model ({by_model_sum}) + amplification ({}) != total ({})",
                st.amplification, st.energy_total
            ),
        ),
    ];
    for (ok, what) in checks {
        if !ok {
            report.push(s.last_seq, "conservation", format!("session {id}: {what} (micro-units)"));
        }
    }
}

/// Compares the replayed state with every snapshot taken at its seq (the list is
/// newest-first, so the next one due is at the end).
fn compare_snapshots(
    store: &Store,
    state: &EnergyState,
    pending: &mut Vec<SnapshotInfo>,
    report: &mut ValidateReport,
) {
    while pending.last().is_some_and(|s| s.seq == state.last_seq) {
        let Some(info) = pending.pop() else { return };
        report.snapshots += 1;
        match store.load_snapshot(&info) {
            Ok(snap) if snap == *state => {}
            Ok(_) => report.push(
                info.seq,
                "snapshot",
                format!("{} differs from the replayed state", info.path.display()),
            ),
            Err(why) => report.push(info.seq, "snapshot", format!("{}: {why}", info.path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::state::SessionState;

    #[test]
    fn conservation_breaks_are_named() {
        let facts = SessionCheck {
            total: 10,
            amplification: 4,
            by_model: [("m".into(), 6)].into(),
            last_seq: 9,
            ..Default::default()
        };
        let mut state = EnergyState::default();
        let good = SessionState {
            energy_total: 10,
            amplification: 4,
            by_model: [("m".to_owned(), 6)].into(),
            ..SessionState::default()
        };
        state.sessions.insert("s".into(), good.clone());
        let mut report = ValidateReport::default();
        check_conservation("s", &facts, &state, &mut report);
        assert!(report.is_valid());
        state.sessions.insert("s".into(), SessionState { energy_total: 11, ..good });
        check_conservation("s", &facts, &state, &mut report);
        let rules: Vec<_> = report.violations.iter().map(|v| (v.seq, v.rule)).collect();
        assert_eq!(rules, [(9, "conservation"), (9, "conservation")], "{:?}", report.violations);
        check_conservation("gone", &facts, &state, &mut report);
        assert!(report.violations[2].what.contains("missing"));
    }
}
