//! Inside WeChat (issue 23, docs/WECHAT.md): WeChat checks that a domain is the operator's by
//! fetching a small text file it issued (`MP_verify_….txt` for an official account's domains,
//! a random `….txt` for a mini-program's business domain) from the domain's root. An admin
//! uploads it here; the server then answers it at `/<name>.txt`, exactly its content.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminCaller;
use crate::error::{ApiError, ApiResult};
use crate::http::{blocking, json_ok};
use crate::state::App;

/// Where the verification files are kept, by name.
const SCOPE: &str = "wechat_verification";
/// The most bytes of a file's content (WeChat's are a few dozen).
const CONTENT_BYTES_MAX: usize = 1024;
/// The most files kept.
const FILES_MAX: usize = 20;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(put_file, delete_file))
        .routes(routes!(list_files))
        .route("/{file}", axum::routing::get(serve_file))
}

/// A name WeChat gives such a file: 1 to 64 letters, digits or `_`, then `.txt`.
fn is_file_name(name: &str) -> bool {
    name.strip_suffix(".txt").is_some_and(|stem| {
        (1..=64).contains(&stem.len())
            && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

fn checked_name(name: &str) -> ApiResult<()> {
    if is_file_name(name) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "the file name is 1 to 64 letters, digits or _ followed by .txt, as WeChat names it",
        ))
    }
}

#[utoipa::path(put, path = "/v1/wechat/verification-files/{file}", tag = "wechat",
    request_body(content = String, content_type = "text/plain", description = "the file's content, exactly as downloaded (printable ASCII, at most 1024 bytes)"),
    responses((status = 200, description = "kept; served from now on at /{file}", body = Object)))]
async fn put_file(
    State(app): State<Arc<App>>,
    _admin: AdminCaller,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    checked_name(&name)?;
    let text = std::str::from_utf8(&body).ok().filter(|t| {
        !t.is_empty()
            && t.len() <= CONTENT_BYTES_MAX
            && t.bytes()
                .all(|b| (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\r')
    });
    let Some(text) = text.map(str::to_string) else {
        return Err(ApiError::invalid(format!("the content must be 1 to {CONTENT_BYTES_MAX} bytes of printable ASCII, as WeChat issued it")));
    };
    let store = app.store.clone();
    let key = name.clone();
    blocking(move || {
        let held = store.with(|s| s.kv_list(SCOPE))?;
        if held.len() >= FILES_MAX && !held.iter().any(|(k, _)| *k == key) {
            return Err(ApiError::invalid(format!(
                "at most {FILES_MAX} verification files; delete one first"
            )));
        }
        Ok(store.with(|s| s.kv_put(SCOPE, &key, &text))?)
    })
    .await?;
    Ok(json_ok(json!({"name": name, "url": format!("/{name}")})))
}

#[utoipa::path(delete, path = "/v1/wechat/verification-files/{file}", tag = "wechat",
    responses((status = 200, description = "no longer served", body = Object)))]
async fn delete_file(
    State(app): State<Arc<App>>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    if !is_file_name(&name) {
        return Err(ApiError::not_found("no such verification file"));
    }
    let store = app.store.clone();
    let key = name.clone();
    blocking(move || Ok(store.with(|s| s.kv_delete(SCOPE, &key))?)).await?;
    Ok(json_ok(json!({"name": name, "deleted": true})))
}

#[utoipa::path(get, path = "/v1/wechat/verification-files", tag = "wechat",
    responses((status = 200, description = "the files served, each with its content", body = Object)))]
async fn list_files(State(app): State<Arc<App>>, _admin: AdminCaller) -> ApiResult<Response> {
    let store = app.store.clone();
    let files = blocking(move || Ok(store.with(|s| s.kv_list(SCOPE))?)).await?;
    let files: Vec<_> = files
        .into_iter()
        .map(|(name, content)| json!({"name": name, "url": format!("/{name}"), "content": content}))
        .collect();
    Ok(json_ok(json!({"files": files})))
}

/// `GET /<name>.txt`: the file's content and nothing else, as WeChat's check wants.
async fn serve_file(State(app): State<Arc<App>>, Path(file): Path<String>) -> ApiResult<Response> {
    if !is_file_name(&file) {
        return Err(ApiError::not_found("no such page"));
    }
    let store = app.store.clone();
    let content = blocking(move || Ok(store.with(|s| s.kv_get(SCOPE, &file))?))
        .await?
        .ok_or_else(|| ApiError::not_found("no such page"))?;
    let mut r = (StatusCode::OK, content).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_wechats() {
        for ok in ["MP_verify_abcDEF123.txt", "6ynZPDvfTF.txt"] {
            assert!(super::is_file_name(ok), "{ok}");
        }
        for bad in [
            "x.html",
            ".txt",
            "../a.txt",
            "a b.txt",
            "a.txt.txt",
            "wallet",
            "healthz",
        ] {
            assert!(!super::is_file_name(bad), "{bad}");
        }
    }
}
