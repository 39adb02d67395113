//! `export sqlite`: materializes the relational view (`schemas/audit.md`) into a SQLite
//! database, fully or incrementally.
//!
//! - A full export builds a new database in a temporary file next to the target
//!   (`export::atomic`) and renames it over the target at the end: a failure (a corrupt
//!   store, say) leaves the target as it was. The temp file is `flock`ed while it is built;
//!   creating it removes the temp files that killed exports of the same target left
//!   (`.OUT.db.<16 hex>.tmp`, older and unlocked). SQLite's own locks are `fcntl` locks on
//!   its own descriptor, independent of that `flock`.
//! - An incremental export continues an existing export of the same store from the seq it
//!   recorded (`export_state.last_seq`), migrating an older schema first. It commits in
//!   batches, each moving `last_seq` in the same transaction, so the database always holds
//!   a whole, consistent prefix of the log; a failure keeps the batches committed before it
//!   and the next run resumes there. A run with nothing new writes nothing.
//! - A target that is not a wfstore export, or an export of another store, is refused.
//!
//! - An existing export at an older schema version is migrated first, by the procedure of
//!   `schemas/migrations/TEMPLATE.sql` (`migrate::run`): checks, a backup beside it, one
//!   transaction, verification.
//! - Both import the store's lifecycle records (`AUDIT`) into `audit_log`, once each; an
//!   incremental export deletes the rows of events purged since the last one (`lifecycle`).
//!
//! - `migrate`: the numbered migrations, the runner and version detection.
//! - `lifecycle`: `AUDIT` into `audit_log`; purged events out.
//! - `rows`: one chunk of records into rows.
//! - `sql`: the statements.

mod lifecycle;
pub mod migrate;
mod rows;
mod sql;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, Transaction, params};

use self::migrate::{Found, SCHEMA_VERSION};
use crate::error::{Error, Result};
use crate::export::atomic::AtomicFile;
use crate::export::chunks as reader;
use crate::export::rows::int;
use crate::store::Store;

type SqlResult<T> = rusqlite::Result<T>;

/// Records per chunk handed from the reader thread to the inserting one.
const CHUNK: u64 = 1024;

/// How to export: the options every relational export shares.
pub use crate::export::ViewExport as SqliteExport;

/// What an export did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExportReport {
    /// The database written.
    pub path: PathBuf,
    /// Seqs exported by this run (empty when there was nothing new).
    pub first_seq: u64,
    /// The last seq this run exported (or the one already there).
    pub last_seq: u64,
    /// Events this run added.
    pub events: u64,
    /// Rows this run wrote, over every table.
    pub rows: u64,
    /// Schema migrations this run applied to an existing database.
    pub migrated: Vec<u32>,
    /// The database's schema version now.
    pub schema_version: u32,
    /// The copy of the database taken before migrating it, kept beside it.
    pub backup: Option<PathBuf>,
    /// Records of the store's `AUDIT` this run added to `audit_log`.
    pub audit_records: u64,
    /// Rows this run deleted because their events were purged from the store.
    pub purged_rows: u64,
}

/// Exports `store` into `out`; `progress` is told the events done and the total to do.
pub fn export(
    store: &Store,
    out: &Path,
    opts: &SqliteExport,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportReport> {
    if opts.incremental && out.exists() {
        return incremental(store, out, opts, progress);
    }
    if out.exists() {
        // Only an export may be replaced; its content is checked, not its name.
        let conn = open_existing(out)?;
        check_export(&conn, out, store)?;
    }
    full(store, out, opts, progress)
}

fn full(
    store: &Store,
    out: &Path,
    opts: &SqliteExport,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportReport> {
    // A temp file of its own (a concurrent export into the same target cannot touch it),
    // removed if anything fails.
    let file = AtomicFile::create(out)?;
    let mut report = build_new(store, file.temp_path(), opts, progress)?;
    file.commit()?;
    report.path = out.to_owned();
    Ok(report)
}

/// Writes a complete export into the new file `tmp`.
fn build_new(
    store: &Store,
    tmp: &Path,
    opts: &SqliteExport,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportReport> {
    // The temp file exists (empty) and is locked by `AtomicFile`: open it, never create
    // another file at its path.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(tmp, flags).map_err(|e| sql_err(tmp, e))?;
    // A temporary file that is thrown away on any failure needs no journal; it is synced
    // once, before the rename. Rows are made consistent by construction (sessions and
    // users before their events), which the tests check with `PRAGMA foreign_key_check`,
    // so the bulk load skips the per-row foreign key probes.
    conn.execute_batch("PRAGMA page_size = 16384; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -65536; PRAGMA threads = 2;")
        .map_err(|e| sql_err(tmp, e))?;
    migrate::migrate(&mut conn, tmp, 0)?;
    conn.execute(sql::INSERT_EXPORT_STATE, params![store_id_hex(store)]).map_err(|e| sql_err(tmp, e))?;
    // Nothing is exported yet, so no purge has rows to delete.
    let imported = lifecycle::import(&mut conn, tmp, store, 0)?;
    // Building an index once from sorted keys beats updating it row by row.
    let indexes = drop_indexes(&conn).map_err(|e| sql_err(tmp, e))?;
    let mut report = write_events(store, &mut conn, tmp, 1, opts, progress)?;
    report.audit_records = imported.records;
    report.rows += imported.records;
    conn.execute_batch(&indexes.join(";\n")).map_err(|e| sql_err(tmp, e))?;
    conn.close().map_err(|(_, e)| sql_err(tmp, e))?;
    report.schema_version = SCHEMA_VERSION;
    Ok(report)
}

/// Drops the schema's indexes; returns the statements that create them again.
fn drop_indexes(conn: &Connection) -> SqlResult<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL")?;
    let indexes = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<SqlResult<Vec<_>>>()?;
    for (name, _) in &indexes {
        conn.execute_batch(&format!("DROP INDEX \"{name}\""))?;
    }
    Ok(indexes.into_iter().map(|(_, sql)| sql).collect())
}

fn incremental(
    store: &Store,
    out: &Path,
    opts: &SqliteExport,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportReport> {
    let mut conn = open_existing(out)?;
    let version = check_export(&conn, out, store)?;
    if version == 0 {
        // An empty database: nothing to continue.
        drop(conn);
        return full(store, out, opts, progress);
    }
    let done: i64 =
        conn.query_row("SELECT last_seq FROM export_state", [], |r| r.get(0)).map_err(|e| sql_err(out, e))?;
    // The bookmark comes from a file anyone can edit: it must name a seq this store has.
    let done = u64::try_from(done).ok().filter(|&d| d <= store.last_seq()).ok_or_else(|| {
        not_an_export(
            out,
            format!("its last exported seq {done} is not a seq of this store (last {})", store.last_seq()),
        )
    })?;
    let from = done + 1;
    conn.execute_batch("PRAGMA foreign_keys = ON;").map_err(|e| sql_err(out, e))?;
    let migrated = migrate::migrate(&mut conn, out, version)?;
    let imported = lifecycle::import(&mut conn, out, store, done)?;
    let mut report = write_events(store, &mut conn, out, from, opts, progress)?;
    report.migrated = migrated.applied;
    report.backup = migrated.backup;
    report.audit_records = imported.records;
    report.purged_rows = imported.deleted;
    report.rows += imported.records;
    report.schema_version = SCHEMA_VERSION;
    Ok(report)
}

/// Exports the events from `from` to the store's last seq in batches, then the snapshot
/// list if it changed.
fn write_events(
    store: &Store,
    conn: &mut Connection,
    path: &Path,
    from: u64,
    opts: &SqliteExport,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportReport> {
    let to = store.last_seq();
    let total = (to + 1).saturating_sub(from);
    let mut report = ExportReport {
        path: path.to_owned(),
        first_seq: if total > 0 { from } else { 0 },
        last_seq: from - 1,
        events: 0,
        rows: 0,
        migrated: Vec::new(),
        schema_version: 0,
        backup: None,
        audit_records: 0,
        purged_rows: 0,
    };
    let batch_events = opts.batch_events.max(1);
    std::thread::scope(|scope| {
        let chunks = reader::spawn(scope, store, from..=to, (CHUNK, batch_events), opts.include_content);
        let mut tx = None;
        let mut audit_id = None;
        for chunk in chunks {
            let chunk = chunk?;
            let Some(last) = chunk.records.last().map(|r| r.seq) else { break };
            let t = match &tx {
                Some(t) => t,
                None => tx.insert(conn.unchecked_transaction().map_err(|e| sql_err(path, e))?),
            };
            report.rows += rows::write_chunk(t, &chunk).map_err(|e| sql_err(path, e))?;
            report.events += chunk.records.len() as u64;
            report.last_seq = last;
            if let Some(t) = tx.take_if(|_| chunk.ends_batch) {
                commit_batch(t, &mut report, &mut audit_id).map_err(|e| sql_err(path, e))?;
                progress(report.events, total);
            }
        }
        if let Some(t) = tx {
            commit_batch(t, &mut report, &mut audit_id).map_err(|e| sql_err(path, e))?;
            progress(report.events, total);
        }
        Ok::<_, Error>(())
    })?;
    if report.events > 0 || snapshots_changed(store, conn).map_err(|e| sql_err(path, e))? {
        report.rows += write_snapshots(store, conn).map_err(|e| sql_err(path, e))?;
    }
    Ok(report)
}

/// Moves the bookmark to the batch's last seq, records the run, and commits.
fn commit_batch(t: Transaction<'_>, report: &mut ExportReport, audit_id: &mut Option<i64>) -> SqlResult<()> {
    report.rows += t.execute(sql::SET_LAST_SEQ, params![int(report.last_seq)])? as u64;
    *audit_id = Some(audit(&t, *audit_id, report)?);
    t.commit()
}

/// Records this run in `audit_log`: one row per run, updated by each batch.
fn audit(tx: &Transaction<'_>, id: Option<i64>, report: &ExportReport) -> SqlResult<i64> {
    let (last, rows) = (int(report.last_seq), int(report.rows));
    match id {
        Some(id) => {
            tx.execute(sql::AUDIT_EXPORT_UPDATE, params![last, rows, id])?;
            Ok(id)
        }
        None => {
            let detail = format!("wfstore {}", env!("CARGO_PKG_VERSION"));
            tx.execute(sql::AUDIT_EXPORT, params![int(report.first_seq), last, rows, detail])?;
            Ok(tx.last_insert_rowid())
        }
    }
}

/// The store's snapshot files as rows: (seq, file name, bytes).
fn snapshot_rows(store: &Store) -> Vec<(i64, String, i64)> {
    store
        .snapshots()
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            let file = s.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (int(s.seq), file, int(s.bytes))
        })
        .collect()
}

fn snapshots_changed(store: &Store, conn: &Connection) -> SqlResult<bool> {
    let mut stmt = conn.prepare("SELECT seq, file, bytes FROM snapshots ORDER BY seq")?;
    let have =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<SqlResult<Vec<_>>>()?;
    Ok(have != snapshot_rows(store))
}

fn write_snapshots(store: &Store, conn: &mut Connection) -> SqlResult<u64> {
    let tx = conn.transaction()?;
    let mut rows = tx.execute("DELETE FROM snapshots", [])? as u64;
    {
        let mut stmt = tx.prepare(sql::INSERT_SNAPSHOT)?;
        for (seq, file, bytes) in snapshot_rows(store) {
            rows += stmt.execute(params![seq, file, bytes])? as u64;
        }
    }
    tx.commit()?;
    Ok(rows)
}

fn open_existing(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(path, flags).map_err(|e| not_an_export(path, e.to_string()))
}

/// Checks that `conn` is an export of `store` this build can continue; returns its version.
/// An empty database (a 0-byte file, say) counts as a new export at version 0.
fn check_export(conn: &Connection, path: &Path, store: &Store) -> Result<u32> {
    let found = migrate::inspect(conn).map_err(|e| not_an_export(path, e.to_string()))?;
    let version = match found {
        Found::Empty => return Ok(0),
        Found::Other => return Err(not_an_export(path, "it has tables, but not a wfstore export's".into())),
        Found::Export { version } if version > SCHEMA_VERSION => {
            return Err(not_an_export(
                path,
                format!("its schema version {version} is newer than this build's ({SCHEMA_VERSION})"),
            ));
        }
        Found::Export { version } => version,
    };
    let owner: Option<String> = conn
        .query_row("SELECT store_id FROM export_state", [], |r| r.get(0))
        .map_err(|e| sql_err(path, e))?;
    match owner {
        Some(id) if id == store_id_hex(store) => Ok(version),
        Some(id) => Err(not_an_export(
            path,
            format!("it is an export of store {id}, not of this store ({})", store_id_hex(store)),
        )),
        None => Err(not_an_export(path, "it records no store".into())),
    }
}

fn store_id_hex(store: &Store) -> String {
    format!("{:016x}", store.store_id())
}

fn not_an_export(path: &Path, why: String) -> Error {
    Error::NotAnExport { path: path.to_owned(), why }
}

fn sql_err(path: &Path, source: rusqlite::Error) -> Error {
    Error::Sqlite { path: path.to_owned(), source }
}
