//! c2sp.org/tlog-checkpoint: checkpoint bodies, signing them, and witness-quorum policies.
//!
//! A checkpoint is a signed note whose text is at least three non-empty lines: the origin (the
//! log's identity), the tree size in decimal without leading zeros, the base64 root hash, and
//! optional non-empty extension lines. A [`Policy`] names the log keys and witness keys a
//! client trusts and how many witness cosignatures it wants before believing a checkpoint.

use crate::hash::Hash;
use crate::note::{self, KeyKind, Note, NoteError, Signer, VerifierKey, Verifiers};

/// Why a checkpoint text was rejected, or a signed checkpoint did not satisfy a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The signed note is malformed, or its signatures did not check out.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The text does not end with a newline.
    #[error("checkpoint text does not end with a newline")]
    Unterminated,
    /// The text has fewer than three lines.
    #[error("checkpoint has {0} lines, at least 3 are needed")]
    TooFewLines(usize),
    /// The origin line is empty.
    #[error("checkpoint origin is empty")]
    EmptyOrigin,
    /// The size line is not a decimal number without leading zeros that fits in 64 bits.
    #[error("checkpoint size is not a decimal number without leading zeros below 2^64")]
    InvalidSize,
    /// The root hash line is not the base64 of 32 bytes.
    #[error("checkpoint root hash is not the base64 encoding of 32 bytes")]
    InvalidRoot,
    /// An extension line is empty.
    #[error("checkpoint extension line {0} is empty")]
    EmptyExtension(usize),
    /// The text or a field holds a control character other than the line-ending newline.
    #[error("checkpoint contains a control character")]
    ControlCharacter,
    /// The policy is unusable.
    #[error("invalid checkpoint policy: {0}")]
    InvalidPolicy(&'static str),
    /// None of the verified signatures is from a configured log key.
    #[error("no configured log key signed this checkpoint")]
    NoLogSignature,
    /// Fewer distinct configured witnesses cosigned than the policy's quorum.
    #[error("{have} of the required {need} witness cosignatures")]
    QuorumNotMet {
        /// Distinct configured witnesses with a valid cosignature.
        have: usize,
        /// The policy's quorum.
        need: usize,
    },
    /// The checkpoint is for another log than the one expected.
    #[error("checkpoint origin {found:?} is not the expected {expected:?}")]
    OriginMismatch {
        /// The origin that was expected.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
}

/// Parses an ASCII decimal number without leading zeros (except `0` itself) into a u64.
pub(crate) fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse().ok()
}

/// The body of a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, conventionally a schema-less URL.
    pub origin: String,
    /// The number of leaves in the tree.
    pub size: u64,
    /// The RFC 6962 root hash of the tree.
    pub root: Hash,
    /// Opaque extension lines, without their newlines. Their use is not recommended.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Checkpoint {
        Checkpoint { origin: origin.into(), size, root, extensions: Vec::new() }
    }

    /// Parses a checkpoint text (a note text, ending with a newline).
    ///
    /// The origin only has to be non-empty: the spec lets clients assume nothing more about it.
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        if text.len() > note::MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge { size: text.len() }.into());
        }
        if text.bytes().any(|b| b < 0x20 && b != b'\n') {
            return Err(CheckpointError::ControlCharacter);
        }
        let body = text.strip_suffix('\n').ok_or(CheckpointError::Unterminated)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::TooFewLines(body.split('\n').count()));
        };
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size = parse_decimal(size).ok_or(CheckpointError::InvalidSize)?;
        let root = Hash::from_base64(root).map_err(|_| CheckpointError::InvalidRoot)?;
        let mut extensions = Vec::new();
        for (i, line) in lines.enumerate() {
            if line.is_empty() {
                return Err(CheckpointError::EmptyExtension(i + 1));
            }
            extensions.push(line.to_owned());
        }
        Ok(Checkpoint { origin: origin.to_owned(), size, root, extensions })
    }

    /// The checkpoint text, ending with a newline.
    pub fn to_text(&self) -> String {
        let mut text = format!("{}\n{}\n{}\n", self.origin, self.size, self.root.to_base64());
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Checks that [`Checkpoint::to_text`] gives a text that parses back to this checkpoint
    /// (no newlines or control characters in the origin or extensions, no empty fields).
    pub fn validate(&self) -> Result<(), CheckpointError> {
        let parsed = Checkpoint::parse(&self.to_text())?;
        if parsed != *self {
            // Only an embedded newline can make the text parse to something else.
            return Err(CheckpointError::ControlCharacter);
        }
        Ok(())
    }
}

/// Signs a checkpoint with a log's Ed25519 key and returns the signed note.
///
/// The log's key name should equal the origin; this is not enforced.
pub fn sign(checkpoint: &Checkpoint, signer: &Signer) -> Result<Vec<u8>, CheckpointError> {
    checkpoint.validate()?;
    let mut note = Note::new(checkpoint.to_text())?;
    note.sign(signer)?;
    Ok(note.to_bytes())
}

/// What a client trusts: the log's keys, the witnesses' keys, and how many distinct witnesses
/// must have cosigned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// The log's Ed25519 (type `0x01`) keys; one valid signature from any of them is needed.
    pub log_keys: Vec<VerifierKey>,
    /// The witnesses' cosignature (type `0x04`) keys.
    pub witnesses: Vec<VerifierKey>,
    /// How many distinct witnesses must have cosigned.
    pub quorum: usize,
}

/// A checkpoint that satisfied a [`Policy`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The parsed checkpoint.
    pub checkpoint: Checkpoint,
    /// The checkpoint text exactly as signed.
    pub text_bytes: Vec<u8>,
    /// For each distinct configured witness that cosigned: its key name and the cosignature
    /// timestamp (POSIX seconds), in note order.
    pub cosignatures: Vec<(String, u64)>,
}

impl Policy {
    /// Checks the policy itself: at least one log key, log keys of type `0x01`, witness keys of
    /// type `0x04`, and a quorum that the distinct witness keys can reach.
    pub fn validate(&self) -> Result<(), CheckpointError> {
        if self.log_keys.is_empty() {
            return Err(CheckpointError::InvalidPolicy("no log keys"));
        }
        if self.log_keys.iter().any(|k| k.kind() != KeyKind::Ed25519) {
            return Err(CheckpointError::InvalidPolicy("log keys must be Ed25519 (0x01) keys"));
        }
        if self.witnesses.iter().any(|k| k.kind() != KeyKind::Cosignature) {
            return Err(CheckpointError::InvalidPolicy(
                "witness keys must be cosignature (0x04) keys",
            ));
        }
        let mut distinct: Vec<&[u8; 32]> = self.witnesses.iter().map(|k| k.public_key()).collect();
        distinct.sort();
        distinct.dedup();
        if self.quorum > distinct.len() {
            return Err(CheckpointError::InvalidPolicy(
                "quorum is larger than the number of distinct witness keys",
            ));
        }
        Ok(())
    }

    /// The note verifiers for this policy: every log and witness key, identical duplicates
    /// removed.
    fn verifiers(&self) -> Verifiers {
        let mut keys: Vec<VerifierKey> = Vec::new();
        for key in self.log_keys.iter().chain(&self.witnesses) {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
        keys.into_iter().collect()
    }

    /// Opens a signed checkpoint and checks it against the policy: every signature from a
    /// configured key verifies, at least one is from a log key, and at least `quorum` distinct
    /// witness keys cosigned it.
    ///
    /// The origin is not compared with anything; see [`Policy::verify_origin`].
    pub fn verify(&self, note: &[u8]) -> Result<VerifiedCheckpoint, CheckpointError> {
        self.validate()?;
        let opened = note::open(note, &self.verifiers())?;
        let checkpoint = Checkpoint::parse(opened.text())?;
        if !opened.verified().iter().any(|v| self.log_keys.contains(&v.key)) {
            return Err(CheckpointError::NoLogSignature);
        }
        let mut seen: Vec<&[u8; 32]> = Vec::new();
        let mut cosignatures = Vec::new();
        for verified in opened.verified() {
            let (Some(timestamp), true) =
                (verified.timestamp, self.witnesses.contains(&verified.key))
            else {
                continue;
            };
            if seen.contains(&verified.key.public_key()) {
                continue;
            }
            seen.push(verified.key.public_key());
            cosignatures.push((verified.key.name().to_owned(), timestamp));
        }
        if cosignatures.len() < self.quorum {
            return Err(CheckpointError::QuorumNotMet {
                have: cosignatures.len(),
                need: self.quorum,
            });
        }
        Ok(VerifiedCheckpoint {
            checkpoint,
            text_bytes: opened.text_bytes().to_vec(),
            cosignatures,
        })
    }

    /// [`Policy::verify`], and the checkpoint's origin must be `origin`.
    pub fn verify_origin(
        &self,
        note: &[u8],
        origin: &str,
    ) -> Result<VerifiedCheckpoint, CheckpointError> {
        let verified = self.verify(note)?;
        if verified.checkpoint.origin != origin {
            return Err(CheckpointError::OriginMismatch {
                expected: origin.to_owned(),
                found: verified.checkpoint.origin,
            });
        }
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosignature::cosign;
    use crate::hash::EMPTY_ROOT;
    use crate::note::append_signatures;

    const ROOT8: &str = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=";

    fn log() -> Signer {
        Signer::from_seed("example.com/log", KeyKind::Ed25519, [1; 32]).unwrap()
    }

    fn witness(i: u8) -> Signer {
        Signer::from_seed(&format!("w{i}.example"), KeyKind::Cosignature, [10 + i; 32]).unwrap()
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint::new("example.com/log", 8, Hash::from_base64(ROOT8).unwrap())
    }

    #[test]
    fn parse_and_format() {
        let text = format!("example.com/log\n8\n{ROOT8}\n");
        let cp = Checkpoint::parse(&text).unwrap();
        assert_eq!(cp, checkpoint());
        assert_eq!(cp.to_text(), text);
        let with_ext =
            format!("origin with spaces+plus\n0\n{}\next one\next two\n", EMPTY_ROOT.to_base64());
        let cp = Checkpoint::parse(&with_ext).unwrap();
        assert_eq!(cp.origin, "origin with spaces+plus");
        assert_eq!(cp.extensions, ["ext one", "ext two"]);
        assert_eq!(cp.to_text(), with_ext);
        let max = format!("o\n18446744073709551615\n{ROOT8}\n");
        assert_eq!(Checkpoint::parse(&max).unwrap().size, u64::MAX);
    }

    #[test]
    fn parse_errors() {
        let cases = [
            (format!("o\n8\n{ROOT8}"), CheckpointError::Unterminated),
            ("o\n8\n".to_owned(), CheckpointError::TooFewLines(2)),
            (format!("\n8\n{ROOT8}\n"), CheckpointError::EmptyOrigin),
            (format!("o\n08\n{ROOT8}\n"), CheckpointError::InvalidSize),
            (format!("o\n-8\n{ROOT8}\n"), CheckpointError::InvalidSize),
            (format!("o\n+8\n{ROOT8}\n"), CheckpointError::InvalidSize),
            (format!("o\n\n{ROOT8}\n"), CheckpointError::InvalidSize),
            (format!("o\n18446744073709551616\n{ROOT8}\n"), CheckpointError::InvalidSize),
            (format!("o\n 8\n{ROOT8}\n"), CheckpointError::InvalidSize),
            ("o\n8\nAAAA\n".to_owned(), CheckpointError::InvalidRoot),
            (format!("o\n8\n{ROOT8} \n"), CheckpointError::InvalidRoot),
            (format!("o\n8\n{ROOT8}\n\n"), CheckpointError::EmptyExtension(1)),
            (format!("o\n8\n{ROOT8}\nx\n\ny\n"), CheckpointError::EmptyExtension(2)),
            (format!("o\r\n8\n{ROOT8}\n"), CheckpointError::ControlCharacter),
        ];
        for (text, error) in cases {
            assert_eq!(Checkpoint::parse(&text), Err(error), "{text:?}");
        }
    }

    #[test]
    fn validate_catches_embedded_newlines() {
        let mut cp = checkpoint();
        cp.origin = "a\nb".into();
        assert!(cp.validate().is_err());
        let mut cp = checkpoint();
        cp.extensions.push(String::new());
        assert_eq!(cp.validate(), Err(CheckpointError::EmptyExtension(1)));
        assert!(sign(&cp, &log()).is_err());
    }

    fn signed_with(witnesses: &[Signer], timestamp: u64) -> Vec<u8> {
        let note = sign(&checkpoint(), &log()).unwrap();
        let text = checkpoint().to_text();
        let cosigs: Vec<_> =
            witnesses.iter().map(|w| cosign(w, &text, timestamp).unwrap()).collect();
        append_signatures(&note, &cosigs).unwrap()
    }

    fn policy(quorum: usize) -> Policy {
        Policy {
            log_keys: vec![log().verifier()],
            witnesses: (0..3).map(|i| witness(i).verifier()).collect(),
            quorum,
        }
    }

    #[test]
    fn policy_counts_distinct_witnesses() {
        let note = signed_with(&[witness(0), witness(2), witness(0)], 99);
        let verified = policy(2).verify(&note).unwrap();
        assert_eq!(verified.checkpoint, checkpoint());
        assert_eq!(verified.text_bytes, checkpoint().to_text().into_bytes());
        assert_eq!(
            verified.cosignatures,
            [("w0.example".to_owned(), 99), ("w2.example".to_owned(), 99)]
        );
        assert_eq!(
            policy(3).verify(&note),
            Err(CheckpointError::QuorumNotMet { have: 2, need: 3 })
        );
        assert!(policy(0).verify(&sign(&checkpoint(), &log()).unwrap()).is_ok());
    }

    #[test]
    fn the_same_witness_key_under_two_names_counts_once() {
        let twin = Signer::from_seed("twin.example", KeyKind::Cosignature, [10; 32]).unwrap();
        let mut p = policy(2);
        p.witnesses = vec![witness(0).verifier(), twin.verifier()];
        let note = signed_with(&[witness(0), twin], 5);
        assert_eq!(
            p.verify(&note),
            Err(CheckpointError::InvalidPolicy(
                "quorum is larger than the number of distinct witness keys"
            ))
        );
        p.witnesses.push(witness(1).verifier());
        assert_eq!(p.verify(&note), Err(CheckpointError::QuorumNotMet { have: 1, need: 2 }));
    }

    #[test]
    fn a_log_signature_is_required() {
        let text = checkpoint().to_text();
        let mut note = Note::new(text.clone()).unwrap();
        for i in 0..3 {
            note.push_signature(cosign(&witness(i), &text, 1).unwrap()).unwrap();
        }
        assert_eq!(policy(1).verify(&note.to_bytes()), Err(CheckpointError::NoLogSignature));
        let other_log = Signer::from_seed("example.com/log", KeyKind::Ed25519, [2; 32]).unwrap();
        let note = sign(&checkpoint(), &other_log).unwrap();
        assert_eq!(policy(0).verify(&note), Err(CheckpointError::Note(NoteError::NotSigned)));
    }

    #[test]
    fn a_bad_witness_cosignature_rejects_the_checkpoint() {
        let mut note = signed_with(&[witness(0)], 7);
        let len = note.len();
        note[len - 3] = if note[len - 3] == b'A' { b'B' } else { b'A' };
        assert!(matches!(
            policy(0).verify(&note),
            Err(CheckpointError::Note(NoteError::InvalidSignature { .. })
                | CheckpointError::Note(NoteError::MalformedSignature { .. }))
        ));
    }

    #[test]
    fn the_text_must_be_a_checkpoint() {
        let mut note = Note::new("hello\n").unwrap();
        note.sign(&log()).unwrap();
        assert_eq!(policy(0).verify(&note.to_bytes()), Err(CheckpointError::TooFewLines(1)));
    }

    #[test]
    fn invalid_policies_are_refused() {
        let note = signed_with(&[], 0);
        let mut p = policy(0);
        p.log_keys.clear();
        assert!(matches!(p.verify(&note), Err(CheckpointError::InvalidPolicy(_))));
        let mut p = policy(0);
        p.log_keys.push(witness(0).verifier());
        assert!(matches!(p.verify(&note), Err(CheckpointError::InvalidPolicy(_))));
        let mut p = policy(0);
        p.witnesses.push(log().verifier());
        assert!(matches!(p.verify(&note), Err(CheckpointError::InvalidPolicy(_))));
        assert!(matches!(policy(4).verify(&note), Err(CheckpointError::InvalidPolicy(_))));
    }

    #[test]
    fn origin_check() {
        let note = signed_with(&[], 0);
        assert!(policy(0).verify_origin(&note, "example.com/log").is_ok());
        assert_eq!(
            policy(0).verify_origin(&note, "example.com/other"),
            Err(CheckpointError::OriginMismatch {
                expected: "example.com/other".into(),
                found: "example.com/log".into()
            })
        );
    }

    #[test]
    fn decimal_parsing() {
        assert_eq!(parse_decimal("0"), Some(0));
        assert_eq!(parse_decimal("10"), Some(10));
        for bad in ["", "00", "01", "1a", "-1", "+1", " 1", "18446744073709551616", "١"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
    }
}
