//! Shop connectors: a brand's shop (Shopify, WooCommerce, Youzan, Weimob, or its own through
//! `generic`) posts its order webhooks to a connector, which checks the platform's signature,
//! reads the delivery (`jifen_connect`), decides what it does to the order (`plan`), and
//! journals the commands together with the delivery's record in one transaction.
//!
//! What a connector keeps lives in the settings table, by scope: its configuration
//! (`connectors:<eco>`), each order's state (`connector-orders:<eco>:<id>`), each delivery's
//! record (`connector-deliveries:<eco>:<id>`), and the identity table
//! (`identities:<eco>`: a keyed hash of a platform's buyer id to an account name). A phone
//! number or other buyer id is never stored: only its HMAC under the economy's identity key.

mod deliver;
mod model;
pub mod plan;
mod shop;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jifen_connect::Identity;

use crate::economies::Economy;
use crate::error::{ApiError, ApiResult};
use crate::store::StoreHandle;

pub use deliver::Answer;
use model::{configs_scope, identities_scope, put};
pub use model::{
    Config, Connector, Record, CONNECTORS_MAX, CONNECTOR_ID_BYTES_MAX, DELIVERY_BYTES_MAX,
    HELD_MAX, SECRET_BYTES_MAX,
};
pub use plan::Status;
pub use shop::Shop;

/// The connectors of every economy, and their identity tables.
pub struct Connectors {
    store: Arc<StoreHandle>,
    economies: Mutex<HashMap<String, (u64, Arc<Shop>)>>,
}

impl Connectors {
    pub fn new(store: Arc<StoreHandle>) -> Connectors {
        Connectors {
            store,
            economies: Mutex::new(HashMap::new()),
        }
    }

    /// The economy's connectors, loaded from the store on first use, and again whenever the
    /// economy was opened again since (with several nodes, another may have changed them).
    pub async fn shop(&self, economy: &Economy) -> ApiResult<Arc<Shop>> {
        let eco = economy.id();
        if let Some((opening, s)) = self.economies.lock().map_err(ApiError::internal)?.get(eco) {
            if *opening == economy.opening {
                return Ok(s.clone());
            }
        }
        let id = eco.to_string();
        let shop = Arc::new(self.store.run(move |s| Shop::load(s, &id)).await?);
        let mut map = self.economies.lock().map_err(ApiError::internal)?;
        map.insert(eco.to_string(), (economy.opening, shop.clone()));
        Ok(shop)
    }

    /// Stores a new connector. The caller checked its settings.
    pub async fn create(&self, shop: &Shop, config: Config) -> ApiResult<()> {
        if shop.get(&config.id).is_some() {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "duplicate_connector",
                format!(
                    "a connector named {:?} exists (a disabled one keeps its name)",
                    config.id
                ),
            ));
        }
        if shop.list().len() >= CONNECTORS_MAX {
            return Err(ApiError::invalid(format!(
                "an economy has at most {CONNECTORS_MAX} connectors"
            )));
        }
        self.save(shop, config.clone()).await?;
        let connector = Connector::new(&shop.economy, config);
        shop.insert(connector);
        Ok(())
    }

    /// Stores a connector's changed configuration (a disabling).
    pub async fn save(&self, shop: &Shop, config: Config) -> ApiResult<()> {
        let w = put(configs_scope(&shop.economy), &config.id, &config);
        self.store
            .run(move |s| s.kv_put(&w.scope, &w.key, w.value.as_deref().unwrap_or("")))
            .await?;
        if let Some(c) = shop.get(&config.id) {
            if let Ok(mut slot) = c.config.write() {
                *slot = config;
            }
        }
        Ok(())
    }

    /// Maps an identity to an existing account (the same person buying on two platforms).
    pub async fn link(&self, shop: &Shop, identity: &Identity, account: &str) -> ApiResult<String> {
        let hash = shop.identity_hash(identity);
        let (scope, key, value) = (
            identities_scope(&shop.economy),
            hash.clone(),
            account.to_string(),
        );
        self.store
            .run(move |s| s.kv_put(&scope, &key, &value))
            .await?;
        if let Ok(mut m) = shop.identities.write() {
            m.insert(hash.clone(), account.to_string());
        }
        Ok(hash)
    }

    pub fn store(&self) -> &Arc<StoreHandle> {
        &self.store
    }
}

/// The kinds of buyer id an identity may be (a phone number is stored only as a keyed hash).
pub const SCHEMES: [&str; 6] = [
    "phone",
    "shopify-customer",
    "woocommerce-customer",
    "youzan-open-id",
    "weimob-wid",
    "generic",
];

/// A connector id: 1 to 32 of `a-z`, `0-9`, `-`.
pub fn check_id(id: &str) -> ApiResult<()> {
    let ok = !id.is_empty()
        && id.len() <= CONNECTOR_ID_BYTES_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "a connector id is 1 to {CONNECTOR_ID_BYTES_MAX} of a-z, 0-9 and '-', not {id:?}"
        )))
    }
}
