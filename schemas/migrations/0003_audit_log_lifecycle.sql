-- wfstore relational view, schema version 3: `audit_log` also holds the store's lifecycle
-- operations — purge, backup, restore, retention — one row per record of the store's
-- `AUDIT` file (formats/audit.md), imported by `export sqlite`.
--
-- Follows schemas/migrations/TEMPLATE.sql. Declared in src/export/sqlite/migrate.rs:
--   keeps rows:    every table (audit_log is rebuilt and its rows copied, ids included)
--   changes rows:  none
-- SQLite cannot change a CHECK constraint in place, so `audit_log` is rebuilt the way
-- https://sqlite.org/lang_altertable.html#otheralter describes: create the new table,
-- copy, drop the old one, rename. No view, trigger or foreign key refers to it.

CREATE TABLE audit_log_v3 (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    action       TEXT NOT NULL
                 CHECK (action IN ('export', 'migrate', 'purge', 'backup', 'restore', 'retention')),
    first_seq    INTEGER,
    last_seq     INTEGER,
    rows         INTEGER NOT NULL DEFAULT 0,
    detail       TEXT,
    -- The store's AUDIT record this row is (lifecycle actions only): its index in the file,
    -- from 0, and its CRC-32. Together they key the import: a record is imported once.
    store_record INTEGER CHECK (store_record >= 0),
    store_crc    INTEGER CHECK (store_crc BETWEEN 0 AND 4294967295),
    at_ns        INTEGER,
    events       INTEGER CHECK (events >= 0),
    bytes        INTEGER CHECK (bytes >= 0),
    -- A purge's subject: never the id, only its salted SHA-256 (lowercase hex), as in AUDIT.
    subject_kind TEXT CHECK (subject_kind IN ('user', 'session')),
    subject_salt TEXT CHECK (length(subject_salt) = 32 AND NOT subject_salt GLOB '*[^0-9a-f]*'),
    subject_hash TEXT CHECK (length(subject_hash) = 64 AND NOT subject_hash GLOB '*[^0-9a-f]*'),
    CHECK ((action IN ('export', 'migrate')) = (store_record IS NULL)),
    CHECK ((store_record IS NULL) = (store_crc IS NULL)),
    CHECK ((subject_kind IS NULL) = (subject_hash IS NULL) AND (subject_kind IS NULL) = (subject_salt IS NULL))
);

INSERT INTO audit_log_v3 (id, at, action, first_seq, last_seq, rows, detail)
SELECT id, at, action, first_seq, last_seq, rows, detail FROM audit_log ORDER BY id;

-- AUTOINCREMENT never reuses an id: carry the old table's high-water mark over.
DELETE FROM sqlite_sequence WHERE name = 'audit_log_v3';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'audit_log_v3', seq FROM sqlite_sequence WHERE name = 'audit_log';

DROP TABLE audit_log;
ALTER TABLE audit_log_v3 RENAME TO audit_log;

-- The import's key. NULLs are distinct, so export and migrate rows never conflict.
CREATE UNIQUE INDEX audit_log_by_store_record ON audit_log (store_record, store_crc);
