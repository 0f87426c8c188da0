//! [`App`]: the server's parts, each behind its own handle, put together once at start. The
//! routes read what they need from it; each background worker is handed only the parts it
//! uses (see `lib.rs`), never the whole.

use std::sync::Arc;
use std::time::Instant;

use jifen_journal::datadir::WriterLock;
use jifen_journal::{open_store, JournalConfig, JournalError};

use crate::activity::Activity;
use crate::cluster::{Node, Owners};
use crate::config::ServerConfig;
use crate::connectors::Connectors;
use crate::economies::Economies;
use crate::forward::Forwarder;
use crate::keyring::Keyring;
use crate::limits::Limiters;
use crate::metrics::Metrics;
use crate::scheduler::Health;
use crate::sessions::Sessions;
use crate::signing::TreeSigner;
use crate::store::StoreHandle;
use crate::store_check::StoreHealth;
use crate::verify_runs::VerifyRuns;
use crate::wallet_links::WalletLinks;
use crate::webhooks::{self, Webhooks};
use crate::what_if::WhatIfs;

pub struct App {
    pub config: ServerConfig,
    /// The server's own connection, for everything but the writers.
    pub store: Arc<StoreHandle>,
    pub economies: Arc<Economies>,
    pub keyring: Arc<Keyring>,
    pub sessions: Arc<Sessions>,
    pub links: Arc<WalletLinks>,
    /// Signs tree heads (see `proofs`).
    pub signer: Arc<TreeSigner>,
    /// Rate limits by key, wallet link and client address.
    pub limits: Arc<Limiters>,
    pub metrics: Arc<Metrics>,
    /// Which entries concern which account or collectible.
    pub activity: Arc<Activity>,
    pub verify_runs: Arc<VerifyRuns>,
    pub what_ifs: Arc<WhatIfs>,
    /// Delivery of exports to venues.
    pub webhooks: Arc<Webhooks>,
    /// Shop connectors and the identity tables.
    pub connectors: Arc<Connectors>,
    /// What the scheduler could not do (for the console's banner and the metrics).
    pub scheduler_health: Arc<Health>,
    pub store_health: Arc<StoreHealth>,
    /// With several nodes: where each economy's owner is, and the way to it.
    pub owners: Option<Arc<Owners>>,
    pub forwarder: Option<Forwarder>,
    pub started: Instant,
    /// The exclusive hold on the data directory (and database), for as long as the app runs.
    _writer_lock: WriterLock,
}

fn journal_config(config: &ServerConfig, metrics: &Arc<Metrics>) -> JournalConfig {
    let metrics = metrics.clone();
    JournalConfig {
        snapshot_every_entries: config.snapshot_every_entries,
        snapshot_write_bytes_per_s: config.snapshot_write_bytes_per_s,
        startup_check: config.startup_check,
        clock: config.clock.clone(),
        advance_clock: true,
        on_commit: Some(Arc::new(move |took, sync, entries| {
            metrics.observe_commit(took, sync, entries)
        })),
        ..JournalConfig::default()
    }
}

/// The store's own check before serving: damage it can see is a reason not to serve at all.
fn quick_check(store: &mut dyn jifen_journal::Store) -> Result<(), JournalError> {
    let quick = store.integrity_check(false)?;
    if quick.ok() {
        return Ok(());
    }
    Err(JournalError::Invalid(format!(
        "the store is damaged ({}: {}); restore it from a backup (`jifen verify` shows what is affected)",
        quick.method,
        quick.problems.join("; ")
    )))
}

impl App {
    /// Opens the store, loads the keys, makes sure an admin key exists, and opens every
    /// economy. Returns the app and, on first start, the new admin key (shown once).
    pub fn open(config: ServerConfig) -> Result<(App, Option<String>), JournalError> {
        let writer_lock = WriterLock::acquire(
            &config.data_dir,
            config.database.as_deref(),
            "jifen serve",
            config.cluster.is_some(),
        )?;
        let mut conn = open_store(&config.data_dir, config.database.as_deref())?;
        quick_check(conn.as_mut())?;
        let signer = crate::signing::signer_for(&config.data_dir, config.signing_key.as_deref())?;
        let store = Arc::new(StoreHandle::new(
            conn,
            config.data_dir.clone(),
            config.database.clone(),
        ));
        let clustered = config.cluster.is_some();
        let clock = config.clock.clone();
        let limits = Arc::new(Limiters::new(config.rate_limits));
        let metrics = Arc::new(Metrics::new());
        let keyring = Arc::new(Keyring::load(
            store.clone(),
            limits.clone(),
            metrics.clone(),
            clustered,
        )?);
        let sessions = Arc::new(Sessions::load(
            signer.session_key(),
            config.session_ttl,
            clock.clone(),
            keyring.clone(),
            store.clone(),
            clustered,
        )?);
        let economies = Arc::new(Economies::new(
            store.clone(),
            journal_config(&config, &metrics),
        ));
        let links = Arc::new(WalletLinks::new(
            signer.wallet_key(),
            config.wallet_link_ttl_max,
            clock.clone(),
            economies.clone(),
        ));
        let (owners, forwarder) = cluster_parts(&config, &economies, &links, &store);
        let app = App {
            connectors: Arc::new(Connectors::new(store.clone())),
            webhooks: Arc::new(Webhooks::new(
                economies.clone(),
                store.clone(),
                webhooks::Policy {
                    allow_private: config.allow_private_targets,
                    retry_for: config.webhook_retry_for,
                    secret_overlap: config.webhook_secret_overlap,
                },
            )),
            scheduler_health: Arc::new(Health::new(metrics.scheduler_failures.clone())),
            store_health: Arc::new(StoreHealth::new(store.clone(), economies.clone())),
            verify_runs: Arc::new(VerifyRuns::new(store.clone(), clock.clone())),
            what_ifs: Arc::default(),
            activity: Arc::default(),
            config,
            store,
            economies,
            keyring,
            sessions,
            links,
            signer,
            limits,
            metrics,
            owners,
            forwarder,
            started: Instant::now(),
            _writer_lock: writer_lock,
        };
        let new_admin_key = app.start()?;
        Ok((app, new_admin_key))
    }

    /// Publishes the tree key, makes sure an admin key exists and, on a single node, opens
    /// every economy (with several, economies are opened by lease: see `cluster`).
    fn start(&self) -> Result<Option<String>, JournalError> {
        let public = self.signer.public();
        self.store.with(|s| {
            s.kv_put(
                jifen_journal::heads::TREE_KEYS_SCOPE,
                &jifen_journal::heads::key_id(&public),
                &hex::encode(public.as_bytes()),
            )
        })?;
        let new_admin_key = self
            .keyring
            .ensure_admin_key(self.config.admin_key.clone(), self.now_ms())?;
        if self.config.cluster.is_none() {
            for meta in self.store.with(|s| s.economies())? {
                self.economies.open(meta)?;
            }
        }
        Ok(new_admin_key)
    }

    pub fn now_ms(&self) -> i64 {
        (self.config.clock)()
    }

    /// The node of a cluster this server is, if it is one.
    pub fn node(&self) -> Option<Node> {
        Some(Node {
            config: self.config.cluster.clone()?,
            database: self.config.database.clone()?,
            clock: self.config.clock.clone(),
        })
    }

    /// Stops every writer: each finishes its queue and takes a snapshot.
    pub fn shutdown(&self) {
        self.economies.shutdown();
    }
}

/// With several nodes: where owners are, and the client that forwards to them.
fn cluster_parts(
    config: &ServerConfig,
    economies: &Arc<Economies>,
    links: &Arc<WalletLinks>,
    store: &Arc<StoreHandle>,
) -> (Option<Arc<Owners>>, Option<Forwarder>) {
    let (Some(cluster), Some(database)) = (&config.cluster, &config.database) else {
        return (None, None);
    };
    let owners = Arc::new(Owners::new(Node {
        config: cluster.clone(),
        database: database.clone(),
        clock: config.clock.clone(),
    }));
    let forwarder = Forwarder::new(
        owners.clone(),
        economies.clone(),
        links.clone(),
        store.clone(),
        config.request_timeout,
    );
    (Some(owners), Some(forwarder))
}
