//! What wraps Choreo's objects and errors on the wire: `{"list": [...]}` around every list,
//! `pagination` beside the APIs list, and WSO2's `ErrorDTO` around every error.

use serde::Deserialize;
use serde_json::Value;

/// `{"list": [...]}`, the envelope of every list.
#[derive(Deserialize)]
pub(super) struct List<T> {
    pub list: Vec<T>,
}

/// The APIs list: one page and where it sits in the whole.
#[derive(Deserialize)]
pub(super) struct Page<T> {
    pub list: Vec<T>,
    pub pagination: Pagination,
}

/// Schema `Pagination`. Only `total` steers the walk: the offset advances by what a page
/// holds, so a server that caps `limit` below what was asked is still walked to the end.
#[derive(Deserialize)]
pub(super) struct Pagination {
    pub total: usize,
}

/// The platform's words from an error body. Choreo answers errors with WSO2's `ErrorDTO`:
/// `{"code", "message", "description", "moreInfo", "error": [{"code", "message",
/// "description"}]}`, where `code` is the HTTP status from the control plane and a string
/// such as "900902" from the gateway. `message` is a bare reason phrase ("Not Found") from the
/// control plane, which the status already says, and a short reason ("Missing Credentials")
/// from the gateway; `description` says what went wrong; `error` lists field problems.
pub(super) fn error_message(status: u16, body: &[u8]) -> Option<String> {
    let body: Value = serde_json::from_slice(body).ok()?;
    let text = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    let message = text(&body, "message");
    let description = text(&body, "description");
    let head = match (message, description) {
        (Some(m), Some(d)) if reason.is_some_and(|r| r.eq_ignore_ascii_case(&m)) => Some(d),
        (Some(m), Some(d)) => Some(format!("{m}: {d}")),
        (m, d) => m.or(d),
    };
    let details: Vec<String> = body
        .get("error")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(
            |item| match (text(item, "message"), text(item, "description")) {
                (Some(m), Some(d)) => Some(format!("{m}: {d}")),
                (m, d) => m.or(d),
            },
        )
        .collect();
    match (head, details.is_empty()) {
        (head, true) => head,
        (Some(head), false) => Some(format!("{head} ({})", details.join("; "))),
        (None, false) => Some(details.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::error_message;

    fn message(status: u16, body: &str) -> Option<String> {
        error_message(status, body.as_bytes())
    }

    #[test]
    fn a_control_plane_error_gives_its_description() {
        assert_eq!(
            message(
                404,
                r#"{"code":404,"message":"Not Found","description":"API a1 not found in organization acme"}"#
            )
            .as_deref(),
            Some("API a1 not found in organization acme")
        );
    }

    #[test]
    fn a_gateway_error_keeps_its_reason_and_description() {
        assert_eq!(
            message(
                401,
                r#"{"code":"900902","message":"Missing Credentials","description":"Make sure your API invocation call has a header: 'Authorization: Bearer ACCESS_TOKEN'"}"#
            )
            .as_deref(),
            Some(
                "Missing Credentials: Make sure your API invocation call has a header: 'Authorization: Bearer ACCESS_TOKEN'"
            )
        );
    }

    #[test]
    fn field_problems_follow_the_description() {
        assert_eq!(
            message(
                400,
                r#"{"code":400,"message":"Bad Request","description":"Invalid request","moreInfo":"","error":[{"code":"890","message":"name","description":"must not be empty"},{"message":"type is invalid"}]}"#
            )
            .as_deref(),
            Some("Invalid request (name: must not be empty; type is invalid)")
        );
        assert_eq!(
            message(400, r#"{"error":[{"description":"repoUrl is required"}]}"#).as_deref(),
            Some("repoUrl is required")
        );
    }

    #[test]
    fn a_lone_reason_is_still_the_platforms_word() {
        assert_eq!(
            message(503, r#"{"code":503,"message":"Service Unavailable"}"#).as_deref(),
            Some("Service Unavailable")
        );
    }

    #[test]
    fn bodies_outside_the_envelope_give_nothing() {
        for body in [
            "",
            "<html>bad gateway</html>",
            "[]",
            r#"{"code":502}"#,
            r#"{"message":"  "}"#,
        ] {
            assert_eq!(message(502, body), None, "{body}");
        }
    }
}
