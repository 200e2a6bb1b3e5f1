//! The log's side of c2sp.org/tlog-witness: submitting a checkpoint with a consistency proof
//! and reading the witness's answer.

use std::time::Duration;

use tlog::note::NoteSignature;
use tlog::witness::{MAX_RESPONSE_SIZE, SIZE_CONTENT_TYPE, parse_response, parse_size_body};
use tlog_store::Error;

/// What a witness answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WitnessReply {
    /// 200: its cosignature lines (not yet verified).
    Cosigned(Vec<NoteSignature>),
    /// 409: the size of the latest checkpoint it cosigned.
    Conflict(u64),
    /// Any other answer.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The witness's explanation.
        reason: String,
    },
}

/// A witness at a submission prefix.
pub struct WitnessClient {
    url: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl WitnessClient {
    /// A client for the witness whose submission prefix is `prefix`.
    pub fn new(prefix: &str) -> Result<WitnessClient, Error> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("starting the HTTP runtime: {e}")))?;
        let url = format!("{}/add-checkpoint", prefix.trim_end_matches('/'));
        Ok(WitnessClient { url, client, runtime })
    }

    /// Posts an `add-checkpoint` body.
    pub fn add_checkpoint(&self, body: Vec<u8>) -> Result<WitnessReply, Error> {
        let fail = |reason: String| Error::Fetch { what: self.url.clone(), reason };
        self.runtime.block_on(async {
            let response = self
                .client
                .post(&self.url)
                .body(body)
                .send()
                .await
                .map_err(|e| fail(e.to_string()))?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            if response.content_length().is_some_and(|n| n > MAX_RESPONSE_SIZE as u64) {
                return Err(fail("the witness's answer is too large".into()));
            }
            let bytes = response.bytes().await.map_err(|e| fail(e.to_string()))?;
            if bytes.len() > MAX_RESPONSE_SIZE {
                return Err(fail("the witness's answer is too large".into()));
            }
            match status {
                200 => parse_response(&bytes)
                    .map(WitnessReply::Cosigned)
                    .map_err(|e| fail(format!("malformed cosignature answer: {e}"))),
                409 if content_type.starts_with(SIZE_CONTENT_TYPE) => parse_size_body(&bytes)
                    .map(WitnessReply::Conflict)
                    .map_err(|e| fail(format!("malformed 409 answer: {e}"))),
                _ => Ok(WitnessReply::Refused {
                    status,
                    reason: String::from_utf8_lossy(&bytes).trim().chars().take(500).collect(),
                }),
            }
        })
    }
}
