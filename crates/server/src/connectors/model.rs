//! What a connector is and keeps: its configuration, the scopes of the settings table it
//! writes, its records of deliveries, and what it knows of orders.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jifen_connect::{Credentials, Kind};
use jifen_journal::KvWrite;
use serde::{Deserialize, Serialize};

use super::plan::{Event, OrderState, Status};

/// The longest connector id.
pub const CONNECTOR_ID_BYTES_MAX: usize = 32;
/// The most connectors of one economy.
pub const CONNECTORS_MAX: usize = 64;
/// The most deliveries one connector holds; beyond, deliveries are refused with 503.
pub const HELD_MAX: usize = 1000;
/// The largest delivery body.
pub const DELIVERY_BYTES_MAX: usize = 1 << 20;
/// The longest secret a platform's settings may carry.
pub const SECRET_BYTES_MAX: usize = 256;

/// A connector as configured. Its secrets stay in the store; answers never show them, except
/// the one `generic` secret jifen makes, once, when the connector is created.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    pub id: String,
    pub kind: String,
    pub merchant: String,
    #[serde(default)]
    pub secret: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_secret: String,
    pub currency: String,
    /// Completions left to the economy's auto-confirm window.
    #[serde(default)]
    pub auto_confirm: bool,
    /// Referrers the platform names become one-level referrers.
    #[serde(default)]
    pub referrals: bool,
    pub created_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_ms: Option<i64>,
}

impl Config {
    pub fn kind(&self) -> Kind {
        Kind::parse(&self.kind).unwrap_or(Kind::Generic)
    }

    pub fn credentials(&self) -> Credentials {
        Credentials {
            secret: self.secret.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
        }
    }
}

pub(super) fn configs_scope(eco: &str) -> String {
    format!("connectors:{eco}")
}

pub(super) fn orders_scope(eco: &str, id: &str) -> String {
    format!("connector-orders:{eco}:{id}")
}

pub(super) fn records_scope(eco: &str, id: &str) -> String {
    format!("connector-deliveries:{eco}:{id}")
}

pub(super) fn identities_scope(eco: &str) -> String {
    format!("identities:{eco}")
}

pub(super) const IDENTITY_KEY_SCOPE: &str = "identity-key";

pub(super) fn put(scope: String, key: &str, value: &impl Serialize) -> KvWrite {
    KvWrite {
        scope,
        key: key.to_string(),
        value: Some(serde_json::to_string(value).unwrap_or_default()),
    }
}

/// One connector: its configuration and, once loaded, what it knows of orders and deliveries.
pub struct Connector {
    pub economy: String,
    pub(super) config: RwLock<Config>,
    pub(super) state: tokio::sync::Mutex<State>,
}

impl Connector {
    pub fn config(&self) -> Config {
        self.config
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

impl Connector {
    pub(super) fn new(economy: &str, config: Config) -> Arc<Connector> {
        Arc::new(Connector {
            economy: economy.to_string(),
            config: RwLock::new(config),
            state: tokio::sync::Mutex::new(State::default()),
        })
    }
}

/// What a connector knows, loaded from the store on first use.
#[derive(Default)]
pub(super) struct State {
    pub(super) loaded: bool,
    /// The economy's opening the state was loaded under (see `Economy::opening`).
    pub(super) opening: u64,
    pub(super) orders: HashMap<String, OrderState>,
    records: HashMap<String, Record>,
    /// How many records are held, kept as records change (the bound is checked per delivery).
    held: usize,
}

impl State {
    /// Everything known, read from the store.
    pub(super) fn load(
        &mut self,
        orders: HashMap<String, OrderState>,
        records: HashMap<String, Record>,
    ) {
        self.orders = orders;
        self.held = records
            .values()
            .filter(|r| r.status == Status::Held)
            .count();
        self.records = records;
    }

    pub(super) fn records(&self) -> &HashMap<String, Record> {
        &self.records
    }

    pub(super) fn held(&self) -> usize {
        self.held
    }

    /// Keeps a record, new or changed.
    pub(super) fn put(&mut self, record: Record) {
        let is_held = record.status == Status::Held;
        let was_held = self
            .records
            .insert(record.key.clone(), record)
            .is_some_and(|old| old.status == Status::Held);
        self.held = self.held + usize::from(is_held) - usize::from(was_held);
    }
}

/// A delivery as the inbox shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// The platform's delivery id, or a digest of the body where it gives none.
    pub key: String,
    pub received_ms: i64,
    /// The platform's event (topic, type).
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    pub status: Status,
    pub reason: String,
    /// The ids of the commands it became.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Its order events (buyers as account names), kept for a retry.
    #[serde(default)]
    pub events: Vec<Event>,
}
