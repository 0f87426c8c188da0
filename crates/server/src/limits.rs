//! Rate limits, by `governor`'s cell rate algorithm: per API key, per wallet link, and per
//! client address for everything that carries no key (the public pages, the certificate and
//! content endpoints, the wallet, sign-in) and for every failed authentication.
//!
//! Over a limit the answer is 429 `rate_limited` with `Retry-After`. Each limiter forgets keys
//! it has not seen for a while (see [`Limiters::forget_idle`]), so memory stays bounded.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::StatusCode;
use compact_str::CompactString;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::ApiError;

/// Requests per second for each kind of caller; 0 turns that limit off. Bursts of twice that.
#[derive(Clone, Copy, Debug)]
pub struct RateLimits {
    pub per_key: u32,
    pub per_wallet_link: u32,
    pub per_address: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_key: 100_000,
            per_wallet_link: 10,
            per_address: 50,
        }
    }
}

/// What one sale or conversion through the wallet weighs against its link's limit, in reads.
pub const WALLET_ACT_WEIGHT: u32 = 4;

pub struct Limiters {
    per_key: Option<DefaultKeyedRateLimiter<CompactString>>,
    per_wallet_link: Option<DefaultKeyedRateLimiter<[u8; 16]>>,
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_s: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(per_s)?;
    let burst = NonZeroU32::new(per_s.saturating_mul(2)).unwrap_or(rate);
    Some(governor::RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

impl Limiters {
    pub fn new(limits: RateLimits) -> Limiters {
        Limiters {
            per_key: limiter(limits.per_key),
            per_wallet_link: limiter(limits.per_wallet_link),
            per_address: limiter(limits.per_address),
            clock: DefaultClock::default(),
        }
    }

    /// One request with API key `key_id`.
    pub fn key(&self, key_id: &str) -> Result<(), ApiError> {
        let Some(l) = &self.per_key else {
            return Ok(());
        };
        // Key ids are short: held inline, so a check allocates nothing.
        let key = CompactString::new(key_id);
        self.answer(
            l.check_key(&key)
                .map_err(|n| n.wait_time_from(self.clock.now())),
            "key",
        )
    }

    /// One request with the wallet link `token` (kept as a digest, never the token). A request
    /// that changes something (`POST /v1/wallet/act`) weighs [`WALLET_ACT_WEIGHT`] reads.
    pub fn wallet_link(&self, token: &str, weight: u32) -> Result<(), ApiError> {
        let Some(l) = &self.per_wallet_link else {
            return Ok(());
        };
        use sha2::{Digest, Sha256};
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        let weight = NonZeroU32::new(weight).unwrap_or(NonZeroU32::MIN);
        let checked = match l.check_key_n(&key, weight) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(n)) => Err(n.wait_time_from(self.clock.now())),
            // More than a whole burst: never allowed at this limit.
            Err(_) => Err(Duration::from_secs(60)),
        };
        self.answer(checked, "wallet link")
    }

    /// One request without a key, or one failed authentication, from `address`.
    pub fn address(&self, address: IpAddr) -> Result<(), ApiError> {
        let Some(l) = &self.per_address else {
            return Ok(());
        };
        self.answer(
            l.check_key(&address)
                .map_err(|n| n.wait_time_from(self.clock.now())),
            "client address",
        )
    }

    fn answer(&self, checked: Result<(), Duration>, per: &str) -> Result<(), ApiError> {
        checked.map_err(|wait| rate_limited(per, wait))
    }

    /// Forgets callers whose buckets are full again (they are as good as new).
    pub fn forget_idle(&self) {
        if let Some(l) = &self.per_key {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_wallet_link {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_address {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// The client's address: the last one in `header` when a proxy in front names it there
/// (configured with `--client-address-header`), otherwise the connection's peer.
pub fn client_address(
    header: Option<&axum::http::HeaderName>,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> Option<IpAddr> {
    if let Some(name) = header {
        let named = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .next_back();
        if named.is_some() {
            return named;
        }
    }
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// 429 with the seconds to wait, rounded up.
pub fn rate_limited(per: &str, wait: Duration) -> ApiError {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests for this {per}; retry in {seconds} s"),
    );
    e.retry_after_s = Some(seconds.max(1));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_429_with_retry_after() {
        let l = Limiters::new(RateLimits {
            per_key: 2,
            per_wallet_link: 1,
            per_address: 0,
        });
        for _ in 0..4 {
            l.key("k").unwrap();
        }
        let refused = l.key("k").unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.code, "rate_limited");
        assert_eq!(refused.retry_after_s, Some(1));
        // Another key has its own bucket; a limit of 0 is no limit.
        l.key("other").unwrap();
        for _ in 0..100 {
            l.address("10.0.0.1".parse().unwrap()).unwrap();
        }
        l.wallet_link("t", 1).unwrap();
        l.wallet_link("t", 1).unwrap();
        assert!(l.wallet_link("t", 1).is_err());
        assert!(l.wallet_link("u", 3).is_err(), "heavier than a burst");
        l.forget_idle();
    }
}
