//! Who is calling, and what they may reach, decided once per request by extractors:
//!
//! - [`Caller`]: the principal of the request's API key or console session cookie (401 without
//!   a valid one, 429 over the key's rate); `Option<Caller>` for endpoints that answer anyone
//!   and say more to a key;
//! - [`Eco<N>`]: the economy the path names, 404 unless the caller's key reaches it (without
//!   saying whether it exists), then 403 unless the caller's role meets the need `N`.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts, RawPathParams};
use axum::http::header;
use axum::http::request::Parts;

use crate::economies::Economy;
use crate::error::ApiError;
use crate::keys::{Principal, Role};
use crate::sessions;
use crate::state::App;

/// The caller of a request with a key or a session.
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let principal = principal_of(parts, app).await?;
        app.limits.key(&principal.key_id).inspect_err(|_| {
            app.metrics.rate_limited.inc();
        })?;
        Ok(Caller(principal))
    }
}

/// `None` when the request carries neither a key nor a session cookie; a key or cookie that
/// does not check out is still 401.
impl OptionalFromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Option<Self>, ApiError> {
        if !carries_credentials(&parts.headers) {
            return Ok(None);
        }
        <Caller as FromRequestParts<Arc<App>>>::from_request_parts(parts, app)
            .await
            .map(Some)
    }
}

/// Whether a request carries a key or a session cookie.
pub fn carries_credentials(headers: &axum::http::HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION) || sessions::cookie(headers).is_some()
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
            app.keyring.authenticate(key, address).await
        }
        // Without a key, the console's session cookie.
        (None, _) => match sessions::cookie(&parts.headers) {
            Some(token) => {
                app.sessions
                    .principal(token, &parts.method, &parts.headers)
                    .await
            }
            None => Err(ApiError::unauthorized()),
        },
        // A second Authorization header is a trick, not a key.
        _ => Err(ApiError::unauthorized()),
    }
}

/// What an endpoint needs of a caller whose key reaches the economy.
pub trait Need: Send + Sync + 'static {
    /// Whether `p` meets the need; `path` holds the path's parameters.
    fn met(p: &Principal, path: &RawPathParams) -> bool;

    /// The refusal when it does not.
    fn refusal(p: &Principal) -> ApiError {
        ApiError::forbidden(format!("a {} key may not do this", p.role.as_str()))
    }
}

/// Admin or the economy's operator.
pub struct Manage;
/// Admin, operator or auditor.
pub struct Read;
/// As [`Read`], or the merchant whose account the path names (`{name}`).
pub struct ReadAccount;
/// Any key of the economy but an auditor's (what it may submit is decided per command).
pub struct Submit;

impl Need for Manage {
    fn met(p: &Principal, _: &RawPathParams) -> bool {
        matches!(p.role, Role::Admin | Role::Operator)
    }
}

impl Need for Read {
    fn met(p: &Principal, _: &RawPathParams) -> bool {
        matches!(p.role, Role::Admin | Role::Operator | Role::Auditor)
    }
}

impl Need for ReadAccount {
    fn met(p: &Principal, path: &RawPathParams) -> bool {
        let named = path_param(path, "name");
        Read::met(p, path) || (p.role == Role::Merchant && p.account.as_deref() == named)
    }
}

impl Need for Submit {
    fn met(p: &Principal, _: &RawPathParams) -> bool {
        p.role != Role::Auditor
    }

    fn refusal(_: &Principal) -> ApiError {
        ApiError::forbidden("an auditor key is read-only")
    }
}

fn path_param<'a>(path: &'a RawPathParams, name: &str) -> Option<&'a str> {
    path.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// The economy of the path's `{eco}`, for a caller who reaches it and meets `N`; with the
/// app, and the path's other parameters.
pub struct Eco<N: Need> {
    pub app: Arc<App>,
    pub economy: Arc<Economy>,
    pub caller: Principal,
    params: RawPathParams,
    need: PhantomData<N>,
}

impl<N: Need> Eco<N> {
    /// The path parameter `name` (`{order}`, `{name}`, …), as the router matched it.
    pub fn path(&self, name: &str) -> &str {
        path_param(&self.params, name).unwrap_or("")
    }
}

impl<N: Need> FromRequestParts<Arc<App>> for Eco<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let Caller(caller) =
            <Caller as FromRequestParts<Arc<App>>>::from_request_parts(parts, app).await?;
        let path = RawPathParams::from_request_parts(parts, app)
            .await
            .map_err(|e| ApiError::bad_request("bad_request", e.body_text()))?;
        let id = path_param(&path, "eco").unwrap_or("");
        let economy = Some(id)
            .filter(|id| caller.reaches(id))
            .and_then(|id| app.economies.get(id))
            .ok_or_else(ApiError::no_economy)?;
        if !N::met(&caller, &path) {
            return Err(N::refusal(&caller));
        }
        Ok(Eco {
            app: app.clone(),
            economy,
            caller,
            params: path,
            need: PhantomData,
        })
    }
}

impl Principal {
    /// 403 unless this is an admin key.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "a {} key may not do this",
                self.role.as_str()
            )))
        }
    }
}

/// The caller of an endpoint only an admin key may use: 403 for any other key.
pub struct AdminCaller(pub Principal);

impl FromRequestParts<Arc<App>> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let Caller(p) =
            <Caller as FromRequestParts<Arc<App>>>::from_request_parts(parts, app).await?;
        p.require_admin()?;
        Ok(AdminCaller(p))
    }
}

/// The holder of the wallet link the request carries (`X-Wallet-Token`): 401 without a valid,
/// current one.
pub struct Wallet(pub crate::wallet_links::Holder);

impl FromRequestParts<Arc<App>> for Wallet {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        app.links.check(&parts.headers).map(Wallet)
    }
}
