//! The exchange link (SPEC §13, issue 7): an economy's venues, and the outbox that announces
//! exports to them (see `webhooks`, whose engine delivers them).

use std::sync::Arc;

use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Eco, Manage};
use crate::error::{ApiError, ApiResult};
use crate::http::{blocking, json_ok, JsonBody};
use crate::state::App;
use crate::venues::{self, Venue};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(put_venue))
        .routes(routes!(list_venues))
        .routes(routes!(outbox_status))
}

/// A venue's address and shared secret.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct VenueRequest {
    /// Where exports are announced: `http://` or `https://`, a public address unless the
    /// server allows private targets.
    #[schema(example = "https://venue.example/jifen/events")]
    url: String,
    /// 16 to 256 bytes; signs each announcement by the Standard Webhooks scheme. Written
    /// `whsec_<base64>`, the key is the bytes that base64 holds.
    #[schema(min_length = 16, max_length = 256)]
    secret: String,
}

#[utoipa::path(put, path = "/v1/economies/{eco}/venues/{venue}", tag = "collectibles",
    request_body = VenueRequest,
    responses((status = 200, description = "the venue, without its secret", body = Object)))]
async fn put_venue(eco: Eco<Manage>, JsonBody(req): JsonBody<VenueRequest>) -> ApiResult<Response> {
    if !jifen_core::is_valid_name(eco.path("venue")) {
        return Err(ApiError::invalid(
            "a venue name is 1 to 64 plain characters",
        ));
    }
    let allow_private = eco.app.config.allow_private_targets;
    let url = req.url.clone();
    blocking(move || {
        crate::outgoing::check_url(&url, allow_private)
            .map_err(|why| ApiError::invalid(format!("url: {why}")))
    })
    .await?;
    venues::check_secret(&req.secret).map_err(ApiError::invalid)?;
    let record = Venue {
        url: req.url.clone(),
        secret: req.secret,
        created_ms: eco.app.now_ms(),
    };
    let (id, name) = (eco.economy.meta.id.clone(), eco.path("venue").to_string());
    let store = eco.app.store.clone();
    blocking(move || venues::put(&store, &id, &name, &record)).await?;
    eco.app.webhooks.poke();
    Ok(json_ok(json!({"venue": eco.path("venue"), "url": req.url})))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/venues", tag = "collectibles",
    responses((status = 200, description = "the economy's venues, without secrets", body = Object)))]
async fn list_venues(eco: Eco<Manage>) -> ApiResult<Response> {
    let id = eco.economy.meta.id.clone();
    let list = blocking(move || venues::list(&eco.app.store, &id)).await?;
    let rows: Vec<Value> = list
        .iter()
        .map(|(name, v)| {
            json!({
                "venue": name,
                "url": v.url,
                "created_at": jifen_journal::time::rfc3339_ms(v.created_ms),
            })
        })
        .collect();
    Ok(json_ok(json!({ "venues": rows })))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/outbox", tag = "collectibles",
    responses((status = 200, description = "delivery to each venue: how far, how many, and the event waiting with its attempts and last error", body = Object)))]
async fn outbox_status(eco: Eco<Manage>) -> ApiResult<Response> {
    let id = eco.economy.meta.id.clone();
    let store = eco.app.store.clone();
    let list = blocking(move || venues::list(&store, &id)).await?;
    let rows: Vec<Value> = list
        .iter()
        .map(|(name, v)| {
            let key = crate::webhooks::Key {
                economy: eco.economy.id().to_string(),
                kind: crate::webhooks::Kind::Venue,
                name: name.clone(),
            };
            let target = eco.app.webhooks.target(&key);
            crate::webhooks::venue_json(name, &v.url, target.as_deref())
        })
        .collect();
    Ok(json_ok(json!({ "venues": rows })))
}
