//! `export postgres` against a real server (`WFSTORE_PG_URL`; `.ci/run` starts one with
//! `tools/pg/cluster`): every table and view equals the SQLite export of the same store row
//! for row, full or incremental; two stores share a database and one is dropped; a purge
//! reaches the database on the next export; a killed export resumes with nothing lost or
//! doubled; the two dialects' schemas stay the same. Without `WFSTORE_PG_URL` the tests say
//! they were skipped (in CI, where it is always set, they fail instead).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use rusqlite::Connection;
use wfstore::sim::{SimConfig, Simulator};
use wfstore::{CreateOptions, Store};

use crate::cli::{check, wf};
use crate::export_sqlite::rows;
use crate::pg::*;
use crate::util::*;

#[test]
fn a_full_export_equals_the_sqlite_export_row_for_row_and_a_rerun_changes_nothing() {
    let Some(db) = TestDb::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let events = sim_store(&store, 11, 4, 240);
    let r = export_pg(&store, &db, &[]);
    check(&r, 0);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["events"], events.len() as u64);
    assert_eq!(report["migrated"], serde_json::json!([1, 2, 3]));
    assert_eq!(report["schema_version"], 3);
    assert_same(&store, &db, "full");
    // A second full export replaces the store's rows: nothing doubles.
    check(&export_pg(&store, &db, &[]), 0);
    assert_same(&store, &db, "full again");
    let r = export_pg(&store, &db, &["--incremental"]);
    check(&r, 0);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((report["events"].as_u64(), report["rows"].as_u64()), (Some(0), Some(0)), "{report}");
    assert_same(&store, &db, "rerun");
}

#[test]
fn increments_in_small_batches_equal_one_full_export() {
    let Some(db) = TestDb::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let cfg = SimConfig { seed: 5, sessions: 3, frames: 300, with_content: false, ..SimConfig::default() };
    let mut sim = Simulator::new(cfg);
    let events: Vec<_> = std::iter::from_fn(|| sim.next_frame()).flatten().collect();
    Store::create(&store, &CreateOptions { segment_bytes: SMALL_SEGMENT, ..CreateOptions::default() })
        .unwrap();
    for part in events.chunks(events.len() / 5 + 1) {
        let s = open(&store);
        s.append_batch(part).unwrap();
        s.close().unwrap();
        check(&export_pg(&store, &db, &["--incremental", "--batch", "97"]), 0);
    }
    assert_same(&store, &db, "five increments");
}

#[test]
fn two_stores_export_side_by_side_into_one_database_and_one_is_dropped() {
    let Some(db) = TestDb::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    sim_store(&a, 1, 3, 200);
    sim_store(&b, 2, 4, 200);
    let runs: Vec<_> = [&a, &b]
        .map(|s| {
            let cmd = pg_command(s, &db, &["--batch", "50"]);
            std::thread::spawn(move || crate::cli::run(cmd, None))
        })
        .into_iter()
        .collect();
    for r in runs {
        check(&r.join().unwrap(), 0);
    }
    assert_same(&a, &db, "store a");
    assert_same(&b, &db, "store b");
    let r = export_pg(&a, &db, &["--drop-store", &store_id(&a)]);
    check(&r, 0);
    let mut c = db.client();
    for table in
        ["export_state", "users", "sessions", "events", "energy_contributions", "snapshots", "audit_log"]
    {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {table} WHERE store_id = $1"), &[&store_id(&a)])
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{table} of the dropped store");
    }
    assert_same(&b, &db, "store b after a was dropped");
}

#[test]
fn a_purged_user_disappears_from_the_database_on_the_next_export() {
    let Some(db) = TestDb::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let events = sim_store(&store, 3, 4, 240);
    check(&export_pg(&store, &db, &[]), 0);
    let lite = dir.path().join("before.db");
    export_sqlite(&store, &lite);
    let user = events[0].user.as_str().to_owned();
    check(&wf(&store, &["purge", "--user", &user, "--yes"], None), 0);
    let r = export_pg(&store, &db, &["--incremental"]);
    check(&r, 0);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    // The same rows go as from a SQLite export taken before the purge.
    let r = wf(&store, &["--json", "export", "sqlite", lite.to_str().unwrap(), "--incremental"], None);
    check(&r, 0);
    let lite_report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(lite_report["purged_rows"].as_u64().unwrap() > 0, "{lite_report}");
    assert_eq!(
        (&report["audit_records"], &report["purged_rows"]),
        (&serde_json::json!(1), &lite_report["purged_rows"]),
        "{report}"
    );
    let mut c = db.client();
    for table in ["users", "sessions", "events"] {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {table} WHERE user_id = $1"), &[&user])
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{table} rows of the purged user");
    }
    assert_same(&store, &db, "after the purge");
}

#[test]
fn an_export_killed_at_random_moments_resumes_with_nothing_lost_or_doubled() {
    let Some(db) = TestDb::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    sim_store(&store, 9, 8, 600);
    let id = store_id(&store);
    let last_seq = open_ro(&store).unwrap().last_seq() as i64;
    let mut rng = fastrand::Rng::with_seed(7);
    let mut cut_short = 0;
    for round in 0..6 {
        let mode: &[&str] = if round % 2 == 0 { &[] } else { &["--incremental"] };
        let mut cmd = pg_command(&store, &db, &[&["--batch", "64"], mode].concat());
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        // A moment by progress, not by the clock (which a busy machine stretches): once the
        // bookmark passes a random seq, then up to 3 ms later, mid-batch as likely as not.
        // The first round is killed at once: in the connection, the migration or the reset.
        let target = if round == 0 { 0 } else { rng.i64(1..last_seq) };
        let mut c = db.client();
        while child.try_wait().unwrap().is_none() {
            // Before the first migration there is no table to ask.
            let at: i64 = c
                .query_opt("SELECT last_seq FROM export_state WHERE store_id = $1", &[&id])
                .ok()
                .flatten()
                .map_or(0, |r| r.get(0));
            if at >= target {
                std::thread::sleep(Duration::from_micros(rng.u64(0..3000)));
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.kill();
        let _ = child.wait();
        // Whatever the moment: the bookmark covers exactly the rows there are.
        let bookmark: Option<i64> = c
            .query_opt("SELECT last_seq FROM export_state WHERE store_id = $1", &[&id])
            .unwrap_or(None)
            .map(|r| r.get(0));
        if let Some(last) = bookmark {
            let (n, max): (i64, Option<i64>) = c
                .query_one("SELECT count(*), max(seq) FROM events WHERE store_id = $1", &[&id])
                .map(|r| (r.get(0), r.get(1)))
                .unwrap();
            assert_eq!((n, max.unwrap_or(0)), (last, last), "round {round}: rows = bookmark");
            cut_short += u32::from(last < last_seq);
        }
    }
    assert!(cut_short >= 4, "only {cut_short} of 6 kills landed mid-export: the test proves nothing");
    check(&export_pg(&store, &db, &["--incremental"]), 0);
    assert_same(&store, &db, "resumed");
}

#[test]
fn a_newer_schema_and_foreign_tables_are_refused_and_left_alone() {
    let Some(db) = TestDb::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    sim_store(&store, 4, 2, 60);
    let mut c = db.client();
    c.batch_execute("CREATE TABLE events (id int)").unwrap();
    let r = export_pg(&store, &db, &[]);
    check(&r, 1);
    assert!(r.stderr.contains("some of a wfstore export's tables but no schema version"), "{}", r.stderr);
    c.batch_execute("DROP TABLE events").unwrap();
    check(&export_pg(&store, &db, &[]), 0);
    c.batch_execute("INSERT INTO schema_version (version, description) VALUES (4, 'from the future')")
        .unwrap();
    let r = export_pg(&store, &db, &["--incremental"]);
    check(&r, 1);
    assert!(r.stderr.contains("schema version 4 is newer than this build's (3)"), "{}", r.stderr);
}

#[test]
fn server_errors_name_the_sqlstate_and_a_password_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    sim_store(&store, 4, 1, 10);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfstore"));
    cmd.arg("--store").arg(&store).args([
        "export",
        "postgres",
        "--url",
        "postgresql://ann:s3cret@127.0.0.1:1/x",
    ]);
    let r = crate::cli::run(cmd, None);
    check(&r, 1);
    assert!(r.stderr.contains("ann@127.0.0.1:1/x"), "{}", r.stderr);
    assert!(!r.stderr.contains("s3cret") && !r.stdout.contains("s3cret"), "{}", r.stderr);
    let Some(db) = TestDb::new() else { return };
    check(&export_pg(&store, &db, &[]), 0);
    // A role that may read but not write: the server's refusal and its SQLSTATE.
    let mut c = db.client();
    let role = format!("ro_{}", db.name);
    c.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'hunter22'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};"
    ))
    .unwrap();
    let url = format!("{} user={role} password=hunter22", db.url());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfstore"));
    cmd.arg("--store").arg(&store).args(["export", "postgres", "--incremental", "--url", &url]);
    let r = crate::cli::run(cmd, None);
    c.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}")).unwrap();
    check(&r, 1);
    assert!(r.stderr.contains("SQLSTATE 42501"), "{}", r.stderr);
    assert!(!r.stderr.contains("hunter22"), "{}", r.stderr);
}

/// The PostgreSQL type `audit.md` maps a SQLite column to.
fn mapped(table: &str, column: &str, sqlite_type: &str) -> &'static str {
    match (sqlite_type, column) {
        ("INTEGER", "version") if table == "schema_version" => "integer",
        ("INTEGER", _) => "bigint",
        ("TEXT", "applied_at" | "created_at" | "updated_at" | "at") => "timestamp with time zone",
        ("TEXT", "models" | "body") => "jsonb",
        ("TEXT", _) => "text",
        _ => "unmapped",
    }
}

#[test]
fn the_two_dialects_have_the_same_schema_as_documented() {
    let Some(db) = TestDb::new() else { return };
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/audit.md")).unwrap();
    for row in [
        "| `INTEGER` | `bigint` |",
        "| `INTEGER` | `integer` |",
        "| `TEXT` | `text` |",
        "| `jsonb` (the type is the check) |",
    ] {
        assert!(doc.contains(row), "audit.md documents the mapping {row}");
    }
    let pg_steps: Vec<(u32, &str)> =
        wfstore::export::postgres::migrate::MIGRATIONS.iter().map(|m| (m.version, m.description)).collect();
    let lite_steps: Vec<(u32, &str)> =
        wfstore::export::sqlite::migrate::MIGRATIONS.iter().map(|m| (m.version, m.description)).collect();
    assert_eq!(pg_steps, lite_steps, "the same migrations at the same version numbers");
    let mut lite = Connection::open_in_memory().unwrap();
    wfstore::export::sqlite::migrate::migrate(&mut lite, Path::new(":memory:"), 0).unwrap();
    let mut pg = db.client();
    wfstore::export::postgres::migrate::migrate(&mut pg, "test").unwrap();
    let relations = rows(
        &lite,
        "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    );
    let pg_relations: Vec<String> = pg
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut names: Vec<String> = relations.iter().map(|r| r[0].clone()).collect();
    names.sort();
    assert_eq!(pg_relations, names, "the same tables and views");
    for rel in &relations {
        let (name, kind) = (&rel[0], &rel[1]);
        let want: Vec<(String, String, bool)> = rows(
            &lite,
            &format!("SELECT name, type, \"notnull\" OR pk > 0 FROM pragma_table_info('{name}')"),
        )
        .into_iter()
        // SQLite's one `export_state` row has `id = 1` and a `store_id`; PostgreSQL's
        // rows are keyed by `store_id`, the column every table has first.
        .filter(|c| !(name == "export_state" && (c[0] == "id" || c[0] == "store_id")))
        .map(|c| {
            let ty = if kind == "view" { "" } else { mapped(name, &c[0], &c[1]) };
            (c[0].clone(), ty.to_owned(), kind == "table" && c[2] == "1")
        })
        .collect();
        let got: Vec<(String, String, bool)> = pg
            .query(
                "SELECT column_name::text, data_type::text, is_nullable = 'NO' FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 AND column_name <> 'store_id'
                 ORDER BY ordinal_position",
                &[name],
            )
            .unwrap()
            .iter()
            .map(|r| {
                let ty: String = r.get(1);
                (r.get(0), if kind == "view" { String::new() } else { ty }, kind == "table" && r.get::<_, bool>(2))
            })
            .collect();
        assert_eq!(got, want, "{kind} {name}: columns in order, mapped types, NOT NULL");
        if kind == "table" {
            let sql: String =
                rows(&lite, &format!("SELECT sql FROM sqlite_schema WHERE name = '{name}'"))[0][0].clone();
            let lite_checks = sql.matches("CHECK (").count() - sql.matches("json_valid(").count();
            let pg_checks: i64 = pg
                .query_one(
                    "SELECT count(*) FROM pg_constraint WHERE contype = 'c' AND conrelid = to_regclass($1)",
                    &[name],
                )
                .unwrap()
                .get(0);
            assert_eq!(pg_checks as usize, lite_checks, "CHECK constraints of {name}");
        }
    }
    let lite_indexes: Vec<String> =
        rows(&lite, "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
    let pg_indexes: Vec<String> = pg
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()
             AND indexname NOT LIKE '%_pkey' AND indexname <> 'audit_log_by_store' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        pg_indexes, lite_indexes,
        "the same indexes (PostgreSQL adds audit_log_by_store for its store column)"
    );
}

/// A `--follow` child and what it said on stderr.
struct Follower {
    child: std::process::Child,
    stderr: std::path::PathBuf,
}

impl Follower {
    fn start(store: &Path, db: &TestDb, stderr: std::path::PathBuf) -> Follower {
        let mut cmd = pg_command(store, db, &["--follow", "--commit-ms", "20", "--batch", "100"]);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&stderr).unwrap();
        cmd.stdout(Stdio::null()).stderr(log);
        Follower { child: cmd.spawn().unwrap(), stderr }
    }

    fn said(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the store's bookmark in the database reaches `seq`.
fn wait_for_bookmark(db: &TestDb, id: &str, seq: u64, follower: &mut Follower) {
    let mut c = db.client();
    let t = std::time::Instant::now();
    loop {
        let at: i64 = c
            .query_opt("SELECT last_seq FROM export_state WHERE store_id = $1", &[&id])
            .ok()
            .flatten()
            .map_or(0, |r| r.get(0));
        if at == seq as i64 {
            return;
        }
        assert!(follower.child.try_wait().unwrap().is_none(), "the follower ended: {}", follower.said());
        assert!(t.elapsed() < Duration::from_secs(30), "bookmark at {at}, not {seq}: {}", follower.said());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn follow_keeps_the_database_current_through_a_dropped_connection_and_kills() {
    let Some(db) = TestDb::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    Store::create(&store, &CreateOptions { segment_bytes: SMALL_SEGMENT, ..CreateOptions::default() })
        .unwrap();
    let cfg = SimConfig { seed: 21, sessions: 4, frames: 400, with_content: true, ..SimConfig::default() };
    let mut sim = Simulator::new(cfg);
    let events: Vec<_> = std::iter::from_fn(|| sim.next_frame()).flatten().collect();
    let writer = open(&store);
    let id = store_id(&store);
    let mut follower = Follower::start(&store, &db, dir.path().join("follow.err"));
    let mut rng = fastrand::Rng::with_seed(3);
    for (round, part) in events.chunks(events.len() / 6 + 1).enumerate() {
        writer.append_batch(part).unwrap();
        writer.flush().unwrap();
        match round {
            // The server drops the follower's connection: it says so, reconnects, goes on.
            1 => {
                let dropped: i64 = db
                    .client()
                    .query_one(
                        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE datname = $1 AND application_name = 'wfstore') AS t",
                        &[&db.name],
                    )
                    .unwrap()
                    .get(0);
                assert_eq!(dropped, 1, "one follower connection");
            }
            // Killed mid-round, then started again: it resumes from the bookmark.
            3 => {
                std::thread::sleep(Duration::from_millis(rng.u64(0..30)));
                drop(follower);
                follower = Follower::start(&store, &db, dir.path().join("follow.err"));
            }
            _ => {}
        }
        wait_for_bookmark(&db, &id, writer.last_seq(), &mut follower);
    }
    let said = follower.said();
    assert!(
        said.contains("wfstore: PostgreSQL lost: postgres ") && said.contains("trying again in 0.1 s"),
        "{said}"
    );
    assert!(said.contains("PostgreSQL reached again; following from the bookmark"), "{said}");
    drop(follower);
    writer.close().unwrap();
    assert_same(&store, &db, "followed");
}

/// A throwaway server of the test's own (`tools/pg/cluster`), stopped at the end.
struct OwnServer {
    dir: tempfile::TempDir,
    url: String,
}

impl OwnServer {
    fn script() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/pg/cluster")
    }

    fn start() -> OwnServer {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(Self::script()).arg("start").arg(dir.path().join("pg")).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        OwnServer { url: String::from_utf8(out.stdout).unwrap().trim().to_owned(), dir }
    }

    fn restart(&self) {
        let out =
            Command::new(Self::script()).arg("restart").arg(self.dir.path().join("pg")).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = Command::new(Self::script()).arg("stop").arg(self.dir.path().join("pg")).output();
    }
}

#[test]
fn follow_resumes_after_the_server_restarts() {
    // Only where a server can be run at all (the shared one says so); this test restarts
    // a server of its own, so that the other tests' connections are not cut.
    let Some(shared) = TestDb::new() else { return };
    drop(shared);
    let server = OwnServer::start();
    // The server's own database (dropping it fails harmlessly: the server goes anyway).
    let db = TestDb { base: server.url.clone(), name: "wfstore_test".into() };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let events = sim_store(&store, 8, 3, 150);
    let writer = open(&store);
    let id = store_id(&store);
    let mut follower = Follower::start(&store, &db, dir.path().join("follow.err"));
    wait_for_bookmark(&db, &id, events.len() as u64, &mut follower);
    server.restart();
    let more: Vec<_> = (1..=500).map(|i| wfstore::sim::synthetic(SEED, i)).collect();
    writer.append_batch(&more).unwrap();
    writer.flush().unwrap();
    wait_for_bookmark(&db, &id, writer.last_seq(), &mut follower);
    let said = follower.said();
    assert!(said.contains("PostgreSQL lost") && said.contains("PostgreSQL reached again"), "{said}");
    drop(follower);
    writer.close().unwrap();
    assert_same(&store, &db, "followed across a restart");
}

/// Rows of the store in the database equal its bookmark (a whole prefix, nothing more).
fn assert_rows_match_bookmark(db: &TestDb, id: &str) -> i64 {
    let mut c = db.client();
    let last: i64 =
        c.query_one("SELECT last_seq FROM export_state WHERE store_id = $1", &[&id]).unwrap().get(0);
    let (n, max): (i64, Option<i64>) = c
        .query_one("SELECT count(*), max(seq) FROM events WHERE store_id = $1", &[&id])
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((n, max.unwrap_or(0)), (last, last), "rows = bookmark");
    last
}

#[test]
fn a_revoked_permission_or_a_full_disk_stops_the_export_consistent_and_the_next_run_resumes() {
    let Some(db) = TestDb::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    sim_store(&store, 12, 4, 300);
    let id = store_id(&store);
    // The schema is made by the server's superuser; a role of its own then exports.
    let mut c = db.client();
    wfstore::export::postgres::migrate::migrate(&mut c, "test").unwrap();
    let role = format!("w_{}", db.name);
    c.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};"
    ))
    .unwrap();
    // The same database, as the role (its drop at the end fails harmlessly: `db` drops it).
    let as_role = TestDb { base: format!("{} user={role}", db.base), name: db.name.clone() };
    // The server's "disk full" (SQLSTATE 53100) once the export passes seq 1000.
    c.batch_execute(
        "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
             IF NEW.seq > 1000 THEN
                 RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER full_disk BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION full_disk();",
    )
    .unwrap();
    let r = export_pg(&store, &as_role, &["--incremental", "--batch", "300"]);
    check(&r, 1);
    assert!(
        r.stderr.contains("No space left on device") && r.stderr.contains("SQLSTATE 53100"),
        "{}",
        r.stderr
    );
    assert_eq!(assert_rows_match_bookmark(&db, &id), 900, "the three whole batches before the failing one");
    c.batch_execute("DROP TRIGGER full_disk ON events").unwrap();
    // A permission revoked: the server's refusal, its SQLSTATE, and nothing half-written.
    c.batch_execute(&format!("REVOKE INSERT ON energy_contributions FROM {role}")).unwrap();
    let r = export_pg(&store, &as_role, &["--incremental", "--batch", "300"]);
    check(&r, 1);
    assert!(r.stderr.contains("permission denied") && r.stderr.contains("SQLSTATE 42501"), "{}", r.stderr);
    assert_eq!(assert_rows_match_bookmark(&db, &id), 900);
    c.batch_execute(&format!("GRANT INSERT ON energy_contributions TO {role}")).unwrap();
    check(&export_pg(&store, &as_role, &["--incremental", "--batch", "300"]), 0);
    assert_same(&store, &db, "resumed after the faults");
    drop(c);
    let mut c = db.client();
    c.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}")).unwrap();
}

#[test]
fn follow_says_the_server_is_reached_again_before_the_round_that_commits() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use wfstore::export::postgres::{FollowNote, FollowOptions, follow};
    let Some(db) = TestDb::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let first = sim_store(&store, 6, 2, 60).len() as i64;
    let writer = open(&store);
    let id = store_id(&store);
    let stop = AtomicBool::new(false);
    let bookmark = |c: &mut postgres::Client| -> i64 {
        c.query_opt("SELECT last_seq FROM export_state WHERE store_id = $1", &[&id])
            .ok()
            .flatten()
            .map_or(0, |r| r.get(0))
    };
    let notes = std::thread::scope(|scope| {
        let follower = scope.spawn(|| {
            let mut c = db.client();
            let mut said = Vec::new();
            let mut note = |n: FollowNote<'_>| match n {
                // Where the bookmark stands when the note is given.
                FollowNote::Reconnected => said.push(("reached again", bookmark(&mut c))),
                FollowNote::Exported(r) => said.push(("exported", r.last_seq as i64)),
                FollowNote::Disconnected { .. } => said.push(("lost", bookmark(&mut c))),
            };
            let opts = FollowOptions { commit_every: Duration::from_millis(200), ..FollowOptions::default() };
            follow(&store, &db.url(), &opts, &stop, &mut note).unwrap();
            said
        });
        let mut c = db.client();
        while bookmark(&mut c) != first {
            std::thread::sleep(Duration::from_millis(5));
        }
        c.query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND application_name = 'wfstore') AS t",
            &[&db.name],
        )
        .unwrap();
        let more: Vec<_> = (1..=100).map(|i| wfstore::sim::synthetic(SEED, i)).collect();
        writer.append_batch(&more).unwrap();
        writer.flush().unwrap();
        while bookmark(&mut c) != first + 100 {
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Release);
        follower.join().unwrap()
    });
    assert_eq!(
        notes,
        [("exported", first), ("lost", first), ("reached again", first), ("exported", first + 100)],
        "each note in order, given before the commits that follow it"
    );
}
