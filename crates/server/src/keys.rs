//! API keys and roles. A key is `jfk_<id>_<secret>` with a 256-bit random secret; only the
//! SHA-256 of the secret is stored, under the key's id, so a leaked database does not leak
//! keys. The key itself is shown once. An admin key chosen by a person (`JIFEN_ADMIN_KEY`) may
//! be guessable, so it is stored as an argon2id hash instead, which is slow to try guesses on.

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

/// Compares two hex digests in constant time.
pub fn same_digest(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// The record for a key given in `JIFEN_ADMIN_KEY`: an argon2id hash with a random salt.
pub fn env_admin_record(key: &str, now_ms: i64) -> Result<KeyRecord, String> {
    use argon2::password_hash::PasswordHasher;
    let hash = argon2::Argon2::default()
        .hash_password(key.as_bytes())
        .map_err(|e| format!("cannot hash the admin key: {e}"))?;
    Ok(KeyRecord {
        id: ENV_ADMIN_ID.to_string(),
        hash: hash.to_string(),
        role: Role::Admin,
        economy: None,
        account: None,
        created_ms: now_ms,
        revoked_ms: None,
    })
}

/// Whether a stored hash is a slow (argon2id) one, checked by [`slow_hash_matches`].
pub fn is_slow_hash(hash: &str) -> bool {
    hash.starts_with("$argon2")
}

/// Whether `secret` matches an argon2id hash. Takes tens of milliseconds: call it off the async
/// threads, and remember the answer (see `App::authenticate`).
pub fn slow_hash_matches(secret: &str, hash: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    argon2::Argon2::default()
        .verify_password(secret.as_bytes(), hash)
        .is_ok()
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
pub fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Whether two byte strings are equal, compared in constant time.
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// Where a sealed token's expiry (its claim `x`, in ms) stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Lifetime {
    Current,
    Expired,
    /// Further ahead than any token may last: refused whatever its signature.
    TooLong,
}

/// The lifetime of a token with `claims`, at `now_ms`, for tokens that last at most
/// `ttl_max_ms`.
pub fn lifetime(claims: &serde_json::Value, now_ms: i64, ttl_max_ms: i64) -> Lifetime {
    let expires_ms = claims["x"].as_i64().unwrap_or(0);
    if expires_ms < now_ms {
        Lifetime::Expired
    } else if expires_ms - now_ms > ttl_max_ms {
        Lifetime::TooLong
    } else {
        Lifetime::Current
    }
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
    let given = decode_hex(mac)?;
    if !same_bytes(&given, &hmac(key, payload.as_bytes())) {
        return None;
    }
    serde_json::from_slice(&decode_hex(payload)?).ok()
}

/// Lower-case hex only: the form [`seal`] writes. (The `hex` crate also takes upper case, so a
/// token would have several spellings.)
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        .then(|| hex::decode(text).ok())
        .flatten()
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
        // RFC 4231 test cases 1 (a 20-byte key) and 6 (a 131-byte key, hashed first).
        assert_eq!(
            hex::encode(hmac(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex::encode(hmac(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        let key = [7u8; 32];
        let token = seal(&key, &serde_json::json!({"a": "alice"}));
        assert_eq!(unseal(&key, &token).unwrap()["a"], "alice");
        let other = [1u8; 32];
        assert!(unseal(&other, &token).is_none());
        let forged = token.replacen("61", "62", 1);
        assert!(unseal(&key, &forged).is_none());
        assert!(unseal(&key, "not a token").is_none());
        // Another spelling of the same bytes is not the token.
        assert!(unseal(&key, &token.to_uppercase()).is_none());
        let (payload, mac) = token.split_once('.').unwrap();
        assert!(unseal(&key, &format!("{payload}.+{}", &mac[1..])).is_none());
    }

    #[test]
    fn lifetimes() {
        let claims = serde_json::json!({"x": 10_000});
        assert_eq!(lifetime(&claims, 9_000, 5_000), Lifetime::Current);
        assert_eq!(lifetime(&claims, 10_001, 5_000), Lifetime::Expired);
        assert_eq!(lifetime(&claims, 1_000, 5_000), Lifetime::TooLong);
        assert_eq!(lifetime(&serde_json::json!({}), 1, 5), Lifetime::Expired);
    }

    #[test]
    fn a_chosen_admin_key_is_stored_as_argon2id() {
        let record = env_admin_record("a-long-admin-key-1234", 0).unwrap();
        assert!(record.hash.starts_with("$argon2id$"), "{}", record.hash);
        assert!(!record.hash.contains("a-long-admin-key"));
        assert!(is_slow_hash(&record.hash));
        assert!(slow_hash_matches("a-long-admin-key-1234", &record.hash));
        assert!(!slow_hash_matches("a-long-admin-key-1235", &record.hash));
        // Salted: the same key hashes differently each time.
        assert_ne!(
            record.hash,
            env_admin_record("a-long-admin-key-1234", 0).unwrap().hash
        );
    }
}
