//! Collectibles for people (SPEC §13, issue 7): content by its hash, the public certificate
//! page and its data.
//!
//! `PUT /v1/economies/{eco}/content` (operator, admin) takes one image or PDF of up to 10 MiB
//! and answers with its hash. `GET /v1/content/{sha256}` serves it to anyone, and only after
//! the stored bytes have been hashed again and found equal to their name. `/c/{economy}/
//! {collectible}` is public: anyone holding a piece, or buying one, can check its certificate:
//! its series, its owner masked, its history, and its content's hash, recomputed in the browser.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::activity::{Named, Page};
use crate::auth::{Eco, Manage, Read};
use crate::bounds::CONTENT_BYTES_MAX;
use crate::error::{ApiError, ApiResult};
use crate::http::{json_ok, json_with};
use crate::keys::sha256_hex;
use crate::state::App;
use crate::views::{self, mask};

/// How many history entries the certificate page lists.
const HISTORY_SHOWN: usize = 100;

pub fn router() -> OpenApiRouter<Arc<App>> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(put_content))
        .layer(DefaultBodyLimit::max(CONTENT_BYTES_MAX));
    OpenApiRouter::new()
        .merge(uploads)
        .routes(routes!(get_content))
        .routes(routes!(public_collectible))
        .routes(routes!(list_collectibles))
        .route("/c/{economy}/{collectible}", axum::routing::get(page))
}

/// The public certificate page; it reads its economy and collectible from its own path.
async fn page() -> Response {
    crate::pages::self_contained(crate::pages::CERTIFICATE)
}

#[utoipa::path(put, path = "/v1/economies/{eco}/content", tag = "collectibles",
    request_body(description = "an image (PNG, JPEG, WebP, GIF) or a PDF, up to 10 MiB, with its Content-Type",
        content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/webp"), (Vec<u8> = "image/gif"), (Vec<u8> = "application/pdf"))),
    responses((status = 201, description = "stored: its SHA-256 and where it is served", body = Object)))]
async fn put_content(eco: Eco<Manage>, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    if body.is_empty() {
        return Err(ApiError::invalid("the body is empty"));
    }
    let kind = crate::content::checked_type(&headers, &body)?;
    let sha = sha256_hex(&body);
    let len = body.len();
    let stored = sha.clone();
    eco.app
        .store
        .run(move |s| s.put_content(&stored, kind, &body))
        .await?;
    Ok(json_with(
        StatusCode::CREATED,
        json!({
            "sha256": sha,
            "bytes": len,
            "content_type": kind,
            "url": format!("/v1/content/{sha}"),
        }),
    ))
}

#[utoipa::path(get, path = "/v1/content/{sha256}", tag = "collectibles", security(()),
    responses((status = 200, description = "the stored bytes, which hash to the name (no key needed)",
        content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/webp"), (Vec<u8> = "image/gif"), (Vec<u8> = "application/pdf")))))]
async fn get_content(State(app): State<Arc<App>>, Path(sha): Path<String>) -> ApiResult<Response> {
    if jifen_core::parse_sha256_hex(&sha).is_none() {
        return Err(ApiError::not_found("no such content"));
    }
    let wanted = sha.clone();
    let (kind, bytes) = app
        .store
        .run(move |s| s.content(&wanted))
        .await?
        .ok_or_else(|| ApiError::not_found("no such content"))?;
    if sha256_hex(&bytes) != sha {
        // Never serve bytes under a name they do not have.
        tracing::error!(%sha, "stored content does not match its hash");
        return Err(ApiError::internal("stored content does not match its hash"));
    }
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&kind).map_err(ApiError::internal)?,
    );
    let fixed = [
        (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ),
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{sha}\"")).map_err(ApiError::internal)?,
    );
    Ok(response)
}

#[derive(Deserialize)]
struct CollectiblePath {
    economy: String,
    collectible: String,
}

/// An entry of a collectible's public history: owners masked, venues shown.
fn public_event(e: &jifen_journal::Entry) -> Value {
    let command: Value = serde_json::from_str(&e.command).unwrap_or(Value::Null);
    let mut event = json!({
        "seq": e.seq,
        "time": jifen_journal::time::rfc3339_ms(e.ts_ms),
        "type": command["type"],
    });
    for key in ["account", "to"] {
        if let Some(who) = command[key].as_str() {
            event["owner_masked"] = json!(mask(who));
        }
    }
    if let Some(venue) = command["venue"].as_str() {
        event["venue"] = json!(venue);
    }
    event
}

#[utoipa::path(get, path = "/v1/public/{economy}/collectibles/{collectible}", tag = "collectibles", security(()),
    responses((status = 200, description = "a collectible's public record: series, masked owner, state, content hash and history (no key needed)", body = Object)))]
async fn public_collectible(
    State(app): State<Arc<App>>,
    Path(p): Path<CollectiblePath>,
) -> ApiResult<Response> {
    let missing = || ApiError::not_found("no such collectible");
    let economy = app.economies.get(&p.economy).ok_or_else(missing)?;
    let wanted = p.collectible.clone();
    let mut body = economy
        .read(move |v| {
            let e = v.ledger.economy();
            e.collectibles().find(&wanted).map(|c| {
                let mut out = views::collectible(e, c, e.policy());
                out["owner_masked"] = json!(mask(&e.accounts().get(c.owner).name));
                out
            })
        })
        .await?
        .ok_or_else(missing)?;
    let page = Page {
        before: None,
        limit: HISTORY_SHOWN,
    };
    let named = Named::Collectible(p.collectible);
    let (entries, _) = (app.activity)
        .entries(&app.store, economy.meta.id.clone(), named, page)
        .await?;
    let history: Vec<Value> = entries
        .iter()
        .filter(|e| e.outcome == "ok")
        .map(public_event)
        .collect();
    body["economy"] = json!(economy.meta.id);
    body["economy_name"] = json!(economy.meta.name);
    body["timezone"] = json!(economy.meta.timezone);
    body["history"] = Value::Array(history);
    Ok(json_ok(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Only collectibles after this position (the previous page's `next_after`).
    after: Option<usize>,
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/collectibles", tag = "collectibles",
    params(("after" = Option<usize>, Query, description = "the previous page's next_after"),
           ("limit" = Option<usize>, Query, description = "1 to 1000; default 100")),
    responses((status = 200, description = "the economy's collectibles in the order they were made, each with its owner, and next_after when there are more", body = Object)))]
async fn list_collectibles(
    eco: Eco<Read>,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
) -> ApiResult<Response> {
    let limit = crate::http::limit_within(q.limit, 100, crate::bounds::PAGE_LIMIT_MAX)?;
    let after = q.after.unwrap_or(0);
    let (rows, next) = eco
        .economy
        .read(move |v| {
            let e = v.ledger.economy();
            let rows: Vec<Value> = e
                .collectibles()
                .iter()
                .skip(after)
                .take(limit)
                .map(|c| {
                    let mut out = views::collectible(e, c, e.policy());
                    out["owner"] = json!(e.accounts().get(c.owner).name.as_str());
                    out
                })
                .collect();
            let next = (after + rows.len() < e.collectibles().len()).then_some(after + rows.len());
            (rows, next)
        })
        .await?;
    Ok(json_ok(json!({"collectibles": rows, "next_after": next})))
}
