//! The relational view's migration procedure (schemas/migrations/TEMPLATE.sql): a failing
//! migration leaves the database byte-identical and its backup kept; the store's `AUDIT`
//! records land in `audit_log` once each; an incremental export after a purge deletes every
//! row of the purged user.

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use wfstore::audit::{Action, AuditRecord};
use wfstore::disk::Disk;
use wfstore::event::body::{EnergyUpdate, SessionEnd, SessionStart, UserPrompt};
use wfstore::event::{Energy, Event, EventBody, Id, Sha256Hex};
use wfstore::export::sqlite::migrate::{self, MIGRATIONS, Migration, SCHEMA_VERSION};
use wfstore::export::sqlite::{self, ExportReport, SqliteExport};
use wfstore::{CreateOptions, Store};

use crate::cli::{check, wf};
use crate::util::{SMALL_SEGMENT, copy_dir, open, open_ro};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export-v1")
}

/// A copy of the version-1 fixture export in `dir`.
fn v1_copy(dir: &Path) -> PathBuf {
    let db = dir.join("old.db");
    std::fs::copy(fixture().join("export.db"), &db).unwrap();
    db
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Every row of every table (SQLite's own included), as text.
fn all_rows(conn: &Connection) -> Vec<(String, Vec<String>)> {
    let mut tables =
        conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").unwrap();
    let names: Vec<String> = tables.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    let mut out = Vec::new();
    for name in names {
        let rows = crate::export_sqlite::rows(conn, &format!("SELECT * FROM \"{name}\" ORDER BY rowid"));
        out.extend(rows.into_iter().map(|r| (name.clone(), r)));
    }
    out
}

fn open_ro_db(db: &Path) -> Connection {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

/// Tables of schema version 2: what migration 3 declares it keeps the rows of.
const V2_TABLES: &[&str] = MIGRATIONS[2].keeps_rows;

/// Runs `list` on a copy of the v1 fixture; returns the error text. Asserts the failure
/// left the database byte-identical, no journal behind, and the backup kept at version 1.
fn failing_run(dir: &Path, db: &Path, list: &[Migration], backup: &str) -> String {
    let before = std::fs::read(db).unwrap();
    let mut conn = Connection::open(db).unwrap();
    let from = migrate::current_version(&conn).unwrap();
    assert_eq!(from, 1);
    let err = migrate::run(&mut conn, db, from, list).unwrap_err();
    drop(conn);
    assert_eq!(std::fs::read(db).unwrap(), before, "the failed migration changed the database");
    assert!(!dir.join("old.db-journal").exists());
    let backup = dir.join(backup);
    match &err {
        wfstore::Error::SqlMigration { backup: Some(b), .. } => assert_eq!(b, &backup),
        other => panic!("{other:?}"),
    }
    let copy = open_ro_db(&backup);
    assert_eq!(migrate::current_version(&copy).unwrap(), 1);
    assert_eq!(all_rows(&copy), all_rows(&open_ro_db(db)), "the backup holds what the database holds");
    err.to_string()
}

#[test]
fn a_failing_migration_leaves_the_database_byte_identical_and_keeps_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    let db = v1_copy(dir.path());
    // Migration 2 is good; 3's first step is valid SQL, its second is not.
    let invalid = Migration {
        version: 3,
        description: "broken",
        sql: "CREATE TABLE extra (x INTEGER); INSERT INTO extra VALUES (1); SELEKT nothing;",
        keeps_rows: V2_TABLES,
        changes_rows: &[],
    };
    let err = failing_run(dir.path(), &db, &[MIGRATIONS[0], MIGRATIONS[1], invalid], "old.db.pre-v3.bak");
    assert!(err.contains("schema version 3 failed in the steps") && err.contains("SELEKT"), "{err}");
    assert!(err.contains("the database is unchanged (its backup:"), "{err}");

    // A step that loses rows of a table it declares it keeps; the first backup is not
    // overwritten.
    let loses_rows = Migration { sql: "DELETE FROM users;", ..invalid };
    let err =
        failing_run(dir.path(), &db, &[MIGRATIONS[0], MIGRATIONS[1], loses_rows], "old.db.pre-v3.2.bak");
    let users = count(&open_ro_db(&db), "SELECT count(*) FROM users");
    assert!(users > 0);
    assert!(
        err.contains("post-migration verification")
            && err.contains(&format!("table users had {users} rows, now 0")),
        "{err}"
    );

    // A step that breaks a foreign key (the steps run with foreign keys off).
    let dangling = Migration {
        sql: "UPDATE sessions SET user_id = 'nobody' WHERE rowid = (SELECT min(rowid) FROM sessions);",
        ..invalid
    };
    let err = failing_run(dir.path(), &db, &[MIGRATIONS[0], MIGRATIONS[1], dangling], "old.db.pre-v3.3.bak");
    assert!(
        err.contains("post-migration verification") && err.contains("foreign_key_check: sessions"),
        "{err}"
    );

    // A migration that leaves a table undeclared.
    let undeclared = Migration { keeps_rows: &V2_TABLES[1..], sql: "SELECT 1;", ..invalid };
    let err =
        failing_run(dir.path(), &db, &[MIGRATIONS[0], MIGRATIONS[1], undeclared], "old.db.pre-v3.4.bak");
    assert!(err.contains("table schema_version must be declared"), "{err}");

    // The real list then migrates it, with a backup of its own.
    let mut conn = Connection::open(&db).unwrap();
    let done = migrate::migrate(&mut conn, &db, 1).unwrap();
    assert_eq!(done.applied, vec![2, 3]);
    assert_eq!(done.backup, Some(dir.path().join("old.db.pre-v3.5.bak")));
    assert_eq!(migrate::current_version(&conn).unwrap(), SCHEMA_VERSION);
    assert_eq!(count(&conn, "SELECT count(*) FROM audit_log WHERE action = 'migrate'"), 2);
    let fixture_conn = open_ro_db(&fixture().join("export.db"));
    for table in ["users", "sessions", "events", "energy_contributions", "snapshots", "export_state"] {
        let sql = format!("SELECT count(*) FROM {table}");
        assert_eq!(count(&conn, &sql), count(&fixture_conn, &sql), "{table}");
    }
}

#[test]
fn a_corrupt_database_fails_the_pre_migration_checks_and_is_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let db = v1_copy(dir.path());
    {
        let conn = Connection::open(&db).unwrap();
        // A dangling session written with foreign keys off (SQLite's default).
        conn.execute_batch("PRAGMA foreign_keys = OFF; UPDATE sessions SET user_id = 'nobody' WHERE rowid = (SELECT min(rowid) FROM sessions)")
            .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let mut conn = Connection::open(&db).unwrap();
    let err = migrate::migrate(&mut conn, &db, 1).unwrap_err().to_string();
    assert!(err.contains("pre-migration checks") && err.contains("foreign_key_check"), "{err}");
    // Wrong expected version.
    let err = migrate::migrate(&mut conn, &db, 2).unwrap_err().to_string();
    assert!(err.contains("at version 1, expected 2"), "{err}");
    drop(conn);
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert!(!dir.path().join("old.db.pre-v3.bak").exists(), "no backup before the checks pass");
}

// ---------------------------------------------------------------------------------------
// AUDIT import and purge.

/// Alice, Bob and Carol have sessions from the start; Dave comes after the purge.
const USERS: [&str; 4] = ["alice-7f3a", "bob-11c2", "carol-9e0d", "dave-5b21"];

fn event(user: usize, session_user: usize, r: u64, k: u64, body: EventBody) -> Event {
    Event {
        ts_ns: 1_790_000_000_000_000_000 + (r * 100 + k) as i64 * 1000 + user as i64,
        frame: r * 10 + k,
        session: Id::try_from(format!("{}-session-{r}", USERS[session_user])).unwrap(),
        user: Id::try_from(USERS[user]).unwrap(),
        body,
    }
}

fn session(user: usize, r: u64) -> Vec<Event> {
    vec![
        event(
            user,
            user,
            r,
            0,
            EventBody::SessionStart(SessionStart { app_version: "1.0".into(), models: vec!["llama".into()] }),
        ),
        event(
            user,
            user,
            r,
            1,
            EventBody::EnergyUpdate(EnergyUpdate {
                model: "llama".into(),
                tokens: 3,
                delta: Energy::from_micros(1_250_000 + r as i64),
            }),
        ),
        event(
            user,
            user,
            r,
            2,
            EventBody::UserPrompt(UserPrompt {
                prompt_hash: Sha256Hex::from_bytes([user as u8; 32]),
                chars: 6,
                content: None,
            }),
        ),
        event(user, user, r, 3, EventBody::SessionEnd(SessionEnd { reason: "user".into() })),
    ]
}

/// Rounds of interleaved sessions of every user.
fn workload(rounds: u64) -> Vec<Event> {
    (0..rounds).flat_map(|r| (0..3).flat_map(move |u| session(u, r))).collect()
}

fn new_store(dir: &Path, events: &[Event]) -> Store {
    Store::create(dir, &CreateOptions { segment_bytes: SMALL_SEGMENT, ..CreateOptions::default() }).unwrap();
    let s = open(dir);
    for chunk in events.chunks(5) {
        s.append_batch(chunk).unwrap();
    }
    s
}

fn export(store: &Store, db: &Path, incremental: bool) -> ExportReport {
    let opts = SqliteExport { incremental, batch_events: 7, ..SqliteExport::default() };
    sqlite::export(store, db, &opts, &mut |_, _| {}).unwrap()
}

/// The needles a purge of `user` must leave nowhere: the id and its session ids.
fn needles(user: usize, rounds: u64) -> Vec<String> {
    std::iter::once(USERS[user].to_owned())
        .chain((0..rounds).map(|r| format!("{}-session-{r}", USERS[user])))
        .collect()
}

fn rows_containing(conn: &Connection, needle: &str) -> Vec<(String, Vec<String>)> {
    all_rows(conn).into_iter().filter(|(_, row)| row.iter().any(|v| v.contains(needle))).collect()
}

fn file_contains(path: &Path, needle: &str) -> bool {
    std::fs::read(path).unwrap().windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The rows of the users other than `user`, in the tables that hold per-user data.
fn rows_of_others(conn: &Connection, user: &str) -> Vec<Vec<String>> {
    all_rows(conn)
        .into_iter()
        .filter(|(t, _)| ["users", "sessions", "events", "energy_contributions"].contains(&t.as_str()))
        .filter(|(t, row)| t == "energy_contributions" || !row.iter().any(|v| v.contains(user)))
        .map(|(t, mut row)| {
            row.insert(0, t);
            row
        })
        .collect()
}

#[test]
fn an_incremental_export_after_a_purge_leaves_no_row_of_the_purged_user() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let rounds = 4;
    let events = workload(rounds);
    let store = new_store(&store_dir, &events);
    let db = dir.path().join("audit.db");
    export(&store, &db, false);
    let alice_contributions: Vec<i64> = {
        let conn = open_ro_db(&db);
        assert!(!rows_containing(&conn, USERS[0]).is_empty());
        let mut stmt = conn
            .prepare(
                "SELECT c.seq FROM energy_contributions c JOIN events e USING (seq) WHERE e.user_id = ?1",
            )
            .unwrap();
        stmt.query_map([USERS[0]], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(alice_contributions.len() as u64, rounds);
    let others_before = {
        let conn = open_ro_db(&db);
        let mut rows = rows_of_others(&conn, USERS[0]);
        // Contributions of alice's events are hers, not the others'.
        rows.retain(|r| {
            r[0] != "energy_contributions" || !alice_contributions.contains(&r[1].parse().unwrap())
        });
        rows
    };

    let purge = store.purge_user(USERS[0]).unwrap();
    assert_eq!(purge.events, 4 * rounds);
    // More events after the purge, of a new user.
    let more = session(3, rounds);
    store.append_batch(&more).unwrap();
    let report = export(&store, &db, true);
    assert_eq!(report.events, more.len() as u64);
    assert_eq!(report.audit_records, 1);
    // Her events, their contributions, her sessions and her user row.
    assert_eq!(report.purged_rows, 4 * rounds + rounds + rounds + 1);
    assert_eq!(report.backup, None, "nothing to migrate");

    let conn = open_ro_db(&db);
    for needle in needles(0, rounds) {
        assert_eq!(rows_containing(&conn, &needle), Vec::<(String, Vec<String>)>::new(), "{needle}");
    }
    // Deleted with secure_delete: the file holds no byte of them even before a VACUUM.
    for needle in needles(0, rounds) {
        assert!(!file_contains(&db, &needle), "{needle} is still in the file's free space");
    }
    assert_eq!(
        count(&conn, "SELECT count(*) FROM energy_contributions WHERE seq NOT IN (SELECT seq FROM events)"),
        0
    );
    // Nobody else lost or changed a row: the others' rows before are all still there.
    let others_after = rows_of_others(&conn, USERS[0]);
    for row in &others_before {
        assert!(others_after.contains(row), "{row:?} changed or went");
    }
    // Plus Dave's events, contribution, session and user.
    assert_eq!(others_after.len(), others_before.len() + more.len() + 3);
    // The purge row, with the record's range and count, named only by a salted hash.
    let (first, last) = purge.seqs.unwrap();
    let row: (String, i64, i64, i64, String, i64, String, i64) = conn
        .query_row(
            "SELECT action, first_seq, last_seq, events, subject_kind, rows, subject_hash, store_record \
             FROM audit_log WHERE action = 'purge'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
        )
        .unwrap();
    assert_eq!(
        (row.0.as_str(), row.1, row.2, row.3, row.4.as_str(), row.5, row.7),
        ("purge", first as i64, last as i64, (4 * rounds) as i64, "user", report.purged_rows as i64, 0)
    );
    assert_eq!(row.6.len(), 64);
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    assert_eq!(count(&conn, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    drop(conn);

    // And after a VACUUM.
    let vacuumed = dir.path().join("vacuumed.db");
    Connection::open(&db).unwrap().execute("VACUUM INTO ?1", [vacuumed.to_str().unwrap()]).unwrap();
    for needle in needles(0, rounds) {
        assert!(!file_contains(&vacuumed, &needle), "{needle}");
    }

    // The incremental export equals a full export of the purged store (but for audit_log,
    // whose purge row counts the rows this export deleted).
    let full = dir.path().join("full.db");
    export(&store, &full, false);
    let strip = |conn: &Connection| {
        all_rows(conn)
            .into_iter()
            .filter(|(t, _)| {
                ["users", "sessions", "events", "energy_contributions", "snapshots"].contains(&t.as_str())
            })
            .map(|(t, row)| {
                // Leave out created_at/updated_at (SQLite's clock).
                let row = match t.as_str() {
                    "users" => row[..3].to_vec(),
                    "sessions" => [&row[..10], &row[12..]].concat(),
                    _ => row,
                };
                (t, row)
            })
            .collect::<Vec<_>>()
    };
    let (mut a, mut b) = (strip(&open_ro_db(&db)), strip(&open_ro_db(&full)));
    a.sort();
    b.sort();
    assert_eq!(a, b);

    // A rerun imports nothing and changes nothing.
    let before = std::fs::read(&db).unwrap();
    let again = export(&store, &db, true);
    assert_eq!((again.events, again.audit_records, again.purged_rows), (0, 0, 0));
    assert_eq!(std::fs::read(&db).unwrap(), before);
    store.close().unwrap();
}

/// An event of alice in bob's session: the purge takes it, bob's session stays,
/// recomputed as a full export of the purged store writes it.
#[test]
fn a_purged_event_in_another_users_session_leaves_that_session_recomputed() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let mut events = workload(2);
    // Alice's energy in bob's round-0 session, first of it, and a session.end after bob's.
    let intruder = event(
        0,
        1,
        0,
        0,
        EventBody::EnergyUpdate(EnergyUpdate {
            model: "qwen".into(),
            tokens: 1,
            delta: Energy::from_micros(5),
        }),
    );
    events.insert(4, intruder);
    events.push(event(0, 1, 0, 9, EventBody::SessionEnd(SessionEnd { reason: "crash".into() })));
    let store = new_store(&store_dir, &events);
    let db = dir.path().join("audit.db");
    export(&store, &db, false);
    store.purge_user(USERS[0]).unwrap();
    let report = export(&store, &db, true);
    assert_eq!(report.audit_records, 1);
    let full = dir.path().join("full.db");
    export(&store, &full, false);
    let sessions = "SELECT session_id, user_id, first_seq, last_seq, first_ts_ns, last_ts_ns, events, \
                    app_version, models, end_reason, ended_ts_ns FROM sessions ORDER BY session_id";
    let users = "SELECT user_id, first_seq, last_seq FROM users ORDER BY user_id";
    let summary = "SELECT * FROM session_summary ORDER BY session_id";
    for sql in [sessions, users, summary, "SELECT * FROM events ORDER BY seq"] {
        let rows = |db: &Path| {
            let conn = open_ro_db(db);
            let mut stmt = conn.prepare(sql).unwrap();
            let n = stmt.column_count();
            stmt.query_map([], |r| {
                Ok((0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>())
            })
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
        };
        assert_eq!(rows(&db), rows(&full), "{sql}");
    }
    let conn = open_ro_db(&db);
    for needle in needles(0, 2) {
        assert_eq!(rows_containing(&conn, &needle), Vec::<(String, Vec<String>)>::new(), "{needle}");
    }
    store.close().unwrap();
}

fn record(action: Action, store_id: u64, seqs: (u64, u64), events: u64, bytes: u64) -> AuditRecord {
    AuditRecord {
        seq_first: seqs.0,
        seq_last: seqs.1,
        events,
        bytes,
        at_ns: 1_790_000_000_123_456_789,
        ..AuditRecord::new(action, store_id)
    }
}

#[test]
fn backup_restore_and_retention_records_are_exported_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let store = new_store(&store_dir, &workload(2));
    let id = store.store_id();
    let disk = Disk::default();
    wfstore::audit::append(&disk, &store_dir, &record(Action::Backup, id, (1, 24), 5, 4096)).unwrap();
    wfstore::audit::append(&disk, &store_dir, &record(Action::Restore, id, (1, 20), 20, 3000)).unwrap();
    let db = dir.path().join("audit.db");
    let report = export(&store, &db, false);
    assert_eq!(report.audit_records, 2);
    let lifecycle = "SELECT store_record, action, at, at_ns, first_seq, last_seq, events, bytes, subject_kind, \
                     subject_hash, rows FROM audit_log WHERE store_record IS NOT NULL ORDER BY store_record";
    let expected = vec![
        vec![
            "0",
            "backup",
            "2026-09-21T14:13:20.123Z",
            "1790000000123456789",
            "1",
            "24",
            "5",
            "4096",
            "NULL",
            "NULL",
            "0",
        ],
        vec![
            "1",
            "restore",
            "2026-09-21T14:13:20.123Z",
            "1790000000123456789",
            "1",
            "20",
            "20",
            "3000",
            "NULL",
            "NULL",
            "0",
        ],
    ];
    let got = |db: &Path| {
        let conn = open_ro_db(db);
        let mut stmt = conn.prepare(lifecycle).unwrap();
        stmt.query_map([], |r| {
            Ok((0..11)
                .map(|i| match r.get_ref(i).unwrap() {
                    ValueRef::Null => "NULL".to_owned(),
                    ValueRef::Integer(v) => v.to_string(),
                    ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>())
        })
        .unwrap()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
    };
    assert_eq!(got(&db), expected);

    // Twice changes nothing; a new record is added by the next incremental export, alone.
    let before = std::fs::read(&db).unwrap();
    assert_eq!(export(&store, &db, true).audit_records, 0);
    assert_eq!(std::fs::read(&db).unwrap(), before);
    wfstore::audit::append(&disk, &store_dir, &record(Action::Retention, id, (1, 8), 8, 512)).unwrap();
    assert_eq!(export(&store, &db, true).audit_records, 1);
    let mut expected = expected;
    expected.push(vec![
        "2",
        "retention",
        "2026-09-21T14:13:20.123Z",
        "1790000000123456789",
        "1",
        "8",
        "8",
        "512",
        "NULL",
        "NULL",
        "0",
    ]);
    assert_eq!(got(&db), expected);
    assert_eq!(export(&store, &db, true).audit_records, 0);
    assert_eq!(got(&db), expected);
    // A full export writes the same rows.
    let full = dir.path().join("full.db");
    export(&store, &full, false);
    assert_eq!(got(&full), expected);
    store.close().unwrap();
}

/// Through the command line: an export at version 1 is migrated by `export sqlite
/// --incremental`, which names the backup it kept; the store's AUDIT comes along.
#[test]
fn the_cli_migrates_names_the_backup_and_imports_the_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    copy_dir(&fixture().join("store"), &store_dir);
    wfstore::migrate::migrate(&store_dir, false).unwrap();
    let id = open_ro(&store_dir).unwrap().store_id();
    wfstore::audit::append(&Disk::default(), &store_dir, &record(Action::Backup, id, (1, 2), 1, 10)).unwrap();
    let db = v1_copy(dir.path());
    let r = wf(&store_dir, &["export", "sqlite", db.to_str().unwrap(), "--incremental"], None);
    check(&r, 0);
    let backup = dir.path().join("old.db.pre-v3.bak");
    assert!(r.stdout.contains("migrated the schema to version 3 (applied [2, 3])"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("kept in {}", backup.display())), "{}", r.stdout);
    assert!(r.stdout.contains("imported 1 records of the store's AUDIT"), "{}", r.stdout);
    assert_eq!(migrate::current_version(&open_ro_db(&backup)).unwrap(), 1);
    assert_eq!(count(&open_ro_db(&db), "SELECT count(*) FROM audit_log WHERE action = 'backup'"), 1);
}

/// A migration and a purge in the same run: the backup was taken before the deletion and
/// still holds the purged user's rows, which the command says; the database does not.
#[test]
fn the_cli_warns_that_a_backup_taken_before_a_purge_deletion_still_holds_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    copy_dir(&fixture().join("store"), &store_dir);
    wfstore::migrate::migrate(&store_dir, false).unwrap();
    let db = v1_copy(dir.path());
    let user: String = open_ro_db(&db)
        .query_row("SELECT user_id FROM users ORDER BY user_id LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let store = open(&store_dir);
    assert!(store.purge_user(&user).unwrap().events > 0);
    store.close().unwrap();
    let r = wf(&store_dir, &["export", "sqlite", db.to_str().unwrap(), "--incremental"], None);
    check(&r, 0);
    let backup = dir.path().join("old.db.pre-v3.bak");
    assert!(r.stdout.contains("rows of events purged from the store"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("warning: {} was taken before that deletion", backup.display())),
        "{}",
        r.stdout
    );
    assert_eq!(rows_containing(&open_ro_db(&db), &user), Vec::<(String, Vec<String>)>::new());
    assert!(!rows_containing(&open_ro_db(&backup), &user).is_empty());
}

/// A damaged record of `AUDIT` is skipped; the records after it are imported at their own
/// index.
#[test]
fn a_damaged_audit_record_is_skipped_and_the_next_keeps_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let store = new_store(&store_dir, &workload(1));
    let id = store.store_id();
    let disk = Disk::default();
    wfstore::audit::append(&disk, &store_dir, &record(Action::Backup, id, (1, 12), 3, 100)).unwrap();
    let mut bytes = std::fs::read(store_dir.join("AUDIT")).unwrap();
    let mut damaged = bytes.clone();
    damaged[40] ^= 1;
    bytes.extend_from_slice(&damaged);
    std::fs::write(store_dir.join("AUDIT"), &bytes).unwrap();
    wfstore::audit::append(&disk, &store_dir, &record(Action::Retention, id, (1, 4), 4, 50)).unwrap();
    let db = dir.path().join("audit.db");
    assert_eq!(export(&store, &db, false).audit_records, 2);
    let conn = open_ro_db(&db);
    let mut stmt =
        conn.prepare("SELECT store_record, action FROM audit_log WHERE store_record IS NOT NULL").unwrap();
    let rows: Vec<(i64, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    assert_eq!(rows, vec![(0, "backup".to_owned()), (2, "retention".to_owned())]);
    store.close().unwrap();
}
