//! tlog-proof receipts: parsing and verification never panic; what parses re-encodes exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlog::checkpoint::Policy;
use tlog::note::{KeyKind, Signer};
use tlog::receipt::Receipt;

fuzz_target!(|data: &[u8]| {
    if let Ok(receipt) = Receipt::parse(data) {
        assert_eq!(receipt.to_bytes(), data);
        let key = Signer::from_seed("fuzz.example/log", KeyKind::Ed25519, [1; 32]).unwrap();
        let policy = Policy { log_keys: vec![key.verifier()], witnesses: Vec::new(), quorum: 0 };
        let _ = receipt.verify(&tlog::leaf_hash(b"entry"), &policy);
    }
});
