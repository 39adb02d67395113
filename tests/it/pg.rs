//! The harness of the PostgreSQL tests: a database of their own on the test server
//! (`WFSTORE_PG_URL`), stores of a seeded simulation, the export command, and the
//! comparison of a store's rows in PostgreSQL with its SQLite export, relation by relation.

use std::path::Path;
use std::process::Command;

use postgres::{Client, NoTls};
use rusqlite::Connection;
use wfstore::sim::{SimConfig, Simulator};
use wfstore::{CreateOptions, Store};

use crate::cli::{check, wf};
use crate::export_sqlite::rows;
use crate::util::*;

/// A database of its own on the test server, dropped at the end.
pub(crate) struct TestDb {
    pub(crate) base: String,
    pub(crate) name: String,
}

impl TestDb {
    /// A new database; `None`, after saying so, when no server is configured.
    pub(crate) fn new() -> Option<TestDb> {
        let Some(base) = std::env::var("WFSTORE_PG_URL").ok().filter(|u| !u.is_empty()) else {
            assert!(std::env::var_os("CI").is_none(), "CI must set WFSTORE_PG_URL (.ci/run starts a server)");
            eprintln!("skipped: WFSTORE_PG_URL is not set (see tools/pg/README.md)");
            return None;
        };
        let name = format!("wf_{:016x}", fastrand::u64(..));
        Client::connect(&base, NoTls).unwrap().batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        Some(TestDb { base, name })
    }

    /// Its connection string (the server's `key=value` string, this database's name last).
    pub(crate) fn url(&self) -> String {
        format!("{} dbname={}", self.base, self.name)
    }

    pub(crate) fn client(&self) -> Client {
        Client::connect(&self.url(), NoTls).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut c) = Client::connect(&self.base, NoTls) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// A store of a seeded simulation: `sessions` sessions over `frames` frames.
pub(crate) fn sim_store(dir: &Path, seed: u64, sessions: usize, frames: u64) -> Vec<wfstore::event::Event> {
    Store::create(dir, &CreateOptions { segment_bytes: SMALL_SEGMENT, ..CreateOptions::default() }).unwrap();
    let cfg = SimConfig { seed, sessions, frames, with_content: true, ..SimConfig::default() };
    let mut sim = Simulator::new(cfg);
    let events: Vec<_> = std::iter::from_fn(|| sim.next_frame()).flatten().collect();
    let s = open(dir);
    s.append_batch(&events).unwrap();
    s.close().unwrap();
    events
}

/// `wfstore --store STORE export postgres ARGS` into `db`, not yet run.
pub(crate) fn pg_command(store: &Path, db: &TestDb, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfstore"));
    cmd.arg("--store").arg(store).args(["export", "postgres"]).args(args).env("WFSTORE_PG_URL", db.url());
    cmd
}

pub(crate) fn export_pg(store: &Path, db: &TestDb, extra: &[&str]) -> crate::cli::Run {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    crate::cli::run(pg_command(store, db, &args), None)
}

pub(crate) fn export_sqlite(store: &Path, out: &Path) {
    check(&wf(store, &["export", "sqlite", out.to_str().unwrap()], None), 0);
}

pub(crate) fn store_id(store: &Path) -> String {
    format!("{:016x}", open_ro(store).unwrap().store_id())
}

/// One table or view of the comparison: its columns in both databases and its order.
pub(crate) struct Relation {
    name: &'static str,
    columns: &'static str,
    order: &'static str,
    /// Columns holding JSON: compared as values, not text (jsonb normalizes spacing).
    json: &'static [usize],
}

pub(crate) const RELATIONS: &[Relation] = &[
    Relation { name: "export_state", columns: "last_seq", order: "last_seq", json: &[] },
    Relation { name: "users", columns: "user_id, first_seq, last_seq", order: "user_id", json: &[] },
    Relation {
        name: "sessions",
        columns: "session_id, user_id, first_seq, last_seq, first_ts_ns, last_ts_ns, events, app_version, models, \
                  end_reason, ended_ts_ns",
        order: "session_id",
        json: &[8],
    },
    Relation {
        name: "events",
        columns: "seq, session_id, user_id, type, ts_ns, frame, body",
        order: "seq",
        json: &[6],
    },
    Relation {
        name: "energy_contributions",
        columns: "seq, kind, model, tokens, delta_micros",
        order: "seq",
        json: &[],
    },
    Relation { name: "snapshots", columns: "seq, file, bytes", order: "seq", json: &[] },
    Relation {
        name: "session_summary",
        columns: "session_id, user_id, app_version, first_ts_ns, ended_ts_ns, span_ns, end_reason, events, \
                  energy_total_micros, energy_models_micros, amplification_micros, models_used",
        order: "session_id",
        json: &[],
    },
    Relation {
        name: "energy_by_model",
        columns: "model, sessions, tokens, energy_micros, energy",
        order: "model",
        json: &[],
    },
    Relation {
        name: "energy_by_session_model",
        columns: "session_id, model, tokens, energy_micros",
        order: "session_id, model",
        json: &[],
    },
    Relation {
        name: "audit_log",
        columns: "action, first_seq, last_seq, store_record, store_crc, at_ns, events, bytes, subject_kind, \
                  subject_salt, subject_hash",
        order: "store_record",
        json: &[],
    },
];

/// Canonical JSON text: keys sorted, no spaces.
pub(crate) fn canonical(v: &str) -> String {
    serde_json::from_str::<serde_json::Value>(v).map_or_else(|_| v.to_owned(), |j| j.to_string())
}

pub(crate) fn normalize(mut rows: Vec<Vec<String>>, json: &[usize]) -> Vec<Vec<String>> {
    for row in &mut rows {
        for &k in json {
            row[k] = canonical(&row[k]);
        }
    }
    rows
}

/// Every relation of the SQLite export (lifecycle rows of `audit_log` only: export runs
/// differ by design).
pub(crate) fn sqlite_dump(db: &Path) -> Vec<(&'static str, Vec<Vec<String>>)> {
    let conn = Connection::open(db).unwrap();
    RELATIONS
        .iter()
        .map(|r| {
            let filter = if r.name == "audit_log" { " WHERE store_record IS NOT NULL" } else { "" };
            let sql = format!("SELECT {} FROM {}{filter} ORDER BY {}", r.columns, r.name, r.order);
            (r.name, normalize(rows(&conn, &sql), r.json))
        })
        .collect()
}

/// The same relations of one store in PostgreSQL, every value as text (NULL as `NULL`).
pub(crate) fn pg_dump(client: &mut Client, id: &str) -> Vec<(&'static str, Vec<Vec<String>>)> {
    RELATIONS
        .iter()
        .map(|r| {
            let cols: Vec<String> =
                r.columns.split(',').map(|c| format!("coalesce({}::text, 'NULL')", c.trim())).collect();
            let filter = if r.name == "audit_log" { " AND store_record IS NOT NULL" } else { "" };
            let sql = format!(
                "SELECT {} FROM {} WHERE store_id = $1{filter} ORDER BY {}",
                cols.join(", "),
                r.name,
                r.order
            );
            let got: Vec<Vec<String>> = client
                .query(&sql, &[&id])
                .unwrap()
                .iter()
                .map(|row| (0..row.len()).map(|i| row.get::<_, String>(i)).collect())
                .collect();
            (r.name, normalize(got, r.json))
        })
        .collect()
}

pub(crate) fn assert_same(store: &Path, db: &TestDb, label: &str) {
    let dir = tempfile::tempdir().unwrap();
    let lite = dir.path().join("view.db");
    export_sqlite(store, &lite);
    let want = sqlite_dump(&lite);
    let got = pg_dump(&mut db.client(), &store_id(store));
    for ((name, w), (_, g)) in want.iter().zip(&got) {
        assert_eq!(g.len(), w.len(), "{label}: {name} row count");
        assert_eq!(g, w, "{label}: {name}");
    }
}
