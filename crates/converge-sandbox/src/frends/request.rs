//! Reading requests the way the Frends API (ASP.NET Core) does: JSON bodies need a JSON media
//! type (else 415), property names bind case-insensitively, unknown properties are ignored, and
//! a path parameter that is not a number is a 400.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::problem::Problem;
use crate::Credential;

/// The path parameters of every Frends route (each route has some of them).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ids {
    id: String,
    api_version: Option<String>,
    agent_group_id: Option<String>,
    passthrough_config_id: Option<String>,
}

impl Ids {
    pub fn spec(&self) -> Result<i64, Problem> {
        number("id", &self.id)
    }

    pub fn version(&self) -> Result<i32, Problem> {
        number(
            "apiVersion",
            self.api_version.as_deref().unwrap_or_default(),
        )
    }

    pub fn agent_group(&self) -> Result<i64, Problem> {
        number(
            "agentGroupId",
            self.agent_group_id.as_deref().unwrap_or_default(),
        )
    }

    pub fn passthrough(&self) -> Result<i64, Problem> {
        number(
            "passthroughConfigId",
            self.passthrough_config_id.as_deref().unwrap_or_default(),
        )
    }
}

fn number<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, Problem> {
    text.parse()
        .map_err(|_| Problem::invalid(field, format!("The value '{text}' is not valid.")))
}

/// The body bytes, or the framework's refusal (too large, cut short) as a problem.
pub fn bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Problem> {
    body.map_err(|r| Problem::new(r.status(), r.body_text()))
}

/// Whether the request says its body is JSON (`application/json`, `text/json`, `*/*+json`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || mime == "text/json" || mime.ends_with("+json")
}

/// Parses a JSON body; `None` when the body is empty (documented bodies are all optional).
pub fn json(headers: &HeaderMap, body: &Bytes) -> Result<Option<Value>, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !is_json(headers) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The request body must be sent as application/json.",
        ));
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| Problem::invalid("$", format!("The JSON value could not be read: {e}")))
}

/// The body of create and update: the OpenAPI document as one JSON string.
pub fn document_string(headers: &HeaderMap, body: &Bytes) -> Result<String, Problem> {
    match json(headers, body)? {
        Some(Value::String(document)) => Ok(document),
        None => Err(Problem::invalid(
            "$",
            "A non-empty request body is required.",
        )),
        Some(_) => Err(Problem::invalid(
            "$",
            "The request body must be a JSON string holding the OpenAPI document (JSON or YAML text).",
        )),
    }
}

/// A JSON object body as `T`, property names matched without regard to case.
pub fn model<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &Bytes,
    names: &[&str],
) -> Result<T, Problem> {
    let Some(value) = json(headers, body)? else {
        return Ok(T::default());
    };
    if value.is_null() {
        return Ok(T::default());
    }
    if !value.is_object() {
        return Err(Problem::invalid(
            "$",
            "The request body must be a JSON object.",
        ));
    }
    serde_json::from_value(canonical_names(value, names))
        .map_err(|e| Problem::invalid("$", format!("The JSON value could not be read: {e}")))
}

/// Renames object keys (at every depth) that match one of `names` ignoring case.
fn canonical_names(value: Value, names: &[&str]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = names
                        .iter()
                        .find(|n| n.eq_ignore_ascii_case(&k))
                        .map(|n| n.to_string())
                        .unwrap_or(k);
                    (key, canonical_names(v, names))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| canonical_names(v, names))
                .collect(),
        ),
        other => other,
    }
}

/// Who made a change, as `modifier` shows it: the caller's identity, never the secret.
pub fn modifier(headers: &HeaderMap) -> String {
    Credential::from_headers(headers)
        .map(|c| c.identity())
        .unwrap_or_else(|| "api".into())
}
