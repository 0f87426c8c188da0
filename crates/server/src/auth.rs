//! The caller's key (or console session), checked once per request: 401 without a valid
//! one, 429 over the rate.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::app::App;
use crate::error::ApiError;
use crate::keys::{Principal, Role};
use crate::session;

pub struct Auth(pub Principal);

impl FromRequestParts<Arc<App>> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let found = principal_of(parts, app).await?;
        if let Err(e) = app.limits.key(&found.key_id) {
            app.metrics
                .rate_limited
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(e);
        }
        let principal = found;
        Ok(Auth(principal))
    }
}

/// `Option<Auth>`: `None` when the request carries neither a key nor a session cookie (for
/// endpoints that answer anyone, and say more to a key); a key or cookie that does not check
/// out is still 401.
impl axum::extract::OptionalFromRequestParts<Arc<App>> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Option<Self>, ApiError> {
        let keyless = !parts.headers.contains_key(header::AUTHORIZATION)
            && session::cookie(&parts.headers).is_none();
        if keyless {
            return Ok(None);
        }
        <Auth as FromRequestParts<Arc<App>>>::from_request_parts(parts, app)
            .await
            .map(Some)
    }
}

/// Who the request's key or session cookie speaks for; 401 without a valid one.
async fn principal_of(parts: &Parts, app: &Arc<App>) -> Result<Principal, ApiError> {
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => {
            let key = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or_else(ApiError::unauthorized)?;
            let address = crate::limits::client_address(
                app.config.client_address_header.as_ref(),
                &parts.headers,
                &parts.extensions,
            );
            app.authenticate(key, address).await
        }
        // Without a key, the console's session cookie (see `session.rs`).
        (None, _) => match session::cookie(&parts.headers) {
            Some(token) => session::principal(app, token, &parts.method, &parts.headers).await,
            None => Err(ApiError::unauthorized()),
        },
        // A second Authorization header is a trick, not a key.
        _ => Err(ApiError::unauthorized()),
    }
}

/// What an endpoint needs of the caller, once the economy is known to be theirs.
#[derive(Clone, Copy)]
pub enum Need<'a> {
    Admin,
    /// Admin or the economy's operator.
    Manage,
    /// Admin, operator or auditor.
    Read,
    /// As `Read`, or the merchant whose account this is.
    Account(&'a str),
}

pub fn allow(p: &Principal, need: Need<'_>) -> Result<(), ApiError> {
    let ok = match (p.role, need) {
        (Role::Admin, _) => true,
        (_, Need::Admin) => false,
        (Role::Operator, _) => true,
        (Role::Auditor, Need::Read | Need::Account(_)) => true,
        (Role::Merchant, Need::Account(name)) => p.account.as_deref() == Some(name),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "a {} key may not do this",
            p.role.as_str()
        )))
    }
}
