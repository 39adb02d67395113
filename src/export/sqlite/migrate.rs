//! The schema's numbered migrations (`schemas/migrations/`) and how a database is brought up
//! to date: each migration runs in its own transaction with its `schema_version` row, so a
//! database is always at exactly one version.

use rusqlite::{Connection, OptionalExtension as _, params};

use super::{SqlResult, sql};

/// One step of the schema.
pub struct Migration {
    /// The version this step leads to.
    pub version: u32,
    /// What it does, as recorded in `schema_version`.
    pub description: &'static str,
    /// The SQL.
    pub sql: &'static str,
}

/// Every migration, oldest first; the last one's version is `SCHEMA_VERSION`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "users, sessions, events, energy contributions, snapshots, indexes, triggers",
        sql: include_str!("../../../schemas/migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        description: "audit log, energy and session views, session end time",
        sql: include_str!("../../../schemas/migrations/0002_audit_log_views_session_end.sql"),
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = 2;

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

/// Applies every migration after `from`; returns the versions applied.
pub fn migrate(conn: &mut Connection, from: u32) -> SqlResult<Vec<u32>> {
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > from) {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO schema_version (version, description) VALUES (?1, ?2)",
            params![m.version, m.description],
        )?;
        if from > 0 && has_audit_log(&tx)? {
            let detail = format!("schema {} -> {}", m.version - 1, m.version);
            tx.execute(sql::AUDIT_MIGRATE, params![detail])?;
        }
        tx.commit()?;
        applied.push(m.version);
    }
    Ok(applied)
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
    fn a_new_database_migrates_to_the_latest_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(inspect(&conn).unwrap(), Found::Empty);
        assert_eq!(migrate(&mut conn, 0).unwrap(), vec![1, 2]);
        // Without an export_state row it is not yet an export, but it is marked as one.
        assert_eq!(inspect(&conn).unwrap(), Found::Export { version: 2 });
        assert_eq!(migrate(&mut conn, 2).unwrap(), Vec::<u32>::new());
    }

    #[test]
    fn other_databases_are_recognised() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE notes (x TEXT)").unwrap();
        assert_eq!(inspect(&conn).unwrap(), Found::Other);
    }
}
