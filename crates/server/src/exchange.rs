//! The exchange link (SPEC §13, issue 7): venues, the outbox that announces exports to them,
//! and what an `exchange` key may do.
//!
//! **Venues** are configured per economy: a name, a URL and a shared secret
//! (`PUT /v1/economies/{eco}/venues/{venue}`); the secret is never shown again.
//!
//! **The outbox is the journal.** Each accepted `export_collectible` is an event for its venue.
//! A delivery worker reads the journal after each venue's cursor and POSTs each event, in
//! journal order, as JSON with `X-Jifen-Event-Id` and `X-Jifen-Signature: sha256=<hex>` (an
//! HMAC-SHA256 of the exact body under the venue's secret). Only a 2xx moves the cursor, and the
//! cursor is stored after each delivery, so delivery is at least once and survives restarts; a
//! crash between a delivery and its cursor write repeats that one event, which the venue
//! discards by its id. Failures retry with exponential backoff (0.5 s doubling to 60 s).
//! `GET /v1/economies/{eco}/outbox` shows each venue's progress and any event waiting.
//!
//! **An `exchange` key** belongs to one venue and may only submit `return_collectible` for
//! collectibles currently exported to that venue.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use jifen_core::CollectibleState;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::{App, Economy};
use crate::auth::{allow, Auth, Need};
use crate::error::{ApiError, ApiResult};
use crate::keys;
use crate::routes::{blocking, json_body, json_ok, read, AppState};

/// How often the worker looks for events.
const TICK: Duration = Duration::from_millis(200);
/// Journal entries read per look.
const SCAN_ENTRIES: usize = 2000;
const BACKOFF_FIRST_MS: u64 = 500;
const BACKOFF_MAX_MS: u64 = 60_000;
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
const SECRET_BYTES_MIN: usize = 16;

fn venues_scope(economy: &str) -> String {
    format!("venues/{economy}")
}

fn cursor_scope(economy: &str) -> String {
    format!("outbox/{economy}")
}

#[derive(Clone, serde::Serialize, Deserialize)]
struct Venue {
    url: String,
    secret: String,
    created_ms: i64,
}

fn venues(app: &App, economy: &str) -> ApiResult<Vec<(String, Venue)>> {
    let rows = app.with_store(|s| s.kv_list(&venues_scope(economy)))?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, v)| Some((name, serde_json::from_str(&v).ok()?)))
        .collect())
}

/// Whether `venue` is configured for `economy`.
pub fn venue_exists(app: &App, economy: &str, venue: &str) -> ApiResult<bool> {
    Ok(app
        .with_store(|s| s.kv_get(&venues_scope(economy), venue))?
        .is_some())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VenueRequest {
    url: String,
    secret: String,
}

#[utoipa::path(put, path = "/v1/economies/{eco}/venues/{venue}", tag = "collectibles",
    params(("eco" = String, Path), ("venue" = String, Path)),
    request_body(content = Object, description = r#"{"url": "https://…", "secret": "at least 16 bytes"}"#),
    responses((status = 200, description = "the venue, without its secret", body = Object)))]
pub async fn put_venue(
    State(app): AppState,
    Auth(p): Auth,
    Path((eco, venue)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Manage)?;
    if !jifen_core::is_valid_name(&venue) {
        return Err(ApiError::invalid(
            "a venue name is 1 to 64 plain characters",
        ));
    }
    let req: VenueRequest = serde_json::from_value(json_body(&headers, &body)?)
        .map_err(|e| ApiError::invalid(format!("invalid body: {e}")))?;
    let allow_private = app.config.allow_private_targets;
    let url = req.url.clone();
    blocking(&app, move |_| {
        crate::outgoing::check_url(&url, allow_private)
            .map_err(|why| ApiError::invalid(format!("url: {why}")))
    })
    .await?;
    if req.secret.len() < SECRET_BYTES_MIN || req.secret.len() > 256 {
        return Err(ApiError::invalid(format!(
            "the secret must be {SECRET_BYTES_MIN} to 256 bytes"
        )));
    }
    let record = Venue {
        url: req.url.clone(),
        secret: req.secret,
        created_ms: app.now_ms(),
    };
    let text = serde_json::to_string(&record).map_err(ApiError::internal)?;
    let id = economy.meta.id.clone();
    let name = venue.clone();
    blocking(&app, move |app| {
        Ok(app.with_store(|s| s.kv_put(&venues_scope(&id), &name, &text))?)
    })
    .await?;
    Ok(json_ok(json!({"venue": venue, "url": req.url})))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/venues", tag = "collectibles",
    params(("eco" = String, Path)),
    responses((status = 200, description = "the economy's venues, without secrets", body = Object)))]
pub async fn list_venues(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Manage)?;
    let id = economy.meta.id.clone();
    let list = blocking(&app, move |app| venues(app, &id)).await?;
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

// ----- the exchange key -----

/// Refuses a batch from an exchange key unless every command is a `return_collectible` of a
/// collectible exported to the key's venue now.
pub async fn check_exchange_batch(economy: &Economy, venue: &str, raws: &[&str]) -> ApiResult<()> {
    let mut names = Vec::with_capacity(raws.len());
    for (i, raw) in raws.iter().enumerate() {
        let c: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
        match (c["type"].as_str(), c["collectible"].as_str()) {
            (Some("return_collectible"), Some(name)) => names.push(name.to_string()),
            _ => {
                return Err(ApiError::forbidden(format!(
                    "command {i}: an exchange key may only return_collectible"
                )))
            }
        }
    }
    let venue_owned = venue.to_string();
    let bad = read(economy, move |v| {
        let e = v.ledger.economy();
        names.iter().position(|n| {
            e.collectibles().find(n).is_none_or(|c| {
                c.state != CollectibleState::Exported
                    || c.venue.as_deref() != Some(venue_owned.as_str())
            })
        })
    })
    .await?;
    match bad {
        Some(i) => Err(ApiError::forbidden(format!(
            "command {i}: that collectible is not exported to venue {venue:?}"
        ))),
        None => Ok(()),
    }
}

// ----- the outbox -----

/// One venue's delivery progress, in memory (the cursor itself is stored).
#[derive(Clone, Default)]
struct Progress {
    /// Every event up to this seq is delivered (or was not for this venue).
    through: u64,
    delivered: u64,
    /// The event waiting: seq, collectible, attempts so far, last error, when to try next.
    waiting: Option<(u64, String, u32, String, Instant)>,
    loaded: bool,
}

#[derive(Default)]
pub struct Outbox {
    progress: Mutex<HashMap<(String, String), Progress>>,
}

/// The delivery worker: runs until `stop` receives or closes.
pub fn run(app: Arc<App>, stop: Receiver<()>) {
    loop {
        for economy in app.economies() {
            if let Err(e) = deliver_economy(&app, &economy) {
                tracing::warn!(economy = %economy.meta.id, "outbox: {e:?}");
            }
        }
        match stop.recv_timeout(TICK) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
    }
}

fn deliver_economy(app: &App, economy: &Arc<Economy>) -> ApiResult<()> {
    let id = &economy.meta.id;
    for (name, venue) in venues(app, id)? {
        deliver_venue(app, economy, &name, &venue)?;
    }
    Ok(())
}

fn backoff_ms(attempts: u32) -> u64 {
    (BACKOFF_FIRST_MS << attempts.min(16)).min(BACKOFF_MAX_MS)
}

fn deliver_venue(app: &App, economy: &Arc<Economy>, name: &str, venue: &Venue) -> ApiResult<()> {
    let id = &economy.meta.id;
    let key = (id.clone(), name.to_string());
    let mut p = app
        .outbox
        .progress
        .lock()
        .map_err(|_| ApiError::internal("outbox lock"))?
        .get(&key)
        .cloned()
        .unwrap_or_default();
    if !p.loaded {
        p.through = app
            .with_store(|s| s.kv_get(&cursor_scope(id), name))?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        p.loaded = true;
    }
    if let Some((_, _, _, _, next)) = &p.waiting {
        if Instant::now() < *next {
            return save(app, key, p);
        }
    }
    let entries = app.with_store(|s| s.entries(id, p.through, SCAN_ENTRIES))?;
    let mut moved = false;
    for e in entries {
        let command: Value = serde_json::from_str(&e.command).unwrap_or(Value::Null);
        let ours = e.outcome == "ok"
            && command["type"] == "export_collectible"
            && command["venue"].as_str() == Some(name);
        if ours {
            let collectible = command["collectible"].as_str().unwrap_or("").to_string();
            let body = event_body(economy, e.seq, e.ts_ms, &collectible, name)?;
            let event_id = format!("jifen:{id}:{}", e.seq);
            match post(app, venue, &event_id, &body) {
                Ok(()) => {
                    p.delivered += 1;
                    p.waiting = None;
                    tracing::info!(economy = %id, venue = name, seq = e.seq, "outbox: delivered");
                }
                Err(why) => {
                    let attempts = match &p.waiting {
                        Some((seq, _, n, _, _)) if *seq == e.seq => n + 1,
                        _ => 1,
                    };
                    let next = Instant::now() + Duration::from_millis(backoff_ms(attempts - 1));
                    tracing::warn!(economy = %id, venue = name, seq = e.seq, attempts, "outbox: delivery failed: {why}");
                    p.waiting = Some((e.seq, collectible, attempts, why, next));
                    break;
                }
            }
        }
        p.through = e.seq;
        moved = true;
        if ours {
            // Stored at once: a delivered event is repeated only by a crash right here.
            store_cursor(app, id, name, p.through)?;
            moved = false;
        }
    }
    if moved {
        store_cursor(app, id, name, p.through)?;
    }
    save(app, key, p)
}

fn store_cursor(app: &App, economy: &str, venue: &str, seq: u64) -> ApiResult<()> {
    Ok(app.with_store(|s| s.kv_put(&cursor_scope(economy), venue, &seq.to_string()))?)
}

fn save(app: &App, key: (String, String), p: Progress) -> ApiResult<()> {
    app.outbox
        .progress
        .lock()
        .map_err(|_| ApiError::internal("outbox lock"))?
        .insert(key, p);
    Ok(())
}

/// The event for the export at `seq`: what it is, when, and the collectible's fixed facts.
fn event_body(
    economy: &Economy,
    seq: u64,
    ts_ms: i64,
    collectible: &str,
    venue: &str,
) -> ApiResult<String> {
    let name = collectible.to_string();
    let facts = economy
        .journal
        .read(move |v| {
            let e = v.ledger.economy();
            e.collectibles().find(&name).map(|c| {
                json!({
                    "series": c.series.as_str(),
                    "content_sha256": c.content_hex(),
                    "atoms": c.atoms,
                    "owner": e.accounts().get(c.owner).name.as_str(),
                    "state_now": c.state.as_str(),
                })
            })
        })
        .map_err(ApiError::from)?;
    let body = json!({
        "event_id": format!("jifen:{}:{seq}", economy.meta.id),
        "type": "collectible_exported",
        "economy": economy.meta.id,
        "seq": seq,
        "time": jifen_journal::time::rfc3339_ms(ts_ms),
        "venue": venue,
        "collectible": collectible,
        "facts": facts,
    });
    Ok(body.to_string())
}

/// The signature header's value for `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC keys longer than a block are hashed first (RFC 2104); ours are at most 256 bytes,
    // so fold every secret to 32 bytes the same way for one code path.
    let key: [u8; 32] = {
        use sha2::{Digest, Sha256};
        Sha256::digest(secret.as_bytes()).into()
    };
    format!("sha256={}", hex::encode(keys::hmac(&key, body)))
}

fn post(app: &App, venue: &Venue, event_id: &str, body: &str) -> Result<(), String> {
    // Checked again at every delivery: the host's addresses may have changed since.
    let agent = crate::outgoing::agent(DELIVERY_TIMEOUT, app.config.allow_private_targets);
    let answer = agent
        .post(&venue.url)
        .set("Content-Type", "application/json")
        .set("X-Jifen-Event-Id", event_id)
        .set(
            "X-Jifen-Signature",
            &signature(&venue.secret, body.as_bytes()),
        )
        .send_string(body);
    match answer {
        Ok(r) if (200..300).contains(&r.status()) => Ok(()),
        Ok(r) => Err(format!("the venue answered {}", r.status())),
        Err(ureq::Error::Status(code, _)) => Err(format!("the venue answered {code}")),
        Err(e) => Err(e.to_string()),
    }
}

#[utoipa::path(get, path = "/v1/economies/{eco}/outbox", tag = "collectibles",
    params(("eco" = String, Path)),
    responses((status = 200, description = "delivery to each venue: how far, how many, and the event waiting with its attempts and last error", body = Object)))]
pub async fn outbox_status(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Manage)?;
    let id = economy.meta.id.clone();
    let names = blocking(&app, move |app| venues(app, &id)).await?;
    let progress = app
        .outbox
        .progress
        .lock()
        .map_err(|_| ApiError::internal("outbox lock"))?
        .clone();
    let now = Instant::now();
    let rows: Vec<Value> = names
        .iter()
        .map(|(name, v)| {
            let p = progress
                .get(&(economy.meta.id.clone(), name.clone()))
                .cloned()
                .unwrap_or_default();
            json!({
                "venue": name,
                "url": v.url,
                "delivered_through_seq": p.through,
                "delivered_since_start": p.delivered,
                "waiting": p.waiting.as_ref().map(|(seq, c, attempts, error, next)| json!({
                    "seq": seq,
                    "collectible": c,
                    "attempts": attempts,
                    "last_error": error,
                    "next_attempt_in_ms": next.saturating_duration_since(now).as_millis() as u64,
                })),
            })
        })
        .collect();
    Ok(json_ok(json!({ "venues": rows })))
}
