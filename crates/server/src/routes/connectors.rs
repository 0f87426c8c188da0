//! Shop connectors: made (the URL to paste and, for `generic`, the secret, shown once), listed,
//! disabled; deliveries taken as the platform sends them; the inbox, its retries, and links
//! between a buyer's identities.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use jifen_connect::{Identity, Kind};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Eco, Manage, Read};
use crate::connectors::{
    self, Config, Connector, Record, Status, DELIVERY_BYTES_MAX, SECRET_BYTES_MAX,
};
use crate::error::{ApiError, ApiResult};
use crate::http::{json_ok, json_with, limit_within, JsonBody};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(create_connector, list_connectors))
        .routes(routes!(disable_connector))
        .routes(routes!(post_events))
        .routes(routes!(get_inbox))
        .routes(routes!(retry_delivery))
        .routes(routes!(link_identity))
}

/// A new connector.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateConnector {
    /// 1 to 32 of a-z, 0-9 and '-'.
    id: String,
    /// shopify, woocommerce, youzan, weimob or generic.
    kind: String,
    /// The merchant account the shop's orders are paid to.
    merchant: String,
    /// shopify and woocommerce: the signing secret the platform shows.
    secret: Option<String>,
    /// youzan and weimob: the app's client_id and client_secret.
    client_id: Option<String>,
    client_secret: Option<String>,
    /// Leave completions to the economy's auto-confirm window (default false: a completion
    /// confirms the order).
    auto_confirm: Option<bool>,
    /// Referrers the platform names become one-level referrers (default false).
    referrals: Option<bool>,
    /// The programme's currency (default CNY); deliveries in another are refused.
    currency: Option<String>,
}

fn setting(v: Option<String>, name: &str, kind: Kind) -> ApiResult<String> {
    let v = v.unwrap_or_default();
    if v.is_empty() || v.len() > SECRET_BYTES_MAX {
        return Err(ApiError::invalid(format!(
            "a {} connector needs {name} (1 to {SECRET_BYTES_MAX} bytes), as the platform shows it",
            kind.as_str()
        )));
    }
    Ok(v)
}

/// The connector's configuration from the request, and the secret jifen made, if it made one.
fn config_of(req: CreateConnector, now_ms: i64) -> ApiResult<(Config, Option<String>)> {
    connectors::check_id(&req.id)?;
    let kind = Kind::parse(&req.kind).ok_or_else(|| {
        ApiError::invalid(format!(
            "kind {:?} is not one of shopify, woocommerce, youzan, weimob, generic",
            req.kind
        ))
    })?;
    let (mut secret, mut client_id, mut client_secret, mut made) = Default::default();
    match kind {
        Kind::Youzan | Kind::Weimob => {
            client_id = setting(req.client_id, "client_id", kind)?;
            client_secret = setting(req.client_secret, "client_secret", kind)?;
        }
        Kind::Generic => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(ApiError::internal)?;
            let s = format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(key)
            );
            (secret, made) = (s.clone(), Some(s));
        }
        Kind::Shopify | Kind::WooCommerce => secret = setting(req.secret, "secret", kind)?,
    }
    let config = Config {
        id: req.id,
        kind: kind.as_str().into(),
        merchant: req.merchant,
        secret,
        client_id,
        client_secret,
        currency: req.currency.unwrap_or_else(|| "CNY".into()),
        auto_confirm: req.auto_confirm.unwrap_or(false),
        referrals: req.referrals.unwrap_or(false),
        created_ms: now_ms,
        disabled_ms: None,
    };
    Ok((config, made))
}

/// Where the platform posts: this server's address as the request reached it.
fn delivery_url(headers: &HeaderMap, eco: &str, id: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes() == b"https");
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{host}/v1/economies/{eco}/connectors/{id}/events")
}

fn view(c: &Config, headers: &HeaderMap, eco: &str) -> Value {
    json!({
        "id": c.id,
        "kind": c.kind,
        "merchant": c.merchant,
        "url": delivery_url(headers, eco, &c.id),
        "client_id": (!c.client_id.is_empty()).then_some(&c.client_id),
        "currency": c.currency,
        "auto_confirm": c.auto_confirm,
        "referrals": c.referrals,
        "created_at": jifen_journal::time::rfc3339_ms(c.created_ms),
        "disabled_at": c.disabled_ms.map(jifen_journal::time::rfc3339_ms),
    })
}

#[utoipa::path(post, path = "/v1/economies/{eco}/connectors", tag = "connectors",
    request_body = CreateConnector,
    responses((status = 201, description = "the connector, with the URL to paste into the shop and, for generic, its secret, shown this once", body = Object)))]
async fn create_connector(
    eco: Eco<Manage>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<CreateConnector>,
) -> ApiResult<Response> {
    let (config, made) = config_of(req, eco.app.now_ms())?;
    let merchant = config.merchant.clone();
    let is_merchant = eco
        .economy
        .read(move |v| {
            let e = v.ledger.economy();
            e.account(&merchant).is_some_and(|a| !a.is_consumer())
        })
        .await?;
    if !is_merchant {
        return Err(ApiError::invalid(format!(
            "{:?} is not a merchant of this economy: register it first",
            config.merchant
        )));
    }
    let shop = eco.app.connectors.shop(&eco.economy).await?;
    eco.app.connectors.create(&shop, config.clone()).await?;
    let mut v = view(&config, &headers, eco.economy.id());
    if let Some(secret) = made {
        v["secret"] = Value::String(secret);
    }
    Ok(json_with(StatusCode::CREATED, v))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/connectors", tag = "connectors",
    responses((status = 200, description = "the economy's connectors, without secrets", body = Object)))]
async fn list_connectors(eco: Eco<Read>, headers: HeaderMap) -> ApiResult<Response> {
    let shop = eco.app.connectors.shop(&eco.economy).await?;
    let list: Vec<Value> = shop
        .list()
        .iter()
        .map(|c| view(&c.config(), &headers, eco.economy.id()))
        .collect();
    Ok(json_ok(json!({ "connectors": list })))
}

async fn connector(
    eco: &Eco<impl crate::auth::Need>,
) -> ApiResult<(Arc<connectors::Shop>, Arc<Connector>)> {
    let shop = eco.app.connectors.shop(&eco.economy).await?;
    let c = shop
        .get(eco.path("id"))
        .ok_or_else(|| ApiError::not_found(format!("no connector {:?}", eco.path("id"))))?;
    Ok((shop, c))
}

#[utoipa::path(delete, path = "/v1/economies/{eco}/connectors/{id}", tag = "connectors",
    responses((status = 200, description = "disabled; its history is kept", body = Object)))]
async fn disable_connector(eco: Eco<Manage>, headers: HeaderMap) -> ApiResult<Response> {
    let (shop, c) = connector(&eco).await?;
    let mut config = c.config();
    if config.disabled_ms.is_none() {
        config.disabled_ms = Some(eco.app.now_ms());
        eco.app.connectors.save(&shop, config.clone()).await?;
    }
    Ok(json_ok(view(&config, &headers, eco.economy.id())))
}

/// Request headers as the connectors read them.
struct Headers<'a>(&'a HeaderMap);

impl jifen_connect::Headers for Headers<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.to_str().ok())
    }
}

#[utoipa::path(post, path = "/v1/economies/{eco}/connectors/{id}/events", tag = "connectors",
    security(()),
    request_body(content = Object, description = "the delivery exactly as the platform sends it"),
    responses(
        (status = 200, description = "taken: applied, held, ignored or refused (see the inbox); the body is what the platform expects", body = Object),
        (status = 401, description = "the platform's signature is missing or wrong; nothing was stored", body = crate::error::ErrorBody),
    ))]
async fn post_events(
    State(app): State<Arc<App>>,
    Path((eco, id)): Path<(String, String)>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    if body.len() > DELIVERY_BYTES_MAX {
        return Err(ApiError::body_too_large());
    }
    let economy = app.economies.get(&eco).ok_or_else(ApiError::no_economy)?;
    let shop = app.connectors.shop(&economy).await?;
    let c = shop
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("no connector {id:?}")))?;
    let answer = c
        .deliver(
            &shop,
            &economy,
            app.connectors.store(),
            &Headers(&headers),
            &body,
            app.now_ms(),
        )
        .await
        .map_err(|e| throttled(&app, &headers, &extensions, e))?;
    if let Some(r) = &answer.record {
        app.metrics.connector_deliveries.inc_by(1);
        tracing::debug!(connector = %id, status = r.status.as_str(), key = %r.key, "delivery");
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], answer.body).into_response())
}

/// A failed signature counts against the sender's address (deliveries are otherwise not
/// limited by address): guessing a secret is throttled like guessing a key.
fn throttled(
    app: &App,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    e: ApiError,
) -> ApiError {
    let address = crate::limits::client_address(
        app.config.client_address_header.as_ref(),
        headers,
        extensions,
    );
    match (e.code, address) {
        ("bad_signature", Some(a)) => app.limits.address(a).err().unwrap_or(e),
        _ => e,
    }
}

#[derive(Deserialize)]
struct InboxQuery {
    status: Option<String>,
    limit: Option<usize>,
}

/// A record with the outcomes of its commands (their seqs), as the journal holds them.
async fn record_view(eco: &Eco<impl crate::auth::Need>, r: Record) -> ApiResult<Value> {
    let ids = r.commands.clone();
    let outcomes = eco
        .economy
        .read(move |v| {
            ids.iter()
                .map(|id| {
                    let found = v.ledger.lookup(id).map(|(_, o)| o);
                    json!({
                        "id": id,
                        "seq": found.as_ref().map(|o| o.seq),
                        "ok": found.as_ref().map(|o| o.result.is_ok()),
                        "code": found.and_then(|o| o.result.err()).map(|c| c.as_str()),
                    })
                })
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(json!({
        "delivery": r.key,
        "received_at": jifen_journal::time::rfc3339_ms(r.received_ms),
        "event": r.event,
        "order": r.order,
        "account": r.events.iter().find_map(|e| e.account.clone()),
        "status": r.status.as_str(),
        "reason": r.reason,
        "amount_needed": r.status == Status::Held && r.reason.contains("amount needed"),
        "commands": outcomes,
    }))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/connectors/{id}/inbox", tag = "connectors",
    params(("status" = Option<String>, Query, description = "applied, held, ignored or refused"), ("limit" = Option<usize>, Query, description = "1 to 5000, default 100")),
    responses((status = 200, description = "deliveries, newest first, with the commands they became", body = Object)))]
async fn get_inbox(eco: Eco<Read>, Query(q): Query<InboxQuery>) -> ApiResult<Response> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            ApiError::invalid(format!(
                "status {s:?} is not applied, held, ignored or refused"
            ))
        })?),
    };
    let limit = limit_within(q.limit, 100, 5000)?;
    let (_, c) = connector(&eco).await?;
    let (rows, counts) = c
        .inbox(&eco.economy, eco.app.connectors.store(), status, limit)
        .await?;
    let mut deliveries = Vec::with_capacity(rows.len());
    for r in rows {
        deliveries.push(record_view(&eco, r).await?);
    }
    Ok(json_ok(
        json!({ "deliveries": deliveries, "counts": counts }),
    ))
}

/// A retry, with the amount a held delivery needs.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct Retry {
    /// The order's amount in fen, for a delivery held because the platform sent none.
    amount_fen: Option<u64>,
}

#[utoipa::path(post, path = "/v1/economies/{eco}/connectors/{id}/inbox/{delivery}/retry", tag = "connectors",
    request_body = Retry,
    responses((status = 200, description = "the delivery, processed again", body = Object)))]
async fn retry_delivery(eco: Eco<Manage>, body: Bytes) -> ApiResult<Response> {
    let retry: Retry = if body.is_empty() {
        Retry::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("the body is not a retry: {e}")))?
    };
    if retry
        .amount_fen
        .is_some_and(|f| f == 0 || f > jifen_connect::amount::FEN_MAX)
    {
        return Err(ApiError::invalid("amount_fen must be 1 fen or more"));
    }
    let (_, c) = connector(&eco).await?;
    let record = c
        .retry(
            &eco.economy,
            eco.app.connectors.store(),
            eco.path("delivery"),
            retry.amount_fen,
        )
        .await?;
    Ok(json_ok(record_view(&eco, record).await?))
}

/// A buyer's identity on a platform, linked to an account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Link {
    /// What the id is: phone, shopify-customer, woocommerce-customer, youzan-open-id,
    /// weimob-wid or generic.
    scheme: String,
    /// The id on the platform (a phone number is stored only as a keyed hash).
    id: String,
    /// The existing account its orders earn for from now on.
    account: String,
}

use crate::connectors::SCHEMES;

#[utoipa::path(post, path = "/v1/economies/{eco}/identities", tag = "connectors",
    request_body = Link,
    responses((status = 200, description = "linked: later orders of this identity earn for the account", body = Object)))]
async fn link_identity(eco: Eco<Manage>, JsonBody(req): JsonBody<Link>) -> ApiResult<Response> {
    let scheme = SCHEMES
        .into_iter()
        .find(|s| *s == req.scheme)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "scheme {:?} is not one of {}",
                req.scheme,
                SCHEMES.join(", ")
            ))
        })?;
    let identity = match scheme {
        "phone" => Identity::phone(&req.id),
        _ => (!req.id.is_empty() && req.id.len() <= 128).then(|| Identity::new(scheme, req.id)),
    }
    .ok_or_else(|| ApiError::invalid("id must be 1 to 128 bytes (a phone number needs digits)"))?;
    let account = req.account.clone();
    let known = eco
        .economy
        .read(move |v| {
            v.ledger
                .economy()
                .account(&account)
                .is_some_and(|a| a.is_consumer())
        })
        .await?;
    if !known {
        return Err(ApiError::invalid(format!(
            "{:?} is not a consumer of this economy",
            req.account
        )));
    }
    let shop = eco.app.connectors.shop(&eco.economy).await?;
    let hash = eco
        .app
        .connectors
        .link(&shop, &identity, &req.account)
        .await?;
    Ok(json_ok(
        json!({ "identity": &hash[..16], "account": req.account }),
    ))
}
