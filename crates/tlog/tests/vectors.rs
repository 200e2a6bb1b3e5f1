//! Published C2SP / golang.org/x/mod / sigsum / transparency-dev vectors for signed notes,
//! checkpoints, cosignatures and the witness protocol, plus the self-computed end-to-end
//! cosignature vector of the project's research notes (docs: tlog.md §2.6).
//!
//! The vectors are tables; each table is checked by one driver.

use tlog::checkpoint::{Checkpoint, Policy, sign};
use tlog::cosignature::{self, cosign, signed_message};
use tlog::note::{
    KeyError, KeyKind, Note, NoteError, NoteSignature, Signer, VerifierKey, Verifiers, open,
};
use tlog::witness::{AddCheckpoint, parse_response};
use tlog::{Hash, leaf_hash};

/// A note signed by one key, with the private key where it is known.
struct NoteVector {
    /// Where the vector comes from.
    source: &'static str,
    vkey: &'static str,
    /// A Go private key string, if published.
    skey: Option<&'static str>,
    /// The Ed25519 seed, if known.
    seed: Option<[u8; 32]>,
    text: &'static str,
    /// The signature line, with its final newline.
    line: &'static str,
}

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

const SIGSUM_ORIGIN: &str =
    "sigsum.org/v1/tree/e796172b92befd62d9dc67e41c2f5bc9d3100a3023b20b1ca40288dd1c679e69";

fn sigsum_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    seed[0] = 0x11;
    seed
}

fn note_vectors() -> Vec<NoteVector> {
    vec![
        NoteVector {
            source: "N1 x/mod sumdb/note TestSign",
            vkey: PETER_VKEY,
            skey: Some(PETER_SKEY),
            seed: None,
            text: GO_TEXT,
            line: PETER_SIG,
        },
        NoteVector {
            source: "N2 x/mod sumdb/note TestOpen (all-zero seed)",
            vkey: ENOCH_VKEY,
            skey: None,
            seed: Some([0; 32]),
            text: GO_TEXT,
            line: ENOCH_SIG,
        },
        NoteVector {
            source: "N3 C2SP signed-note example",
            vkey: "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            skey: None,
            seed: None,
            text: "This is an example message.\n",
            line: "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n",
        },
        NoteVector {
            source: "C1 sigsum-go pkg/checkpoint validCheckpointASCII (seed 0x11, 31 zeros)",
            vkey: "sigsum.org/v1/tree/e796172b92befd62d9dc67e41c2f5bc9d3100a3023b20b1ca40288dd1c679e69+809da1a3+AWbguFjkYqYJ5m/nE3DIFtiEb/ED1UmaIqf+w3/bxCSn",
            skey: None,
            seed: Some(sigsum_seed()),
            text: "sigsum.org/v1/tree/e796172b92befd62d9dc67e41c2f5bc9d3100a3023b20b1ca40288dd1c679e69\n10\nHA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            line: "— sigsum.org/v1/tree/e796172b92befd62d9dc67e41c2f5bc9d3100a3023b20b1ca40288dd1c679e69 gJ2ho0n8F8olcerUF1FFdv235A/5as/coWrpLrtE7ovMeP5whgwouYExowG/lTznxu6OUGjjt5yJQ6bXtTcf718MqAQ=\n",
        },
    ]
}

#[test]
fn note_vectors_open_and_reproduce() {
    for v in note_vectors() {
        let key = VerifierKey::parse(v.vkey).unwrap_or_else(|e| panic!("{}: {e}", v.source));
        assert_eq!(key.to_string(), v.vkey, "{}", v.source);
        assert_eq!(key.kind(), KeyKind::Ed25519);
        let note = format!("{}\n{}", v.text, v.line);
        let opened = open(note.as_bytes(), &Verifiers::from_iter([key.clone()]))
            .unwrap_or_else(|e| panic!("{}: {e}", v.source));
        assert_eq!(opened.text(), v.text, "{}", v.source);
        assert_eq!(opened.text_bytes(), v.text.as_bytes());
        assert_eq!(opened.verified().len(), 1);
        assert_eq!(opened.verified()[0].key, key);
        assert_eq!(opened.verified()[0].signature.line(), v.line, "{}", v.source);
        assert_eq!(Note::parse(note.as_bytes()).unwrap().to_bytes(), note.as_bytes());

        let signers: Vec<Signer> = v
            .skey
            .map(|s| Signer::parse(s).unwrap())
            .into_iter()
            .chain(
                v.seed.map(|seed| Signer::from_seed(key.name(), KeyKind::Ed25519, seed).unwrap()),
            )
            .collect();
        for signer in signers {
            assert_eq!(signer.verifier(), key, "{}: derived vkey", v.source);
            assert_eq!(signer.verifier().to_string(), v.vkey, "{}", v.source);
            assert_eq!(signer.sign(v.text).unwrap().line(), v.line, "{}: signature", v.source);
            let mut built = Note::new(v.text).unwrap();
            built.sign(&signer).unwrap();
            assert_eq!(built.to_bytes(), note.as_bytes(), "{}", v.source);
            if let Some(skey) = v.skey {
                assert_eq!(signer.to_private_string().as_str(), skey);
            }
        }
    }
}

#[test]
fn n2_is_the_all_zero_seed_key() {
    let signer = Signer::from_seed("EnochRoot", KeyKind::Ed25519, [0; 32]).unwrap();
    assert_eq!(signer.verifier().to_string(), ENOCH_VKEY);
}

#[test]
fn c1_sigsum_checkpoint() {
    let signer = Signer::from_seed(SIGSUM_ORIGIN, KeyKind::Ed25519, sigsum_seed()).unwrap();
    let c1 = &note_vectors()[3];
    assert_eq!(signer.verifier().to_string(), c1.vkey);
    // The sigsum origin is the hex SHA-256 of the log's public key.
    let key_hash = tlog::hash::sha256(signer.verifier().public_key());
    assert_eq!(SIGSUM_ORIGIN, format!("sigsum.org/v1/tree/{}", key_hash.to_hex()));

    let cp = Checkpoint::parse(c1.text).unwrap();
    assert_eq!(cp.origin, SIGSUM_ORIGIN);
    assert_eq!(cp.size, 10);
    let mut root = [0u8; 32];
    root[..3].copy_from_slice(&[0x1c, 0x0e, 0x47]);
    assert_eq!(cp.root, Hash(root));
    assert!(cp.extensions.is_empty());
    assert_eq!(cp.to_text(), c1.text);

    let note = sign(&cp, &signer).unwrap();
    assert_eq!(note, format!("{}\n{}", c1.text, c1.line).into_bytes());
    let policy = Policy { log_keys: vec![signer.verifier()], witnesses: vec![], quorum: 0 };
    let verified = policy.verify_origin(&note, SIGSUM_ORIGIN).unwrap();
    assert_eq!(verified.checkpoint, cp);
    assert_eq!(verified.text_bytes, c1.text.as_bytes());
}

const COSIG_LOG_VKEY: &str =
    "example.com/juki-test+f2adbbc0+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const COSIG_WITNESS_VKEY: &str =
    "witness.example/w1+e75f6532+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
const COSIG_NOTE: &str = "example.com/juki-test
8
XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=

— example.com/juki-test 8q27wIxNmvUGdzpSBM5kMoZPmRumo4Vi8CHQPuf12PO7mKVgIpszvVfURIsW9iegf4KfCONz9Q1TxRXjO7Q8nrnDrQc=
— witness.example/w1 519lMgAAAABlU/EAxvKZhSoi84SyzMr1JRdZ3QWYevwe75t60F07zfv5FBrQ57B+PAr5Z763sToqp4lDTd97ocIxiDA9Z0wZtbj9CA==
";

#[test]
fn end_to_end_cosignature_vector() {
    let log = Signer::from_seed("example.com/juki-test", KeyKind::Ed25519, [0; 32]).unwrap();
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    let witness = Signer::from_seed("witness.example/w1", KeyKind::Cosignature, seed).unwrap();
    assert_eq!(log.verifier().to_string(), COSIG_LOG_VKEY);
    assert_eq!(witness.verifier().to_string(), COSIG_WITNESS_VKEY);
    assert_eq!(VerifierKey::parse(COSIG_LOG_VKEY).unwrap(), log.verifier());
    assert_eq!(VerifierKey::parse(COSIG_WITNESS_VKEY).unwrap(), witness.verifier());

    // The root is the RFC 6962 8-leaf test tree's.
    let root =
        Hash::from_hex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328").unwrap();
    let cp = Checkpoint::new("example.com/juki-test", 8, root);
    let text = cp.to_text();
    let signed = sign(&cp, &log).unwrap();
    let cosig = cosign(&witness, &text, 1_700_000_000).unwrap();
    let mut note = signed.clone();
    note.extend_from_slice(cosig.line().as_bytes());
    assert_eq!(String::from_utf8(note).unwrap(), COSIG_NOTE);

    let policy = Policy {
        log_keys: vec![VerifierKey::parse(COSIG_LOG_VKEY).unwrap()],
        witnesses: vec![VerifierKey::parse(COSIG_WITNESS_VKEY).unwrap()],
        quorum: 1,
    };
    let verified = policy.verify_origin(COSIG_NOTE.as_bytes(), "example.com/juki-test").unwrap();
    assert_eq!(verified.checkpoint, cp);
    assert_eq!(verified.cosignatures, [("witness.example/w1".to_owned(), 1_700_000_000)]);
}

#[test]
fn sigsum_cosigned_message_is_byte_exact() {
    // sigsum-go pkg/types/tree_head_test.go validTreeHeadCosignedData.
    let checkpoint = "sigsum.org/v1/tree/66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925\n257\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
    let want = "cosignature/v1\ntime 72623859790382856\nsigsum.org/v1/tree/66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925\n257\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
    assert_eq!(signed_message(72623859790382856, checkpoint.as_bytes()), want.as_bytes());
    let cp = Checkpoint::parse(checkpoint).unwrap();
    assert_eq!(cp.root, Hash(std::array::from_fn(|i| i as u8)));
    assert_eq!(cp.size, 257);
}

#[test]
fn cosignature_spec_example_layout() {
    // c2sp.org/tlog-cosignature example line: key ID 8d66cf3f, timestamp 1679315147.
    let note = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\
                — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
                — witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
    let parsed = Note::parse(note.as_bytes()).unwrap();
    let cp = Checkpoint::parse(parsed.text()).unwrap();
    assert_eq!((cp.origin.as_str(), cp.size), ("example.com/behind-the-sofa", 20852163));
    let cosig = &parsed.signatures()[1];
    assert_eq!((cosig.name.as_str(), cosig.id), ("witness.example.com/w1", 0x8d66cf3f));
    assert_eq!(cosignature::timestamp(cosig), Some(1679315147));
    assert_eq!(cosignature::timestamp(&parsed.signatures()[0]), None);
}

#[test]
fn go_sumdb_tree_note_text() {
    // x/mod sumdb/tlog note_test.go: FormatTree(Tree{123456789012, RecordHash("hello world")}).
    let cp = Checkpoint::new("go.sum database tree", 123456789012, leaf_hash(b"hello world"));
    let text = "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n";
    assert_eq!(cp.to_text(), text);
    assert_eq!(Checkpoint::parse(text).unwrap(), cp);
}

#[test]
fn every_mangling_of_the_n1_vkey_is_rejected() {
    // x/mod TestNewVerifier: every proper substring and every single-byte increment.
    VerifierKey::parse(PETER_VKEY).unwrap();
    let bytes = PETER_VKEY.as_bytes();
    for i in 0..=bytes.len() {
        for j in i + 1..=bytes.len() {
            if (i, j) != (0, bytes.len()) {
                let s = std::str::from_utf8(&bytes[i..j]).unwrap();
                assert!(VerifierKey::parse(s).is_err(), "substring {s:?} accepted");
            }
        }
    }
    for i in 0..bytes.len() {
        let mut b = bytes.to_vec();
        b[i] += 1;
        let s = std::str::from_utf8(&b).unwrap();
        assert!(VerifierKey::parse(s).is_err(), "increment {s:?} accepted");
    }
}

#[test]
fn key_parsing_negative_vectors() {
    let cases: [(&str, &str); 3] = [
        (
            "wrong key length, with adjusted key hash",
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        ),
        (
            "unknown algorithm, with adjusted key hash",
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ),
        (
            "incorrect key hash",
            "rekor.sigstore.dev+00000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ),
    ];
    for (what, vkey) in cases {
        assert!(VerifierKey::parse(vkey).is_err(), "{what}");
    }
    assert_eq!(
        VerifierKey::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::UnsupportedType(b'e'))
    );
}

#[test]
fn real_world_vkeys() {
    // sum.golang.org: '+' inside the base64.
    let sum =
        VerifierKey::parse("sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8")
            .unwrap();
    assert_eq!(
        (sum.name(), sum.id(), sum.kind()),
        ("sum.golang.org", 0x033de0ae, KeyKind::Ed25519)
    );
    assert_eq!(
        sum.to_string(),
        "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
    );
    // A public witness, type 0x04; its key ID is checked on parse.
    let remora =
        VerifierKey::parse("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
            .unwrap();
    assert_eq!(
        (remora.name(), remora.id(), remora.kind()),
        ("remora.n621.de", 0xda77ade7, KeyKind::Cosignature)
    );
    assert_eq!(
        tlog::note::key_id("remora.n621.de", KeyKind::Cosignature, remora.public_key()),
        0xda77ade7
    );
    assert!(matches!(
        VerifierKey::parse("remora.n621.de+da77ade8+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"),
        Err(KeyError::IdMismatch { .. })
    ));
}

fn peter() -> VerifierKey {
    VerifierKey::parse(PETER_VKEY).unwrap()
}

fn enoch() -> VerifierKey {
    VerifierKey::parse(ENOCH_VKEY).unwrap()
}

fn sig(line: &str) -> NoteSignature {
    let note = format!("x\n\n{line}");
    Note::parse(note.as_bytes()).unwrap().signatures()[0].clone()
}

#[test]
fn go_test_open_behaviours() {
    let both = format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}");

    // One known, one unknown: opens, the unknown one is kept unverified.
    let n = open(both.as_bytes(), &Verifiers::from_iter([peter()])).unwrap();
    assert_eq!(n.text(), GO_TEXT);
    assert_eq!(n.verified().len(), 1);
    assert_eq!(n.verified()[0].signature, sig(PETER_SIG));
    assert_eq!(n.unverified(), [sig(ENOCH_SIG)]);

    // Both known.
    let n = open(both.as_bytes(), &Verifiers::from_iter([peter(), enoch()])).unwrap();
    let names: Vec<&str> = n.verified().iter().map(|v| v.key.name()).collect();
    assert_eq!(names, ["PeterNeumann", "EnochRoot"]);
    assert!(n.unverified().is_empty());

    // Neither known.
    let e = open(both.as_bytes(), &Verifiers::new()).unwrap_err();
    assert_eq!(e, NoteError::NotSigned);
    assert_eq!(e.to_string(), "no known key signed this note");

    // A duplicated key is ambiguous when it is used ...
    let dup = Verifiers::from_iter([enoch(), peter(), enoch()]);
    let e = open(format!("{GO_TEXT}\n{ENOCH_SIG}").as_bytes(), &dup).unwrap_err();
    assert_eq!(e.to_string(), "ambiguous key EnochRoot+af0cfe78");
    // ... and harmless when it is not.
    assert!(open(format!("{GO_TEXT}\n{PETER_SIG}").as_bytes(), &dup).is_ok());

    // Unknown keys, from the verifier list.
    let list = Verifiers::from_iter([peter(), enoch(), enoch()]);
    assert_eq!(list.lookup("PeterNeumann", 0xc74f20a3).unwrap(), &peter());
    assert_eq!(
        list.lookup("PeterNeumann", 0xc74f20a4).unwrap_err().to_string(),
        "unknown key PeterNeumann+c74f20a4"
    );
    assert_eq!(
        list.lookup("PeterNeuman", 0xc74f20a3).unwrap_err().to_string(),
        "unknown key PeterNeuman+c74f20a3"
    );
    assert_eq!(
        list.lookup("EnochRoot", 0xaf0cfe78).unwrap_err().to_string(),
        "ambiguous key EnochRoot+af0cfe78"
    );

    // Too many signatures, known or not.
    let many = format!("{GO_TEXT}\n{}", PETER_SIG.repeat(101));
    assert_eq!(
        open(many.as_bytes(), &Verifiers::from_iter([peter()])),
        Err(NoteError::TooManySignatures)
    );
    assert_eq!(open(many.as_bytes(), &Verifiers::new()), Err(NoteError::TooManySignatures));

    // A corrupted known signature rejects the note.
    let bad = format!("{GO_TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert_eq!(
        open(bad.as_bytes(), &Verifiers::from_iter([peter()])).unwrap_err().to_string(),
        "invalid signature for key PeterNeumann+c74f20a3"
    );

    // Duplicated verified and unverified signatures are listed once.
    let enoch_abcd = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let dups = format!("{GO_TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{enoch_abcd}");
    let n = open(dups.as_bytes(), &Verifiers::from_iter([peter()])).unwrap();
    assert_eq!(n.verified().len(), 1);
    assert_eq!(n.unverified(), [sig(ENOCH_SIG), sig(&enoch_abcd)]);

    // Malformed notes.
    let bad_notes = [
        GO_TEXT.to_owned(),
        format!("{GO_TEXT}\n"),
        format!("{GO_TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{GO_TEXT}\n{PETER_SIG}"),
        format!(
            "{GO_TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        ),
        format!("{GO_TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ];
    for note in bad_notes {
        assert!(open(note.as_bytes(), &Verifiers::from_iter([peter()])).is_err(), "{note:?}");
    }
    let mut invalid_utf8 = b"\xff".to_vec();
    invalid_utf8.extend_from_slice(format!("{GO_TEXT}\n{PETER_SIG}").as_bytes());
    assert_eq!(open(&invalid_utf8, &Verifiers::from_iter([peter()])), Err(NoteError::InvalidUtf8));
}

#[test]
fn witness_spec_examples_parse() {
    // c2sp.org/tlog-witness v1.0.0 example request and response bodies.
    let body = "old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
";
    let request = AddCheckpoint::parse(body.as_bytes()).unwrap();
    assert_eq!(request.old, 20852014);
    assert_eq!(request.proof.len(), 4);
    assert_eq!(request.origin().unwrap(), "example.com/behind-the-sofa");
    assert_eq!(request.to_bytes(), body.as_bytes());

    let response = "— witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==
— witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQNt64vWhO+DlkL0+UfzuOBMh9ChdMkP1vi/lCAsmlw==
— witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==
";
    let sigs = parse_response(response.as_bytes()).unwrap();
    let names: Vec<&str> = sigs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["witness.example/w1", "witness.example/w1", "witness.example/w2"]);
    assert!(sigs.iter().all(|s| s.bytes.len() == cosignature::SIGNATURE_LEN));
    let lines: String = sigs.iter().map(|s| s.line()).collect();
    assert_eq!(lines, response);
}
