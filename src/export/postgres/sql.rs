//! The statements the PostgreSQL exporter runs, next to the schema they write
//! (`schemas/migrations/postgres/`). Every one is scoped to one store (`$1`).

pub const UPSERT_USER: &str = "\
INSERT INTO users (store_id, user_id, first_seq, last_seq) VALUES ($1, $2, $3, $4)
ON CONFLICT (store_id, user_id) DO UPDATE SET last_seq = excluded.last_seq";

/// Later values win, as in the energy state: a batch is applied in seq order.
pub const UPSERT_SESSION: &str = "\
INSERT INTO sessions (store_id, session_id, user_id, first_seq, last_seq, first_ts_ns, last_ts_ns, events,
                      app_version, models, end_reason, ended_ts_ns)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (store_id, session_id) DO UPDATE SET
    last_seq = excluded.last_seq,
    first_ts_ns = least(sessions.first_ts_ns, excluded.first_ts_ns),
    last_ts_ns = greatest(sessions.last_ts_ns, excluded.last_ts_ns),
    events = sessions.events + excluded.events,
    app_version = coalesce(excluded.app_version, sessions.app_version),
    models = coalesce(excluded.models, sessions.models),
    end_reason = coalesce(excluded.end_reason, sessions.end_reason),
    ended_ts_ns = coalesce(excluded.ended_ts_ns, sessions.ended_ts_ns)";

pub const COPY_EVENTS: &str =
    "COPY events (store_id, seq, session_id, user_id, type, ts_ns, frame, body) FROM STDIN (FORMAT binary)";

pub const COPY_CONTRIBUTIONS: &str =
    "COPY energy_contributions (store_id, seq, kind, model, tokens, delta_micros) FROM STDIN (FORMAT binary)";

/// The bookmark, locked for the rest of the transaction that moves it.
pub const LOCK_BOOKMARK: &str = "SELECT last_seq FROM export_state WHERE store_id = $1 FOR UPDATE";

pub const NEW_BOOKMARK: &str =
    "INSERT INTO export_state (store_id, last_seq) VALUES ($1, 0) ON CONFLICT DO NOTHING";

pub const SET_BOOKMARK: &str = "UPDATE export_state SET last_seq = $2 WHERE store_id = $1";

pub const AUDIT_EXPORT: &str = "\
INSERT INTO audit_log (store_id, action, first_seq, last_seq, rows, detail)
VALUES ($1, 'export', $2, $3, $4, $5) RETURNING id";

pub const AUDIT_EXPORT_UPDATE: &str = "UPDATE audit_log SET last_seq = $2, rows = $3 WHERE id = $1";

/// A lifecycle record of the store's `AUDIT`; `at` is its time, from `at_ns`. A record
/// already imported (same store, index and CRC) is left alone.
pub const AUDIT_IMPORT: &str = "\
INSERT INTO audit_log (store_id, at, action, first_seq, last_seq, store_record, store_crc, at_ns, events, bytes,
                       subject_kind, subject_salt, subject_hash)
VALUES ($1, to_timestamp(($7::bigint / 1000000)::double precision / 1000), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (store_id, store_record, store_crc) DO NOTHING
RETURNING id";

/// The rows of a store, table by table, children first: `export_state` last.
pub const DROP_STORE: [&str; 7] = [
    "DELETE FROM energy_contributions WHERE store_id = $1",
    "DELETE FROM events WHERE store_id = $1",
    "DELETE FROM sessions WHERE store_id = $1",
    "DELETE FROM users WHERE store_id = $1",
    "DELETE FROM snapshots WHERE store_id = $1",
    "DELETE FROM audit_log WHERE store_id = $1",
    "DELETE FROM export_state WHERE store_id = $1",
];

/// A session that lost some of its events to a purge, recomputed from those left.
pub const RECOMPUTE_SESSION: &str = "\
UPDATE sessions SET
    user_id = (SELECT user_id FROM events WHERE store_id = $1 AND session_id = $2 ORDER BY seq LIMIT 1),
    first_seq = (SELECT min(seq) FROM events WHERE store_id = $1 AND session_id = $2),
    last_seq = (SELECT max(seq) FROM events WHERE store_id = $1 AND session_id = $2),
    first_ts_ns = (SELECT min(ts_ns) FROM events WHERE store_id = $1 AND session_id = $2),
    last_ts_ns = (SELECT max(ts_ns) FROM events WHERE store_id = $1 AND session_id = $2),
    events = (SELECT count(*) FROM events WHERE store_id = $1 AND session_id = $2),
    app_version = (SELECT body ->> 'app_version' FROM events
                   WHERE store_id = $1 AND session_id = $2 AND type = 'session.start' ORDER BY seq DESC LIMIT 1),
    models = (SELECT body -> 'models' FROM events
              WHERE store_id = $1 AND session_id = $2 AND type = 'session.start' ORDER BY seq DESC LIMIT 1),
    end_reason = (SELECT body ->> 'reason' FROM events
                  WHERE store_id = $1 AND session_id = $2 AND type = 'session.end' ORDER BY seq DESC LIMIT 1),
    ended_ts_ns = (SELECT ts_ns FROM events
                   WHERE store_id = $1 AND session_id = $2 AND type = 'session.end' ORDER BY seq DESC LIMIT 1)
WHERE store_id = $1 AND session_id = $2";

/// A user that lost some of its events to a purge.
pub const RECOMPUTE_USER: &str = "\
UPDATE users SET
    first_seq = (SELECT min(seq) FROM events WHERE store_id = $1 AND user_id = $2),
    last_seq = (SELECT max(seq) FROM events WHERE store_id = $1 AND user_id = $2)
WHERE store_id = $1 AND user_id = $2";
