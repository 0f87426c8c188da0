//! Service endpoints: health, Prometheus metrics, the OpenAPI document, and JSON 404/405.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use utoipa::OpenApi;

use crate::app::{App, LATENCY_BUCKETS_MS};
use crate::error::ApiError;
use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "jifen",
        description = "The jifen points engine over HTTP. Every atoms or fen integer in an answer also comes as a decimal string in a twin field named with `_str` (`reserve_fen_str`), because JavaScript numbers lose precision past 2^53; `GET …/state` is exactly the SPEC §11 object, and `?strings=true` gives every integer in it as a string. Authenticate with `Authorization: Bearer <key>`. Errors are `{\"error\":{\"code\",\"message\"}}` with stable codes. Points are not shares, stock or equity; a quota is a cap, paid only from the dividend pool, never a promise."
    ),
    paths(
        healthz, metrics, openapi,
        routes::create_economy, routes::list_economies, routes::get_economy, routes::patch_economy,
        routes::get_rules, routes::rules_history, routes::post_commands, routes::get_account,
        routes::get_order, routes::get_state, routes::get_events, routes::price_history,
        routes::leaderboard, routes::create_key, routes::list_keys, routes::revoke_key,
        crate::transparency::tree_key, crate::transparency::latest_head,
        crate::transparency::list_heads, crate::transparency::post_head,
        crate::transparency::inclusion, crate::transparency::consistency,
        crate::wallet::create_link, crate::wallet::me, crate::wallet::proof,
        crate::wallet::quote, crate::wallet::act, crate::wallet::price_history,
        crate::session::sign_in, crate::session::current, crate::session::sign_out,
        crate::console::overview, crate::console::get_verify, crate::console::start_verify,
        crate::console::search_accounts, crate::console::account_history,
        crate::console::list_orders, crate::console::preview_order, crate::console::settlements,
        crate::console::rules_preview,
        crate::content::put, crate::content::get,
        crate::exchange::put_venue, crate::exchange::list_venues, crate::exchange::outbox_status,
        crate::collectibles::public_collectible, crate::collectibles::wallet_collectibles,
    ),
    components(schemas(
        crate::error::ErrorBody, crate::error::ErrorDetail, routes::CreateEconomy,
        routes::PatchEconomy, routes::CreateKey, routes::Outcomes, routes::OutcomeView,
        crate::keys::Role,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        doc.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "key",
            Vec::<String>::new(),
        )]);
    }
}

#[utoipa::path(get, path = "/healthz", tag = "service", security(()),
    responses((status = 200, description = "serving", body = Object), (status = 503, description = "the last thorough check of the store found damage; the answer lists it", body = Object)))]
pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    let problems = app.store_problems();
    let body = json!({
        "status": if problems.is_empty() { "ok" } else { "damaged" },
        "economies": app.economies().len(),
        "uptime_s": app.started.elapsed().as_secs(),
        "store_problems": problems,
        "store_check": app.store_check().map(|r| json!({"method": r.method, "checked": r.checked, "ok": r.ok()})),
    });
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Which economies' series a `/metrics` answer holds.
pub enum MetricsScope {
    /// None: the process-wide series only (no key given).
    Process,
    /// One economy's (an operator's or auditor's key).
    Economy(String),
    /// Every economy's (an admin key, or the separate `--metrics-listen` address).
    All,
}

#[utoipa::path(get, path = "/metrics", tag = "service", security((), ("key" = [])),
    responses((status = 200, description = "Prometheus text format. Without a key, the process-wide series only; with an operator or auditor key, also its economy's; with an admin key, every economy's. `--metrics-listen` serves everything on a separate address, for a private network.", content_type = "text/plain")))]
pub async fn metrics(State(app): State<Arc<App>>, caller: Option<crate::auth::Auth>) -> Response {
    use crate::keys::Role;
    let scope = match caller {
        None => MetricsScope::Process,
        Some(crate::auth::Auth(p)) if p.is_admin() => MetricsScope::All,
        Some(crate::auth::Auth(p)) => match (p.role, p.economy) {
            (Role::Operator | Role::Auditor, Some(e)) => MetricsScope::Economy(e),
            _ => MetricsScope::Process,
        },
    };
    metrics_text(&app, scope).await
}

/// The Prometheus text of the metrics in `scope`.
pub async fn metrics_text(app: &Arc<App>, scope: MetricsScope) -> Response {
    let m = &app.metrics;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, v: u64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
        ));
    };
    counter(
        "jifen_http_requests_total",
        "HTTP requests received.",
        m.requests.load(Ordering::Relaxed),
    );
    counter(
        "jifen_http_responses_2xx_total",
        "Answers 2xx.",
        m.responses_2xx.load(Ordering::Relaxed),
    );
    counter(
        "jifen_http_responses_4xx_total",
        "Answers 4xx.",
        m.responses_4xx.load(Ordering::Relaxed),
    );
    counter(
        "jifen_http_responses_5xx_total",
        "Answers 5xx.",
        m.responses_5xx.load(Ordering::Relaxed),
    );
    counter(
        "jifen_commands_applied_total",
        "Commands accepted and committed.",
        m.commands_applied.load(Ordering::Relaxed),
    );
    counter(
        "jifen_commands_rejected_total",
        "Commands rejected (an outcome, committed).",
        m.commands_rejected.load(Ordering::Relaxed),
    );
    counter(
        "jifen_commands_retried_total",
        "Retries of a seen id (nothing changed).",
        m.commands_retried.load(Ordering::Relaxed),
    );
    counter(
        "jifen_rate_limited_total",
        "Requests answered 429.",
        m.rate_limited.load(Ordering::Relaxed),
    );
    counter(
        "jifen_scheduler_commands_total",
        "Commands issued by the scheduler.",
        m.scheduler_commands.load(Ordering::Relaxed),
    );
    counter(
        "jifen_scheduler_failures_total",
        "The scheduler's own commands refused, or its passes failed (each is logged as an ERROR).",
        app.scheduler_health.failures_total.load(Ordering::Relaxed),
    );
    out.push_str(&format!(
        "# HELP jifen_scheduler_failing Items the scheduler is retrying with backoff now.\n# TYPE jifen_scheduler_failing gauge\njifen_scheduler_failing {}\n",
        app.scheduler_health.failing()
    ));
    out.push_str(&format!(
        "# HELP jifen_store_damaged 1 when the last thorough check of the store found damage.\n# TYPE jifen_store_damaged gauge\njifen_store_damaged {}\n",
        u8::from(!app.store_problems().is_empty())
    ));
    out.push_str("# HELP jifen_http_request_duration_seconds Request latency.\n# TYPE jifen_http_request_duration_seconds histogram\n");
    let mut cumulative = 0;
    for (i, bound) in LATENCY_BUCKETS_MS.iter().enumerate() {
        cumulative += m.latency_buckets[i].load(Ordering::Relaxed);
        out.push_str(&format!(
            "jifen_http_request_duration_seconds_bucket{{le=\"{}\"}} {cumulative}\n",
            *bound as f64 / 1000.0
        ));
    }
    let total = m.responses_2xx.load(Ordering::Relaxed)
        + m.responses_4xx.load(Ordering::Relaxed)
        + m.responses_5xx.load(Ordering::Relaxed);
    out.push_str(&format!(
        "jifen_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {total}\njifen_http_request_duration_seconds_sum {}\njifen_http_request_duration_seconds_count {total}\n",
        m.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6
    ));
    out.push_str("# HELP jifen_economy_head_seq The journal head of each economy.\n# TYPE jifen_economy_head_seq gauge\n");
    let shown = |id: &str| match &scope {
        MetricsScope::Process => false,
        MetricsScope::Economy(e) => e == id,
        MetricsScope::All => true,
    };
    for e in app.economies().into_iter().filter(|e| shown(&e.meta.id)) {
        // Awaited, not blocking: the writer may be waiting for a commit.
        if let Ok(seq) = routes::read(&e, |v| v.head_seq).await {
            out.push_str(&format!(
                "jifen_economy_head_seq{{economy=\"{}\"}} {seq}\n",
                e.meta.id
            ));
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

#[utoipa::path(get, path = "/v1/openapi.json", tag = "service", security(()),
    responses((status = 200, description = "this document", body = Object)))]
pub async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
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
