//! The journal as a verifiable log: an RFC 9162 (Certificate Transparency v2) Merkle tree whose
//! leaves are the journal's entries, in seq order.
//!
//! - Leaf hash `SHA-256(0x00 ‖ leaf)`, node hash `SHA-256(0x01 ‖ left ‖ right)`, the empty tree
//!   `SHA-256("")`; a tree of `n` leaves splits at the largest power of two below `n`.
//! - The leaf of an entry is [`leaf_bytes`]: its seq, time, command and outcome.
//! - Proofs are RFC 9162 §2.1.3 (inclusion) and §2.1.4 (consistency); [`verify_inclusion`] and
//!   [`verify_consistency`] are the RFC's verification algorithms, used offline by
//!   `jifen proof verify`.
//!
//! [`Tree`] keeps the tree incrementally: the hashes of complete 256-leaf groups and of every
//! complete aligned subtree above them, plus the leaf hashes of the unfinished last group.
//! Appending a leaf is amortised O(1) and at worst O(log n); memory is about 64 bytes per 256
//! entries. A proof needs at most two groups' leaf hashes, which the caller reads back from the
//! journal.

use sha2::{Digest, Sha256};

use crate::entry::Hash;

/// Leaves per group: the lowest level the tree keeps for entries that are not at the end.
pub const GROUP: u64 = 256;
const GROUP_BITS: u32 = 8;

/// The tree of no leaves: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// The canonical bytes of a journal entry, its leaf: `b"jifen-leaf-v1" ‖ seq u64 ‖ ts_ms i64 ‖
/// len u32 ‖ command ‖ len u32 ‖ outcome`, integers big-endian.
pub fn leaf_bytes(seq: u64, ts_ms: i64, command: &str, outcome: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(13 + 16 + 8 + command.len() + outcome.len());
    out.extend_from_slice(b"jifen-leaf-v1");
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ts_ms.to_be_bytes());
    out.extend_from_slice(&(command.len() as u32).to_be_bytes());
    out.extend_from_slice(command.as_bytes());
    out.extend_from_slice(&(outcome.len() as u32).to_be_bytes());
    out.extend_from_slice(outcome.as_bytes());
    out
}

/// What [`leaf_bytes`] holds, read back; `None` when the bytes are not a leaf.
pub fn parse_leaf(bytes: &[u8]) -> Option<(u64, i64, &str, &str)> {
    let rest = bytes.strip_prefix(b"jifen-leaf-v1")?;
    let seq = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
    let ts = i64::from_be_bytes(rest.get(8..16)?.try_into().ok()?);
    let rest = &rest[16..];
    let n = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let command = std::str::from_utf8(rest.get(4..4 + n)?).ok()?;
    let rest = &rest[4 + n..];
    let m = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let outcome = std::str::from_utf8(rest.get(4..4 + m)?).ok()?;
    (rest.len() == 4 + m).then_some((seq, ts, command, outcome))
}

pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

pub fn entry_leaf_hash(seq: u64, ts_ms: i64, command: &str, outcome: &str) -> Hash {
    leaf_hash(&leaf_bytes(seq, ts_ms, command, outcome))
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The root of a list of leaf hashes (RFC 9162 MTH).
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// RFC 9162 §2.1.3.2: whether `proof` shows the leaf hash at `index` in the tree of `size`
/// leaves whose root is `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// RFC 9162 §2.1.4.2: whether `proof` shows the tree of `size1` leaves with root `root1` is a
/// prefix of the tree of `size2` leaves with root `root2`.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> bool {
    if size1 > size2 {
        return false;
    }
    if size1 == size2 {
        return proof.is_empty() && root1 == root2;
    }
    if size1 == 0 {
        return proof.is_empty() && *root1 == empty_root();
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(*root1);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut fn_, mut sn) = (size1 - 1, size2 - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    fr == *root1 && sr == *root2 && sn == 0
}

/// The tree over a journal, kept as leaves are appended.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    /// `levels[j][i]`: the root of leaves `[i·256·2^j, (i+1)·256·2^j)`, for complete ones.
    levels: Vec<Vec<Hash>>,
    /// Leaf hashes of the unfinished last group.
    tail: Vec<Hash>,
    size: u64,
}

impl Tree {
    /// A tree whose first `groups.len() × 256` leaves have these group roots (as
    /// [`Tree::groups`] gave them); append the remaining leaves after.
    pub fn from_groups(groups: &[Hash]) -> Tree {
        let mut tree = Tree::default();
        for g in groups {
            tree.push_group(*g);
        }
        tree
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the complete groups, in order.
    pub fn groups(&self) -> &[Hash] {
        self.levels.first().map_or(&[], Vec::as_slice)
    }

    pub fn push(&mut self, leaf_hash: Hash) {
        self.tail.push(leaf_hash);
        self.size += 1;
        if self.tail.len() as u64 == GROUP {
            let root = root_of(&self.tail);
            self.tail.clear();
            self.size -= GROUP;
            self.push_group(root);
        }
    }

    fn push_group(&mut self, root: Hash) {
        debug_assert!(self.tail.is_empty());
        self.size += GROUP;
        let mut carry = root;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(carry);
            let row = &self.levels[level];
            if row.len() % 2 == 1 {
                break;
            }
            carry = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
    }

    /// The root of the first `size` leaves; `group_leaves(g)` gives the leaf hashes of
    /// complete group `g` when a group is cut (only for sizes that are not a multiple of 256
    /// and not the current size).
    pub fn root_at<E>(
        &self,
        size: u64,
        group_leaves: &mut dyn FnMut(u64) -> Result<Vec<Hash>, E>,
    ) -> Result<Hash, E> {
        assert!(size <= self.size, "tree size {size} beyond {}", self.size);
        if size == 0 {
            return Ok(empty_root());
        }
        self.range(0, size, group_leaves)
    }

    pub fn root(&self) -> Hash {
        self.root_at::<std::convert::Infallible>(self.size, &mut |_| {
            unreachable!("the current size never cuts a complete group")
        })
        .unwrap_or_else(|e| match e {})
    }

    /// The root of leaves `[start, end)`, a node of some tree (so `start` is a multiple of the
    /// power of two at or above `end - start`).
    fn range<E>(
        &self,
        start: u64,
        end: u64,
        group_leaves: &mut dyn FnMut(u64) -> Result<Vec<Hash>, E>,
    ) -> Result<Hash, E> {
        let len = end - start;
        if len.is_power_of_two() && len >= GROUP {
            let level = (len.trailing_zeros() - GROUP_BITS) as usize;
            let complete = self.levels.get(level).map_or(0, Vec::len) as u64;
            let index = start / len;
            if index < complete {
                return Ok(self.levels[level][index as usize]);
            }
        }
        if len <= GROUP {
            let group = start >> GROUP_BITS;
            let from = (start - (group << GROUP_BITS)) as usize;
            let to = from + len as usize;
            if group == self.groups().len() as u64 {
                return Ok(root_of(&self.tail[from..to]));
            }
            if from == 0 && to == GROUP as usize {
                return Ok(self.groups()[group as usize]);
            }
            let leaves = group_leaves(group)?;
            return Ok(root_of(&leaves[from..to]));
        }
        let k = split(len);
        let left = self.range(start, start + k, group_leaves)?;
        let right = self.range(start + k, end, group_leaves)?;
        Ok(node_hash(&left, &right))
    }

    /// RFC 9162 §2.1.3.1: the inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof<E>(
        &self,
        index: u64,
        size: u64,
        group_leaves: &mut dyn FnMut(u64) -> Result<Vec<Hash>, E>,
    ) -> Result<Vec<Hash>, E> {
        assert!(index < size && size <= self.size);
        let mut proof = Vec::new();
        self.path(index, 0, size, group_leaves, &mut proof)?;
        Ok(proof)
    }

    fn path<E>(
        &self,
        m: u64,
        start: u64,
        end: u64,
        group_leaves: &mut dyn FnMut(u64) -> Result<Vec<Hash>, E>,
        out: &mut Vec<Hash>,
    ) -> Result<(), E> {
        let n = end - start;
        if n <= 1 {
            return Ok(());
        }
        let k = split(n);
        if m < k {
            self.path(m, start, start + k, group_leaves, out)?;
            out.push(self.range(start + k, end, group_leaves)?);
        } else {
            self.path(m - k, start + k, end, group_leaves, out)?;
            out.push(self.range(start, start + k, group_leaves)?);
        }
        Ok(())
    }

    /// RFC 9162 §2.1.4.1: the consistency proof from the tree of `size1` leaves to the tree of
    /// `size2` leaves.
    pub fn consistency_proof<E>(
        &self,
        size1: u64,
        size2: u64,
        group_leaves: &mut dyn FnMut(u64) -> Result<Vec<Hash>, E>,
    ) -> Result<Vec<Hash>, E> {
        assert!(size1 <= size2 && size2 <= self.size);
        let mut proof = Vec::new();
        if size1 > 0 && size1 < size2 {
            self.subproof(size1, 0, size2, true, group_leaves, &mut proof)?;
        }
        Ok(proof)
    }

    fn subproof<E>(
        &self,
        m: u64,
        start: u64,
        end: u64,
        whole: bool,
        group_leaves: &mut dyn FnMut(u64) -> Result<Vec<Hash>, E>,
        out: &mut Vec<Hash>,
    ) -> Result<(), E> {
        let n = end - start;
        if m == n {
            if !whole {
                out.push(self.range(start, end, group_leaves)?);
            }
            return Ok(());
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, start, start + k, whole, group_leaves, out)?;
            out.push(self.range(start + k, end, group_leaves)?);
        } else {
            self.subproof(m - k, start + k, end, false, group_leaves, out)?;
            out.push(self.range(start, start + k, group_leaves)?);
        }
        Ok(())
    }
}

/// An economy's tree as its commits feed it, shared with readers (proofs, tree heads).
#[derive(Debug, Default)]
pub struct TreeState {
    pub tree: Tree,
    /// Tree sizes that end with an accepted dividend settlement, not yet signed.
    pub heads_due: Vec<u64>,
}

pub type SharedTree = std::sync::Arc<std::sync::Mutex<TreeState>>;

impl TreeState {
    /// Adds one committed entry: the next one (an entry the tree already holds, as after a
    /// reload, is skipped).
    pub fn absorb(&mut self, seq: u64, ts_ms: i64, command: &str, outcome: &str) {
        if seq <= self.tree.size() {
            return;
        }
        debug_assert_eq!(seq, self.tree.size() + 1, "leaves come in seq order");
        self.tree
            .push(entry_leaf_hash(seq, ts_ms, command, outcome));
        // Canonical JSON escapes quotes inside strings, so this text only matches the type.
        if outcome == "ok" && command.contains(r#""type":"settle_dividends""#) {
            self.heads_due.push(seq);
        }
    }
}

/// Locks a shared tree, even one a panicking thread left poisoned (its data is still whole:
/// every change is a push).
pub fn lock(tree: &SharedTree) -> std::sync::MutexGuard<'_, TreeState> {
    tree.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn to_hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex(s: &str) -> Option<Hash> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The reference vectors of RFC 6962's implementation (certificate-transparency), which
    // RFC 9162 keeps: eight leaves, the root of every prefix, and some proofs.
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
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
    const INCLUSION: [(u64, u64, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    const CONSISTENCY: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn no_groups(_: u64) -> Result<Vec<Hash>, ()> {
        panic!("small trees have no complete groups")
    }

    #[test]
    fn the_rfc_reference_vectors() {
        let leaves: Vec<Hash> = LEAVES.iter().map(|l| leaf_hash(&unhex(l))).collect();
        let mut tree = Tree::default();
        assert_eq!(to_hex(&tree.root()), ROOTS[0]);
        for (n, leaf) in leaves.iter().enumerate() {
            tree.push(*leaf);
            assert_eq!(to_hex(&tree.root()), ROOTS[n + 1], "root of {}", n + 1);
            assert_eq!(to_hex(&root_of(&leaves[..=n])), ROOTS[n + 1]);
        }
        for (index, size, want) in INCLUSION {
            let proof = tree.inclusion_proof(index, size, &mut no_groups).unwrap();
            assert_eq!(proof.iter().map(to_hex).collect::<Vec<_>>(), want);
            let root = from_hex(ROOTS[size as usize]).unwrap();
            assert!(verify_inclusion(
                index,
                size,
                &leaves[index as usize],
                &proof,
                &root
            ));
            let wrong_root = from_hex(ROOTS[0]).unwrap();
            assert!(!verify_inclusion(
                index,
                size,
                &leaves[index as usize],
                &proof,
                &wrong_root
            ));
        }
        for (size1, size2, want) in CONSISTENCY {
            let proof = tree
                .consistency_proof(size1, size2, &mut no_groups)
                .unwrap();
            assert_eq!(proof.iter().map(to_hex).collect::<Vec<_>>(), want);
            let (r1, r2) = (
                from_hex(ROOTS[size1 as usize]).unwrap(),
                from_hex(ROOTS[size2 as usize]).unwrap(),
            );
            assert!(verify_consistency(size1, size2, &proof, &r1, &r2));
            if size1 < size2 {
                assert!(!verify_consistency(size1, size2, &proof, &r2, &r2));
            }
        }
    }

    #[test]
    fn big_trees_agree_with_the_plain_definition_for_every_shape() {
        let leaves: Vec<Hash> = (0..1500u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut tree = Tree::default();
        for l in &leaves {
            tree.push(*l);
        }
        let mut fetch = |g: u64| -> Result<Vec<Hash>, ()> {
            Ok(leaves[(g * GROUP) as usize..((g + 1) * GROUP) as usize].to_vec())
        };
        assert_eq!(tree.root(), root_of(&leaves));
        for size in [
            1, 2, 255, 256, 257, 511, 512, 513, 700, 1024, 1025, 1499, 1500,
        ] {
            let root = tree.root_at(size, &mut fetch).unwrap();
            assert_eq!(root, root_of(&leaves[..size as usize]), "size {size}");
            for index in [0, size / 3, size / 2, size - 1] {
                let proof = tree.inclusion_proof(index, size, &mut fetch).unwrap();
                assert!(verify_inclusion(
                    index,
                    size,
                    &leaves[index as usize],
                    &proof,
                    &root
                ));
                let other = leaves[(index as usize + 1) % leaves.len()];
                assert!(!verify_inclusion(index, size, &other, &proof, &root));
            }
            for size1 in [1, size / 2, size - 1, size] {
                if size1 == 0 {
                    continue;
                }
                let root1 = root_of(&leaves[..size1 as usize]);
                let proof = tree.consistency_proof(size1, size, &mut fetch).unwrap();
                assert!(
                    verify_consistency(size1, size, &proof, &root1, &root),
                    "{size1}->{size}"
                );
                if size1 < size {
                    let wrong = root_of(&leaves[1..=size1 as usize]);
                    assert!(!verify_consistency(size1, size, &proof, &wrong, &root));
                }
            }
        }
        let mut again = Tree::from_groups(tree.groups());
        for l in &leaves[(tree.groups().len() as u64 * GROUP) as usize..] {
            again.push(*l);
        }
        assert_eq!(again.root(), tree.root());
    }

    #[test]
    fn leaves_read_back() {
        let bytes = leaf_bytes(7, -3, r#"{"a":1}"#, "ok");
        assert_eq!(parse_leaf(&bytes), Some((7, -3, r#"{"a":1}"#, "ok")));
        assert_eq!(parse_leaf(&bytes[..bytes.len() - 1]), None);
    }
}
