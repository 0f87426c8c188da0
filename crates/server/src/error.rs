//! The one error type at the HTTP edge: a status, a stable code and a message, answered as
//! `{"error":{"code":"…","message":"…"}}`. Internal causes are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds to wait, sent as `Retry-After` (with 429).
    pub retry_after_s: Option<u64>,
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: see the API guide for the list.
    pub code: String,
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required: Authorization: Bearer <key>",
        )
    }

    /// 401 with the reason (a session or wallet link that is not, or no longer, valid).
    pub fn unauthorized_because(why: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", why)
    }

    pub fn forbidden(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", what)
    }

    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    pub fn no_economy() -> ApiError {
        ApiError::not_found("no such economy")
    }

    pub fn bad_request(code: &'static str, what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, what)
    }

    pub fn invalid(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", what)
    }

    pub fn unavailable(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", what)
    }

    /// 413: the body is over the limit of its endpoint.
    pub fn body_too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the body is over the limit: {} bytes, or {} for content",
                crate::bounds::BODY_BYTES_MAX,
                crate::bounds::CONTENT_BYTES_MAX
            ),
        )
    }

    /// An internal failure: the cause goes to the log with the request, not to the caller.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the cause is in the server log",
        )
    }
}

impl From<jifen_journal::JournalError> for ApiError {
    fn from(e: jifen_journal::JournalError) -> ApiError {
        use jifen_journal::JournalError as J;
        match e {
            J::NoSuchEconomy(_) => ApiError::no_economy(),
            J::TooMany(n) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "batch_too_large",
                format!(
                    "{n} commands in one request; at most {}",
                    jifen_journal::BATCH_COMMANDS_MAX
                ),
            ),
            J::Invalid(why) => ApiError::invalid(why),
            J::Refused(why) => ApiError::forbidden(why),
            J::Unavailable(why) => ApiError::unavailable(why),
            other => ApiError::internal(other),
        }
    }
}

impl From<jifen_journal::StoreError> for ApiError {
    fn from(e: jifen_journal::StoreError) -> ApiError {
        match e {
            jifen_journal::StoreError::EconomyExists(id) => ApiError::new(
                StatusCode::CONFLICT,
                "economy_exists",
                format!("economy {id:?} already exists"),
            ),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after_s {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, s.into());
        }
        response
    }
}
