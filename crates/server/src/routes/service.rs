//! Service endpoints: health, metrics, the OpenAPI document, and JSON 404 and 405.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::keys::Role;
use crate::metrics::{EconomySeries, Now, WebhookSeries};
use crate::state::App;

/// The served OpenAPI document, as JSON text made once, by the first router built (every
/// router's document is the same). A static rather than a layer: a layer on the router wraps
/// every route and costs every request.
pub static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(openapi))
}

#[utoipa::path(get, path = "/healthz", tag = "service", security(()),
    responses((status = 200, description = "serving", body = Object), (status = 503, description = "the last thorough check of the store found damage; the answer lists it", body = Object)))]
async fn healthz(State(app): State<Arc<App>>) -> Response {
    let problems = app.store_health.problems();
    let body = json!({
        "status": if problems.is_empty() { "ok" } else { "damaged" },
        "economies": app.economies.len(),
        "uptime_s": app.started.elapsed().as_secs(),
        "store_problems": problems,
        "store_check": app.store_health.last().map(|r| json!({"method": r.method, "checked": r.checked, "ok": r.ok()})),
    });
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// How long a writer may take to say it takes writes before it counts as not ready.
const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

#[utoipa::path(get, path = "/readyz", tag = "service", security(()),
    responses((status = 200, description = "every economy of the store is open (here or, with several nodes, on its owner) and every writer here takes writes", body = Object),
              (status = 503, description = "not ready: the answer says which economy and why", body = Object)))]
async fn readyz(State(app): State<Arc<App>>) -> Response {
    let mut problems = Vec::new();
    let open: Vec<_> = app.economies.all();
    if app.owners.is_none() {
        match app.store.run(|s| s.economies()).await {
            Ok(stored) => problems.extend(
                stored
                    .iter()
                    .filter(|m| !open.iter().any(|e| e.id() == m.id))
                    .map(|m| format!("{}: not open", m.id)),
            ),
            Err(e) => problems.push(format!("the store: {e}")),
        }
    }
    for e in &open {
        let economy = e.clone();
        let health = tokio::task::spawn_blocking(move || economy.journal.health());
        match tokio::time::timeout(READY_WAIT, health).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(why))) => problems.push(format!("{}: {why}", e.id())),
            Ok(Err(join)) => problems.push(format!("{}: {join}", e.id())),
            Err(_) => problems.push(format!(
                "{}: the writer did not answer within {} s",
                e.id(),
                READY_WAIT.as_secs()
            )),
        }
    }
    problems.extend(app.store_health.problems());
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if problems.is_empty() { "ready" } else { "not_ready" },
        "economies_open": open.len(),
        "writer_queue": open.iter().map(|e| (e.id().to_string(), e.journal.queued())).collect::<std::collections::BTreeMap<_, _>>(),
        "problems": problems,
    });
    (status, Json(body)).into_response()
}

/// Which economies' series a `/metrics` answer holds.
enum Scope {
    /// None: the process-wide series only (no key given).
    Process,
    /// One economy's (an operator's or auditor's key).
    Economy(String),
    /// Every economy's (an admin key, or the separate `--metrics-listen` address).
    All,
}

#[utoipa::path(get, path = "/metrics", tag = "service", security((), ("key" = [])),
    responses((status = 200, description = "OpenMetrics text. Without a key, the process-wide series only; with an operator or auditor key, also its economy's; with an admin key, every economy's. `--metrics-listen` serves everything on a separate address, for a private network.", content_type = "application/openmetrics-text", body = String)))]
async fn metrics(State(app): State<Arc<App>>, caller: Option<Caller>) -> Response {
    let scope = match caller {
        None => Scope::Process,
        Some(Caller(p)) if p.is_admin() => Scope::All,
        Some(Caller(p)) => match (p.role, p.economy) {
            (Role::Operator | Role::Auditor, Some(e)) => Scope::Economy(e),
            _ => Scope::Process,
        },
    };
    metrics_text(&app, scope).await
}

/// The metrics of `scope`: the committed heads are read without a trip to any writer.
async fn metrics_text(app: &App, scope: Scope) -> Response {
    let shown = |id: &str| match &scope {
        Scope::Process => false,
        Scope::Economy(e) => e == id,
        Scope::All => true,
    };
    let mut series = Vec::new();
    for e in app.economies.all().into_iter().filter(|e| shown(e.id())) {
        let mut s = e.read(gauges).await.unwrap_or_default();
        s.economy = e.id().to_string();
        s.head_seq = e.journal.committed_seq();
        s.writer_queue = e.journal.queued() as u64;
        series.push(s);
    }
    let now = Now {
        scheduler_failing: app.scheduler_health.failing(),
        store_damaged: !app.store_health.problems().is_empty(),
    };
    let hooks: Vec<_> = (app.webhooks.all_subscriptions().into_iter())
        .chain(app.webhooks.all_of(crate::webhooks::Kind::Venue))
        .filter(|(k, _)| shown(&k.economy))
        .collect();
    let hooks: Vec<WebhookSeries> =
        tokio::task::spawn_blocking(move || hooks.iter().map(|(k, t)| hook_series(k, t)).collect())
            .await
            .unwrap_or_default();
    let text = app.metrics.render(now, &series, &hooks);
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}

/// A subscription's deliveries for the metrics (blocking: its lag reads the event log).
fn hook_series(key: &crate::webhooks::Key, t: &crate::webhooks::engine::Target) -> WebhookSeries {
    let (lag_events, oldest) = t.lag();
    let s = t.lock();
    let now = jifen_journal::time::now_ms();
    WebhookSeries {
        economy: key.economy.clone(),
        subscription: key.name.clone(),
        delivered: s.delivered,
        failed: s.failed,
        lag_events,
        lag_seconds: oldest.map_or(0.0, |ts| (now - ts).max(0) as f64 / 1000.0),
        paused: s.settings.paused.is_some(),
        venue: key.kind == crate::webhooks::Kind::Venue,
    }
}

/// A price in millionths of a yuan per point (10^8 atoms), rounded down, exactly.
fn microyuan(p: jifen_core::Price) -> u64 {
    let per_point = u128::from(p.num_fen) * 100_000_000 * 10_000;
    u64::try_from(per_point / u128::from(p.den_atoms.max(1))).unwrap_or(u64::MAX)
}

/// An economy's figures for the metrics, read on its writer between batches.
fn gauges(v: &jifen_journal::View<'_>) -> EconomySeries {
    let e = v.ledger.economy();
    let t = e.totals();
    EconomySeries {
        reserve_fen: t.reserve_fen.0,
        dividend_pool_fen: t.dividend_pool_fen.0,
        quota_outstanding_fen: e.quota_total_fen(),
        escrow_fen: t.escrow_fen.0,
        circulating_atoms: t.circulating_atoms.0,
        accounts: e.accounts().len() as u64,
        pending_orders: e.orders().pending(),
        payouts_owed_fen: t.owed_fen.0,
        price_microyuan: microyuan(e.price()),
        holders: e.holders() as u64,
        last_settled_day: e
            .settled_days()
            .iter()
            .next_back()
            .map_or(0, |d| u64::from(*d)),
        ..EconomySeries::default()
    }
}

/// The separate metrics address (`--metrics-listen`): `/metrics` with every economy's series,
/// no key needed, and nothing else. Meant for a private network that Prometheus scrapes.
pub fn metrics_only(app: Arc<App>) -> axum::Router {
    axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(|State(app): State<Arc<App>>| async move {
                metrics_text(&app, Scope::All).await
            }),
        )
        .fallback(not_found)
        .with_state(app)
}

#[utoipa::path(get, path = "/v1/openapi.json", tag = "service", security(()),
    responses((status = 200, description = "this document", body = Object)))]
async fn openapi() -> Response {
    let doc = DOCUMENT.get().map_or("{}", String::as_str);
    ([(header::CONTENT_TYPE, "application/json")], doc).into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}
