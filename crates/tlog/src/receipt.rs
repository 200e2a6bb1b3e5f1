//! c2sp.org/tlog-proof@v1: offline receipts proving that an entry is in a log.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>            (optional, unauthenticated application data)
//! index <decimal>
//! <base64 hash>             (inclusion proof, leaf's sibling first; zero or more lines)
//!
//! <the signed checkpoint, verbatim, with its cosignatures>
//! ```
//!
//! Verifying a receipt checks the checkpoint against a [`Policy`] (log signature and witness
//! quorum) and the inclusion proof of the caller's leaf hash against the checkpoint's root.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::checkpoint::{Checkpoint, CheckpointError, Policy, VerifiedCheckpoint, parse_decimal};
use crate::hash::Hash;
use crate::lines::{ProofLinesError, next_line, read_proof_lines, write_proof_lines};
use crate::merkle::{ProofError, verify_inclusion};
use crate::note::{MAX_NOTE_SIZE, Note};

/// The first line of every receipt.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The largest receipt [`Receipt::parse`] accepts, in bytes (1 MiB).
pub const MAX_RECEIPT_SIZE: usize = 1 << 20;

/// The most inclusion-proof lines [`Receipt::parse`] accepts.
pub use crate::lines::MAX_PROOF_LINES;

/// Why a receipt could not be parsed or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// The receipt is larger than [`MAX_RECEIPT_SIZE`].
    #[error("receipt is {size} bytes, more than the limit of {MAX_RECEIPT_SIZE}")]
    TooLarge {
        /// The size of the input in bytes.
        size: usize,
    },
    /// The first line is not `c2sp.org/tlog-proof@v1`.
    #[error("not a c2sp.org/tlog-proof@v1 receipt")]
    WrongHeader,
    /// The receipt ends before the blank line that precedes the checkpoint.
    #[error("receipt ends before its checkpoint")]
    Truncated,
    /// The `extra` line's data is not valid base64.
    #[error("the extra line is not valid base64")]
    InvalidExtra,
    /// The line after the header (and optional extra) is not `index <decimal>`.
    #[error("missing or invalid index line")]
    InvalidIndex,
    /// An inclusion-proof line is not the base64 of a 32-byte hash.
    #[error("inclusion proof line {0} is not a base64 SHA-256 hash")]
    InvalidProofLine(usize),
    /// The inclusion proof has more than [`MAX_PROOF_LINES`] lines.
    #[error("inclusion proof has more than {MAX_PROOF_LINES} lines")]
    TooManyProofLines,
    /// The checkpoint is malformed, or did not satisfy the policy.
    #[error("receipt checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The inclusion proof does not lead from the leaf to the checkpoint's root.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
}

/// An offline proof of inclusion: an index, an inclusion proof and a signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Optional opaque application data. It is not authenticated.
    pub extra: Option<Vec<u8>>,
    /// The zero-based index of the entry in the log.
    pub index: u64,
    /// The inclusion proof, leaf's sibling first.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: Vec<u8>,
}

impl Receipt {
    /// Parses a receipt strictly. The checkpoint must be a structurally valid signed note
    /// whose text is a checkpoint; its signatures are not checked here.
    pub fn parse(bytes: &[u8]) -> Result<Receipt, ReceiptError> {
        if bytes.len() > MAX_RECEIPT_SIZE {
            return Err(ReceiptError::TooLarge { size: bytes.len() });
        }
        let (header, mut rest) = next_line(bytes).ok_or(ReceiptError::WrongHeader)?;
        if header != HEADER {
            return Err(ReceiptError::WrongHeader);
        }
        let (mut line, after) = next_line(rest).ok_or(ReceiptError::Truncated)?;
        rest = after;
        let mut extra = None;
        if let Some(encoded) = line.strip_prefix("extra ") {
            extra = Some(BASE64.decode(encoded).map_err(|_| ReceiptError::InvalidExtra)?);
            (line, rest) = next_line(rest).ok_or(ReceiptError::Truncated)?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(ReceiptError::InvalidIndex)?;
        let (proof, rest) = read_proof_lines(rest).map_err(|e| match e {
            ProofLinesError::Truncated => ReceiptError::Truncated,
            ProofLinesError::TooMany => ReceiptError::TooManyProofLines,
            ProofLinesError::Invalid(line) => ReceiptError::InvalidProofLine(line),
        })?;
        let note = Note::parse(rest).map_err(CheckpointError::from)?;
        Checkpoint::parse(note.text())?;
        Ok(Receipt { extra, index, proof, checkpoint: rest.to_vec() })
    }

    /// The encoded receipt.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + 45 * self.proof.len() + self.checkpoint.len());
        out.extend_from_slice(HEADER.as_bytes());
        out.push(b'\n');
        if let Some(extra) = &self.extra {
            out.extend_from_slice(b"extra ");
            out.extend_from_slice(BASE64.encode(extra).as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(format!("index {}\n", self.index).as_bytes());
        write_proof_lines(&mut out, &self.proof);
        out.extend_from_slice(&self.checkpoint);
        out
    }

    /// Verifies the receipt for the leaf hash `leaf`: the checkpoint satisfies `policy`, and
    /// the inclusion proof puts `leaf` at `index` in the checkpoint's tree.
    ///
    /// The checkpoint's origin is not compared with anything; see [`Receipt::verify_origin`].
    pub fn verify(&self, leaf: &Hash, policy: &Policy) -> Result<VerifiedCheckpoint, ReceiptError> {
        if self.checkpoint.len() > MAX_NOTE_SIZE {
            return Err(ReceiptError::TooLarge { size: self.checkpoint.len() });
        }
        let verified = policy.verify(&self.checkpoint)?;
        let checkpoint = &verified.checkpoint;
        verify_inclusion(leaf, self.index, checkpoint.size, &self.proof, &checkpoint.root)?;
        Ok(verified)
    }

    /// [`Receipt::verify`], and the checkpoint's origin must be `origin`.
    pub fn verify_origin(
        &self,
        leaf: &Hash,
        policy: &Policy,
        origin: &str,
    ) -> Result<VerifiedCheckpoint, ReceiptError> {
        let verified = self.verify(leaf, policy)?;
        if verified.checkpoint.origin != origin {
            return Err(CheckpointError::OriginMismatch {
                expected: origin.to_owned(),
                found: verified.checkpoint.origin,
            }
            .into());
        }
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::sign;
    use crate::cosignature::cosign;
    use crate::hash::leaf_hash;
    use crate::note::{KeyKind, NoteError, Signer, append_signatures};

    /// The 8-leaf tree of RFC 6962 test vectors and the inclusion proof of leaf 5.
    const ROOT8: &str = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";
    const PROOF5: [&str; 3] = [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ];

    fn leaf5() -> Hash {
        leaf_hash(&[0x40, 0x41, 0x42, 0x43])
    }

    fn log() -> Signer {
        Signer::from_seed("example.com/log", KeyKind::Ed25519, [1; 32]).unwrap()
    }

    fn witness() -> Signer {
        Signer::from_seed("w.example", KeyKind::Cosignature, [2; 32]).unwrap()
    }

    fn policy() -> Policy {
        Policy {
            log_keys: vec![log().verifier()],
            witnesses: vec![witness().verifier()],
            quorum: 1,
        }
    }

    fn receipt() -> Receipt {
        let cp = Checkpoint::new("example.com/log", 8, Hash::from_hex(ROOT8).unwrap());
        let note = sign(&cp, &log()).unwrap();
        let cosig = cosign(&witness(), &cp.to_text(), 1_700_000_000).unwrap();
        Receipt {
            extra: Some(b"hello".to_vec()),
            index: 5,
            proof: PROOF5.iter().map(|h| Hash::from_hex(h).unwrap()).collect(),
            checkpoint: append_signatures(&note, &[cosig]).unwrap(),
        }
    }

    #[test]
    fn round_trip_and_verify() {
        let r = receipt();
        let bytes = r.to_bytes();
        assert!(bytes.starts_with(b"c2sp.org/tlog-proof@v1\nextra aGVsbG8=\nindex 5\nvBoGQ7Eu"));
        assert_eq!(Receipt::parse(&bytes), Ok(r.clone()));
        let verified = r.verify(&leaf5(), &policy()).unwrap();
        assert_eq!(verified.checkpoint.size, 8);
        assert_eq!(verified.cosignatures, [("w.example".to_owned(), 1_700_000_000)]);
        assert!(r.verify_origin(&leaf5(), &policy(), "example.com/log").is_ok());
        assert!(matches!(
            r.verify_origin(&leaf5(), &policy(), "example.com/other"),
            Err(ReceiptError::Checkpoint(CheckpointError::OriginMismatch { .. }))
        ));

        let plain = Receipt { extra: None, ..r };
        assert_eq!(Receipt::parse(&plain.to_bytes()), Ok(plain));
    }

    #[test]
    fn tampering_fails() {
        let r = receipt();
        let p = policy();
        assert!(matches!(r.verify(&leaf_hash(b"other"), &p), Err(ReceiptError::Inclusion(_))));
        for i in 0..r.proof.len() {
            let mut t = r.clone();
            t.proof[i].0[0] ^= 1;
            assert!(matches!(t.verify(&leaf5(), &p), Err(ReceiptError::Inclusion(_))), "proof {i}");
        }
        let mut t = r.clone();
        t.proof.pop();
        assert!(matches!(t.verify(&leaf5(), &p), Err(ReceiptError::Inclusion(_))));
        for index in [4, 6, 8, 13] {
            let t = Receipt { index, ..r.clone() };
            assert!(
                matches!(t.verify(&leaf5(), &p), Err(ReceiptError::Inclusion(_))),
                "index {index}"
            );
        }
        // A different root or size in the checkpoint text breaks the log signature.
        let text = String::from_utf8(r.checkpoint.clone()).unwrap();
        let root_b64 = Hash::from_hex(ROOT8).unwrap().to_base64();
        for (from, to) in [(root_b64.as_str(), EMPTY_ROOT_B64), ("\n8\n", "\n9\n")] {
            let t = Receipt { checkpoint: text.replacen(from, to, 1).into_bytes(), ..r.clone() };
            assert_eq!(
                t.verify(&leaf5(), &p),
                Err(ReceiptError::Checkpoint(CheckpointError::Note(NoteError::InvalidSignature {
                    name: "example.com/log".into(),
                    id: log().id()
                })))
            );
        }
        // A flipped bit in either signature fails.
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        for sig_line in [lines.len() - 2, lines.len() - 1] {
            let mut t = lines.clone();
            let changed = flip_base64(t[sig_line]);
            t[sig_line] = &changed;
            let t = Receipt { checkpoint: t.concat().into_bytes(), ..r.clone() };
            assert!(matches!(
                t.verify(&leaf5(), &p),
                Err(ReceiptError::Checkpoint(CheckpointError::Note(_)))
            ));
        }
        // Without the cosignature the quorum is not met.
        let t = Receipt { checkpoint: lines[..lines.len() - 1].concat().into_bytes(), ..r.clone() };
        assert_eq!(
            t.verify(&leaf5(), &p),
            Err(ReceiptError::Checkpoint(CheckpointError::QuorumNotMet { have: 0, need: 1 }))
        );
    }

    const EMPTY_ROOT_B64: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    /// Changes one base64 character in the middle of a signature line.
    fn flip_base64(line: &str) -> String {
        let mut bytes = line.as_bytes().to_vec();
        let at = bytes.len() - 20;
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn parse_errors() {
        let good = receipt().to_bytes();
        let text = String::from_utf8(good.clone()).unwrap();
        let cases: Vec<(String, ReceiptError)> = vec![
            (text.replacen("tlog-proof@v1", "tlog-proof@v2", 1), ReceiptError::WrongHeader),
            ("c2sp.org/tlog-proof@v1".into(), ReceiptError::WrongHeader),
            ("c2sp.org/tlog-proof@v1\n".into(), ReceiptError::Truncated),
            ("c2sp.org/tlog-proof@v1\nindex 5\n".into(), ReceiptError::Truncated),
            (text.replacen("extra aGVsbG8=", "extra aGVsbG8", 1), ReceiptError::InvalidExtra),
            (text.replacen("index 5", "index 05", 1), ReceiptError::InvalidIndex),
            (text.replacen("index 5", "index  5", 1), ReceiptError::InvalidIndex),
            (text.replacen("index 5\n", "", 1), ReceiptError::InvalidIndex),
            (
                text.replacen("extra aGVsbG8=\n", "", 1).replacen("index 5", "extra aGVsbG8=", 1),
                ReceiptError::InvalidIndex,
            ),
            (text.replacen("vBoGQ7Eu", "vBoGQ7E", 1), ReceiptError::InvalidProofLine(1)),
        ];
        for (input, error) in cases {
            assert_eq!(Receipt::parse(input.as_bytes()), Err(error), "{input:?}");
        }
        let mut long = receipt();
        long.proof = vec![Hash::default(); MAX_PROOF_LINES];
        assert!(Receipt::parse(&long.to_bytes()).is_ok());
        long.proof.push(Hash::default());
        assert_eq!(Receipt::parse(&long.to_bytes()), Err(ReceiptError::TooManyProofLines));

        let mut unsigned = receipt();
        unsigned.checkpoint = b"example.com/log\n8\n".to_vec();
        assert!(matches!(Receipt::parse(&unsigned.to_bytes()), Err(ReceiptError::Checkpoint(_))));
        let big = vec![b'a'; MAX_RECEIPT_SIZE + 1];
        assert_eq!(
            Receipt::parse(&big),
            Err(ReceiptError::TooLarge { size: MAX_RECEIPT_SIZE + 1 })
        );
    }

    #[test]
    fn spec_example_structure_parses() {
        let r = Receipt {
            extra: None,
            index: 0,
            proof: vec![],
            checkpoint: sign(&Checkpoint::new("o", 1, leaf_hash(b"x")), &log()).unwrap(),
        };
        let bytes = r.to_bytes();
        assert!(bytes.starts_with(b"c2sp.org/tlog-proof@v1\nindex 0\n\no\n1\n"));
        assert_eq!(Receipt::parse(&bytes), Ok(r.clone()));
        let p = Policy { log_keys: vec![log().verifier()], witnesses: vec![], quorum: 0 };
        assert!(r.verify(&leaf_hash(b"x"), &p).is_ok());
    }
}
