//! c2sp.org/tlog-cosignature v1: timestamped Ed25519 checkpoint cosignatures (type `0x04`).
//!
//! A cosignature is a note signature line on a checkpoint whose signature bytes are
//! `timestamp (u64 big-endian POSIX seconds, at most 2^63 − 1) ‖ Ed25519 signature (64 bytes)`,
//! and whose signed message is
//!
//! ```text
//! cosignature/v1
//! time <timestamp in decimal>
//! <the whole checkpoint text, extension lines included>
//! ```
//!
//! The message does not name the cosigner, so every cosigner needs its own key. The timestamp
//! comes from the caller: this crate reads no clock.

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::note::{KeyKind, NoteSignature, Signer, VerifierKey};

/// The header line of the signed message, without its newline.
pub const HEADER: &str = "cosignature/v1";

/// The largest timestamp a cosignature may carry, 2^63 − 1.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// The length of a cosignature's signature bytes (after the key ID): timestamp and signature.
pub const SIGNATURE_LEN: usize = 8 + 64;

/// Why a cosignature could not be made or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    /// The key is not a cosignature (type `0x04`) key.
    #[error("a {0} key cannot make or check cosignatures; a cosignature/v1 (0x04) key is needed")]
    NotACosignatureKey(KeyKind),
    /// The timestamp is larger than 2^63 − 1.
    #[error("cosignature timestamp {0} is larger than 2^63 - 1")]
    TimestampOutOfRange(u64),
    /// The text to be cosigned is not a valid checkpoint.
    #[error("only checkpoints can be cosigned: {0}")]
    NotACheckpoint(#[source] Box<CheckpointError>),
    /// The signature bytes are not 72 bytes (timestamp and Ed25519 signature).
    #[error("cosignature is {0} bytes long, expected {SIGNATURE_LEN}")]
    WrongLength(usize),
    /// The Ed25519 signature does not verify.
    #[error("cosignature does not verify")]
    BadSignature,
}

/// The message a `cosignature/v1` signs: the header line, the timestamp line and the checkpoint
/// text (which must end in a newline).
pub fn signed_message(timestamp: u64, checkpoint_text: &[u8]) -> Vec<u8> {
    let header = format!("{HEADER}\ntime {timestamp}\n");
    let mut message = Vec::with_capacity(header.len() + checkpoint_text.len());
    message.extend_from_slice(header.as_bytes());
    message.extend_from_slice(checkpoint_text);
    message
}

/// Cosigns a checkpoint text at `timestamp` (POSIX seconds) with a cosigner key.
///
/// The text must be a valid checkpoint; it is signed exactly as given.
pub fn cosign(
    signer: &Signer,
    checkpoint_text: &str,
    timestamp: u64,
) -> Result<NoteSignature, CosignatureError> {
    if signer.kind() != KeyKind::Cosignature {
        return Err(CosignatureError::NotACosignatureKey(signer.kind()));
    }
    if timestamp > MAX_TIMESTAMP {
        return Err(CosignatureError::TimestampOutOfRange(timestamp));
    }
    Checkpoint::parse(checkpoint_text)
        .map_err(|e| CosignatureError::NotACheckpoint(Box::new(e)))?;
    let signature = signer.sign_raw(&signed_message(timestamp, checkpoint_text.as_bytes()));
    let mut bytes = Vec::with_capacity(SIGNATURE_LEN);
    bytes.extend_from_slice(&timestamp.to_be_bytes());
    bytes.extend_from_slice(&signature);
    Ok(signer.signature(bytes))
}

/// Verifies a cosignature's bytes (after the key ID) on `checkpoint_text` and returns its
/// timestamp.
pub fn verify(
    key: &VerifierKey,
    checkpoint_text: &[u8],
    signature: &[u8],
) -> Result<u64, CosignatureError> {
    if key.kind() != KeyKind::Cosignature {
        return Err(CosignatureError::NotACosignatureKey(key.kind()));
    }
    let (timestamp, ed25519) = split(signature)?;
    if !key.verify_ed25519(&signed_message(timestamp, checkpoint_text), ed25519) {
        return Err(CosignatureError::BadSignature);
    }
    Ok(timestamp)
}

/// The timestamp a cosignature claims, without verifying it: `None` unless the signature is
/// 72 bytes with a timestamp of at most 2^63 − 1.
pub fn timestamp(signature: &NoteSignature) -> Option<u64> {
    split(&signature.bytes).ok().map(|(timestamp, _)| timestamp)
}

/// Splits cosignature bytes into the timestamp and the Ed25519 signature.
fn split(signature: &[u8]) -> Result<(u64, &[u8]), CosignatureError> {
    if signature.len() != SIGNATURE_LEN {
        return Err(CosignatureError::WrongLength(signature.len()));
    }
    let (time, ed25519) = signature.split_at(8);
    let mut be = [0u8; 8];
    be.copy_from_slice(time);
    let timestamp = u64::from_be_bytes(be);
    if timestamp > MAX_TIMESTAMP {
        return Err(CosignatureError::TimestampOutOfRange(timestamp));
    }
    Ok((timestamp, ed25519))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::{Note, Verifiers, open};

    const CHECKPOINT: &str = "example.com/log\n3\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";

    fn witness() -> Signer {
        Signer::from_seed("witness.example/w1", KeyKind::Cosignature, [7; 32]).unwrap()
    }

    #[test]
    fn message_format_matches_the_spec_example() {
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        assert_eq!(
            signed_message(1679315147, text.as_bytes()),
            format!("cosignature/v1\ntime 1679315147\n{text}").into_bytes()
        );
        assert_eq!(&signed_message(0, b"x\n")[..22], b"cosignature/v1\ntime 0\n");
    }

    #[test]
    fn cosign_and_verify() {
        let w = witness();
        let sig = cosign(&w, CHECKPOINT, 1_700_000_000).unwrap();
        assert_eq!(sig.bytes.len(), SIGNATURE_LEN);
        assert_eq!((sig.name.as_str(), sig.id), (w.name(), w.id()));
        assert_eq!(timestamp(&sig), Some(1_700_000_000));
        assert_eq!(verify(&w.verifier(), CHECKPOINT.as_bytes(), &sig.bytes), Ok(1_700_000_000));

        let mut later = sig.bytes.clone();
        later[7] ^= 1;
        assert_eq!(
            verify(&w.verifier(), CHECKPOINT.as_bytes(), &later),
            Err(CosignatureError::BadSignature)
        );
        let other = CHECKPOINT.replace('3', "4");
        assert_eq!(
            verify(&w.verifier(), other.as_bytes(), &sig.bytes),
            Err(CosignatureError::BadSignature)
        );
        assert_eq!(
            verify(&w.verifier(), CHECKPOINT.as_bytes(), &sig.bytes[1..]),
            Err(CosignatureError::WrongLength(71))
        );
    }

    #[test]
    fn cosignatures_open_as_note_signatures_with_their_timestamp() {
        let log = Signer::from_seed("example.com/log", KeyKind::Ed25519, [1; 32]).unwrap();
        let w = witness();
        let mut note = Note::new(CHECKPOINT).unwrap();
        note.sign(&log).unwrap();
        note.push_signature(cosign(&w, CHECKPOINT, 42).unwrap()).unwrap();
        let opened = open(&note.to_bytes(), &Verifiers::from_iter([w.verifier()])).unwrap();
        assert_eq!(opened.verified().len(), 1);
        assert_eq!(opened.verified()[0].timestamp, Some(42));
        assert_eq!(opened.unverified().len(), 1);
    }

    #[test]
    fn timestamps_above_i64_max_are_refused() {
        let w = witness();
        assert!(cosign(&w, CHECKPOINT, MAX_TIMESTAMP).is_ok());
        assert_eq!(
            cosign(&w, CHECKPOINT, MAX_TIMESTAMP + 1),
            Err(CosignatureError::TimestampOutOfRange(MAX_TIMESTAMP + 1))
        );
        // A signature over a too-large timestamp is refused before the signature is checked.
        let message = signed_message(u64::MAX, CHECKPOINT.as_bytes());
        let mut bytes = u64::MAX.to_be_bytes().to_vec();
        bytes.extend_from_slice(&w.sign_raw(&message));
        assert_eq!(
            verify(&w.verifier(), CHECKPOINT.as_bytes(), &bytes),
            Err(CosignatureError::TimestampOutOfRange(u64::MAX))
        );
        assert_eq!(timestamp(&w.signature(bytes)), None);
    }

    #[test]
    fn only_cosigner_keys_cosign_and_only_checkpoints() {
        let log = Signer::from_seed("example.com/log", KeyKind::Ed25519, [1; 32]).unwrap();
        assert_eq!(
            cosign(&log, CHECKPOINT, 1),
            Err(CosignatureError::NotACosignatureKey(KeyKind::Ed25519))
        );
        assert!(matches!(
            cosign(&witness(), "hello\n", 1),
            Err(CosignatureError::NotACheckpoint(_))
        ));
        let sig = cosign(&witness(), CHECKPOINT, 1).unwrap();
        assert_eq!(
            verify(&log.verifier(), CHECKPOINT.as_bytes(), &sig.bytes),
            Err(CosignatureError::NotACosignatureKey(KeyKind::Ed25519))
        );
    }

    #[test]
    fn transparency_dev_timestamp_vector() {
        // transparency-dev/formats note/note_cosigv1_test.go TestCoSigV1Timestamp.
        let raw = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==",
        )
        .unwrap();
        let sig = NoteSignature { name: "x".into(), id: 0x646846b9, bytes: raw[4..].to_vec() };
        assert_eq!(u32::from_be_bytes(raw[..4].try_into().unwrap()), 0x646846b9);
        assert_eq!(timestamp(&sig), Some(1727964367));
        let plain = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            "eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY=",
        )
        .unwrap();
        assert_eq!(
            timestamp(&NoteSignature { name: "x".into(), id: 0, bytes: plain[4..].to_vec() }),
            None
        );
    }
}
