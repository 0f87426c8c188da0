//! What a webhook subscription is and keeps: its URL, the event types it wants, its secrets
//! (the new one and, for a day after a rotation, the old one), batching and whether it is
//! paused; stored in the settings table with its cursor beside it.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::store::StoreHandle;

use super::events::{self, EVENTS};
use super::log::Position;

/// The most subscriptions of one economy.
pub const SUBSCRIPTIONS_MAX: usize = 50;
/// The longest subscription id.
pub const ID_BYTES_MAX: usize = 64;
/// The most events one POST may carry.
pub const BATCH_MAX: usize = 100;
/// Bytes of a secret's key.
const KEY_BYTES: usize = 32;

fn scope(economy: &str) -> String {
    format!("webhooks/{economy}")
}

fn cursor_scope(economy: &str) -> String {
    format!("webhook-cursors/{economy}")
}

/// A signing secret, `whsec_<base64 of the key>`, valid until `until_ms` when set.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Secret {
    pub secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
}

/// A subscription as configured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    /// Events per POST: 1 (the default) sends each event alone.
    #[serde(default = "one")]
    pub batch: usize,
    /// Newest first.
    pub secrets: Vec<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
    pub created_ms: i64,
}

fn one() -> usize {
    1
}

impl Subscription {
    /// The secrets still valid at `now_ms`, newest first.
    pub fn live_secrets(&self, now_ms: i64) -> Vec<String> {
        self.secrets
            .iter()
            .filter(|s| s.until_ms.is_none_or(|u| now_ms < u))
            .map(|s| s.secret.clone())
            .collect()
    }

    pub fn wants(&self, kind: &str) -> bool {
        self.events.iter().any(|e| e == kind || e == "*")
    }
}

/// A new secret in the Standard Webhooks form.
pub fn new_secret() -> ApiResult<String> {
    let mut key = [0u8; KEY_BYTES];
    getrandom::fill(&mut key).map_err(ApiError::internal)?;
    Ok(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    ))
}

/// Checks a subscription's id.
pub fn check_id(id: &str) -> ApiResult<()> {
    let ok = !id.is_empty()
        && id.len() <= ID_BYTES_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        return Ok(());
    }
    Err(ApiError::invalid(format!(
        "id: 1 to {ID_BYTES_MAX} letters, digits, '_', '.' or '-'"
    )))
}

/// Checks the event types asked for: known ones, or `*` for all, at least one.
pub fn check_events(kinds: &[String]) -> ApiResult<()> {
    if kinds.is_empty() || kinds.len() > EVENTS.len() + 1 {
        return Err(ApiError::invalid(
            "events: name at least one event type, or \"*\" for all",
        ));
    }
    for k in kinds {
        if k != "*" && events::spec(k).is_none() {
            let known: Vec<&str> = EVENTS.iter().map(|e| e.kind).collect();
            return Err(ApiError::invalid(format!(
                "events: {k:?} is not an event type (the types: {})",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

pub fn check_batch(batch: usize) -> ApiResult<()> {
    if (1..=BATCH_MAX).contains(&batch) {
        return Ok(());
    }
    Err(ApiError::invalid(format!(
        "batch: 1 to {BATCH_MAX} events per request"
    )))
}

/// Every subscription of `economy` (blocking).
pub fn list(store: &StoreHandle, economy: &str) -> ApiResult<Vec<Subscription>> {
    let rows = store.with(|s| s.kv_list(&scope(economy)))?;
    Ok(rows
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_str(&v).ok())
        .collect())
}

pub fn get(store: &StoreHandle, economy: &str, id: &str) -> ApiResult<Option<Subscription>> {
    let row = store.with(|s| s.kv_get(&scope(economy), id))?;
    Ok(row.and_then(|v| serde_json::from_str(&v).ok()))
}

pub fn put(store: &StoreHandle, economy: &str, sub: &Subscription) -> ApiResult<()> {
    let text = serde_json::to_string(sub).map_err(ApiError::internal)?;
    Ok(store.with(|s| s.kv_put(&scope(economy), &sub.id, &text))?)
}

pub fn delete(store: &StoreHandle, economy: &str, id: &str) -> ApiResult<()> {
    store.with(|s| {
        s.kv_delete(&scope(economy), id)?;
        s.kv_delete(&cursor_scope(economy), id)
    })?;
    Ok(())
}

pub fn cursor(store: &StoreHandle, economy: &str, id: &str) -> ApiResult<Option<Position>> {
    let row = store.with(|s| s.kv_get(&cursor_scope(economy), id))?;
    Ok(row.as_deref().and_then(Position::parse))
}

pub fn put_cursor(store: &StoreHandle, economy: &str, id: &str, at: Position) -> ApiResult<()> {
    Ok(store.with(|s| s.kv_put(&cursor_scope(economy), id, &at.text()))?)
}
