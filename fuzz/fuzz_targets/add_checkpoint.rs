//! tlog-witness add-checkpoint bodies and the witness's decision never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlog::note::{KeyKind, Signer, Verifiers};
use tlog::witness::{AddCheckpoint, decide, parse_response, parse_size_body};

fuzz_target!(|data: &[u8]| {
    let _ = parse_response(data);
    let _ = parse_size_body(data);
    if let Ok(request) = AddCheckpoint::parse(data) {
        assert_eq!(request.to_bytes(), data);
        let key = Signer::from_seed("fuzz.example/log", KeyKind::Ed25519, [1; 32]).unwrap();
        let trusted: Verifiers = [key.verifier()].into_iter().collect();
        let _ = decide(&request, &trusted, None);
        let _ = decide(&request, &trusted, Some((request.old, tlog::leaf_hash(data))));
    }
});
