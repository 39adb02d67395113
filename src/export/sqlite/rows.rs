//! One batch of records into rows: events and energy contributions one by one, users and
//! sessions aggregated over the batch and upserted once each.

use std::collections::BTreeMap;

use rusqlite::{Transaction, params};

use super::SqlResult;
use super::reader::Chunk;
use super::sql::{self, ROWS_PER_INSERT};
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
    let events: Vec<[Value<'_>; 7]> = chunk
        .records
        .iter()
        .zip(&chunk.bodies)
        .map(|(r, body)| {
            let e = &r.event;
            [
                Value::Int(int(r.seq)),
                Value::Text(e.session.as_str()),
                Value::Text(e.user.as_str()),
                Value::Text(e.event_type().as_str()),
                Value::Int(e.ts_ns),
                Value::Int(int(e.frame)),
                Value::Text(body),
            ]
        })
        .collect();
    let contributions: Vec<[Value<'_>; 5]> = chunk
        .records
        .iter()
        .filter_map(|r| {
            let e = &r.event;
            let (kind, model, tokens, delta) = match &e.body {
                EventBody::EnergyUpdate(b) => {
                    ("model", Value::Text(&b.model), Value::Int(b.tokens.into()), b.delta)
                }
                EventBody::EnergyAmplification(b) => ("amplification", Value::Null, Value::Null, b.delta),
                _ => return None,
            };
            Some([Value::Int(int(r.seq)), Value::Text(kind), model, tokens, Value::Int(delta.micros())])
        })
        .collect();
    Ok(insert_rows(tx, (sql::INSERT_EVENT, &sql::INSERT_EVENTS), &events)?
        + insert_rows(tx, (sql::INSERT_CONTRIBUTION, &sql::INSERT_CONTRIBUTIONS), &contributions)?)
}

/// A column value, borrowed from the record.
enum Value<'a> {
    Int(i64),
    Text(&'a str),
    Null,
}

/// Inserts `rows` with `insert`, a one-row statement and its `ROWS_PER_INSERT`-row form:
/// the many-row form where it can, the one-row form for the rest.
fn insert_rows<const N: usize>(
    tx: &Transaction<'_>,
    (one, many): (&str, &str),
    rows: &[[Value<'_>; N]],
) -> SqlResult<u64> {
    let mut written = 0;
    let mut groups = rows.chunks_exact(ROWS_PER_INSERT);
    let mut stmt = tx.prepare_cached(many)?;
    for group in groups.by_ref() {
        written += bind_and_run(&mut stmt, group)?;
    }
    let mut stmt = tx.prepare_cached(one)?;
    for row in groups.remainder() {
        written += bind_and_run(&mut stmt, std::slice::from_ref(row))?;
    }
    Ok(written as u64)
}

/// Binds the values of `rows` to `stmt`'s anonymous parameters, in order, and runs it.
fn bind_and_run<const N: usize>(
    stmt: &mut rusqlite::CachedStatement<'_>,
    rows: &[[Value<'_>; N]],
) -> SqlResult<usize> {
    for (i, value) in rows.iter().flatten().enumerate() {
        let at = i + 1;
        match value {
            Value::Int(v) => stmt.raw_bind_parameter(at, v)?,
            Value::Text(v) => stmt.raw_bind_parameter(at, v)?,
            Value::Null => stmt.raw_bind_parameter(at, rusqlite::types::Null)?,
        }
    }
    stmt.raw_execute()
}

/// A JSON array of strings.
fn models_json(models: &[String]) -> String {
    serde_json::to_string(models).unwrap_or_else(|_| "[]".to_owned())
}

/// Seqs, frames and counts fit SQLite's signed 64-bit integers (the log never reaches 2⁶³).
pub fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
