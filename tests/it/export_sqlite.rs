//! `export sqlite`: the result passes the stock `sqlite3` CLI's checks, matches the store
//! row for row and the replayed state sum for sum; incremental = full; reruns change
//! nothing; older schemas migrate; non-exports are refused; a corrupt store writes nothing
//! half-done.

use std::path::{Path, PathBuf};
use std::process::Command;

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use wfstore::sim::{SimConfig, Simulator};
use wfstore::{CreateOptions, Store};

use crate::cli::{check, wf};
use crate::util::*;

/// Every event of a seeded simulation: 4 sessions, 240 frames, with prompt/output text.
fn sim_events() -> Vec<wfstore::event::Event> {
    let cfg = SimConfig { seed: 11, sessions: 4, frames: 240, with_content: true, ..SimConfig::default() };
    let mut sim = Simulator::new(cfg);
    std::iter::from_fn(|| sim.next_frame()).flatten().collect()
}

fn new_store(dir: &Path, keep_content: bool) {
    Store::create(
        dir,
        &CreateOptions { segment_bytes: SMALL_SEGMENT, keep_content, ..CreateOptions::default() },
    )
    .unwrap();
}

fn append(dir: &Path, events: &[wfstore::event::Event]) {
    let s = open(dir);
    s.append_batch(events).unwrap();
    s.close().unwrap();
}

/// Runs a statement through the stock `sqlite3` CLI; returns its output.
fn sqlite3(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("the sqlite3 CLI is needed (apt-get install sqlite3)");
    assert!(out.status.success(), "sqlite3 {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn assert_sqlite3_checks_pass(db: &Path) {
    assert_eq!(sqlite3(db, "PRAGMA integrity_check;"), "ok\n");
    assert_eq!(sqlite3(db, "PRAGMA foreign_key_check;"), "");
}

/// The data of every table and view, without the times SQLite wrote (`created_at`...).
fn dump(db: &Path) -> Vec<(String, Vec<Vec<String>>)> {
    let conn = Connection::open(db).unwrap();
    [
        "SELECT store_id, last_seq FROM export_state",
        "SELECT version FROM schema_version ORDER BY version",
        "SELECT user_id, first_seq, last_seq FROM users ORDER BY user_id",
        "SELECT session_id, user_id, first_seq, last_seq, first_ts_ns, last_ts_ns, events, app_version, \
         models, end_reason, ended_ts_ns FROM sessions ORDER BY session_id",
        "SELECT * FROM events ORDER BY seq",
        "SELECT * FROM energy_contributions ORDER BY seq",
        "SELECT * FROM snapshots ORDER BY seq",
        "SELECT * FROM session_summary ORDER BY session_id",
        "SELECT * FROM energy_by_model ORDER BY model",
    ]
    .into_iter()
    .map(|sql| (sql.to_owned(), rows(&conn, sql)))
    .collect()
}

/// The rows `sql` returns, every value as text (NULL as `NULL`).
pub fn rows(conn: &Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        Ok((0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                ValueRef::Null => "NULL".to_owned(),
                ValueRef::Integer(v) => v.to_string(),
                ValueRef::Real(v) => v.to_string(),
                ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
            })
            .collect())
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn export(store: &Path, db: &Path, extra: &[&str]) -> crate::cli::Run {
    let mut args = vec!["export", "sqlite", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    wf(store, &args, None)
}

#[test]
fn a_full_export_matches_the_store_and_the_replayed_state_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    new_store(&store_dir, false);
    let events = sim_events();
    append(&store_dir, &events);
    let db = dir.path().join("audit.db");
    let r = export(&store_dir, &db, &["--json"]);
    check(&r, 0);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["events"], events.len() as u64);
    assert_eq!(report["schema_version"], 3);
    assert_sqlite3_checks_pass(&db);

    let store = open_ro(&store_dir).unwrap();
    let (state, _) = store.state().unwrap();
    let conn = Connection::open(&db).unwrap();
    assert_eq!(count(&conn, "SELECT count(*) FROM events"), events.len() as i64);
    assert_eq!(count(&conn, "SELECT count(*) FROM events WHERE NOT json_valid(body)"), 0);
    assert_eq!(count(&conn, "SELECT max(seq) FROM events"), store.last_seq() as i64);
    assert_eq!(count(&conn, "SELECT count(*) FROM sessions"), state.sessions.len() as i64);
    assert_eq!(count(&conn, "SELECT count(*) FROM users"), state.users.len() as i64);
    let energy_events = events.iter().filter(|e| e.body.energy_delta().is_some()).count();
    assert_eq!(count(&conn, "SELECT count(*) FROM energy_contributions"), energy_events as i64);
    for (id, s) in &state.sessions {
        let by_model = rows(
            &conn,
            &format!(
                "SELECT model, energy_micros FROM energy_by_session_model WHERE session_id = '{id}' ORDER BY model"
            ),
        );
        let expected: Vec<Vec<String>> =
            s.by_model.iter().map(|(m, e)| vec![m.clone(), e.to_string()]).collect();
        assert_eq!(by_model, expected, "session {id}");
        let summary = rows(
            &conn,
            &format!(
                "SELECT energy_total_micros, amplification_micros, events FROM session_summary \
                 WHERE session_id = '{id}'"
            ),
        );
        assert_eq!(
            summary,
            vec![vec![s.energy_total.to_string(), s.amplification.to_string(), s.events.to_string()]]
        );
    }
    // The views' exact decimal text agrees with the integer sums.
    for row in rows(&conn, "SELECT energy_micros, energy FROM energy_by_model") {
        let micros: i64 = row[0].parse().unwrap();
        assert_eq!(row[1], wfstore::event::format_micros(i128::from(micros)));
    }
}

#[test]
fn five_increments_equal_one_full_export_and_a_rerun_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    new_store(&store_dir, false);
    let events = sim_events();
    let inc = dir.path().join("inc.db");
    for part in events.chunks(events.len().div_ceil(5)) {
        append(&store_dir, part);
        check(&export(&store_dir, &inc, &["--incremental", "--batch", "97"]), 0);
        assert_sqlite3_checks_pass(&inc);
    }
    let full = dir.path().join("full.db");
    check(&export(&store_dir, &full, &[]), 0);
    assert_eq!(dump(&inc), dump(&full));
    let conn = Connection::open(&inc).unwrap();
    assert_eq!(count(&conn, "SELECT count(*) FROM audit_log WHERE action = 'export'"), 5);
    drop(conn);

    let before = std::fs::read(&inc).unwrap();
    let r = export(&store_dir, &inc, &["--incremental"]);
    check(&r, 0);
    assert!(r.stdout.contains("nothing new"), "{}", r.stdout);
    assert_eq!(std::fs::read(&inc).unwrap(), before, "a rerun changed the database");
}

/// The committed fixture is an export made at schema version 1 of the committed store's
/// first events. Exporting into it migrates it and adds the rest; the result equals a full
/// export of the same store.
#[test]
fn an_older_schema_is_migrated_then_continued() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export-v1");
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    copy_dir(&fixture.join("store"), &store_dir);
    let old = dir.path().join("old.db");
    std::fs::copy(fixture.join("export.db"), &old).unwrap();
    assert_eq!(sqlite3(&old, "SELECT max(version) FROM schema_version;"), "1\n");
    let exported_before = sqlite3(&old, "SELECT last_seq FROM export_state;");
    // The fixture's store is of format version 1: it is upgraded first, keeping its identity.
    wfstore::migrate::migrate(&store_dir, false).unwrap();
    let store = open(&store_dir);
    assert_eq!(exported_before, format!("{}\n", store.last_seq()));
    let more: Vec<_> = sim_events().into_iter().take(300).collect();
    store.append_batch(&more).unwrap();
    store.close().unwrap();

    let r = export(&store_dir, &old, &["--incremental", "--json"]);
    check(&r, 0);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["migrated"], serde_json::json!([2, 3]));
    // The copy taken before the migration is kept beside the database, at version 1.
    let backup = dir.path().join("old.db.pre-v3.bak");
    assert_eq!(report["backup"], backup.to_str().unwrap());
    assert_eq!(sqlite3(&backup, "SELECT max(version) FROM schema_version;"), "1\n");
    for table in ["users", "sessions", "events", "energy_contributions"] {
        let sql = format!("SELECT count(*) FROM {table};");
        assert_eq!(sqlite3(&backup, &sql), sqlite3(&fixture.join("export.db"), &sql), "{table}");
    }
    assert_eq!(report["events"], 300);
    assert_sqlite3_checks_pass(&old);
    assert_eq!(
        sqlite3(&old, "SELECT action, detail FROM audit_log ORDER BY id LIMIT 1;"),
        "migrate|schema 1 -> 2\n"
    );
    assert_eq!(
        sqlite3(&old, "SELECT action, detail FROM audit_log WHERE action = 'migrate' ORDER BY id;"),
        "migrate|schema 1 -> 2\nmigrate|schema 2 -> 3\n"
    );
    let full = dir.path().join("full.db");
    check(&export(&store_dir, &full, &[]), 0);
    assert_eq!(dump(&old), dump(&full));
}

/// Regenerates the fixture above (`WFSTORE_WRITE_FIXTURES=1 cargo test --test it
/// write_v1_fixture`): a store, its full export, then `downgrade-to-v1.sql`, which undoes
/// migration 2 exactly.
#[test]
fn write_v1_fixture() {
    if std::env::var_os("WFSTORE_WRITE_FIXTURES").is_none() {
        return;
    }
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export-v1");
    let store_dir = fixture.join("store");
    let _ = std::fs::remove_dir_all(&store_dir);
    new_store(&store_dir, false);
    let cfg = SimConfig { seed: 5, sessions: 3, frames: 60, ..SimConfig::default() };
    let mut sim = Simulator::new(cfg);
    append(&store_dir, &std::iter::from_fn(|| sim.next_frame()).flatten().collect::<Vec<_>>());
    let db = fixture.join("export.db");
    let _ = std::fs::remove_file(&db);
    check(&export(&store_dir, &db, &[]), 0);
    let downgrade = std::fs::read_to_string(fixture.join("downgrade-to-v1.sql")).unwrap();
    Connection::open(&db).unwrap().execute_batch(&downgrade).unwrap();
    let _ = std::fs::remove_file(store_dir.join("LOCK"));
}

#[test]
fn files_that_are_not_an_export_of_this_store_are_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    store_with(&store_dir, 20, SMALL_SEGMENT);
    let text = dir.path().join("notes.db");
    std::fs::write(&text, "my notes, not a database\n".repeat(100)).unwrap();
    let other = dir.path().join("other.db");
    Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
    let another_store = dir.path().join("store2");
    store_with(&another_store, 5, SMALL_SEGMENT);
    let theirs = dir.path().join("theirs.db");
    check(&export(&another_store, &theirs, &[]), 0);
    for (db, why) in
        [(&text, "not a database"), (&other, "not a wfstore export's"), (&theirs, "an export of store")]
    {
        let before = std::fs::read(db).unwrap();
        for extra in [&[][..], &["--incremental"][..]] {
            let r = export(&store_dir, db, extra);
            check(&r, 1);
            assert!(
                r.stderr.contains("is not a wfstore export of this store") && r.stderr.contains(why),
                "{}",
                r.stderr
            );
            assert_eq!(std::fs::read(db).unwrap(), before);
        }
    }
    assert_eq!(leftovers(dir.path()), Vec::<PathBuf>::new());
}

/// An edited bookmark past the store's end (or negative) is refused before anything is
/// written; an empty file is a new export.
#[test]
fn a_bookmark_this_store_does_not_have_is_refused_and_an_empty_file_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    store_with(&store_dir, 30, SMALL_SEGMENT);
    let db = dir.path().join("audit.db");
    check(&export(&store_dir, &db, &[]), 0);
    for bad in ["31", "-1"] {
        // A hostile edit: the schema's CHECK would refuse a negative one.
        sqlite3(
            &db,
            &format!("PRAGMA ignore_check_constraints = ON; UPDATE export_state SET last_seq = {bad};"),
        );
        let before = std::fs::read(&db).unwrap();
        let r = export(&store_dir, &db, &["--incremental"]);
        check(&r, 1);
        assert!(
            r.stderr.contains(&format!("its last exported seq {bad} is not a seq of this store (last 30)")),
            "{}",
            r.stderr
        );
        assert_eq!(std::fs::read(&db).unwrap(), before);
    }
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    check(&export(&store_dir, &empty, &["--incremental"]), 0);
    let full = dir.path().join("full.db");
    check(&export(&store_dir, &full, &[]), 0);
    assert_eq!(dump(&empty), dump(&full));
}

/// Flips a byte in the body of frame `k` of data segment `segment` (sealed); returns the
/// file, its bytes before, and the damaged frame's seq.
fn corrupt_frame(store_dir: &Path, segment: usize, k: usize) -> (PathBuf, Vec<u8>, u64) {
    let seg = data_segments(store_dir)[segment].clone();
    let (at, len) = frame_offsets(&seg)[k];
    let original = std::fs::read(&seg).unwrap();
    let mut bytes = original.clone();
    let seq = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
    bytes[at + len - 1] ^= 0x40;
    std::fs::write(&seg, bytes).unwrap();
    (seg, original, seq)
}

fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect()
}

#[test]
fn a_corrupt_store_stops_the_export_with_exit_3_and_nothing_half_done() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    store_with(&store_dir, 2_000, SMALL_SEGMENT);
    let inc = dir.path().join("inc.db");
    corrupt_frame(&store_dir, 0, 150);
    let full = dir.path().join("full.db");
    let r = export(&store_dir, &full, &[]);
    check(&r, 3);
    assert!(r.stderr.contains("corrupt"), "{}", r.stderr);
    assert!(!full.exists(), "a failed full export leaves no file");
    assert_eq!(leftovers(dir.path()), Vec::<PathBuf>::new());

    // A first incremental run is a full export: no file either.
    let r = export(&store_dir, &inc, &["--incremental", "--batch", "40"]);
    check(&r, 3);
    assert!(!inc.exists());
    assert_eq!(leftovers(dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn an_interrupted_incremental_export_keeps_whole_batches_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    store_with(&store_dir, 100, SMALL_SEGMENT);
    let inc = dir.path().join("inc.db");
    check(&export(&store_dir, &inc, &["--incremental"]), 0);
    let s = open(&store_dir);
    for i in 101..=2_000 {
        s.append(&wfstore::sim::synthetic(SEED, i)).unwrap();
    }
    s.close().unwrap();
    // Damage a frame after seq 100 in a sealed segment.
    let (seg, original, seq) = corrupt_frame(&store_dir, 1, 10);
    assert!(seq > 100);
    let r = export(&store_dir, &inc, &["--incremental", "--batch", "40"]);
    check(&r, 3);
    assert!(r.stderr.contains("corrupt"), "{}", r.stderr);
    assert_sqlite3_checks_pass(&inc);
    let conn = Connection::open(&inc).unwrap();
    let last = count(&conn, "SELECT last_seq FROM export_state") as u64;
    assert_eq!(count(&conn, "SELECT count(*) FROM events") as u64, last, "rows = bookmark");
    assert_eq!((last - 100) % 40, 0, "whole batches only");
    assert!(last < seq && seq - last <= 40, "stopped at the batch holding seq {seq} (bookmark {last})");
    drop(conn);
    // Repaired, the next run resumes at the bookmark and ends equal to a full export.
    std::fs::write(&seg, original).unwrap();
    check(&export(&store_dir, &inc, &["--incremental", "--batch", "40"]), 0);
    let full = dir.path().join("full.db");
    check(&export(&store_dir, &full, &[]), 0);
    assert_eq!(dump(&inc), dump(&full));
}

#[test]
fn content_is_exported_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    new_store(&store_dir, true);
    let events = sim_events();
    let texts: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.body {
            wfstore::event::EventBody::UserPrompt(b) => b.content.clone(),
            wfstore::event::EventBody::AiOutput(b) => b.content.clone(),
            _ => None,
        })
        .collect();
    assert!(!texts.is_empty());
    append(&store_dir, &events);
    let plain = dir.path().join("plain.db");
    check(&export(&store_dir, &plain, &[]), 0);
    let with = dir.path().join("with.db");
    check(&export(&store_dir, &with, &["--include-content"]), 0);
    let plain_bytes = String::from_utf8_lossy(&std::fs::read(&plain).unwrap()).into_owned();
    let with_bytes = String::from_utf8_lossy(&std::fs::read(&with).unwrap()).into_owned();
    for t in &texts {
        assert!(!plain_bytes.contains(t.as_str()), "content {t:?} leaked");
        assert!(with_bytes.contains(t.as_str()), "content {t:?} missing");
    }
    let hashes = sqlite3(
        &plain,
        "SELECT count(*) FROM events WHERE body->>'prompt_hash' IS NOT NULL OR body->>'content_hash' IS NOT NULL;",
    );
    assert_eq!(hashes, format!("{}\n", texts.len()));
}

/// A fake temp file of a full export, `name` in `dir`, last written `age` ago.
fn stale_temp(dir: &Path, name: &str, age: std::time::Duration) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, b"half an export").unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() - age).unwrap();
    path
}

/// The names of the hidden (temp) files in `dir`, sorted.
fn hidden_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        leftovers(dir).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Asserts `db` is a complete, checked export of the 100 events of `store_with`.
fn assert_full_export_of_100(db: &Path) {
    assert_sqlite3_checks_pass(db);
    let conn = Connection::open(db).unwrap();
    assert_eq!(count(&conn, "SELECT count(*) FROM events"), 100);
    assert_eq!(count(&conn, "SELECT last_seq FROM export_state"), 100);
}

/// Killed exports leave `.audit.db.<16 hex>.tmp` files: the next full export of `audit.db`
/// removes those that are older and unlocked, and leaves another target's temp file, a temp
/// file a running export holds (locked), and files that only look alike.
#[test]
fn a_full_export_removes_the_stale_temp_files_of_its_target_only() {
    let hour = std::time::Duration::from_secs(3600);
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    store_with(&store_dir, 100, SMALL_SEGMENT);
    let stale = [
        stale_temp(dir.path(), ".audit.db.00c0ffee00c0ffee.tmp", hour),
        stale_temp(dir.path(), ".audit.db.0123456789abcdef.tmp", std::time::Duration::from_secs(5)),
        stale_temp(dir.path(), ".audit.db.fedcba9876543210.tmp", 24 * hour),
    ];
    let other = stale_temp(dir.path(), ".other.db.00c0ffee00c0ffee.tmp", hour);
    let alike = stale_temp(dir.path(), ".audit.db.not-a-temp-name.tmp", hour);
    let running = stale_temp(dir.path(), ".audit.db.1111111111111111.tmp", hour);
    let held = std::fs::File::open(&running).unwrap();
    held.lock().unwrap();

    let db = dir.path().join("audit.db");
    let r = export(&store_dir, &db, &[]);
    check(&r, 0);
    assert_eq!(r.stdout, format!("exported 100 events (seq 1..=100) into {}\n", db.display()));
    for p in &stale {
        assert!(!p.exists(), "stale {} left", p.display());
    }
    assert_eq!(
        hidden_names(dir.path()),
        [".audit.db.1111111111111111.tmp", ".audit.db.not-a-temp-name.tmp", ".other.db.00c0ffee00c0ffee.tmp"]
    );
    assert_eq!(std::fs::read(&other).unwrap(), b"half an export");
    assert_eq!(std::fs::read(&alike).unwrap(), b"half an export");
    assert_full_export_of_100(&db);

    // Its export ended (unlocked): the next export of the target removes it too.
    drop(held);
    check(&export(&store_dir, &db, &[]), 0);
    assert_eq!(hidden_names(dir.path()), [".audit.db.not-a-temp-name.tmp", ".other.db.00c0ffee00c0ffee.tmp"]);
    assert_full_export_of_100(&db);
}

/// A real leftover: a full export killed with SIGKILL while it builds its temp file leaves it
/// (and no target); the next export removes it and writes the target whole.
#[test]
fn the_temp_file_of_a_killed_export_is_removed_by_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    store_with(&store_dir, 100, SMALL_SEGMENT);
    let s = open(&store_dir);
    let more: Vec<_> = (101..=60_000).map(|i| wfstore::sim::synthetic(SEED, i)).collect();
    s.append_batch(&more).unwrap();
    s.close().unwrap();
    let db = dir.path().join("audit.db");

    let mut child = Command::new(env!("CARGO_BIN_EXE_wfstore"))
        .arg("--store")
        .arg(&store_dir)
        .args(["export", "sqlite", "--batch", "1000"])
        .arg(&db)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once its temp file has content (SQLite is writing it).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let temp = loop {
        let written = leftovers(dir.path()).into_iter().find(|p| p.metadata().is_ok_and(|m| m.len() > 0));
        if let Some(temp) = written {
            break temp;
        }
        assert!(child.try_wait().unwrap().is_none(), "the export finished before it could be killed");
        assert!(std::time::Instant::now() < deadline, "no temp file appeared");
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    child.kill().unwrap();
    assert!(child.wait().unwrap().code().is_none(), "killed");
    let name = temp.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(".audit.db.") && name.ends_with(".tmp") && name.len() == ".audit.db.".len() + 20,
        "{name}"
    );
    assert_eq!(hidden_names(dir.path()), std::slice::from_ref(&name), "the killed export's temp file");
    assert!(!db.exists());

    let r = export(&store_dir, &db, &[]);
    check(&r, 0);
    assert!(!temp.exists(), "{name} left behind");
    assert_eq!(hidden_names(dir.path()), Vec::<String>::new());
    let conn = Connection::open(&db).unwrap();
    assert_eq!(count(&conn, "SELECT count(*) FROM events"), 60_000);
    assert_eq!(count(&conn, "SELECT last_seq FROM export_state"), 60_000);
}

/// `schemas/erd.mmd` and `schemas/audit.md` describe exactly the tables and columns the
/// migrations create.
#[test]
fn the_erd_and_the_schema_document_match_the_sql() {
    let mut conn = Connection::open_in_memory().unwrap();
    wfstore::export::sqlite::migrate::migrate(&mut conn, Path::new(":memory:"), 0).unwrap();
    let mut sql: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for table in rows(
        &conn,
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    ) {
        let cols = rows(&conn, &format!("SELECT name, type FROM pragma_table_info('{}')", table[0]));
        sql.push((table[0].clone(), cols.into_iter().map(|c| (c[0].clone(), c[1].clone())).collect()));
    }
    let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let erd = std::fs::read_to_string(schemas.join("erd.mmd")).unwrap();
    let mut from_erd: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in erd.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_suffix(" {") {
            from_erd.push((name.to_owned(), Vec::new()));
        } else if t != "}" && line.starts_with("        ") && !t.is_empty() {
            let mut words = t.split_whitespace();
            let (ty, col) = (words.next().unwrap(), words.next().unwrap());
            from_erd.last_mut().unwrap().1.push((col.to_owned(), ty.to_owned()));
        }
    }
    from_erd.sort();
    assert_eq!(from_erd, sql);
    let doc = std::fs::read_to_string(schemas.join("audit.md")).unwrap();
    for (table, cols) in &sql {
        assert!(doc.contains(&format!("### `{table}`")), "audit.md has no section for {table}");
        for (col, _) in cols {
            assert!(doc.contains(&format!("`{col}`")), "audit.md does not describe {table}.{col}");
        }
    }
    for object in rows(
        &conn,
        "SELECT name FROM sqlite_schema WHERE type IN ('index', 'view', 'trigger') AND sql IS NOT NULL",
    ) {
        assert!(doc.contains(&format!("`{}`", object[0])), "audit.md does not describe {}", object[0]);
    }
}
