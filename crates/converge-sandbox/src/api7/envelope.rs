//! The API7 Cloud response envelope: `{"status":{"code","message"},"error","warning","payload"}`.
//!
//! Success is HTTP 200 with `status {"code":0,"message":"OK"}` and the `payload` (absent for
//! deletes and the other calls the docs show without one); the Go SDK treats any other HTTP status
//! as a failure, so creates answer 200 too. Errors carry no payload: `status` names the kind and
//! `error` the details. The docs give no table of codes; API7's cloud-cli shows `4 "not found"`
//! (HTTP 404) and `6 "unauthorized"` (HTTP 401), and the sandbox numbers the other kinds around
//! them (see [`code_for`]).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

/// The envelope's `status.code` and `status.message` for an HTTP status.
///
/// | HTTP | code | message |
/// |---|---|---|
/// | 200 | 0 | OK |
/// | 500 and other 5xx | 1 | internal error |
/// | 400 | 2 | invalid argument |
/// | 409 | 3 | already exists |
/// | 404 | 4 | not found |
/// | 403 | 5 | permission denied |
/// | 401 | 6 | unauthorized |
/// | 429 | 7 | too many requests |
/// | 405 | 8 | method not allowed |
/// | 502, 503, 504 | 9 | service unavailable |
pub fn code_for(status: StatusCode) -> (u16, &'static str) {
    match status.as_u16() {
        200..=299 => (0, "OK"),
        400 => (2, "invalid argument"),
        401 => (6, "unauthorized"),
        403 => (5, "permission denied"),
        404 => (4, "not found"),
        405 => (8, "method not allowed"),
        409 => (3, "already exists"),
        429 => (7, "too many requests"),
        502..=504 => (9, "service unavailable"),
        s if s >= 500 => (1, "internal error"),
        _ => (2, "invalid argument"),
    }
}

/// An error answer: the HTTP status and the `error` details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
        }
    }

    /// 400: validation failures, malformed bodies and ids, illegal state changes.
    pub fn invalid(error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error)
    }

    /// 404 for an object of `kind` ("application", "API"...) that does not exist where asked.
    pub fn not_found(kind: &str, id: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{kind} {id} not found"))
    }

    /// 409: a name already taken where it must be unique.
    pub fn conflict(error: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.status, &self.error)
    }
}

/// The error envelope for any status.
pub fn error_response(status: StatusCode, error: &str) -> Response {
    let (code, message) = code_for(status);
    (
        status,
        Json(json!({
            "status": { "code": code, "message": message },
            "error": error,
        })),
    )
        .into_response()
}

/// 200 with a payload.
pub fn ok<T: Serialize>(payload: T) -> Response {
    Json(json!({
        "status": { "code": 0, "message": "OK" },
        "payload": payload,
    }))
    .into_response()
}

/// 200 without a payload (deletes, cluster settings, the OpenAPI import).
pub fn ok_empty() -> Response {
    Json(json!({ "status": { "code": 0, "message": "OK" } })).into_response()
}

/// 200 with one page of a list: `payload: {"list": [...], "count": total}`.
pub fn ok_list(list: Vec<Value>, count: usize) -> Response {
    ok(json!({ "list": list, "count": count }))
}

/// Handlers answer `Result<Response, ApiError>`.
pub type Reply = Result<Response, ApiError>;
