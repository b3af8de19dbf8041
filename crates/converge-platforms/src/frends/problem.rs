//! Frends error bodies: RFC 9457 problem details (`application/problem+json`) as ASP.NET Core
//! renders them, `{type, title, status, detail, instance}` plus, for validation failures, an
//! `errors` map of field to messages. The platform's words are `detail` (or `title` when there is
//! no detail, as in ASP.NET's own validation problems) and the fields `errors` names.

use serde_json::Value;

/// The platform's message from an error body, for [`crate::HttpConfig::error_message`]:
/// `detail` (else `title`), followed by the fields of `errors` in parentheses; a field whose
/// messages only repeat `detail` is named without them. None when the body is not a problem.
pub fn error_message(_status: u16, body: &[u8]) -> Option<String> {
    let problem: Value = serde_json::from_slice(body).ok()?;
    let text = |key: &str| {
        problem
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let headline = text("detail").or_else(|| text("title"));
    let fields = problem
        .get("errors")
        .map(|errors| describe_errors(errors, headline.unwrap_or_default()))
        .filter(|f| !f.is_empty());
    match (headline, fields) {
        (Some(h), Some(f)) => Some(format!("{h} ({f})")),
        (Some(h), None) => Some(h.to_string()),
        (None, Some(f)) => Some(f),
        (None, None) => None,
    }
}

/// Whether Frends refused a create because another API is served on the base path: the
/// documented refusal ("A path is already used in an existing API"). The docs give the words,
/// not the status, so any 4xx carrying them counts.
pub fn is_path_in_use(error: &crate::ClientError) -> bool {
    matches!(error.status(), Some(400..=499))
        && error
            .message()
            .to_ascii_lowercase()
            .contains("path is already used")
}

/// `errors` is a map of field to messages (ValidationProblemDetails); a bare list of messages
/// or a field with one string is accepted too.
fn describe_errors(errors: &Value, headline: &str) -> String {
    let messages = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.trim().to_string()],
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .map(|s| s.trim().to_string())
                .collect(),
            _ => vec![],
        }
    };
    let parts: Vec<String> = match errors {
        Value::Object(fields) => fields
            .iter()
            .map(|(field, v)| {
                let own: Vec<String> = messages(v)
                    .into_iter()
                    .filter(|m| !m.is_empty() && m != headline)
                    .collect();
                if own.is_empty() {
                    field.clone()
                } else {
                    format!("{field}: {}", own.join(", "))
                }
            })
            .collect(),
        other => messages(other)
            .into_iter()
            .filter(|m| !m.is_empty() && m != headline)
            .collect(),
    };
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::error_message;

    #[test]
    fn detail_is_the_message_and_validation_fields_follow() {
        let conflict = br#"{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.10","title":"Conflict","status":409,"detail":"A path is already used in an existing API: /a","instance":"/x"}"#;
        assert_eq!(
            error_message(409, conflict).as_deref(),
            Some("A path is already used in an existing API: /a")
        );
        let invalid = br#"{"title":"One or more validation errors occurred.","status":400,"detail":"The base path cannot be modified.","errors":{"basePath":["The base path cannot be modified."]}}"#;
        assert_eq!(
            error_message(400, invalid).as_deref(),
            Some("The base path cannot be modified. (basePath)")
        );
    }

    #[test]
    fn aspnet_validation_problems_without_detail_use_title_and_errors() {
        let body = br#"{"title":"One or more validation errors occurred.","status":400,"errors":{"PageSize":["The value 'x' is not valid."],"$":["Bad JSON."]}}"#;
        assert_eq!(
            error_message(400, body).as_deref(),
            Some(
                "One or more validation errors occurred. ($: Bad JSON.; PageSize: The value 'x' is not valid.)"
            )
        );
    }

    #[test]
    fn bodies_that_are_not_problems_have_no_message() {
        assert_eq!(error_message(502, b"<html>Bad gateway</html>"), None);
        assert_eq!(error_message(401, b""), None);
        assert_eq!(error_message(500, br#"{"status":500}"#), None);
    }
}
