//! c2sp.org/signed-note: verifier keys, signer keys, signing, and opening notes against known keys.
//!
//! A note is a text ending in a newline, a blank line, and one or more signature lines
//! `— <key name> base64(key ID ‖ signature)`. Opening a note checks every signature whose
//! (name, key ID) is known, rejects the whole note if a known key's signature fails, ignores
//! signatures from unknown keys, and fails unless at least one known key signed.
//!
//! Two signature types are supported: `0x01` Ed25519 over the note text, and `0x04` timestamped
//! Ed25519 cosignatures (c2sp.org/tlog-cosignature, see [`crate::cosignature`]).
//!
//! Key strings follow golang.org/x/mod/sumdb/note: a verifier key (vkey) is
//! `<name>+<hex8 key ID>+<base64(type ‖ public key)>`, a private key is
//! `PRIVATE+KEY+<name>+<hex8 key ID>+<base64(type ‖ 32-byte seed)>`. Base64 may contain `+`, so
//! both are split with a limit. Base64 is decoded strictly (canonical padding and trailing
//! bits), so every parsed signature re-encodes to exactly the bytes it was read from.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::cosignature;
pub use crate::precheck::Prechecked;

/// The largest note [`Note::parse`] and [`open`] accept, in bytes (1 MiB).
pub const MAX_NOTE_SIZE: usize = 1 << 20;

/// The most signature lines [`Note::parse`] and [`open`] accept (the spec demands at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// The start of every signature line: em dash (U+2014) and a space.
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// The size of an Ed25519 public key, private seed and signature.
const KEY_SIZE: usize = 32;
const ED25519_SIGNATURE_SIZE: usize = 64;

/// The signature types this crate knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// Type `0x01`: an Ed25519 signature over the note text (c2sp.org/signed-note).
    Ed25519,
    /// Type `0x04`: a timestamped Ed25519 `cosignature/v1` (c2sp.org/tlog-cosignature).
    Cosignature,
}

impl KeyKind {
    /// The signature type byte of this kind.
    pub const fn type_byte(self) -> u8 {
        match self {
            KeyKind::Ed25519 => 0x01,
            KeyKind::Cosignature => 0x04,
        }
    }

    /// The kind with this signature type byte, if this crate supports it.
    pub const fn from_type_byte(byte: u8) -> Option<KeyKind> {
        match byte {
            0x01 => Some(KeyKind::Ed25519),
            0x04 => Some(KeyKind::Cosignature),
            _ => None,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::Ed25519 => f.write_str("Ed25519 (0x01)"),
            KeyKind::Cosignature => f.write_str("cosignature/v1 (0x04)"),
        }
    }
}

/// Why a verifier or private key string, or a key built from parts, was rejected.
///
/// The messages never contain private key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The string does not have the `+`-separated parts its format requires.
    #[error("malformed key string: expected {0}")]
    Malformed(&'static str),
    /// A private key string does not start with `PRIVATE+KEY+`.
    #[error("not a private key string: it must start with PRIVATE+KEY+")]
    NotPrivateKey,
    /// The key name is empty or contains a Unicode space or a `+`.
    #[error("invalid key name: it must be non-empty and contain no spaces and no '+'")]
    InvalidName,
    /// The key ID field is not exactly eight lower-case hex digits.
    #[error("invalid key ID: it must be exactly 8 lower-case hex digits")]
    InvalidId,
    /// The key material is not canonical standard base64.
    #[error("key material is not valid base64")]
    InvalidBase64,
    /// The key material is empty, so it has no signature type byte.
    #[error("key material is empty")]
    Empty,
    /// The signature type byte is not one this crate supports (0x01 or 0x04).
    #[error("unsupported signature type 0x{0:02x}")]
    UnsupportedType(u8),
    /// The key after the type byte is not 32 bytes long.
    #[error("key is {0} bytes long, expected 32")]
    WrongLength(usize),
    /// The key ID in the string is not the one computed from the name, type and key.
    #[error("key ID {found:08x} does not match the key, whose ID is {expected:08x}")]
    IdMismatch {
        /// The key ID written in the string.
        found: u32,
        /// The key ID computed from name, type and public key.
        expected: u32,
    },
    /// The public key is not the encoding of a point on the Ed25519 curve.
    #[error("public key is not a valid Ed25519 point")]
    InvalidPoint,
}

/// Why a note could not be parsed, built, signed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note (or its text) is larger than [`MAX_NOTE_SIZE`].
    #[error("note is {size} bytes, more than the limit of {MAX_NOTE_SIZE}")]
    TooLarge {
        /// The size of the input in bytes.
        size: usize,
    },
    /// The note is not valid UTF-8.
    #[error("note is not valid UTF-8")]
    InvalidUtf8,
    /// The note contains an ASCII control character other than newline.
    #[error("note contains a control character at byte {offset}")]
    ControlCharacter {
        /// The byte offset of the character.
        offset: usize,
    },
    /// The text is empty or does not end with a newline.
    #[error("note text must be non-empty and end with a newline")]
    UnterminatedText,
    /// There is no blank line followed by signature lines.
    #[error("note has no blank line followed by signatures")]
    MissingSignatures,
    /// The last signature line does not end with a newline.
    #[error("the last signature line does not end with a newline")]
    UnterminatedSignature,
    /// The note has more than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// A signature line is not `— <name> <base64>` with a valid name and at least 5 bytes.
    #[error("signature line {line} is malformed: {reason}")]
    MalformedSignature {
        /// The 1-based number of the line within the signature block.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A signature to be added has an invalid key name or no signature bytes.
    #[error("invalid signature: {0}")]
    InvalidSignatureData(&'static str),
    /// No configured key has this name and key ID.
    #[error("unknown key {name}+{id:08x}")]
    UnknownKey {
        /// The key name.
        name: String,
        /// The key ID.
        id: u32,
    },
    /// Several configured keys have this name and key ID.
    #[error("ambiguous key {name}+{id:08x}")]
    AmbiguousKey {
        /// The key name.
        name: String,
        /// The key ID.
        id: u32,
    },
    /// A signature from a known key did not verify, so the whole note is rejected.
    #[error("invalid signature for key {name}+{id:08x}")]
    InvalidSignature {
        /// The key name.
        name: String,
        /// The key ID.
        id: u32,
    },
    /// No signature on the note came from a known key.
    #[error("no known key signed this note")]
    NotSigned,
    /// The signer's key is of the wrong kind for this operation.
    #[error("a {found} key cannot be used here; a {expected} key is needed")]
    WrongKeyKind {
        /// The kind this operation needs.
        expected: KeyKind,
        /// The kind of the key that was given.
        found: KeyKind,
    },
}

/// Whether `name` is a valid key name: non-empty, without Unicode spaces and without `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

/// The key ID `SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]`, read big-endian.
pub fn key_id(name: &str, kind: KeyKind, public_key: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', kind.type_byte()]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Parses exactly eight lower-case hex digits.
fn parse_key_id(text: &str) -> Result<u32, KeyError> {
    if text.len() != 8 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(KeyError::InvalidId);
    }
    u32::from_str_radix(text, 16).map_err(|_| KeyError::InvalidId)
}

/// Base64 of the type byte and a 32-byte key is always 44 characters.
const KEY_MATERIAL_BASE64_LEN: usize = 44;

/// Decodes `base64(type ‖ 32 bytes)` into the kind and the 32 bytes. The decoded bytes live
/// only in a zeroizing buffer, so this is also used for private seeds.
fn decode_key_material(text: &str) -> Result<(KeyKind, Zeroizing<[u8; 32]>), KeyError> {
    if text.is_empty() {
        return Err(KeyError::Empty);
    }
    // Bound the work (and the allocation) before decoding: a valid key is 44 characters.
    if text.len() > 4 * KEY_MATERIAL_BASE64_LEN {
        return Err(KeyError::WrongLength(text.len() / 4 * 3 - 1));
    }
    let mut decoded = Zeroizing::new(Vec::with_capacity(text.len()));
    BASE64.decode_vec(text, &mut decoded).map_err(|_| KeyError::InvalidBase64)?;
    let (&type_byte, key) = decoded.split_first().ok_or(KeyError::Empty)?;
    let kind = KeyKind::from_type_byte(type_byte).ok_or(KeyError::UnsupportedType(type_byte))?;
    let mut out = Zeroizing::new([0u8; KEY_SIZE]);
    if key.len() != KEY_SIZE {
        return Err(KeyError::WrongLength(key.len()));
    }
    out.copy_from_slice(key);
    Ok((kind, out))
}

/// Encodes `base64(type ‖ key)` onto `out`.
fn encode_key_material(kind: KeyKind, key: &[u8; 32], out: &mut String) {
    let mut material = Zeroizing::new([0u8; 1 + KEY_SIZE]);
    material[0] = kind.type_byte();
    material[1..].copy_from_slice(key);
    BASE64.encode_string(&material[..], out);
}

/// A public key that can verify note signatures: a name, a key ID, a signature type and an
/// Ed25519 public key. Its text form is the vkey string.
#[derive(Clone)]
pub struct VerifierKey {
    name: String,
    id: u32,
    kind: KeyKind,
    key: VerifyingKey,
}

impl VerifierKey {
    /// A verifier key from its parts; the key ID is computed.
    pub fn new(name: &str, kind: KeyKind, public_key: &[u8; 32]) -> Result<VerifierKey, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| KeyError::InvalidPoint)?;
        Ok(VerifierKey { name: name.to_owned(), id: key_id(name, kind, public_key), kind, key })
    }

    /// Parses a vkey string `<name>+<hex8 key ID>+<base64(type ‖ public key)>`. The key ID must
    /// be the one computed from the name, type and key.
    pub fn parse(vkey: &str) -> Result<VerifierKey, KeyError> {
        const EXPECTED: &str = "<name>+<key ID>+<key>";
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(KeyError::Malformed(EXPECTED));
        };
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        let id = parse_key_id(id)?;
        let (kind, public_key) = decode_key_material(material)?;
        let expected = key_id(name, kind, &public_key);
        if id != expected {
            return Err(KeyError::IdMismatch { found: id, expected });
        }
        VerifierKey::new(name, kind, &public_key)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The signature type.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// The Ed25519 key, for batch verification ([`crate::precheck`]).
    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether `signature` is a valid strict Ed25519 signature of `message` by this key. Weak
    /// (small-order) keys and non-canonical signatures are rejected.
    pub(crate) fn verify_ed25519(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <&[u8; ED25519_SIGNATURE_SIZE]>::try_from(signature) else {
            return false;
        };
        self.key.verify_strict(message, &Signature::from_bytes(bytes)).is_ok()
    }

    /// Checks `signature` (the bytes after the key ID) on `text` according to this key's type.
    /// Returns the cosignature timestamp for cosignature keys.
    fn verify_note_signature(&self, text: &str, signature: &[u8]) -> Result<Option<u64>, ()> {
        match self.kind {
            KeyKind::Ed25519 => {
                if self.verify_ed25519(text.as_bytes(), signature) {
                    Ok(None)
                } else {
                    Err(())
                }
            }
            KeyKind::Cosignature => {
                cosignature::verify(self, text.as_bytes(), signature).map(Some).map_err(|_| ())
            }
        }
    }
}

impl PartialEq for VerifierKey {
    fn eq(&self, other: &VerifierKey) -> bool {
        self.name == other.name
            && self.id == other.id
            && self.kind == other.kind
            && self.key.as_bytes() == other.key.as_bytes()
    }
}

impl Eq for VerifierKey {}

impl std::hash::Hash for VerifierKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.id.hash(state);
        self.kind.hash(state);
        self.key.as_bytes().hash(state);
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = String::with_capacity(KEY_MATERIAL_BASE64_LEN);
        encode_key_material(self.kind, self.key.as_bytes(), &mut material);
        write!(f, "{}+{:08x}+{}", self.name, self.id, material)
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl FromStr for VerifierKey {
    type Err = KeyError;

    fn from_str(vkey: &str) -> Result<VerifierKey, KeyError> {
        VerifierKey::parse(vkey)
    }
}

/// A private key that signs notes (type `0x01`) or cosigns checkpoints (type `0x04`).
///
/// The seed is zeroized when the signer is dropped and never appears in `Debug` output.
pub struct Signer {
    name: String,
    id: u32,
    kind: KeyKind,
    key: SigningKey,
}

impl Signer {
    /// A signer from a 32-byte Ed25519 seed. The caller supplies the randomness (this crate
    /// does no I/O): draw the seed from the operating system's CSPRNG.
    pub fn from_seed(name: &str, kind: KeyKind, seed: [u8; 32]) -> Result<Signer, KeyError> {
        let seed = Zeroizing::new(seed);
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, kind, key.verifying_key().as_bytes());
        Ok(Signer { name: name.to_owned(), id, kind, key })
    }

    /// A new random signer, drawing the seed from `rng`.
    pub fn generate<R>(name: &str, kind: KeyKind, rng: &mut R) -> Result<Signer, KeyError>
    where
        R: ed25519_dalek::rand_core::CryptoRng + ?Sized,
    {
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        let key = SigningKey::generate(rng);
        let id = key_id(name, kind, key.verifying_key().as_bytes());
        Ok(Signer { name: name.to_owned(), id, kind, key })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex8 key ID>+<base64(type ‖ 32-byte seed)>`, the
    /// golang.org/x/mod/sumdb/note format (type `0x04` is accepted for cosigner keys). The key ID
    /// must match the public key derived from the seed.
    pub fn parse(skey: &str) -> Result<Signer, KeyError> {
        const EXPECTED: &str = "PRIVATE+KEY+<name>+<key ID>+<key>";
        let mut parts = skey.splitn(5, '+');
        let (Some(private), Some(key), Some(name), Some(id), Some(material)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(if skey.starts_with("PRIVATE+KEY+") {
                KeyError::Malformed(EXPECTED)
            } else {
                KeyError::NotPrivateKey
            });
        };
        if private != "PRIVATE" || key != "KEY" {
            return Err(KeyError::NotPrivateKey);
        }
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        let id = parse_key_id(id)?;
        let (kind, seed) = decode_key_material(material)?;
        let signer = Signer::from_seed(name, kind, *seed)?;
        if signer.id != id {
            return Err(KeyError::IdMismatch { found: id, expected: signer.id });
        }
        Ok(signer)
    }

    /// The private key string `PRIVATE+KEY+<name>+<hex8>+<base64(type ‖ seed)>`, in a buffer
    /// that is wiped when dropped.
    pub fn to_private_string(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(
            "PRIVATE+KEY+".len() + self.name.len() + 10 + KEY_MATERIAL_BASE64_LEN,
        ));
        out.push_str("PRIVATE+KEY+");
        out.push_str(&self.name);
        out.push('+');
        out.push_str(&format!("{:08x}", self.id));
        out.push('+');
        encode_key_material(self.kind, self.key.as_bytes(), &mut out);
        out
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The signature type.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            kind: self.kind,
            key: self.key.verifying_key(),
        }
    }

    /// Signs a note text with an Ed25519 (type `0x01`) key. Cosigner keys sign with
    /// [`crate::cosignature::cosign`] instead.
    pub fn sign(&self, text: &str) -> Result<NoteSignature, NoteError> {
        if self.kind != KeyKind::Ed25519 {
            return Err(NoteError::WrongKeyKind { expected: KeyKind::Ed25519, found: self.kind });
        }
        validate_text(text)?;
        Ok(self.signature(self.sign_raw(text.as_bytes()).to_vec()))
    }

    /// A plain Ed25519 signature of `message`.
    pub(crate) fn sign_raw(&self, message: &[u8]) -> [u8; ED25519_SIGNATURE_SIZE] {
        use ed25519_dalek::Signer as _;
        self.key.sign(message).to_bytes()
    }

    /// A note signature by this key with the given signature bytes.
    pub(crate) fn signature(&self, bytes: Vec<u8>) -> NoteSignature {
        NoteSignature { name: self.name.clone(), id: self.id, bytes }
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("id", &format_args!("{:08x}", self.id))
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// One signature line of a note: the key name, the key ID and the signature bytes (without the
/// key ID). For cosignatures the bytes are the 8-byte timestamp and the Ed25519 signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key ID.
    pub id: u32,
    /// The signature, without the key ID.
    pub bytes: Vec<u8>,
}

impl NoteSignature {
    /// The signature line `— <name> base64(key ID ‖ bytes)\n`.
    pub fn line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.bytes.len());
        raw.extend_from_slice(&self.id.to_be_bytes());
        raw.extend_from_slice(&self.bytes);
        let mut line = String::with_capacity(
            SIGNATURE_PREFIX.len() + self.name.len() + 2 + raw.len() * 4 / 3 + 4,
        );
        line.push_str(SIGNATURE_PREFIX);
        line.push_str(&self.name);
        line.push(' ');
        BASE64.encode_string(&raw, &mut line);
        line.push('\n');
        line
    }

    /// Parses one signature line without its final newline. `number` is the line's 1-based
    /// position, used in errors.
    pub(crate) fn parse_line(line: &str, number: usize) -> Result<NoteSignature, NoteError> {
        let error = |reason| NoteError::MalformedSignature { line: number, reason };
        let rest =
            line.strip_prefix(SIGNATURE_PREFIX).ok_or(error("does not start with \"— \""))?;
        let (name, encoded) = rest.split_once(' ').ok_or(error("no space after the key name"))?;
        if !is_valid_key_name(name) {
            return Err(error("invalid key name"));
        }
        let raw = BASE64.decode(encoded).map_err(|_| error("signature is not valid base64"))?;
        if raw.len() < 5 {
            return Err(error("signature is shorter than 5 bytes"));
        }
        let id = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        Ok(NoteSignature { name: name.to_owned(), id, bytes: raw[4..].to_vec() })
    }

    /// Checks the fields can form a signature line.
    fn validate(&self) -> Result<(), NoteError> {
        if !is_valid_key_name(&self.name) {
            return Err(NoteError::InvalidSignatureData("invalid key name"));
        }
        if self.bytes.is_empty() {
            return Err(NoteError::InvalidSignatureData("no signature bytes"));
        }
        Ok(())
    }
}

/// Checks a note text: at most [`MAX_NOTE_SIZE`] bytes, non-empty, ending in a newline, and
/// without control characters other than newline.
pub(crate) fn validate_text(text: &str) -> Result<(), NoteError> {
    if text.len() > MAX_NOTE_SIZE {
        return Err(NoteError::TooLarge { size: text.len() });
    }
    check_control_characters(text)?;
    if !text.ends_with('\n') {
        return Err(NoteError::UnterminatedText);
    }
    Ok(())
}

fn check_control_characters(text: &str) -> Result<(), NoteError> {
    match text.bytes().position(|b| b < 0x20 && b != b'\n') {
        Some(offset) => Err(NoteError::ControlCharacter { offset }),
        None => Ok(()),
    }
}

/// A note: its text and its signatures, in order. It has not necessarily been verified; use
/// [`open`] for that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// An unsigned note with this text, which must be non-empty, end with a newline and have no
    /// control characters other than newline.
    pub fn new(text: impl Into<String>) -> Result<Note, NoteError> {
        let text = text.into();
        validate_text(&text)?;
        Ok(Note { text, signatures: Vec::new() })
    }

    /// Parses the structure of a signed note, without checking any signature: size and
    /// signature-count limits, UTF-8, control characters, the blank line before the signatures
    /// (the last one in the note) and each signature line.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge { size: bytes.len() });
        }
        let note = std::str::from_utf8(bytes).map_err(|_| NoteError::InvalidUtf8)?;
        check_control_characters(note)?;
        let split = note.rfind("\n\n").ok_or(NoteError::MissingSignatures)?;
        let (text, block) = (&note[..split + 1], &note[split + 2..]);
        if block.is_empty() {
            return Err(NoteError::MissingSignatures);
        }
        let block = block.strip_suffix('\n').ok_or(NoteError::UnterminatedSignature)?;
        let mut signatures = Vec::new();
        for (i, line) in block.split('\n').enumerate() {
            if i == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(NoteSignature::parse_line(line, i + 1)?);
        }
        Ok(Note { text: text.to_owned(), signatures })
    }

    /// The text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Appends a signature line.
    pub fn push_signature(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        signature.validate()?;
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// Signs the text with an Ed25519 signer and appends the signature.
    pub fn sign(&mut self, signer: &Signer) -> Result<(), NoteError> {
        let signature = signer.sign(&self.text)?;
        self.push_signature(signature)
    }

    /// The encoded note: text, blank line, signature lines. A note without signatures encodes
    /// to something [`Note::parse`] rejects.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 1 + 128 * self.signatures.len());
        out.extend_from_slice(self.text.as_bytes());
        out.push(b'\n');
        for signature in &self.signatures {
            out.extend_from_slice(signature.line().as_bytes());
        }
        out
    }
}

/// A set of known verifier keys, looked up by (name, key ID).
///
/// As in golang.org/x/mod/sumdb/note, a (name, key ID) configured more than once is ambiguous
/// and an error when a signature names it, even if the duplicates are the same key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verifiers {
    keys: Vec<VerifierKey>,
}

impl Verifiers {
    /// An empty set.
    pub fn new() -> Verifiers {
        Verifiers::default()
    }

    /// Adds a key.
    pub fn push(&mut self, key: VerifierKey) {
        self.keys.push(key);
    }

    /// The configured keys.
    pub fn keys(&self) -> &[VerifierKey] {
        &self.keys
    }

    /// The number of configured keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key with this name and key ID: [`NoteError::UnknownKey`] if there is none,
    /// [`NoteError::AmbiguousKey`] if there are several.
    pub fn lookup(&self, name: &str, id: u32) -> Result<&VerifierKey, NoteError> {
        let mut matches = self.keys.iter().filter(|k| k.id == id && k.name == name);
        match (matches.next(), matches.next()) {
            (Some(key), None) => Ok(key),
            (None, _) => Err(NoteError::UnknownKey { name: name.to_owned(), id }),
            (Some(_), Some(_)) => Err(NoteError::AmbiguousKey { name: name.to_owned(), id }),
        }
    }
}

impl FromIterator<VerifierKey> for Verifiers {
    fn from_iter<I: IntoIterator<Item = VerifierKey>>(keys: I) -> Verifiers {
        Verifiers { keys: keys.into_iter().collect() }
    }
}

impl Extend<VerifierKey> for Verifiers {
    fn extend<I: IntoIterator<Item = VerifierKey>>(&mut self, keys: I) {
        self.keys.extend(keys);
    }
}

/// A signature that verified against a known key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The key that verified it.
    pub key: VerifierKey,
    /// The signature as it appeared in the note.
    pub signature: NoteSignature,
    /// For cosignature (type `0x04`) keys, the signed timestamp in POSIX seconds.
    pub timestamp: Option<u64>,
}

/// A note whose known signatures all verified, and at least one did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedNote {
    note: Note,
    verified: Vec<VerifiedSignature>,
    unverified: Vec<NoteSignature>,
}

impl OpenedNote {
    /// The text, exactly as it was in the note, including its final newline.
    pub fn text(&self) -> &str {
        self.note.text()
    }

    /// The text as bytes, exactly as they were in the note.
    pub fn text_bytes(&self) -> &[u8] {
        self.note.text().as_bytes()
    }

    /// The verified signatures, one per key, in note order.
    pub fn verified(&self) -> &[VerifiedSignature] {
        &self.verified
    }

    /// The signatures from unknown keys, untouched, without exact duplicates, in note order.
    pub fn unverified(&self) -> &[NoteSignature] {
        &self.unverified
    }

    /// The whole parsed note, with every signature line.
    pub fn note(&self) -> &Note {
        &self.note
    }
}

/// Parses a signed note and checks its signatures against `known`.
///
/// Signatures from unknown (name, key ID) pairs are kept, unverified. Every signature from a
/// known key must verify, or the whole note is rejected with [`NoteError::InvalidSignature`];
/// a (name, key ID) configured twice gives [`NoteError::AmbiguousKey`]; a note with no
/// signature from a known key gives [`NoteError::NotSigned`]. A key that signed more than once
/// is listed once, with its first signature.
pub fn open(note: &[u8], known: &Verifiers) -> Result<OpenedNote, NoteError> {
    open_prechecked(note, known, &Prechecked::none())
}

/// [`open`], by the same rules, except that Ed25519 signatures already verified in a batch
/// ([`Prechecked::check`]) are not verified again.
pub fn open_prechecked(
    note: &[u8],
    known: &Verifiers,
    prechecked: &Prechecked,
) -> Result<OpenedNote, NoteError> {
    open_parsed(Note::parse(note)?, known, prechecked)
}

/// [`open_prechecked`] of a note the caller has already parsed with [`Note::parse`].
pub fn open_parsed(
    note: Note,
    known: &Verifiers,
    prechecked: &Prechecked,
) -> Result<OpenedNote, NoteError> {
    let mut verified: Vec<VerifiedSignature> = Vec::new();
    let mut unverified: Vec<NoteSignature> = Vec::new();
    for signature in &note.signatures {
        let key = match known.lookup(&signature.name, signature.id) {
            Ok(key) => key,
            Err(NoteError::UnknownKey { .. }) => {
                if !unverified.contains(signature) {
                    unverified.push(signature.clone());
                }
                continue;
            }
            Err(error) => return Err(error),
        };
        let timestamp = if prechecked.holds(key, &signature.bytes, &note.text) {
            None
        } else {
            key.verify_note_signature(&note.text, &signature.bytes).map_err(|()| {
                NoteError::InvalidSignature { name: signature.name.clone(), id: signature.id }
            })?
        };
        if verified.iter().all(|v| v.key != *key) {
            verified.push(VerifiedSignature {
                key: key.clone(),
                signature: signature.clone(),
                timestamp,
            });
        }
    }
    if verified.is_empty() {
        return Err(NoteError::NotSigned);
    }
    Ok(OpenedNote { note, verified, unverified })
}

/// Appends signature lines to an encoded signed note, as a log does with the cosignatures a
/// witness returns. The note must parse; the result is checked against the limits.
pub fn append_signatures(note: &[u8], signatures: &[NoteSignature]) -> Result<Vec<u8>, NoteError> {
    let mut parsed = Note::parse(note)?;
    for signature in signatures {
        parsed.push_signature(signature.clone())?;
    }
    let mut out = note.to_vec();
    for signature in signatures {
        out.extend_from_slice(signature.line().as_bytes());
    }
    if out.len() > MAX_NOTE_SIZE {
        return Err(NoteError::TooLarge { size: out.len() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

    fn signer(name: &str, kind: KeyKind, byte: u8) -> Signer {
        Signer::from_seed(name, kind, [byte; 32]).unwrap()
    }

    #[test]
    fn key_kinds_round_trip_through_their_type_bytes() {
        for kind in [KeyKind::Ed25519, KeyKind::Cosignature] {
            assert_eq!(KeyKind::from_type_byte(kind.type_byte()), Some(kind));
        }
        assert_eq!(KeyKind::from_type_byte(0x02), None);
        assert_eq!(KeyKind::from_type_byte(0x06), None);
    }

    #[test]
    fn key_names_follow_the_spec() {
        assert!(is_valid_key_name("example.com/log"));
        assert!(is_valid_key_name("日本"));
        for bad in ["", "a b", "a+b", "a\tb", "a\u{a0}b", "a\u{2003}b", "a\u{85}b"] {
            assert!(!is_valid_key_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn vkey_round_trips_and_exposes_its_parts() {
        let key = VerifierKey::parse(PETER_VKEY).unwrap();
        assert_eq!(key.to_string(), PETER_VKEY);
        assert_eq!(key.name(), "PeterNeumann");
        assert_eq!(key.id(), 0xc74f20a3);
        assert_eq!(key.kind(), KeyKind::Ed25519);
        assert_eq!(PETER_VKEY.parse::<VerifierKey>().unwrap(), key);
        assert_eq!(format!("{key:?}"), format!("VerifierKey({PETER_VKEY})"));
    }

    #[test]
    fn vkey_errors_say_what_is_wrong() {
        assert_eq!(
            VerifierKey::parse("PeterNeumann"),
            Err(KeyError::Malformed("<name>+<key ID>+<key>"))
        );
        assert_eq!(
            VerifierKey::parse(
                "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(KeyError::InvalidName)
        );
        assert_eq!(
            VerifierKey::parse(
                "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(KeyError::InvalidId)
        );
        assert_eq!(VerifierKey::parse("PeterNeumann+c74f20a3+"), Err(KeyError::Empty));
        assert_eq!(VerifierKey::parse("PeterNeumann+c74f20a3+!!!!"), Err(KeyError::InvalidBase64));
        assert_eq!(
            VerifierKey::parse(
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(KeyError::UnsupportedType(0x65))
        );
        assert_eq!(
            VerifierKey::parse(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
            ),
            Err(KeyError::InvalidBase64),
            "Go accepts the non-zero trailing bits of BADKEY==, this parser does not"
        );
        let mut material = String::new();
        BASE64.encode_string([&[0x01u8][..], &[7u8; 33][..]].concat(), &mut material);
        assert_eq!(
            VerifierKey::parse(&format!("PeterNeumann+00000000+{material}")),
            Err(KeyError::WrongLength(33))
        );
        assert_eq!(
            VerifierKey::parse(
                "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(KeyError::IdMismatch { found: 0xc74f20a4, expected: 0xc74f20a3 })
        );
        let long = format!("a+00000000+{}", "A".repeat(10_000));
        assert!(matches!(VerifierKey::parse(&long), Err(KeyError::WrongLength(_))));
    }

    #[test]
    fn vkey_with_a_point_off_the_curve_is_rejected() {
        // y = 2 is not the y-coordinate of any point on edwards25519.
        let mut public_key = [0u8; 32];
        public_key[0] = 2;
        assert!(VerifyingKey::from_bytes(&public_key).is_err());
        assert_eq!(
            VerifierKey::new("bad", KeyKind::Ed25519, &public_key),
            Err(KeyError::InvalidPoint)
        );
        let mut material = String::new();
        encode_key_material(KeyKind::Ed25519, &public_key, &mut material);
        let id = key_id("bad", KeyKind::Ed25519, &public_key);
        assert_eq!(
            VerifierKey::parse(&format!("bad+{id:08x}+{material}")),
            Err(KeyError::InvalidPoint)
        );
    }

    #[test]
    fn signer_parses_go_private_keys_and_prints_them_back() {
        let signer = Signer::parse(PETER_SKEY).unwrap();
        assert_eq!(signer.to_private_string().as_str(), PETER_SKEY);
        assert_eq!(signer.verifier().to_string(), PETER_VKEY);
        assert_eq!(
            (signer.name(), signer.id(), signer.kind()),
            ("PeterNeumann", 0xc74f20a3, KeyKind::Ed25519)
        );
    }

    #[test]
    fn signer_rejects_bad_private_keys() {
        assert_eq!(Signer::parse(PETER_VKEY).unwrap_err(), KeyError::NotPrivateKey);
        assert_eq!(
            Signer::parse("PRIVATE+KEY+x").unwrap_err(),
            KeyError::Malformed("PRIVATE+KEY+<name>+<key ID>+<key>")
        );
        assert_eq!(
            Signer::parse(
                "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
            )
            .unwrap_err(),
            KeyError::IdMismatch { found: 0xc74f20a4, expected: 0xc74f20a3 }
        );
        // Every proper substring and every single-byte increment fails, as in x/mod TestNewSigner.
        let bytes = PETER_SKEY.as_bytes();
        for i in 0..=bytes.len() {
            for j in i + 1..=bytes.len() {
                if (i, j) != (0, bytes.len()) {
                    let s = std::str::from_utf8(&bytes[i..j]).unwrap();
                    assert!(Signer::parse(s).is_err(), "{s}");
                }
            }
        }
        for i in 0..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] += 1;
            assert!(Signer::parse(std::str::from_utf8(&b).unwrap()).is_err());
        }
    }

    #[test]
    fn signer_debug_hides_the_seed() {
        let signer = Signer::parse(PETER_SKEY).unwrap();
        let debug = format!("{signer:?}");
        assert!(debug.contains("PeterNeumann") && debug.contains("c74f20a3"), "{debug}");
        assert!(!debug.contains("AYEKFALV") && !debug.contains("81 0a"), "{debug}");
        let seed_hex: String = signer.key.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert!(!debug.contains(&seed_hex));
    }

    #[test]
    fn generate_uses_the_callers_rng() {
        struct Counter(u8);
        impl ed25519_dalek::rand_core::TryRng for Counter {
            type Error = std::convert::Infallible;
            fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
                Ok(u32::from(self.0))
            }
            fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
                Ok(u64::from(self.0))
            }
            fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
                for b in dst {
                    *b = self.0;
                    self.0 = self.0.wrapping_add(1);
                }
                Ok(())
            }
        }
        impl ed25519_dalek::rand_core::TryCryptoRng for Counter {}
        let generated = Signer::generate("w", KeyKind::Cosignature, &mut Counter(0)).unwrap();
        let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
        let expected = Signer::from_seed("w", KeyKind::Cosignature, seed).unwrap();
        assert_eq!(generated.verifier(), expected.verifier());
        assert_eq!(
            Signer::generate("a b", KeyKind::Ed25519, &mut Counter(0)).unwrap_err(),
            KeyError::InvalidName
        );
    }

    #[test]
    fn sign_then_open() {
        let alice = signer("alice", KeyKind::Ed25519, 1);
        let mut note = Note::new("hello\n").unwrap();
        note.sign(&alice).unwrap();
        let bytes = note.to_bytes();
        assert_eq!(Note::parse(&bytes).unwrap(), note);
        let opened = open(&bytes, &Verifiers::from_iter([alice.verifier()])).unwrap();
        assert_eq!(opened.text(), "hello\n");
        assert_eq!(opened.verified().len(), 1);
        assert_eq!(opened.verified()[0].key, alice.verifier());
        assert_eq!(opened.verified()[0].timestamp, None);
        assert!(opened.unverified().is_empty());
    }

    #[test]
    fn cosigner_keys_cannot_sign_plain_notes() {
        let witness = signer("w", KeyKind::Cosignature, 2);
        assert_eq!(
            witness.sign("x\n"),
            Err(NoteError::WrongKeyKind {
                expected: KeyKind::Ed25519,
                found: KeyKind::Cosignature
            })
        );
    }

    #[test]
    fn sign_checks_the_text() {
        let alice = signer("alice", KeyKind::Ed25519, 1);
        assert_eq!(alice.sign("no newline"), Err(NoteError::UnterminatedText));
        assert_eq!(alice.sign(""), Err(NoteError::UnterminatedText));
        assert_eq!(alice.sign("a\rb\n"), Err(NoteError::ControlCharacter { offset: 1 }));
    }

    #[test]
    fn texts_with_blank_lines_survive() {
        let alice = signer("alice", KeyKind::Ed25519, 1);
        let verifiers = Verifiers::from_iter([alice.verifier()]);
        for text in ["\n", "a\n\n", "a\n\nb\n", "\n\n\n"] {
            let mut note = Note::new(text).unwrap();
            note.sign(&alice).unwrap();
            let opened = open(&note.to_bytes(), &verifiers).unwrap();
            assert_eq!(opened.text(), text);
        }
    }

    #[test]
    fn malformed_notes_are_rejected_with_the_right_error() {
        let alice = signer("alice", KeyKind::Ed25519, 1);
        let line = alice.sign("t\n").unwrap().line();
        let cases: Vec<(Vec<u8>, NoteError)> = vec![
            (b"t\n".to_vec(), NoteError::MissingSignatures),
            (b"t\n\n".to_vec(), NoteError::MissingSignatures),
            (format!("t\n\n{}", line.trim_end()).into_bytes(), NoteError::UnterminatedSignature),
            (format!("\x01t\n\n{line}").into_bytes(), NoteError::ControlCharacter { offset: 0 }),
            (
                [b"\xff".as_slice(), format!("t\n\n{line}").as_bytes()].concat(),
                NoteError::InvalidUtf8,
            ),
            (
                format!("t\n\n{line}Unexpected line.\n").into_bytes(),
                NoteError::MalformedSignature { line: 2, reason: "does not start with \"— \"" },
            ),
            (
                "t\n\n— Bad Name AAAAAAA=\n".as_bytes().to_vec(),
                NoteError::MalformedSignature { line: 1, reason: "signature is not valid base64" },
            ),
            (
                "t\n\n— a+b AAAAAAA=\n".as_bytes().to_vec(),
                NoteError::MalformedSignature { line: 1, reason: "invalid key name" },
            ),
            (
                "t\n\n—  AAAAAAA=\n".as_bytes().to_vec(),
                NoteError::MalformedSignature { line: 1, reason: "invalid key name" },
            ),
            (
                "t\n\n— name\n".as_bytes().to_vec(),
                NoteError::MalformedSignature { line: 1, reason: "no space after the key name" },
            ),
            (
                "t\n\n— name AAAA\n".as_bytes().to_vec(),
                NoteError::MalformedSignature {
                    line: 1,
                    reason: "signature is shorter than 5 bytes",
                },
            ),
            (
                "t\n\n— name AAAAAAB=\n".as_bytes().to_vec(),
                NoteError::MalformedSignature { line: 1, reason: "signature is not valid base64" },
            ),
            (
                "t\n\n— name  AAAAAAA=\n".as_bytes().to_vec(),
                NoteError::MalformedSignature { line: 1, reason: "signature is not valid base64" },
            ),
        ];
        for (bytes, error) in cases {
            assert_eq!(
                Note::parse(&bytes),
                Err(error.clone()),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
            assert_eq!(open(&bytes, &Verifiers::from_iter([alice.verifier()])), Err(error));
        }
    }

    #[test]
    fn signature_count_limit() {
        let alice = signer("alice", KeyKind::Ed25519, 1);
        let line = alice.sign("t\n").unwrap().line();
        let verifiers = Verifiers::from_iter([alice.verifier()]);
        let ok = format!("t\n\n{}", line.repeat(MAX_SIGNATURES));
        assert_eq!(open(ok.as_bytes(), &verifiers).unwrap().verified().len(), 1);
        let too_many = format!("t\n\n{}", line.repeat(MAX_SIGNATURES + 1));
        assert_eq!(Note::parse(too_many.as_bytes()), Err(NoteError::TooManySignatures));
        let mut note = Note::parse(ok.as_bytes()).unwrap();
        assert_eq!(
            note.push_signature(alice.sign("t\n").unwrap()),
            Err(NoteError::TooManySignatures)
        );
    }

    #[test]
    fn size_limit() {
        let big = vec![b'a'; MAX_NOTE_SIZE + 1];
        assert_eq!(Note::parse(&big), Err(NoteError::TooLarge { size: MAX_NOTE_SIZE + 1 }));
        let text = "a".repeat(MAX_NOTE_SIZE) + "\n";
        assert_eq!(Note::new(text), Err(NoteError::TooLarge { size: MAX_NOTE_SIZE + 1 }));
    }

    #[test]
    fn known_bad_signature_rejects_the_note_even_after_a_good_one() {
        let alice = signer("alice", KeyKind::Ed25519, 1);
        let mut bad = alice.sign("t\n").unwrap();
        bad.bytes[0] ^= 1;
        let good = alice.sign("t\n").unwrap();
        let verifiers = Verifiers::from_iter([alice.verifier()]);
        for lines in [[&good, &bad], [&bad, &good]] {
            let note = format!("t\n\n{}{}", lines[0].line(), lines[1].line());
            assert_eq!(
                open(note.as_bytes(), &verifiers),
                Err(NoteError::InvalidSignature { name: "alice".into(), id: alice.id() })
            );
        }
        // A truncated signature from a known key is a failed signature, not a parse error.
        let mut short = good.clone();
        short.bytes.truncate(10);
        let note = format!("t\n\n{}", short.line());
        assert!(matches!(
            open(note.as_bytes(), &verifiers),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn unknown_signatures_are_kept_once_and_untouched() {
        let alice = signer("alice", KeyKind::Ed25519, 1);
        let bob = signer("bob", KeyKind::Ed25519, 2);
        let a = alice.sign("t\n").unwrap();
        let b = bob.sign("t\n").unwrap();
        let note = format!("t\n\n{}{}{}{}", b.line(), a.line(), b.line(), a.line());
        let opened = open(note.as_bytes(), &Verifiers::from_iter([alice.verifier()])).unwrap();
        assert_eq!(opened.verified().len(), 1);
        assert_eq!(opened.unverified(), &[b]);
        assert_eq!(opened.note().signatures().len(), 4);
    }

    #[test]
    fn same_name_different_id_is_unknown_not_invalid() {
        let alice = signer("alice", KeyKind::Ed25519, 1);
        let impostor = signer("alice", KeyKind::Ed25519, 3);
        let note = format!("t\n\n{}", impostor.sign("t\n").unwrap().line());
        assert_eq!(
            open(note.as_bytes(), &Verifiers::from_iter([alice.verifier()])),
            Err(NoteError::NotSigned)
        );
    }

    #[test]
    fn lookup_reports_unknown_and_ambiguous_keys() {
        let alice = signer("alice", KeyKind::Ed25519, 1);
        let verifiers = Verifiers::from_iter([alice.verifier(), alice.verifier()]);
        assert_eq!(
            verifiers.lookup("alice", alice.id()),
            Err(NoteError::AmbiguousKey { name: "alice".into(), id: alice.id() })
        );
        assert_eq!(
            verifiers.lookup("alice", 7).unwrap_err().to_string(),
            "unknown key alice+00000007"
        );
    }

    #[test]
    fn append_signatures_adds_lines_after_the_existing_ones() {
        let alice = signer("alice", KeyKind::Ed25519, 1);
        let bob = signer("bob", KeyKind::Ed25519, 2);
        let mut note = Note::new("t\n").unwrap();
        note.sign(&alice).unwrap();
        let b = bob.sign("t\n").unwrap();
        let both = append_signatures(&note.to_bytes(), std::slice::from_ref(&b)).unwrap();
        note.push_signature(b.clone()).unwrap();
        assert_eq!(both, note.to_bytes());
        let bad = NoteSignature { name: "a b".into(), id: 0, bytes: vec![1] };
        assert!(append_signatures(&both, &[bad]).is_err());
    }

    #[test]
    fn signature_line_format() {
        let sig = NoteSignature { name: "n".into(), id: 0x01020304, bytes: vec![5, 6] };
        assert_eq!(sig.line(), "— n AQIDBAUG\n");
        assert_eq!(NoteSignature::parse_line("— n AQIDBAUG", 1), Ok(sig));
    }
}
