//! Wallet links: how a consumer, who never holds an API key, reaches their own wallet.
//!
//! The operator's backend asks for a link to one consumer and hands the consumer its URL,
//! `/wallet#t=<token>`. The token sits in the fragment, which browsers never send to a server or
//! write to its logs; the page sends it in `X-Wallet-Token`. A token is `<payload>.<HMAC>`: the
//! payload (economy, account, expiry) is signed with a key derived from the deployment's seed,
//! so links survive restarts and cannot be made without the server. A link speaks for one
//! account and no other.

use std::sync::Arc;

use axum::http::HeaderMap;
use serde_json::json;

use crate::config::Clock;
use crate::economies::{Economies, Economy};
use crate::error::{ApiError, ApiResult};
use crate::keys::{self, Lifetime};

/// The header a wallet link's token travels in.
pub const HEADER: &str = "x-wallet-token";

/// Who a valid token speaks for.
pub struct Holder {
    pub economy: Arc<Economy>,
    pub account: String,
}

pub struct WalletLinks {
    key: [u8; 32],
    ttl_max_ms: i64,
    clock: Clock,
    economies: Arc<Economies>,
}

impl WalletLinks {
    pub fn new(
        key: [u8; 32],
        ttl_max: std::time::Duration,
        clock: Clock,
        economies: Arc<Economies>,
    ) -> WalletLinks {
        WalletLinks {
            key,
            ttl_max_ms: ttl_max.as_millis() as i64,
            clock,
            economies,
        }
    }

    /// The longest a link may last, in seconds.
    pub fn ttl_max_s(&self) -> u64 {
        (self.ttl_max_ms / 1000) as u64
    }

    /// A token for `account` of `economy`, valid until `expires_ms`.
    pub fn make(&self, economy: &str, account: &str, expires_ms: i64) -> String {
        keys::seal(
            &self.key,
            &json!({"e": economy, "a": account, "x": expires_ms}),
        )
    }

    /// The economy a token names, without checking more (for routing between nodes).
    pub fn economy_of(&self, token: &str) -> Option<String> {
        let claims = keys::unseal(&self.key, token)?;
        claims["e"].as_str().map(str::to_string)
    }

    /// Who the request's token speaks for: 401 without a valid, current one.
    pub fn check(&self, headers: &HeaderMap) -> ApiResult<Holder> {
        let token = headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::unauthorized_because("send the wallet link's token in X-Wallet-Token")
            })?;
        let claims = keys::unseal(&self.key, token)
            .ok_or_else(|| ApiError::unauthorized_because("the wallet link is not valid"))?;
        match keys::lifetime(&claims, (self.clock)(), self.ttl_max_ms) {
            Lifetime::Current => {}
            Lifetime::Expired => {
                let why = "the wallet link has expired: ask for a new one";
                return Err(ApiError::unauthorized_because(why));
            }
            Lifetime::TooLong => {
                let why =
                    "the wallet link claims to last longer than any link may: ask for a new one";
                return Err(ApiError::unauthorized_because(why));
            }
        }
        let economy = self
            .economies
            .get(claims["e"].as_str().unwrap_or(""))
            .ok_or_else(|| ApiError::unauthorized_because("the wallet link's economy is gone"))?;
        Ok(Holder {
            economy,
            account: claims["a"].as_str().unwrap_or("").to_string(),
        })
    }
}
