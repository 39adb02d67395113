-- wfstore relational view, schema version 2: an audit log of exports, the views auditors
-- query, and when each session ended (backfilled from the events already exported).

-- One row per export run that added events, and per migration.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    action    TEXT NOT NULL CHECK (action IN ('export', 'migrate')),
    first_seq INTEGER,
    last_seq  INTEGER,
    rows      INTEGER NOT NULL DEFAULT 0,
    detail    TEXT
);

ALTER TABLE sessions ADD COLUMN ended_ts_ns INTEGER;

-- The last `session.end` by seq, as the exporter records it.
UPDATE sessions SET ended_ts_ns = (
    SELECT e.ts_ns FROM events AS e
    WHERE e.session_id = sessions.session_id AND e.type = 'session.end'
    ORDER BY e.seq DESC LIMIT 1
);

-- Exact decimal text of micro-units, without a float: '-1.500000' for -1500000.
-- (Spelled out in each view: SQLite has no user-defined SQL functions in plain SQL.)

-- Energy per model, over every session.
CREATE VIEW energy_by_model AS
SELECT
    c.model,
    count(DISTINCT e.session_id) AS sessions,
    sum(c.tokens)                AS tokens,
    sum(c.delta_micros)          AS energy_micros,
    CASE WHEN sum(c.delta_micros) < 0 THEN '-' ELSE '' END
        || (abs(sum(c.delta_micros)) / 1000000) || '.'
        || printf('%06d', abs(sum(c.delta_micros)) % 1000000) AS energy
FROM energy_contributions AS c
JOIN events AS e ON e.seq = c.seq
WHERE c.kind = 'model'
GROUP BY c.model;

-- Energy per session and model (what the energy state calls `by_model`).
CREATE VIEW energy_by_session_model AS
SELECT e.session_id, c.model, sum(c.tokens) AS tokens, sum(c.delta_micros) AS energy_micros
FROM energy_contributions AS c
JOIN events AS e ON e.seq = c.seq
WHERE c.kind = 'model'
GROUP BY e.session_id, c.model;

-- One row per session: what it was, how long, and where its energy came from.
CREATE VIEW session_summary AS
SELECT
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
LEFT JOIN events AS e ON e.session_id = s.session_id
LEFT JOIN energy_contributions AS c ON c.seq = e.seq
GROUP BY s.session_id;

CREATE INDEX sessions_by_end ON sessions (ended_ts_ns DESC);
