//! The content store (SPEC §13, issue 7): a collectible's artwork or a certificate's document,
//! addressed by its SHA-256.
//!
//! `PUT /v1/economies/{eco}/content` (operator, admin) takes one image (PNG, JPEG, WebP, GIF) or
//! PDF of up to 10 MiB, declared by `Content-Type` and checked against the file's own first
//! bytes, and answers with its hash. `GET /v1/content/{sha256}` serves it to anyone, and only
//! after the stored bytes have been hashed again and found equal to the name they are served
//! under. The bytes live in the store: the SQLite file in the data directory, or PostgreSQL.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::{allow, Auth, Need};
use crate::error::{ApiError, ApiResult};
use crate::keys::sha256_hex;
use crate::routes::{blocking, AppState};

/// The largest upload, in bytes.
pub const CONTENT_BYTES_MAX: usize = 10 * 1024 * 1024;

/// The types accepted, each with the first bytes every such file starts with.
const TYPES: [(&str, &[u8]); 5] = [
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", b"\xff\xd8\xff"),
    ("image/gif", b"GIF8"),
    ("image/webp", b"RIFF"),
    ("application/pdf", b"%PDF-"),
];

fn unsupported(why: String) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        why,
    )
}

/// The declared type, if it is one of [`TYPES`] and the bytes are such a file.
fn checked_type(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<&'static str> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let accepted = || TYPES.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", ");
    let (kind, magic) = TYPES.iter().find(|(t, _)| *t == declared).ok_or_else(|| {
        unsupported(format!(
            "content of type {declared:?} is not accepted; send one of {}",
            accepted()
        ))
    })?;
    let webp_ok = *kind != "image/webp" || bytes.get(8..12) == Some(b"WEBP");
    if !bytes.starts_with(magic) || !webp_ok {
        return Err(unsupported(format!(
            "the body is not a {kind} file (its first bytes say otherwise)"
        )));
    }
    Ok(kind)
}

#[utoipa::path(put, path = "/v1/economies/{eco}/content", tag = "collectibles",
    params(("eco" = String, Path)),
    request_body(content = Vec<u8>, description = "an image (PNG, JPEG, WebP, GIF) or a PDF, up to 10 MiB, with its Content-Type"),
    responses((status = 201, description = "stored: its SHA-256 and where it is served", body = Object)))]
pub async fn put(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    app.economy_for(&p, &eco)?;
    allow(&p, Need::Manage)?;
    if body.is_empty() {
        return Err(ApiError::invalid("the body is empty"));
    }
    let kind = checked_type(&headers, &body)?;
    let sha = sha256_hex(&body);
    let len = body.len();
    let stored = sha.clone();
    blocking(&app, move |app| {
        Ok(app.with_store(|s| s.put_content(&stored, kind, &body))?)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({
            "sha256": sha,
            "bytes": len,
            "content_type": kind,
            "url": format!("/v1/content/{sha}"),
        })),
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/content/{sha256}", tag = "collectibles",
    params(("sha256" = String, Path, description = "64 lowercase hex digits")),
    responses((status = 200, description = "the stored bytes, which hash to the name (no key needed)")))]
pub async fn get(State(app): AppState, Path(sha): Path<String>) -> ApiResult<Response> {
    if jifen_core::parse_sha256_hex(&sha).is_none() {
        return Err(ApiError::not_found("no such content"));
    }
    let wanted = sha.clone();
    let (kind, bytes) = blocking(&app, move |app| Ok(app.with_store(|s| s.content(&wanted))?))
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
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{sha}\"")).map_err(ApiError::internal)?,
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(response)
}
