-- The witness's state: the latest checkpoint it cosigned per log (advanced only by a
-- compare-and-swap on size and root), and the evidence of forks it kept, once per checkpoint.
CREATE TABLE witness_latest (
    origin TEXT PRIMARY KEY,
    size BIGINT NOT NULL CHECK (size >= 0),
    root BYTEA NOT NULL CHECK (octet_length(root) = 32),
    checkpoint BYTEA NOT NULL,
    cosigned_at BIGINT NOT NULL
);
CREATE TABLE witness_evidence (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    origin TEXT NOT NULL,
    checkpoint BYTEA NOT NULL,
    reason TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
-- Once per checkpoint; by its digest, since a checkpoint may exceed a B-tree entry's size.
CREATE UNIQUE INDEX witness_evidence_once ON witness_evidence (origin, sha256(checkpoint));
