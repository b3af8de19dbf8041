//! Request bodies: the JSON object a create takes, and the checks its schema implies.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde_json::{Map, Value};

use super::error::ApiError;

/// A request body that is a JSON object sent as `application/json`. Every create in the spec
/// has `requestBody.required: true`, so an empty body is a 400 as well.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let mime = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("a JSON request body is required"));
        }
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the request body must be sent as Content-Type: application/json",
            ));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::bad_request(
                "the request body must be a JSON object",
            )),
            Err(e) => Err(ApiError::bad_request(format!(
                "the request body is not valid JSON: {e}"
            ))),
        }
    }
}

/// Reads the fields of a body, collecting every problem so one 400 names them all.
pub struct Fields {
    map: Map<String, Value>,
    problems: Vec<String>,
}

impl Fields {
    pub fn new(JsonObject(map): JsonObject) -> Self {
        Fields {
            map,
            problems: Vec::new(),
        }
    }

    /// A string the schema lists as required. Blank strings count as missing.
    pub fn required(&mut self, name: &str) -> Option<String> {
        match self.map.get(name) {
            None | Some(Value::Null) => {
                self.problems.push(format!("{name} is required"));
                None
            }
            Some(_) => self.optional(name),
        }
    }

    /// An optional string: absent or null is None; present, it must be a non-blank string.
    pub fn optional(&mut self, name: &str) -> Option<String> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.problems.push(format!("{name} must not be empty"));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.problems.push(format!("{name} must be a string"));
                None
            }
        }
    }

    /// An optional free text, which may be empty.
    pub fn text(&mut self, name: &str) -> Option<String> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.problems.push(format!("{name} must be a string"));
                None
            }
        }
    }

    /// A required string that must be one of an enum's values.
    pub fn required_enum<T: Copy>(&mut self, name: &str, values: &[(&str, T)]) -> Option<T> {
        let given = self.required(name)?;
        let found = values
            .iter()
            .find(|(wire, _)| *wire == given)
            .map(|(_, v)| *v);
        if found.is_none() {
            let names: Vec<&str> = values.iter().map(|(wire, _)| *wire).collect();
            self.problems
                .push(format!("{name} must be one of: {}", names.join(", ")));
        }
        found
    }

    /// Records a problem when a rule does not hold.
    pub fn check(&mut self, holds: bool, problem: impl FnOnce() -> String) {
        if !holds {
            self.problems.push(problem());
        }
    }

    /// A 400 naming every problem found, or Ok.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::bad_request(self.problems.join("; ")))
        }
    }
}

/// A git commit hash, full or abbreviated: 7 to 40 hexadecimal digits.
pub fn is_commit_hash(s: &str) -> bool {
    (7..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}
