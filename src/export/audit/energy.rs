//! The audit's energy calculations: the session's sums recomputed from its events, the
//! conservation check on them, and the comparison with the replayed state. Integers only
//! (micro-units in `i128`), so every comparison is exact.

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::Error as _;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::event::{EventBody, format_micros};
use crate::state::SessionState;
use crate::store::Record;

/// An energy or a sum of energies, exact, in micro-units.
///
/// Serialized in human-readable formats as a decimal number with at most 6 decimals, written
/// from its digits (through `RawValue`, so `serde_json::to_string` keeps it exact; never
/// through `serde_json::Value`, whose numbers are `f64`). Binary formats get the `i128`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExactEnergy(pub i128);

impl fmt::Display for ExactEnergy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_micros(self.0))
    }
}

impl Serialize for ExactEnergy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            let raw = RawValue::from_string(format_micros(self.0)).map_err(S::Error::custom)?;
            raw.serialize(serializer)
        } else {
            serializer.serialize_i128(self.0)
        }
    }
}

/// Energy maps keyed by model, with exact values.
pub type ByModel = BTreeMap<String, ExactEnergy>;

/// The session's energy: recomputed from its events, checked, and compared with the replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnergyReport {
    /// Σ `energy.update.delta` + Σ `energy.amplification.delta` over the session's events.
    pub energy_total: ExactEnergy,
    /// Σ `energy.update.delta` per model.
    pub by_model: ByModel,
    /// Σ `energy.amplification.delta`.
    pub amplification: ExactEnergy,
    /// The conservation check on the recomputed sums.
    pub conservation: Conservation,
    /// The same three figures in the replayed energy state.
    pub replayed: ReplayedEnergy,
    /// The recomputed figures equal the replayed ones, exactly.
    pub matches_replay: bool,
}

/// Σ by_model + amplification == energy_total, with both sides shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conservation {
    /// The check holds.
    pub holds: bool,
    /// Σ by_model + amplification.
    pub by_model_plus_amplification: ExactEnergy,
    /// energy_total, summed separately over every energy delta.
    pub energy_total: ExactEnergy,
}

/// The accumulator of the replayed state (snapshot + tail, as `replay` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayedEnergy {
    /// `energy_total` of the state.
    pub energy_total: ExactEnergy,
    /// `by_model` of the state.
    pub by_model: ByModel,
    /// `amplification` of the state.
    pub amplification: ExactEnergy,
    /// The state's own conservation check.
    pub conservation: bool,
}

/// Recomputes the sums from `events` (one session's) and compares them with `replayed`.
pub(super) fn report(events: &[Record], replayed: &SessionState) -> EnergyReport {
    let mut total = 0i128;
    let mut by_model: BTreeMap<String, i128> = BTreeMap::new();
    let mut amplification = 0i128;
    for rec in events {
        // The total is summed over every delta on its own, not from the buckets, so that an
        // event counted in the wrong bucket (or in none) breaks the check.
        if let Some(delta) = rec.event.body.energy_delta() {
            total += i128::from(delta.micros());
        }
        match &rec.event.body {
            EventBody::EnergyUpdate(b) => {
                *by_model.entry(b.model.clone()).or_default() += i128::from(b.delta.micros())
            }
            EventBody::EnergyAmplification(b) => amplification += i128::from(b.delta.micros()),
            _ => {}
        }
    }
    let bucket_sum = by_model.values().sum::<i128>() + amplification;
    let exact = |m: &BTreeMap<String, i128>| -> ByModel {
        m.iter().map(|(k, v)| (k.clone(), ExactEnergy(*v))).collect()
    };
    let replayed = ReplayedEnergy {
        energy_total: ExactEnergy(replayed.energy_total),
        by_model: exact(&replayed.by_model),
        amplification: ExactEnergy(replayed.amplification),
        conservation: replayed.conservation_holds(),
    };
    let by_model = exact(&by_model);
    let matches_replay = replayed.energy_total.0 == total
        && replayed.by_model == by_model
        && replayed.amplification.0 == amplification;
    EnergyReport {
        energy_total: ExactEnergy(total),
        by_model,
        amplification: ExactEnergy(amplification),
        conservation: Conservation {
            holds: bucket_sum == total,
            by_model_plus_amplification: ExactEnergy(bucket_sum),
            energy_total: ExactEnergy(total),
        },
        replayed,
        matches_replay,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::event::parse_line;
    use crate::state::EnergyState;

    fn records(lines: &[&str]) -> Vec<Record> {
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| Record { seq: i as u64 + 1, event: parse_line(l, 0).unwrap() })
            .collect()
    }

    const LINES: [&str; 4] = [
        r#"{"session":"s","user":"u","type":"energy.update","data":{"model":"a","tokens":1,"delta":0.1}}"#,
        r#"{"session":"s","user":"u","type":"energy.update","data":{"model":"a","tokens":1,"delta":0.2}}"#,
        r#"{"session":"s","user":"u","type":"energy.update","data":{"model":"b","tokens":1,"delta":9223372036854.775807}}"#,
        r#"{"session":"s","user":"u","type":"energy.amplification","data":{"factor":1.5,"delta":-0.000001}}"#,
    ];

    #[test]
    fn sums_are_exact_and_match_the_replay() {
        let events = records(&LINES);
        let state = EnergyState::replay(events.iter().map(|r| (r.seq, &r.event)));
        let r = report(&events, &state.sessions["s"]);
        assert!(r.conservation.holds && r.matches_replay && r.replayed.conservation, "{r:?}");
        assert_eq!(r.by_model["a"].to_string(), "0.3");
        assert_eq!(r.energy_total.to_string(), "9223372036855.075806");
        // serde_json writes the digits, not an f64's rounding of them.
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.starts_with(r#"{"energy_total":9223372036855.075806,"by_model":{"a":0.3,"b":9223372036854.775807},"amplification":-0.000001,"#), "{json}");
    }

    #[test]
    fn a_state_that_differs_is_reported() {
        let events = records(&LINES);
        let mut state = EnergyState::replay(events.iter().map(|r| (r.seq, &r.event)));
        let s = state.sessions.get_mut("s").unwrap();
        s.amplification += 1;
        let r = report(&events, s);
        assert!(r.conservation.holds, "recomputed from the events");
        assert!(!r.matches_replay && !r.replayed.conservation, "{r:?}");
    }
}
