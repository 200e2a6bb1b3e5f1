//! The log's side of c2sp.org/tlog-witness: submitting a checkpoint with a consistency proof
//! and reading the witness's answer.

use std::time::Duration;

use tlog::merkle::prove_consistency;
use tlog::note::{NoteSignature, VerifierKey, Verifiers};
use tlog::witness::{
    AddCheckpoint, MAX_RESPONSE_SIZE, SIZE_CONTENT_TYPE, parse_response, parse_size_body,
};
use tlog_store::Error;
use tlog_store::integrate::Integration;
use tlog_store::source::TileHashReader;
use tlog_store::tiledir::TileDir;

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

/// Why a witness did not cosign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCosigned {
    /// It could not be asked, or its answer could not be read: nothing is known of its view.
    Failed(String),
    /// It answered and refused: it holds another tree of the log, the proof does not lead to
    /// its view, or it does not cosign this log at all.
    Refused(String),
}

impl std::fmt::Display for NotCosigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotCosigned::Failed(reason) | NotCosigned::Refused(reason) => f.write_str(reason),
        }
    }
}

/// A witness at a submission prefix, called from async code (a node's runtime).
pub struct AsyncWitnessClient {
    url: String,
    client: reqwest::Client,
}

/// A witness at a submission prefix, called from blocking code: an [`AsyncWitnessClient`] on
/// a small runtime of its own (the command line, tests).
pub struct WitnessClient {
    inner: AsyncWitnessClient,
    runtime: tokio::runtime::Runtime,
}

impl WitnessClient {
    /// A client for the witness whose submission prefix is `prefix`.
    pub fn new(prefix: &str) -> Result<WitnessClient, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("starting the HTTP runtime: {e}")))?;
        Ok(WitnessClient { inner: AsyncWitnessClient::new(prefix)?, runtime })
    }

    /// Posts an `add-checkpoint` body.
    pub fn add_checkpoint(&self, body: Vec<u8>) -> Result<WitnessReply, Error> {
        self.runtime.block_on(self.inner.add_checkpoint(body))
    }

    /// Asks the witness to cosign `integration`'s checkpoint (see [`ask_witness`]).
    pub fn ask(
        &self,
        tiles: &TileDir,
        integration: &Integration,
        vkey: &VerifierKey,
    ) -> Result<NoteSignature, String> {
        self.runtime
            .block_on(ask_witness(tiles, integration, &self.inner, vkey))
            .map_err(|e| e.to_string())
    }
}

impl AsyncWitnessClient {
    /// A client for the witness whose submission prefix is `prefix`.
    pub fn new(prefix: &str) -> Result<AsyncWitnessClient, Error> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        let url = format!("{}/add-checkpoint", prefix.trim_end_matches('/'));
        Ok(AsyncWitnessClient { url, client })
    }

    /// Posts an `add-checkpoint` body.
    pub async fn add_checkpoint(&self, body: Vec<u8>) -> Result<WitnessReply, Error> {
        let fail = |reason: String| Error::Fetch { what: self.url.clone(), reason };
        {
            let mut response = self
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
            // Read chunk by chunk: without a Content-Length, reading the whole body first would
            // let a hostile witness make the log buffer an endless answer.
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
                if bytes.len() + chunk.len() > MAX_RESPONSE_SIZE {
                    return Err(fail("the witness's answer is too large".into()));
                }
                bytes.extend_from_slice(&chunk);
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
        }
    }
}

/// Submits `integration`'s checkpoint to one witness with the consistency proof from the size
/// it last cosigned, following its 409 answers to that size (at most three times), and returns
/// its verified cosignature.
pub async fn ask_witness(
    tiles: &TileDir,
    integration: &Integration,
    client: &AsyncWitnessClient,
    vkey: &VerifierKey,
) -> Result<NoteSignature, NotCosigned> {
    let failed = |e: &dyn std::fmt::Display| NotCosigned::Failed(e.to_string());
    let size = integration.size;
    let mut old = integration.old_size;
    for _ in 0..3 {
        if old > size {
            return Err(NotCosigned::Refused(format!(
                "it has cosigned size {old}, larger than this log's {size}: the log was rolled \
                 back or forked"
            )));
        }
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            prove_consistency(old, size, &TileHashReader::new(tiles, size))
                .map_err(|e| failed(&e))?
        };
        let body = AddCheckpoint { old, proof, checkpoint: integration.checkpoint.clone() };
        match client.add_checkpoint(body.to_bytes()).await.map_err(|e| failed(&e))? {
            WitnessReply::Cosigned(lines) => {
                let cosigned = tlog::note::append_signatures(&integration.checkpoint, &lines)
                    .map_err(|e| failed(&e))?;
                let opened =
                    tlog::note::open(&cosigned, &[vkey.clone()].into_iter().collect::<Verifiers>())
                        .map_err(|e| failed(&format!("its cosignature does not verify: {e}")))?;
                return opened
                    .verified()
                    .iter()
                    .find(|v| v.key == *vkey)
                    .map(|v| v.signature.clone())
                    .ok_or_else(|| failed(&"it answered without its cosignature"));
            }
            WitnessReply::Conflict(latest) if latest == old => {
                return Err(NotCosigned::Refused(format!(
                    "it has cosigned another tree of size {latest}: this checkpoint forks the log"
                )));
            }
            WitnessReply::Conflict(latest) => old = latest,
            WitnessReply::Refused { status, reason } => {
                return Err(NotCosigned::Refused(format!("it answered {status}: {reason}")));
            }
        }
    }
    Err(NotCosigned::Refused("it kept answering 409".to_owned()))
}

/// The witnesses a log asks, and how many of them must cosign before a checkpoint is
/// published.
pub struct WitnessSet {
    witnesses: Vec<(String, AsyncWitnessClient, VerifierKey)>,
    quorum: usize,
    /// Each witness's answer to the last request: `None` if it cosigned or could not be
    /// asked, its refusal otherwise.
    last: std::sync::Mutex<Vec<(String, Option<String>)>>,
}

impl WitnessSet {
    /// The witnesses at `(submission prefix, cosignature key)`, `quorum` of which must cosign.
    pub fn new(
        witnesses: impl IntoIterator<Item = (String, VerifierKey)>,
        quorum: usize,
    ) -> Result<WitnessSet, Error> {
        let witnesses = witnesses
            .into_iter()
            .map(|(url, vkey)| Ok((url.clone(), AsyncWitnessClient::new(&url)?, vkey)))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(WitnessSet { witnesses, quorum, last: Default::default() })
    }

    /// Each witness's answer to the last request: its URL and, if it refused, why (a witness
    /// that cosigned or could not be reached is `None`).
    pub fn last_answers(&self) -> Vec<(String, Option<String>)> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Asks every witness to cosign `integration`'s checkpoint and returns the checkpoint with
    /// the cosignatures appended, or an error when fewer than the quorum cosigned (the
    /// previous checkpoint then stands). A witness that does not cosign is reported on stderr,
    /// and its refusal kept for [`WitnessSet::last_answers`].
    pub async fn cosign(
        &self,
        tiles: &TileDir,
        integration: &Integration,
    ) -> Result<Vec<u8>, Error> {
        if self.witnesses.is_empty() {
            return Ok(integration.checkpoint.clone());
        }
        let asks = self.witnesses.iter().map(|(url, client, vkey)| async move {
            (url, ask_witness(tiles, integration, client, vkey).await)
        });
        let mut cosignatures = Vec::new();
        let mut last = Vec::new();
        for (url, answer) in futures_util::future::join_all(asks).await {
            match answer {
                Ok(signature) => {
                    cosignatures.push(signature);
                    last.push((url.clone(), None));
                }
                Err(reason) => {
                    eprintln!("warning: witness {url} did not cosign: {reason}");
                    let refused = match reason {
                        NotCosigned::Refused(reason) => Some(reason),
                        NotCosigned::Failed(_) => None,
                    };
                    last.push((url.clone(), refused));
                }
            }
        }
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = last;
        if cosignatures.len() < self.quorum {
            return Err(Error::Config(format!(
                "only {} of the {} witness cosignatures needed were obtained; the checkpoint for \
                 size {} was not published (the previous one stands)",
                cosignatures.len(),
                self.quorum,
                integration.size
            )));
        }
        tlog::note::append_signatures(&integration.checkpoint, &cosignatures)
            .map_err(|e| Error::Checkpoint(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::TcpListener;

    use super::*;

    /// A witness that answers 200 with an endless chunked body must not be read to the end.
    #[test]
    fn an_endless_answer_is_cut_off_at_the_limit() {
        const SENT_AT_MOST: usize = 256 << 20;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).unwrap();
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\
                        transfer-encoding: chunked\r\n\r\n";
            stream.write_all(head.as_bytes()).unwrap();
            let line = "\u{2014} w AAAAAAA=\n".repeat(4096);
            let chunk = format!("{:x}\r\n{line}\r\n", line.len());
            let mut sent = 0;
            while sent < SENT_AT_MOST {
                if stream.write_all(chunk.as_bytes()).is_err() {
                    return sent;
                }
                sent += line.len();
            }
            let _ = stream.write_all(b"0\r\n\r\n");
            sent
        });
        let client = WitnessClient::new(&format!("http://{addr}")).unwrap();
        let error = client.add_checkpoint(b"old 0\n\n".to_vec()).unwrap_err();
        assert!(error.to_string().contains("too large"), "{error}");
        drop(client);
        let sent = server.join().unwrap();
        assert!(sent < SENT_AT_MOST / 4, "the client read {sent} bytes of an endless answer");
    }
}
