//! The JSON:API envelope as OpsChain speaks it: the `application/vnd.api+json` media type both
//! ways, `{"data": ...}` documents, and `{"errors": [...]}` bodies shaped like the Rails errors the
//! spec records (`Active Record - Record Not Found`, `Action Controller - Parameter Missing`,
//! `model error` validation failures with a `source.pointer`).

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// The only media type OpsChain reads and writes.
pub const MEDIA_TYPE: &str = "application/vnd.api+json";

/// A JSON:API response with OpsChain's media type.
pub fn document(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

/// `200 {"data": ...}`.
pub fn ok(data: Value) -> Response {
    document(StatusCode::OK, json!({ "data": data }))
}

/// `204 No Content`, as OpsChain answers archive, delete and cancel.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// An error response: one or more JSON:API error objects under one HTTP status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    errors: Vec<Value>,
}

impl ApiError {
    fn one(status: StatusCode, error: Value) -> Self {
        ApiError {
            status,
            errors: vec![error],
        }
    }

    /// 404 as Rails renders `ActiveRecord::RecordNotFound`: `Couldn't find <Model>`.
    pub fn not_found(model: &str) -> Self {
        Self::one(
            StatusCode::NOT_FOUND,
            json!({
                "status": 404,
                "title": "Active Record - Record Not Found",
                "meta": { "message": format!("Couldn't find {model}") },
            }),
        )
    }

    /// 404 with the bare exception name, as the spec records it for lookups that name no model
    /// (a missing project under `/workflows`, a properties version).
    pub fn record_not_found() -> Self {
        Self::one(
            StatusCode::NOT_FOUND,
            json!({
                "status": 404,
                "title": "Active Record - Record Not Found",
                "meta": { "message": "ActiveRecord::RecordNotFound" },
            }),
        )
    }

    /// 404 for a path no route serves (Rails answers a wrong method the same way: no 405).
    pub fn no_route(method: &Method, path: &str) -> Self {
        Self::one(
            StatusCode::NOT_FOUND,
            json!({
                "status": 404,
                "title": "Action Controller - Routing Error",
                "meta": { "message": format!("No route matches [{method}] \"{path}\"") },
            }),
        )
    }

    /// 400 `param is missing or the value is empty: <param>`.
    pub fn missing_param(param: &str) -> Self {
        Self::one(
            StatusCode::BAD_REQUEST,
            json!({
                "status": 400,
                "title": "Action Controller - Parameter Missing",
                "meta": { "message": format!("param is missing or the value is empty: {param}") },
            }),
        )
    }

    /// 400 `found unpermitted parameter(s): :a, :b`, Rails' strong-parameters wording.
    pub fn unpermitted(params: &[String]) -> Self {
        let names: Vec<String> = params.iter().map(|p| format!(":{p}")).collect();
        let noun = if names.len() == 1 {
            "parameter"
        } else {
            "parameters"
        };
        Self::one(
            StatusCode::BAD_REQUEST,
            json!({
                "status": 400,
                "title": "Action Controller - Unpermitted Parameters",
                "meta": { "message": format!("found unpermitted {noun}: {}", names.join(", ")) },
            }),
        )
    }

    /// 400 for a body that is not JSON. The title follows the Rails exception naming the
    /// other errors use (the spec records no example of this one).
    pub fn unparseable() -> Self {
        Self::one(
            StatusCode::BAD_REQUEST,
            json!({
                "status": 400,
                "title": "Action Dispatch - Parameter Parse Error",
                "meta": { "message": "Error occurred while parsing request parameters" },
            }),
        )
    }

    /// 422 model errors, one per failed validation: `{"status": 422, "code": "model error",
    /// "title": <message>, "source": {"pointer": "/data/attributes/<attribute>"}}`.
    pub fn invalid(failures: Vec<Invalid>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors: failures
                .into_iter()
                .map(|f| {
                    json!({
                        "status": 422,
                        "code": "model error",
                        "title": f.title,
                        "source": { "pointer": format!("/data/attributes/{}", f.attribute) },
                    })
                })
                .collect(),
        }
    }

    /// A single 422 model error about `attribute` (`base` for the record as a whole).
    pub fn model(attribute: &str, title: impl Into<String>) -> Self {
        Self::invalid(vec![Invalid::new(attribute, title)])
    }

    /// 422 `Unsupported project type`, as the spec answers workflow calls on a Standard project.
    pub fn unsupported_project_type(detail: String) -> Self {
        Self::one(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "status": 422, "title": "Unsupported project type", "detail": detail }),
        )
    }

    /// 403 for an approver the step does not name. The spec records this response with a body
    /// status of 422 under HTTP 403; the sandbox keeps that quirk.
    pub fn not_permitted(title: String) -> Self {
        Self::one(
            StatusCode::FORBIDDEN,
            json!({
                "status": 422,
                "code": "model error",
                "title": title,
                "source": { "pointer": "/data/attributes/base" },
            }),
        )
    }

    /// Any other status, with the HTTP reason as title and `detail` as the message. Used for
    /// authentication, media types, rate limits and injected faults.
    pub fn http(status: StatusCode, detail: &str) -> Self {
        Self::one(
            status,
            json!({
                "status": status.as_u16(),
                "title": status.canonical_reason().unwrap_or("Error"),
                "detail": detail,
            }),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        document(self.status, json!({ "errors": self.errors }))
    }
}

/// One failed validation for [`ApiError::invalid`].
pub struct Invalid {
    attribute: String,
    title: String,
}

impl Invalid {
    pub fn new(attribute: &str, title: impl Into<String>) -> Self {
        Invalid {
            attribute: attribute.to_string(),
            title: title.into(),
        }
    }
}

/// Handler result: a document or an OpsChain error.
pub type ApiResult = Result<Response, ApiError>;

/// Enforces the JSON:API media type rules around every platform route: a request body must be
/// `application/vnd.api+json` without parameters other than `ext`/`profile` (else 415); an Accept
/// header that lists the media type only with such parameters gets 406; every response carries
/// the media type.
pub async fn media_types(request: Request, next: Next) -> Response {
    if let Err(refused) = check_request(request.method(), request.headers()) {
        return refused.into_response();
    }
    let mut response = next.run(request).await;
    if response.status() != StatusCode::NO_CONTENT {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    }
    response
}

fn check_request(method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    let has_body = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|n| n > 0)
        .unwrap_or(headers.contains_key(header::TRANSFER_ENCODING));
    let writes = matches!(*method, Method::POST | Method::PATCH | Method::PUT);
    if writes && has_body {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !is_plain_media_type(content_type) {
            return Err(ApiError::http(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request bodies must be sent as application/vnd.api+json",
            ));
        }
    }
    if let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
        let ours: Vec<&str> = accept
            .split(',')
            .map(str::trim)
            .filter(|range| media_type_of(range).eq_ignore_ascii_case(MEDIA_TYPE))
            .collect();
        if !ours.is_empty() && !ours.iter().any(|range| is_plain_media_type(range)) {
            return Err(ApiError::http(
                StatusCode::NOT_ACCEPTABLE,
                "application/vnd.api+json is only served without media type parameters",
            ));
        }
    }
    Ok(())
}

fn media_type_of(value: &str) -> &str {
    value.split(';').next().unwrap_or("").trim()
}

/// The JSON:API media type with no parameters but `ext`, `profile` (and `q` in Accept).
fn is_plain_media_type(value: &str) -> bool {
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or("").trim();
    media.eq_ignore_ascii_case(MEDIA_TYPE)
        && parts.all(|p| {
            let name = p
                .split('=')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            matches!(name.as_str(), "ext" | "profile" | "q")
        })
}

/// The parsed request document, or `None` for an empty body.
pub fn parse_body(body: &[u8]) -> Result<Option<Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|_| ApiError::unparseable())
}

/// What a write request carries: `data.attributes` and the optional top-level `meta`.
pub struct Payload {
    pub attributes: Map<String, Value>,
    pub meta: Map<String, Value>,
}

impl Payload {
    /// `data.attributes` of a required body, refusing attributes outside `permitted` the way
    /// strong parameters do. `data.type` and `data.id` are accepted and ignored.
    pub fn required(body: &[u8], permitted: &[&str]) -> Result<Payload, ApiError> {
        let document = parse_body(body)?.ok_or_else(|| ApiError::missing_param("data"))?;
        Self::from_document(document, permitted)
    }

    /// Like [`Payload::required`], but an empty body (or one without `data`) is an empty
    /// payload: continue, approve and reject take an optional message.
    pub fn optional(body: &[u8], permitted: &[&str]) -> Result<Payload, ApiError> {
        match parse_body(body)? {
            None | Some(Value::Null) => Ok(Payload::empty()),
            Some(Value::Object(o)) if !o.contains_key("data") => Ok(Payload::empty()),
            Some(document) => Self::from_document(document, permitted),
        }
    }

    fn empty() -> Payload {
        Payload {
            attributes: Map::new(),
            meta: Map::new(),
        }
    }

    fn from_document(document: Value, permitted: &[&str]) -> Result<Payload, ApiError> {
        let Value::Object(mut document) = document else {
            return Err(ApiError::missing_param("data"));
        };
        let meta = match document.remove("meta") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let data = match document.remove("data") {
            Some(Value::Object(d)) if !d.is_empty() => d,
            _ => return Err(ApiError::missing_param("data")),
        };
        let attributes = match data.get("attributes") {
            Some(Value::Object(a)) if !a.is_empty() => a.clone(),
            _ => return Err(ApiError::missing_param("attributes")),
        };
        let unpermitted: Vec<String> = attributes
            .keys()
            .filter(|k| !permitted.contains(&k.as_str()))
            .cloned()
            .collect();
        if !unpermitted.is_empty() {
            return Err(ApiError::unpermitted(&unpermitted));
        }
        Ok(Payload { attributes, meta })
    }

    pub fn has(&self, key: &str) -> bool {
        self.attributes.contains_key(key)
    }

    /// A scalar attribute as text: numbers and booleans become text as Rails would cast them;
    /// `null` is absent; an object or array is refused as an unpermitted parameter.
    pub fn text(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.attributes.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(ApiError::unpermitted(&[key.to_string()])),
        }
    }

    /// A boolean attribute; `"true"`/`"false"`/`1`/`0` are cast as Rails casts them.
    pub fn flag(&self, key: &str) -> Result<Option<bool>, ApiError> {
        flag_value(key, self.attributes.get(key))
    }

    /// A boolean from the top-level `meta`, or from the attributes (some spec examples put
    /// `validate_flag` there).
    pub fn meta_flag(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match flag_value(key, self.meta.get(key))? {
            Some(b) => Ok(Some(b)),
            None => flag_value(key, self.attributes.get(key)),
        }
    }

    /// A JSON object attribute (`metadata`, `property_overrides`...).
    pub fn object(&self, key: &str) -> Result<Option<Map<String, Value>>, ApiError> {
        match self.attributes.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o.clone())),
            Some(_) => Err(ApiError::unpermitted(&[key.to_string()])),
        }
    }
}

fn flag_value(key: &str, value: Option<&Value>) -> Result<Option<bool>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.as_str() {
            "true" | "1" | "t" => Ok(Some(true)),
            "false" | "0" | "f" => Ok(Some(false)),
            _ => Err(ApiError::model(
                key,
                format!("{} is not a boolean", humanize(key)),
            )),
        },
        Some(Value::Number(n)) => Ok(Some(n.as_f64() != Some(0.0))),
        Some(_) => Err(ApiError::unpermitted(&[key.to_string()])),
    }
}

/// Rails' attribute humanization for messages: `project_type` → `Project type`.
pub fn humanize(attribute: &str) -> String {
    let words = attribute.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// OpsChain timestamps: RFC 3339 in UTC with microseconds, as in every spec example.
pub fn timestamp(t: jiff::Timestamp) -> String {
    format!("{t:.6}")
}

/// The body of a fallback response for unknown paths.
pub fn no_route_response(method: &Method, path: &str) -> Response {
    ApiError::no_route(method, path).into_response()
}
