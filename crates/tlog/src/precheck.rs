//! Ed25519 signatures of many notes checked at once, ahead of opening them one by one.
//!
//! A node that receives thousands of signed notes in one batch (a replica applying a town's
//! events) spends most of its time on curve arithmetic if it opens each note on its own.
//! [`Prechecked::check`] verifies all their Ed25519 signatures by known keys with batch
//! verification, which shares the work between signatures — the equation of ed25519-dalek's
//! `verify_batch`, with the terms of each key gathered into one, since a batch's signatures are
//! mostly by a few keys — and remembers which (key, signature, text) triples verified;
//! [`crate::note::open_prechecked`] then opens each note exactly as [`crate::note::open`] does,
//! by the same rules, except that a remembered triple needs no arithmetic. A signature that is
//! not remembered is verified singly.
//!
//! What the batch check accepts. Batch verification is sound: a signature passes only if it
//! satisfies the Ed25519 equation, except with probability about 2⁻¹²⁸ over the batch's
//! coefficients, which are derived from every input. It is not as strict as the single check
//! ([`ed25519_dalek::VerifyingKey::verify_strict`]) in three ways, each of which needs the
//! signing key itself: an `R` with a small-order component, a small-order `R`, or an `R`
//! encoded non-canonically. A key's own holder can sign anything under that key anyway, so
//! these give nobody an authority they do not have; a replayed log (which opens every note
//! singly) reports such a signature. Weak (small-order) keys, for which anyone could make a
//! signature that passes the batch check, are never batched: their signatures go to the single
//! check, which rejects them.
//!
//! Pure: no I/O, no threads. A caller with many cores checks chunks in parallel and
//! [`Prechecked::merge`]s the results.

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

use crate::note::{KeyKind, Note, VerifierKey, Verifiers};

/// How many signatures one batch equation covers, at most. Larger batches share more work (the
/// multiscalar multiplication gets cheaper per point), but a single bad signature sends its
/// whole chunk to the single check.
pub const CHUNK: usize = 1024;

/// The (key, signature, text) triples whose Ed25519 signatures verified in a batch, found by
/// their signature and compared whole.
#[derive(Clone, Debug, Default)]
pub struct Prechecked {
    verified: HashMap<[u8; 64], Vec<KeyAndText>>,
}

/// A public key and a text, remembered under a signature.
type KeyAndText = ([u8; 32], Box<str>);

/// One signature to check: the key, its signature, and the text it signs.
struct Item<'a> {
    key: &'a VerifyingKey,
    signature: Signature,
    text: &'a str,
}

impl Prechecked {
    /// Nothing checked ahead: every signature is verified singly when its note is opened.
    pub fn none() -> Prechecked {
        Prechecked::default()
    }

    /// Checks the Ed25519 signatures, by the keys in `keys`, of every note in `notes`. Notes
    /// that do not parse, signatures by unknown, ambiguous, weak or cosignature keys, and
    /// signatures of the wrong length are left out (opening the note will verify or reject
    /// them); chunks whose batch equation fails are checked signature by signature.
    pub fn check(notes: &[&[u8]], keys: &Verifiers) -> Prechecked {
        let parsed: Vec<Note> = notes.iter().filter_map(|n| Note::parse(n).ok()).collect();
        Prechecked::check_notes(&parsed, keys)
    }

    /// [`Prechecked::check`] of notes already parsed.
    pub fn check_notes<'a>(
        notes: impl IntoIterator<Item = &'a Note>,
        keys: &Verifiers,
    ) -> Prechecked {
        let eligible: Vec<&VerifierKey> = keys
            .keys()
            .iter()
            .filter(|k| k.kind() == KeyKind::Ed25519 && !k.verifying_key().is_weak())
            .collect();
        let mut items = Vec::new();
        for note in notes {
            for line in note.signatures() {
                let mut matching =
                    eligible.iter().filter(|k| k.id() == line.id && k.name() == line.name);
                let (Some(key), None) = (matching.next(), matching.next()) else { continue };
                let Ok(bytes) = <[u8; 64]>::try_from(line.bytes.as_slice()) else { continue };
                items.push(Item {
                    key: key.verifying_key(),
                    signature: Signature::from_bytes(&bytes),
                    text: note.text(),
                });
            }
        }
        let mut prechecked = Prechecked::default();
        for chunk in items.chunks(CHUNK) {
            let all = verify_together(chunk);
            for item in chunk {
                if all || item.key.verify_strict(item.text.as_bytes(), &item.signature).is_ok() {
                    prechecked.insert(item.signature.to_bytes(), *item.key.as_bytes(), item.text);
                }
            }
        }
        prechecked
    }

    /// Remembers that `signature` by `key` over `text` verified.
    fn insert(&mut self, signature: [u8; 64], key: [u8; 32], text: &str) {
        let triples = self.verified.entry(signature).or_default();
        if !triples.iter().any(|(k, t)| *k == key && **t == *text) {
            triples.push((key, text.into()));
        }
    }

    /// Both sets of checked signatures.
    pub fn merge(mut self, other: Prechecked) -> Prechecked {
        for (signature, triples) in other.verified {
            for (key, text) in triples {
                self.insert(signature, key, &text);
            }
        }
        self
    }

    /// How many distinct signatures verified.
    pub fn len(&self) -> usize {
        self.verified.values().map(Vec::len).sum()
    }

    /// Whether none did.
    pub fn is_empty(&self) -> bool {
        self.verified.is_empty()
    }

    /// Whether `signature` by `key` over `text` verified here.
    pub(crate) fn holds(&self, key: &VerifierKey, signature: &[u8], text: &str) -> bool {
        if self.verified.is_empty() || key.kind() != KeyKind::Ed25519 {
            return false;
        }
        let Ok(signature) = <[u8; 64]>::try_from(signature) else { return false };
        self.verified.get(&signature).is_some_and(|triples| {
            triples.iter().any(|(k, t)| k == key.public_key() && **t == *text)
        })
    }
}

/// Whether every signature of `items` satisfies the Ed25519 verification equation
/// `[s]B = R + [k]A` (`k = SHA-512(R ‖ A ‖ text)`), checked as one random linear combination:
/// `−[Σ zᵢsᵢ]B + Σ [zᵢ]Rᵢ + Σ_A [Σ_{i signed by A} zᵢkᵢ]A = 0`, the equation of
/// `ed25519_dalek::verify_batch` with the terms of each key gathered into one (a batch's
/// signatures are mostly by a few keys, so the multiscalar multiplication has about half the
/// points). The 128-bit coefficients `zᵢ` are derived from a hash of every signature's `R`, key,
/// text and `s`, so nobody can choose signatures that cancel out. Like `verify_batch`, it
/// needs each `s` canonical and each `R` a curve point, and does not multiply by the cofactor.
fn verify_together(items: &[Item<'_>]) -> bool {
    let mut transcript = Sha512::new();
    transcript.update(b"juki tlog precheck: Ed25519 batch v1\0");
    transcript.update((items.len() as u64).to_le_bytes());
    let mut challenges = Vec::with_capacity(items.len());
    for item in items {
        let signature = item.signature.to_bytes();
        let hram: [u8; 64] = Sha512::new()
            .chain_update(&signature[..32])
            .chain_update(item.key.as_bytes())
            .chain_update(item.text.as_bytes())
            .finalize()
            .into();
        transcript.update(hram);
        transcript.update(&signature[32..]);
        challenges.push(Scalar::from_bytes_mod_order_wide(&hram));
    }
    let seed: [u8; 64] = transcript.finalize().into();
    let mut coefficients = Vec::with_capacity(items.len());
    for block in 0..items.len().div_ceil(4) as u64 {
        let bytes: [u8; 64] =
            Sha512::new().chain_update(seed).chain_update(block.to_le_bytes()).finalize().into();
        for z in bytes.chunks_exact(16) {
            coefficients.push(Scalar::from(u128::from_le_bytes(z.try_into().expect("16 bytes"))));
        }
    }
    let mut scalars = Vec::with_capacity(items.len() + 2);
    let mut points = Vec::with_capacity(items.len() + 2);
    let mut base = Scalar::ZERO;
    let mut keys: Vec<(&VerifyingKey, Scalar)> = Vec::new();
    let mut key_of: HashMap<[u8; 32], usize> = HashMap::new();
    for ((item, z), k) in items.iter().zip(&coefficients).zip(&challenges) {
        let signature = item.signature.to_bytes();
        let s: [u8; 32] = signature[32..].try_into().expect("32 bytes");
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s)) else {
            return false;
        };
        let r = CompressedEdwardsY(signature[..32].try_into().expect("32 bytes"));
        let Some(r) = r.decompress() else { return false };
        base += z * s;
        scalars.push(*z);
        points.push(r);
        let zk = z * k;
        match key_of.get(item.key.as_bytes()) {
            Some(&at) => keys[at].1 += zk,
            None => {
                key_of.insert(*item.key.as_bytes(), keys.len());
                keys.push((item.key, zk));
            }
        }
    }
    scalars.push(-base);
    points.push(ED25519_BASEPOINT_POINT);
    for (key, coefficient) in keys {
        scalars.push(coefficient);
        points.push(key.to_edwards());
    }
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::{NoteError, Signer, open, open_prechecked};

    fn signer(name: &str, byte: u8) -> Signer {
        Signer::from_seed(name, KeyKind::Ed25519, [byte; 32]).unwrap()
    }

    fn signed(text: &str, signers: &[&Signer]) -> Vec<u8> {
        let mut note = Note::new(text).unwrap();
        for s in signers {
            note.sign(s).unwrap();
        }
        note.to_bytes()
    }

    /// Replaces the first signature's bytes with another valid-looking but wrong signature.
    fn forged(note: &[u8], by: &Signer) -> Vec<u8> {
        let parsed = Note::parse(note).unwrap();
        let mut out = Note::new(parsed.text()).unwrap();
        let mut wrong = by.sign("another text\n").unwrap();
        wrong.name = parsed.signatures()[0].name.clone();
        wrong.id = parsed.signatures()[0].id;
        out.push_signature(wrong).unwrap();
        out.to_bytes()
    }

    #[test]
    fn a_batch_of_good_signatures_is_remembered_and_opens_like_open() {
        let (alice, bob) = (signer("alice", 1), signer("bob", 2));
        let known: Verifiers = [alice.verifier(), bob.verifier()].into_iter().collect();
        let notes: Vec<Vec<u8>> = (0..600)
            .map(|i| {
                let text = format!("event {i}\n");
                if i % 3 == 0 { signed(&text, &[&alice, &bob]) } else { signed(&text, &[&alice]) }
            })
            .collect();
        let refs: Vec<&[u8]> = notes.iter().map(Vec::as_slice).collect();
        let prechecked = Prechecked::check(&refs, &known);
        assert_eq!(prechecked.len(), 800);
        for note in &notes {
            assert_eq!(open_prechecked(note, &known, &prechecked), open(note, &known));
        }
    }

    #[test]
    fn one_bad_signature_is_left_out_and_still_rejected_when_opened() {
        let alice = signer("alice", 1);
        let known: Verifiers = [alice.verifier()].into_iter().collect();
        let mut notes: Vec<Vec<u8>> =
            (0..300).map(|i| signed(&format!("event {i}\n"), &[&alice])).collect();
        notes[17] = forged(&notes[17], &alice);
        let refs: Vec<&[u8]> = notes.iter().map(Vec::as_slice).collect();
        let prechecked = Prechecked::check(&refs, &known);
        assert_eq!(prechecked.len(), 299, "every good signature of the failed chunk is kept");
        assert!(matches!(
            open_prechecked(&notes[17], &known, &prechecked),
            Err(NoteError::InvalidSignature { .. })
        ));
        assert!(open_prechecked(&notes[18], &known, &prechecked).is_ok());
    }

    #[test]
    fn a_remembered_signature_does_not_vouch_for_another_text_or_key() {
        let (alice, mallory) = (signer("alice", 1), signer("mallory", 3));
        let known: Verifiers = [alice.verifier()].into_iter().collect();
        let note = signed("pay 1 yen\n", &[&alice]);
        let prechecked = Prechecked::check(&[&note], &known);
        assert_eq!(prechecked.len(), 1);
        // The same signature line under another text.
        let signature = Note::parse(&note).unwrap().signatures()[0].clone();
        let mut moved = Note::new("pay 1,000,000 yen\n").unwrap();
        moved.push_signature(signature.clone()).unwrap();
        assert!(matches!(
            open_prechecked(&moved.to_bytes(), &known, &prechecked),
            Err(NoteError::InvalidSignature { .. })
        ));
        // The same name and ID configured with another key.
        let impostor =
            VerifierKey::new("alice", KeyKind::Ed25519, mallory.verifier().public_key()).unwrap();
        let other: Verifiers = [impostor].into_iter().collect();
        let renamed = {
            let mut n = Note::new("pay 1 yen\n").unwrap();
            let mut s = signature;
            s.id = other.keys()[0].id();
            n.push_signature(s).unwrap();
            n.to_bytes()
        };
        assert!(open_prechecked(&renamed, &other, &prechecked).is_err());
    }

    /// The items of notes signed by the keys in `known`, as `check` gathers them.
    fn items<'a>(notes: &'a [Note], known: &'a Verifiers) -> Vec<Item<'a>> {
        notes
            .iter()
            .flat_map(|note| {
                note.signatures().iter().map(move |line| {
                    let key = known.lookup(&line.name, line.id).unwrap();
                    Item {
                        key: key.verifying_key(),
                        signature: Signature::from_bytes(
                            &line.bytes.as_slice().try_into().unwrap(),
                        ),
                        text: note.text(),
                    }
                })
            })
            .collect()
    }

    #[test]
    fn the_batch_equation_holds_for_good_signatures_by_several_keys_and_for_no_bad_one() {
        let (alice, bob, carol) = (signer("alice", 1), signer("bob", 2), signer("carol", 3));
        let known: Verifiers =
            [alice.verifier(), bob.verifier(), carol.verifier()].into_iter().collect();
        let notes: Vec<Note> = (0..90)
            .map(|i| {
                let text = format!("event {i}\n");
                let by: &[&Signer] = match i % 3 {
                    0 => &[&alice],
                    1 => &[&alice, &bob],
                    _ => &[&carol, &bob, &alice],
                };
                Note::parse(&signed(&text, by)).unwrap()
            })
            .collect();
        let good = items(&notes, &known);
        assert!(verify_together(&good));
        assert!(verify_together(&good[..1]));
        assert!(verify_together(&[]));
        // Each signature moved to another text, or to another key, breaks the equation.
        for i in [0, 1, 57, good.len() - 1] {
            let mut bad = items(&notes, &known);
            bad[i].text = "another text\n";
            assert!(!verify_together(&bad), "a signature over another text at {i}");
            let mut bad = items(&notes, &known);
            let other = if bad[i].key == alice.verifier().verifying_key() { &bob } else { &alice };
            let other = known.lookup(other.name(), other.verifier().id()).unwrap();
            bad[i].key = other.verifying_key();
            assert!(!verify_together(&bad), "a signature under another key at {i}");
        }
        // Two signatures by one key swapped between their texts.
        let mut swapped = items(&notes, &known);
        let (a, b) = (swapped[0].signature, swapped[3].signature);
        swapped[0].signature = b;
        swapped[3].signature = a;
        assert!(!verify_together(&swapped));
        // An `s` that is not reduced (s + ℓ) is refused, as by the single check.
        let mut unreduced = items(&notes, &known);
        let mut bytes = unreduced[5].signature.to_bytes();
        // ℓ = 2²⁵² + 27742317777372353535851937790883648493, little-endian; s + ℓ < 2²⁵³.
        let ell: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (byte, l) in bytes[32..].iter_mut().zip(ell) {
            let sum = u16::from(*byte) + u16::from(l) + carry;
            *byte = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0);
        unreduced[5].signature = Signature::from_bytes(&bytes);
        assert!(!verify_together(&unreduced));
        let key = unreduced[5].key;
        assert!(key.verify_strict(unreduced[5].text.as_bytes(), &unreduced[5].signature).is_err());
    }

    #[test]
    fn unknown_keys_cosignature_keys_and_bad_notes_are_left_to_open() {
        let alice = signer("alice", 1);
        let witness = Signer::from_seed("witness", KeyKind::Cosignature, [4; 32]).unwrap();
        let known: Verifiers = [witness.verifier()].into_iter().collect();
        let note = signed("text\n", &[&alice]);
        let prechecked = Prechecked::check(&[&note, b"not a note"], &known);
        assert!(prechecked.is_empty());
        assert_eq!(Prechecked::none().merge(prechecked).len(), 0);
    }

    #[test]
    fn a_weak_key_is_never_batched() {
        // The identity point, a small-order key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = VerifierKey::new("weak", KeyKind::Ed25519, &identity).unwrap();
        let known: Verifiers = [weak.clone()].into_iter().collect();
        let mut note = Note::new("anything\n").unwrap();
        note.push_signature(crate::note::NoteSignature {
            name: "weak".into(),
            id: weak.id(),
            bytes: {
                // R = identity, s = 0: satisfies s·B = R + h·A for A = identity.
                let mut bytes = vec![0u8; 64];
                bytes[0] = 1;
                bytes
            },
        })
        .unwrap();
        let note = note.to_bytes();
        let prechecked = Prechecked::check(&[&note], &known);
        assert!(prechecked.is_empty());
        assert!(open_prechecked(&note, &known, &prechecked).is_err());
    }
}
