//! Property tests of the untrusted-input parsers: notes, key strings, checkpoints, receipts,
//! witness requests and responses. Arbitrary input never panics; whatever parses re-encodes
//! to exactly the input (the formats have one encoding); and any single-byte change to a
//! valid receipt or witness request is caught.

use proptest::prelude::*;
use tlog::checkpoint::{Checkpoint, Policy, sign};
use tlog::cosignature::cosign;
use tlog::note::{KeyKind, Note, Signer, VerifierKey, Verifiers, append_signatures, open};
use tlog::receipt::Receipt;
use tlog::witness::{AddCheckpoint, decide, parse_response, parse_size_body};
use tlog::{Hash, leaf_hash};

fn log() -> Signer {
    Signer::from_seed("example.com/log", KeyKind::Ed25519, [1; 32]).unwrap()
}

fn witness() -> Signer {
    Signer::from_seed("w.example", KeyKind::Cosignature, [2; 32]).unwrap()
}

fn verifiers() -> Verifiers {
    Verifiers::from_iter([log().verifier(), witness().verifier()])
}

fn policy() -> Policy {
    Policy { log_keys: vec![log().verifier()], witnesses: vec![witness().verifier()], quorum: 1 }
}

/// A small tree of `n` leaves, as leaf hashes.
fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

/// The RFC 6962 root of `leaves` (MTH).
fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => tlog::EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = largest_power_of_two_below(n);
            tlog::node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The RFC 6962 inclusion proof `PATH(m, D[n])`.
fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = largest_power_of_two_below(n);
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(root(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(root(&leaves[..k]));
        p
    }
}

fn largest_power_of_two_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// A cosigned checkpoint note for `size` and `root`.
fn cosigned_note(size: u64, root: Hash) -> Vec<u8> {
    let cp = Checkpoint::new("example.com/log", size, root);
    let signed = sign(&cp, &log()).unwrap();
    let cosig = cosign(&witness(), &cp.to_text(), 1_700_000_000).unwrap();
    append_signatures(&signed, &[cosig]).unwrap()
}

fn valid_receipt(size: u64, index: u64) -> (Receipt, Hash) {
    let leaves = leaves(size);
    let receipt = Receipt {
        extra: None,
        index,
        proof: path(index as usize, &leaves),
        checkpoint: cosigned_note(size, root(&leaves)),
    };
    (receipt, leaves[index as usize])
}

/// Runs every parser on `bytes`; none may panic, and whatever parses must re-encode exactly.
fn run_all_parsers(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    if let Ok(note) = Note::parse(bytes) {
        assert_eq!(note.to_bytes(), bytes);
    }
    let _ = open(bytes, &verifiers());
    let _ = policy().verify(bytes);
    if let Ok(cp) = Checkpoint::parse(&text) {
        assert_eq!(cp.to_text(), text);
    }
    if let Ok(receipt) = Receipt::parse(bytes) {
        assert_eq!(receipt.to_bytes(), bytes);
        let _ = receipt.verify(&leaf_hash(b"x"), &policy());
    }
    if let Ok(request) = AddCheckpoint::parse(bytes) {
        assert_eq!(request.to_bytes(), bytes);
        let _ = request.origin();
        let _ = decide(&request, &Verifiers::from_iter([log().verifier()]), None);
        let _ =
            decide(&request, &Verifiers::from_iter([log().verifier()]), Some((3, Hash::default())));
    }
    if let Ok(key) = VerifierKey::parse(&text) {
        assert_eq!(key.to_string(), text);
    }
    if let Ok(signer) = Signer::parse(&text) {
        assert_eq!(signer.to_private_string().as_str(), text);
    }
    if let Ok(sigs) = parse_response(bytes) {
        let lines: String = sigs.iter().map(|s| s.line()).collect();
        assert_eq!(lines.as_bytes(), bytes);
    }
    let _ = parse_size_body(bytes);
}

/// Applies an edit to `bytes`: 0 flips bits of a byte, 1 inserts a byte, 2 deletes a byte,
/// 3 truncates.
fn mutate(bytes: &[u8], kind: u8, at: usize, value: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = at % (out.len() + 1);
    match kind % 4 {
        0 if at < out.len() => out[at] ^= value | 1,
        1 => out.insert(at, value),
        2 if at < out.len() => {
            out.remove(at);
        }
        _ => out.truncate(at),
    }
    out
}

fn key_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9./+=\\- ]{0,90}",
        "[a-z.]{1,12}\\+[0-9a-f]{8}\\+[A-Za-z0-9+/]{43}=?",
        "PRIVATE\\+KEY\\+[a-z.]{1,12}\\+[0-9a-f]{8}\\+[A-Za-z0-9+/]{44}",
        Just("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW".to_owned()),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        run_all_parsers(&bytes);
    }

    #[test]
    fn note_shaped_text_never_panics(text in "([a-z0-9 +/=]{0,12}\n){0,4}\n?(— [a-z.+]{0,8} [A-Za-z0-9+/=]{0,100}\n?){0,3}") {
        run_all_parsers(text.as_bytes());
    }

    #[test]
    fn key_strings_never_panic(s in key_string()) {
        run_all_parsers(s.as_bytes());
    }

    #[test]
    fn mutated_valid_inputs_never_panic(
        which in 0u8..4, kind in any::<u8>(), at in any::<usize>(), value in any::<u8>(),
    ) {
        let (receipt, _) = valid_receipt(5, 2);
        let request = AddCheckpoint { old: 3, proof: vec![Hash::default(); 2], checkpoint: receipt.checkpoint.clone() };
        let base = match which {
            0 => receipt.to_bytes(),
            1 => request.to_bytes(),
            2 => receipt.checkpoint.clone(),
            _ => log().verifier().to_string().into_bytes(),
        };
        run_all_parsers(&mutate(&base, kind, at, value));
    }

    #[test]
    fn valid_receipts_verify_and_any_byte_change_is_caught(
        (size, index) in (1u64..40).prop_flat_map(|size| (Just(size), 0..size)),
        kind in any::<u8>(), at in any::<usize>(), value in any::<u8>(),
    ) {
        let (receipt, leaf) = valid_receipt(size, index);
        let bytes = receipt.to_bytes();
        prop_assert_eq!(Receipt::parse(&bytes), Ok(receipt.clone()));
        let verified = receipt.verify(&leaf, &policy()).unwrap();
        prop_assert_eq!(verified.checkpoint.size, size);
        let changed = mutate(&bytes, kind, at, value);
        prop_assume!(changed != bytes);
        let accepted = Receipt::parse(&changed).map(|r| r.verify(&leaf, &policy()));
        prop_assert!(!matches!(accepted, Ok(Ok(_))), "a changed receipt verified");
    }

    #[test]
    fn witness_requests_round_trip_and_changed_ones_are_refused(
        kind in any::<u8>(), at in any::<usize>(), value in any::<u8>(),
    ) {
        // 2 → 5 over the tree of 5 leaves; the witness holds size 2.
        let l = leaves(5);
        let old_root = root(&l[..2]);
        let proof = vec![root(&l[2..4]), l[4]];
        let cp = Checkpoint::new("example.com/log", 5, root(&l));
        let request = AddCheckpoint { old: 2, proof, checkpoint: sign(&cp, &log()).unwrap() };
        let trusted = Verifiers::from_iter([log().verifier()]);
        prop_assert!(decide(&request, &trusted, Some((2, old_root))).is_ok());
        let bytes = request.to_bytes();
        let changed = mutate(&bytes, kind, at, value);
        prop_assume!(changed != bytes);
        if let Ok(changed) = AddCheckpoint::parse(&changed) {
            prop_assert!(decide(&changed, &trusted, Some((2, old_root))).is_err());
        }
    }
}

#[test]
fn helper_tree_matches_the_rfc_vectors() {
    // The 8-leaf RFC 6962 test tree's root, computed with this file's helpers.
    let inputs: [&[u8]; 8] = [
        b"",
        &[0x00],
        &[0x10],
        &[0x20, 0x21],
        &[0x30, 0x31],
        &[0x40, 0x41, 0x42, 0x43],
        &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        &[
            0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
            0x6e, 0x6f,
        ],
    ];
    let hashes: Vec<Hash> = inputs.iter().map(|d| leaf_hash(d)).collect();
    assert_eq!(
        root(&hashes).to_hex(),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    );
    assert_eq!(
        root(&hashes[..5]).to_hex(),
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"
    );
    for size in 1..=8 {
        for index in 0..size {
            let proof = path(index, &hashes[..size]);
            tlog::merkle::verify_inclusion(
                &hashes[index],
                index as u64,
                size as u64,
                &proof,
                &root(&hashes[..size]),
            )
            .unwrap();
        }
    }
}
