//! The HTTPS client for node-to-node, clerk and agency calls.
//!
//! A [`Client`] trusts only the network's CA, speaks TLS 1.3, checks the server against the CA's
//! CRL (refusing every server while the CRL is past its `nextUpdate`), and presents the node's
//! client certificate ([`Client::new`]) or none ([`Client::anonymous`], for the public read
//! endpoints). It never uses a proxy and never follows redirects.
//!
//! ## Whom a request goes to
//!
//! Every call names the server it expects ([`Expect`]): any node of the network, a role, or one
//! identity (a municipal node sends its batches only to `urn:juki:prefecture:20`). The check is
//! made **during the handshake**, by a certificate verifier that first verifies exactly as
//! [`pki::tls::server_verifier`] does and then reads [`pki::peer_identity`] from the verified
//! leaf; a server that is not the expected one fails the handshake and receives nothing, not
//! even the request line. Each expectation has its own connection pool and TLS session cache,
//! so a connection (or resumed session) made under one expectation never carries a request made
//! under another. After the response the leaf that the connection verified (reqwest's
//! `TlsInfo`) is read again and checked once more, and returned in [`Response::server`].
//!
//! ## Reload
//!
//! [`Client::reload`] rereads the files and, when any changed, rebuilds the TLS configurations
//! (new CRL, certificate or CA); [`Client::watch`] does so every interval in the background.
//! Calls already under way finish with the configuration they started with.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use pki::{Identity, IdentityError, Role, Serial};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::task::JoinHandle;

use crate::files::{Contents, LoadError, Material, Paths, TlsFiles};
use crate::reload::Reports;

/// How long a TCP connection may take to be established.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an error answer is read (its beginning is shown in [`ClientError::Status`]).
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// How much of an error answer is shown.
const ERROR_EXCERPT: usize = 4096;

/// Which server a call may go to. The server's identity is read from its verified certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expect {
    /// Any node with a valid certificate from the network's CA.
    Any,
    /// Any node of this role.
    Role(Role),
    /// Exactly this node.
    Identity(Identity),
}

impl Expect {
    /// Whether a server named `identity` is acceptable.
    pub fn accepts(&self, identity: &Identity) -> bool {
        match self {
            Expect::Any => true,
            Expect::Role(role) => identity.role == *role,
            Expect::Identity(expected) => identity == expected,
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Any => f.write_str("any node of the network"),
            Expect::Role(role) => write!(f, "a {role} node"),
            Expect::Identity(identity) => f.write_str(&identity.to_uri()),
        }
    }
}

/// Limits of every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// The whole call, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// The largest successful answer body that is read; a larger one is an error.
    pub max_body: usize,
}

impl Default for ClientOptions {
    /// 30 seconds, 64 MiB.
    fn default() -> Self {
        ClientOptions { timeout: Duration::from_secs(30), max_body: 64 << 20 }
    }
}

/// The server of a connection, from its verified certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCert {
    /// Who the certificate names.
    pub identity: Identity,
    /// The certificate's serial number.
    pub serial: Serial,
}

/// A successful (2xx) answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, at most [`ClientOptions::max_body`] bytes.
    pub body: Vec<u8>,
    /// The server that answered.
    pub server: ServerCert,
}

/// Where a streamed answer's body goes, chunk by chunk ([`Client::post_streamed`]).
pub type BodySink<'a> = dyn FnMut(&[u8]) + Send + 'a;

/// Why a call failed. URLs are shown without their query string.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The identity the caller expects the server to have is not an identity URI.
    #[error("{identity:?} is not an identity URI to expect of a server: {reason}")]
    Expectation {
        /// The identity as given.
        identity: String,
        /// Why it is not one.
        reason: String,
    },
    /// The URL does not parse or is not `https://`.
    #[error("{url:?} cannot be called: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No TCP connection could be made.
    #[error("could not connect to {url}: {reason}; check that the node is running and the address")]
    Connect {
        /// The URL.
        url: String,
        /// The cause.
        reason: String,
    },
    /// The TLS handshake failed: the server refused our certificate, or we refused its.
    #[error("the TLS handshake with {url} failed: {reason}")]
    Tls {
        /// The URL.
        url: String,
        /// What was refused, by whom.
        reason: String,
    },
    /// The server's verified certificate names another node than the one expected. Nothing
    /// was sent to it.
    #[error(
        "{url} is served by {}, not by {expected}; nothing was sent to it (check the URL)",
        found.to_uri()
    )]
    WrongServer {
        /// The URL.
        url: String,
        /// Whom the caller expected.
        expected: Expect,
        /// Whom the server's certificate names.
        found: Identity,
    },
    /// The server's verified certificate names no usable identity. Nothing was sent to it.
    #[error("the certificate of {url} names no usable juki identity: {source}; nothing was sent")]
    ServerIdentity {
        /// The URL.
        url: String,
        /// Why the identity could not be read.
        source: IdentityError,
    },
    /// The call did not finish in time.
    #[error("{url} did not answer within {timeout:?}")]
    Timeout {
        /// The URL.
        url: String,
        /// The limit.
        timeout: Duration,
    },
    /// The server answered with a status other than 2xx.
    #[error("{url} answered {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
        /// The beginning of the answer's body, as text.
        body: String,
    },
    /// The answer is larger than [`ClientOptions::max_body`].
    #[error("the answer of {url} is larger than {limit} bytes and was not read")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// The call failed after connecting (for instance, the connection was closed).
    #[error("the call to {url} failed: {reason}")]
    Request {
        /// The URL.
        url: String,
        /// The cause.
        reason: String,
    },
    /// The TLS files could not be used to build a client.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// An HTTPS client for calls between juki nodes; see the module documentation. Cloning is
/// cheap and clones share connections and reloads.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    options: ClientOptions,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("files", &self.inner.paths)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

struct Inner {
    paths: Paths,
    state: RwLock<State>,
}

struct State {
    contents: Contents,
    material: Material,
    clients: HashMap<Expect, reqwest::Client>,
}

impl Client {
    /// A client presenting the certificate and key of `files`, trusting `files.ca`, checking
    /// servers against `files.crl`.
    pub fn new(files: &TlsFiles) -> Result<Client, LoadError> {
        Client::from_paths(Paths::from(files))
    }

    /// A client without a certificate, for the public read endpoints (server TLS only).
    pub fn anonymous(ca: impl Into<PathBuf>, crl: Option<PathBuf>) -> Result<Client, LoadError> {
        Client::from_paths(Paths { identity: None, ca: ca.into(), crl })
    }

    fn from_paths(paths: Paths) -> Result<Client, LoadError> {
        let state = State::load(&paths)?;
        Ok(Client {
            inner: Arc::new(Inner { paths, state: RwLock::new(state) }),
            options: ClientOptions::default(),
        })
    }

    /// The same client with other limits.
    pub fn with_options(mut self, options: ClientOptions) -> Client {
        self.options = options;
        self
    }

    /// Rereads the files and rebuilds the TLS configuration if any of them changed; returns
    /// whether it did. On error the configuration in force is kept.
    pub fn reload(&self) -> Result<bool, LoadError> {
        let contents = Contents::read(&self.inner.paths)?;
        if self.inner.read().contents == contents {
            return Ok(false);
        }
        let state = State::build(&self.inner.paths, contents)?;
        *self.inner.state.write().unwrap_or_else(|e| e.into_inner()) = state;
        Ok(true)
    }

    /// Calls [`Client::reload`] every `interval` in a background task, reporting a file that
    /// cannot be used once on standard error (file and reason only). The task ends when every
    /// clone of this client has been dropped. Must be called within a tokio runtime.
    pub fn watch(&self, interval: Duration) -> JoinHandle<()> {
        let inner: Weak<Inner> = Arc::downgrade(&self.inner);
        let options = self.options;
        tokio::spawn(async move {
            let mut ticks =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut reports = Reports::default();
            loop {
                ticks.tick().await;
                let Some(inner) = inner.upgrade() else { return };
                let client = Client { inner, options };
                let problems = match client.reload() {
                    Ok(_) => Vec::new(),
                    Err(error) => {
                        vec![format!("net: keeping the current client TLS configuration: {error}")]
                    }
                };
                reports.show(problems);
            }
        })
    }

    /// `GET url` from a server that `expect` accepts.
    pub async fn get(&self, url: &str, expect: &Expect) -> Result<Response, ClientError> {
        self.call(reqwest::Method::GET, url, None, expect).await
    }

    /// `POST url` with `body` of `content_type` to a server that `expect` accepts.
    pub async fn post(
        &self,
        url: &str,
        body: Vec<u8>,
        content_type: &str,
        expect: &Expect,
    ) -> Result<Response, ClientError> {
        self.call(reqwest::Method::POST, url, Some((body, content_type)), expect).await
    }

    /// `POST url` like [`Client::post`], handing a successful answer's body to `sink` chunk by
    /// chunk as it arrives (no size limit: the caller reads a stream), so a long answer such
    /// as a batch's JSON Lines shows progress. The returned response's body is empty then.
    pub async fn post_streamed(
        &self,
        url: &str,
        body: Vec<u8>,
        content_type: &str,
        expect: &Expect,
        sink: &mut BodySink<'_>,
    ) -> Result<Response, ClientError> {
        self.call_into(reqwest::Method::POST, url, Some((body, content_type)), expect, Some(sink))
            .await
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<(Vec<u8>, &str)>,
        expect: &Expect,
    ) -> Result<Response, ClientError> {
        self.call_into(method, url, body, expect, None).await
    }

    async fn call_into(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<(Vec<u8>, &str)>,
        expect: &Expect,
        mut sink: Option<&mut BodySink<'_>>,
    ) -> Result<Response, ClientError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| ClientError::Url { url: url.to_owned(), reason: e.to_string() })?;
        if parsed.scheme() != "https" {
            return Err(ClientError::Url {
                url: url.to_owned(),
                reason: "only https:// URLs are called: every juki endpoint is TLS".into(),
            });
        }
        let shown = format!("{}{}", parsed.origin().ascii_serialization(), parsed.path());
        let http = self.http_for(expect)?;
        let mut request = http.request(method, parsed).timeout(self.options.timeout);
        if let Some((body, content_type)) = body {
            request = request.header(CONTENT_TYPE, content_type).body(body);
        }
        let mut response = request.send().await.map_err(|e| self.classify(&shown, expect, &e))?;
        let server = server_cert(&response)
            .map_err(|source| ClientError::ServerIdentity { url: shown.clone(), source })?;
        if !expect.accepts(&server.identity) {
            // The verifier refuses such a server during the handshake; this cannot happen
            // unless that check was bypassed, and then the answer is not used either.
            return Err(ClientError::WrongServer {
                url: shown,
                expected: expect.clone(),
                found: server.identity,
            });
        }
        let status = response.status();
        let headers = response.headers().clone();
        let limit = if status.is_success() { self.options.max_body } else { ERROR_BODY_LIMIT };
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if status.is_success()
                        && let Some(sink) = sink.as_mut()
                    {
                        sink(&chunk);
                        continue;
                    }
                    if body.len() + chunk.len() > limit {
                        if !status.is_success() {
                            body.extend_from_slice(&chunk[..limit - body.len()]);
                            break;
                        }
                        return Err(ClientError::TooLarge { url: shown, limit });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => return Err(self.classify(&shown, expect, &error)),
            }
        }
        if !status.is_success() {
            return Err(ClientError::Status { url: shown, status, body: excerpt(&body) });
        }
        Ok(Response { status, headers, body, server })
    }

    /// The reqwest client (with its own pool) for calls under `expect`.
    fn http_for(&self, expect: &Expect) -> Result<reqwest::Client, LoadError> {
        if let Some(client) = self.inner.read().clients.get(expect) {
            return Ok(client.clone());
        }
        let mut state = self.inner.state.write().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = state.clients.get(expect) {
            return Ok(client.clone());
        }
        let client = http_client(&self.inner.paths, &state.material, expect)?;
        state.clients.insert(expect.clone(), client.clone());
        Ok(client)
    }

    fn classify(&self, url: &str, expect: &Expect, error: &reqwest::Error) -> ClientError {
        let url = url.to_owned();
        if let Some(tls) = rustls_error(error) {
            if let rustls::Error::InvalidCertificate(CertificateError::Other(other)) = tls {
                match other.0.downcast_ref::<Mismatch>() {
                    Some(Mismatch::Other(found)) => {
                        return ClientError::WrongServer {
                            url,
                            expected: expect.clone(),
                            found: found.clone(),
                        };
                    }
                    Some(Mismatch::NoIdentity(source)) => {
                        return ClientError::ServerIdentity { url, source: source.clone() };
                    }
                    None => {}
                }
            }
            return ClientError::Tls { url, reason: describe(tls) };
        }
        if error.is_timeout() {
            return ClientError::Timeout { url, timeout: self.options.timeout };
        }
        if error.is_connect() {
            return ClientError::Connect { url, reason: causes(error) };
        }
        ClientError::Request { url, reason: causes(error) }
    }
}

impl Inner {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // The state is only ever replaced whole, so a poisoned lock still holds a consistent one.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn load(paths: &Paths) -> Result<State, LoadError> {
        State::build(paths, Contents::read(paths)?)
    }

    /// Parses the files and builds the client for [`Expect::Any`] at once, so that an unusable
    /// key or CA is reported here rather than at the first call.
    fn build(paths: &Paths, contents: Contents) -> Result<State, LoadError> {
        let material = contents.parse(paths)?;
        let any = http_client(paths, &material, &Expect::Any)?;
        Ok(State { contents, material, clients: HashMap::from([(Expect::Any, any)]) })
    }
}

fn http_client(
    paths: &Paths,
    material: &Material,
    expect: &Expect,
) -> Result<reqwest::Client, LoadError> {
    let refused = |e| paths.refused(e);
    let config = match &material.identity {
        Some((chain, key)) => pki::client_config(
            chain.clone(),
            key.clone_key(),
            &material.roots,
            material.crls.clone(),
        ),
        None => pki::anonymous_client_config(&material.roots, material.crls.clone()),
    }
    .map_err(refused)?;
    let mut config = Arc::unwrap_or_clone(config);
    let inner =
        pki::tls::server_verifier(&material.roots, material.crls.clone()).map_err(refused)?;
    config
        .dangerous()
        .set_certificate_verifier(Arc::new(ExpectVerifier { inner, expect: expect.clone() }));
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .tls_info(true)
        .no_proxy()
        .http1_only()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(LoadError::Client)
}

/// Why the verifier refused a server whose chain verified.
#[derive(Debug, thiserror::Error)]
enum Mismatch {
    #[error("the server's certificate names {}, which is not the node expected", .0.to_uri())]
    Other(Identity),
    #[error("the server's certificate names no usable juki identity: {0}")]
    NoIdentity(IdentityError),
}

/// pki's server verifier, then the expected identity.
#[derive(Debug)]
struct ExpectVerifier {
    inner: Arc<WebPkiServerVerifier>,
    expect: Expect,
}

fn refuse(mismatch: Mismatch) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
        mismatch,
    ))))
}

impl ServerCertVerifier for ExpectVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let identity =
            pki::peer_identity(end_entity).map_err(|e| refuse(Mismatch::NoIdentity(e)))?;
        if !self.expect.accepts(&identity) {
            return Err(refuse(Mismatch::Other(identity)));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// The server certificate the connection verified.
fn server_cert(response: &reqwest::Response) -> Result<ServerCert, IdentityError> {
    let leaf = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .ok_or_else(|| {
            IdentityError::Certificate("the connection reported no server certificate".into())
        })?;
    let leaf = CertificateDer::from(leaf);
    let identity = pki::peer_identity(&leaf)?;
    let serial = Serial::of(&leaf).map_err(|e| IdentityError::Certificate(e.to_string()))?;
    Ok(ServerCert { identity, serial })
}

/// The rustls error somewhere in the chain of causes (tokio-rustls wraps it in an
/// `io::Error`, whose `source` skips it, so those are opened explicitly).
fn rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = match error.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    None
}

fn describe(error: &rustls::Error) -> String {
    use rustls::AlertDescription as A;
    match error {
        rustls::Error::AlertReceived(
            alert @ (A::CertificateRequired
            | A::BadCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::UnsupportedCertificate
            | A::AccessDenied
            // A certificate whose issuer has the CA's name but not its key.
            | A::DecryptError),
        ) => format!(
            "the server refused our client certificate (TLS alert {alert:?}): present a \
             certificate issued by the network's CA that is valid now and not revoked"
        ),
        rustls::Error::AlertReceived(alert) => {
            format!("the server ended the handshake with the TLS alert {alert:?}")
        }
        rustls::Error::InvalidCertificate(e) => {
            format!("the server's certificate is not acceptable: {}", certificate_problem(e))
        }
        other => other.to_string(),
    }
}

fn certificate_problem(error: &CertificateError) -> String {
    use CertificateError as E;
    match error {
        E::Revoked => "it is revoked by our CRL".into(),
        E::Expired | E::ExpiredContext { .. } => "it has expired".into(),
        E::NotValidYet | E::NotValidYetContext { .. } => "it is not valid yet".into(),
        E::UnknownIssuer | E::BadSignature => "it is not issued by the network's CA".into(),
        E::NotValidForName | E::NotValidForNameContext { .. } => {
            "it is not valid for the host in the URL".into()
        }
        E::ExpiredRevocationList | E::ExpiredRevocationListContext { .. } => {
            "our CRL is past its nextUpdate, so no server is trusted; install a current CRL".into()
        }
        E::UnknownRevocationStatus => "our CRL does not cover its issuer".into(),
        other => format!("{other:?}"),
    }
}

/// The causes of an error below reqwest's own summary, joined; repeated messages once.
fn causes(error: &reqwest::Error) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut next = std::error::Error::source(error);
    while let Some(cause) = next {
        let message = cause.to_string();
        if !messages.contains(&message) {
            messages.push(message);
        }
        next = cause.source();
    }
    if messages.is_empty() { error.to_string() } else { messages.join(": ") }
}

/// The beginning of an error body as trimmed text.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.len() <= ERROR_EXCERPT {
        return text.to_owned();
    }
    let mut end = ERROR_EXCERPT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text[..end].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations() {
        let aichi = Identity::municipal("204072").unwrap();
        let nagano = Identity::prefecture("20").unwrap();
        assert!(Expect::Any.accepts(&aichi));
        assert!(Expect::Role(Role::Prefecture).accepts(&nagano));
        assert!(!Expect::Role(Role::Prefecture).accepts(&aichi));
        assert!(Expect::Identity(nagano.clone()).accepts(&nagano));
        assert!(!Expect::Identity(nagano.clone()).accepts(&Identity::prefecture("21").unwrap()));
        assert_eq!(Expect::Identity(nagano).to_string(), "urn:juki:prefecture:20");
    }

    #[test]
    fn excerpts_are_short_and_whole_characters() {
        assert_eq!(excerpt(b"  not found\n"), "not found");
        let long = "あ".repeat(2000);
        let cut = excerpt(long.as_bytes());
        assert!(cut.ends_with('…') && cut.len() <= ERROR_EXCERPT + '…'.len_utf8(), "{cut}");
    }
}
