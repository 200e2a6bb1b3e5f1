//! The c2sp.org/tlog-tiles read API over HTTP.
//!
//! [`server`] serves a log directory (`checkpoint`, `tile/…`) with the content types and caching
//! the specification gives, over plain HTTP or TLS; [`client`] is a [`tlog_store::source::TileSource`]
//! that fetches a log served anywhere, for verifiers and witnesses; [`tls`] loads certificates.
#![forbid(unsafe_code)]

pub mod client;
pub mod server;
pub mod tls;
pub mod witness_client;
