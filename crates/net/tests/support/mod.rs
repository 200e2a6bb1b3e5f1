//! A test network on loopback: a CA, certificate files in a temporary directory, and a
//! server started with `net::serve` on 127.0.0.1 port 0.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::routing::get;
use net::{Peer, TlsFiles};
use pki::{Ca, ClientAuth, Identity, ReloadableServerConfig, Role, Serial, Validity};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How often the watchers poll in tests.
pub const POLL: Duration = Duration::from_millis(100);

pub struct Pki {
    pub ca: Ca,
    pub dir: tempfile::TempDir,
    pub ca_path: PathBuf,
}

impl Pki {
    pub fn new() -> Self {
        Pki::named("juki test CA")
    }

    pub fn named(name: &str) -> Self {
        let (ca, cert_pem, _) = Ca::init(name).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_path = dir.path().join("ca.crt");
        std::fs::write(&ca_path, cert_pem).unwrap();
        Pki { ca, dir, ca_path }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Issues a certificate for `identity` (with loopback hosts) and writes `<name>.crt` and
    /// `<name>.key`; returns the files (no CRL) and the serial.
    pub fn issue(&self, name: &str, identity: &Identity, validity: Validity) -> (TlsFiles, Serial) {
        let (cert, key) = self.ca.issue(identity, &["127.0.0.1", "localhost"], validity).unwrap();
        let files = TlsFiles {
            cert: self.path(&format!("{name}.crt")),
            key: self.path(&format!("{name}.key")),
            ca: self.ca_path.clone(),
            crl: None,
        };
        replace(&files.cert, cert.as_bytes());
        replace(&files.key, key.as_bytes());
        (files, Serial::of_pem(&cert).unwrap())
    }

    /// Writes a CRL revoking `revoked`, valid for an hour, to `crl.pem`.
    pub fn write_crl(&self, revoked: &[Serial]) -> PathBuf {
        let path = self.path("crl.pem");
        let crl = self.ca.crl(revoked, SystemTime::now() + Duration::from_secs(3600)).unwrap();
        replace(&path, crl.as_bytes());
        path
    }
}

/// Replaces a file the way operators are told to: a temporary file renamed over it.
pub fn replace(path: &Path, bytes: &[u8]) {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, bytes).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

pub fn municipal() -> Identity {
    Identity::municipal("204072").unwrap()
}

pub fn national() -> Identity {
    Identity::without_code(Role::National).unwrap()
}

/// A running server and what its handlers saw.
pub struct Server {
    pub addr: SocketAddr,
    pub config: Arc<ReloadableServerConfig>,
    /// How many times a handler ran.
    pub hits: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    pub task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Stops the server and waits for `serve` to return.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task).await.unwrap().unwrap().unwrap();
        }
    }
}

/// The routes every test server has: `/who` needs a verified peer and answers
/// `<identity uri> <serial>`, `/open` answers `peer <uri>` or `anonymous`, `/slow` answers after
/// 300 ms.
pub fn app(hits: Arc<AtomicUsize>) -> Router {
    let counted = |hits: Arc<AtomicUsize>| {
        move || {
            hits.fetch_add(1, Ordering::SeqCst);
        }
    };
    let who_hit = counted(hits.clone());
    let open_hit = counted(hits.clone());
    let slow_hit = counted(hits.clone());
    let echo_hit = counted(hits);
    Router::new()
        .route(
            "/who",
            get(move |peer: Peer| async move {
                who_hit();
                format!("{} {}", peer.identity.to_uri(), peer.serial)
            }),
        )
        .route(
            "/open",
            get(move |peer: Option<Peer>| async move {
                open_hit();
                match peer {
                    Some(peer) => format!("peer {}", peer.identity.to_uri()),
                    None => "anonymous".to_owned(),
                }
            }),
        )
        .route(
            "/slow",
            get(move || async move {
                slow_hit();
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
        .route(
            "/echo",
            axum::routing::post(move |body: axum::body::Bytes| async move {
                echo_hit();
                body
            }),
        )
}

/// Starts `net::serve` for `files` on 127.0.0.1 port 0.
pub async fn start(files: &TlsFiles, client_auth: ClientAuth) -> Server {
    let config = files.server_config(client_auth).unwrap();
    start_with(config).await
}

pub async fn start_with(config: Arc<ReloadableServerConfig>) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(net::serve(listener, app(hits.clone()), config.clone(), async {
        let _ = stopped.await;
    }));
    Server { addr, config, hits, stop: Some(stop), task: Some(task) }
}

/// Polls `check` every 20 ms until it returns `Some`, for at most 5 seconds.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
