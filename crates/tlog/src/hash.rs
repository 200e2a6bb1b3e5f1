//! RFC 6962 §2.1 Merkle tree hashing with SHA-256.
//!
//! A leaf is `SHA-256(0x00 ‖ entry)`, an interior node `SHA-256(0x01 ‖ left ‖ right)`, and the
//! empty tree `SHA-256("")`. Node hashing is the inner loop of every tree computation, so it
//! drives the SHA-256 compression function directly over its two fixed blocks.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

/// The size of a SHA-256 hash in bytes.
pub const HASH_SIZE: usize = 32;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_SIZE]);

/// The root of the empty tree, `SHA-256("")`.
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// A hash string that is not the base64 or hex encoding of 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a {encoding} SHA-256 hash (32 bytes): {reason}")]
pub struct HashParseError {
    encoding: &'static str,
    reason: &'static str,
}

impl Hash {
    /// The hash as bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }

    /// Reads a hash from exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Hash> {
        Some(Hash(bytes.try_into().ok()?))
    }

    /// Standard padded base64, as in checkpoints and proofs.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Parses standard padded base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Hash, HashParseError> {
        let error = |reason| HashParseError { encoding: "base64", reason };
        // 32 bytes are always 44 characters; checking first bounds the decoder's work.
        if text.len() != 44 {
            return Err(error("wrong length"));
        }
        let bytes = BASE64.decode(text).map_err(|_| error("invalid base64"))?;
        Hash::from_slice(&bytes).ok_or(error("wrong length"))
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Result<Hash, HashParseError> {
        let error = |reason| HashParseError { encoding: "hex", reason };
        let text = text.as_bytes();
        if text.len() != 2 * HASH_SIZE {
            return Err(error("wrong length"));
        }
        let mut out = [0u8; HASH_SIZE];
        for (i, pair) in text.chunks_exact(2).enumerate() {
            let digit = |c: u8| (c as char).to_digit(16).ok_or(error("invalid hex digit"));
            out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Ok(Hash(out))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// `SHA-256(data)`.
pub fn sha256(data: &[u8]) -> Hash {
    Hash(Sha256::digest(data).into())
}

/// The RFC 6962 leaf hash of an entry: `SHA-256(0x00 ‖ entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    Hash(hasher.finalize().into())
}

const SHA256_INITIAL_STATE: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The RFC 6962 interior node hash: `SHA-256(0x01 ‖ left ‖ right)`.
///
/// The 65-byte message always pads to two 64-byte blocks, so the blocks are laid out here and
/// handed to the compression function without going through a streaming hasher.
#[inline]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut blocks = [[0u8; 64]; 2];
    blocks[0][0] = 0x01;
    blocks[0][1..33].copy_from_slice(&left.0);
    blocks[0][33..64].copy_from_slice(&right.0[..31]);
    blocks[1][0] = right.0[31];
    blocks[1][1] = 0x80;
    // Message length in bits, big-endian, in the last eight bytes: 65 * 8 = 520.
    blocks[1][62] = 0x02;
    blocks[1][63] = 0x08;
    let mut state = SHA256_INITIAL_STATE;
    sha2::block_api::compress256(&mut state, &blocks);
    let mut out = [0u8; HASH_SIZE];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    Hash(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, sha256(b""));
    }

    #[test]
    fn node_hash_matches_streaming_sha256() {
        let left = sha256(b"left");
        let right = sha256(b"right");
        let mut message = vec![0x01];
        message.extend_from_slice(&left.0);
        message.extend_from_slice(&right.0);
        assert_eq!(node_hash(&left, &right), sha256(&message));
    }

    #[test]
    fn base64_and_hex_round_trip_and_reject_bad_lengths() {
        let h = leaf_hash(b"juki");
        assert_eq!(Hash::from_base64(&h.to_base64()), Ok(h));
        assert_eq!(Hash::from_hex(&h.to_hex()), Ok(h));
        assert_eq!(Hash::from_hex(&h.to_hex().to_uppercase()), Ok(h));
        assert!(Hash::from_base64("AAAA").is_err());
        assert!(
            Hash::from_base64(&"A".repeat(44)).is_err(),
            "44 chars without padding is 33 bytes"
        );
        assert!(Hash::from_hex(&"g".repeat(64)).is_err());
        assert!(Hash::from_hex("00").is_err());
    }
}
