//! Exchange venues (SPEC §13, issue 7): per economy, a name, a URL and a shared secret. The
//! secret signs what is sent to the venue (see `jifen_connect::standard_webhooks`) and is never shown again.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::store::StoreHandle;

pub const SECRET_BYTES_MIN: usize = 16;
pub const SECRET_BYTES_MAX: usize = 256;

fn scope(economy: &str) -> String {
    format!("venues/{economy}")
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Venue {
    pub url: String,
    pub secret: String,
    pub created_ms: i64,
}

/// Every venue of `economy`, by name (blocking).
pub fn list(store: &StoreHandle, economy: &str) -> ApiResult<Vec<(String, Venue)>> {
    let rows = store.with(|s| s.kv_list(&scope(economy)))?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, v)| Some((name, serde_json::from_str(&v).ok()?)))
        .collect())
}

/// Whether `venue` is configured for `economy` (blocking).
pub fn exists(store: &StoreHandle, economy: &str, venue: &str) -> ApiResult<bool> {
    Ok(store.with(|s| s.kv_get(&scope(economy), venue))?.is_some())
}

/// Stores a venue (blocking).
pub fn put(store: &StoreHandle, economy: &str, name: &str, venue: &Venue) -> ApiResult<()> {
    let text = serde_json::to_string(venue).map_err(ApiError::internal)?;
    Ok(store.with(|s| s.kv_put(&scope(economy), name, &text))?)
}

/// Checks a venue's secret: `Err` says the bound.
pub fn check_secret(secret: &str) -> Result<(), String> {
    if (SECRET_BYTES_MIN..=SECRET_BYTES_MAX).contains(&secret.len()) {
        Ok(())
    } else {
        Err(format!(
            "the secret must be {SECRET_BYTES_MIN} to {SECRET_BYTES_MAX} bytes"
        ))
    }
}
