//! Console sessions: an operator signs in once with a key, and the browser holds a session
//! cookie instead, so the key never sits in a URL, in page storage or in a log line.
//!
//! The cookie `jifen_session` holds a token signed with a key derived from the deployment's
//! seed: the key's id, an expiry and a nonce, never the key itself. A session speaks for its
//! key only while the key is not revoked, and not after it was signed out: signed-out nonces
//! are stored until they would have expired, so every node, and this one after a restart,
//! refuses them. Changes made with the cookie also need `X-CSRF-Token`, a value derived from the
//! session token that only the page can read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderMap, Method, StatusCode};
use jifen_journal::JournalError;
use serde_json::{json, Value};

use crate::config::Clock;
use crate::error::{ApiError, ApiResult};
use crate::keyring::{principal_of, Keyring};
use crate::keys::{self, Lifetime, Principal};
use crate::store::StoreHandle;

pub const COOKIE: &str = "jifen_session";
/// Where signed-out sessions are kept (by nonce, with their expiry).
const REVOKED_SCOPE: &str = "revoked_sessions";

pub struct Sessions {
    key: [u8; 32],
    ttl_ms: i64,
    clock: Clock,
    keyring: Arc<Keyring>,
    store: Arc<StoreHandle>,
    /// With several nodes, another node may have signed a session out.
    clustered: bool,
    /// Sessions signed out before their expiry, as this node knows them: nonce → expiry (ms).
    revoked: Mutex<HashMap<String, i64>>,
}

/// A session just made: its token, its cookie and what the page is told of it.
pub struct NewSession {
    pub token: String,
    pub cookie: String,
    pub view: Value,
}

/// The session token in the request's cookies, if any.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

impl Sessions {
    /// The sessions of a deployment, with the revocations still in force loaded.
    pub fn load(
        key: [u8; 32],
        ttl: std::time::Duration,
        clock: Clock,
        keyring: Arc<Keyring>,
        store: Arc<StoreHandle>,
        clustered: bool,
    ) -> Result<Sessions, JournalError> {
        let now = clock();
        let stored = store.with(|s| s.kv_list(REVOKED_SCOPE))?;
        let revoked = stored
            .into_iter()
            .filter_map(|(nonce, expiry)| Some((nonce, expiry.parse::<i64>().ok()?)))
            .filter(|(_, expiry)| *expiry >= now)
            .collect();
        Ok(Sessions {
            key,
            ttl_ms: ttl.as_millis() as i64,
            clock,
            keyring,
            store,
            clustered,
            revoked: Mutex::new(revoked),
        })
    }

    fn csrf_of(&self, token: &str) -> String {
        let mac = keys::hmac(&self.key, format!("csrf:{token}").as_bytes());
        hex::encode(&mac[..16])
    }

    /// A new session for `p`; `secure` marks the cookie for HTTPS only.
    pub fn issue(&self, p: &Principal, secure: bool) -> ApiResult<NewSession> {
        let expires = (self.clock)() + self.ttl_ms;
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(ApiError::internal)?;
        let token = keys::seal(
            &self.key,
            &json!({"k": p.key_id, "x": expires, "n": hex::encode(nonce)}),
        );
        let cookie = format!(
            "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            self.ttl_ms / 1000,
            if secure { "; Secure" } else { "" }
        );
        let view = self.view(&token, p, expires);
        Ok(NewSession {
            token,
            cookie,
            view,
        })
    }

    /// What the page is told of a session: role, economy, the CSRF token and the expiry.
    pub fn view(&self, token: &str, p: &Principal, expires_ms: i64) -> Value {
        json!({
            "signed_in": true,
            "role": p.role.as_str(),
            "economy": p.economy,
            "csrf": self.csrf_of(token),
            "expires_at": jifen_journal::time::rfc3339_ms(expires_ms),
        })
    }

    /// The claims of a token this deployment signed: key id `k`, expiry `x`, nonce `n`.
    pub fn claims(&self, token: &str) -> Option<Value> {
        keys::unseal(&self.key, token)
    }

    /// Who a session cookie speaks for; with a method that changes things, only with the right
    /// `X-CSRF-Token`. A session that was signed out speaks for no one.
    pub async fn principal(
        &self,
        token: &str,
        method: &Method,
        headers: &HeaderMap,
    ) -> ApiResult<Principal> {
        let claims = self.claims(token).ok_or_else(|| {
            ApiError::unauthorized_because("the session is not valid: sign in again")
        })?;
        match keys::lifetime(&claims, (self.clock)(), self.ttl_ms) {
            Lifetime::Current => {}
            Lifetime::Expired => {
                let why = "the session has expired: sign in again";
                return Err(ApiError::unauthorized_because(why));
            }
            Lifetime::TooLong => {
                let why = "the session claims to last longer than any session may: sign in again";
                return Err(ApiError::unauthorized_because(why));
            }
        }
        if self.is_revoked(claims["n"].as_str().unwrap_or("")).await? {
            return Err(ApiError::unauthorized_because(
                "the session was signed out: sign in again",
            ));
        }
        let record = self
            .keyring
            .get(claims["k"].as_str().unwrap_or(""))
            .filter(|r| r.revoked_ms.is_none())
            .ok_or_else(|| {
                ApiError::unauthorized_because("the session's key was revoked: sign in again")
            })?;
        if method != Method::GET && method != Method::HEAD {
            self.check_csrf(token, headers)?;
        }
        Ok(principal_of(&record))
    }

    fn check_csrf(&self, token: &str, headers: &HeaderMap) -> ApiResult<()> {
        let given = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if keys::same_bytes(given.as_bytes(), self.csrf_of(token).as_bytes()) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "a change made with a session cookie needs the session's X-CSRF-Token header",
        ))
    }

    /// Whether the session with `nonce` was signed out: on this node, or (with several nodes,
    /// which share the store) on another one.
    async fn is_revoked(&self, nonce: &str) -> ApiResult<bool> {
        let known = self
            .revoked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(nonce);
        if known || !self.clustered {
            return Ok(known);
        }
        let nonce = nonce.to_string();
        let stored = self
            .store
            .run(move |s| s.kv_get(REVOKED_SCOPE, &nonce))
            .await?;
        Ok(stored.is_some())
    }

    /// Signs the session of `token` out everywhere: stored (so every node, and this one after a
    /// restart, refuses it) and remembered here. Revocations past their expiry are dropped.
    pub async fn revoke(&self, token: &str) -> ApiResult<()> {
        let claims = self.claims(token).unwrap_or_default();
        let nonce = claims["n"].as_str().unwrap_or("").to_string();
        let expiry_ms = claims["x"].as_i64().unwrap_or(0);
        let now = (self.clock)();
        {
            let mut revoked = self.revoked.lock().unwrap_or_else(|p| p.into_inner());
            revoked.retain(|_, e| *e >= now);
            revoked.insert(nonce.clone(), expiry_ms);
        }
        self.store
            .run(move |s| {
                s.kv_put(REVOKED_SCOPE, &nonce, &expiry_ms.to_string())?;
                for (old, expiry) in s.kv_list(REVOKED_SCOPE)? {
                    if expiry.parse::<i64>().is_ok_and(|e| e < now) {
                        s.kv_delete(REVOKED_SCOPE, &old)?;
                    }
                }
                Ok(())
            })
            .await?;
        Ok(())
    }
}
