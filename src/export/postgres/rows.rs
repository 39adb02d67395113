//! One chunk of records into PostgreSQL: users and sessions aggregated over the chunk
//! (`export::rows`) and upserted once each, then events and energy contributions with
//! binary `COPY`, in that order (each row's foreign key finds its parent).

use std::error::Error as StdError;

use bytes::{BufMut as _, BytesMut};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Statement, Transaction};

use super::{PgResult, sql};
use crate::export::chunks::Chunk;
use crate::export::rows::{aggregate, contribution, int};

/// The upserts, prepared once per export.
pub struct Statements {
    user: Statement,
    session: Statement,
}

impl Statements {
    pub fn prepare(client: &mut Client) -> PgResult<Statements> {
        Ok(Statements {
            user: client.prepare(sql::UPSERT_USER)?,
            session: client.prepare(sql::UPSERT_SESSION)?,
        })
    }
}

/// Writes a chunk of records (in seq order) of the store `id`; returns the rows written.
pub fn write_chunk(tx: &mut Transaction<'_>, st: &Statements, id: &str, chunk: &Chunk) -> PgResult<u64> {
    let (users, sessions) = aggregate(&chunk.records);
    let mut rows = 0;
    for (user, (first, last)) in &users {
        rows += tx.execute(&st.user, &[&id, user, &int(*first), &int(*last)])?;
    }
    for (session, s) in &sessions {
        let models = s.models.as_deref().map(Json);
        rows += tx.execute(
            &st.session,
            &[
                &id,
                session,
                &s.user,
                &int(s.first_seq),
                &int(s.last_seq),
                &s.first_ts,
                &s.last_ts,
                &int(s.events),
                &s.app_version,
                &models,
                &s.end_reason,
                &s.ended_ts,
            ],
        )?;
    }
    rows += copy_events(tx, id, chunk)?;
    rows += copy_contributions(tx, id, chunk)?;
    Ok(rows)
}

fn copy_events(tx: &mut Transaction<'_>, id: &str, chunk: &Chunk) -> PgResult<u64> {
    let types =
        [Type::TEXT, Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT, Type::INT8, Type::INT8, Type::JSONB];
    let mut w = BinaryCopyInWriter::new(tx.copy_in(sql::COPY_EVENTS)?, &types);
    for (r, body) in chunk.records.iter().zip(&chunk.bodies) {
        let e = &r.event;
        w.write(&[
            &id,
            &int(r.seq),
            &e.session.as_str(),
            &e.user.as_str(),
            &e.event_type().as_str(),
            &e.ts_ns,
            &int(e.frame),
            &Json(body),
        ])?;
    }
    w.finish()
}

fn copy_contributions(tx: &mut Transaction<'_>, id: &str, chunk: &Chunk) -> PgResult<u64> {
    let types = [Type::TEXT, Type::INT8, Type::TEXT, Type::TEXT, Type::INT8, Type::INT8];
    let mut w = BinaryCopyInWriter::new(tx.copy_in(sql::COPY_CONTRIBUTIONS)?, &types);
    for r in &chunk.records {
        if let Some((kind, model, tokens, delta)) = contribution(&r.event) {
            w.write(&[&id, &int(r.seq), &kind, &model, &tokens, &delta])?;
        }
    }
    w.finish()
}

/// JSON text already written (the exporter's own `data_json`), sent as `json`/`jsonb`
/// without parsing it again: `jsonb`'s binary form is a version byte, then the text.
#[derive(Debug)]
struct Json<'a>(&'a str);

impl ToSql for Json<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        if *ty == Type::JSONB {
            out.put_u8(1);
        }
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }

    to_sql_checked!();
}
