//! The schema's numbered migrations (`schemas/migrations/`) and the runner that applies
//! them by the procedure `schemas/migrations/TEMPLATE.sql` sets out:
//!
//! 1. pre-migration checks: the expected version, `PRAGMA integrity_check`,
//!    `PRAGMA foreign_key_check`;
//! 2. a backup of the database file (SQLite's online backup API) before the first step,
//!    unless the database has no schema yet;
//! 3. every pending migration's steps in one transaction, rolled back on any failure, so a
//!    failed run leaves the file byte-identical;
//! 4. post-migration verification before the commit: the row counts each migration
//!    declares it keeps, integrity and foreign keys, the new version.
//!
//! The runner takes any list of migrations (`run`); `migrate` applies `MIGRATIONS`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension as _, params};

use super::{SqlResult, sql};
use crate::error::{Error, Result};

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version this step leads to.
    pub version: u32,
    /// What it does, as recorded in `schema_version`.
    pub description: &'static str,
    /// The SQL: its steps, run in the runner's transaction.
    pub sql: &'static str,
    /// Tables whose row counts must be the same after the steps.
    pub keeps_rows: &'static [&'static str],
    /// Tables whose rows the migration changes on purpose. Every table that exists before
    /// the migration is in exactly one of the two lists.
    pub changes_rows: &'static [&'static str],
}

/// The tables of schema version 1.
const V1_TABLES: [&str; 7] =
    ["schema_version", "export_state", "users", "sessions", "events", "energy_contributions", "snapshots"];

/// The tables of schema version 2: version 1's and `audit_log`.
const V2_TABLES: [&str; 8] = [
    "schema_version",
    "export_state",
    "users",
    "sessions",
    "events",
    "energy_contributions",
    "snapshots",
    "audit_log",
];

/// Every migration, oldest first; the last one's version is `SCHEMA_VERSION`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "users, sessions, events, energy contributions, snapshots, indexes, triggers",
        sql: include_str!("../../../schemas/migrations/0001_initial.sql"),
        keeps_rows: &[],
        changes_rows: &[],
    },
    Migration {
        version: 2,
        description: "audit log, energy and session views, session end time",
        sql: include_str!("../../../schemas/migrations/0002_audit_log_views_session_end.sql"),
        keeps_rows: &V1_TABLES,
        changes_rows: &[],
    },
    Migration {
        version: 3,
        description: "audit log: the store's purge, backup, restore and retention records",
        sql: include_str!("../../../schemas/migrations/0003_audit_log_lifecycle.sql"),
        keeps_rows: &V2_TABLES,
        changes_rows: &[],
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = 3;

/// What a database holds, as far as exports are concerned.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// No tables at all: a new database.
    Empty,
    /// A wfstore export at this schema version.
    Export {
        /// Its schema version.
        version: u32,
    },
    /// Tables, but not those of an export.
    Other,
}

/// What a migration run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Migrated {
    /// The version before.
    pub from: u32,
    /// The version after.
    pub to: u32,
    /// The versions applied, in order (empty: the database was up to date).
    pub applied: Vec<u32>,
    /// The copy of the database taken before the first step, kept beside it.
    pub backup: Option<PathBuf>,
}

/// Looks at the tables of `conn`.
pub fn inspect(conn: &Connection) -> SqlResult<Found> {
    let tables: u32 =
        conn.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table'", [], |r| r.get(0))?;
    if tables == 0 {
        return Ok(Found::Empty);
    }
    let marked: u32 = conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('schema_version', 'export_state')",
        [],
        |r| r.get(0),
    )?;
    if marked != 2 {
        return Ok(Found::Other);
    }
    let version: Option<u32> =
        conn.query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0)).optional()?.flatten();
    Ok(version.map_or(Found::Other, |version| Found::Export { version }))
}

/// Applies every migration of `MIGRATIONS` after `from` to the database `conn` has open
/// at `path`.
pub fn migrate(conn: &mut Connection, path: &Path, from: u32) -> Result<Migrated> {
    run(conn, path, from, MIGRATIONS)
}

/// Brings the database `conn` has open at `path` from version `from` to the last version
/// of `migrations` by the procedure of `schemas/migrations/TEMPLATE.sql`. On an error the
/// database is as it was (byte for byte); the backup, if one was taken, is kept and named
/// in the error.
pub fn run(conn: &mut Connection, path: &Path, from: u32, migrations: &[Migration]) -> Result<Migrated> {
    let pending: Vec<&Migration> = migrations.iter().filter(|m| m.version > from).collect();
    let Some(to) = pending.last().map(|m| m.version) else {
        return Ok(Migrated { from, to: from, applied: Vec::new(), backup: None });
    };
    let fail = |version: u32, stage: &'static str, why: String, backup: Option<PathBuf>| {
        Error::SqlMigration { path: path.to_owned(), version, stage, why, backup }
    };
    let first = from + 1;
    // 1. Pre-migration checks.
    for (m, want) in pending.iter().zip(first..) {
        if m.version != want {
            return Err(fail(
                m.version,
                "pre-migration checks",
                format!("expected migration {want} next"),
                None,
            ));
        }
    }
    let pre = |why: String| fail(first, "pre-migration checks", why, None);
    let found = current_version(conn).map_err(|e| pre(e.to_string()))?;
    if found != from {
        return Err(pre(format!("the database is at version {found}, expected {from}")));
    }
    check_integrity(conn).map_err(|e| pre(e.to_string()))?.map_or(Ok(()), |why| Err(pre(why)))?;
    // 2. Backup.
    let backup = if from > 0 {
        Some(backup(conn, path, from, to).map_err(|why| fail(first, "backup", why, None))?)
    } else {
        None
    };
    // 3. and 4. The steps and their verification, in one transaction.
    let foreign_keys: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .map_err(|e| fail(first, "steps", e.to_string(), backup.clone()))?;
    conn.execute_batch("PRAGMA foreign_keys = OFF")
        .map_err(|e| fail(first, "steps", e.to_string(), backup.clone()))?;
    let result = apply(conn, from, &pending);
    let restored = conn.execute_batch(if foreign_keys { "PRAGMA foreign_keys = ON" } else { "" });
    match (result, restored) {
        (Err((version, stage, why)), _) => Err(fail(version, stage, why, backup)),
        // Committed: the database is migrated, only the connection's setting is not back.
        (Ok(()), Err(source)) => Err(Error::Sqlite { path: path.to_owned(), source }),
        (Ok(()), Ok(())) => {
            Ok(Migrated { from, to, applied: pending.iter().map(|m| m.version).collect(), backup })
        }
    }
}

/// A failure inside the transaction: the version, the stage, why.
type Failed = (u32, &'static str, String);

/// Runs the pending migrations' steps and checks in one transaction; commits only if
/// everything passed (dropping the transaction rolls it back).
fn apply(conn: &mut Connection, from: u32, pending: &[&Migration]) -> std::result::Result<(), Failed> {
    let sql_fail =
        |version: u32, stage: &'static str| move |e: rusqlite::Error| (version, stage, e.to_string());
    let first = from + 1;
    let tx = conn.transaction().map_err(sql_fail(first, "steps"))?;
    for m in pending {
        let v = m.version;
        let before = table_counts(&tx).map_err(sql_fail(v, "pre-migration checks"))?;
        for table in before.keys() {
            let declared =
                m.keeps_rows.contains(&table.as_str()) as u8 + m.changes_rows.contains(&table.as_str()) as u8;
            if declared != 1 {
                let why =
                    format!("table {table} must be declared in exactly one of keeps_rows and changes_rows");
                return Err((v, "pre-migration checks", why));
            }
        }
        if let Some(t) = m.keeps_rows.iter().chain(m.changes_rows).find(|t| !before.contains_key(**t)) {
            return Err((v, "pre-migration checks", format!("declared table {t} does not exist")));
        }
        tx.execute_batch(m.sql).map_err(sql_fail(v, "steps"))?;
        let after = table_counts(&tx).map_err(sql_fail(v, "post-migration verification"))?;
        for table in m.keeps_rows {
            let (had, has) = (before.get(*table).copied(), after.get(*table).copied());
            if had != has {
                let has = has.map_or("no table".to_owned(), |n| format!("{n} rows"));
                let why = format!("table {table} had {} rows, now {has}", had.unwrap_or(0));
                return Err((v, "post-migration verification", why));
            }
        }
        tx.execute(
            "INSERT INTO schema_version (version, description) VALUES (?1, ?2)",
            params![m.version, m.description],
        )
        .map_err(sql_fail(v, "steps"))?;
        if from > 0 && has_audit_log(&tx).map_err(sql_fail(v, "steps"))? {
            let detail = format!("schema {} -> {}", m.version - 1, m.version);
            tx.execute(sql::AUDIT_MIGRATE, params![detail]).map_err(sql_fail(v, "steps"))?;
        }
    }
    let to = pending.last().map_or(from, |m| m.version);
    let post = |why: String| (to, "post-migration verification", why);
    if let Some(why) = check_integrity(&tx).map_err(|e| post(e.to_string()))? {
        return Err(post(why));
    }
    let now = current_version(&tx).map_err(|e| post(e.to_string()))?;
    if now != to {
        return Err(post(format!("the database is at version {now}, expected {to}")));
    }
    tx.commit().map_err(sql_fail(to, "commit"))
}

/// The schema version of `conn`: 0 without a `schema_version` table.
pub fn current_version(conn: &Connection) -> SqlResult<u32> {
    let has: u32 = conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'",
        [],
        |r| r.get(0),
    )?;
    if has == 0 {
        return Ok(0);
    }
    conn.query_row("SELECT coalesce(max(version), 0) FROM schema_version", [], |r| r.get(0))
}

/// `PRAGMA integrity_check` and `PRAGMA foreign_key_check`: `Some(why)` if either finds
/// something.
fn check_integrity(conn: &Connection) -> SqlResult<Option<String>> {
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let found = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<SqlResult<Vec<_>>>()?;
    if found != ["ok"] {
        return Ok(Some(format!("integrity_check: {}", found.join("; "))));
    }
    let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
    let found = stmt
        .query_map([], |r| {
            Ok(format!(
                "{} row {:?} -> {}",
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, String>(2)?
            ))
        })?
        .collect::<SqlResult<Vec<_>>>()?;
    if !found.is_empty() {
        return Ok(Some(format!("foreign_key_check: {}", found.join("; "))));
    }
    Ok(None)
}

/// Row counts of every table but SQLite's own.
fn table_counts(conn: &Connection) -> SqlResult<BTreeMap<String, i64>> {
    let mut stmt =
        conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<SqlResult<Vec<_>>>()?;
    let mut counts = BTreeMap::new();
    for name in names {
        let n =
            conn.query_row(&format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\"")), [], |r| {
                r.get(0)
            })?;
        counts.insert(name, n);
    }
    Ok(counts)
}

/// Where the backup before migrating to `to` goes: `<db>.pre-v<to>.bak`, or the first of
/// `.pre-v<to>.2.bak`, `.3.bak`, ... that does not exist.
pub fn backup_path(db: &Path, to: u32) -> PathBuf {
    let name = db.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let at = |suffix: String| db.with_file_name(format!("{name}.pre-v{to}{suffix}.bak"));
    std::iter::once(at(String::new()))
        .chain((2u32..).map(|k| at(format!(".{k}"))))
        .find(|p| !p.exists())
        .unwrap_or_else(|| at(String::new()))
}

/// Copies the database with the online backup API, syncs the copy and checks that it
/// opens at version `from`; returns its path.
fn backup(conn: &Connection, db: &Path, from: u32, to: u32) -> std::result::Result<PathBuf, String> {
    let path = backup_path(db, to);
    let done = copy_and_check(conn, &path, from);
    if done.is_err() {
        // A partial copy is no backup.
        let _ = std::fs::remove_file(&path);
    }
    done.map(|()| path)
}

fn copy_and_check(conn: &Connection, path: &Path, from: u32) -> std::result::Result<(), String> {
    let why = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let flags =
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    {
        let mut copy = Connection::open_with_flags(path, flags).map_err(|e| why(&e))?;
        rusqlite::backup::Backup::new(conn, &mut copy)
            .and_then(|b| b.run_to_completion(1024, std::time::Duration::ZERO, None))
            .map_err(|e| why(&e))?;
        copy.close().map_err(|(_, e)| why(&e))?;
    }
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(|e| why(&e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(|e| why(&e))?;
    }
    let copy = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| why(&e))?;
    let version = current_version(&copy).map_err(|e| why(&e))?;
    if version != from {
        return Err(why(&format!("the copy is at version {version}, not {from}")));
    }
    Ok(())
}

fn has_audit_log(conn: &Connection) -> SqlResult<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'audit_log'",
        [],
        |r| r.get::<_, u32>(0),
    )
    .map(|n| n == 1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_up_to_the_schema_version() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }

    #[test]
    fn a_new_database_migrates_to_the_latest_version_without_a_backup() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(inspect(&conn).unwrap(), Found::Empty);
        let done = migrate(&mut conn, Path::new(":memory:"), 0).unwrap();
        assert_eq!(done, Migrated { from: 0, to: 3, applied: vec![1, 2, 3], backup: None });
        // Without an export_state row it is not yet an export, but it is marked as one.
        assert_eq!(inspect(&conn).unwrap(), Found::Export { version: 3 });
        assert_eq!(migrate(&mut conn, Path::new(":memory:"), 3).unwrap().applied, Vec::<u32>::new());
    }

    #[test]
    fn a_wrong_expected_version_is_refused_before_anything_is_written() {
        let mut conn = Connection::open_in_memory().unwrap();
        run(&mut conn, Path::new(":memory:"), 0, &MIGRATIONS[..1]).unwrap();
        let err = run(&mut conn, Path::new(":memory:"), 2, MIGRATIONS).unwrap_err().to_string();
        assert!(err.contains("pre-migration checks") && err.contains("at version 1, expected 2"), "{err}");
        assert_eq!(current_version(&conn).unwrap(), 1);
    }

    #[test]
    fn every_existing_table_must_be_declared() {
        let undeclared = [MIGRATIONS[0], Migration { keeps_rows: &["users"], ..MIGRATIONS[1] }];
        let mut fresh = Connection::open_in_memory().unwrap();
        let err = run(&mut fresh, Path::new(":memory:"), 0, &undeclared).unwrap_err().to_string();
        assert!(err.contains("must be declared"), "{err}");
        assert_eq!(current_version(&fresh).unwrap(), 0, "the failed run rolled back migration 1 too");
    }

    #[test]
    fn other_databases_are_recognised() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE notes (x TEXT)").unwrap();
        assert_eq!(inspect(&conn).unwrap(), Found::Other);
    }
}
