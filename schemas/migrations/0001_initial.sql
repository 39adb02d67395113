-- wfstore relational view, schema version 1: the tables an audit starts from.
-- Applied by `wfstore export sqlite` inside one transaction; see schemas/audit.md.
-- Times written by SQLite are ISO 8601 UTC text; event times are integer nanoseconds
-- since the Unix epoch (`ts_ns`), exactly as in the log. Energies are integer micro-units
-- (`*_micros`): the log's fixed-point values, never a float.

CREATE TABLE schema_version (
    version     INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- One row: which store this database is an export of, and how far it goes.
CREATE TABLE export_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    store_id   TEXT NOT NULL,
    last_seq   INTEGER NOT NULL CHECK (last_seq >= 0),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE users (
    user_id    TEXT PRIMARY KEY,
    first_seq  INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL CHECK (last_seq >= first_seq),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE sessions (
    session_id  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    first_seq   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL CHECK (last_seq >= first_seq),
    first_ts_ns INTEGER NOT NULL,
    last_ts_ns  INTEGER NOT NULL,
    events      INTEGER NOT NULL CHECK (events > 0),
    app_version TEXT,
    models      TEXT CHECK (models IS NULL OR json_valid(models)),
    end_reason  TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- `user_id` is the event's own (normally its session's user); deleting a user deletes its
-- sessions and, through them, their events.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    type       TEXT NOT NULL,
    ts_ns      INTEGER NOT NULL,
    frame      INTEGER NOT NULL,
    body       TEXT NOT NULL
);

-- One row per event that moves energy: `energy.update` (kind 'model') and
-- `energy.amplification` (kind 'amplification'). Its session and time are its event's
-- (join on `seq`).
CREATE TABLE energy_contributions (
    seq          INTEGER PRIMARY KEY REFERENCES events (seq) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('model', 'amplification')),
    model        TEXT CHECK ((kind = 'model') = (model IS NOT NULL)),
    tokens       INTEGER,
    delta_micros INTEGER NOT NULL
);

-- The store's snapshot files at the time of the last export.
CREATE TABLE snapshots (
    seq   INTEGER PRIMARY KEY,
    file  TEXT NOT NULL,
    bytes INTEGER NOT NULL CHECK (bytes >= 0)
);

-- Recent sessions first.
CREATE INDEX sessions_by_start ON sessions (first_ts_ns DESC);
CREATE INDEX sessions_by_user ON sessions (user_id);
-- A session's events by time.
-- (It also serves the cascade from sessions.)
CREATE INDEX events_by_session_time ON events (session_id, ts_ns);
-- Energy by model.
CREATE INDEX contributions_by_model ON energy_contributions (model);

-- `updated_at` follows every change that does not set it itself.
CREATE TRIGGER users_touch AFTER UPDATE ON users
FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN
    UPDATE users SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE user_id = NEW.user_id;
END;

CREATE TRIGGER sessions_touch AFTER UPDATE ON sessions
FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN
    UPDATE sessions SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE session_id = NEW.session_id;
END;

CREATE TRIGGER export_state_touch AFTER UPDATE ON export_state
FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN
    UPDATE export_state SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
