//! Mutual-TLS serving and calling for the juki nodes.
//!
//! Every node listener speaks TLS 1.3 through rustls with the network's CA as the only trust
//! root. Node-to-node listeners demand a client certificate ([`pki::ClientAuth::Required`]);
//! the public C2SP read endpoints use server TLS only ([`pki::ClientAuth::None`]).
//!
//! - [`serve`] runs an axum app behind such a listener. It takes the *current* configuration of
//!   a [`pki::ReloadableServerConfig`] for each accepted connection, and gives every request the
//!   [`Peer`] its connection's verified certificate names (or the [`Anonymous`] marker on a
//!   server-TLS-only listener). [`Peer`] is an axum extractor that answers 401 without one.
//! - [`TlsFiles`] names the PEM files of a node's TLS identity; [`watch()`] polls them and swaps a
//!   new certificate or CRL into running listeners, keeping the old one when a new file is bad.
//! - [`Client`] calls other nodes over HTTPS with the same CA, CRL and client certificate, and
//!   refuses, before sending anything, a server whose certificate does not name the identity the
//!   caller expects ([`Expect`]).
//!
//! A peer's identity comes only from its verified certificate: rustls verifies the chain, the
//! validity period and the CRL, and [`pki::peer_identity`] then reads the identity from the leaf.

#![forbid(unsafe_code)]

pub mod call;
pub mod client;
pub mod files;
pub mod reload;
pub mod server;

pub use call::Answer;
pub use client::{Client, ClientError, ClientOptions, Expect, Response, ServerCert};
pub use files::{LoadError, TlsFiles};
pub use reload::watch;
pub use server::{
    Anonymous, HANDSHAKE_TIMEOUT, HandshakeRefusal, MAX_CONNECTION_AGE, NO_PEER_MESSAGE, NoPeer,
    Peer, RefusalHook, SHUTDOWN_GRACE, no_peer_body, serve, serve_watched,
};
