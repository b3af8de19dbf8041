//! Choreo's error body. The spec documents the statuses (400, 401, 404) but no error schema, so
//! the sandbox answers every error with the shape of WSO2's API Manager `ErrorDTO`, which the
//! Choreo control plane is built on: `{"code": <HTTP status>, "message": <reason phrase>,
//! "description": <what went wrong>}`. The shared layers (401, 429, injected 5xx) use it too.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The one error envelope of the Choreo sandbox.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// The HTTP status, repeated so a logged body stands on its own.
    pub code: u16,
    /// The status's reason phrase, e.g. "Not Found".
    pub message: String,
    /// What went wrong, for a human: the field, the id, the rule.
    pub description: String,
}

/// Renders a status and a description in the envelope.
pub fn envelope(status: StatusCode, description: &str) -> Response {
    let body = ErrorBody {
        code: status.as_u16(),
        message: status.canonical_reason().unwrap_or("Error").to_string(),
        description: description.to_string(),
    };
    (status, Json(body)).into_response()
}

/// A 401 with the bearer challenge RFC 6750 asks for.
pub fn unauthorized(description: &str, challenge: &'static str) -> Response {
    let mut response = envelope(StatusCode::UNAUTHORIZED, description);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

/// An error a handler returns; rendered in the envelope.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub description: String,
}

impl ApiError {
    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, description)
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, description)
    }

    /// A name already taken in its parent (project in an organization, component in a project).
    pub fn conflict(description: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, description)
    }

    pub fn new(status: StatusCode, description: impl Into<String>) -> Self {
        ApiError {
            status,
            description: description.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        envelope(self.status, &self.description)
    }
}
