//! API keys and roles. A key is `jfk_<id>_<secret>`; only the SHA-256 of the secret is stored,
//! under the key's id, so a leaked database does not leak keys. The key itself is shown once.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// Where key records live in the store's settings table.
pub const KEYS_SCOPE: &str = "api_keys";
/// The record id of the admin key given in `JIFEN_ADMIN_KEY`, which has no `jfk_` form.
pub const ENV_ADMIN_ID: &str = "admin-env";
/// Bounds on a key as presented, in bytes.
pub const KEY_BYTES_MIN: usize = 16;
pub const KEY_BYTES_MAX: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, in every economy.
    Admin,
    /// All commands and reads of its own economy, and its keys.
    Operator,
    /// Only `sell` and `redeem_stable` on its own account, and reads of that account.
    Merchant,
    /// Read-only, including state and events.
    Auditor,
    /// A venue's key: only `return_collectible` of collectibles exported to that venue.
    Exchange,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Merchant => "merchant",
            Role::Auditor => "auditor",
            Role::Exchange => "exchange",
        }
    }
}

/// A stored key: never the key itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: String,
    /// Hex SHA-256 of the secret part (of the whole key for the environment admin key).
    pub hash: String,
    pub role: Role,
    /// `None` only for admin keys.
    pub economy: Option<String>,
    /// The merchant account of a merchant key, or the venue of an exchange key.
    pub account: Option<String>,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

/// Who is calling, once the key checked out.
#[derive(Clone, Debug)]
pub struct Principal {
    pub key_id: String,
    pub role: Role,
    pub economy: Option<String>,
    pub account: Option<String>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether this key belongs to `economy` (admins belong everywhere).
    pub fn reaches(&self, economy: &str) -> bool {
        self.is_admin() || self.economy.as_deref() == Some(economy)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(hex::encode(buf))
}

/// A new key and its record. The key is returned once and never stored.
pub fn generate(
    role: Role,
    economy: Option<String>,
    account: Option<String>,
    now_ms: i64,
) -> Result<(String, KeyRecord), getrandom::Error> {
    let id = random_hex(8)?;
    let secret = random_hex(32)?;
    let key = format!("jfk_{id}_{secret}");
    let record = KeyRecord {
        hash: sha256_hex(secret.as_bytes()),
        id,
        role,
        economy,
        account,
        created_ms: now_ms,
        revoked_ms: None,
    };
    Ok((key, record))
}

/// The record id a presented key claims, and the bytes whose hash must match.
pub fn split(key: &str) -> Option<(&str, &str)> {
    if key.len() < KEY_BYTES_MIN || key.len() > KEY_BYTES_MAX {
        return None;
    }
    if let Some(rest) = key.strip_prefix("jfk_") {
        if let Some((id, secret)) = rest.split_once('_') {
            if id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Some((id, secret));
            }
        }
    }
    Some((ENV_ADMIN_ID, key))
}

/// Compares two hex digests without an early exit.
pub fn same_digest(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// The record for a key given in `JIFEN_ADMIN_KEY`.
pub fn env_admin_record(key: &str, now_ms: i64) -> KeyRecord {
    KeyRecord {
        id: ENV_ADMIN_ID.to_string(),
        hash: sha256_hex(key.as_bytes()),
        role: Role::Admin,
        economy: None,
        account: None,
        created_ms: now_ms,
        revoked_ms: None,
    }
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Whether two byte strings are equal, compared without stopping at the first difference.
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// A signed token: `<hex of the claims' JSON>.<hex of their HMAC>`. Only the holder of `key`
/// can make one; anyone can read the claims, so they hold nothing secret.
pub fn seal(key: &[u8; 32], claims: &serde_json::Value) -> String {
    let payload = hex::encode(claims.to_string());
    let mac = hmac(key, payload.as_bytes());
    format!("{payload}.{}", hex::encode(mac))
}

/// The claims of a token made by [`seal`] with `key`, or `None` if it is not one.
pub fn unseal(key: &[u8; 32], token: &str) -> Option<serde_json::Value> {
    let (payload, mac) = token.split_once('.')?;
    let given = hex::decode(mac).ok()?;
    if !same_bytes(&given, &hmac(key, payload.as_bytes())) {
        return None;
    }
    serde_json::from_slice(&hex::decode(payload).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_splits_back_to_its_record() {
        let (key, record) = generate(Role::Operator, Some("e".into()), None, 0).unwrap();
        let (id, secret) = split(&key).unwrap();
        assert_eq!(id, record.id);
        assert!(same_digest(&sha256_hex(secret.as_bytes()), &record.hash));
        assert!(!key.contains(&record.hash));
    }

    #[test]
    fn other_strings_are_checked_as_the_environment_admin_key() {
        assert_eq!(
            split("a-long-admin-key-1234"),
            Some((ENV_ADMIN_ID, "a-long-admin-key-1234"))
        );
        assert_eq!(split("short"), None);
        assert_eq!(split(&"x".repeat(KEY_BYTES_MAX + 1)), None);
    }

    #[test]
    fn hmac_matches_rfc_4231_and_tokens_refuse_tampering() {
        // RFC 4231 test case 1 (a 20-byte key is zero-padded, as a 32-byte one is).
        let mut key = [0u8; 32];
        key[..20].fill(0x0b);
        assert_eq!(
            hex::encode(hmac(&key, b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        let token = seal(&key, &serde_json::json!({"a": "alice"}));
        assert_eq!(unseal(&key, &token).unwrap()["a"], "alice");
        let other = [1u8; 32];
        assert!(unseal(&other, &token).is_none());
        let forged = token.replacen("61", "62", 1);
        assert!(unseal(&key, &forged).is_none());
        assert!(unseal(&key, "not a token").is_none());
    }
}
