//! One batch of records into rows: events and energy contributions one by one, users and
//! sessions aggregated over the batch (`export::rows`) and upserted once each.

use rusqlite::{Transaction, params};

use super::SqlResult;
use super::sql::{self, ROWS_PER_INSERT};
use crate::export::chunks::Chunk;
use crate::export::rows::{aggregate, contribution, int};

/// Writes a chunk of records (in seq order) and returns the rows written.
pub fn write_chunk(tx: &Transaction<'_>, chunk: &Chunk) -> SqlResult<u64> {
    let (users, sessions) = aggregate(&chunk.records);
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
            let (kind, model, tokens, delta) = contribution(&r.event)?;
            let model = model.map_or(Value::Null, Value::Text);
            let tokens = tokens.map_or(Value::Null, Value::Int);
            Some([Value::Int(int(r.seq)), Value::Text(kind), model, tokens, Value::Int(delta)])
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
