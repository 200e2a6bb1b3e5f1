//! Custody of resident codes: the national signer's decision that a code's record is closed in
//! every town, so that it may certify a new activation or a move. Pure: the signer supplies
//! what it last certified for the code and evidence already verified against the towns' logs.
//!
//! A code becomes active in a town in one of three ways, and the signer sees two of them:
//!
//! 1. fresh, in the town its block was allocated to (no certificate: the signer knows the
//!    block's owner from its own allocations);
//! 2. by a move-in carrying a move-out certificate the signer issued;
//! 3. by any other entry carrying an activation certificate the signer issued.
//!
//! So the last certificate issued for a code names the one town where its record may be active:
//! the owner when none was issued, the town moved to, or the town activated. The record there is
//! closed once that town's witnessed log holds a closing change of the code made after the
//! change that used the certificate (a higher history number in the same record). A move-out
//! certificate that was never used is released by its withdrawal, recorded in the log of the town
//! moved to, after which no move-in there can use it.

use registry_domain::{MunicipalityCode, RecordStatus, ResidentCode};
use tlog::Hash;
use tlog::note::{self, VerifierKey, Verifiers};

use crate::evidence::ProvenChange;
use crate::moves::{ActivationCertificate, MoveOutCertificate, MoveWithdrawal, note_hash};

/// The last certificate the signer issued for a code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Certified {
    /// A move-out certificate: the record was closed at `from` by the move-out `event`, and may
    /// be opened at `to`.
    MovedOut {
        /// The town moved out of.
        from: MunicipalityCode,
        /// The town moved to.
        to: MunicipalityCode,
        /// The move-out's note hash.
        event: Hash,
    },
    /// An activation certificate: the record may be opened at `town`, after `after`.
    Activated {
        /// The town where the record may become active.
        town: MunicipalityCode,
        /// The closing event it follows.
        after: Hash,
    },
}

impl Certified {
    /// What a move-out certificate says.
    pub fn move_out(certificate: &MoveOutCertificate) -> Certified {
        Certified::MovedOut { from: certificate.from, to: certificate.to, event: certificate.event }
    }

    /// What an activation certificate says.
    pub fn activation(certificate: &ActivationCertificate) -> Certified {
        Certified::Activated { town: certificate.municipality, after: certificate.after }
    }

    /// The town where the record may be active under this certificate.
    pub fn town(&self) -> MunicipalityCode {
        match self {
            Certified::MovedOut { to, .. } => *to,
            Certified::Activated { town, .. } => *town,
        }
    }
}

/// What a request shows of a code, its evidence verified against the towns' registrations.
#[derive(Clone, Copy, Debug)]
pub struct Shown<'a> {
    /// The change that closed the code's record.
    pub closed: &'a ProvenChange,
    /// The change that made the record active in that town with the last certificate (none
    /// when no certificate was issued for the code, or when the last was withdrawn).
    pub opened: Option<&'a ProvenChange>,
    /// The withdrawal of the last move-out certificate, proven in the log of the town moved to.
    pub withdrawal: Option<&'a MoveWithdrawal>,
}

/// The code is closed everywhere: the closing event a new certificate follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Released {
    /// The code.
    pub resident: ResidentCode,
    /// The town of the closing event.
    pub from: MunicipalityCode,
    /// The closing event's note hash.
    pub after: Hash,
}

/// Why the evidence does not show the code closed everywhere. Messages name codes, towns and
/// hashes, never personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustodyError {
    /// The change shown does not close the record.
    #[error("the change shown for resident {0} leaves the record active")]
    NotClosed(ResidentCode),
    /// The closing change is in another town than the one where the code may be active.
    #[error(
        "resident {resident}'s record may be active in {expected} (the signer's last \
         certificate, or the code's block), but the closing change shown is of {found}"
    )]
    WrongTown {
        /// The code.
        resident: ResidentCode,
        /// Where the record may be active.
        expected: String,
        /// The town of the change shown.
        found: MunicipalityCode,
    },
    /// The change that opened the record under the last certificate is missing or is not it.
    #[error(
        "the change that opened resident {0}'s record with the signer's last certificate is not \
         shown, or is another change"
    )]
    NotOpened(ResidentCode),
    /// The closing change is not later in the record than the opening one.
    #[error("the closing change shown for resident {0} precedes the change that opened the record")]
    ClosedBefore(ResidentCode),
    /// A withdrawal that is not of the last move-out certificate, or a closure other than that
    /// move-out after it.
    #[error("the withdrawal shown for resident {0} is not of the last move-out certificate")]
    NotWithdrawn(ResidentCode),
}

/// Whether `shown` proves `closed`'s code closed in every town, given the signer's last
/// certificate for it (`last`) and the town its block was allocated to (`owner`).
pub fn released(
    last: Option<&Certified>,
    owner: Option<MunicipalityCode>,
    shown: &Shown<'_>,
    national: &VerifierKey,
) -> Result<Released, CustodyError> {
    let closed = &shown.closed.change;
    let resident = closed.record.resident_code;
    if !matches!(closed.record.status, RecordStatus::Closed { .. }) {
        return Err(CustodyError::NotClosed(resident));
    }
    let here = closed.municipality;
    let after = note_hash(&shown.closed.note);
    let released = Released { resident, from: here, after };
    let wrong_town = |expected: String| CustodyError::WrongTown { resident, expected, found: here };
    let last = match last {
        None => {
            return if owner == Some(here) {
                Ok(released)
            } else {
                Err(wrong_town(owner.map_or("no town".to_owned(), |o| o.to_string())))
            };
        }
        Some(last) => last,
    };
    if let (Certified::MovedOut { from, to, event }, Some(withdrawal)) = (last, shown.withdrawal) {
        // A withdrawn move: the record stays closed by that move-out where it was made.
        let withdrawn = withdrawal.municipality == *to
            && withdrawal.event == *event
            && withdrawal.resident == resident;
        if !withdrawn || here != *from || after != *event {
            return Err(CustodyError::NotWithdrawn(resident));
        }
        return Ok(released);
    }
    if here != last.town() {
        return Err(wrong_town(last.town().to_string()));
    }
    let opened = shown.opened.ok_or(CustodyError::NotOpened(resident))?;
    let change = &opened.change;
    if change.municipality != here || change.record.resident_code != resident {
        return Err(CustodyError::NotOpened(resident));
    }
    let carried = match last {
        Certified::MovedOut { event, .. } => change
            .move_out
            .as_deref()
            .and_then(|c| opened_by(c, national))
            .and_then(|text| MoveOutCertificate::parse(&text).ok())
            .is_some_and(|c| c.event == *event && c.to == here && c.resident == resident),
        Certified::Activated { after: a, .. } => change
            .activation
            .as_deref()
            .and_then(|c| opened_by(c, national))
            .and_then(|text| ActivationCertificate::parse(&text).ok())
            .is_some_and(|c| c.after == *a && c.municipality == here && c.resident == resident),
    };
    if !carried {
        return Err(CustodyError::NotOpened(resident));
    }
    if closed.record.history_number <= change.record.history_number {
        return Err(CustodyError::ClosedBefore(resident));
    }
    Ok(released)
}

/// The text of a note signed by the national key, if it is one.
fn opened_by(note: &str, national: &VerifierKey) -> Option<String> {
    let known: Verifiers = [national.clone()].into_iter().collect();
    note::open(note.as_bytes(), &known).ok().map(|opened| opened.text().to_owned())
}
