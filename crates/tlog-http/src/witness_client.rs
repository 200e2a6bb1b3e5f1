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
        })
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
