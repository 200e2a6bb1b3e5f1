-- The witness's state: the latest checkpoint it cosigned per log, and the evidence of forks it
-- kept. IF NOT EXISTS: databases made before migrations were versioned already hold these.
CREATE TABLE IF NOT EXISTS latest (
    origin TEXT PRIMARY KEY NOT NULL,
    size INTEGER NOT NULL CHECK (size >= 0),
    root BLOB NOT NULL CHECK (length(root) = 32),
    checkpoint BLOB NOT NULL,
    cosigned_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    checkpoint BLOB NOT NULL,
    reason TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (origin, checkpoint)
) STRICT;
