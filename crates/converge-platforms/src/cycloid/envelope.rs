//! Cycloid's envelopes: `{"data": ...}` around every answer, `"pagination"` (page number
//! paging) or `"pagination_concourse"` (build id paging) beside list data, and
//! `{"errors":[{"code","message","details"}]}` around every error.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::model::null_as_empty;
use crate::ClientError;

/// `{"data": T}`.
#[derive(Deserialize)]
pub(super) struct Data<T> {
    pub data: T,
}

/// `{"data": [T], "pagination": {...}}`, paged by `page_index` (from 1) and `page_size`.
#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub(super) struct Page<T> {
    #[serde(deserialize_with = "null_as_empty")]
    pub data: Vec<T>,
    pub pagination: Pagination,
}

/// Where a page sits in the whole list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub(super) struct Pagination {
    /// The page sent, from 1.
    pub index: u64,
    /// Items per page.
    pub size: u64,
    /// Items in the whole (filtered) list.
    pub total: u64,
}

/// `{"data": [T], "pagination_concourse": {"next", "previous"}}`: Concourse pages by build id.
#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub(super) struct ConcoursePage<T> {
    #[serde(deserialize_with = "null_as_empty")]
    pub data: Vec<T>,
    pub pagination_concourse: PaginationConcourse,
}

/// The neighbouring pages of a Concourse page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub(super) struct PaginationConcourse {
    /// Older items: ask again with `concourse_page_since = next.since` (0: no older page).
    pub next: PageConcourse,
    /// Newer items: `concourse_page_until = previous.until` (0: no newer page).
    pub previous: PageConcourse,
}

/// One Concourse page: all zeros when the page does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub(super) struct PageConcourse {
    pub limit: u64,
    pub since: u64,
    pub until: u64,
}

/// Decodes a value already taken out of its envelope, naming the field that failed.
pub(super) fn decode_value<T: DeserializeOwned>(
    operation: &'static str,
    value: Value,
) -> Result<T, ClientError> {
    serde_path_to_error::deserialize(value).map_err(|e| ClientError::Decode {
        platform: super::PLATFORM,
        operation,
        message: match e.path().to_string().as_str() {
            "." => e.into_inner().to_string(),
            path => format!("{path}: {}", e.into_inner()),
        },
    })
}

/// An answer the contract shows two ways: enveloped (the spec's schema) or bare (the docs'
/// sample of `updateComponent`). A JSON object with a `data` member is the envelope.
pub(super) fn data_or_bare(value: Value) -> Value {
    match value {
        Value::Object(mut map) if map.contains_key("data") => {
            map.remove("data").unwrap_or(Value::Null)
        }
        other => other,
    }
}

/// `sendEvent` answers the registered event as the spec's object or as the docs' one-element
/// list; both mean the same event.
pub(super) fn one_or_first(operation: &'static str, value: Value) -> Result<Value, ClientError> {
    match value {
        Value::Array(items) => items.into_iter().next().ok_or(ClientError::Decode {
            platform: super::PLATFORM,
            operation,
            message: "data: an empty list instead of the registered event".into(),
        }),
        other => Ok(other),
    }
}

#[derive(Deserialize)]
struct ErrorPayload {
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    details: Vec<String>,
}

/// A bare `{"message": ...}`, as a proxy or gateway in front of the API may answer.
#[derive(Deserialize)]
struct BareMessage {
    message: String,
}

/// The platform's own words from an error body: `code: message: details` for each item of
/// `errors` (details the message already says are not repeated), or a bare `message`.
pub fn error_message(_status: u16, body: &[u8]) -> Option<String> {
    if let Ok(payload) = serde_json::from_slice::<ErrorPayload>(body) {
        let items: Vec<String> = payload
            .errors
            .into_iter()
            .filter_map(|item| {
                let extra: Vec<&str> = item
                    .details
                    .iter()
                    .map(String::as_str)
                    .filter(|d| !d.is_empty() && !item.message.contains(d))
                    .collect();
                let mut parts: Vec<String> = Vec::new();
                if !item.code.is_empty() {
                    parts.push(item.code.clone());
                }
                if !item.message.is_empty() {
                    parts.push(item.message.clone());
                }
                if !extra.is_empty() {
                    parts.push(extra.join("; "));
                }
                (!parts.is_empty()).then(|| parts.join(": "))
            })
            .collect();
        if !items.is_empty() {
            return Some(items.join("; "));
        }
    }
    serde_json::from_slice::<BareMessage>(body)
        .ok()
        .map(|m| m.message)
        .filter(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_carry_code_message_and_new_details() {
        let body = br#"{"errors":[{"code":"NotFoundEntity","message":"Entity not found","details":["project \"x\" not found"]}]}"#;
        assert_eq!(
            error_message(404, body).as_deref(),
            Some(r#"NotFoundEntity: Entity not found: project "x" not found"#)
        );
        let body = br#"{"errors":[{"code":"InvalidParameters","message":"name in body is required; a in body","details":["name in body is required","a in body"]}]}"#;
        assert_eq!(
            error_message(422, body).as_deref(),
            Some("InvalidParameters: name in body is required; a in body")
        );
        let body = br#"{"errors":[{"code":"A","message":"one"},{"code":"B","message":"two","details":null}]}"#;
        assert_eq!(error_message(400, body).as_deref(), Some("A: one; B: two"));
        assert_eq!(
            error_message(502, br#"{"message":"bad gateway"}"#).as_deref(),
            Some("bad gateway")
        );
        assert_eq!(error_message(411, b""), None);
        assert_eq!(error_message(500, br#"{"errors":[]}"#), None);
        assert_eq!(error_message(500, b"<html>oops</html>"), None);
    }

    #[test]
    fn envelopes_unwrap_both_shapes() {
        let v = serde_json::json!({"data": {"id": 1}});
        assert_eq!(data_or_bare(v), serde_json::json!({"id": 1}));
        let v = serde_json::json!({"id": 1});
        assert_eq!(data_or_bare(v.clone()), v);
        let first = one_or_first("op", serde_json::json!([{"id": 2}])).unwrap();
        assert_eq!(first, serde_json::json!({"id": 2}));
        assert!(matches!(
            one_or_first("op", serde_json::json!([])),
            Err(ClientError::Decode { .. })
        ));
    }
}
