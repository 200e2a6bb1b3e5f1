//! A transparency-log witness (c2sp.org/tlog-witness v1.0.0).
//!
//! The witness keeps, for each log it is configured to watch, the latest checkpoint it cosigned.
//! An `add-checkpoint` request is decided by the pure `tlog::witness::decide` against that state
//! inside one SQLite `BEGIN IMMEDIATE` transaction, and the new state is committed before the
//! cosignature is returned: two racing requests cannot both pass the check, and a cosigned
//! checkpoint is never forgotten by a restart.
//!
//! A checkpoint validly signed by the log with the size of the one cosigned but another root
//! is proof that the log forked: it is kept as evidence (once per checkpoint). Other refusals
//! are not, because anyone can replay a published checkpoint with a stale size or a junk proof,
//! and keeping those would let anyone fill the witness's disk.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tlog::Hash;
use tlog::note::{KeyKind, Signer, VerifierKey, Verifiers};
use tlog::witness::{AddCheckpoint, MAX_BODY_SIZE, Refusal, decide, response_body};

/// What went wrong setting up or running the witness.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The configuration is unusable.
    #[error("witness configuration: {0}")]
    Config(String),
    /// The state database failed.
    #[error("witness state database: {0}")]
    Database(#[from] rusqlite::Error),
}

/// One log the witness watches.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// The log's origin line.
    pub origin: String,
    /// The log's verifier keys (`name+id+base64`); a checkpoint needs a signature by one.
    pub vkeys: Vec<String>,
}

const SCHEMA: &str = "
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
";

/// A witness: its cosigning key, the logs it trusts, and its state.
pub struct Witness {
    signer: Signer,
    logs: HashMap<String, Verifiers>,
    db: Mutex<Connection>,
}

/// An HTTP answer: status, content type and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Witness {
    /// Opens (creating if needed) the state database at `state` for a witness signing with
    /// `signer` (a cosignature key) and trusting `logs`.
    pub fn open(signer: Signer, logs: &[LogConfig], state: &Path) -> Result<Witness, WitnessError> {
        if signer.kind() != KeyKind::Cosignature {
            return Err(WitnessError::Config(
                "the witness key must be a cosignature key (generate it with `juki key generate --witness`)"
                    .into(),
            ));
        }
        let mut trusted = HashMap::new();
        for log in logs {
            if log.vkeys.is_empty() {
                return Err(WitnessError::Config(format!("log {} has no vkeys", log.origin)));
            }
            let mut verifiers = Verifiers::new();
            for vkey in &log.vkeys {
                let key = VerifierKey::parse(vkey).map_err(|e| {
                    WitnessError::Config(format!("log {}: bad vkey {vkey:?}: {e}", log.origin))
                })?;
                if key.kind() != KeyKind::Ed25519 {
                    return Err(WitnessError::Config(format!(
                        "log {}: {vkey} is not an Ed25519 log key",
                        log.origin
                    )));
                }
                verifiers.push(key);
            }
            if trusted.insert(log.origin.clone(), verifiers).is_some() {
                return Err(WitnessError::Config(format!("log {} is listed twice", log.origin)));
            }
        }
        keyfile::private::prepare_file(state).map_err(|e| {
            WitnessError::Config(format!(
                "cannot create the state database {} readable by its owner alone: {e}",
                state.display()
            ))
        })?;
        let conn = Connection::open(state)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(WitnessError::Config(format!(
                "the state database refused WAL mode (it is in {mode} mode)"
            )));
        }
        conn.execute_batch("PRAGMA synchronous = FULL;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Witness { signer, logs: trusted, db: Mutex::new(conn) })
    }

    /// The witness's verifier key.
    pub fn vkey(&self) -> VerifierKey {
        self.signer.verifier()
    }

    /// The latest cosigned (size, root) for an origin.
    pub fn latest(&self, origin: &str) -> Result<Option<(u64, Hash)>, WitnessError> {
        let db = self.db.lock().unwrap_or_else(|e| e.into_inner());
        read_latest(&db, origin)
    }

    /// The number of evidence records kept for an origin.
    pub fn evidence_count(&self, origin: &str) -> Result<u64, WitnessError> {
        let db = self.db.lock().unwrap_or_else(|e| e.into_inner());
        let count: i64 =
            db.query_row("SELECT count(*) FROM evidence WHERE origin = ?1", [origin], |r| {
                r.get(0)
            })?;
        Ok(count as u64)
    }

    /// Answers an `add-checkpoint` request received at `now` (POSIX seconds).
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Answer {
        match self.try_add_checkpoint(body, now) {
            Ok(answer) => answer,
            Err(error) => Answer {
                status: 500,
                content_type: tlog::witness::TEXT_CONTENT_TYPE,
                body: format!("{error}\n").into_bytes(),
            },
        }
    }

    fn try_add_checkpoint(&self, body: &[u8], now: u64) -> Result<Answer, WitnessError> {
        let refused = |refusal: Refusal| Answer {
            status: refusal.status(),
            content_type: refusal.content_type(),
            body: refusal.body(),
        };
        let request = match AddCheckpoint::parse(body) {
            Ok(request) => request,
            Err(error) => return Ok(refused(Refusal::Malformed(error))),
        };
        let origin = match request.origin() {
            Ok(origin) => origin,
            Err(error) => return Ok(refused(Refusal::Malformed(error))),
        };
        let Some(trusted) = self.logs.get(&origin) else {
            return Ok(refused(Refusal::UnknownOrigin));
        };
        let mut db = self.db.lock().unwrap_or_else(|e| e.into_inner());
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let latest = read_latest(&tx, &origin)?;
        match decide(&request, trusted, latest) {
            Ok(accepted) => {
                let cosignature = accepted
                    .cosign(&self.signer, now.max(1))
                    .map_err(|e| WitnessError::Config(format!("cosigning failed: {e}")))?;
                tx.execute(
                    "INSERT INTO latest (origin, size, root, checkpoint, cosigned_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (origin) DO UPDATE SET size = ?2, root = ?3, checkpoint = ?4,
                     cosigned_at = ?5",
                    params![
                        origin,
                        accepted.checkpoint.size as i64,
                        accepted.checkpoint.root.0.as_slice(),
                        request.checkpoint,
                        now as i64
                    ],
                )?;
                tx.commit()?;
                Ok(Answer {
                    status: 200,
                    content_type: tlog::witness::TEXT_CONTENT_TYPE,
                    body: response_body(&[cosignature]),
                })
            }
            Err(refusal) => {
                if let Some((size, root)) = latest
                    && matches!(refusal.status(), 409 | 422)
                    && forks(&request.checkpoint, size, &root)
                {
                    tx.execute(
                        "INSERT OR IGNORE INTO evidence (origin, checkpoint, reason, received_at)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![
                            origin,
                            request.checkpoint,
                            format!("a second tree of size {size} with another root"),
                            now as i64
                        ],
                    )?;
                    tx.commit()?;
                }
                Ok(refused(refusal))
            }
        }
    }
}

/// Whether a checkpoint (whose log signature has verified) has the cosigned size but another
/// root: the log signed two different trees of one size.
fn forks(note: &[u8], size: u64, root: &Hash) -> bool {
    tlog::note::Note::parse(note)
        .ok()
        .and_then(|note| tlog::checkpoint::Checkpoint::parse(note.text()).ok())
        .is_some_and(|c| c.size == size && c.root != *root)
}

fn read_latest(conn: &Connection, origin: &str) -> Result<Option<(u64, Hash)>, WitnessError> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row("SELECT size, root FROM latest WHERE origin = ?1", [origin], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    row.map(|(size, root)| {
        let root = Hash::from_slice(&root).ok_or_else(|| {
            WitnessError::Config(format!("stored root for {origin} is not 32 bytes"))
        })?;
        Ok((size as u64, root))
    })
    .transpose()
}

/// The witness's HTTP API: `POST <prefix>/add-checkpoint`.
pub fn router(witness: Arc<Witness>, prefix: &str) -> Router {
    let routes = Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY_SIZE))
        .with_state(witness);
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() { routes } else { Router::new().nest(prefix, routes) }
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs());
    let answer = match tokio::task::spawn_blocking(move || witness.add_checkpoint(&body, now)).await
    {
        Ok(answer) => answer,
        Err(_) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "the witness failed\n").into_response();
        }
    };
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, answer.content_type)], answer.body).into_response()
}
