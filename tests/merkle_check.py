#!/usr/bin/env python3
"""An independent check of jifen's transparency log, written apart from the server's code.

It implements RFC 9162's Merkle tree hash and its inclusion and consistency verification from
the RFC's text with nothing but hashlib, checks them on the RFC 6962 reference vectors, then,
against a running server:

1. reads every journal entry (GET .../events?leaves=true), checks that each leaf's bytes say
   the same seq, time, command and outcome as the entry, and recomputes the tree from them;
2. compares the server's roots with its own at many tree sizes;
3. asks for inclusion proofs (many entries, several tree sizes) and consistency proofs (many
   pairs of sizes) and verifies every one against its own roots; and checks that a proof
   for another leaf, or against a wrong root, is refused.

Usage: merkle_check.py --vectors-only
       merkle_check.py --url URL --key KEY --economy ECO [--samples N]
Exit status 0 when everything holds.
"""
import argparse
import hashlib
import json
import random
import struct
import sys
import urllib.request


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Tree:
    """MTH over leaf hashes, with memoised aligned subtrees so many sizes stay cheap."""

    def __init__(self, leaves):
        self.leaves = leaves
        self.memo = {}

    def mth(self, start, end):
        n = end - start
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return self.leaves[start]
        key = (start, end)
        if key not in self.memo:
            k = largest_power_below(n)
            self.memo[key] = node_hash(self.mth(start, start + k), self.mth(start + k, end))
        return self.memo[key]

    def root(self, size):
        return self.mth(0, size)


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1, size2, proof, root1, root2):
    """RFC 9162 section 2.1.4.2."""
    if size1 > size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    if not path:
        return False
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


# RFC 6962's reference data (certificate-transparency), kept by RFC 9162.
VECTOR_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                 "606162636465666768696a6b6c6d6e6f"]
VECTOR_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
VECTOR_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
VECTOR_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


def check_vectors():
    leaves = [leaf_hash(bytes.fromhex(x)) for x in VECTOR_LEAVES]
    tree = Tree(leaves)
    for n, want in enumerate(VECTOR_ROOTS):
        assert tree.root(n).hex() == want, f"reference root of {n} leaves"
    for index, size, proof in VECTOR_INCLUSION:
        proof = [bytes.fromhex(p) for p in proof]
        root = bytes.fromhex(VECTOR_ROOTS[size])
        assert verify_inclusion(index, size, leaves[index], proof, root), (index, size)
        assert not verify_inclusion(index, size, leaves[index], proof, tree.root(0))
    for size1, size2, proof in VECTOR_CONSISTENCY:
        proof = [bytes.fromhex(p) for p in proof]
        r1, r2 = bytes.fromhex(VECTOR_ROOTS[size1]), bytes.fromhex(VECTOR_ROOTS[size2])
        assert verify_consistency(size1, size2, proof, r1, r2), (size1, size2)
        if size1 < size2:
            assert not verify_consistency(size1, size2, proof, r2, r2)
    print("ok: RFC 6962/9162 reference vectors (9 roots, 4 inclusion and 4 consistency proofs)")


def without_twins(v):
    """The API adds a decimal-string twin `k_str` beside every integer `k`; drop them."""
    if isinstance(v, dict):
        return {k: without_twins(x) for k, x in v.items()
                if not (k.endswith("_str") and k[:-4] in v)}
    if isinstance(v, list):
        return [without_twins(x) for x in v]
    return v


def parse_leaf(data: bytes):
    prefix = b"jifen-leaf-v1"
    assert data.startswith(prefix), "leaf prefix"
    at = len(prefix)
    seq, ts = struct.unpack(">Qq", data[at:at + 16])
    at += 16
    (n,) = struct.unpack(">I", data[at:at + 4])
    command = data[at + 4:at + 4 + n].decode()
    at += 4 + n
    (m,) = struct.unpack(">I", data[at:at + 4])
    outcome = data[at + 4:at + 4 + m].decode()
    assert at + 4 + m == len(data), "leaf length"
    return seq, ts, command, outcome


class Server:
    def __init__(self, url, key, economy):
        self.url, self.key, self.economy = url.rstrip("/"), key, economy
        self.requests = 0

    def get(self, path):
        req = urllib.request.Request(self.url + path, headers={"Authorization": "Bearer " + self.key})
        self.requests += 1
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.load(r)

    def eco(self, path):
        return self.get(f"/v1/economies/{self.economy}{path}")


def check_server(server, samples, rng):
    leaves, after = [], 0
    while True:
        page = server.eco(f"/events?after={after}&limit=1000&leaves=true")
        for e in page["events"]:
            data = bytes.fromhex(e["leaf"])
            seq, ts, command, outcome = parse_leaf(data)
            assert seq == e["seq"] == len(leaves) + 1, f"seq {e['seq']}"
            assert ts == e["ts_ms"], f"time of {seq}"
            assert json.loads(command) == without_twins(e["command"]), f"command of {seq}"
            want_outcome = "ok" if e["outcome"]["ok"] else e["outcome"]["code"]
            assert outcome == want_outcome, f"outcome of {seq}"
            leaves.append(leaf_hash(data))
        if not page["events"]:
            break
        after = page["next_after"]
    n = len(leaves)
    assert n > 0, "the journal is empty"
    tree = Tree(leaves)
    print(f"ok: {n} leaves read; each says the same seq, time, command and outcome as its entry")

    sizes = sorted({n, 1, 2, 255, 256, 257, n // 2, n - 1} | {rng.randint(1, n) for _ in range(6)})
    sizes = [s for s in sizes if 1 <= s <= n]
    inclusion = 0
    for size in sizes:
        root = tree.root(size)
        picks = {0, size - 1, size // 2} | {rng.randrange(size) for _ in range(samples)}
        for index in sorted(picks):
            p = server.eco(f"/proofs/inclusion?seq={index + 1}&tree_size={size}")
            assert bytes.fromhex(p["root_hash"]) == root, f"server root at {size}"
            proof = [bytes.fromhex(h) for h in p["proof"]]
            leaf = leaf_hash(bytes.fromhex(p["leaf"]))
            assert leaf == leaves[index], f"leaf {index + 1}"
            assert verify_inclusion(index, size, leaf, proof, root), f"inclusion {index + 1} in {size}"
            other = leaves[(index + 1) % n]
            if other != leaf:
                assert not verify_inclusion(index, size, other, proof, root), "a wrong leaf verified"
            inclusion += 1
    print(f"ok: {inclusion} inclusion proofs at {len(sizes)} tree sizes verified, server roots equal ours")

    consistency = 0
    pairs = {(1, n), (n // 2, n), (n - 1, n), (256, 257), (255, 512)} | {
        tuple(sorted((rng.randint(1, n), rng.randint(1, n)))) for _ in range(samples)}
    for size1, size2 in sorted(p for p in pairs if 1 <= p[0] <= p[1] <= n):
        p = server.eco(f"/proofs/consistency?from={size1}&to={size2}")
        r1, r2 = tree.root(size1), tree.root(size2)
        assert bytes.fromhex(p["from_root"]) == r1 and bytes.fromhex(p["to_root"]) == r2
        proof = [bytes.fromhex(h) for h in p["proof"]]
        assert verify_consistency(size1, size2, proof, r1, r2), f"consistency {size1}->{size2}"
        if size1 < size2:
            wrong = tree.root(size1 - 1) if size1 > 1 else leaves[-1]
            assert not verify_consistency(size1, size2, proof, wrong, r2), "a wrong root verified"
        consistency += 1
    print(f"ok: {consistency} consistency proofs verified")

    head = server.eco("/tree-heads/latest")
    size = head["tree_size"]
    assert bytes.fromhex(head["root_hash"]) == tree.root(size), "the signed head's root"
    print(f"ok: the latest signed head ({size} entries) has the root we computed")
    print(f"all checks passed ({server.requests} requests)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors-only", action="store_true")
    ap.add_argument("--url")
    ap.add_argument("--key")
    ap.add_argument("--economy")
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--seed", type=int, default=9162)
    args = ap.parse_args()
    check_vectors()
    if args.vectors_only:
        return 0
    if not (args.url and args.key and args.economy):
        ap.error("--url, --key and --economy are needed (or --vectors-only)")
    check_server(Server(args.url, args.key, args.economy), args.samples, random.Random(args.seed))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
