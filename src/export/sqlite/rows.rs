//! One batch of records into rows: events and energy contributions one by one, users and
//! sessions aggregated over the batch and upserted once each.

use std::collections::BTreeMap;

use rusqlite::{Transaction, params};

use super::reader::Chunk;
use super::{SqlResult, sql};
use crate::event::EventBody;

/// What a batch says about one session; merged into its row by `sql::UPSERT_SESSION`.
struct SessionRow<'a> {
    user: &'a str,
    first_seq: u64,
    last_seq: u64,
    first_ts: i64,
    last_ts: i64,
    events: u64,
    app_version: Option<&'a str>,
    models: Option<String>,
    end_reason: Option<&'a str>,
    ended_ts: Option<i64>,
}

/// Writes a chunk of records (in seq order) and returns the rows written.
pub fn write_chunk(tx: &Transaction<'_>, chunk: &Chunk) -> SqlResult<u64> {
    let records = &chunk.records;
    let mut users: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
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
    let mut rows = 0;
    let mut stmt = tx.prepare_cached(sql::UPSERT_USER)?;
    for (user, (first, last)) in &users {
        rows += stmt.execute(params![user, int(*first), int(*last)])? as u64;
    }
    let mut stmt = tx.prepare_cached(sql::UPSERT_SESSION)?;
    for (id, s) in &sessions {
        rows += stmt.execute(params![
            id,
            s.user,
            int(s.first_seq),
            int(s.last_seq),
            s.first_ts,
            s.last_ts,
            int(s.events),
            s.app_version,
            s.models,
            s.end_reason,
            s.ended_ts
        ])? as u64;
    }
    rows += write_events(tx, chunk)?;
    Ok(rows)
}

fn write_events(tx: &Transaction<'_>, chunk: &Chunk) -> SqlResult<u64> {
    let mut events = tx.prepare_cached(sql::INSERT_EVENT)?;
    let mut contributions = tx.prepare_cached(sql::INSERT_CONTRIBUTION)?;
    let mut rows = 0;
    for (r, body) in chunk.records.iter().zip(&chunk.bodies) {
        let e = &r.event;
        let (seq, session) = (int(r.seq), e.session.as_str());
        let kind = e.event_type().as_str();
        rows += events.execute(params![seq, session, e.user.as_str(), kind, e.ts_ns, int(e.frame), body])?;
        let contribution = match &e.body {
            EventBody::EnergyUpdate(b) => Some(("model", Some(b.model.as_str()), Some(b.tokens), b.delta)),
            EventBody::EnergyAmplification(b) => Some(("amplification", None, None, b.delta)),
            _ => None,
        };
        if let Some((kind, model, tokens, delta)) = contribution {
            rows +=
                contributions.execute(params![seq, session, kind, model, tokens, delta.micros(), e.ts_ns])?;
        }
    }
    Ok(rows as u64)
}

/// A JSON array of strings.
fn models_json(models: &[String]) -> String {
    serde_json::to_string(models).unwrap_or_else(|_| "[]".to_owned())
}

/// Seqs, frames and counts fit SQLite's signed 64-bit integers (the log never reaches 2⁶³).
pub fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
