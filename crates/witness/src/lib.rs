//! A transparency-log witness (c2sp.org/tlog-witness v1.0.0).
//!
//! The witness keeps, for each log it is configured to watch, the latest checkpoint it cosigned.
//! An `add-checkpoint` request is decided by the pure `tlog::witness::decide` against that state,
//! and the new state is committed by a compare-and-swap from exactly the state decided on before
//! the cosignature is returned: of two racing requests one advances and the other decides again
//! against the state the first left, and a cosigned checkpoint is never forgotten by a restart.
//! The state lives behind the [`state::WitnessState`] trait, in SQLite (the default) or in
//! PostgreSQL.
//!
//! A checkpoint validly signed by the log with the size of the one cosigned but another root
//! is proof that the log forked: it is kept as evidence (once per checkpoint). Other refusals
//! are not, because anyone can replay a published checkpoint with a stale size or a junk proof,
//! and keeping those would let anyone fill the witness's disk.
#![forbid(unsafe_code)]

pub mod state;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use state::{Cosigned, WitnessState};
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
    /// The PostgreSQL state database failed.
    #[error("witness state database: {0}")]
    Postgres(#[from] postgres::Error),
    /// Connecting to or migrating the state database failed.
    #[error("witness state database: {0}")]
    Store(#[from] store::Error),
    /// A value does not fit the state (a size or time beyond 2^63 - 1).
    #[error("witness state: {0}")]
    OutOfRange(String),
    /// An advance to a smaller tree than the one cosigned was asked for.
    #[error("witness state: log {origin} cannot go back from size {from} to {to}")]
    Regression {
        /// The log.
        origin: String,
        /// The size cosigned.
        from: u64,
        /// The smaller size asked for.
        to: u64,
    },
    /// The state holds what it cannot (a damaged database).
    #[error("witness state is corrupt: {0}")]
    Corrupt(String),
}

/// Where the witness keeps its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storage {
    /// A SQLite file.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL database (its `postgres://` URL).
    Postgres(String),
}

impl Storage {
    /// Opens the state this names.
    pub fn open(&self) -> Result<Box<dyn WitnessState>, WitnessError> {
        Ok(match self {
            Storage::Sqlite(path) => Box::new(state::sqlite::SqliteState::open(path)?),
            Storage::Postgres(url) => Box::new(state::postgres::PostgresState::open(url)?),
        })
    }
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

/// A witness: its cosigning key, the logs it trusts, and its state.
pub struct Witness {
    signer: Signer,
    logs: HashMap<String, Verifiers>,
    state: Box<dyn WitnessState>,
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
    /// Opens (creating if needed) the SQLite state database at `state` for a witness signing
    /// with `signer` (a cosignature key) and trusting `logs`.
    pub fn open(signer: Signer, logs: &[LogConfig], state: &Path) -> Result<Witness, WitnessError> {
        Witness::open_in(signer, logs, &Storage::Sqlite(state.to_path_buf()))
    }

    /// As [`Witness::open`], with the state in `storage` (SQLite or PostgreSQL).
    pub fn open_in(
        signer: Signer,
        logs: &[LogConfig],
        storage: &Storage,
    ) -> Result<Witness, WitnessError> {
        let trusted = trusted_logs(&signer, logs)?;
        Ok(Witness { signer, logs: trusted, state: storage.open()? })
    }

    /// A witness with its state in `state` (any engine).
    pub fn with_state(
        signer: Signer,
        logs: &[LogConfig],
        state: Box<dyn WitnessState>,
    ) -> Result<Witness, WitnessError> {
        let trusted = trusted_logs(&signer, logs)?;
        Ok(Witness { signer, logs: trusted, state })
    }

    /// The witness's verifier key.
    pub fn vkey(&self) -> VerifierKey {
        self.signer.verifier()
    }

    /// The latest cosigned (size, root) for an origin.
    pub fn latest(&self, origin: &str) -> Result<Option<(u64, Hash)>, WitnessError> {
        self.state.latest(origin)
    }

    /// The number of evidence records kept for an origin.
    pub fn evidence_count(&self, origin: &str) -> Result<u64, WitnessError> {
        self.state.evidence_count(origin)
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
        // Decide against the state read, and advance only from exactly that state; if another
        // request advanced it meanwhile, decide again against what it left.
        loop {
            let latest = self.state.latest(&origin)?;
            match decide(&request, trusted, latest) {
                Ok(accepted) => {
                    let cosignature = accepted
                        .cosign(&self.signer, now.max(1))
                        .map_err(|e| WitnessError::Config(format!("cosigning failed: {e}")))?;
                    let next = Cosigned {
                        size: accepted.checkpoint.size,
                        root: accepted.checkpoint.root,
                        checkpoint: &request.checkpoint,
                        cosigned_at: now,
                    };
                    if !self.state.advance(&origin, latest, &next)? {
                        continue;
                    }
                    return Ok(Answer {
                        status: 200,
                        content_type: tlog::witness::TEXT_CONTENT_TYPE,
                        body: response_body(&[cosignature]),
                    });
                }
                Err(refusal) => {
                    if let Some((size, root)) = latest
                        && matches!(refusal.status(), 409 | 422)
                        && forks(&request.checkpoint, size, &root)
                    {
                        self.state.keep_evidence(
                            &origin,
                            &request.checkpoint,
                            &format!("a second tree of size {size} with another root"),
                            now,
                        )?;
                    }
                    return Ok(refused(refusal));
                }
            }
        }
    }
}

/// Checks the witness's key and parses the keys of the logs it trusts.
fn trusted_logs(
    signer: &Signer,
    logs: &[LogConfig],
) -> Result<HashMap<String, Verifiers>, WitnessError> {
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
    Ok(trusted)
}

/// Whether a checkpoint (whose log signature has verified) has the cosigned size but another
/// root: the log signed two different trees of one size.
fn forks(note: &[u8], size: u64, root: &Hash) -> bool {
    tlog::note::Note::parse(note)
        .ok()
        .and_then(|note| tlog::checkpoint::Checkpoint::parse(note.text()).ok())
        .is_some_and(|c| c.size == size && c.root != *root)
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
