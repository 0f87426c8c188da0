//! `jifen serve`: the HTTP API over the journal, with keys and roles, a per-key rate limit,
//! request timeouts, a scheduler, metrics and an OpenAPI document generated from the handlers.
//!
//! Every request gets a request id (`x-request-id`, taken from the caller when it is a short
//! token, made up otherwise) that is on every log line of the request. Keys are never logged.

pub mod activity;
pub mod app;
pub mod auth;
pub mod cluster;
pub mod collectibles;
pub mod connections;
pub mod console;
pub mod content;
pub mod demo;
pub mod error;
pub mod exchange;
pub mod history;
pub mod keys;
pub mod limits;
pub mod outgoing;
pub mod routes;
pub mod scheduler;
pub mod service;
pub mod session;
pub mod transparency;
pub mod views;
pub mod wallet;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tracing::Instrument;

pub use app::{App, Clock, ServerConfig};
pub use axum::http::HeaderName;
use error::ApiError;

/// The largest request body, in bytes; larger is 413.
pub const BODY_BYTES_MAX: usize = 4 * 1024 * 1024;
/// How often the store's thorough integrity check runs while serving.
const STORE_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(6 * 60 * 60);
/// The longest URL (path and query) answered; longer is 414.
pub const URI_BYTES_MAX: usize = 8 * 1024;
/// The longest request id taken from a caller.
const REQUEST_ID_BYTES_MAX: usize = 64;

pub fn router(app: Arc<App>) -> Router {
    let eco = "/v1/economies/{eco}";
    Router::new()
        .route("/healthz", get(service::healthz))
        .route("/metrics", get(service::metrics))
        .route("/v1/openapi.json", get(service::openapi))
        .route(
            "/v1/economies",
            post(routes::create_economy).get(routes::list_economies),
        )
        .route(eco, get(routes::get_economy).patch(routes::patch_economy))
        .route(&format!("{eco}/rules"), get(routes::get_rules))
        .route(&format!("{eco}/rules/history"), get(routes::rules_history))
        .route(&format!("{eco}/commands"), post(routes::post_commands))
        .route(
            &format!("{eco}/accounts/{{name}}"),
            get(routes::get_account),
        )
        .route(&format!("{eco}/orders/{{order}}"), get(routes::get_order))
        .route(&format!("{eco}/state"), get(routes::get_state))
        .route(&format!("{eco}/events"), get(routes::get_events))
        .route(&format!("{eco}/price-history"), get(routes::price_history))
        .route(&format!("{eco}/leaderboard"), get(routes::leaderboard))
        .route("/v1/tree-key", get(transparency::tree_key))
        .route("/", get(console::page))
        .route(
            &format!("{eco}/content"),
            axum::routing::put(content::put)
                .layer(DefaultBodyLimit::max(content::CONTENT_BYTES_MAX)),
        )
        .route("/v1/content/{sha256}", get(content::get))
        .route(&format!("{eco}/venues"), get(exchange::list_venues))
        .route(
            &format!("{eco}/venues/{{venue}}"),
            axum::routing::put(exchange::put_venue),
        )
        .route(&format!("{eco}/outbox"), get(exchange::outbox_status))
        .route("/c/{economy}/{collectible}", get(collectibles::page))
        .route(
            "/v1/public/{economy}/collectibles/{collectible}",
            get(collectibles::public_collectible),
        )
        .route(
            "/v1/wallet/collectibles",
            get(collectibles::wallet_collectibles),
        )
        .route(
            "/v1/session",
            post(session::sign_in)
                .get(session::current)
                .delete(session::sign_out),
        )
        .route(&format!("{eco}/accounts"), get(console::search_accounts))
        .route(
            &format!("{eco}/accounts/{{name}}/history"),
            get(console::account_history),
        )
        .route(&format!("{eco}/orders"), get(console::list_orders))
        .route(
            &format!("{eco}/orders/{{order}}/preview"),
            get(console::preview_order),
        )
        .route(&format!("{eco}/overview"), get(console::overview))
        .route(
            &format!("{eco}/verify"),
            get(console::get_verify).post(console::start_verify),
        )
        .route(&format!("{eco}/settlements"), get(console::settlements))
        .route(
            &format!("{eco}/rules/preview"),
            post(console::rules_preview),
        )
        .route("/wallet", get(wallet::page))
        .route("/v1/wallet", get(wallet::me))
        .route("/v1/wallet/proof", get(wallet::proof))
        .route("/v1/wallet/quote", post(wallet::quote))
        .route("/v1/wallet/price-history", get(wallet::price_history))
        .route("/v1/wallet/act", post(wallet::act))
        .route(&format!("{eco}/wallet-links"), post(wallet::create_link))
        .route(
            &format!("{eco}/tree-heads"),
            get(transparency::list_heads).post(transparency::post_head),
        )
        .route(
            &format!("{eco}/tree-heads/latest"),
            get(transparency::latest_head),
        )
        .route(
            &format!("{eco}/proofs/inclusion"),
            get(transparency::inclusion),
        )
        .route(
            &format!("{eco}/proofs/consistency"),
            get(transparency::consistency),
        )
        .route(
            &format!("{eco}/keys"),
            post(routes::create_key).get(routes::list_keys),
        )
        .route(
            &format!("{eco}/keys/{{id}}"),
            axum::routing::delete(routes::revoke_key),
        )
        .fallback(service::not_found)
        .method_not_allowed_fallback(service::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(middleware::from_fn_with_state(app.clone(), around_request))
        .with_state(app)
}

/// The separate metrics address (`--metrics-listen`): `/metrics` with every economy's series,
/// no key needed, and nothing else. Meant for a private network that Prometheus scrapes.
fn metrics_router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(app): State<Arc<App>>| async move {
                service::metrics_text(&app, service::MetricsScope::All).await
            }),
        )
        .fallback(service::not_found)
        .with_state(app)
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= REQUEST_ID_BYTES_MAX
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| format!("r{:x}", REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed)))
}

/// Request id, timeout, log line, metrics, security headers, and JSON for the framework's own
/// errors.
async fn around_request(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    // Behind a proxy that ends TLS: browsers are told to keep to HTTPS.
    let https = req
        .headers()
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes() == b"https");
    let mut response = respond(&app, req, next).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    app.metrics.observe(status, elapsed);
    // Successful requests log at debug (there can be tens of thousands a second); refusals
    // at info, failures at warn.
    let latency_us = elapsed.as_micros() as u64;
    span.in_scope(|| match status {
        500.. => tracing::warn!(status, latency_us, "request failed"),
        400.. => tracing::info!(status, latency_us, "request refused"),
        _ => tracing::debug!(status, latency_us, "request"),
    });
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert("x-request-id", v);
    }
    headers.insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if https {
        headers.insert(
            axum::http::header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// The answer: 414 for a URL over the bound; with several nodes, the owner's answer for an
/// economy another node writes; otherwise the handler's, within the request timeout.
async fn respond(app: &Arc<App>, req: Request, next: Next) -> Response {
    if req.uri().to_string().len() > URI_BYTES_MAX {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request's URL is over {URI_BYTES_MAX} bytes"),
        )
        .into_response();
    }
    if let Err(refused) = limit_keyless(app, &req) {
        return refused.into_response();
    }
    let req = if app.config.cluster.is_some() {
        match cluster::forward(app, req).await {
            Ok(response) => return response,
            Err(req) => req,
        }
    } else {
        req
    };
    let timeout = app.config.request_timeout;
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(r) => jsonify(r),
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "no answer within {} s; a command may still commit, so retry with the same id",
                timeout.as_secs()
            ),
        )
        .into_response(),
    }
}

/// The limits of a request that carries no key: per client address, and per wallet link when
/// it carries one. (Requests with a key are limited per key once it is checked, in `Auth`.) A
/// request another node of the cluster forwards was limited there.
fn limit_keyless(app: &App, req: &Request) -> Result<(), ApiError> {
    let headers = req.headers();
    let keyed = headers.contains_key(axum::http::header::AUTHORIZATION)
        || session::cookie(headers).is_some();
    if keyed {
        return Ok(());
    }
    if let Some(token) = headers.get("x-wallet-token").and_then(|v| v.to_str().ok()) {
        let weight = if req.uri().path() == "/v1/wallet/act" {
            limits::WALLET_ACT_WEIGHT
        } else {
            1
        };
        app.limits.wallet_link(token, weight).inspect_err(|_| {
            app.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        })?;
    }
    let address = limits::client_address(
        app.config.client_address_header.as_ref(),
        headers,
        req.extensions(),
    );
    match address {
        Some(a) if !cluster::forwarded_by_node(app, req, a) => {
            app.limits.address(a).inspect_err(|_| {
                app.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
            })
        }
        _ => Ok(()),
    }
}

/// The framework answers some errors itself (a body over the limit, a bad path parameter or
/// query) in plain text; give them the JSON error shape with a stable code.
fn jsonify(r: Response) -> Response {
    let is_json = r
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let status = r.status();
    if is_json || status.is_success() || status.is_redirection() {
        return r;
    }
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        _ if status.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "the body is over the limit: {BODY_BYTES_MAX} bytes, or {} for content",
            content::CONTENT_BYTES_MAX
        ),
        _ => status.canonical_reason().unwrap_or("error").to_string(),
    };
    ApiError::new(status, code, message).into_response()
}

/// Serves until `shutdown` resolves; then stops accepting, finishes requests in flight, stops
/// the scheduler, and lets every writer finish its queue and take a snapshot.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    metrics_listener: Option<tokio::net::TcpListener>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let scheduler = scheduler::Scheduler::new(app.clone());
    let sched_thread = std::thread::Builder::new()
        .name("scheduler".into())
        .spawn(move || scheduler.run(stop_rx))?;
    let (cluster_stop, cluster_rx) = std::sync::mpsc::channel::<()>();
    let cluster_app = app.clone();
    let cluster_thread = std::thread::Builder::new()
        .name("cluster".into())
        .spawn(move || cluster::run(cluster_app, cluster_rx))?;
    let (outbox_stop, outbox_rx) = std::sync::mpsc::channel::<()>();
    let outbox_app = app.clone();
    let outbox_thread = std::thread::Builder::new()
        .name("outbox".into())
        .spawn(move || exchange::run(outbox_app, outbox_rx))?;
    // The store's thorough check, beside serving: at start and every six hours.
    let (check_stop, check_rx) = std::sync::mpsc::channel::<()>();
    let check_app = app.clone();
    let check_thread = std::thread::Builder::new()
        .name("store-check".into())
        .spawn(move || loop {
            check_app.check_store();
            match check_rx.recv_timeout(STORE_CHECK_EVERY) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        })?;
    // Rate limiters forget callers idle long enough to be as good as new.
    let housekeeping_app = app.clone();
    let housekeeping = tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            housekeeping_app.limits.forget_idle();
        }
    });
    let limits = app.config.connection_limits;
    // One shutdown signal for the API and the metrics address.
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stopping_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let metrics_served = metrics_listener.map(|l| {
        let router = metrics_router(app.clone());
        tokio::spawn(connections::serve(
            l,
            router,
            limits,
            stopped(stopping.clone()),
        ))
    });
    let served = connections::serve(listener, router(app.clone()), limits, stopped(stopping)).await;
    if let Some(m) = metrics_served {
        let _ = m.await;
    }
    housekeeping.abort();
    drop(stop_tx);
    let _ = sched_thread.join();
    drop(check_stop);
    let _ = check_thread.join();
    drop(outbox_stop);
    let _ = outbox_thread.join();
    drop(cluster_stop);
    let _ = cluster_thread.join();
    let app2 = app.clone();
    tokio::task::spawn_blocking(move || app2.shutdown())
        .await
        .map_err(std::io::Error::other)?;
    tracing::info!("stopped: writers flushed, snapshots taken");
    served
}
