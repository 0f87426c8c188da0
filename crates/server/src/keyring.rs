//! The key ring: every API key's record, loaded from the store, and the check of a presented
//! key. A key made on another node of a cluster is found by reloading the ring (at most once a
//! second, off the async threads). A chosen admin key's argon2id hash is checked off them too,
//! once, and every such check counts against the caller's address first, so guesses are slow
//! and few.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jifen_journal::JournalError;

use crate::error::{ApiError, ApiResult};
use crate::keys::{self, KeyRecord, Principal, Role, KEYS_SCOPE};
use crate::limits::Limiters;
use crate::metrics::Metrics;
use crate::store::StoreHandle;

/// The most chosen keys remembered as checked.
const VERIFIED_KEYS_MAX: usize = 64;
/// Slow hashes checked at once (each holds a core for tens of ms).
const SLOW_CHECKS_MAX: usize = 2;

/// What the ring says of a presented key.
enum KeyCheck {
    Valid(Principal),
    Unknown,
    /// A chosen key, not yet checked against its argon2id hash.
    Slow(KeyRecord),
}

pub struct Keyring {
    store: Arc<StoreHandle>,
    keys: RwLock<HashMap<String, KeyRecord>>,
    limits: Arc<Limiters>,
    metrics: Arc<Metrics>,
    /// With several nodes, a key not in the ring may have been made on another node.
    clustered: bool,
    /// When the ring was last reloaded because a key was not in it.
    reloaded: Mutex<Option<Instant>>,
    /// Chosen keys already checked against their slow hash, as HMACs under a key of this
    /// process (never the keys themselves), so a request does not wait for argon2 each time.
    verified: Mutex<HashSet<[u8; 32]>>,
    verified_key: [u8; 32],
    slow_checks: tokio::sync::Semaphore,
}

pub fn principal_of(record: &KeyRecord) -> Principal {
    Principal {
        key_id: record.id.clone(),
        role: record.role,
        economy: record.economy.clone(),
        account: record.account.clone(),
    }
}

impl Keyring {
    /// The ring as stored.
    pub fn load(
        store: Arc<StoreHandle>,
        limits: Arc<Limiters>,
        metrics: Arc<Metrics>,
        clustered: bool,
    ) -> Result<Keyring, JournalError> {
        let mut verified_key = [0u8; 32];
        getrandom::fill(&mut verified_key)
            .map_err(|e| JournalError::Unavailable(format!("no randomness: {e}")))?;
        let ring = Keyring {
            store,
            keys: RwLock::default(),
            limits,
            metrics,
            clustered,
            reloaded: Mutex::new(None),
            verified: Mutex::default(),
            verified_key,
            slow_checks: tokio::sync::Semaphore::new(SLOW_CHECKS_MAX),
        };
        ring.reload()?;
        Ok(ring)
    }

    fn reload(&self) -> Result<(), JournalError> {
        let rows = self.store.with(|s| s.kv_list(KEYS_SCOPE))?;
        let mut keys = HashMap::new();
        for (id, text) in rows {
            match serde_json::from_str::<KeyRecord>(&text) {
                Ok(record) => {
                    keys.insert(id, record);
                }
                Err(e) => tracing::error!(key_id = %id, %e, "unreadable key record skipped"),
            }
        }
        if let Ok(mut guard) = self.keys.write() {
            *guard = keys;
        }
        Ok(())
    }

    /// Makes sure an admin key exists: `chosen` (`JIFEN_ADMIN_KEY`), stored as argon2id, or
    /// on first start a generated one, returned to be shown once.
    pub fn ensure_admin_key(
        &self,
        chosen: Option<String>,
        now: i64,
    ) -> Result<Option<String>, JournalError> {
        let unavailable = |e: ApiError| JournalError::Unavailable(e.message);
        if let Some(key) = chosen {
            if keys::split(&key).map(|(id, _)| id) != Some(keys::ENV_ADMIN_ID) {
                return Err(JournalError::Invalid(format!(
                    "JIFEN_ADMIN_KEY must be {} to {} bytes and not of the jfk_ form",
                    keys::KEY_BYTES_MIN,
                    keys::KEY_BYTES_MAX
                )));
            }
            // The stored hash is kept when it is this key's (hashing again only changes the
            // salt); a new key, or a record of the unsalted form, is hashed anew.
            let kept = self.get(keys::ENV_ADMIN_ID).filter(|r| {
                r.revoked_ms.is_none()
                    && keys::is_slow_hash(&r.hash)
                    && keys::slow_hash_matches(&key, &r.hash)
            });
            if kept.is_none() {
                let record =
                    keys::env_admin_record(&key, now).map_err(JournalError::Unavailable)?;
                self.put(record).map_err(unavailable)?;
            }
            self.remember_verified(&key);
            return Ok(None);
        }
        let have_admin = self.keys.read().is_ok_and(|k| {
            k.values()
                .any(|r| r.role == Role::Admin && r.revoked_ms.is_none())
        });
        if have_admin {
            return Ok(None);
        }
        let (key, record) = keys::generate(Role::Admin, None, None, now)
            .map_err(|e| JournalError::Unavailable(format!("no randomness: {e}")))?;
        self.put(record).map_err(unavailable)?;
        Ok(Some(key))
    }

    /// Stores a record and puts it in the ring (blocking).
    pub fn put(&self, record: KeyRecord) -> ApiResult<()> {
        let text = serde_json::to_string(&record).map_err(ApiError::internal)?;
        self.store
            .with(|s| s.kv_put(KEYS_SCOPE, &record.id, &text))?;
        if let Ok(mut guard) = self.keys.write() {
            guard.insert(record.id.clone(), record);
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<KeyRecord> {
        self.keys.read().ok()?.get(id).cloned()
    }

    /// Keys of one economy, newest first.
    pub fn of_economy(&self, economy: &str) -> Vec<KeyRecord> {
        let mut list: Vec<KeyRecord> = self
            .keys
            .read()
            .map(|k| {
                k.values()
                    .filter(|r| r.economy.as_deref() == Some(economy))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        list.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(a.id.cmp(&b.id)));
        list
    }

    /// Checks a presented key, from a caller at `address`: 401 when it is not a valid key,
    /// 429 when that address has failed too often.
    pub async fn authenticate(
        self: &Arc<Self>,
        presented: &str,
        address: Option<IpAddr>,
    ) -> ApiResult<Principal> {
        let mut check = self.check_in_ring(presented);
        if matches!(check, KeyCheck::Unknown) && self.clustered && self.reload_due() {
            let ring = self.clone();
            let reloaded = tokio::task::spawn_blocking(move || ring.reload().is_ok()).await;
            if reloaded.unwrap_or(false) {
                check = self.check_in_ring(presented);
            }
        }
        let limit = || match address {
            Some(a) => self.limits.address(a).inspect_err(|_| {
                self.metrics.rate_limited.inc();
            }),
            None => Ok(()),
        };
        match check {
            KeyCheck::Valid(p) => Ok(p),
            KeyCheck::Unknown => {
                limit()?;
                Err(ApiError::unauthorized())
            }
            KeyCheck::Slow(record) => {
                limit()?;
                self.check_slow(record, presented)
                    .await
                    .ok_or_else(ApiError::unauthorized)
            }
        }
    }

    fn reload_due(&self) -> bool {
        self.reloaded.lock().ok().is_some_and(|mut at| {
            let due = at.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
            if due {
                *at = Some(Instant::now());
            }
            due
        })
    }

    fn check_in_ring(&self, presented: &str) -> KeyCheck {
        let Some((id, secret)) = keys::split(presented) else {
            return KeyCheck::Unknown;
        };
        let Some(record) = self.get(id).filter(|r| r.revoked_ms.is_none()) else {
            return KeyCheck::Unknown;
        };
        if keys::is_slow_hash(&record.hash) {
            if self.was_verified(presented) {
                return KeyCheck::Valid(principal_of(&record));
            }
            return KeyCheck::Slow(record);
        }
        if keys::same_digest(&keys::sha256_hex(secret.as_bytes()), &record.hash) {
            KeyCheck::Valid(principal_of(&record))
        } else {
            KeyCheck::Unknown
        }
    }

    async fn check_slow(&self, record: KeyRecord, presented: &str) -> Option<Principal> {
        let _permit = self.slow_checks.acquire().await.ok()?;
        let (_, secret) = keys::split(presented)?;
        let (secret, hash) = (secret.to_string(), record.hash.clone());
        let ok = tokio::task::spawn_blocking(move || keys::slow_hash_matches(&secret, &hash))
            .await
            .unwrap_or(false);
        if !ok {
            return None;
        }
        self.remember_verified(presented);
        Some(principal_of(&record))
    }

    fn verified_tag(&self, presented: &str) -> [u8; 32] {
        keys::hmac(&self.verified_key, presented.as_bytes())
    }

    fn was_verified(&self, presented: &str) -> bool {
        let tag = self.verified_tag(presented);
        self.verified.lock().is_ok_and(|set| set.contains(&tag))
    }

    fn remember_verified(&self, presented: &str) {
        let tag = self.verified_tag(presented);
        if let Ok(mut set) = self.verified.lock() {
            if set.len() >= VERIFIED_KEYS_MAX {
                set.clear();
            }
            set.insert(tag);
        }
    }
}
