-- A log's entries, the source of truth its tiles and checkpoints are derived from: dense from
-- index 0, never updated or deleted.
CREATE TABLE log_entries (
    idx BIGINT PRIMARY KEY CHECK (idx >= 0),
    entry BYTEA NOT NULL CHECK (octet_length(entry) <= 65535)
);
