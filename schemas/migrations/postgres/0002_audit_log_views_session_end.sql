-- wfstore relational view in PostgreSQL, schema version 2 (../0002_...): an audit log of
-- exports, the views auditors query, and when each session ended.

-- One row per export run that added events, and per migration (whose `store_id` is NULL:
-- a migration is the database's, not a store's).
CREATE TABLE audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id  text REFERENCES export_state (store_id) ON DELETE CASCADE,
    at        timestamptz NOT NULL DEFAULT now(),
    action    text NOT NULL CHECK (action IN ('export', 'migrate')),
    first_seq bigint,
    last_seq  bigint,
    rows      bigint NOT NULL DEFAULT 0,
    detail    text
);

ALTER TABLE sessions ADD COLUMN ended_ts_ns bigint;

-- The last `session.end` by seq, as the exporter records it.
UPDATE sessions AS s SET ended_ts_ns = (
    SELECT e.ts_ns FROM events AS e
    WHERE e.store_id = s.store_id AND e.session_id = s.session_id AND e.type = 'session.end'
    ORDER BY e.seq DESC LIMIT 1
);

-- Exact decimal text of micro-units, without a float: '-1.500000' for -1500000.
CREATE FUNCTION wfstore_micros_text(micros numeric) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(micros / 1000000, 'FM999999999999999999990.000000')
$$;

-- Energy per model, over every session of a store.
CREATE VIEW energy_by_model AS
SELECT
    c.store_id,
    c.model,
    count(DISTINCT e.session_id) AS sessions,
    sum(c.tokens)                AS tokens,
    sum(c.delta_micros)          AS energy_micros,
    wfstore_micros_text(sum(c.delta_micros)) AS energy
FROM energy_contributions AS c
JOIN events AS e ON e.store_id = c.store_id AND e.seq = c.seq
WHERE c.kind = 'model'
GROUP BY c.store_id, c.model;

-- Energy per session and model (what the energy state calls `by_model`).
CREATE VIEW energy_by_session_model AS
SELECT e.store_id, e.session_id, c.model, sum(c.tokens) AS tokens, sum(c.delta_micros) AS energy_micros
FROM energy_contributions AS c
JOIN events AS e ON e.store_id = c.store_id AND e.seq = c.seq
WHERE c.kind = 'model'
GROUP BY e.store_id, e.session_id, c.model;

-- One row per session: what it was, how long, and where its energy came from.
CREATE VIEW session_summary AS
SELECT
    s.store_id,
    s.session_id,
    s.user_id,
    s.app_version,
    s.first_ts_ns,
    s.ended_ts_ns,
    s.last_ts_ns - s.first_ts_ns AS span_ns,
    s.end_reason,
    s.events,
    coalesce(sum(c.delta_micros), 0) AS energy_total_micros,
    coalesce(sum(CASE WHEN c.kind = 'model' THEN c.delta_micros END), 0) AS energy_models_micros,
    coalesce(sum(CASE WHEN c.kind = 'amplification' THEN c.delta_micros END), 0) AS amplification_micros,
    count(DISTINCT c.model) AS models_used
FROM sessions AS s
LEFT JOIN events AS e ON e.store_id = s.store_id AND e.session_id = s.session_id
LEFT JOIN energy_contributions AS c ON c.store_id = e.store_id AND c.seq = e.seq
GROUP BY s.store_id, s.session_id;

CREATE INDEX sessions_by_end ON sessions (store_id, ended_ts_ns DESC);
CREATE INDEX audit_log_by_store ON audit_log (store_id, id);
