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
