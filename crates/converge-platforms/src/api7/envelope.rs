//! API7 Cloud's response envelope, `{"status":{"code","message"},"error","warning","payload"}`,
//! unwrapped: the payload of a success, the platform's words of a failure.

use serde::{Deserialize, Deserializer};

/// A success: `payload` is absent for deletes, the OpenAPI import and some updates.
#[derive(Deserialize)]
pub(super) struct Envelope<T> {
    pub warning: Option<String>,
    pub payload: Option<T>,
}

/// One page of a list: `payload: {"list": [...], "count": N}`, `count` over all pages.
#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub(super) struct Page<T> {
    #[serde(default = "Vec::new", deserialize_with = "null_default")]
    pub list: Vec<T>,
    pub count: u64,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    message: Option<String>,
}

/// The longest plain-text error body quoted in an error.
const MAX_TEXT: usize = 300;

/// The platform's message from an error answer: `error` holds the details and
/// `status.message` the kind ("already exists", "not found"...), so both are kept. A 5xx from
/// a proxy in front of the platform may be plain text, which is quoted (cut short).
pub fn error_message(_status: u16, body: &[u8]) -> Option<String> {
    if let Ok(e) = serde_json::from_slice::<ErrorEnvelope>(body) {
        let error = e.error.filter(|s| !s.trim().is_empty());
        let kind = e
            .status
            .and_then(|s| s.message)
            .filter(|s| !s.trim().is_empty());
        return match (error, kind) {
            (Some(error), Some(kind)) => Some(format!("{error} ({kind})")),
            (Some(one), None) | (None, Some(one)) => Some(one),
            (None, None) => None,
        };
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() || text.starts_with('{') {
        return None;
    }
    let mut quoted: String = text.chars().take(MAX_TEXT).collect();
    if quoted.len() < text.len() {
        quoted.push('…');
    }
    Some(quoted)
}

/// Go encodes an empty slice or map as `null`; read it as empty.
pub(super) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_details_and_the_kind_are_both_kept() {
        let body = br#"{"status":{"code":3,"message":"already exists"},"error":"application name \"a\" already exists"}"#;
        assert_eq!(
            error_message(409, body).as_deref(),
            Some("application name \"a\" already exists (already exists)")
        );
        let only_kind = br#"{"status":{"code":4,"message":"not found"}}"#;
        assert_eq!(error_message(404, only_kind).as_deref(), Some("not found"));
    }

    #[test]
    fn plain_text_is_quoted_and_empty_bodies_say_nothing() {
        assert_eq!(
            error_message(502, b"upstream connect error\n").as_deref(),
            Some("upstream connect error")
        );
        assert_eq!(error_message(500, b""), None);
        assert_eq!(error_message(500, b"{\"unrelated\": true"), None);
        let long = "x".repeat(1000);
        let cut = error_message(502, long.as_bytes()).unwrap();
        assert_eq!(cut.chars().count(), MAX_TEXT + 1);
    }
}
