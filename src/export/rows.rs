//! What one chunk of records says about the view's rows, whatever the database: users and
//! sessions aggregated over the chunk (each upserted once), and the energy contribution of
//! each event that moves energy. `export::sqlite` and `export::postgres` write these.

use std::collections::BTreeMap;

use crate::event::{Event, EventBody};
use crate::store::Record;

/// What a chunk says about one session; merged into its row by each database's upsert.
pub struct SessionRow<'a> {
    pub user: &'a str,
    pub first_seq: u64,
    pub last_seq: u64,
    pub first_ts: i64,
    pub last_ts: i64,
    pub events: u64,
    pub app_version: Option<&'a str>,
    pub models: Option<String>,
    pub end_reason: Option<&'a str>,
    pub ended_ts: Option<i64>,
}

/// A user's first and last seq in the chunk.
pub type UserRow = (u64, u64);

/// The users and sessions of a chunk of records in seq order, each once, sorted by id.
pub fn aggregate(records: &[Record]) -> (BTreeMap<&str, UserRow>, BTreeMap<&str, SessionRow<'_>>) {
    let mut users: BTreeMap<&str, UserRow> = BTreeMap::new();
    let mut sessions: BTreeMap<&str, SessionRow<'_>> = BTreeMap::new();
    for r in records {
        let e = &r.event;
        users.entry(e.user.as_str()).and_modify(|u| u.1 = r.seq).or_insert((r.seq, r.seq));
        let s = sessions.entry(e.session.as_str()).or_insert_with(|| SessionRow {
            user: e.user.as_str(),
            first_seq: r.seq,
            last_seq: r.seq,
            first_ts: e.ts_ns,
            last_ts: e.ts_ns,
            events: 0,
            app_version: None,
            models: None,
            end_reason: None,
            ended_ts: None,
        });
        s.last_seq = r.seq;
        s.first_ts = s.first_ts.min(e.ts_ns);
        s.last_ts = s.last_ts.max(e.ts_ns);
        s.events += 1;
        match &e.body {
            EventBody::SessionStart(b) => {
                s.app_version = Some(&b.app_version);
                s.models = Some(models_json(&b.models));
            }
            EventBody::SessionEnd(b) => {
                s.end_reason = Some(&b.reason);
                s.ended_ts = Some(e.ts_ns);
            }
            _ => {}
        }
    }
    (users, sessions)
}

/// An `energy_contributions` row of an event: kind, model, tokens and delta in micro-units;
/// `None` for an event that moves no energy.
pub fn contribution(e: &Event) -> Option<(&'static str, Option<&str>, Option<i64>, i64)> {
    match &e.body {
        EventBody::EnergyUpdate(b) => {
            Some(("model", Some(&b.model), Some(b.tokens.into()), b.delta.micros()))
        }
        EventBody::EnergyAmplification(b) => Some(("amplification", None, None, b.delta.micros())),
        _ => None,
    }
}

/// A JSON array of strings.
fn models_json(models: &[String]) -> String {
    serde_json::to_string(models).unwrap_or_else(|_| "[]".to_owned())
}

/// Seqs, frames and counts fit the databases' signed 64-bit integers (the log never reaches
/// 2⁶³).
pub fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
