//! The store's lifecycle records (`AUDIT`, formats/audit.md) into `audit_log`, and what a
//! purge means for an export made before it: the rows of the purged events go, with the
//! sessions and users left without events.
//!
//! A record is imported once, keyed by its index in `AUDIT` and its CRC
//! (`audit_log_by_store_record`). The rows of a purge are found from the record
//! (`export::purged`) and deleted with `secure_delete` on, so the freed pages hold zeros,
//! not the ids.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::{Connection, Transaction, params};

use super::{SqlResult, sql, sql_err};
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
/// (seqs up to `exported`). Writes nothing when there is nothing new.
pub fn import(conn: &mut Connection, path: &Path, store: &Store, exported: u64) -> Result<Imported> {
    let log = store.audit()?;
    let have = imported(conn).map_err(|e| sql_err(path, e))?;
    let new: Vec<&(u64, AuditRecord)> =
        log.records.iter().filter(|(i, r)| !have.contains(&(int(*i), i64::from(crc(r))))).collect();
    let mut done = Imported::default();
    if new.is_empty() {
        return Ok(done);
    }
    let secure: i64 =
        conn.query_row("PRAGMA secure_delete", [], |r| r.get(0)).map_err(|e| sql_err(path, e))?;
    conn.execute_batch("PRAGMA secure_delete = ON").map_err(|e| sql_err(path, e))?;
    let tx = conn.transaction().map_err(|e| sql_err(path, e))?;
    for (index, record) in new {
        insert(&tx, *index, record).map_err(|e| sql_err(path, e))?;
        done.records += 1;
        if record.action == Action::Purge {
            let id = tx.last_insert_rowid();
            let deleted = delete_purged(&tx, path, store, record, exported)?;
            tx.execute("UPDATE audit_log SET rows = ?1 WHERE id = ?2", params![int(deleted), id])
                .map_err(|e| sql_err(path, e))?;
            done.deleted += deleted;
        }
    }
    tx.commit().map_err(|e| sql_err(path, e))?;
    conn.execute_batch(&format!("PRAGMA secure_delete = {secure}")).map_err(|e| sql_err(path, e))?;
    Ok(done)
}

fn imported(conn: &Connection) -> SqlResult<BTreeSet<(i64, i64)>> {
    let mut stmt =
        conn.prepare("SELECT store_record, store_crc FROM audit_log WHERE store_record IS NOT NULL")?;
    let keys = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<SqlResult<BTreeSet<_>>>()?;
    Ok(keys)
}

fn insert(tx: &Transaction<'_>, index: u64, r: &AuditRecord) -> SqlResult<usize> {
    let seq = |s: u64| (s > 0).then(|| int(s));
    let kind = r.subject.as_ref().map(purged::subject_kind);
    tx.execute(
        sql::AUDIT_IMPORT,
        params![
            r.at_ns,
            r.action.as_str(),
            seq(r.seq_first),
            seq(r.seq_last),
            int(index),
            i64::from(crc(r)),
            int(r.events),
            int(r.bytes),
            kind,
            r.subject.map(|s| hex(&s.salt)),
            r.subject.map(|s| hex(&s.hash)),
        ],
    )
}

/// Deletes the rows of the events `purge` removed among the seqs up to `exported`; returns
/// the rows deleted.
fn delete_purged(
    tx: &Transaction<'_>,
    path: &Path,
    store: &Store,
    purge: &AuditRecord,
    exported: u64,
) -> Result<u64> {
    let Some((lo, hi)) = purged::range(purge, exported) else { return Ok(0) };
    let candidates: Vec<(u64, String, String)> = {
        let mut stmt = tx
            .prepare("SELECT seq, session_id, user_id FROM events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq")
            .map_err(|e| sql_err(path, e))?;
        stmt.query_map(params![int(lo), int(hi)], |r| {
            Ok((r.get::<_, i64>(0)?.unsigned_abs(), r.get(1)?, r.get(2)?))
        })
        .and_then(|rows| rows.collect::<SqlResult<Vec<_>>>())
        .map_err(|e| sql_err(path, e))?
    };
    if candidates.is_empty() {
        return Ok(0);
    }
    let mut doomed = purged::doomed(store, purge, (lo, hi), candidates)?;
    delete_rows(tx, &doomed.seqs, &doomed.sessions, &mut doomed.users).map_err(|e| sql_err(path, e))
}

/// Deletes the events `seqs` and their contributions, then the sessions and users left
/// without events; recomputes the sessions and users that keep some.
fn delete_rows(
    tx: &Transaction<'_>,
    seqs: &[u64],
    sessions: &BTreeSet<String>,
    users: &mut BTreeSet<String>,
) -> SqlResult<u64> {
    let mut deleted = 0;
    {
        let mut contributions = tx.prepare_cached("DELETE FROM energy_contributions WHERE seq = ?1")?;
        let mut events = tx.prepare_cached("DELETE FROM events WHERE seq = ?1")?;
        for &seq in seqs {
            deleted += contributions.execute([int(seq)])? as u64;
            deleted += events.execute([int(seq)])? as u64;
        }
    }
    for session in sessions {
        let left: i64 =
            tx.query_row("SELECT count(*) FROM events WHERE session_id = ?1", [session], |r| r.get(0))?;
        if left == 0 {
            let user: Option<String> = tx
                .query_row("SELECT user_id FROM sessions WHERE session_id = ?1", [session], |r| r.get(0))
                .map(Some)
                .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
            users.extend(user);
            deleted += tx.execute("DELETE FROM sessions WHERE session_id = ?1", [session])? as u64;
        } else {
            tx.execute(sql::RECOMPUTE_SESSION, [session])?;
        }
    }
    for user in users.iter() {
        let events: i64 =
            tx.query_row("SELECT count(*) FROM events WHERE user_id = ?1", [user], |r| r.get(0))?;
        let sessions: i64 =
            tx.query_row("SELECT count(*) FROM sessions WHERE user_id = ?1", [user], |r| r.get(0))?;
        if events == 0 && sessions == 0 {
            deleted += tx.execute("DELETE FROM users WHERE user_id = ?1", [user])? as u64;
        } else if events > 0 {
            tx.execute(sql::RECOMPUTE_USER, [user])?;
        }
    }
    Ok(deleted)
}
