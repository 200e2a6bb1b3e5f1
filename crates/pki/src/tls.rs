//! rustls configurations for the network: TLS 1.3 only, aws-lc-rs, the network's CA as the only
//! trust root, and its CRL enforced on both sides (a CRL past its `nextUpdate` refuses every
//! peer, so an old list cannot be replayed to hide a revocation); plus a server configuration
//! whose certificate and CRL can be replaced while the node keeps serving.
//!
//! ## Rotation without downtime
//!
//! [`ReloadableServerConfig`] holds the current settings (certificate chain, key, roots, CRLs,
//! client-auth mode) and the `Arc<ServerConfig>` built from them, behind a `std::sync::RwLock`.
//! The accept loop calls [`ReloadableServerConfig::current`] for **every accepted connection**
//! and hands that `Arc` to the acceptor (`tokio_rustls::TlsAcceptor::from(config)`), instead of
//! building one acceptor at start-up. [`set_certificate`](ReloadableServerConfig::set_certificate)
//! and [`set_crls`](ReloadableServerConfig::set_crls) build a complete new `ServerConfig` first
//! (so a bad certificate or CRL is refused and the old one stays in force) and then swap the
//! `Arc` under the write lock. Handshakes already under way finish with the config they started
//! with; every later handshake uses the new certificate and CRL. No listener is closed. Readers
//! hold the lock only to clone an `Arc`; an update holds it while it builds the new config (well
//! under a millisecond), never during a handshake. (A `ResolvesServerCert`
//! alone could swap the certificate, but not the client verifier that holds the CRL; rebuilding
//! the whole config covers both with one mechanism.) Session tickets are per config, so a
//! rotation costs clients one full handshake.

use std::sync::{Arc, RwLock};

use rustls::client::WebPkiServerVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

/// The ALPN protocol every juki endpoint speaks.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// PEM text that does not contain what was expected.
    #[error("the {what} PEM is not usable: {reason}")]
    Pem {
        /// "certificate", "private key" or "CRL".
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A trust root that rustls refuses.
    #[error("the CA certificate is not a usable trust root: {0}")]
    Root(rustls::Error),
    /// No trust root was given.
    #[error("no CA certificate was given as a trust root")]
    NoRoots,
    /// The certificate verifier could not be built (for instance, a CRL that does not parse).
    #[error("the certificate verifier could not be built: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// rustls refused the configuration (for instance, a key that does not match the
    /// certificate).
    #[error("rustls refused the configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Whether a server demands a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Mutual TLS: a client certificate from the network's CA, not revoked, is required.
    Required,
    /// Server TLS only: for the public C2SP read endpoints (checkpoints, tiles).
    None,
}

/// The crypto provider of every juki TLS endpoint (aws-lc-rs, as in `tlog-http`).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Every certificate in a PEM text (leaf first, for a chain).
pub fn certs_from_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::Pem { what: "certificate", reason: e.to_string() })?;
    if certs.is_empty() {
        return Err(TlsConfigError::Pem { what: "certificate", reason: "no certificate".into() });
    }
    Ok(certs)
}

/// The private key in a PEM text.
pub fn key_from_pem(pem: &str) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| TlsConfigError::Pem { what: "private key", reason: e.to_string() })
}

/// Every CRL in a PEM text (possibly none).
pub fn crls_from_pem(
    pem: &str,
) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsConfigError> {
    CertificateRevocationListDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::Pem { what: "CRL", reason: e.to_string() })
}

fn root_store(roots: &[CertificateDer<'static>]) -> Result<Arc<RootCertStore>, TlsConfigError> {
    if roots.is_empty() {
        return Err(TlsConfigError::NoRoots);
    }
    let mut store = RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).map_err(TlsConfigError::Root)?;
    }
    Ok(Arc::new(store))
}

/// A TLS 1.3 server configuration presenting `chain`/`key`. With [`ClientAuth::Required`], a
/// client must present a certificate issued by one of `ca_roots` and not revoked by `crls`;
/// revocation is checked for the whole chain, a chain whose revocation status is unknown is
/// refused, and so is every client while a CRL is past its `nextUpdate` (a stale list could
/// hide a revocation; publish a new CRL before the old one expires). With [`ClientAuth::None`]
/// the CRLs are not used by the server.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca_roots: &[CertificateDer<'static>],
    crls: Vec<CertificateRevocationListDer<'static>>,
    client_auth: ClientAuth,
) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let builder = match client_auth {
        ClientAuth::Required => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(root_store(ca_roots)?, provider)
                    .with_crls(crls)
                    .enforce_revocation_expiration()
                    .build()?;
            builder.with_client_cert_verifier(verifier)
        }
        ClientAuth::None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// A TLS 1.3 client configuration presenting `chain`/`key` as client certificate, trusting only
/// `ca_roots` and refusing servers revoked by `crls` (or any server while a CRL is past its
/// `nextUpdate`; see [`server_verifier`]). The server's host name is checked against
/// its DNS/IP SANs by rustls; its role is for the caller to check with
/// [`peer_identity`](crate::peer_identity) on `peer_certificates()`.
pub fn client_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca_roots: &[CertificateDer<'static>],
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let mut config = client_builder(ca_roots, crls)?.with_client_auth_cert(chain, key)?;
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// A TLS 1.3 client configuration without a client certificate (for the public read
/// endpoints), trusting only `ca_roots` and refusing servers revoked by `crls`.
pub fn anonymous_client_config(
    ca_roots: &[CertificateDer<'static>],
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let mut config = client_builder(ca_roots, crls)?.with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// The verifier every juki client uses for servers: chains to `ca_roots` only, revocation
/// checked against `crls` for the whole chain, an unknown revocation status refused, and every
/// server refused while a CRL is past its `nextUpdate`. [`client_config`] and
/// [`anonymous_client_config`] use it; it is public so that a caller can wrap it with further
/// checks (for instance the server's expected identity) and still verify exactly as they do.
pub fn server_verifier(
    ca_roots: &[CertificateDer<'static>],
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Result<Arc<WebPkiServerVerifier>, TlsConfigError> {
    Ok(WebPkiServerVerifier::builder_with_provider(root_store(ca_roots)?, provider())
        .with_crls(crls)
        .enforce_revocation_expiration()
        .build()?)
}

fn client_builder(
    ca_roots: &[CertificateDer<'static>],
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Result<rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>, TlsConfigError> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_webpki_verifier(server_verifier(ca_roots, crls)?))
}

struct Settings {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca_roots: Vec<CertificateDer<'static>>,
    crls: Vec<CertificateRevocationListDer<'static>>,
    client_auth: ClientAuth,
}

impl Settings {
    fn build(&self) -> Result<Arc<ServerConfig>, TlsConfigError> {
        server_config(
            self.chain.clone(),
            self.key.clone_key(),
            &self.ca_roots,
            self.crls.clone(),
            self.client_auth,
        )
    }
}

struct State {
    settings: Settings,
    config: Arc<ServerConfig>,
}

/// A server configuration whose certificate and CRL can be replaced at run time; see the module
/// documentation. Share it as `Arc<ReloadableServerConfig>` between the accept loop and whatever
/// rotates the certificate.
pub struct ReloadableServerConfig {
    state: RwLock<State>,
}

impl std::fmt::Debug for ReloadableServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadableServerConfig").finish_non_exhaustive()
    }
}

impl ReloadableServerConfig {
    /// Starts with these settings (as [`server_config`]).
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        ca_roots: Vec<CertificateDer<'static>>,
        crls: Vec<CertificateRevocationListDer<'static>>,
        client_auth: ClientAuth,
    ) -> Result<Self, TlsConfigError> {
        let settings = Settings { chain, key, ca_roots, crls, client_auth };
        let config = settings.build()?;
        Ok(ReloadableServerConfig { state: RwLock::new(State { settings, config }) })
    }

    /// The configuration for the next accepted connection.
    pub fn current(&self) -> Arc<ServerConfig> {
        // The state is replaced only whole, after a successful build, so a poisoned lock still
        // holds a consistent state.
        self.state.read().unwrap_or_else(|e| e.into_inner()).config.clone()
    }

    /// Presents a new certificate chain and key from the next handshake on. On error nothing
    /// changes.
    pub fn set_certificate(
        &self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<(), TlsConfigError> {
        self.update(|settings| {
            settings.chain = chain;
            settings.key = key;
        })
    }

    /// Enforces a new set of CRLs from the next handshake on. On error nothing changes.
    pub fn set_crls(
        &self,
        crls: Vec<CertificateRevocationListDer<'static>>,
    ) -> Result<(), TlsConfigError> {
        self.update(|settings| settings.crls = crls)
    }

    fn update(&self, change: impl FnOnce(&mut Settings)) -> Result<(), TlsConfigError> {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let mut settings = Settings {
            chain: state.settings.chain.clone(),
            key: state.settings.key.clone_key(),
            ca_roots: state.settings.ca_roots.clone(),
            crls: state.settings.crls.clone(),
            client_auth: state.settings.client_auth,
        };
        change(&mut settings);
        let config = settings.build()?;
        *state = State { settings, config };
        Ok(())
    }
}
