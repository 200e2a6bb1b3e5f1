//! Checkpoint bodies and checkpoint policies never panic on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlog::checkpoint::{Checkpoint, Policy};
use tlog::note::{KeyKind, Signer};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(checkpoint) = Checkpoint::parse(text)
    {
        assert_eq!(checkpoint.to_text(), text);
    }
    let key = Signer::from_seed("fuzz.example/log", KeyKind::Ed25519, [1; 32]).unwrap();
    let witness = Signer::from_seed("fuzz.example/w", KeyKind::Cosignature, [2; 32]).unwrap();
    let policy = Policy { log_keys: vec![key.verifier()], witnesses: vec![witness.verifier()], quorum: 1 };
    let _ = policy.verify(data);
});
