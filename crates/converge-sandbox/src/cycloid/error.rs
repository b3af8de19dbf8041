//! Cycloid's error envelope, `{"errors":[{"code","message","details"}]}`, and the success
//! envelopes `{"data": ...}` (lists add `"pagination"`).
//!
//! Codes follow the spec's shared responses: `Unauthenticated` (401), `Unauthorized` (403),
//! `NotFoundEntity` (404), `RetryOperation` (503 and 429, both with Retry-After), `Unexpected`
//! (other 5xx). The docs name no code for validation, duplicates or bad bodies, so the sandbox
//! picks `InvalidParameters` (422), `AlreadyExists` (409, the status the real API uses for a
//! duplicate), `Conflict` (409, a state that forbids the operation), `BadRequest` (400, a body
//! that does not parse), `UnsupportedMediaType` (415), `MethodNotAllowed` (405) and `NotFound`
//! (404, an unknown path).

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answered in Cycloid's envelope.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// An entity of the path does not exist (`not_found_entity_in_path`).
    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError {
            details: vec![what.into()],
            ..ApiError::new(StatusCode::NOT_FOUND, "NotFoundEntity", "Entity not found")
        }
    }

    /// Validation failures, in go-swagger's wording ("name in body is required").
    pub fn invalid(violations: Vec<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "InvalidParameters",
            message: violations.join("; "),
            details: violations,
        }
    }

    /// One validation failure.
    pub fn invalid_one(violation: impl Into<String>) -> Self {
        ApiError::invalid(vec![violation.into()])
    }

    /// The canonical or name is taken.
    pub fn already_exists(what: impl Into<String>) -> Self {
        ApiError {
            details: vec![what.into()],
            ..ApiError::new(
                StatusCode::CONFLICT,
                "AlreadyExists",
                "The entity already exists",
            )
        }
    }

    /// A body sent without Content-Length (`required_content_length_header`, answered without
    /// a body as the spec shows).
    pub fn length_required() -> Self {
        ApiError::new(StatusCode::LENGTH_REQUIRED, "LengthRequired", "")
    }

    /// The entity's state forbids the operation.
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, "Conflict", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::LENGTH_REQUIRED {
            return (self.status, [(header::CONTENT_LENGTH, "0")]).into_response();
        }
        let mut item = json!({ "code": self.code, "message": self.message });
        if !self.details.is_empty() {
            item["details"] = json!(self.details);
        }
        (self.status, Json(json!({ "errors": [item] }))).into_response()
    }
}

/// The code the shared layers' errors (authentication, rate limit, faults) carry.
pub fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequest",
        401 => "Unauthenticated",
        403 => "Unauthorized",
        404 => "NotFoundEntity",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        411 => "LengthRequired",
        415 => "UnsupportedMediaType",
        422 => "InvalidParameters",
        429 | 503 => "RetryOperation",
        _ => "Unexpected",
    }
}

/// `200 {"data": data}`.
pub fn data(value: Value) -> Response {
    Json(json!({ "data": value })).into_response()
}

/// `200 {"data": [...], "pagination": {"index","size","total"}}`.
pub fn page(items: Vec<Value>, pagination: Value) -> Response {
    Json(json!({ "data": items, "pagination": pagination })).into_response()
}

/// `204` without a body.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The handlers' result: a response or an error in the envelope.
pub type ApiResult = Result<Response, ApiError>;
