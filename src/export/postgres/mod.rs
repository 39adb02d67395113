//! `export postgres`: the relational view (`schemas/audit.md`) in a shared PostgreSQL,
//! where a team gathers many stores.
//!
//! - Every row carries its store's id; the bookmark (`export_state.last_seq`) is kept per
//!   store and moved in the same transaction as the rows it covers, so the database always
//!   holds a whole prefix of each store's log, whatever stops an export.
//! - An export holds a session advisory lock on its store's id for its whole run: two
//!   exports of one store wait for each other's end instead of interleaving, two stores
//!   export side by side. The server drops the lock with a killed client's connection.
//! - A full export drops the store's rows (the rest of the database is untouched) and
//!   exports from seq 1; an incremental one continues from the bookmark. Either imports the
//!   store's `AUDIT` records, and deletes the rows of events purged since the last export.
//! - Events and energy contributions go in with binary `COPY`, users and sessions with one
//!   upsert each per batch.
//!
//! - `conninfo`: the connection string and libpq's environment, password file and defaults.
//! - `follow`: `--follow`, a database kept current with a live store.
//! - `migrate`: the numbered migrations and their runner.
//! - `rows`: one chunk of records into the database.
//! - `lifecycle`: `AUDIT` into `audit_log`; purged events out.
//! - `sql`: the statements.

pub mod conninfo;
mod follow;
mod lifecycle;
pub mod migrate;
mod rows;
mod sql;

use postgres::{Client, NoTls, Transaction};

pub use self::follow::{FollowNote, FollowOptions, follow};

use crate::error::{Error, Result};
use crate::export::chunks;
use crate::export::rows::int;
use crate::store::Store;

type PgResult<T> = std::result::Result<T, postgres::Error>;

/// Records per chunk: one round of upserts and `COPY`s. Each round adds a version of every
/// session row it touches, which later checks in the same transaction walk past: 8,192
/// exported 2.3x faster than 1,024 (133 k events into a fresh database).
const CHUNK: u64 = 8192;

/// How to export: the options every relational export shares.
pub use crate::export::ViewExport as PostgresExport;

/// What an export did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PgExportReport {
    /// The server and database, without a password.
    pub server: String,
    /// The store's id, as its rows carry it.
    pub store_id: String,
    /// The first seq this run exported (0 when there was nothing new).
    pub first_seq: u64,
    /// The last seq exported now (by this run or before).
    pub last_seq: u64,
    /// Events this run added.
    pub events: u64,
    /// Rows this run wrote, over every table.
    pub rows: u64,
    /// Schema migrations this run applied.
    pub migrated: Vec<u32>,
    /// The database's schema version now.
    pub schema_version: u32,
    /// Records of the store's `AUDIT` this run added to `audit_log`.
    pub audit_records: u64,
    /// Rows this run deleted because their events were purged from the store.
    pub purged_rows: u64,
}

/// A connection to the database `conn` names (libpq's conventions: [`conninfo`]).
pub struct Database {
    client: Client,
    server: String,
}

impl Database {
    /// Connects. `conn` is a `postgresql://` URL or `key=value` pairs; what it leaves out
    /// comes from the `PG*` variables, the password file and libpq's defaults.
    pub fn connect(conn: &str) -> Result<Database> {
        let config =
            conninfo::config(conn, &conninfo::ProcessEnv).map_err(|e| Error::InvalidOption(e.to_string()))?;
        let server = conninfo::describe(&config);
        let client = config.connect(NoTls).map_err(pg_err(&server, "connect"))?;
        Ok(Database { client, server })
    }

    /// The server and database, without a password.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The client, for queries of the caller's own.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Exports `store` into `db`; `progress` is told the events done and the total to do.
pub fn export(
    store: &Store,
    db: &mut Database,
    opts: &PostgresExport,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PgExportReport> {
    let server = db.server.clone();
    let migrated = migrate::migrate(&mut db.client, &server)?;
    let id = store_id_hex(store);
    with_store_lock(&mut db.client, &server, &id, |client| {
        let done = bookmark(client, &server, store, &id, opts.incremental)?;
        let imported = lifecycle::import(client, &server, store, &id, done)?;
        let mut report = PgExportReport {
            server: server.clone(),
            store_id: id.clone(),
            first_seq: 0,
            last_seq: done,
            events: 0,
            rows: imported.records,
            migrated: migrated.applied,
            schema_version: migrate::SCHEMA_VERSION,
            audit_records: imported.records,
            purged_rows: imported.deleted,
        };
        write_events(store, client, opts, &mut report, progress)?;
        report.rows += write_snapshots(store, client, &id).map_err(pg_err(&server, "snapshots"))?;
        Ok(report)
    })
}

/// Deletes every row of the store `store_id` (16 hex digits) from the database; returns
/// whether it had any. The schema stays.
pub fn drop_store(db: &mut Database, store_id: &str) -> Result<bool> {
    let server = db.server.clone();
    let missing = {
        let mut tx = db.client.transaction().map_err(pg_err(&server, "begin"))?;
        let m = migrate::missing(&mut tx, &["export_state"]).map_err(pg_err(&server, "list tables"))?;
        tx.commit().map_err(pg_err(&server, "commit"))?;
        m
    };
    if !missing.is_empty() {
        return Ok(false);
    }
    with_store_lock(&mut db.client, &server, store_id, |client| {
        let mut tx = client.transaction().map_err(pg_err(&server, "begin"))?;
        let had = delete_store(&mut tx, store_id).map_err(pg_err(&server, "drop the store's rows"))?;
        tx.commit().map_err(pg_err(&server, "commit"))?;
        Ok(had)
    })
}

/// Deletes every row of the store `id`; whether it had a bookmark.
fn delete_store(tx: &mut Transaction<'_>, id: &str) -> PgResult<bool> {
    let mut deleted = 0;
    for statement in sql::DROP_STORE {
        deleted = tx.execute(statement, &[&id])?;
    }
    // The last statement deletes the bookmark.
    Ok(deleted > 0)
}

/// The store's bookmark, after a full export's reset: the last seq already exported.
fn bookmark(client: &mut Client, server: &str, store: &Store, id: &str, incremental: bool) -> Result<u64> {
    let mut tx = client.transaction().map_err(pg_err(server, "begin"))?;
    if !incremental {
        // One transaction: the rows go with the bookmark that covered them.
        delete_store(&mut tx, id).map_err(pg_err(server, "drop the store's rows"))?;
    }
    tx.execute(sql::NEW_BOOKMARK, &[&id]).map_err(pg_err(server, "create the bookmark"))?;
    let done: i64 =
        tx.query_one(sql::LOCK_BOOKMARK, &[&id]).map_err(pg_err(server, "read the bookmark"))?.get(0);
    tx.commit().map_err(pg_err(server, "commit"))?;
    // The bookmark is the database's word: it must name a seq this store has.
    u64::try_from(done).ok().filter(|&d| d <= store.last_seq()).ok_or_else(|| Error::NotAnExport {
        path: server.into(),
        why: format!(
            "store {id}'s last exported seq {done} is not a seq of this store (last {}); a full export replaces it",
            store.last_seq()
        ),
    })
}

/// Exports the events after the bookmark to the store's last seq, in batches.
fn write_events(
    store: &Store,
    client: &mut Client,
    opts: &PostgresExport,
    report: &mut PgExportReport,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<()> {
    let server = report.server.clone();
    let (from, to) = (report.last_seq + 1, store.last_seq());
    let total = (to + 1).saturating_sub(from);
    let batch_events = opts.batch_events.max(1);
    let mut audit_id = None;
    let statements = rows::Statements::prepare(client).map_err(pg_err(&server, "prepare"))?;
    std::thread::scope(|scope| {
        let mut chunks =
            chunks::spawn(scope, store, from..=to, (CHUNK, batch_events), opts.include_content).into_iter();
        let mut more = true;
        while more {
            let mut t = client.transaction().map_err(pg_err(&server, "begin a batch"))?;
            let mut wrote = false;
            more = false;
            for chunk in chunks.by_ref() {
                let chunk = chunk?;
                let Some(last) = chunk.records.last().map(|r| r.seq) else { break };
                let written = rows::write_chunk(&mut t, &statements, &report.store_id, &chunk);
                report.rows += written.map_err(pg_err(&server, "write a batch"))?;
                report.first_seq = if report.first_seq == 0 { from } else { report.first_seq };
                report.events += chunk.records.len() as u64;
                report.last_seq = last;
                wrote = true;
                if chunk.ends_batch {
                    more = true;
                    break;
                }
            }
            if wrote {
                commit_batch(t, report, &mut audit_id).map_err(pg_err(&server, "commit a batch"))?;
                progress(report.events, total);
            }
        }
        Ok::<_, Error>(())
    })
}

/// Moves the bookmark to the batch's last seq, records the run, and commits.
fn commit_batch(
    mut t: Transaction<'_>,
    report: &mut PgExportReport,
    audit_id: &mut Option<i64>,
) -> PgResult<()> {
    let (id, last) = (report.store_id.as_str(), int(report.last_seq));
    report.rows += t.execute(sql::SET_BOOKMARK, &[&id, &last])?;
    let rows = int(report.rows);
    match *audit_id {
        Some(a) => {
            t.execute(sql::AUDIT_EXPORT_UPDATE, &[&a, &last, &rows])?;
        }
        None => {
            let detail = format!("wfstore {}", env!("CARGO_PKG_VERSION"));
            let first = int(report.first_seq);
            *audit_id = Some(t.query_one(sql::AUDIT_EXPORT, &[&id, &first, &last, &rows, &detail])?.get(0));
        }
    }
    t.commit()
}

/// Replaces the store's `snapshots` rows with its snapshot files, if they changed.
fn write_snapshots(store: &Store, client: &mut Client, id: &str) -> PgResult<u64> {
    let now: Vec<(i64, String, i64)> = store
        .snapshots()
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            let file = s.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (int(s.seq), file, int(s.bytes))
        })
        .collect();
    let mut tx = client.transaction()?;
    let have: Vec<(i64, String, i64)> = tx
        .query("SELECT seq, file, bytes FROM snapshots WHERE store_id = $1 ORDER BY seq", &[&id])?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    if have == now {
        return Ok(0);
    }
    let mut rows = tx.execute("DELETE FROM snapshots WHERE store_id = $1", &[&id])?;
    let insert = tx.prepare("INSERT INTO snapshots (store_id, seq, file, bytes) VALUES ($1, $2, $3, $4)")?;
    for (seq, file, bytes) in &now {
        rows += tx.execute(&insert, &[&id, seq, file, bytes])?;
    }
    tx.commit()?;
    Ok(rows)
}

/// Runs `f` holding the session advisory lock on the store `id`: one export (or drop) of a
/// store at a time. A connection that breaks drops the lock with it.
fn with_store_lock<T>(
    client: &mut Client,
    server: &str,
    id: &str,
    f: impl FnOnce(&mut Client) -> Result<T>,
) -> Result<T> {
    // The id's 16 hex digits are the store's random 64-bit id: the key itself.
    let key = u64::from_str_radix(id, 16)
        .map(|k| i64::from_ne_bytes(k.to_ne_bytes()))
        .map_err(|_| Error::InvalidOption(format!("a store id is 16 hex digits, not {id:?}")))?;
    client.execute("SELECT pg_advisory_lock($1)", &[&key]).map_err(pg_err(server, "lock the store"))?;
    let out = f(client);
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&key]);
    let out = out?;
    unlocked.map_err(pg_err(server, "unlock the store"))?;
    Ok(out)
}

fn store_id_hex(store: &Store) -> String {
    format!("{:016x}", store.store_id())
}

/// Maps a client error to `Error::Postgres`, naming the server and what was being done.
fn pg_err<'a>(server: &'a str, context: &'a str) -> impl Fn(postgres::Error) -> Error + 'a {
    move |source| Error::Postgres { server: server.to_owned(), context: context.to_owned(), source }
}
