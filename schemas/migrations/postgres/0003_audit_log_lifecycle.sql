-- wfstore relational view in PostgreSQL, schema version 3 (../0003_...): `audit_log` also
-- holds the store's lifecycle operations — purge, backup, restore, retention — one row per
-- record of the store's `AUDIT` file (formats/audit.md), imported by `export postgres`.
-- PostgreSQL changes a CHECK constraint in place: no rebuild, ids kept as they are.

ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('export', 'migrate', 'purge', 'backup', 'restore', 'retention'));

ALTER TABLE audit_log
    -- The store's AUDIT record this row is (lifecycle actions only): its index in the file,
    -- from 0, and its CRC-32. With the store's id they key the import: imported once.
    ADD COLUMN store_record bigint CHECK (store_record >= 0),
    ADD COLUMN store_crc    bigint CHECK (store_crc BETWEEN 0 AND 4294967295),
    ADD COLUMN at_ns        bigint,
    ADD COLUMN events       bigint CHECK (events >= 0),
    ADD COLUMN bytes        bigint CHECK (bytes >= 0),
    -- A purge's subject: never the id, only its salted SHA-256 (lowercase hex), as in AUDIT.
    ADD COLUMN subject_kind text CHECK (subject_kind IN ('user', 'session')),
    ADD COLUMN subject_salt text CHECK (subject_salt ~ '^[0-9a-f]{32}$'),
    ADD COLUMN subject_hash text CHECK (subject_hash ~ '^[0-9a-f]{64}$'),
    ADD CHECK ((action IN ('export', 'migrate')) = (store_record IS NULL)),
    ADD CHECK ((store_record IS NULL) = (store_crc IS NULL)),
    ADD CHECK ((subject_kind IS NULL) = (subject_hash IS NULL) AND (subject_kind IS NULL) = (subject_salt IS NULL));

-- The import's key. NULLs are distinct, so export and migrate rows never conflict.
CREATE UNIQUE INDEX audit_log_by_store_record ON audit_log (store_id, store_record, store_crc);
