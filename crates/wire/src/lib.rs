//! juki's wire protocol in one place: every request and answer that crosses a network
//! boundary — between a town's node and its clerks' consoles, between tiers, between the
//! national node and agencies — as a typed serde value. Pure: no I/O, no HTTP library.
//!
//! - `batch`: the replication protocol (a town's events with its signed checkpoint and a
//!   consistency proof; the upstream node's signed receipt).
//! - `documents`: the signed documents a node hands out (certificate copies, with the evidence
//!   of their record, and their offline check) and the private provision records it keeps.
//! - `api`: the JSON requests and answers of every route.
//! - `alert` and `quarantine`: the signed alert reports a node ships upstream, and the
//!   national administrator's signed release of a quarantined town.
//! - `heartbeat`: the signed heartbeat a town's node sends its upper tiers every few seconds
//!   (its checkpoints, last alert, manifest digest, self-check and replication state).
//! - `manifest`: a node's signed baseline, the SHA-256 of every file it runs from.
//! - `lines`: the header and ordered `name value` lines of those small signed notes, read once.
//! - `purposes`: the national administrator's signed catalogue of lawful purposes (別表): which
//!   agency may ask, under which purpose, for which items, how often.
//! - `provide`: an agency's requests (by 住民票コード, by the four basic items, in batches)
//!   and the answers, each bound to the keeping town's witnessed log by a signed statement.
//! - `read`: a clerk's signed read request (`juki.read/v1`) and its checks.
//! - `trust`: a town's registered keys, with which clients check the evidence of its records.
//!
//! Each route's path is versioned (`/v1/…`); a change that an old client could misread gets a
//! new version, never a new meaning for an old field.
#![forbid(unsafe_code)]

pub mod alert;
pub mod api;
pub mod batch;
pub mod documents;
pub mod errors;
pub mod heartbeat;
pub mod lines;
pub mod manifest;
pub mod provide;
pub mod purposes;
pub mod quarantine;
pub mod read;
pub mod trust;

pub use batch::{Batch, BatchError, CheckedBatch, MAX_BATCH_BYTES, Receipt, ReceiptError};
