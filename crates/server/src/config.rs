//! What a server is started with ([`ServerConfig`]), and the settings each economy keeps beside
//! its rules ([`EconomySettings`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jifen_journal::StartupCheck;
use serde::{Deserialize, Serialize};

use crate::connections::ConnectionLimits;
use crate::limits::RateLimits;

/// Milliseconds since the epoch, UTC. Injectable so tests can move time.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub database: Option<String>,
    /// `JIFEN_ADMIN_KEY`: used instead of a generated admin key.
    pub admin_key: Option<String>,
    /// Requests per second per key, per wallet link and per client address (see `limits`).
    pub rate_limits: RateLimits,
    /// A header a proxy in front sets to the client's address (`X-Forwarded-For`,
    /// `X-Real-IP`): its last address is the client's. Without it, the peer's address is.
    pub client_address_header: Option<axum::http::HeaderName>,
    pub request_timeout: Duration,
    /// How often the scheduler looks for due work.
    pub scheduler_tick: Duration,
    pub clock: Clock,
    pub snapshot_every_entries: u64,
    /// The most bytes a second a background snapshot is written at (0: no limit).
    pub snapshot_write_bytes_per_s: u64,
    pub startup_check: StartupCheck,
    /// The Ed25519 seed that signs tree heads; default `<data_dir>/tree-signing.key`.
    pub signing_key: Option<PathBuf>,
    /// Several nodes on PostgreSQL (`--node-id`): economies are opened by lease.
    pub cluster: Option<ClusterConfig>,
    /// The longest a wallet link may last. A token whose expiry lies further ahead is refused
    /// whatever its signature: a leaked signing seed cannot mint links that outlive a rotation.
    pub wallet_link_ttl_max: Duration,
    /// How long a console session lasts; a session cookie claiming more is refused likewise.
    pub session_ttl: Duration,
    /// Whether the server may send to loopback, private and link-local addresses (venues and
    /// webhooks on a private network; tests). Off by default (see `outgoing`).
    pub allow_private_targets: bool,
    /// How long a webhook subscription's deliveries are retried before it is paused.
    pub webhook_retry_for: Duration,
    /// How long a subscription's old secret still signs after a rotation.
    pub webhook_secret_overlap: Duration,
    /// The header-read timeout and the bound on open connections.
    pub connection_limits: ConnectionLimits,
    /// Scheduled backups of the SQLite store (`--backup-dir`), see `backups`.
    pub backups: Option<BackupSchedule>,
}

/// Where, how often, and how many backups the server keeps.
#[derive(Clone, Debug)]
pub struct BackupSchedule {
    pub dir: PathBuf,
    pub every: Duration,
    pub keep: usize,
}

impl ServerConfig {
    pub fn new(data_dir: PathBuf, database: Option<String>) -> ServerConfig {
        ServerConfig {
            data_dir,
            database,
            backups: None,
            admin_key: None,
            rate_limits: Default::default(),
            client_address_header: None,
            request_timeout: Duration::from_secs(30),
            scheduler_tick: Duration::from_secs(1),
            clock: Arc::new(jifen_journal::time::now_ms),
            snapshot_every_entries: 1_000_000,
            snapshot_write_bytes_per_s: jifen_journal::SNAPSHOT_WRITE_BYTES_PER_S,
            startup_check: StartupCheck::FullChain,
            signing_key: None,
            cluster: None,
            wallet_link_ttl_max: Duration::from_secs(24 * 60 * 60),
            session_ttl: Duration::from_secs(8 * 60 * 60),
            connection_limits: Default::default(),
            allow_private_targets: false,
            webhook_retry_for: Duration::from_secs(24 * 60 * 60),
            webhook_secret_overlap: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// One node of several on one PostgreSQL (see `cluster`).
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub node_id: String,
    /// The URL other nodes forward requests to.
    pub advertise: String,
    pub lease_ms: i64,
}

/// Per-economy settings that are not replay rules (the rules stay as SPEC §3 has them).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EconomySettings {
    /// Pending orders older than this are confirmed by the scheduler.
    pub auto_confirm_days: u32,
    /// The words the pages show for the daily reward and its pool (`terms.rs`).
    #[serde(default)]
    pub terms: crate::terms::Terms,
}

pub const SETTINGS_SCOPE: &str = "economy_settings";
pub const AUTO_CONFIRM_DAYS_DEFAULT: u32 = 7;
pub const AUTO_CONFIRM_DAYS_MAX: u32 = 365;

impl Default for EconomySettings {
    fn default() -> Self {
        EconomySettings {
            auto_confirm_days: AUTO_CONFIRM_DAYS_DEFAULT,
            terms: crate::terms::Terms::default(),
        }
    }
}

impl EconomySettings {
    /// Checks the settings' bounds: `Err` names the field and its range.
    pub fn check(&self) -> Result<(), String> {
        if (1..=AUTO_CONFIRM_DAYS_MAX).contains(&self.auto_confirm_days) {
            self.terms.check()
        } else {
            Err(format!(
                "auto_confirm_days must be 1 to {AUTO_CONFIRM_DAYS_MAX}"
            ))
        }
    }
}
