//! The TLS accept loop of every node listener, and the [`Peer`] each request carries.
//!
//! [`serve`] takes [`ReloadableServerConfig::current`] for **each** accepted connection, so a
//! new certificate or CRL (see [`watch`](crate::watch())) applies to the next handshake without a
//! restart, while connections already open keep the configuration they were accepted with —
//! for at most [`MAX_CONNECTION_AGE`], after which they are closed gracefully and the client
//! reconnects under the current certificate and CRL.
//!
//! ## What a request carries
//!
//! After the handshake, when the client presented a certificate (a
//! [`ClientAuth::Required`](pki::ClientAuth::Required) configuration makes that mandatory, and
//! rustls has verified its chain, validity and CRL), the connection's identity is read with
//! [`pki::peer_identity`] from the verified leaf; if that fails the connection is closed
//! without serving anything. Every request on the connection then carries a [`Peer`] in its
//! extensions. A connection without a client certificate (only possible on a
//! [`ClientAuth::None`](pki::ClientAuth::None) listener) carries an [`Anonymous`] marker
//! instead, never a `Peer`. The two are distinct types rather than one `Option<Peer>`, so that
//! a handler can only ever obtain a `Peer` that a verified certificate established: `Peer` as
//! an extractor answers 401 when there is none, and `Option<Peer>` lets a handler serve both.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use pki::{Identity, ReloadableServerConfig, Serial};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt as _;

/// How long a client has to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long requests under way may still run once shutdown has begun.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long one connection is served before it is closed gracefully (the request under way
/// finishes), so that a revoked or replaced certificate stops being trusted on long-lived
/// keep-alive connections too.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(300);
/// How long a client has to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The verified client of a mutual-TLS connection, in every request's extensions and available
/// as an axum extractor (401 when the connection has no verified client certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Who the verified certificate names.
    pub identity: Identity,
    /// The certificate's serial number (shown as hex).
    pub serial: Serial,
    /// The remote address of the connection.
    pub remote: SocketAddr,
}

/// The marker in every request's extensions on a connection without a client certificate
/// (server-TLS-only listeners). Extract it with `axum::Extension<Anonymous>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anonymous {
    /// The remote address of the connection.
    pub remote: SocketAddr,
}

/// The rejection of the [`Peer`] extractor: 401 with a text explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoPeer;

/// The body of the 401 answer of the [`Peer`] extractor.
pub const NO_PEER_MESSAGE: &str = "this endpoint needs a verified client certificate: connect \
    with mutual TLS, presenting a certificate issued by the juki network's CA, to a node \
    listener that requires one";

/// The answer without a peer: the JSON error body of code `no-peer` (see `docs/ERRORS.md`).
pub fn no_peer_body() -> String {
    format!(
        "{{\"code\":\"no-peer\",\"message\":\"{NO_PEER_MESSAGE}\",\"hint\":\"Connect with a \
         certificate issued by the network's CA (`juki pki issue`).\"}}"
    )
}

impl IntoResponse for NoPeer {
    fn into_response(self) -> Response {
        (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "application/json")], no_peer_body())
            .into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = NoPeer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Peer>().cloned().ok_or(NoPeer)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Infallible> {
        Ok(parts.extensions.get::<Peer>().cloned())
    }
}

/// Serves `app` over TLS 1.3 on `listener` until `shutdown` completes; see the module
/// documentation. Each accepted connection is handshaken with `tls.current()` within
/// [`HANDSHAKE_TIMEOUT`]. On shutdown the listener is closed at once, idle connections are
/// closed, and requests under way get [`SHUTDOWN_GRACE`] to finish before their connections are
/// dropped. A failed accept (for instance, too many open files) does not stop the server.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Arc<ReloadableServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_watched(listener, app, tls, shutdown, None).await
}

/// Why a client's TLS handshake was refused, as far as the listener may tell its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeRefusal {
    /// The client presented no certificate where one is required.
    NoCertificate,
    /// The client's certificate was not issued by the network's CA (or its signature does
    /// not verify).
    UnknownIssuer,
    /// The client's certificate is revoked.
    Revoked,
    /// The client's certificate is expired or not yet valid.
    Expired,
    /// Its certificate is unacceptable for another reason.
    BadCertificate,
}

impl HandshakeRefusal {
    /// What it is, in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            HandshakeRefusal::NoCertificate => "no client certificate",
            HandshakeRefusal::UnknownIssuer => "a certificate another CA issued",
            HandshakeRefusal::Revoked => "a revoked certificate",
            HandshakeRefusal::Expired => "an expired certificate",
            HandshakeRefusal::BadCertificate => "an unacceptable certificate",
        }
    }

    /// The refusal rustls's handshake error `error` stands for, if it is about the client's
    /// certificate (a client that merely hung up or spoke no TLS is none).
    fn of(error: &io::Error) -> Option<HandshakeRefusal> {
        use rustls::{CertificateError, Error};
        match error.get_ref()?.downcast_ref::<Error>()? {
            Error::NoCertificatesPresented => Some(HandshakeRefusal::NoCertificate),
            Error::InvalidCertificate(problem) => Some(match problem {
                CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                    HandshakeRefusal::UnknownIssuer
                }
                CertificateError::Revoked => HandshakeRefusal::Revoked,
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => HandshakeRefusal::Expired,
                _ => HandshakeRefusal::BadCertificate,
            }),
            _ => None,
        }
    }
}

/// Told of every handshake the listener refused for the client's certificate: the client's
/// address and why. It must return quickly (it runs on the connection's task).
pub type RefusalHook = Arc<dyn Fn(SocketAddr, HandshakeRefusal) + Send + Sync>;

/// [`serve`], telling `refused` of every handshake refused for the client's certificate.
pub async fn serve_watched(
    listener: TcpListener,
    app: Router,
    tls: Arc<ReloadableServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    refused: Option<RefusalHook>,
) -> io::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Reap finished connections so that the set only holds live ones.
        while connections.try_join_next().is_some() {}
        connections.spawn(connection(
            stream,
            remote,
            tls.current(),
            app.clone(),
            stopped.clone(),
            refused.clone(),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.shutdown().await;
    Ok(())
}

/// What the connection's verified certificate established.
#[derive(Clone)]
enum Who {
    Peer(Peer),
    Anonymous(Anonymous),
}

async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    config: Arc<rustls::ServerConfig>,
    app: Router,
    mut stopped: watch::Receiver<bool>,
    refused: Option<RefusalHook>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let tls = tokio::select! {
        handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => {
            match handshake {
                Ok(Ok(tls)) => tls,
                // Refused (rustls has sent the alert): the node hears why, if it was the
                // client's certificate.
                Ok(Err(error)) => {
                    if let (Some(hook), Some(why)) = (&refused, HandshakeRefusal::of(&error)) {
                        hook(remote, why);
                    }
                    return;
                }
                // Too slow.
                Err(_) => return,
            }
        }
        _ = stopped.wait_for(|stopped| *stopped) => return,
    };
    let who = match tls.get_ref().1.peer_certificates() {
        Some([leaf, ..]) => match (pki::peer_identity(leaf), Serial::of(leaf)) {
            (Ok(identity), Ok(serial)) => Who::Peer(Peer { identity, serial, remote }),
            (Err(error), _) => {
                eprintln!(
                    "net: closed the connection from {remote}: its verified certificate names no \
                     usable identity: {error}"
                );
                return;
            }
            (_, Err(error)) => {
                eprintln!(
                    "net: closed the connection from {remote}: its verified certificate has no \
                     readable serial number: {error}"
                );
                return;
            }
        },
        _ => Who::Anonymous(Anonymous { remote }),
    };
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        match &who {
            Who::Peer(peer) => {
                request.extensions_mut().insert(peer.clone());
            }
            Who::Anonymous(anonymous) => {
                request.extensions_mut().insert(*anonymous);
            }
        }
        app.clone().oneshot(request)
    });
    let mut conn = pin!(
        hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(tls), service)
    );
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stopped.wait_for(|stopped| *stopped) => {}
        () = tokio::time::sleep(MAX_CONNECTION_AGE) => {}
    }
    // Finish the request under way (if any), then close; `serve` bounds how long this may take
    // during shutdown.
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}
