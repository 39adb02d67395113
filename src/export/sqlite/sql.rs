//! The statements the exporter runs, in one place, next to the schema they write
//! (`schemas/migrations/`).

use std::sync::LazyLock;

pub const UPSERT_USER: &str = "\
INSERT INTO users (user_id, first_seq, last_seq) VALUES (?1, ?2, ?3)
ON CONFLICT (user_id) DO UPDATE SET last_seq = excluded.last_seq";

/// Later values win, as in the energy state: a batch is applied in seq order.
pub const UPSERT_SESSION: &str = "\
INSERT INTO sessions (session_id, user_id, first_seq, last_seq, first_ts_ns, last_ts_ns, events,
                      app_version, models, end_reason, ended_ts_ns)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
ON CONFLICT (session_id) DO UPDATE SET
    last_seq = excluded.last_seq,
    first_ts_ns = min(first_ts_ns, excluded.first_ts_ns),
    last_ts_ns = max(last_ts_ns, excluded.last_ts_ns),
    events = events + excluded.events,
    app_version = coalesce(excluded.app_version, app_version),
    models = coalesce(excluded.models, models),
    end_reason = coalesce(excluded.end_reason, end_reason),
    ended_ts_ns = coalesce(excluded.ended_ts_ns, ended_ts_ns)";

/// One-row inserts with anonymous parameters: `rows.rs` repeats the values list for
/// multi-row inserts, where each `?` takes the next parameter number.
pub const INSERT_EVENT: &str = "\
INSERT INTO events (seq, session_id, user_id, type, ts_ns, frame, body) VALUES (?, ?, ?, ?, ?, ?, ?)";

pub const INSERT_CONTRIBUTION: &str =
    "INSERT INTO energy_contributions (seq, kind, model, tokens, delta_micros) VALUES (?, ?, ?, ?, ?)";

/// Rows per multi-row `INSERT`: one statement step for many rows costs less than one each.
pub const ROWS_PER_INSERT: usize = 32;

/// `INSERT_EVENT` for `ROWS_PER_INSERT` rows.
pub static INSERT_EVENTS: LazyLock<String> = LazyLock::new(|| many_rows(INSERT_EVENT));

/// `INSERT_CONTRIBUTION` for `ROWS_PER_INSERT` rows.
pub static INSERT_CONTRIBUTIONS: LazyLock<String> = LazyLock::new(|| many_rows(INSERT_CONTRIBUTION));

/// A one-row insert with its values list repeated `ROWS_PER_INSERT` times.
fn many_rows(one: &str) -> String {
    let (head, values) = one.split_once("VALUES").unwrap_or((one, ""));
    format!("{head}VALUES {}", vec![values.trim(); ROWS_PER_INSERT].join(", "))
}

pub const INSERT_EXPORT_STATE: &str = "INSERT INTO export_state (id, store_id, last_seq) VALUES (1, ?1, 0)";

pub const SET_LAST_SEQ: &str = "UPDATE export_state SET last_seq = ?1";

pub const AUDIT_EXPORT: &str = "\
INSERT INTO audit_log (action, first_seq, last_seq, rows, detail) VALUES ('export', ?1, ?2, ?3, ?4)";

pub const AUDIT_EXPORT_UPDATE: &str = "UPDATE audit_log SET last_seq = ?1, rows = ?2 WHERE id = ?3";

pub const AUDIT_MIGRATE: &str = "INSERT INTO audit_log (action, detail) VALUES ('migrate', ?1)";

pub const INSERT_SNAPSHOT: &str = "INSERT INTO snapshots (seq, file, bytes) VALUES (?1, ?2, ?3)";

/// A lifecycle record of the store's `AUDIT`; `at` is its time as ISO 8601 UTC text.
/// A record already imported (same index and CRC) is left alone.
pub const AUDIT_IMPORT: &str = "\
INSERT INTO audit_log (at, action, first_seq, last_seq, store_record, store_crc, at_ns, events, bytes,
                       subject_kind, subject_salt, subject_hash)
VALUES (strftime('%Y-%m-%dT%H:%M:%S', ?1 / 1000000000, 'unixepoch') || printf('.%03dZ', (?1 / 1000000) % 1000),
        ?2, ?3, ?4, ?5, ?6, ?1, ?7, ?8, ?9, ?10, ?11)
ON CONFLICT (store_record, store_crc) DO NOTHING";

/// A session that lost some of its events to a purge, recomputed from those left, as the
/// exporter would have written it from them.
pub const RECOMPUTE_SESSION: &str = "\
UPDATE sessions SET
    user_id = (SELECT user_id FROM events WHERE session_id = ?1 ORDER BY seq LIMIT 1),
    first_seq = (SELECT min(seq) FROM events WHERE session_id = ?1),
    last_seq = (SELECT max(seq) FROM events WHERE session_id = ?1),
    first_ts_ns = (SELECT min(ts_ns) FROM events WHERE session_id = ?1),
    last_ts_ns = (SELECT max(ts_ns) FROM events WHERE session_id = ?1),
    events = (SELECT count(*) FROM events WHERE session_id = ?1),
    app_version = (SELECT json_extract(body, '$.app_version') FROM events
                   WHERE session_id = ?1 AND type = 'session.start' ORDER BY seq DESC LIMIT 1),
    models = (SELECT json_extract(body, '$.models') FROM events
              WHERE session_id = ?1 AND type = 'session.start' ORDER BY seq DESC LIMIT 1),
    end_reason = (SELECT json_extract(body, '$.reason') FROM events
                  WHERE session_id = ?1 AND type = 'session.end' ORDER BY seq DESC LIMIT 1),
    ended_ts_ns = (SELECT ts_ns FROM events
                   WHERE session_id = ?1 AND type = 'session.end' ORDER BY seq DESC LIMIT 1)
WHERE session_id = ?1";

/// A user that lost some of its events to a purge.
pub const RECOMPUTE_USER: &str = "\
UPDATE users SET
    first_seq = (SELECT min(seq) FROM events WHERE user_id = ?1),
    last_seq = (SELECT max(seq) FROM events WHERE user_id = ?1)
WHERE user_id = ?1";
