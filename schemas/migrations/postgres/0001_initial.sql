-- wfstore relational view in PostgreSQL, schema version 1: the tables of
-- ../0001_initial.sql, for many stores in one database. Applied by
-- `wfstore export postgres` inside one transaction; see schemas/audit.md.
--
-- Every row carries its store's id (16 lowercase hex digits, as `wfstore stats` shows it),
-- and every key starts with it: two stores never share a row, and a store's rows are
-- dropped by its id. Types follow the mapping in schemas/audit.md: SQLite INTEGER is
-- bigint, ISO 8601 text written by the database is timestamptz, JSON text is jsonb.
-- Event times stay integer nanoseconds since the Unix epoch (`ts_ns`), energies integer
-- micro-units (`*_micros`), exactly as in the log.

CREATE TABLE schema_version (
    version     integer PRIMARY KEY,
    description text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per store: how far its export goes. Moved in the same transaction as the rows
-- it covers.
CREATE TABLE export_state (
    store_id   text PRIMARY KEY CHECK (store_id ~ '^[0-9a-f]{16}$'),
    last_seq   bigint NOT NULL CHECK (last_seq >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    store_id   text NOT NULL REFERENCES export_state (store_id) ON DELETE CASCADE,
    user_id    text NOT NULL,
    first_seq  bigint NOT NULL,
    last_seq   bigint NOT NULL CHECK (last_seq >= first_seq),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, user_id)
);

CREATE TABLE sessions (
    store_id    text NOT NULL,
    session_id  text NOT NULL,
    user_id     text NOT NULL,
    first_seq   bigint NOT NULL,
    last_seq    bigint NOT NULL CHECK (last_seq >= first_seq),
    first_ts_ns bigint NOT NULL,
    last_ts_ns  bigint NOT NULL,
    events      bigint NOT NULL CHECK (events > 0),
    app_version text,
    models      jsonb,
    end_reason  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, session_id),
    FOREIGN KEY (store_id, user_id) REFERENCES users (store_id, user_id) ON DELETE CASCADE
);

-- `user_id` is the event's own (normally its session's user); deleting a user deletes its
-- sessions and, through them, their events.
CREATE TABLE events (
    store_id   text NOT NULL,
    seq        bigint NOT NULL,
    session_id text NOT NULL,
    user_id    text NOT NULL,
    type       text NOT NULL,
    ts_ns      bigint NOT NULL,
    frame      bigint NOT NULL,
    body       jsonb NOT NULL,
    PRIMARY KEY (store_id, seq),
    FOREIGN KEY (store_id, session_id) REFERENCES sessions (store_id, session_id) ON DELETE CASCADE
);

-- One row per event that moves energy: `energy.update` (kind 'model') and
-- `energy.amplification` (kind 'amplification'). Its session and time are its event's
-- (join on `store_id, seq`).
CREATE TABLE energy_contributions (
    store_id     text NOT NULL,
    seq          bigint NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('model', 'amplification')),
    model        text CHECK ((kind = 'model') = (model IS NOT NULL)),
    tokens       bigint,
    delta_micros bigint NOT NULL,
    PRIMARY KEY (store_id, seq),
    FOREIGN KEY (store_id, seq) REFERENCES events (store_id, seq) ON DELETE CASCADE
);

-- The store's snapshot files at the time of its last export.
CREATE TABLE snapshots (
    store_id text NOT NULL REFERENCES export_state (store_id) ON DELETE CASCADE,
    seq      bigint NOT NULL,
    file     text NOT NULL,
    bytes    bigint NOT NULL CHECK (bytes >= 0),
    PRIMARY KEY (store_id, seq)
);

-- Recent sessions first.
CREATE INDEX sessions_by_start ON sessions (store_id, first_ts_ns DESC);
CREATE INDEX sessions_by_user ON sessions (store_id, user_id);
-- A session's events by time. (It also serves the cascade from sessions.)
CREATE INDEX events_by_session_time ON events (store_id, session_id, ts_ns);
-- Energy by model.
CREATE INDEX contributions_by_model ON energy_contributions (model);

-- `updated_at` follows every change that does not set it itself.
CREATE FUNCTION wfstore_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at = OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION wfstore_touch();
CREATE TRIGGER sessions_touch BEFORE UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION wfstore_touch();
CREATE TRIGGER export_state_touch BEFORE UPDATE ON export_state
    FOR EACH ROW EXECUTE FUNCTION wfstore_touch();
