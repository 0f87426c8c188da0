//! Console sessions: an operator signs in once with a key, and the browser holds a session
//! cookie instead, so the key never sits in a URL, in page storage or in a log line.
//!
//! `POST /v1/session {"key"}` checks the key (operator or admin) and sets `jifen_session`, an
//! `HttpOnly`, `SameSite=Strict` cookie holding a token signed with a key derived from the
//! deployment's seed: the key's id, an expiry and a nonce, never the key itself. A session
//! speaks for its key only while the key is not revoked.
//!
//! Requests that change anything (every method but GET and HEAD) made with the cookie must
//! also carry `X-CSRF-Token`, a value derived from the session token that `POST` and
//! `GET /v1/session` return to the page. Another site's form cannot set that header, and cannot
//! read the answer that holds it.

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use std::sync::Arc;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::keys::{self, Principal, Role};
use crate::routes::{json_body, AppState};

pub const COOKIE: &str = "jifen_session";
/// Where signed-out sessions are kept (by nonce, with their expiry) until they would have
/// expired anyway, so every node, and this one after a restart, refuses them.
const REVOKED_SCOPE: &str = "revoked_sessions";

/// Sessions signed out before their expiry, as this node knows them: nonce → expiry (ms).
#[derive(Default)]
pub struct Revoked {
    nonces: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl Revoked {
    /// Loads the revocations still in force.
    pub fn load(app: &App) -> Result<(), jifen_journal::JournalError> {
        let now = app.now_ms();
        let stored = app.with_store(|s| s.kv_list(REVOKED_SCOPE))?;
        let mut nonces = app
            .revoked_sessions
            .nonces
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (nonce, expiry) in stored {
            if let Ok(expiry) = expiry.parse::<i64>() {
                if expiry >= now {
                    nonces.insert(nonce, expiry);
                }
            }
        }
        Ok(())
    }

    fn contains(&self, nonce: &str) -> bool {
        let nonces = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        nonces.contains_key(nonce)
    }

    fn insert(&self, nonce: &str, expiry_ms: i64, now_ms: i64) {
        let mut nonces = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        nonces.retain(|_, e| *e >= now_ms);
        nonces.insert(nonce.to_string(), expiry_ms);
    }
}

/// Whether the session with `nonce` was signed out: on this node, or (with several nodes,
/// which share the store) on another one.
async fn is_revoked(app: &Arc<App>, nonce: &str) -> ApiResult<bool> {
    if app.revoked_sessions.contains(nonce) {
        return Ok(true);
    }
    if app.config.cluster.is_none() {
        return Ok(false);
    }
    let nonce = nonce.to_string();
    crate::routes::blocking(app, move |app| {
        Ok(app
            .with_store(|s| s.kv_get(REVOKED_SCOPE, &nonce))?
            .is_some())
    })
    .await
}

/// Signs a session out everywhere: stored (so every node, and this one after a restart,
/// refuses it) and remembered here. Revocations past their expiry are dropped as it goes.
async fn revoke(app: &Arc<App>, nonce: &str, expiry_ms: i64) -> ApiResult<()> {
    let now = app.now_ms();
    app.revoked_sessions.insert(nonce, expiry_ms, now);
    let nonce = nonce.to_string();
    crate::routes::blocking(app, move |app| {
        app.with_store(|s| {
            s.kv_put(REVOKED_SCOPE, &nonce, &expiry_ms.to_string())?;
            for (old, expiry) in s.kv_list(REVOKED_SCOPE)? {
                if expiry.parse::<i64>().is_ok_and(|e| e < now) {
                    s.kv_delete(REVOKED_SCOPE, &old)?;
                }
            }
            Ok(())
        })?;
        Ok(())
    })
    .await
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

fn csrf_of(app: &App, token: &str) -> String {
    let mac = keys::hmac(
        &app.signer.session_key(),
        format!("csrf:{token}").as_bytes(),
    );
    hex::encode(&mac[..16])
}

fn unauthorized(why: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", why.to_string())
}

/// Who a session cookie speaks for; with a method that changes things, only with the right
/// `X-CSRF-Token`. A session that was signed out speaks for no one.
pub async fn principal(
    app: &Arc<App>,
    token: &str,
    method: &Method,
    headers: &HeaderMap,
) -> ApiResult<Principal> {
    let claims = keys::unseal(&app.signer.session_key(), token)
        .ok_or_else(|| unauthorized("the session is not valid: sign in again"))?;
    let expires_ms = claims["x"].as_i64().unwrap_or(0);
    let now = app.now_ms();
    if expires_ms < now {
        return Err(unauthorized("the session has expired: sign in again"));
    }
    if expires_ms - now > ttl_ms(app) {
        return Err(unauthorized(
            "the session claims to last longer than any session may: sign in again",
        ));
    }
    if is_revoked(app, claims["n"].as_str().unwrap_or("")).await? {
        return Err(unauthorized("the session was signed out: sign in again"));
    }
    let record = app
        .key(claims["k"].as_str().unwrap_or(""))
        .filter(|r| r.revoked_ms.is_none())
        .ok_or_else(|| unauthorized("the session's key was revoked: sign in again"))?;
    if method != Method::GET && method != Method::HEAD {
        let given = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !keys::same_bytes(given.as_bytes(), csrf_of(app, token).as_bytes()) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "a change made with a session cookie needs the session's X-CSRF-Token header",
            ));
        }
    }
    Ok(Principal {
        key_id: record.id,
        role: record.role,
        economy: record.economy,
        account: record.account,
    })
}

/// How long a session lasts, in ms.
fn ttl_ms(app: &App) -> i64 {
    app.config.session_ttl.as_millis() as i64
}

fn session_json(app: &App, token: &str, p: &Principal, expires_ms: i64) -> Value {
    json!({
        "signed_in": true,
        "role": p.role.as_str(),
        "economy": p.economy,
        "csrf": csrf_of(app, token),
        "expires_at": jifen_journal::time::rfc3339_ms(expires_ms),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    key: String,
}

#[utoipa::path(post, path = "/v1/session", tag = "console",
    request_body(content = Object, description = r#"{"key"}: an operator or admin key"#),
    responses((status = 200, description = "the session: role, economy and the CSRF token; the cookie is set", body = Object)))]
pub async fn sign_in(
    axum::extract::State(app): AppState,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let req: SignIn = serde_json::from_value(json_body(&headers, &body)?)
        .map_err(|e| ApiError::invalid(format!("invalid body: {e}")))?;
    let address = crate::limits::client_address(
        app.config.client_address_header.as_ref(),
        &headers,
        &extensions,
    );
    let p = app
        .authenticate(req.key.trim(), address)
        .await
        .map_err(|e| match e.status {
            StatusCode::UNAUTHORIZED => unauthorized("that key is not valid"),
            _ => e,
        })?;
    if !matches!(p.role, Role::Operator | Role::Admin) {
        return Err(ApiError::forbidden(format!(
            "the console is for operator and admin keys, not {} keys",
            p.role.as_str()
        )));
    }
    let expires = app.now_ms() + ttl_ms(&app);
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(ApiError::internal)?;
    let token = keys::seal(
        &app.signer.session_key(),
        &json!({"k": p.key_id, "x": expires, "n": hex::encode(nonce)}),
    );
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes() == b"https");
    let cookie = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        ttl_ms(&app) / 1000,
        if secure { "; Secure" } else { "" }
    );
    let mut response = axum::Json(session_json(&app, &token, &p, expires)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[utoipa::path(get, path = "/v1/session", tag = "console",
    responses((status = 200, description = "the current session (from its cookie) with its CSRF token, or signed_in false", body = Object)))]
pub async fn current(
    axum::extract::State(app): AppState,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // Not being signed in is an answer, not an error: the page asks before it knows.
    let mut signed_in = None;
    if let Some(token) = cookie(&headers) {
        if let Ok(p) = principal(&app, token, &Method::GET, &headers).await {
            let claims = keys::unseal(&app.signer.session_key(), token);
            if let Some(expires) = claims.and_then(|c| c["x"].as_i64()) {
                signed_in = Some(session_json(&app, token, &p, expires));
            }
        }
    }
    let body = match signed_in {
        Some(mut s) => {
            s["signed_in"] = json!(true);
            s
        }
        None => json!({"signed_in": false}),
    };
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[utoipa::path(delete, path = "/v1/session", tag = "console",
    responses((status = 200, description = "signed out: the cookie is cleared", body = Object)))]
pub async fn sign_out(
    axum::extract::State(app): AppState,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(token) = cookie(&headers) {
        // A forged sign-out is a nuisance, not a loss, but it needs the token all the same.
        principal(&app, token, &Method::DELETE, &headers).await?;
        let claims = keys::unseal(&app.signer.session_key(), token).unwrap_or_default();
        let nonce = claims["n"].as_str().unwrap_or("");
        revoke(&app, nonce, claims["x"].as_i64().unwrap_or(0)).await?;
    }
    let mut response = axum::Json(json!({"signed_out": true})).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        ))
        .map_err(ApiError::internal)?,
    );
    Ok(response)
}
