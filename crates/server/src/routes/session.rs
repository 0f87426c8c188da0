//! `/v1/session`: the console signs in with a key once, and holds a session cookie after (see
//! `sessions`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::http::JsonBody;
use crate::keys::Role;
use crate::sessions::{cookie, COOKIE};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(sign_in, current, sign_out))
}

/// Signing in to the console.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignIn {
    /// An operator or admin key.
    key: String,
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[utoipa::path(post, path = "/v1/session", tag = "console", security(()),
    request_body = SignIn,
    responses((status = 200, description = "the session: role, economy and the CSRF token; the cookie is set", body = Object),
              (status = 401, description = "unauthorized: the key is not valid", body = crate::error::ErrorBody),
              (status = 403, description = "forbidden: the console is for operator and admin keys", body = crate::error::ErrorBody)))]
async fn sign_in(
    State(app): State<Arc<App>>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SignIn>,
) -> ApiResult<Response> {
    let address = crate::limits::client_address(
        app.config.client_address_header.as_ref(),
        &headers,
        &extensions,
    );
    let p = app
        .keyring
        .authenticate(req.key.trim(), address)
        .await
        .map_err(|e| match e.status {
            StatusCode::UNAUTHORIZED => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "that key is not valid",
            ),
            _ => e,
        })?;
    if !matches!(p.role, Role::Operator | Role::Admin) {
        return Err(ApiError::forbidden(format!(
            "the console is for operator and admin keys, not {} keys",
            p.role.as_str()
        )));
    }
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes() == b"https");
    let mut session = app.sessions.issue(&p, secure)?;
    session.view["wallet_link_ttl_max_s"] = app.links.ttl_max_s().into();
    let mut response = Json(session.view).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&session.cookie).map_err(ApiError::internal)?,
    );
    Ok(no_store(response))
}

#[utoipa::path(get, path = "/v1/session", tag = "console", security((), ("session" = [])),
    responses((status = 200, description = "the current session (from its cookie) with its CSRF token, or signed_in false", body = Object)))]
async fn current(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult<Response> {
    // Not being signed in is an answer, not an error: the page asks before it knows.
    let mut body = json!({"signed_in": false});
    if let Some(token) = cookie(&headers) {
        if let Ok(p) = app.sessions.principal(token, &Method::GET, &headers).await {
            let expires = app.sessions.claims(token).and_then(|c| c["x"].as_i64());
            if let Some(expires) = expires {
                body = app.sessions.view(token, &p, expires);
                body["wallet_link_ttl_max_s"] = app.links.ttl_max_s().into();
            }
        }
    }
    Ok(no_store(Json(body).into_response()))
}

#[utoipa::path(delete, path = "/v1/session", tag = "console", security((), ("session" = [])),
    responses((status = 200, description = "signed out: the cookie is cleared", body = Object)))]
async fn sign_out(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(token) = cookie(&headers) {
        // A forged sign-out is a nuisance, not a loss, but it needs the token all the same.
        app.sessions
            .principal(token, &Method::DELETE, &headers)
            .await?;
        app.sessions.revoke(token).await?;
    }
    let mut response = Json(json!({"signed_out": true})).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        ))
        .map_err(ApiError::internal)?,
    );
    Ok(response)
}
