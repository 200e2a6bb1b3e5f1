//! What several rule tests share: the national signer's activation certificate for a change
//! that makes a record active again, as the signer would issue it for the state given.

#![allow(dead_code)]

use registry_core::event::Change;
use registry_core::moves::ActivationCertificate;
use registry_core::rules::RegistryView;
use registry_core::state::RegistryState;
use registry_core::time::Timestamp;
use registry_domain::{ChangeReason, ReasonFamily, RecordStatus};
use tlog::note::{Note, Signer};

/// Whether `change` makes a record that is closed in `state` active again here (and so needs an
/// activation certificate): an entry other than a move-in, on a closed record.
pub fn reopens(state: &RegistryState, change: &Change) -> bool {
    let reason = change.reason();
    reason.family() == ReasonFamily::Entry
        && reason != ChangeReason::MoveIn
        && state
            .resident(change.record.resident_code)
            .is_some_and(|r| matches!(r.status, RecordStatus::Closed { .. }))
}

/// The certificate the signer issues for reopening `change`'s record in `state`'s town, after
/// the event that closed it there, signed by `national` at `time`.
pub fn certificate(
    state: &RegistryState,
    change: &Change,
    national: &Signer,
    time: Timestamp,
) -> (ActivationCertificate, String) {
    let code = change.record.resident_code;
    let certificate = ActivationCertificate {
        municipality: state.municipality(),
        resident: code,
        from: state.municipality(),
        after: state.current_event(code).expect("the record's event").note_hash,
        time,
    };
    (certificate.clone(), sign(&certificate.to_text(), national))
}

/// `change`, with the activation certificate it needs in `state` attached (and that certificate),
/// or unchanged when it needs none.
pub fn with_activation(
    state: &RegistryState,
    mut change: Change,
    national: &Signer,
) -> (Change, Option<ActivationCertificate>) {
    if !reopens(state, &change) {
        return (change, None);
    }
    let (certificate, signed) = certificate(state, &change, national, change.time);
    change.activation = Some(signed);
    (change, Some(certificate))
}

/// A note with `text` signed by `signer`.
pub fn sign(text: &str, signer: &Signer) -> String {
    let mut note = Note::new(text).unwrap();
    note.sign(signer).unwrap();
    String::from_utf8(note.to_bytes()).unwrap()
}
