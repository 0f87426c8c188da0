//! One economy's connectors and its identity table: a keyed hash of each buyer id a platform
//! sends, to the account its orders earn for.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jifen_connect::Identity;
use jifen_journal::{KvWrite, Store};

use super::model::{configs_scope, identities_scope, Config, Connector, IDENTITY_KEY_SCOPE};

/// One economy's connectors and identity table.
pub struct Shop {
    pub economy: String,
    identity_key: Vec<u8>,
    pub(super) connectors: RwLock<HashMap<String, Arc<Connector>>>,
    pub(super) identities: RwLock<HashMap<String, String>>,
}

impl Shop {
    pub(super) fn load(
        store: &mut dyn Store,
        eco: &str,
    ) -> Result<Shop, jifen_journal::StoreError> {
        let identity_key = match store.kv_get(IDENTITY_KEY_SCOPE, eco)? {
            Some(k) => hex::decode(k).unwrap_or_default(),
            None => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| {
                    jifen_journal::StoreError::Malformed(format!("no randomness: {e}"))
                })?;
                store.kv_put(IDENTITY_KEY_SCOPE, eco, &hex::encode(key))?;
                key.to_vec()
            }
        };
        let mut connectors = HashMap::new();
        for (id, text) in store.kv_list(&configs_scope(eco))? {
            if let Ok(config) = serde_json::from_str::<Config>(&text) {
                connectors.insert(id, Connector::new(eco, config));
            }
        }
        let identities = store.kv_list(&identities_scope(eco))?.into_iter().collect();
        Ok(Shop {
            economy: eco.to_string(),
            identity_key,
            connectors: RwLock::new(connectors),
            identities: RwLock::new(identities),
        })
    }

    pub fn get(&self, id: &str) -> Option<Arc<Connector>> {
        self.connectors.read().ok()?.get(id).cloned()
    }

    /// Every connector, by id.
    pub fn list(&self) -> Vec<Arc<Connector>> {
        let mut all: Vec<_> = self
            .connectors
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        all.sort_by_key(|c| c.config().id);
        all
    }

    pub(super) fn insert(&self, c: Arc<Connector>) {
        if let Ok(mut m) = self.connectors.write() {
            m.insert(c.config().id, c);
        }
    }

    /// Each account's identity hashes (the identity table read backwards), for payout batches:
    /// the buyer ids themselves are never stored, so this is what can be shown.
    pub fn identities_by_account(&self) -> HashMap<String, Vec<String>> {
        let mut by_account: HashMap<String, Vec<String>> = HashMap::new();
        if let Ok(m) = self.identities.read() {
            for (hash, account) in m.iter() {
                by_account
                    .entry(account.clone())
                    .or_default()
                    .push(hash.clone());
            }
        }
        for hashes in by_account.values_mut() {
            hashes.sort();
        }
        by_account
    }

    /// The keyed hash of an identity: the same buyer id always hashes the same in this
    /// economy, and the id cannot be read back from it.
    pub fn identity_hash(&self, identity: &Identity) -> String {
        let message = format!("{}:{}", identity.scheme, identity.id);
        hex::encode(crate::keys::hmac(&self.identity_key, message.as_bytes()))
    }

    /// The keyed hash of a risk signal (SPEC §17) as the journal carries it: 16 hex digits of
    /// HMAC-SHA256 under the economy's identity key, over the kind and the normalised value
    /// (see [`normalise_signal`]), so the same phone always hashes the same here.
    pub fn signal_hash(&self, kind: &str, value: &str) -> String {
        let message = format!("signal:{kind}:{}", normalise_signal(kind, value));
        hex::encode(&crate::keys::hmac(&self.identity_key, message.as_bytes())[..8])
    }

    /// The account an identity's hash is linked to, if any.
    pub fn linked(&self, hash: &str) -> Option<String> {
        self.identities.read().ok()?.get(hash).cloned()
    }

    /// The write that links an identity's hash to `account`, for the caller to commit; then
    /// [`Shop::remember`] it.
    pub fn link_write(&self, hash: &str, account: &str) -> KvWrite {
        KvWrite {
            scope: identities_scope(&self.economy),
            key: hash.to_string(),
            value: Some(account.to_string()),
        }
    }

    /// A committed link, known from now on.
    pub fn remember(&self, hash: &str, account: &str) {
        if let Ok(mut m) = self.identities.write() {
            m.insert(hash.to_string(), account.to_string());
        }
    }

    /// The account of an identity: linked by the operator, or else named from its hash. The
    /// second value is the write that records a first sight.
    pub(super) fn account_of(&self, identity: &Identity) -> (String, Option<KvWrite>) {
        let hash = self.identity_hash(identity);
        if let Some(a) = self
            .identities
            .read()
            .ok()
            .and_then(|m| m.get(&hash).cloned())
        {
            return (a, None);
        }
        let account = format!("c-{}", &hash[..20]);
        self.remember(&hash, &account);
        let write = self.link_write(&hash, &account);
        (account, Some(write))
    }
}

/// A signal's value as it is hashed: a phone as its digits without China's country code, any
/// other value trimmed, its white space collapsed and lower-cased, so `+86 138-0013-8000` and
/// `13800138000` are one phone and an address's spacing does not matter.
pub fn normalise_signal(kind: &str, value: &str) -> String {
    if kind == "phone" {
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        return match digits.strip_prefix("86") {
            Some(rest) if digits.len() == 13 => rest.to_string(),
            _ => digits,
        };
    }
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::normalise_signal;

    #[test]
    fn phones_and_addresses_normalise() {
        assert_eq!(
            normalise_signal("phone", "+86 138-0013-8000"),
            "13800138000"
        );
        assert_eq!(normalise_signal("phone", "13800138000"), "13800138000");
        assert_eq!(
            normalise_signal("address", "  上海市  浦东新区 Lane 5 "),
            "上海市 浦东新区 lane 5"
        );
    }
}
