//! Signed tree heads: a deployment's Ed25519 signature over an economy's Merkle tree size,
//! root and time, as in RFC 9162 §4.10. Anyone holding the public key can check a head, and
//! then check proofs against it offline (`jifen proof verify`).
//!
//! The signed bytes are `b"jifen-tree-head-v1" ‖ len(economy) u8 ‖ economy ‖ tree size u64 ‖
//! root [32] ‖ time in ms i64`, integers big-endian.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::entry::Hash;
use crate::merkle::{from_hex, to_hex};

/// The settings scope where a server records its public keys (key id → hex), so `jifen
/// verify` can check stored heads' signatures.
pub const TREE_KEYS_SCOPE: &str = "tree_keys";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeHead {
    pub economy: String,
    pub tree_size: u64,
    pub root: Hash,
    pub ts_ms: i64,
    pub signature: [u8; 64],
}

/// A short name for a public key: the first 8 bytes of its SHA-256, in hex.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

fn message(economy: &str, tree_size: u64, root: &Hash, ts_ms: i64) -> Vec<u8> {
    let mut m = Vec::with_capacity(18 + 1 + economy.len() + 8 + 32 + 8);
    m.extend_from_slice(b"jifen-tree-head-v1");
    m.push(economy.len() as u8);
    m.extend_from_slice(economy.as_bytes());
    m.extend_from_slice(&tree_size.to_be_bytes());
    m.extend_from_slice(root);
    m.extend_from_slice(&ts_ms.to_be_bytes());
    m
}

impl TreeHead {
    pub fn sign(economy: &str, tree_size: u64, root: Hash, ts_ms: i64, key: &SigningKey) -> Self {
        let signature = key
            .sign(&message(economy, tree_size, &root, ts_ms))
            .to_bytes();
        TreeHead {
            economy: economy.to_string(),
            tree_size,
            root,
            ts_ms,
            signature,
        }
    }

    /// Whether `key` signed exactly this head.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        let m = message(&self.economy, self.tree_size, &self.root, self.ts_ms);
        key.verify(&m, &Signature::from_bytes(&self.signature))
            .is_ok()
    }

    pub fn to_json(&self, key: &VerifyingKey) -> Value {
        json!({
            "economy": self.economy,
            "tree_size": self.tree_size,
            "root_hash": to_hex(&self.root),
            "timestamp_ms": self.ts_ms,
            "time": crate::time::rfc3339_ms(self.ts_ms),
            "signature": hex::encode(self.signature),
            "key_id": key_id(key),
        })
    }

    pub fn from_json(v: &Value) -> Result<TreeHead, String> {
        let field = |k: &str| {
            v.get(k)
                .ok_or_else(|| format!("the tree head has no {k:?}"))
        };
        let economy = field("economy")?
            .as_str()
            .ok_or("economy is not a string")?;
        let tree_size = field("tree_size")?
            .as_u64()
            .ok_or("tree_size is not a whole number")?;
        let root = field("root_hash")?
            .as_str()
            .and_then(from_hex)
            .ok_or("root_hash is not 64 hex digits")?;
        let ts_ms = field("timestamp_ms")?
            .as_i64()
            .ok_or("timestamp_ms is not a whole number")?;
        let signature: [u8; 64] = field("signature")?
            .as_str()
            .and_then(|s| hex::decode(s).ok())
            .and_then(|b| b.try_into().ok())
            .ok_or("signature is not 128 hex digits")?;
        Ok(TreeHead {
            economy: economy.to_string(),
            tree_size,
            root,
            ts_ms,
            signature,
        })
    }
}

/// A public key from its hex form.
pub fn public_key_from_hex(s: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(s.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("the public key is not 64 hex digits")?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an Ed25519 public key: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_verifies_and_any_change_or_other_key_does_not() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let head = TreeHead::sign("eco", 42, [9; 32], 1_700_000_000_000, &key);
        let public = key.verifying_key();
        assert!(head.verify(&public));
        assert!(!head.verify(&other.verifying_key()));
        let back = TreeHead::from_json(&head.to_json(&public)).unwrap();
        assert_eq!(back, head);
        for change in 0..4 {
            let mut bad = head.clone();
            match change {
                0 => bad.tree_size += 1,
                1 => bad.root[0] ^= 1,
                2 => bad.ts_ms += 1,
                _ => bad.signature[5] ^= 1,
            }
            assert!(!bad.verify(&public), "change {change} verified");
        }
        assert_eq!(
            public_key_from_hex(&hex::encode(public.as_bytes())).unwrap(),
            public
        );
    }
}
