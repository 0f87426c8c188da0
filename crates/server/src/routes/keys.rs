//! An economy's API keys: made (shown once), listed without secrets, revoked.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Eco, Manage};
use crate::economies::Economy;
use crate::error::{ApiError, ApiResult};
use crate::http::{blocking, json_ok, JsonBody};
use crate::keys::{self, KeyRecord, Role};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(revoke_key))
}

/// Creating a key for an economy.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    /// operator, merchant, auditor or exchange (an admin key is not an economy's).
    role: Role,
    /// Required for, and only for, a merchant key: its merchant account.
    account: Option<String>,
    /// Required for, and only for, an exchange key: its venue (configured first).
    venue: Option<String>,
}

fn key_view(r: &KeyRecord) -> Value {
    json!({
        "id": r.id,
        "role": r.role,
        "economy": r.economy,
        "account": r.account,
        "created_at": jifen_journal::time::rfc3339_ms(r.created_ms),
        "revoked_at": r.revoked_ms.map(jifen_journal::time::rfc3339_ms),
    })
}

/// What a new key speaks for besides its role: the merchant's account, or the exchange key's
/// venue; 422 when the request does not fit the role.
async fn key_subject(
    app: &Arc<App>,
    economy: &Economy,
    req: CreateKey,
) -> ApiResult<Option<String>> {
    let invalid = |why: &str| Err(ApiError::invalid(why));
    match (req.role, req.account, req.venue) {
        (Role::Admin, _, _) => invalid("an economy key is operator, merchant or auditor"),
        (Role::Exchange, account, Some(venue)) => {
            let (store, id, name) = (app.store.clone(), economy.meta.id.clone(), venue.clone());
            let known = blocking(move || crate::venues::exists(&store, &id, &name)).await?;
            if !known || account.is_some() {
                return Err(ApiError::invalid(format!(
                    "{venue:?} is not a venue of this economy: configure it first (PUT …/venues/{{venue}})"
                )));
            }
            Ok(Some(venue))
        }
        (Role::Exchange, _, None) => invalid("an exchange key needs its venue"),
        (_, _, Some(_)) => invalid("only an exchange key has a venue"),
        (Role::Merchant, Some(account), None) => {
            let name = account.clone();
            let is_merchant = economy
                .read(move |v| {
                    let e = v.ledger.economy();
                    e.account(&name).is_some_and(|a| !a.is_consumer())
                })
                .await?;
            if !is_merchant {
                return Err(ApiError::invalid(format!(
                    "{account:?} is not a merchant of this economy"
                )));
            }
            Ok(Some(account))
        }
        (Role::Merchant, None, None) => invalid("a merchant key needs its account"),
        (_, Some(_), None) => invalid("only a merchant key has an account"),
        (_, None, None) => Ok(None),
    }
}

#[utoipa::path(post, path = "/v1/economies/{eco}/keys", tag = "keys",
    request_body = CreateKey,
    responses((status = 201, description = "the key, shown this once, and its record", body = Object)))]
async fn create_key(eco: Eco<Manage>, JsonBody(req): JsonBody<CreateKey>) -> ApiResult<Response> {
    let role = req.role;
    let subject = key_subject(&eco.app, &eco.economy, req).await?;
    let (key, record) = keys::generate(
        role,
        Some(eco.economy.meta.id.clone()),
        subject,
        eco.app.now_ms(),
    )
    .map_err(ApiError::internal)?;
    let mut view = key_view(&record);
    let ring = eco.app.keyring.clone();
    blocking(move || ring.put(record)).await?;
    view["key"] = Value::String(key);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[utoipa::path(get, path = "/v1/economies/{eco}/keys", tag = "keys",
    responses((status = 200, description = "the economy's keys, without secrets", body = Object)))]
async fn list_keys(eco: Eco<Manage>) -> ApiResult<Response> {
    let list: Vec<Value> = eco
        .app
        .keyring
        .of_economy(eco.economy.id())
        .iter()
        .map(key_view)
        .collect();
    Ok(json_ok(json!({ "keys": list })))
}

#[utoipa::path(delete, path = "/v1/economies/{eco}/keys/{id}", tag = "keys",
    responses((status = 200, description = "revoked", body = Object)))]
async fn revoke_key(eco: Eco<Manage>) -> ApiResult<Response> {
    let mut record = eco
        .app
        .keyring
        .get(eco.path("id"))
        .filter(|r| r.economy.as_deref() == Some(eco.economy.id()))
        .ok_or_else(|| ApiError::not_found("no such key"))?;
    if record.revoked_ms.is_none() {
        record.revoked_ms = Some(eco.app.now_ms());
        let (ring, r2) = (eco.app.keyring.clone(), record.clone());
        blocking(move || ring.put(r2)).await?;
    }
    Ok(json_ok(key_view(&record)))
}
