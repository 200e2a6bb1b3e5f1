//! Transparency-log math and wire formats, in the C2SP dialect.
//!
//! This crate does no I/O: it hashes, builds and checks proofs, parses and formats notes,
//! checkpoints, cosignatures, tiles and receipts, and decides what a witness answers. Reading
//! files, talking HTTP and keeping state belong to the crates that use it.
//!
//! - [`hash`]: RFC 6962 leaf and node hashing.
//! - [`merkle`]: inclusion and consistency proofs (RFC 6962 construction, RFC 9162 verification).
//! - [`tile`]: c2sp.org/tlog-tiles coordinates, paths, partial tiles and entry bundles.
//! - [`note`]: c2sp.org/signed-note signing, opening and key strings.
//! - [`precheck`]: the Ed25519 signatures of many notes verified at once (batch verification).
//! - [`checkpoint`]: c2sp.org/tlog-checkpoint bodies and witness policies.
//! - [`cosignature`]: c2sp.org/tlog-cosignature (`cosignature/v1`, type 0x04).
//! - [`receipt`]: c2sp.org/tlog-proof offline receipts.
//! - [`witness`]: the c2sp.org/tlog-witness `add-checkpoint` request and its verdict.
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod cosignature;
pub mod hash;
mod lines;
pub mod merkle;
pub mod note;
pub mod precheck;
pub mod receipt;
pub mod tile;
pub mod witness;

pub use hash::{EMPTY_ROOT, HASH_SIZE, Hash, leaf_hash, node_hash};
