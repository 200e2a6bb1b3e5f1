//! The municipal registry's rules, as pure functions over data.
//!
//! - [`custody`]: the national signer's decision that a code's record is closed in every town.
//! - [`evidence`]: proof that a record is what an enrolled operator signed and the town's
//!   witnessed log holds.
//! - [`fields`]: the `key value` text body of every signed event, with its one escaping.
//! - [`event`]: the events themselves (genesis, enrolment, revocation, code block, change,
//!   move-in notice, move-out withdrawal).
//! - [`moves`]: moves between municipalities and one active record per person: the move-out
//!   certificate, the move-in notice, the activation certificate and the withdrawal, all signed
//!   by the national key.
//! - [`rules`]: who may sign what, and the state machine of each reason.
//! - [`state`]: a registry's whole state in memory, built from the log.
//! - [`time`]: UTC instants as events write them.
//!
//! No I/O happens here: the store feeds events and state in, and writes out what comes back.
#![forbid(unsafe_code)]

pub mod custody;
pub mod event;
pub mod evidence;
pub mod fields;
pub mod moves;
pub mod rules;
pub mod state;
pub mod time;
