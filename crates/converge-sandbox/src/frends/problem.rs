//! Frends errors: RFC 9457 problem details (`application/problem+json`), as ASP.NET Core renders
//! them: `type` (the RFC 9110 section of the status), `title` (the reason phrase), `status`,
//! `detail`, `instance` (the request path), plus the `traceId` extension ASP.NET adds and, for
//! validation failures, an `errors` map of field to messages.

use std::collections::BTreeMap;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The media type of every Frends error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One error response. Handlers return it; [`fill_instance`] adds the request path. Boxed: it
/// travels in every `Result` of the handlers.
#[derive(Clone, Debug)]
pub struct Problem(Box<Details>);

/// The members of a problem.
#[derive(Clone, Debug)]
pub struct Details {
    pub status: StatusCode,
    pub title: String,
    pub detail: String,
    /// Field name → messages, for validation failures (ASP.NET's ValidationProblemDetails).
    pub errors: Option<BTreeMap<String, Vec<String>>>,
    pub instance: Option<String>,
    trace_id: String,
}

impl std::ops::Deref for Problem {
    type Target = Details;
    fn deref(&self) -> &Details {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut Details {
        &mut self.0
    }
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem(Box::new(Details {
            status,
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            detail: detail.into(),
            errors: None,
            instance: None,
            trace_id: trace_id(),
        }))
    }

    /// The detail alone (for seed errors, which the admin surface reports as text).
    pub fn into_detail(self) -> String {
        self.0.detail
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, detail)
    }

    /// The request is well formed but the current state refuses it (a base path in use, a locked
    /// version, a specification still in other agent groups, an unpublished version to deploy).
    pub fn conflict(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::CONFLICT, detail)
    }

    /// A 400 naming the offending field, with ASP.NET's validation title.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut p = Problem::new(StatusCode::BAD_REQUEST, message.clone());
        p.title = "One or more validation errors occurred.".into();
        p.errors = Some(BTreeMap::from([(field.to_string(), vec![message])]));
        p
    }

    fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&Body {
            kind: type_uri(self.status),
            title: &self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            instance: self.instance.as_deref(),
            trace_id: &self.trace_id,
            errors: self.errors.as_ref(),
        })
        .unwrap_or_default()
    }
}

/// The members in the order RFC 9457 lists them, then the extensions.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    instance: Option<&'a str>,
    trace_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a BTreeMap<String, Vec<String>>>,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = self.body();
        let mut response = (self.status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response.extensions_mut().insert(self);
        response
    }
}

/// Middleware around the Frends routes: a problem without `instance` gets the request path.
/// (Problems made by the shared layers outside, such as 401 or 429, keep `instance: null`.)
pub async fn fill_instance(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let Some(problem) = response.extensions().get::<Problem>() else {
        return response;
    };
    if problem.instance.is_some() {
        return response;
    }
    let mut problem = problem.clone();
    problem.instance = Some(path);
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = problem.body();
    parts.extensions.insert(problem);
    Response::from_parts(parts, axum::body::Body::from(body))
}

fn type_uri(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        401 => "https://tools.ietf.org/html/rfc9110#section-15.5.2",
        403 => "https://tools.ietf.org/html/rfc9110#section-15.5.4",
        404 => "https://tools.ietf.org/html/rfc9110#section-15.5.5",
        405 => "https://tools.ietf.org/html/rfc9110#section-15.5.6",
        409 => "https://tools.ietf.org/html/rfc9110#section-15.5.10",
        413 => "https://tools.ietf.org/html/rfc9110#section-15.5.14",
        415 => "https://tools.ietf.org/html/rfc9110#section-15.5.16",
        429 => "https://tools.ietf.org/html/rfc6585#section-4",
        500 => "https://tools.ietf.org/html/rfc9110#section-15.6.1",
        501 => "https://tools.ietf.org/html/rfc9110#section-15.6.2",
        502 => "https://tools.ietf.org/html/rfc9110#section-15.6.3",
        503 => "https://tools.ietf.org/html/rfc9110#section-15.6.4",
        504 => "https://tools.ietf.org/html/rfc9110#section-15.6.5",
        _ => "about:blank",
    }
}

/// A W3C trace context id, the shape ASP.NET puts in `traceId`.
fn trace_id() -> String {
    format!(
        "00-{}-{:016x}-00",
        uuid::Uuid::new_v4().simple(),
        rand::random::<u64>()
    )
}
