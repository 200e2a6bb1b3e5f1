//! Signed notes and verifier keys: parsing and opening never panic, and what parses re-encodes
//! to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlog::note::{self, KeyKind, Note, Signer, VerifierKey, Verifiers};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = VerifierKey::parse(text);
        let _ = Signer::parse(text);
    }
    if let Ok(parsed) = Note::parse(data) {
        assert_eq!(parsed.to_bytes(), data);
    }
    let key = Signer::from_seed("fuzz.example/log", KeyKind::Ed25519, [1; 32]).unwrap();
    let witness = Signer::from_seed("fuzz.example/w", KeyKind::Cosignature, [2; 32]).unwrap();
    let known: Verifiers = [key.verifier(), witness.verifier()].into_iter().collect();
    let _ = note::open(data, &known);
});
