//! Merkle tree roots, inclusion proofs and consistency proofs.
//!
//! Proofs are *built* by the RFC 6962 §2.1.1–2.1.2 recursions (`PATH` and `SUBPROOF`) and
//! *verified* by the RFC 9162 §2.1.3.2 and §2.1.4.2 algorithms, so the two halves are
//! independent derivations that check each other.
//!
//! Building needs hashes of the tree, which live wherever the caller keeps them (memory, tiles on
//! disk, tiles over HTTP). This module never fetches them itself: it names the perfect subtrees it
//! needs as [`NodeId`]s and asks a [`HashReader`] for them in one batch, so the I/O stays with the
//! caller and a whole proof costs one round trip.

use crate::hash::{EMPTY_ROOT, HASH_SIZE, Hash, node_hash};

/// A perfect subtree: the `2^level` leaves starting at leaf `index << level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves: 0 is a leaf.
    pub level: u8,
    /// Position among the nodes of this level, from the left.
    pub index: u64,
}

impl NodeId {
    /// The first leaf this node covers.
    pub fn first_leaf(&self) -> u64 {
        self.index << self.level
    }

    /// One past the last leaf this node covers.
    pub fn end_leaf(&self) -> u64 {
        (self.index + 1) << self.level
    }
}

/// Why a proof could not be built or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The first tree is larger than the second.
    #[error("tree size {size1} is larger than {size2}: a log never shrinks")]
    SizesReversed {
        /// The earlier size.
        size1: u64,
        /// The later size.
        size2: u64,
    },
    /// A proof was supplied where none may be, or the proof has the wrong number of hashes.
    #[error("the proof has {got} hashes, which is wrong for these tree sizes")]
    WrongLength {
        /// The number of hashes in the proof.
        got: usize,
    },
    /// Two trees of the same size have different roots.
    #[error("two trees of the same size {size} have different roots")]
    RootsDiffer {
        /// The common size.
        size: u64,
    },
    /// The proof was well formed but led to a different root.
    #[error("the proof does not lead to the expected root hash")]
    Mismatch,
}

/// Why building a proof or a root failed: the tree sizes were wrong, or the reader failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError<E> {
    /// The request itself was wrong (index outside the tree, sizes reversed).
    #[error(transparent)]
    Proof(ProofError),
    /// The hash reader could not supply a hash.
    #[error("reading tree hashes: {0}")]
    Read(E),
    /// The hash reader returned a different number of hashes than asked for.
    #[error("the hash reader returned {got} hashes for {asked} nodes")]
    ReaderContract {
        /// Hashes asked for.
        asked: usize,
        /// Hashes returned.
        got: usize,
    },
}

/// A source of perfect-subtree hashes of one tree.
pub trait HashReader {
    /// What goes wrong when reading.
    type Error;

    /// The hashes of `nodes`, in the same order. Every node asked for lies inside the tree.
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, Self::Error>;
}

/// The largest power of two strictly smaller than `n` (`n` ≥ 2).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees that make up the leaf range `[start, end)`, largest first, where `start`
/// is a multiple of a power of two at least as large as the range (true of every range that
/// RFC 6962's recursions produce). `MTH(D[start:end])` is their right fold, see [`fold_range`].
pub fn range_nodes(start: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let mut at = start;
    while at < end {
        let remaining = end - at;
        let mut level = 63 - remaining.leading_zeros() as u8;
        while at & ((1u64 << level) - 1) != 0 {
            level -= 1;
        }
        nodes.push(NodeId { level, index: at >> level });
        at += 1 << level;
    }
    nodes
}

/// Combines the hashes of [`range_nodes`] into the range's Merkle tree hash.
pub fn fold_range(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(last) = iter.next() else {
        return EMPTY_ROOT;
    };
    iter.fold(*last, |right, left| node_hash(left, &right))
}

/// The leaf ranges whose tree hashes form the inclusion proof of leaf `index` in `[lo, hi)`,
/// leaf sibling first (RFC 6962 §2.1.1 `PATH`).
fn inclusion_ranges(index: u64, lo: u64, hi: u64, out: &mut Vec<(u64, u64)>) {
    let n = hi - lo;
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if index - lo < k {
        inclusion_ranges(index, lo, lo + k, out);
        out.push((lo + k, hi));
    } else {
        inclusion_ranges(index, lo + k, hi, out);
        out.push((lo, lo + k));
    }
}

/// The leaf ranges of the consistency proof from the first `m` leaves of `[lo, hi)`
/// (RFC 6962 §2.1.2 `SUBPROOF`).
fn consistency_ranges(m: u64, lo: u64, hi: u64, complete: bool, out: &mut Vec<(u64, u64)>) {
    let n = hi - lo;
    if m == n {
        if !complete {
            out.push((lo, hi));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        consistency_ranges(m, lo, lo + k, complete, out);
        out.push((lo + k, hi));
    } else {
        consistency_ranges(m - k, lo + k, hi, false, out);
        out.push((lo, lo + k));
    }
}

/// Reads the tree hashes of several leaf ranges in one batch.
fn read_ranges<R: HashReader>(
    ranges: &[(u64, u64)],
    reader: &R,
) -> Result<Vec<Hash>, BuildError<R::Error>> {
    let per_range: Vec<Vec<NodeId>> = ranges.iter().map(|&(s, e)| range_nodes(s, e)).collect();
    let nodes: Vec<NodeId> = per_range.iter().flatten().copied().collect();
    let hashes = reader.read_hashes(&nodes).map_err(BuildError::Read)?;
    if hashes.len() != nodes.len() {
        return Err(BuildError::ReaderContract { asked: nodes.len(), got: hashes.len() });
    }
    let mut at = 0;
    Ok(per_range
        .iter()
        .map(|range| {
            let folded = fold_range(&hashes[at..at + range.len()]);
            at += range.len();
            folded
        })
        .collect())
}

/// The root hash of the tree of the first `size` leaves.
pub fn tree_root<R: HashReader>(size: u64, reader: &R) -> Result<Hash, BuildError<R::Error>> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    Ok(read_ranges(&[(0, size)], reader)?[0])
}

/// The inclusion proof of leaf `index` in the tree of size `size`.
pub fn prove_inclusion<R: HashReader>(
    index: u64,
    size: u64,
    reader: &R,
) -> Result<Vec<Hash>, BuildError<R::Error>> {
    if index >= size {
        return Err(BuildError::Proof(ProofError::IndexOutOfRange { index, size }));
    }
    let mut ranges = Vec::new();
    inclusion_ranges(index, 0, size, &mut ranges);
    read_ranges(&ranges, reader)
}

/// The consistency proof from the tree of size `size1` to the tree of size `size2`. It is empty
/// when `size1` is 0 or equal to `size2`.
pub fn prove_consistency<R: HashReader>(
    size1: u64,
    size2: u64,
    reader: &R,
) -> Result<Vec<Hash>, BuildError<R::Error>> {
    if size1 > size2 {
        return Err(BuildError::Proof(ProofError::SizesReversed { size1, size2 }));
    }
    if size1 == 0 || size1 == size2 {
        return Ok(Vec::new());
    }
    let mut ranges = Vec::new();
    consistency_ranges(size1, 0, size2, true, &mut ranges);
    read_ranges(&ranges, reader)
}

/// Verifies that `leaf` is the leaf hash at `index` in the tree of size `size` with root `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength { got: proof.len() });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength { got: proof.len() });
    }
    if r != *root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

/// Verifies that the tree of size `size2` with root `root2` extends the tree of size `size1`
/// with root `root1` (RFC 9162 §2.1.4.2). The empty tree is consistent with every tree, with an
/// empty proof.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizesReversed { size1, size2 });
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength { got: proof.len() });
        }
        if root1 != root2 {
            return Err(ProofError::RootsDiffer { size: size1 });
        }
        return Ok(());
    }
    if size1 == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength { got: proof.len() });
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength { got: 0 });
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(*root1);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (size1 - 1, size2 - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength { got: proof.len() });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength { got: proof.len() });
    }
    if fr != *root1 || sr != *root2 {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

/// The right edge of a growing tree: the roots of its maximal perfect subtrees, largest first.
/// Appending a leaf and computing the root cost O(log n) and need no other storage, which makes
/// it the tool for recomputing a whole tree from its leaves in one pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `(level, hash)` of each maximal perfect subtree, left to right (strictly decreasing level).
    nodes: Vec<(u8, Hash)>,
}

impl Frontier {
    /// An empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// The number of leaves appended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.push_subtree(0, leaf);
    }

    /// Appends the root of a perfect subtree of `2^level` leaves. The tree's size must be a
    /// multiple of `2^level` (it always is when whole tiles are appended in order).
    pub fn push_subtree(&mut self, level: u8, hash: Hash) {
        debug_assert_eq!(self.size & ((1u64 << level) - 1), 0, "unaligned subtree");
        self.size += 1 << level;
        let (mut level, mut hash) = (level, hash);
        while let Some(&(top_level, top_hash)) = self.nodes.last() {
            if top_level != level {
                break;
            }
            self.nodes.pop();
            hash = node_hash(&top_hash, &hash);
            level += 1;
        }
        self.nodes.push((level, hash));
    }

    /// The Merkle tree hash of everything appended.
    pub fn root(&self) -> Hash {
        let hashes: Vec<Hash> = self.nodes.iter().map(|&(_, h)| h).collect();
        fold_range(&hashes)
    }

    /// The frontier as bytes, for keeping it beside a log: the size as eight big-endian bytes,
    /// then the hash of each maximal perfect subtree, largest first (their levels are the set
    /// bits of the size).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.nodes.len() * HASH_SIZE);
        out.extend_from_slice(&self.size.to_be_bytes());
        for (_, hash) in &self.nodes {
            out.extend_from_slice(&hash.0);
        }
        out
    }

    /// Reads [`Frontier::to_bytes`]; `None` unless the bytes are a size followed by exactly one
    /// hash per set bit of it.
    pub fn from_bytes(bytes: &[u8]) -> Option<Frontier> {
        let (size, hashes) = bytes.split_first_chunk::<8>()?;
        let size = u64::from_be_bytes(*size);
        if hashes.len() != size.count_ones() as usize * HASH_SIZE {
            return None;
        }
        let levels = (0..64u8).rev().filter(|level| size & (1u64 << level) != 0);
        let nodes = levels
            .zip(hashes.chunks_exact(HASH_SIZE))
            .map(|(level, hash)| Some((level, Hash::from_slice(hash)?)))
            .collect::<Option<Vec<_>>>()?;
        Some(Frontier { size, nodes })
    }
}

/// The Merkle tree hash of a list of leaf hashes.
pub fn root_of_leaves(leaves: &[Hash]) -> Hash {
    let mut frontier = Frontier::new();
    for leaf in leaves {
        frontier.push(*leaf);
    }
    frontier.root()
}

/// A whole tree kept in memory, every level of it: a [`HashReader`] for tests, tools and small
/// trees.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    /// `levels[l][i]` is the hash of node `(l, i)`; only complete nodes are kept.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// A tree over the given leaf hashes.
    pub fn from_leaves(leaves: &[Hash]) -> MemoryTree {
        let mut tree = MemoryTree::default();
        for leaf in leaves {
            tree.push(*leaf);
        }
        tree
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(hash);
            let row = &self.levels[level];
            if row.len() % 2 == 1 {
                break;
            }
            hash = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |row| row.len() as u64)
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        tree_root(self.size(), self).expect("a memory tree holds every node it is asked for")
    }
}

/// A node outside the tree was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("node at level {} index {} is not in the tree", .0.level, .0.index)]
pub struct MissingNode(pub NodeId);

impl HashReader for MemoryTree {
    type Error = MissingNode;

    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, MissingNode> {
        nodes
            .iter()
            .map(|node| {
                self.levels
                    .get(node.level as usize)
                    .and_then(|row| row.get(node.index as usize))
                    .copied()
                    .ok_or(MissingNode(*node))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    /// The RFC 6962 definition, written as plainly as possible, as an oracle.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => EMPTY_ROOT,
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn range_nodes_decompose_aligned_ranges() {
        assert_eq!(range_nodes(0, 0), vec![]);
        assert_eq!(range_nodes(0, 1), vec![NodeId { level: 0, index: 0 }]);
        assert_eq!(
            range_nodes(0, 7),
            vec![
                NodeId { level: 2, index: 0 },
                NodeId { level: 1, index: 2 },
                NodeId { level: 0, index: 6 }
            ]
        );
        assert_eq!(
            range_nodes(8, 13),
            vec![NodeId { level: 2, index: 2 }, NodeId { level: 0, index: 12 }]
        );
    }

    #[test]
    fn roots_agree_with_the_definition() {
        for n in 0..=70u64 {
            let l = leaves(n);
            let tree = MemoryTree::from_leaves(&l);
            assert_eq!(tree.root(), mth(&l), "size {n}");
            assert_eq!(root_of_leaves(&l), mth(&l), "size {n}");
        }
    }

    #[test]
    fn every_inclusion_and_consistency_proof_verifies_up_to_40() {
        let all = leaves(40);
        let tree = MemoryTree::from_leaves(&all);
        for size in 1..=40u64 {
            let root = mth(&all[..size as usize]);
            for index in 0..size {
                let proof = prove_inclusion(index, size, &tree).unwrap();
                verify_inclusion(&all[index as usize], index, size, &proof, &root).unwrap();
            }
            for size1 in 0..=size {
                let root1 = mth(&all[..size1 as usize]);
                let proof = prove_consistency(size1, size, &tree).unwrap();
                verify_consistency(size1, size, &proof, &root1, &root).unwrap();
            }
        }
    }

    #[test]
    fn frontier_accepts_whole_subtrees() {
        let all = leaves(1000);
        let mut frontier = Frontier::new();
        for chunk in all[..768].chunks(256) {
            frontier.push_subtree(8, mth(chunk));
        }
        for leaf in &all[768..] {
            frontier.push(*leaf);
        }
        assert_eq!(frontier.size(), 1000);
        assert_eq!(frontier.root(), mth(&all));
    }

    #[test]
    fn frontier_bytes_round_trip_and_bad_ones_are_refused() {
        let all = leaves(70);
        let mut frontier = Frontier::new();
        for (n, leaf) in all.iter().enumerate() {
            let bytes = frontier.to_bytes();
            assert_eq!(bytes.len(), 8 + (n as u64).count_ones() as usize * HASH_SIZE);
            let back = Frontier::from_bytes(&bytes).unwrap();
            assert_eq!(back, frontier, "size {n}");
            assert_eq!(back.root(), mth(&all[..n]));
            frontier.push(*leaf);
        }
        let bytes = frontier.to_bytes();
        assert_eq!(Frontier::from_bytes(&bytes[..bytes.len() - 1]), None);
        assert_eq!(Frontier::from_bytes(&bytes[..7]), None);
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; HASH_SIZE]);
        assert_eq!(Frontier::from_bytes(&longer), None);
        let mut other_size = bytes;
        other_size[7] ^= 1;
        assert_eq!(Frontier::from_bytes(&other_size), None, "70 and 71 have different bit counts");
    }
}
