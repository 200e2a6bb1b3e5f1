//! The juki network's PKI: one certificate authority for the whole network, certificates that
//! name a role and its code in a single SAN URI (`urn:juki:municipal:204072`), certificate
//! signing requests whose requested identity the CA ignores, revocation lists that every node
//! enforces, and the rustls configurations (TLS 1.3, mutual TLS, CRLs, rotation) that use them.
//!
//! A peer is who its *verified* certificate says: rustls verifies the chain and the CRL, and
//! [`peer_identity`] then reads the identity URI from the verified leaf.

#![forbid(unsafe_code)]

pub mod ca;
pub mod identity;
pub mod tls;

pub use ca::{Ca, CaError, Serial, SerialParseError, Validity, csr};
pub use identity::{Identity, IdentityError, Role, URN_PREFIX, peer_identity};
pub use tls::{
    ClientAuth, ReloadableServerConfig, TlsConfigError, anonymous_client_config, certs_from_pem,
    client_config, crls_from_pem, key_from_pem, server_config,
};
