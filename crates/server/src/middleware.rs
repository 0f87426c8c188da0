//! What every request goes through: a request id on every log line, a bound on the URL, the
//! limits of keyless callers, forwarding to another node, the request timeout, the metrics,
//! security headers, and JSON for the framework's own refusals.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::bounds::URI_BYTES_MAX;
use crate::error::ApiError;
use crate::state::App;

/// The longest request id taken from a caller.
const REQUEST_ID_BYTES_MAX: usize = 64;

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The caller's `x-request-id` when it is a short token, otherwise one made up here.
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
pub async fn around_request(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    // The route's template, for the latency series (one short string per request).
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| Arc::<str>::from(m.as_str()));
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    app.metrics.requests.inc();
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    // Behind a proxy that ends TLS: browsers are told to keep to HTTPS.
    let https = req
        .headers()
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes() == b"https");
    let mut response = respond(&app, req, next).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    app.metrics.observe(route.as_ref(), status, elapsed);
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
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
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
    let req = match &app.forwarder {
        Some(f) => match f.forward(req).await {
            Ok(response) => return response,
            Err(req) => req,
        },
        None => req,
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
/// it carries one. (Requests with a key are limited per key once it is checked, in `auth`.) A
/// request another node of the cluster forwards was limited there.
fn limit_keyless(app: &App, req: &Request) -> Result<(), ApiError> {
    let headers = req.headers();
    // A shop's delivery is authenticated by the platform's signature, and platforms post from
    // few addresses at a shop's pace: only its failed signatures count against the address
    // (see `routes::connectors`).
    if crate::auth::carries_credentials(headers) || is_delivery(req.uri().path()) {
        return Ok(());
    }
    let counted = |r: Result<(), ApiError>| {
        r.inspect_err(|_| {
            app.metrics.rate_limited.inc();
        })
    };
    if let Some(token) = headers
        .get(crate::wallet_links::HEADER)
        .and_then(|v| v.to_str().ok())
    {
        let weight = if req.uri().path() == "/v1/wallet/act" {
            crate::limits::WALLET_ACT_WEIGHT
        } else {
            1
        };
        counted(app.limits.wallet_link(token, weight))?;
    }
    let address = crate::limits::client_address(
        app.config.client_address_header.as_ref(),
        headers,
        req.extensions(),
    );
    let forwarded = |a| {
        app.forwarder
            .as_ref()
            .is_some_and(|f| f.forwarded_by_node(req, a))
    };
    match address {
        Some(a) if !forwarded(a) => counted(app.limits.address(a)),
        _ => Ok(()),
    }
}

/// `/v1/economies/{eco}/connectors/{id}/events`.
fn is_delivery(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    matches!(
        parts.as_slice(),
        ["", "v1", "economies", _, "connectors", _, "events"]
    )
}

/// The framework answers some errors itself (a body over the limit, a bad path parameter or
/// query) in plain text; give them the JSON error shape with a stable code.
fn jsonify(r: Response) -> Response {
    let is_json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let status = r.status();
    if is_json || status.is_success() || status.is_redirection() {
        return r;
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::body_too_large().into_response();
    }
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        _ if status.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = status.canonical_reason().unwrap_or("error").to_string();
    ApiError::new(status, code, message).into_response()
}
