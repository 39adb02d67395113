//! The store's lifecycle records (`AUDIT`, formats/audit.md) into `audit_log`, and what a
//! purge means for the store's rows exported before it (`export::purged`): they go, with
//! the sessions and users left without events, in the transaction that imports the record.
//! A record is imported once per store, keyed by its index in `AUDIT` and its CRC.

use std::collections::BTreeSet;

use postgres::{Client, Transaction};

use super::{PgResult, pg_err, sql};
use crate::audit::{Action, AuditRecord};
use crate::error::Result;
use crate::export::purged::{self, crc, hex};
use crate::export::rows::int;
use crate::store::Store;

/// What `import` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// Records added to `audit_log`.
    pub records: u64,
    /// Rows deleted for the purges among them.
    pub deleted: u64,
}

/// Imports the records of the store's `AUDIT` that `audit_log` does not have yet, in one
/// transaction; for each new purge, deletes the rows of its events among those exported
/// (seqs up to `exported`).
pub fn import(client: &mut Client, server: &str, store: &Store, id: &str, exported: u64) -> Result<Imported> {
    let log = store.audit()?;
    let mut tx = client.transaction().map_err(pg_err(server, "begin the audit import"))?;
    let have = imported(&mut tx, id).map_err(pg_err(server, "read audit_log"))?;
    let mut done = Imported::default();
    for (index, record) in &log.records {
        if have.contains(&(int(*index), i64::from(crc(record)))) {
            continue;
        }
        let Some(row) =
            insert(&mut tx, id, *index, record).map_err(pg_err(server, "import an AUDIT record"))?
        else {
            continue;
        };
        done.records += 1;
        if record.action == Action::Purge {
            let deleted = delete_purged(&mut tx, server, store, id, record, exported)?;
            tx.execute("UPDATE audit_log SET rows = $2 WHERE id = $1", &[&row, &int(deleted)])
                .map_err(pg_err(server, "record a purge"))?;
            done.deleted += deleted;
        }
    }
    tx.commit().map_err(pg_err(server, "commit the audit import"))?;
    Ok(done)
}

fn imported(tx: &mut Transaction<'_>, id: &str) -> PgResult<BTreeSet<(i64, i64)>> {
    let rows = tx.query(
        "SELECT store_record, store_crc FROM audit_log WHERE store_id = $1 AND store_record IS NOT NULL",
        &[&id],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Inserts the record; its row id, `None` if it was there already.
fn insert(tx: &mut Transaction<'_>, id: &str, index: u64, r: &AuditRecord) -> PgResult<Option<i64>> {
    let seq = |s: u64| (s > 0).then(|| int(s));
    let row = tx.query_opt(
        sql::AUDIT_IMPORT,
        &[
            &id,
            &r.action.as_str(),
            &seq(r.seq_first),
            &seq(r.seq_last),
            &int(index),
            &i64::from(crc(r)),
            &r.at_ns,
            &int(r.events),
            &int(r.bytes),
            &r.subject.as_ref().map(purged::subject_kind),
            &r.subject.map(|s| hex(&s.salt)),
            &r.subject.map(|s| hex(&s.hash)),
        ],
    )?;
    Ok(row.map(|r| r.get(0)))
}

/// Deletes the rows of the events `purge` removed among the seqs up to `exported`; returns
/// the rows deleted.
fn delete_purged(
    tx: &mut Transaction<'_>,
    server: &str,
    store: &Store,
    id: &str,
    purge: &AuditRecord,
    exported: u64,
) -> Result<u64> {
    let Some((lo, hi)) = purged::range(purge, exported) else { return Ok(0) };
    let candidates: Vec<(u64, String, String)> = tx
        .query(
            "SELECT seq, session_id, user_id FROM events WHERE store_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
            &[&id, &int(lo), &int(hi)],
        )
        .map_err(pg_err(server, "find purged events"))?
        .iter()
        .map(|r| (r.get::<_, i64>(0).unsigned_abs(), r.get(1), r.get(2)))
        .collect();
    if candidates.is_empty() {
        return Ok(0);
    }
    let doomed = purged::doomed(store, purge, (lo, hi), candidates)?;
    delete_rows(tx, id, &doomed).map_err(pg_err(server, "delete purged rows"))
}

/// Deletes the events and their contributions, then the sessions and users left without
/// events; recomputes the sessions and users that keep some.
fn delete_rows(tx: &mut Transaction<'_>, id: &str, doomed: &purged::Doomed) -> PgResult<u64> {
    let seqs: Vec<i64> = doomed.seqs.iter().map(|&s| int(s)).collect();
    let mut deleted =
        tx.execute("DELETE FROM energy_contributions WHERE store_id = $1 AND seq = ANY($2)", &[&id, &seqs])?;
    deleted += tx.execute("DELETE FROM events WHERE store_id = $1 AND seq = ANY($2)", &[&id, &seqs])?;
    let mut users = doomed.users.clone();
    for session in &doomed.sessions {
        let left: i64 = tx
            .query_one(
                "SELECT count(*) FROM events WHERE store_id = $1 AND session_id = $2",
                &[&id, session],
            )?
            .get(0);
        if left == 0 {
            let user = tx.query_opt(
                "DELETE FROM sessions WHERE store_id = $1 AND session_id = $2 RETURNING user_id",
                &[&id, session],
            )?;
            if let Some(u) = user {
                users.insert(u.get(0));
                deleted += 1;
            }
        } else {
            tx.execute(sql::RECOMPUTE_SESSION, &[&id, session])?;
        }
    }
    for user in &users {
        let counts = tx.query_one(
            "SELECT (SELECT count(*) FROM events WHERE store_id = $1 AND user_id = $2),
                    (SELECT count(*) FROM sessions WHERE store_id = $1 AND user_id = $2)",
            &[&id, user],
        )?;
        let (events, sessions): (i64, i64) = (counts.get(0), counts.get(1));
        if events == 0 && sessions == 0 {
            deleted += tx.execute("DELETE FROM users WHERE store_id = $1 AND user_id = $2", &[&id, user])?;
        } else if events > 0 {
            tx.execute(sql::RECOMPUTE_USER, &[&id, user])?;
        }
    }
    Ok(deleted)
}
