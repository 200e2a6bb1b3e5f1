//! A log served over HTTP(S) as a [`TileSource`]: what `juki log verify <URL>` and witnesses
//! read through.
//!
//! Tiles are fetched concurrently over keep-alive connections; every response is size-limited
//! before it is read, so a hostile server cannot exhaust memory; transient failures are retried
//! a few times with back-off.

use std::time::Duration;

use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
use tlog::tile::{MAX_ENTRY_SIZE, TILE_WIDTH, TileId, TileKind};
use tlog_store::Error;
use tlog_store::source::TileSource;

/// Requests in flight at once.
const CONCURRENCY: usize = 32;
/// Attempts per request for transient failures.
const ATTEMPTS: u32 = 4;
/// The largest checkpoint accepted.
const MAX_CHECKPOINT: usize = 1 << 20;

/// A log's read API at a URL prefix.
pub struct HttpSource {
    prefix: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl HttpSource {
    /// A source for the log at `prefix` (e.g. `https://log.example/juki`). `ca_pem` adds a
    /// trusted root certificate, for logs whose TLS certificate comes from a private CA.
    pub fn new(prefix: &str, ca_pem: Option<&[u8]>) -> Result<HttpSource, Error> {
        let config = |reason: String| Error::Config(reason);
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("juki/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(CONCURRENCY);
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| config(format!("the CA certificate file is not PEM: {e}")))?;
            if certs.is_empty() {
                return Err(config("the CA certificate file holds no PEM certificate".into()));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| config(format!("HTTP client: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| config(format!("starting the HTTP runtime: {e}")))?;
        Ok(HttpSource { prefix: prefix.trim_end_matches('/').to_owned(), client, runtime })
    }

    /// Fetches one path below the prefix, refusing bodies over `limit` bytes.
    pub fn get(&self, path: &str, limit: usize) -> Result<Vec<u8>, Error> {
        self.runtime.block_on(fetch(&self.client, &self.prefix, path, limit))
    }
}

fn limit_for(tile: TileId) -> usize {
    match tile.kind {
        TileKind::Hashes { .. } => tile.hash_tile_len(),
        TileKind::Entries => usize::from(tile.width) * (2 + MAX_ENTRY_SIZE),
    }
}

async fn fetch(
    client: &reqwest::Client,
    prefix: &str,
    path: &str,
    limit: usize,
) -> Result<Vec<u8>, Error> {
    let url = format!("{prefix}/{path}");
    let fail = |reason: String| Error::Fetch { what: url.clone(), reason };
    let mut delay = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        let outcome = fetch_once(client, &url, limit).await;
        match outcome {
            Ok(bytes) => return Ok(bytes),
            Err((reason, retryable)) if retryable && attempt < ATTEMPTS => {
                let _ = reason;
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err((reason, _)) => return Err(fail(reason)),
        }
    }
}

async fn fetch_once(
    client: &reqwest::Client,
    url: &str,
    limit: usize,
) -> Result<Vec<u8>, (String, bool)> {
    let mut response = client.get(url).send().await.map_err(|e| (e.to_string(), true))?;
    let status = response.status();
    if !status.is_success() {
        return Err((format!("the server answered {status}"), status.is_server_error()));
    }
    if response.content_length().is_some_and(|len| len > limit as u64) {
        return Err((format!("the response is larger than the {limit} bytes allowed"), false));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| (e.to_string(), true))? {
        if body.len() + chunk.len() > limit {
            return Err((format!("the response is larger than the {limit} bytes allowed"), false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl TileSource for HttpSource {
    fn checkpoint(&self) -> Result<Vec<u8>, Error> {
        self.get("checkpoint", MAX_CHECKPOINT)
    }

    fn tiles(&self, tiles: &[TileId]) -> Result<Vec<Vec<u8>>, Error> {
        debug_assert!(tiles.iter().all(|t| u64::from(t.width) <= TILE_WIDTH));
        self.runtime.block_on(
            stream::iter(tiles.iter().map(|tile| {
                let path = tile.path();
                let (client, prefix) = (&self.client, self.prefix.as_str());
                async move { fetch(client, prefix, &path, limit_for(*tile)).await }
            }))
            .buffered(CONCURRENCY)
            .try_collect(),
        )
    }
}
