//! c2sp.org/tlog-witness v1.0.0 `add-checkpoint`, as data and decisions without I/O.
//!
//! The request body is `old <size>\n`, up to 63 base64 consistency-proof lines, a blank line,
//! and the signed checkpoint. A witness server:
//!
//! 1. parses the body with [`AddCheckpoint::parse`] (400 on error);
//! 2. reads the origin with [`AddCheckpoint::origin`] and looks up the log keys it trusts for
//!    that origin, answering [`Refusal::UnknownOrigin`] (404) if there are none;
//! 3. under the lock that guards that origin's state, calls [`decide`] with those keys and the
//!    latest cosigned (size, root), and on success persists the new checkpoint *before*
//!    releasing the lock, cosigns it with [`Accepted::cosign`] and answers 200 with
//!    [`response_body`].
//!
//! Refusals carry the HTTP status, body and content type to send ([`Refusal::status`],
//! [`Refusal::body`], [`Refusal::content_type`]). The log side formats requests with
//! [`AddCheckpoint::to_bytes`] and reads answers with [`parse_response`] and
//! [`parse_size_body`].

use std::fmt;

use crate::checkpoint::{Checkpoint, CheckpointError, parse_decimal};
use crate::cosignature::{self, CosignatureError};
use crate::hash::{EMPTY_ROOT, Hash};
use crate::lines::{ProofLinesError, next_line, read_proof_lines, write_proof_lines};
use crate::merkle::{ProofError, verify_consistency};
use crate::note::{self, MAX_SIGNATURES, Note, NoteError, NoteSignature, Signer, Verifiers};

/// The largest request body [`AddCheckpoint::parse`] accepts, in bytes (1 MiB).
pub const MAX_BODY_SIZE: usize = 1 << 20;

/// The most consistency-proof lines a request may carry.
pub use crate::lines::MAX_PROOF_LINES;

/// The content type of a 409 response body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The content type of other response bodies.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The largest 200 response [`parse_response`] accepts, in bytes.
pub const MAX_RESPONSE_SIZE: usize = 64 * 1024;

/// Why an `add-checkpoint` request body is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body is larger than [`MAX_BODY_SIZE`].
    #[error("request body is {size} bytes, more than the limit of {MAX_BODY_SIZE}")]
    TooLarge {
        /// The size of the body in bytes.
        size: usize,
    },
    /// The first line is not `old <decimal without leading zeros>`.
    #[error("the first line must be \"old <size>\"")]
    InvalidOldSize,
    /// A consistency-proof line is not the base64 of a 32-byte hash.
    #[error("consistency proof line {0} is not a base64 SHA-256 hash")]
    InvalidProofLine(usize),
    /// More than [`MAX_PROOF_LINES`] consistency-proof lines.
    #[error("more than {MAX_PROOF_LINES} consistency proof lines")]
    TooManyProofLines,
    /// The body ends before the blank line that precedes the checkpoint.
    #[error("request ends before its checkpoint")]
    Truncated,
    /// The checkpoint is not a well-formed signed checkpoint note.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
}

/// An `add-checkpoint` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the log believes the witness cosigned last (0 if none).
    pub old: u64,
    /// The consistency proof from `old` to the new checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: Vec<u8>,
}

impl AddCheckpoint {
    /// Parses a request body strictly. The checkpoint must be a structurally valid signed note
    /// whose text is a checkpoint; its signatures are checked by [`decide`].
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, RequestError> {
        if body.len() > MAX_BODY_SIZE {
            return Err(RequestError::TooLarge { size: body.len() });
        }
        let (line, rest) = next_line(body).ok_or(RequestError::InvalidOldSize)?;
        let old = line
            .strip_prefix("old ")
            .and_then(parse_decimal)
            .ok_or(RequestError::InvalidOldSize)?;
        let (proof, rest) = read_proof_lines(rest).map_err(|e| match e {
            ProofLinesError::Truncated => RequestError::Truncated,
            ProofLinesError::TooMany => RequestError::TooManyProofLines,
            ProofLinesError::Invalid(line) => RequestError::InvalidProofLine(line),
        })?;
        let request = AddCheckpoint { old, proof, checkpoint: rest.to_vec() };
        request.parsed_checkpoint()?;
        Ok(request)
    }

    /// The encoded request body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 45 * self.proof.len() + self.checkpoint.len());
        out.extend_from_slice(format!("old {}\n", self.old).as_bytes());
        write_proof_lines(&mut out, &self.proof);
        out.extend_from_slice(&self.checkpoint);
        out
    }

    /// The checkpoint's origin, for looking up the log keys the witness trusts for it. The
    /// signatures are not checked yet.
    pub fn origin(&self) -> Result<String, RequestError> {
        Ok(self.parsed_checkpoint()?.origin)
    }

    /// Parses the checkpoint note's structure and text.
    fn parsed_checkpoint(&self) -> Result<Checkpoint, RequestError> {
        if self.checkpoint.len() > note::MAX_NOTE_SIZE {
            return Err(
                CheckpointError::from(NoteError::TooLarge { size: self.checkpoint.len() }).into()
            );
        }
        let note = Note::parse(&self.checkpoint).map_err(CheckpointError::from)?;
        Ok(Checkpoint::parse(note.text())?)
    }
}

/// A checkpoint the witness may cosign. The caller must persist it as the latest cosigned
/// checkpoint for its origin, atomically with the [`decide`] call that produced it, before
/// answering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The checkpoint text exactly as signed by the log; this is what gets cosigned.
    pub text: Vec<u8>,
}

impl Accepted {
    /// Cosigns the accepted checkpoint with a witness key at `timestamp` (POSIX seconds).
    pub fn cosign(
        &self,
        signer: &Signer,
        timestamp: u64,
    ) -> Result<NoteSignature, CosignatureError> {
        // The text came out of a parsed note, so it is UTF-8; a failure here is reported, not
        // assumed away.
        let text = std::str::from_utf8(&self.text).map_err(|_| {
            CosignatureError::NotACheckpoint(Box::new(NoteError::InvalidUtf8.into()))
        })?;
        cosignature::cosign(signer, text, timestamp)
    }
}

impl fmt::Display for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at size {}", self.checkpoint.origin, self.checkpoint.size)
    }
}

/// Why the witness refuses to cosign, with the HTTP status it implies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: the request body is malformed.
    #[error("malformed request: {0}")]
    Malformed(#[from] RequestError),
    /// 404: the witness knows no log with this origin.
    #[error("unknown log origin")]
    UnknownOrigin,
    /// 403: no signature from a trusted log key is on the checkpoint.
    #[error("no trusted log key signed the checkpoint")]
    NotSigned,
    /// 403: a signature from a trusted log key does not verify.
    #[error("invalid signature from trusted key {key}")]
    InvalidSignature {
        /// The key, as `name+hex8`.
        key: String,
    },
    /// 400: the old size is larger than the checkpoint's size.
    #[error("old size {old} is larger than the checkpoint size {size}")]
    OldSizeTooLarge {
        /// The request's old size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// 409: the old size is not the size of the latest checkpoint this witness cosigned.
    #[error("old size {old} is not the latest cosigned size {latest}")]
    SizeMismatch {
        /// The request's old size.
        old: u64,
        /// The latest cosigned size (0 if none).
        latest: u64,
    },
    /// 409: the checkpoint has the latest cosigned size but a different root hash.
    #[error("checkpoint of size {latest} has a different root from the one cosigned")]
    RootMismatch {
        /// The latest cosigned size, equal to the checkpoint's.
        latest: u64,
    },
    /// 422: the consistency proof does not prove the old tree is a prefix of the new one.
    #[error("consistency proof does not verify: {0}")]
    BadProof(ProofError),
    /// 422: the old size is 0 but a consistency proof was sent.
    #[error("the consistency proof must be empty when the old size is 0")]
    ProofNotEmpty,
    /// 422: an empty checkpoint does not carry the root of the empty tree.
    #[error("a checkpoint of size 0 must have the empty tree's root")]
    BadEmptyRoot,
    /// 500: the witness's own key configuration is ambiguous for this checkpoint.
    #[error("witness misconfiguration: {0}")]
    Misconfigured(String),
}

impl Refusal {
    /// The HTTP status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Malformed(_) | Refusal::OldSizeTooLarge { .. } => 400,
            Refusal::NotSigned | Refusal::InvalidSignature { .. } => 403,
            Refusal::UnknownOrigin => 404,
            Refusal::SizeMismatch { .. } | Refusal::RootMismatch { .. } => 409,
            Refusal::BadProof(_) | Refusal::ProofNotEmpty | Refusal::BadEmptyRoot => 422,
            Refusal::Misconfigured(_) => 500,
        }
    }

    /// For a 409, the latest cosigned size the body must carry.
    pub fn latest_size(&self) -> Option<u64> {
        match self {
            Refusal::SizeMismatch { latest, .. } | Refusal::RootMismatch { latest } => {
                Some(*latest)
            }
            _ => None,
        }
    }

    /// The response body: `<latest size>\n` for a 409, the reason and a newline otherwise.
    pub fn body(&self) -> Vec<u8> {
        match self.latest_size() {
            Some(size) => format!("{size}\n").into_bytes(),
            None => format!("{self}\n").into_bytes(),
        }
    }

    /// The response content type: [`SIZE_CONTENT_TYPE`] for a 409, plain text otherwise.
    pub fn content_type(&self) -> &'static str {
        if self.latest_size().is_some() { SIZE_CONTENT_TYPE } else { TEXT_CONTENT_TYPE }
    }
}

/// Decides an `add-checkpoint` request for one origin.
///
/// `trusted` are the log keys the witness trusts for the request's origin (found with
/// [`AddCheckpoint::origin`]); `latest` is the (size, root) of the latest checkpoint the
/// witness cosigned for that origin, `None` if it never did. The checks follow the spec's
/// order: well-formedness (400), trusted signature (403), old size ≤ size (400), old size =
/// latest size (409), then the consistency proof (422) or, for equal sizes, equal roots (409).
/// An empty `trusted` set is treated as an unknown origin (404).
pub fn decide(
    request: &AddCheckpoint,
    trusted: &Verifiers,
    latest: Option<(u64, Hash)>,
) -> Result<Accepted, Refusal> {
    if trusted.is_empty() {
        return Err(Refusal::UnknownOrigin);
    }
    request.parsed_checkpoint()?;
    let opened = match note::open(&request.checkpoint, trusted) {
        Ok(opened) => opened,
        Err(NoteError::NotSigned) => return Err(Refusal::NotSigned),
        Err(NoteError::InvalidSignature { name, id }) => {
            return Err(Refusal::InvalidSignature { key: format!("{name}+{id:08x}") });
        }
        Err(error @ NoteError::AmbiguousKey { .. }) => {
            return Err(Refusal::Misconfigured(error.to_string()));
        }
        Err(error) => return Err(RequestError::Checkpoint(error.into()).into()),
    };
    let checkpoint = Checkpoint::parse(opened.text()).map_err(RequestError::from)?;
    let (old, size) = (request.old, checkpoint.size);
    if old > size {
        return Err(Refusal::OldSizeTooLarge { old, size });
    }
    let (latest_size, latest_root) = latest.unwrap_or((0, EMPTY_ROOT));
    if old != latest_size {
        return Err(Refusal::SizeMismatch { old, latest: latest_size });
    }
    if size == 0 && checkpoint.root != EMPTY_ROOT {
        return Err(Refusal::BadEmptyRoot);
    }
    if old == 0 {
        if !request.proof.is_empty() {
            return Err(Refusal::ProofNotEmpty);
        }
    } else if old == size {
        if checkpoint.root != latest_root {
            return Err(Refusal::RootMismatch { latest: latest_size });
        }
        if !request.proof.is_empty() {
            return Err(Refusal::BadProof(ProofError::WrongLength { got: request.proof.len() }));
        }
    } else {
        verify_consistency(old, size, &request.proof, &latest_root, &checkpoint.root)
            .map_err(Refusal::BadProof)?;
    }
    Ok(Accepted { checkpoint, text: opened.text_bytes().to_vec() })
}

/// The 200 response body: one cosignature line per signature.
pub fn response_body(cosignatures: &[NoteSignature]) -> Vec<u8> {
    cosignatures.iter().flat_map(|s| s.line().into_bytes()).collect()
}

/// Why a witness's response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The body is larger than [`MAX_RESPONSE_SIZE`].
    #[error("response is {size} bytes, more than the limit of {MAX_RESPONSE_SIZE}")]
    TooLarge {
        /// The size of the body in bytes.
        size: usize,
    },
    /// The body is not one or more well-formed signature lines.
    #[error("malformed cosignature response: {0}")]
    Malformed(NoteError),
    /// A 409 body is not a decimal size followed by a newline.
    #[error("malformed tree size response")]
    InvalidSize,
}

/// Parses a witness's 200 response into its signature lines. They are not verified: append
/// them to the checkpoint (see [`crate::note::append_signatures`]) and open it with the
/// witness keys you trust, which also ignores lines from unknown keys.
pub fn parse_response(body: &[u8]) -> Result<Vec<NoteSignature>, ResponseError> {
    if body.len() > MAX_RESPONSE_SIZE {
        return Err(ResponseError::TooLarge { size: body.len() });
    }
    let malformed = ResponseError::Malformed;
    let text = std::str::from_utf8(body).map_err(|_| malformed(NoteError::InvalidUtf8))?;
    if let Some(offset) = text.bytes().position(|b| b < 0x20 && b != b'\n') {
        return Err(malformed(NoteError::ControlCharacter { offset }));
    }
    if text.is_empty() {
        return Err(malformed(NoteError::MissingSignatures));
    }
    let lines = text.strip_suffix('\n').ok_or(malformed(NoteError::UnterminatedSignature))?;
    let mut signatures = Vec::new();
    for (i, line) in lines.split('\n').enumerate() {
        if i == MAX_SIGNATURES {
            return Err(malformed(NoteError::TooManySignatures));
        }
        signatures.push(NoteSignature::parse_line(line, i + 1).map_err(malformed)?);
    }
    Ok(signatures)
}

/// Parses a 409 response body, `<size>\n`.
pub fn parse_size_body(body: &[u8]) -> Result<u64, ResponseError> {
    let text = body.strip_suffix(b"\n").ok_or(ResponseError::InvalidSize)?;
    let text = std::str::from_utf8(text).map_err(|_| ResponseError::InvalidSize)?;
    parse_decimal(text).ok_or(ResponseError::InvalidSize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{Policy, sign};
    use crate::hash::leaf_hash;
    use crate::note::{KeyKind, append_signatures, open};

    fn h(hex: &str) -> Hash {
        Hash::from_hex(hex).unwrap()
    }

    /// Roots of the RFC 6962 8-leaf test tree by size, and two consistency proofs.
    const ROOT2: &str = "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125";
    const ROOT5: &str = "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4";
    const ROOT6: &str = "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef";
    const ROOT8: &str = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";
    const PROOF_2_5: [&str; 2] = [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ];
    const PROOF_6_8: [&str; 3] = [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ];

    const ORIGIN: &str = "example.com/log";

    fn log() -> Signer {
        Signer::from_seed(ORIGIN, KeyKind::Ed25519, [1; 32]).unwrap()
    }

    fn trusted() -> Verifiers {
        Verifiers::from_iter([log().verifier()])
    }

    fn witness() -> Signer {
        Signer::from_seed("witness.example/w1", KeyKind::Cosignature, [3; 32]).unwrap()
    }

    fn request(old: u64, proof: &[&str], size: u64, root: &str) -> AddCheckpoint {
        let note = sign(&Checkpoint::new(ORIGIN, size, h(root)), &log()).unwrap();
        AddCheckpoint { old, proof: proof.iter().map(|p| h(p)).collect(), checkpoint: note }
    }

    #[test]
    fn body_round_trip_matches_the_spec_layout() {
        let r = request(6, &PROOF_6_8, 8, ROOT8);
        let bytes = r.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with("old 6\nDrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=\n"),
            "{text}"
        );
        assert!(text.contains("=\n\nexample.com/log\n8\n"));
        assert_eq!(AddCheckpoint::parse(&bytes), Ok(r.clone()));
        assert_eq!(r.origin().unwrap(), ORIGIN);
        let empty = request(0, &[], 8, ROOT8);
        assert!(empty.to_bytes().starts_with(b"old 0\n\nexample.com/log\n"));
        assert_eq!(AddCheckpoint::parse(&empty.to_bytes()), Ok(empty));
    }

    #[test]
    fn parse_errors() {
        let good = String::from_utf8(request(6, &PROOF_6_8, 8, ROOT8).to_bytes()).unwrap();
        let cases: Vec<(String, RequestError)> = vec![
            (good.replacen("old 6", "old 06", 1), RequestError::InvalidOldSize),
            (good.replacen("old 6", "old -6", 1), RequestError::InvalidOldSize),
            (good.replacen("old 6", "Old 6", 1), RequestError::InvalidOldSize),
            (good.replacen("old 6", "old  6", 1), RequestError::InvalidOldSize),
            ("old 6".into(), RequestError::InvalidOldSize),
            ("old 6\n".into(), RequestError::Truncated),
            (good.replacen("Drxd", "Drx", 1), RequestError::InvalidProofLine(1)),
            (good.replacen("\n\nexample", "\nexample", 1), RequestError::InvalidProofLine(4)),
        ];
        for (body, error) in cases {
            assert_eq!(AddCheckpoint::parse(body.as_bytes()), Err(error), "{body:?}");
        }
        let mut long = request(6, &[], 8, ROOT8);
        long.proof = vec![Hash::default(); MAX_PROOF_LINES];
        assert!(AddCheckpoint::parse(&long.to_bytes()).is_ok());
        long.proof.push(Hash::default());
        assert_eq!(AddCheckpoint::parse(&long.to_bytes()), Err(RequestError::TooManyProofLines));
        let unsigned = AddCheckpoint { old: 0, proof: vec![], checkpoint: b"o\n1\n".to_vec() };
        assert!(matches!(
            AddCheckpoint::parse(&unsigned.to_bytes()),
            Err(RequestError::Checkpoint(_))
        ));
        let not_checkpoint = AddCheckpoint {
            checkpoint: {
                let mut n = Note::new("hello\n").unwrap();
                n.sign(&log()).unwrap();
                n.to_bytes()
            },
            ..unsigned
        };
        assert_eq!(
            AddCheckpoint::parse(&not_checkpoint.to_bytes()),
            Err(RequestError::Checkpoint(CheckpointError::TooFewLines(1)))
        );
        let big = vec![b'a'; MAX_BODY_SIZE + 1];
        assert_eq!(
            AddCheckpoint::parse(&big),
            Err(RequestError::TooLarge { size: MAX_BODY_SIZE + 1 })
        );
    }

    #[test]
    fn accepts_first_checkpoint_consistent_updates_and_repeats() {
        // Never cosigned: old 0, empty proof.
        let a = decide(&request(0, &[], 5, ROOT5), &trusted(), None).unwrap();
        assert_eq!(a.checkpoint, Checkpoint::new(ORIGIN, 5, h(ROOT5)));
        assert_eq!(a.text, a.checkpoint.to_text().into_bytes());
        // Consistent update 2 → 5 and 6 → 8.
        assert!(decide(&request(2, &PROOF_2_5, 5, ROOT5), &trusted(), Some((2, h(ROOT2)))).is_ok());
        assert!(decide(&request(6, &PROOF_6_8, 8, ROOT8), &trusted(), Some((6, h(ROOT6)))).is_ok());
        // The same checkpoint again gets a fresh cosignature.
        assert!(decide(&request(8, &[], 8, ROOT8), &trusted(), Some((8, h(ROOT8)))).is_ok());
        // The empty tree.
        let empty = EMPTY_ROOT.to_hex();
        assert!(decide(&request(0, &[], 0, &empty), &trusted(), None).is_ok());
        assert!(decide(&request(0, &[], 0, &empty), &trusted(), Some((0, EMPTY_ROOT))).is_ok());
    }

    fn refusal(result: Result<Accepted, Refusal>) -> (u16, Refusal) {
        let refusal = result.unwrap_err();
        (refusal.status(), refusal)
    }

    #[test]
    fn status_400_malformed_and_old_too_large() {
        let mut bad = request(0, &[], 5, ROOT5);
        bad.checkpoint.truncate(bad.checkpoint.len() - 1);
        let (status, r) = refusal(decide(&bad, &trusted(), None));
        assert_eq!(status, 400);
        assert!(matches!(r, Refusal::Malformed(_)));
        let (status, r) =
            refusal(decide(&request(8, &[], 5, ROOT5), &trusted(), Some((8, h(ROOT8)))));
        assert_eq!((status, r), (400, Refusal::OldSizeTooLarge { old: 8, size: 5 }));
        assert_eq!(Refusal::from(RequestError::InvalidOldSize).status(), 400);
    }

    #[test]
    fn status_403_untrusted_or_bad_signature() {
        let stranger = Signer::from_seed(ORIGIN, KeyKind::Ed25519, [9; 32]).unwrap();
        let note = sign(&Checkpoint::new(ORIGIN, 5, h(ROOT5)), &stranger).unwrap();
        let r = AddCheckpoint { old: 0, proof: vec![], checkpoint: note };
        assert_eq!(refusal(decide(&r, &trusted(), None)), (403, Refusal::NotSigned));

        let mut forged = request(0, &[], 5, ROOT5);
        let text = String::from_utf8(forged.checkpoint.clone()).unwrap();
        forged.checkpoint = text.replacen("\n5\n", "\n6\n", 1).into_bytes();
        let key = format!("{ORIGIN}+{:08x}", log().id());
        assert_eq!(
            refusal(decide(&forged, &trusted(), None)),
            (403, Refusal::InvalidSignature { key })
        );
    }

    #[test]
    fn status_404_unknown_origin() {
        let (status, r) = refusal(decide(&request(0, &[], 5, ROOT5), &Verifiers::new(), None));
        assert_eq!((status, r.clone()), (404, Refusal::UnknownOrigin));
        assert_eq!(r.content_type(), TEXT_CONTENT_TYPE);
    }

    #[test]
    fn status_409_size_mismatch_and_fork() {
        // Old size differs from the latest cosigned size, including "never cosigned".
        let (status, r) = refusal(decide(&request(2, &PROOF_2_5, 5, ROOT5), &trusted(), None));
        assert_eq!((status, r.clone()), (409, Refusal::SizeMismatch { old: 2, latest: 0 }));
        assert_eq!((r.body(), r.content_type()), (b"0\n".to_vec(), SIZE_CONTENT_TYPE));
        let (status, r) =
            refusal(decide(&request(0, &[], 8, ROOT8), &trusted(), Some((6, h(ROOT6)))));
        assert_eq!((status, r.clone()), (409, Refusal::SizeMismatch { old: 0, latest: 6 }));
        assert_eq!(r.body(), b"6\n");
        assert_eq!(parse_size_body(&r.body()), Ok(6));
        // Same size, different root: a fork.
        let (status, r) =
            refusal(decide(&request(8, &[], 8, ROOT8), &trusted(), Some((8, h(ROOT6)))));
        assert_eq!((status, r.clone()), (409, Refusal::RootMismatch { latest: 8 }));
        assert_eq!((r.body(), r.content_type()), (b"8\n".to_vec(), SIZE_CONTENT_TYPE));
    }

    #[test]
    fn status_422_bad_proofs_and_bad_empty_root() {
        // A proof that does not verify.
        let mut wrong = PROOF_6_8;
        wrong.swap(0, 1);
        let (status, r) =
            refusal(decide(&request(6, &wrong, 8, ROOT8), &trusted(), Some((6, h(ROOT6)))));
        assert_eq!((status, r), (422, Refusal::BadProof(ProofError::Mismatch)));
        // The right proof against a different stored root.
        let (status, _) =
            refusal(decide(&request(6, &PROOF_6_8, 8, ROOT8), &trusted(), Some((6, h(ROOT5)))));
        assert_eq!(status, 422);
        // A missing proof.
        let (status, _) =
            refusal(decide(&request(6, &[], 8, ROOT8), &trusted(), Some((6, h(ROOT6)))));
        assert_eq!(status, 422);
        // A proof for equal sizes.
        let (status, _) = refusal(decide(
            &request(8, &PROOF_6_8[..1], 8, ROOT8),
            &trusted(),
            Some((8, h(ROOT8))),
        ));
        assert_eq!(status, 422);
        // A proof when old is 0.
        let (status, r) = refusal(decide(&request(0, &PROOF_2_5, 5, ROOT5), &trusted(), None));
        assert_eq!((status, r), (422, Refusal::ProofNotEmpty));
        // An empty tree with a non-empty root.
        let (status, r) = refusal(decide(&request(0, &[], 0, ROOT5), &trusted(), None));
        assert_eq!((status, r), (422, Refusal::BadEmptyRoot));
    }

    #[test]
    fn status_500_ambiguous_configuration() {
        let keys = Verifiers::from_iter([log().verifier(), log().verifier()]);
        let (status, r) = refusal(decide(&request(0, &[], 5, ROOT5), &keys, None));
        assert_eq!(status, 500);
        assert!(r.to_string().contains("ambiguous key example.com/log+"), "{r}");
    }

    #[test]
    fn cosign_respond_and_read_back() {
        let r = request(0, &[], 8, ROOT8);
        let accepted = decide(&r, &trusted(), None).unwrap();
        let w = witness();
        let sig = accepted.cosign(&w, 1_700_000_000).unwrap();
        let body = response_body(std::slice::from_ref(&sig));
        assert!(body.starts_with("— witness.example/w1 ".as_bytes()) && body.ends_with(b"\n"));
        let sigs = parse_response(&body).unwrap();
        assert_eq!(sigs, [sig]);
        let cosigned = append_signatures(&r.checkpoint, &sigs).unwrap();
        let opened = open(&cosigned, &Verifiers::from_iter([w.verifier()])).unwrap();
        assert_eq!(opened.verified()[0].timestamp, Some(1_700_000_000));
        let policy =
            Policy { log_keys: vec![log().verifier()], witnesses: vec![w.verifier()], quorum: 1 };
        assert_eq!(policy.verify(&cosigned).unwrap().checkpoint.size, 8);
        assert_eq!(accepted.to_string(), "example.com/log at size 8");
    }

    #[test]
    fn response_parsing_is_strict() {
        let line = "— w AAAAAAA=\n";
        assert_eq!(parse_response(line.as_bytes()).unwrap().len(), 1);
        assert!(parse_response(line.repeat(3).as_bytes()).is_ok());
        for bad in ["", "\n", "— w AAAAAAA=", "x\n", "— w AAAAAAA=\n\n", "— w AAAAAAA=\r\n"] {
            assert!(parse_response(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(matches!(
            parse_response(&vec![b'a'; MAX_RESPONSE_SIZE + 1]),
            Err(ResponseError::TooLarge { .. })
        ));
        assert_eq!(
            parse_response(b"\x01"),
            Err(ResponseError::Malformed(NoteError::ControlCharacter { offset: 0 }))
        );
        for bad in ["", "5", "05\n", "5\n\n", "-1\n", "x\n"] {
            assert_eq!(parse_size_body(bad.as_bytes()), Err(ResponseError::InvalidSize), "{bad:?}");
        }
        assert_eq!(parse_size_body(b"0\n"), Ok(0));
    }

    #[test]
    fn leaf_hash_sanity_for_the_vectors() {
        // The proofs above are from the tree whose leaf 4 is 3031.
        assert_eq!(leaf_hash(&[0x30, 0x31]), h(PROOF_2_5[1]));
    }
}
