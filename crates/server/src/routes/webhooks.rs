//! Operator webhooks: subscriptions made (the signing secret shown once), listed with their
//! state and lag, changed, paused and resumed, removed, their secret rotated, their events
//! re-sent from any seq, and a test ping.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Eco, Manage};
use crate::error::{ApiError, ApiResult};
use crate::http::{blocking, json_ok, json_with, JsonBody};
use crate::state::App;
use crate::webhooks::engine::{self, Item, Settings};
use crate::webhooks::log::Position;
use crate::webhooks::model::{self, Secret, Subscription, SUBSCRIPTIONS_MAX};
use crate::webhooks::{subscription_json, Key, Kind};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(create_subscription, list_subscriptions))
        .routes(routes!(change_subscription, delete_subscription))
        .routes(routes!(rotate_secret))
        .routes(routes!(redeliver))
        .routes(routes!(ping))
}

/// A new subscription.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateSubscription {
    /// 1 to 64 letters, digits, '_', '.' or '-'.
    #[schema(example = "crm")]
    id: String,
    /// Where events are POSTed: `http://` or `https://`, at most 2,048 bytes, a public address
    /// unless the server allows private targets. Redirects are not followed.
    #[schema(example = "https://crm.example/jifen")]
    url: String,
    /// Event types (see the `WebhookEvent` schemas), or `["*"]` for all.
    #[schema(example = json!(["points.granted", "consumer.exited"]))]
    events: Vec<String>,
    /// Events per POST, 1 to 100 (default 1). With more than 1 the body is `{"events": [...]}`.
    batch: Option<usize>,
    /// Deliver from this seq on (default: from the next entry).
    from_seq: Option<u64>,
}

/// A change to a subscription: any of its fields, or a pause or resume.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChangeSubscription {
    url: Option<String>,
    events: Option<Vec<String>>,
    batch: Option<usize>,
    /// true pauses deliveries, false resumes them where they stopped.
    paused: Option<bool>,
}

/// Where to re-send from.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Redeliver {
    /// Every event of this seq and after is sent again, in order.
    from_seq: u64,
}

async fn check_url(app: &App, url: &str) -> ApiResult<()> {
    let allow_private = app.config.allow_private_targets;
    let url = url.to_string();
    blocking(move || {
        crate::outgoing::check_url(&url, allow_private)
            .map_err(|why| ApiError::invalid(format!("url: {why}")))
    })
    .await
}

fn key(eco: &Eco<Manage>, id: &str) -> Key {
    Key {
        economy: eco.economy.id().to_string(),
        kind: Kind::Subscription,
        name: id.to_string(),
    }
}

/// The subscription the path names.
async fn found(eco: &Eco<Manage>) -> ApiResult<Subscription> {
    let (store, id, sub) = (
        eco.app.store.clone(),
        eco.economy.id().to_string(),
        eco.path("id").to_string(),
    );
    blocking(move || model::get(&store, &id, &sub))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no webhook subscription {:?}", eco.path("id"))))
}

async fn save(eco: &Eco<Manage>, sub: Subscription) -> ApiResult<Subscription> {
    let (store, id) = (eco.app.store.clone(), eco.economy.id().to_string());
    let saved = sub.clone();
    blocking(move || model::put(&store, &id, &sub)).await?;
    eco.app.webhooks.poke();
    Ok(saved)
}

fn view(eco: &Eco<Manage>, sub: &Subscription) -> Value {
    let target = eco.app.webhooks.target(&key(eco, &sub.id));
    subscription_json(sub, target.as_deref(), jifen_journal::time::now_ms())
}

#[utoipa::path(post, path = "/v1/economies/{eco}/webhooks", tag = "webhooks",
    request_body = CreateSubscription,
    responses((status = 201, description = "the subscription, with its signing secret `secret` (whsec_…), shown this once", body = Object)))]
async fn create_subscription(
    eco: Eco<Manage>,
    JsonBody(req): JsonBody<CreateSubscription>,
) -> ApiResult<Response> {
    model::check_id(&req.id)?;
    model::check_events(&req.events)?;
    let batch = req.batch.unwrap_or(1);
    model::check_batch(batch)?;
    check_url(&eco.app, &req.url).await?;
    let (store, id) = (eco.app.store.clone(), eco.economy.id().to_string());
    let existing = blocking(move || model::list(&store, &id)).await?;
    if existing.iter().any(|s| s.id == req.id) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "duplicate_webhook",
            format!(
                "a subscription {:?} exists; change it with PATCH or remove it first",
                req.id
            ),
        ));
    }
    if existing.len() >= SUBSCRIPTIONS_MAX {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_webhooks",
            format!("an economy has at most {SUBSCRIPTIONS_MAX} webhook subscriptions"),
        ));
    }
    let secret = model::new_secret()?;
    let from = req
        .from_seq
        .unwrap_or(eco.economy.journal.committed_seq() + 1);
    let sub = Subscription {
        id: req.id,
        url: req.url,
        events: req.events,
        batch,
        secrets: vec![Secret {
            secret: secret.clone(),
            until_ms: None,
        }],
        paused: None,
        created_ms: jifen_journal::time::now_ms(),
    };
    let (store, id, sid) = (
        eco.app.store.clone(),
        eco.economy.id().to_string(),
        sub.id.clone(),
    );
    blocking(move || {
        model::put_cursor(
            &store,
            &id,
            &sid,
            Position {
                seq: from.max(1),
                n: 0,
            },
        )
    })
    .await?;
    let sub = save(&eco, sub).await?;
    let mut v = view(&eco, &sub);
    v["secret"] = json!(secret);
    Ok(json_with(StatusCode::CREATED, v))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/webhooks", tag = "webhooks",
    responses((status = 200, description = "each subscription with its state, cursor, lag, counts, last error and recent deliveries; never its secret", body = Object)))]
async fn list_subscriptions(eco: Eco<Manage>) -> ApiResult<Response> {
    let (store, id) = (eco.app.store.clone(), eco.economy.id().to_string());
    let subs = blocking(move || model::list(&store, &id)).await?;
    let rows: Vec<Value> = subs.iter().map(|s| view(&eco, s)).collect();
    Ok(json_ok(json!({
        "webhooks": rows,
        "event_types": crate::webhooks::events::EVENTS.iter().map(|e| e.kind).collect::<Vec<_>>(),
    })))
}

#[utoipa::path(patch, path = "/v1/economies/{eco}/webhooks/{id}", tag = "webhooks",
    request_body = ChangeSubscription,
    responses((status = 200, description = "the subscription as changed", body = Object)))]
async fn change_subscription(
    eco: Eco<Manage>,
    JsonBody(req): JsonBody<ChangeSubscription>,
) -> ApiResult<Response> {
    let mut sub = found(&eco).await?;
    if let Some(url) = req.url {
        check_url(&eco.app, &url).await?;
        sub.url = url;
    }
    if let Some(events) = req.events {
        model::check_events(&events)?;
        sub.events = events;
    }
    if let Some(batch) = req.batch {
        model::check_batch(batch)?;
        sub.batch = batch;
    }
    match req.paused {
        Some(true) if sub.paused.is_none() => sub.paused = Some("paused by the operator".into()),
        Some(false) => sub.paused = None,
        _ => {}
    }
    let sub = save(&eco, sub).await?;
    Ok(json_ok(view(&eco, &sub)))
}

#[utoipa::path(delete, path = "/v1/economies/{eco}/webhooks/{id}", tag = "webhooks",
    responses((status = 200, description = "removed, with its cursor", body = Object)))]
async fn delete_subscription(eco: Eco<Manage>) -> ApiResult<Response> {
    let sub = found(&eco).await?;
    let (store, id, sid) = (
        eco.app.store.clone(),
        eco.economy.id().to_string(),
        sub.id.clone(),
    );
    blocking(move || model::delete(&store, &id, &sid)).await?;
    eco.app.webhooks.poke();
    Ok(json_ok(json!({"id": sub.id, "deleted": true})))
}

#[utoipa::path(post, path = "/v1/economies/{eco}/webhooks/{id}/rotate", tag = "webhooks",
    responses((status = 200, description = "the new secret, shown this once; the old one signs too until `old_secret_valid_until`", body = Object)))]
async fn rotate_secret(eco: Eco<Manage>) -> ApiResult<Response> {
    let mut sub = found(&eco).await?;
    let now = jifen_journal::time::now_ms();
    let overlap = eco.app.webhooks.policy.secret_overlap.as_millis() as i64;
    let secret = model::new_secret()?;
    let mut old: Vec<Secret> = sub
        .secrets
        .into_iter()
        .filter(|s| s.until_ms.is_none_or(|u| u > now))
        .collect();
    for s in &mut old {
        let until = now + overlap;
        s.until_ms = Some(s.until_ms.map_or(until, |u| u.min(until)));
    }
    old.truncate(1);
    sub.secrets = std::iter::once(Secret {
        secret: secret.clone(),
        until_ms: None,
    })
    .chain(old)
    .collect();
    let sub = save(&eco, sub).await?;
    let mut v = view(&eco, &sub);
    v["secret"] = json!(secret);
    Ok(json_ok(v))
}

#[utoipa::path(post, path = "/v1/economies/{eco}/webhooks/{id}/redeliver", tag = "webhooks",
    request_body = Redeliver,
    responses((status = 200, description = "deliveries start again from that seq", body = Object)))]
async fn redeliver(eco: Eco<Manage>, JsonBody(req): JsonBody<Redeliver>) -> ApiResult<Response> {
    let sub = found(&eco).await?;
    let head = eco.economy.journal.committed_seq();
    if req.from_seq == 0 || req.from_seq > head + 1 {
        return Err(ApiError::invalid(format!(
            "from_seq: 1 to {} (the next entry)",
            head + 1
        )));
    }
    let (hooks, id, sid) = (
        eco.app.webhooks.clone(),
        eco.economy.id().to_string(),
        sub.id.clone(),
    );
    blocking(move || hooks.redeliver(&id, &sid, req.from_seq)).await?;
    Ok(json_ok(view(&eco, &sub)))
}

#[utoipa::path(post, path = "/v1/economies/{eco}/webhooks/{id}/ping", tag = "webhooks",
    responses((status = 200, description = "a `webhook.ping` event sent now, signed like any other, and the receiver's answer", body = Object)))]
async fn ping(eco: Eco<Manage>) -> ApiResult<Response> {
    let sub = found(&eco).await?;
    let mut settings: Settings = eco.app.webhooks.settings_of(&sub);
    settings.batch = 1;
    let now = jifen_journal::time::now_ms();
    let id = format!("jifen:{}:ping:{now}", eco.economy.id());
    let body = json!({
        "type": "webhook.ping", "id": id, "economy": eco.economy.id(),
        "seq": eco.economy.journal.committed_seq(),
        "time": jifen_journal::time::rfc3339_ms(now),
        "data": {"subscription": sub.id},
    });
    let item = Item {
        id,
        at: Position::default(),
        ts_ms: now,
        body: body.to_string(),
        label: "webhook.ping".into(),
    };
    let attempt = blocking(move || {
        let agent = crate::outgoing::agent(engine::DELIVERY_TIMEOUT, settings.allow_private);
        Ok(engine::post(&agent, &settings, &[item]))
    })
    .await?;
    let ok = attempt.status.is_some_and(|c| (200..300).contains(&c));
    Ok(json_ok(json!({
        "delivered": ok, "status": attempt.status, "answer": attempt.answer, "took_ms": attempt.took_ms,
    })))
}
