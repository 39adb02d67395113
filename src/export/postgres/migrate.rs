//! The PostgreSQL schema's numbered migrations (`schemas/migrations/postgres/`, at the same
//! version numbers as SQLite's) and their runner, by the procedure of
//! `schemas/migrations/TEMPLATE.sql`:
//!
//! 1. pre-migration checks: the database is empty of wfstore's tables or at a version this
//!    build knows, never newer;
//! 2. every pending migration in one transaction (PostgreSQL's DDL is transactional, so a
//!    failure rolls everything back and the database is as it was: no backup copy needed),
//!    under an advisory lock, so two exporters starting together migrate once;
//! 3. post-migration verification before the commit: the new version, every table and view
//!    of the schema present, and the row counts of the tables a step keeps unchanged.

use postgres::Transaction;

use super::{PgResult, pg_err};
use crate::error::{Error, Result};

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version this step leads to (the SQLite step of the same number does the same).
    pub version: u32,
    /// What it does, as recorded in `schema_version`.
    pub description: &'static str,
    /// The SQL, run in the runner's transaction.
    pub sql: &'static str,
}

/// Every migration, oldest first; the last one's version is `SCHEMA_VERSION`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "users, sessions, events, energy contributions, snapshots, indexes, triggers",
        sql: include_str!("../../../schemas/migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        description: "audit log, energy and session views, session end time",
        sql: include_str!("../../../schemas/migrations/postgres/0002_audit_log_views_session_end.sql"),
    },
    Migration {
        version: 3,
        description: "audit log: the store's purge, backup, restore and retention records",
        sql: include_str!("../../../schemas/migrations/postgres/0003_audit_log_lifecycle.sql"),
    },
];

/// The schema version this build writes: SQLite's (a test holds them equal).
pub const SCHEMA_VERSION: u32 = 3;

/// The tables and views of the latest schema.
pub const RELATIONS: [&str; 11] = [
    "schema_version",
    "export_state",
    "users",
    "sessions",
    "events",
    "energy_contributions",
    "snapshots",
    "audit_log",
    "energy_by_model",
    "energy_by_session_model",
    "session_summary",
];

/// The tables every step keeps the rows of (no migration so far changes rows on purpose,
/// but 0002's backfill of `sessions.ended_ts_ns`, which keeps their count).
const KEPT: [&str; 7] =
    ["export_state", "users", "sessions", "events", "energy_contributions", "snapshots", "audit_log"];

/// Arbitrary, fixed: the advisory lock key the migration runner holds.
const MIGRATION_LOCK: i64 = 0x7766_7374_6f72_6501;

/// What a migration run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Migrated {
    /// The version before.
    pub from: u32,
    /// The versions applied, in order (empty: the database was up to date).
    pub applied: Vec<u32>,
}

/// Brings the database to `SCHEMA_VERSION`.
pub fn migrate(client: &mut postgres::Client, what: &str) -> Result<Migrated> {
    let mut tx = client.transaction().map_err(pg_err(what, "begin the migration"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg_err(what, "lock the schema"))?;
    let from = current_version(&mut tx).map_err(pg_err(what, "read the schema version"))?;
    if from > SCHEMA_VERSION {
        return Err(Error::NotAnExport {
            path: what.into(),
            why: format!("its schema version {from} is newer than this build's ({SCHEMA_VERSION})"),
        });
    }
    if from == 0
        && !missing(&mut tx, &RELATIONS).map_err(pg_err(what, "list tables"))?.iter().eq(RELATIONS.iter())
    {
        return Err(Error::NotAnExport {
            path: what.into(),
            why: "it has some of a wfstore export's tables but no schema version".into(),
        });
    }
    let pending: Vec<&Migration> = MIGRATIONS.iter().filter(|m| m.version > from).collect();
    if pending.is_empty() {
        return Ok(Migrated { from, applied: Vec::new() });
    }
    let before = if from > 0 { counts(&mut tx).map_err(pg_err(what, "count rows"))? } else { Vec::new() };
    for m in &pending {
        tx.batch_execute(m.sql).map_err(pg_err(what, &format!("migration {}", m.version)))?;
        tx.execute(
            "INSERT INTO schema_version (version, description) VALUES ($1, $2)",
            &[&i32::try_from(m.version).unwrap_or(i32::MAX), &m.description],
        )
        .map_err(pg_err(what, "record the schema version"))?;
        if from > 0 && m.version >= 2 {
            let detail = format!("schema {} -> {}", m.version - 1, m.version);
            tx.execute("INSERT INTO audit_log (action, detail) VALUES ('migrate', $1)", &[&detail])
                .map_err(pg_err(what, "record the migration"))?;
        }
    }
    verify(&mut tx, what, &before)?;
    tx.commit().map_err(pg_err(what, "commit the migration"))?;
    Ok(Migrated { from, applied: pending.iter().map(|m| m.version).collect() })
}

/// The version recorded in `schema_version`; 0 when there is no such table.
fn current_version(tx: &mut Transaction<'_>) -> PgResult<u32> {
    let exists: bool = tx.query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?.get(0);
    if !exists {
        return Ok(0);
    }
    let v: Option<i32> = tx.query_one("SELECT max(version) FROM schema_version", &[])?.get(0);
    Ok(v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0))
}

/// Those of `names` that are neither a table nor a view of the current schema search path.
pub fn missing<'a>(tx: &mut Transaction<'_>, names: &[&'a str]) -> PgResult<Vec<&'a str>> {
    let mut out = Vec::new();
    for &name in names {
        let exists: bool = tx.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])?.get(0);
        if !exists {
            out.push(name);
        }
    }
    Ok(out)
}

/// Row counts of the kept tables that exist.
fn counts(tx: &mut Transaction<'_>) -> PgResult<Vec<(&'static str, i64)>> {
    let mut out = Vec::new();
    for &table in &KEPT {
        if missing(tx, &[table])?.is_empty() {
            let n: i64 = tx.query_one(&format!("SELECT count(*) FROM {table}"), &[])?.get(0);
            out.push((table, n));
        }
    }
    Ok(out)
}

fn verify(tx: &mut Transaction<'_>, what: &str, before: &[(&'static str, i64)]) -> Result<()> {
    let failed = |why: String| Error::NotAnExport {
        path: what.into(),
        why: format!("post-migration verification: {why}"),
    };
    let version = current_version(tx).map_err(pg_err(what, "verify"))?;
    if version != SCHEMA_VERSION {
        return Err(failed(format!("version {version} after migrating, not {SCHEMA_VERSION}")));
    }
    let absent = missing(tx, &RELATIONS).map_err(pg_err(what, "verify"))?;
    if !absent.is_empty() {
        return Err(failed(format!("missing {}", absent.join(", "))));
    }
    let after = counts(tx).map_err(pg_err(what, "verify"))?;
    for (table, n) in before {
        // `audit_log` gains the migrate rows this run recorded.
        let kept = after.iter().any(|(t, m)| t == table && (m == n || *t == "audit_log"));
        if !kept {
            return Err(failed(format!("{table} had {n} rows before")));
        }
    }
    Ok(())
}
