//! Request and answer helpers every route uses: typed JSON bodies with clear refusals, JSON
//! answers with the amounts' string twins, page limits, and blocking work off the async threads.

use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::views;

/// A JSON request body of type `T`: 415 unless it is declared JSON, 400 `malformed_json` when
/// it is not JSON, 422 `invalid_request` naming the field when it is not a `T`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        json_content_type(req.headers())?;
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::body_too_large(),
                status => ApiError::new(status, "bad_request", e.body_text()),
            })?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
        })?;
        typed(value).map(JsonBody)
    }
}

/// A JSON value as a `T`: wrong types and unknown fields are 422 with the field named.
pub fn typed<T: DeserializeOwned>(value: Value) -> ApiResult<T> {
    serde_json::from_value(value).map_err(|e| ApiError::invalid(format!("invalid body: {e}")))
}

/// 415 unless the body is declared JSON.
pub fn json_content_type(headers: &HeaderMap) -> ApiResult<()> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or("").trim();
            mime.eq_ignore_ascii_case("application/json")
        });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as Content-Type: application/json",
        ));
    }
    Ok(())
}

/// A JSON answer in which every amount also comes as a decimal string (see `views`).
pub fn json_ok(value: Value) -> Response {
    Json(views::with_string_twins(value)).into_response()
}

/// As [`json_ok`], with another status.
pub fn json_with(status: StatusCode, value: Value) -> Response {
    (status, Json(views::with_string_twins(value))).into_response()
}

/// A query of one `limit` (1 to a bound; each endpoint says its default and bound).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    pub limit: Option<usize>,
}

/// A `limit` query value: `default` when absent, otherwise 1 to `max`, or 422.
pub fn limit_within(limit: Option<usize>, default: usize, max: usize) -> ApiResult<usize> {
    match limit.unwrap_or(default) {
        n if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(format!("limit must be 1 to {max}"))),
    }
}

/// Runs blocking work (the store, a proof, a verify) on a blocking thread.
pub async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> ApiResult<R> + Send + 'static,
) -> ApiResult<R> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// A table as a download (`csv`, `xlsx`), or the JSON answer.
pub fn file_or_json(
    format: Option<&str>,
    name: &str,
    table: impl FnOnce() -> crate::finance::files::Table,
    json: impl FnOnce() -> Value,
) -> ApiResult<Response> {
    match format.unwrap_or("json") {
        "json" => Ok(json_ok(json())),
        "csv" => Ok(download(
            table().csv(),
            "text/csv; charset=utf-8",
            &format!("{name}.csv"),
        )),
        "xlsx" => {
            let bytes = table().xlsx().map_err(ApiError::internal)?;
            let mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
            Ok(download(bytes, mime, &format!("{name}.xlsx")))
        }
        other => Err(ApiError::invalid(format!(
            "format: {other:?} is not json, csv or xlsx"
        ))),
    }
}

pub fn download(bytes: Vec<u8>, mime: &'static str, filename: &str) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_take_their_default_and_refuse_out_of_range() {
        assert_eq!(limit_within(None, 10, 100).unwrap(), 10);
        assert_eq!(limit_within(Some(100), 10, 100).unwrap(), 100);
        for bad in [0, 101] {
            let e = limit_within(Some(bad), 10, 100).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (422, "invalid_request"));
            assert_eq!(e.message, "limit must be 1 to 100");
        }
    }

    #[test]
    fn only_json_bodies_are_taken() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            json_content_type(&headers).unwrap_err().status.as_u16(),
            415
        );
        headers.insert(
            header::CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        json_content_type(&headers).unwrap();
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(
            json_content_type(&headers).unwrap_err().code,
            "unsupported_media_type"
        );
    }

    #[test]
    fn a_body_of_the_wrong_shape_names_its_field() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct B {
            n: u32,
        }
        let e = typed::<B>(serde_json::json!({"n": "x"})).unwrap_err();
        assert_eq!(e.code, "invalid_request");
        assert!(e.message.contains("invalid type"), "{}", e.message);
        let e = typed::<B>(serde_json::json!({"n": 1, "m": 2})).unwrap_err();
        assert!(e.message.contains("unknown field `m`"), "{}", e.message);
    }
}
