//! The server's shared state: the store, the open economies (each with its writer), the key
//! ring, the rate limiter and the metrics.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jifen_journal::{
    open_store, EconomyMeta, Journal, JournalConfig, JournalError, StartupCheck, Store,
};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::keys::{self, KeyRecord, Principal, Role, KEYS_SCOPE};

/// Milliseconds since the epoch, UTC. Injectable so tests can move time.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub database: Option<String>,
    /// `JIFEN_ADMIN_KEY`: used instead of a generated admin key.
    pub admin_key: Option<String>,
    /// Requests per second per key, per wallet link and per client address (see `limits`).
    pub rate_limits: crate::limits::RateLimits,
    /// A header a proxy in front sets to the client's address (`X-Forwarded-For`,
    /// `X-Real-IP`): its last address is the client's. Without it, the peer's address is.
    pub client_address_header: Option<axum::http::HeaderName>,
    pub request_timeout: Duration,
    /// How often the scheduler looks for due work.
    pub scheduler_tick: Duration,
    pub clock: Clock,
    pub snapshot_every_entries: u64,
    pub startup_check: StartupCheck,
    /// The Ed25519 seed that signs tree heads; default `<data_dir>/tree-signing.key`.
    pub signing_key: Option<PathBuf>,
    /// Several nodes on PostgreSQL (`--node-id`): economies are opened by lease.
    pub cluster: Option<crate::cluster::ClusterConfig>,
    /// The longest a wallet link may last. A token whose expiry lies further ahead is refused
    /// whatever its signature: a leaked signing seed cannot mint links that outlive a rotation.
    pub wallet_link_ttl_max: Duration,
    /// How long a console session lasts; a session cookie claiming more is refused likewise.
    pub session_ttl: Duration,
    /// Whether the server may send to loopback, private and link-local addresses (venues and
    /// webhooks on a private network; tests). Off by default (see `outgoing`).
    pub allow_private_targets: bool,
    /// The header-read timeout and the bound on open connections.
    pub connection_limits: crate::connections::ConnectionLimits,
}

impl ServerConfig {
    pub fn new(data_dir: PathBuf, database: Option<String>) -> ServerConfig {
        ServerConfig {
            data_dir,
            database,
            admin_key: None,
            rate_limits: Default::default(),
            client_address_header: None,
            request_timeout: Duration::from_secs(30),
            scheduler_tick: Duration::from_secs(1),
            clock: Arc::new(jifen_journal::time::now_ms),
            snapshot_every_entries: 1_000_000,
            startup_check: StartupCheck::FullChain,
            signing_key: None,
            cluster: None,
            wallet_link_ttl_max: Duration::from_secs(24 * 60 * 60),
            session_ttl: Duration::from_secs(8 * 60 * 60),
            connection_limits: Default::default(),
            allow_private_targets: false,
        }
    }
}

/// Per-economy settings that are not replay rules (SPEC §3 stays as it is).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EconomySettings {
    /// Pending orders older than this are confirmed by the scheduler.
    pub auto_confirm_days: u32,
}

pub const SETTINGS_SCOPE: &str = "economy_settings";
pub const AUTO_CONFIRM_DAYS_DEFAULT: u32 = 7;
pub const AUTO_CONFIRM_DAYS_MAX: u32 = 365;

impl Default for EconomySettings {
    fn default() -> Self {
        EconomySettings {
            auto_confirm_days: AUTO_CONFIRM_DAYS_DEFAULT,
        }
    }
}

/// One open economy: its writer and what the server knows beside it.
pub struct Economy {
    pub meta: EconomyMeta,
    pub settings: RwLock<EconomySettings>,
    pub journal: Journal,
}

pub struct App {
    pub config: ServerConfig,
    /// The server's own connection, for everything but the writers: keys, settings, events.
    store: Mutex<Box<dyn Store>>,
    economies: RwLock<HashMap<String, Arc<Economy>>>,
    keys: RwLock<HashMap<String, KeyRecord>>,
    /// Rate limits by key, wallet link and client address.
    pub limits: crate::limits::Limiters,
    pub metrics: Metrics,
    pub started: Instant,
    /// Signs tree heads (see `transparency`).
    pub signer: Arc<crate::transparency::TreeSigner>,
    /// The console's account index and verify runs.
    pub console: crate::console::ConsoleState,
    /// Delivery progress of the exchange outbox.
    pub outbox: crate::exchange::Outbox,
    /// With several nodes: where each economy's owner is.
    pub owners: crate::cluster::Owners,
    /// What the scheduler could not do (for the console's banner and the metrics).
    pub scheduler_health: crate::scheduler::Health,
    /// Console sessions signed out before their expiry.
    pub revoked_sessions: crate::session::Revoked,
    /// The last thorough check of the store while serving (see `check_store`).
    store_health: Mutex<Option<jifen_journal::IntegrityReport>>,
    /// Damage found while opening economies (snapshots that failed their checks).
    startup_problems: Mutex<Vec<String>>,
    /// When the key ring was last reloaded because a key was not in it (several nodes).
    keys_reloaded: Mutex<Option<Instant>>,
    /// Chosen keys already checked against their slow hash, as HMACs under a key of this
    /// process (never the keys themselves), so a request does not wait for argon2 each time.
    verified: Mutex<std::collections::HashSet<[u8; 32]>>,
    verified_key: [u8; 32],
    /// At most this many slow hashes are checked at once (each holds a core for tens of ms).
    slow_checks: tokio::sync::Semaphore,
    /// The exclusive hold on the data directory (and database), for as long as the app runs.
    _writer_lock: jifen_journal::datadir::WriterLock,
}

/// What the key ring says of a presented key.
enum KeyCheck {
    Valid(Principal),
    Unknown,
    /// A chosen key, not yet checked against its argon2id hash.
    Slow(KeyRecord),
}

/// The most chosen keys remembered as checked.
const VERIFIED_KEYS_MAX: usize = 64;
/// Slow hashes checked at once.
const SLOW_CHECKS_MAX: usize = 2;

#[derive(Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub responses_2xx: AtomicU64,
    pub responses_4xx: AtomicU64,
    pub responses_5xx: AtomicU64,
    pub commands_applied: AtomicU64,
    pub commands_rejected: AtomicU64,
    pub commands_retried: AtomicU64,
    pub rate_limited: AtomicU64,
    pub scheduler_commands: AtomicU64,
    /// Request latency histogram: counts per bucket of `LATENCY_BUCKETS_MS`, and the sum.
    pub latency_buckets: [AtomicU64; LATENCY_BUCKETS_MS.len()],
    pub latency_sum_us: AtomicU64,
}

pub const LATENCY_BUCKETS_MS: [u64; 10] = [1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000];

impl Metrics {
    pub fn observe(&self, status: u16, elapsed: Duration) {
        let counter = match status {
            200..=299 => &self.responses_2xx,
            400..=499 => &self.responses_4xx,
            _ => &self.responses_5xx,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let us = elapsed.as_micros() as u64;
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
        for (i, bound) in LATENCY_BUCKETS_MS.iter().enumerate() {
            if us <= bound * 1000 {
                self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    }
}

fn principal_of(record: &KeyRecord) -> Principal {
    Principal {
        key_id: record.id.clone(),
        role: record.role,
        economy: record.economy.clone(),
        account: record.account.clone(),
    }
}

impl App {
    /// Opens the store, loads the keys, makes sure an admin key exists, and opens every
    /// economy. Returns the app and, on first start, the new admin key (shown once).
    pub fn open(config: ServerConfig) -> Result<(App, Option<String>), JournalError> {
        let writer_lock = jifen_journal::datadir::WriterLock::acquire(
            &config.data_dir,
            config.database.as_deref(),
            "jifen serve",
            config.cluster.is_some(),
        )?;
        let mut store = open_store(&config.data_dir, config.database.as_deref())?;
        // Damage the store itself can see is a reason not to serve at all.
        let quick = store.integrity_check(false)?;
        if !quick.ok() {
            return Err(JournalError::Invalid(format!(
                "the store is damaged ({}: {}); restore it from a backup (`jifen verify` shows what is affected)",
                quick.method,
                quick.problems.join("; ")
            )));
        }
        let mut verified_key = [0u8; 32];
        getrandom::fill(&mut verified_key)
            .map_err(|e| JournalError::Unavailable(format!("no randomness: {e}")))?;
        let signer =
            crate::transparency::signer_for(&config.data_dir, config.signing_key.as_deref())?;
        let limits = crate::limits::Limiters::new(config.rate_limits);
        let app = App {
            signer,
            config,
            store: Mutex::new(store),
            economies: RwLock::new(HashMap::new()),
            keys: RwLock::new(HashMap::new()),
            limits,
            metrics: Metrics::default(),
            console: Default::default(),
            outbox: Default::default(),
            owners: Default::default(),
            scheduler_health: Default::default(),
            revoked_sessions: Default::default(),
            store_health: Mutex::new(None),
            startup_problems: Mutex::default(),
            keys_reloaded: Mutex::new(None),
            verified: Mutex::default(),
            verified_key,
            slow_checks: tokio::sync::Semaphore::new(SLOW_CHECKS_MAX),
            _writer_lock: writer_lock,
            started: Instant::now(),
        };
        app.load_keys()?;
        crate::session::Revoked::load(&app)?;
        let public = app.signer.public();
        app.with_store(|s| {
            s.kv_put(
                jifen_journal::heads::TREE_KEYS_SCOPE,
                &jifen_journal::heads::key_id(&public),
                &hex::encode(public.as_bytes()),
            )
        })?;
        let new_admin_key = app.ensure_admin_key()?;
        // With several nodes, economies are opened by lease (see `cluster.rs`).
        if app.config.cluster.is_none() {
            let metas = app.with_store(|s| s.economies())?;
            for meta in metas {
                app.open_economy(meta)?;
            }
        }
        Ok((app, new_admin_key))
    }

    /// Runs the store's thorough integrity check on a connection of its own and keeps the
    /// answer, for `/healthz`, the metrics and the console. Damage is an ERROR in the log.
    pub fn check_store(&self) {
        let report = open_store(&self.config.data_dir, self.config.database.as_deref())
            .map_err(JournalError::from)
            .and_then(|mut s| {
                let mut report = s.integrity_check(true)?;
                // And the signed tree heads against the journal they sign.
                for economy in self.economies() {
                    let tree = crate::transparency::tree_when_built(&economy)?;
                    let (_, problems) =
                        jifen_journal::check_signed_heads(s.as_mut(), &economy.meta.id, &tree)?;
                    let id = &economy.meta.id;
                    report
                        .problems
                        .extend(problems.into_iter().map(|p| format!("economy {id}: {p}")));
                }
                Ok(report)
            });
        let report = match report {
            Ok(r) => r,
            Err(e) => jifen_journal::IntegrityReport {
                method: "the store's integrity check".into(),
                checked: true,
                problems: vec![format!("it could not run: {e}")],
            },
        };
        if report.ok() {
            tracing::info!(method = %report.method, checked = report.checked, "store checked: no damage");
        } else {
            tracing::error!(method = %report.method, problems = ?report.problems, "the store is damaged: restore it from a backup; `jifen verify` shows what is affected");
        }
        if let Ok(mut health) = self.store_health.lock() {
            *health = Some(report);
        }
    }

    /// What is known wrong with the store: snapshots that failed their checks at start-up,
    /// and what the last thorough check found (empty when nothing, or none has run yet).
    pub fn store_problems(&self) -> Vec<String> {
        let mut problems = self
            .startup_problems
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default();
        if let Some(r) = self.store_health.lock().ok().and_then(|h| h.clone()) {
            problems.extend(r.problems);
        }
        problems
    }

    /// The last thorough check, if one has run: what it was and whether it found damage.
    pub fn store_check(&self) -> Option<jifen_journal::IntegrityReport> {
        self.store_health.lock().ok().and_then(|h| h.clone())
    }

    pub fn now_ms(&self) -> i64 {
        (self.config.clock)()
    }

    pub fn with_store<R>(
        &self,
        f: impl FnOnce(&mut dyn Store) -> Result<R, jifen_journal::StoreError>,
    ) -> Result<R, JournalError> {
        let mut guard = self
            .store
            .lock()
            .map_err(|_| JournalError::Unavailable("the store lock was poisoned".into()))?;
        Ok(f(guard.as_mut())?)
    }

    fn journal_config(&self) -> JournalConfig {
        JournalConfig {
            snapshot_every_entries: self.config.snapshot_every_entries,
            startup_check: self.config.startup_check,
            clock: self.config.clock.clone(),
            advance_clock: true,
            ..JournalConfig::default()
        }
    }

    /// Recovers an economy and starts its writer.
    pub fn open_economy(&self, meta: EconomyMeta) -> Result<Arc<Economy>, JournalError> {
        let store = open_store(&self.config.data_dir, self.config.database.as_deref())?;
        self.open_economy_on(meta, store)
    }

    /// As `open_economy`, on a PostgreSQL store fenced at the lease this node holds.
    pub fn open_economy_fenced(
        &self,
        meta: EconomyMeta,
        node: &str,
        epoch: i64,
    ) -> Result<Arc<Economy>, JournalError> {
        let url = self
            .config
            .database
            .as_deref()
            .ok_or_else(|| JournalError::Invalid("several nodes need PostgreSQL".into()))?;
        let mut store = jifen_journal::postgres::PgStore::connect(url)?;
        store.set_fence(node, epoch)?;
        self.open_economy_on(meta, Box::new(store))
    }

    /// Stops serving an economy here (its lease is gone or handed over). Requests in flight
    /// keep their reference; the fence refuses anything they try to commit.
    pub fn close_economy(&self, id: &str) {
        let removed = self.economies.write().ok().and_then(|mut m| m.remove(id));
        if let Some(e) = removed {
            if let Ok(e) = Arc::try_unwrap(e) {
                let _ = e.journal.shutdown();
            }
        }
    }

    fn open_economy_on(
        &self,
        meta: EconomyMeta,
        store: Box<dyn jifen_journal::Store>,
    ) -> Result<Arc<Economy>, JournalError> {
        let (journal, info) = Journal::open(store, &meta.id, self.journal_config())?;
        for skipped in &info.skipped_snapshots {
            tracing::error!(economy = %meta.id, %skipped, "snapshot skipped: it failed its checks; the economy was rebuilt from the journal");
            if let Ok(mut p) = self.startup_problems.lock() {
                p.push(format!("economy {}: {skipped}", meta.id));
            }
        }
        tracing::info!(economy = %meta.id, head_seq = info.head_seq, snapshot_seq = ?info.snapshot_seq, "economy open");
        let settings = self
            .with_store(|s| s.kv_get(SETTINGS_SCOPE, &meta.id))?
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let economy = Arc::new(Economy {
            meta: meta.clone(),
            settings: RwLock::new(settings),
            journal,
        });
        self.economies
            .write()
            .map_err(|_| JournalError::Unavailable("lock poisoned".into()))?
            .insert(meta.id.clone(), economy.clone());
        Ok(economy)
    }

    pub fn put_settings(&self, economy: &Economy, settings: EconomySettings) -> ApiResult<()> {
        let text = serde_json::to_string(&settings).map_err(ApiError::internal)?;
        self.with_store(|s| s.kv_put(SETTINGS_SCOPE, &economy.meta.id, &text))?;
        if let Ok(mut guard) = economy.settings.write() {
            *guard = settings;
        }
        Ok(())
    }

    pub fn economy(&self, id: &str) -> Option<Arc<Economy>> {
        self.economies.read().ok()?.get(id).cloned()
    }

    /// Every open economy, by id.
    pub fn economies(&self) -> Vec<Arc<Economy>> {
        let mut all: Vec<_> = self
            .economies
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        all.sort_by(|a: &Arc<Economy>, b| a.meta.id.cmp(&b.meta.id));
        all
    }

    /// The economy `principal` may reach, or 404 without saying whether it exists.
    pub fn economy_for(&self, principal: &Principal, id: &str) -> ApiResult<Arc<Economy>> {
        if !principal.reaches(id) {
            return Err(ApiError::no_economy());
        }
        self.economy(id).ok_or_else(ApiError::no_economy)
    }

    /// Stops every writer: each finishes its queue and takes a snapshot.
    pub fn shutdown(&self) {
        let all: Vec<Arc<Economy>> = match self.economies.write() {
            Ok(mut m) => m.drain().map(|(_, e)| e).collect(),
            Err(_) => return,
        };
        for economy in all {
            match Arc::try_unwrap(economy) {
                Ok(e) => {
                    if let Err(err) = e.journal.shutdown() {
                        tracing::error!(economy = %e.meta.id, %err, "shutdown snapshot failed");
                    }
                }
                Err(shared) => {
                    // Still referenced by a request in flight: snapshot now; the writer stops
                    // when the last reference goes.
                    if let Err(err) = shared.journal.snapshot() {
                        tracing::error!(economy = %shared.meta.id, %err, "shutdown snapshot failed");
                    }
                }
            }
        }
    }

    // ----- keys -----

    fn load_keys(&self) -> Result<(), JournalError> {
        let rows = self.with_store(|s| s.kv_list(KEYS_SCOPE))?;
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

    fn ensure_admin_key(&self) -> Result<Option<String>, JournalError> {
        let now = self.now_ms();
        if let Some(key) = self.config.admin_key.clone() {
            if keys::split(&key).map(|(id, _)| id) != Some(keys::ENV_ADMIN_ID) {
                return Err(JournalError::Invalid(format!(
                    "JIFEN_ADMIN_KEY must be {} to {} bytes and not of the jfk_ form",
                    keys::KEY_BYTES_MIN,
                    keys::KEY_BYTES_MAX
                )));
            }
            // The stored hash is kept when it is this key's (hashing again only changes the
            // salt); a new key, or a record of the unsalted form, is hashed anew.
            let kept = self.key(keys::ENV_ADMIN_ID).filter(|r| {
                r.revoked_ms.is_none()
                    && keys::is_slow_hash(&r.hash)
                    && keys::slow_hash_matches(&key, &r.hash)
            });
            if kept.is_none() {
                let record =
                    keys::env_admin_record(&key, now).map_err(JournalError::Unavailable)?;
                self.put_key(record)
                    .map_err(|e| JournalError::Unavailable(e.message))?;
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
        self.put_key(record)
            .map_err(|e| JournalError::Unavailable(e.message))?;
        Ok(Some(key))
    }

    pub fn put_key(&self, record: KeyRecord) -> ApiResult<()> {
        let text = serde_json::to_string(&record).map_err(ApiError::internal)?;
        self.with_store(|s| s.kv_put(KEYS_SCOPE, &record.id, &text))?;
        if let Ok(mut guard) = self.keys.write() {
            guard.insert(record.id.clone(), record);
        }
        Ok(())
    }

    pub fn key(&self, id: &str) -> Option<KeyRecord> {
        self.keys.read().ok()?.get(id).cloned()
    }

    /// Keys of one economy, newest first.
    pub fn keys_of(&self, economy: &str) -> Vec<KeyRecord> {
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

    /// Checks a presented key, from a caller at `address`. 401 when it is not a valid key,
    /// 429 when that address has failed too often. With several nodes a key made on another
    /// node is not yet in this node's ring: the ring is reloaded (at most once a second), off
    /// the async threads. A chosen key's argon2id hash is checked off them too, once, and every
    /// such check counts against the caller's address first, so guesses are slow and few.
    pub async fn authenticate(
        self: &Arc<App>,
        presented: &str,
        address: Option<std::net::IpAddr>,
    ) -> ApiResult<Principal> {
        let mut check = self.check_in_ring(presented);
        if matches!(check, KeyCheck::Unknown) && self.config.cluster.is_some() && self.reload_due()
        {
            let app = self.clone();
            let reloaded = tokio::task::spawn_blocking(move || app.load_keys().is_ok()).await;
            if reloaded.unwrap_or(false) {
                check = self.check_in_ring(presented);
            }
        }
        let limit = || match address {
            Some(a) => self.limits.address(a).inspect_err(|_| {
                self.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
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
        self.keys_reloaded.lock().ok().is_some_and(|mut at| {
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
        let Some(record) = self.key(id).filter(|r| r.revoked_ms.is_none()) else {
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

    async fn check_slow(self: &Arc<App>, record: KeyRecord, presented: &str) -> Option<Principal> {
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
