//! RFC 6962 Merkle vectors (the Certificate Transparency / Trillian test suite, as collected in
//! transparency-dev/merkle) and property tests of proofs over random trees.

use proptest::prelude::*;
use tlog::merkle::{
    MemoryTree, ProofError, prove_consistency, prove_inclusion, verify_consistency,
    verify_inclusion,
};
use tlog::{Hash, leaf_hash};

const LEAF_INPUTS: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const LEAF_HASHES: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
];

const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

// Interior hashes of the 8-leaf tree, named by the leaves they cover.
const H01: &str = "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125";
const H23: &str = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e";
const H45: &str = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a";
const H67: &str = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0";
const H0123: &str = "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7";
const H4567: &str = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4";

fn h(hex: &str) -> Hash {
    Hash::from_hex(hex).unwrap()
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

fn eight_leaf_tree() -> (MemoryTree, Vec<Hash>) {
    let leaves: Vec<Hash> = LEAF_INPUTS.iter().map(|input| leaf_hash(&unhex(input))).collect();
    (MemoryTree::from_leaves(&leaves), leaves)
}

fn root_of_prefix(size: usize) -> Hash {
    let (_, leaves) = eight_leaf_tree();
    MemoryTree::from_leaves(&leaves[..size]).root()
}

#[test]
fn leaf_hashes_and_roots_of_every_size() {
    let (_, leaves) = eight_leaf_tree();
    for (leaf, expected) in leaves.iter().zip(LEAF_HASHES) {
        assert_eq!(*leaf, h(expected));
    }
    for (size, expected) in ROOTS.iter().enumerate() {
        assert_eq!(root_of_prefix(size), h(expected), "root of size {size}");
    }
}

#[test]
fn published_inclusion_proofs() {
    let (tree, leaves) = eight_leaf_tree();
    let cases: [(u64, u64, &[&str]); 4] = [
        (0, 8, &[LEAF_HASHES[1], H23, H4567]),
        (5, 8, &[LEAF_HASHES[4], H67, H0123]),
        (2, 3, &[H01]),
        (1, 5, &[LEAF_HASHES[0], H23, LEAF_HASHES[4]]),
    ];
    for (index, size, expected) in cases {
        let expected: Vec<Hash> = expected.iter().map(|x| h(x)).collect();
        let small = MemoryTree::from_leaves(&leaves[..size as usize]);
        assert_eq!(prove_inclusion(index, size, &small).unwrap(), expected, "{index} in {size}");
        assert_eq!(prove_inclusion(index, size, &tree).unwrap(), expected, "{index} in {size}");
        verify_inclusion(&leaves[index as usize], index, size, &expected, &h(ROOTS[size as usize]))
            .unwrap();
    }
}

#[test]
fn published_consistency_proofs() {
    let (tree, _) = eight_leaf_tree();
    let cases: [(u64, u64, &[&str]); 5] = [
        (1, 8, &[LEAF_HASHES[1], H23, H4567]),
        (6, 8, &[H45, H67, H0123]),
        (2, 5, &[H23, LEAF_HASHES[4]]),
        (6, 7, &[H45, LEAF_HASHES[6], H0123]),
        (1, 1, &[]),
    ];
    for (size1, size2, expected) in cases {
        let expected: Vec<Hash> = expected.iter().map(|x| h(x)).collect();
        assert_eq!(prove_consistency(size1, size2, &tree).unwrap(), expected, "{size1}→{size2}");
        verify_consistency(
            size1,
            size2,
            &expected,
            &h(ROOTS[size1 as usize]),
            &h(ROOTS[size2 as usize]),
        )
        .unwrap();
    }
}

#[test]
fn every_pair_of_sizes_up_to_eight() {
    let (tree, leaves) = eight_leaf_tree();
    for size in 1..=8u64 {
        let root = h(ROOTS[size as usize]);
        for index in 0..size {
            let proof = prove_inclusion(index, size, &tree).unwrap();
            verify_inclusion(&leaves[index as usize], index, size, &proof, &root).unwrap();
            // The proof is for this index and size only.
            for other in 0..size {
                if other != index {
                    assert!(
                        verify_inclusion(&leaves[index as usize], other, size, &proof, &root)
                            .is_err()
                    );
                }
            }
            assert!(
                verify_inclusion(&leaves[index as usize], index, size * 2, &proof, &root).is_err()
            );
        }
        for size1 in 0..=size {
            let proof = prove_consistency(size1, size, &tree).unwrap();
            let root1 = h(ROOTS[size1 as usize]);
            verify_consistency(size1, size, &proof, &root1, &root).unwrap();
            if size1 > 0 && size1 < size {
                let mut extended = proof.clone();
                extended.push(root);
                assert!(verify_consistency(size1, size, &extended, &root1, &root).is_err());
                assert!(verify_consistency(size1, size, &proof[1..], &root1, &root).is_err());
            }
        }
    }
}

#[test]
fn consistency_edge_cases() {
    let empty = h(ROOTS[0]);
    let one = h(ROOTS[1]);
    verify_consistency(0, 0, &[], &empty, &empty).unwrap();
    verify_consistency(0, 1, &[], &empty, &one).unwrap();
    verify_consistency(1, 1, &[], &one, &one).unwrap();
    assert_eq!(
        verify_consistency(1, 1, &[one], &one, &one),
        Err(ProofError::WrongLength { got: 1 }),
        "a proof where the roots already match"
    );
    assert_eq!(
        verify_consistency(2, 1, &[], &one, &one),
        Err(ProofError::SizesReversed { size1: 2, size2: 1 }),
        "time travel"
    );
    assert_eq!(
        verify_consistency(1, 1, &[], &one, &empty),
        Err(ProofError::RootsDiffer { size: 1 })
    );
    assert!(verify_consistency(1, 2, &[], &one, &h(ROOTS[2])).is_err());
}

fn flip_bit(hash: &Hash, bit: usize) -> Hash {
    let mut bytes = hash.0;
    bytes[bit / 8 % 32] ^= 1 << (bit % 8);
    Hash(bytes)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn inclusion_proofs_verify_and_any_change_breaks_them(
        size in 1u64..3000,
        index_seed in any::<u64>(),
        bit in 0usize..256,
        which in any::<usize>(),
    ) {
        let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let tree = MemoryTree::from_leaves(&leaves);
        let root = tree.root();
        let index = index_seed % size;
        let leaf = leaves[index as usize];
        let proof = prove_inclusion(index, size, &tree).unwrap();
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_ok());

        prop_assert!(verify_inclusion(&flip_bit(&leaf, bit), index, size, &proof, &root).is_err());
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &flip_bit(&root, bit)).is_err());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let at = which % bad.len();
            bad[at] = flip_bit(&bad[at], bit);
            prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
            let mut shorter = proof.clone();
            shorter.pop();
            prop_assert!(verify_inclusion(&leaf, index, size, &shorter, &root).is_err());
        }
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(&leaf, index, size, &longer, &root).is_err());
        if size > 1 {
            let other = (index + 1) % size;
            prop_assert!(verify_inclusion(&leaf, other, size, &proof, &root).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify_and_any_change_breaks_them(
        size2 in 2u64..3000,
        size1_seed in any::<u64>(),
        bit in 0usize..256,
        which in any::<usize>(),
    ) {
        let leaves: Vec<Hash> = (0..size2).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let tree = MemoryTree::from_leaves(&leaves);
        let size1 = 1 + size1_seed % (size2 - 1);
        let root1 = MemoryTree::from_leaves(&leaves[..size1 as usize]).root();
        let root2 = tree.root();
        let proof = prove_consistency(size1, size2, &tree).unwrap();
        prop_assert!(verify_consistency(size1, size2, &proof, &root1, &root2).is_ok());

        prop_assert!(verify_consistency(size1, size2, &proof, &flip_bit(&root1, bit), &root2).is_err());
        prop_assert!(verify_consistency(size1, size2, &proof, &root1, &flip_bit(&root2, bit)).is_err());
        let mut bad = proof.clone();
        let at = which % bad.len();
        bad[at] = flip_bit(&bad[at], bit);
        prop_assert!(verify_consistency(size1, size2, &bad, &root1, &root2).is_err());
        let mut longer = proof.clone();
        longer.push(root2);
        prop_assert!(verify_consistency(size1, size2, &longer, &root1, &root2).is_err());
        prop_assert!(verify_consistency(size1, size2, &proof[..proof.len() - 1], &root1, &root2).is_err());
    }
}
