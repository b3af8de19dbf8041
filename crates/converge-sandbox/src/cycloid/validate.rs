//! Request validation as the Cycloid API (go-swagger) does it: the documented patterns and
//! lengths, required fields, enums, forbidden properties, media types; violations are worded
//! like go-swagger's ("name in body is required") and answered together in one 422.

use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};

use super::error::ApiError;

/// The patterns the docs give, matched by hand (the regular expressions are simple character
/// classes with fixed first and last characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Organization, config repository, team, credential, cloud provider: 3..100.
    Canonical,
    /// Project canonical and stack use case: 1..100.
    ProjectCanonical,
    /// Environment and component canonical in a request body: at least two characters.
    EnvCanonical,
    /// Project, environment and component canonical in a path.
    PathCanonical,
    /// Pipeline names, in a body or a path.
    PipelineName,
    /// Event tag values.
    TagValue,
    /// Event colors: a CSS keyword, lowercase letters only.
    Color,
    /// Build ids in a path.
    Digits,
}

impl Pattern {
    /// The pattern as the docs write it, for messages.
    pub fn source(self) -> &'static str {
        match self {
            Pattern::Canonical => r"^[a-z0-9]+[a-z0-9\-_]+[a-z0-9]+$",
            Pattern::ProjectCanonical => r"(^[a-z0-9]+(([a-z0-9\-_]+)?[a-z0-9]+)?$)",
            Pattern::EnvCanonical => r"^[\da-zA-Z]+(?:[\da-zA-Z\-._]+[\da-zA-Z]|[\da-zA-Z])$",
            Pattern::PathCanonical => r"^[\da-zA-Z]+(?:(?:[\da-zA-Z\-._]+)?[\da-zA-Z])?$",
            Pattern::PipelineName => r"^[a-z0-9]+[a-z0-9\-._]+[a-z0-9]+$",
            Pattern::TagValue => r"^(?:[\w\-+=.:/@ ]*)$",
            Pattern::Color => "[a-z]+",
            Pattern::Digits => "^[0-9]+$",
        }
    }

    pub fn matches(self, s: &str) -> bool {
        let lower_alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        let alnum = |c: char| c.is_ascii_alphanumeric();
        match self {
            Pattern::Canonical => framed(s, 3, lower_alnum, |c| {
                lower_alnum(c) || c == '-' || c == '_'
            }),
            Pattern::ProjectCanonical => framed(s, 1, lower_alnum, |c| {
                lower_alnum(c) || c == '-' || c == '_'
            }),
            Pattern::EnvCanonical => {
                framed(s, 2, alnum, |c| alnum(c) || matches!(c, '-' | '.' | '_'))
            }
            Pattern::PathCanonical => {
                framed(s, 1, alnum, |c| alnum(c) || matches!(c, '-' | '.' | '_'))
            }
            Pattern::PipelineName => framed(s, 3, lower_alnum, |c| {
                lower_alnum(c) || matches!(c, '-' | '.' | '_')
            }),
            Pattern::TagValue => s.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, '_' | '-' | '+' | '=' | '.' | ':' | '/' | '@' | ' ')
            }),
            Pattern::Color => !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase()),
            Pattern::Digits => !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()),
        }
    }
}

/// At least `min` characters, `edge` ones first and last, `inner` ones everywhere.
fn framed(s: &str, min: usize, edge: impl Fn(char) -> bool, inner: impl Fn(char) -> bool) -> bool {
    let chars: Vec<char> = s.chars().collect();
    chars.len() >= min
        && chars.first().is_some_and(|c| edge(*c))
        && chars.last().is_some_and(|c| edge(*c))
        && chars.iter().all(|c| inner(*c))
}

/// The colors of the CSS 2 specification the event docs point to; hexadecimal values are not
/// accepted.
pub const CSS2_COLORS: [&str; 17] = [
    "aqua", "black", "blue", "fuchsia", "gray", "green", "lime", "maroon", "navy", "olive",
    "orange", "purple", "red", "silver", "teal", "white", "yellow",
];

/// The cloud providers `cloud_provider` and `cloud_provider_canonical` accept.
pub const CLOUD_PROVIDERS: [(&str, &str); 5] = [
    ("aws", "Amazon Web Services"),
    ("google", "Google Cloud Platform"),
    ("azurerm", "Microsoft Azure"),
    ("flexibleengine", "Flexible Engine"),
    ("openstack", "OpenStack"),
];

/// A config repository URL as the spec's pattern accepts it: a local path ending in `.git`, or
/// `host:path` / `scheme://host/path` (the pattern is not anchored at its end).
pub fn is_git_url(url: &str) -> bool {
    if (url.starts_with('/') || url.starts_with('~')) && url.contains(".git") {
        return true;
    }
    let host_char =
        |c: char| c.is_alphanumeric() || c == '_' || matches!(c, ']' | '+' | '@' | '[' | '.');
    let path_char =
        |c: char| c.is_alphanumeric() || c == '_' || matches!(c, '.' | '@' | ':' | '/' | '-' | '~');
    url.char_indices().any(|(i, c)| {
        if c != ':' || i == 0 || !url[..i].chars().last().is_some_and(host_char) {
            return false;
        }
        let rest = url[i + 1..].strip_prefix("//").unwrap_or(&url[i + 1..]);
        rest.chars().next().is_some_and(path_char)
    })
}

/// The canonical the platform derives from a name when none is given: lowercase, runs of other
/// characters turned into one '-', trimmed.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// A path parameter and the rule it follows.
pub enum PathRule {
    Pattern(Pattern, usize, usize),
    Length(usize, usize),
}

/// Validates path parameters (422 as go-swagger answers them).
pub fn check_path(params: &[(&str, &str, PathRule)]) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    for (name, value, rule) in params {
        let len = value.chars().count();
        let (min, max) = match rule {
            PathRule::Pattern(_, min, max) | PathRule::Length(min, max) => (*min, *max),
        };
        if len < min {
            errors.push(format!(
                "{name} in path should be at least {min} chars long"
            ));
        } else if len > max {
            errors.push(format!("{name} in path should be at most {max} chars long"));
        } else if let PathRule::Pattern(p, _, _) = rule
            && !p.matches(value)
        {
            errors.push(format!("{name} in path should match '{}'", p.source()));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(errors))
    }
}

/// The organization canonical of a path.
pub fn org_param(org: &str) -> (&'static str, &str, PathRule) {
    (
        "organization_canonical",
        org,
        PathRule::Pattern(Pattern::Canonical, 3, 100),
    )
}

/// A project, environment or component canonical of a path.
pub fn canonical_param<'a>(
    name: &'static str,
    value: &'a str,
) -> (&'static str, &'a str, PathRule) {
    (
        name,
        value,
        PathRule::Pattern(Pattern::PathCanonical, 1, 100),
    )
}

/// The body of a request, decoded from its media type.
///
/// JSON bodies are accepted as `application/vnd.cycloid.io.v1+json` (the documented type),
/// `application/json` or any `+json` type; `application/x-www-form-urlencoded` as the spec also
/// lists it (flat fields only). Anything else is a 415. A body without Content-Length is a 411.
pub fn body(headers: &HeaderMap, bytes: &[u8]) -> Result<Fields, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_one("body in body is required"));
    }
    if !headers.contains_key(header::CONTENT_LENGTH) {
        return Err(ApiError::length_required());
    }
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let (value, form) = if media == "application/json" || media.ends_with("+json") {
        let value = serde_json::from_slice::<Value>(bytes).map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("parsing body body from \"\" failed, because {e}"),
            )
        })?;
        (value, false)
    } else if media == "application/x-www-form-urlencoded" {
        let text = String::from_utf8_lossy(bytes);
        let map: Map<String, Value> = super::query::pairs(&text)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        (Value::Object(map), true)
    } else {
        return Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "unsupported media type {media:?}, only [application/vnd.cycloid.io.v1+json application/x-www-form-urlencoded] are allowed"
            ),
        ));
    };
    match value {
        Value::Object(map) => Ok(Fields {
            map,
            form,
            errors: Vec::new(),
        }),
        other => Err(ApiError::invalid_one(format!(
            "body in body must be of type object: \"{}\"",
            type_name(&other)
        ))),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A request body being validated: typed reads that record every violation, then `finish`.
pub struct Fields {
    map: Map<String, Value>,
    /// Form bodies carry every value as a string; booleans and integers are parsed from it.
    form: bool,
    errors: Vec<String>,
}

impl Fields {
    fn present(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn missing(&mut self, name: &str, required: bool) {
        if required {
            self.errors.push(format!("{name} in body is required"));
        }
    }

    fn wrong_type(&mut self, name: &str, want: &str, got: &Value) {
        self.errors.push(format!(
            "{name} in body must be of type {want}: \"{}\"",
            type_name(got)
        ));
    }

    /// A string field.
    pub fn string(&mut self, name: &str, required: bool) -> Option<String> {
        match self.present(name).cloned() {
            None => {
                self.missing(name, required);
                None
            }
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                self.wrong_type(name, "string", &other);
                None
            }
        }
    }

    /// A boolean field.
    pub fn boolean(&mut self, name: &str, required: bool) -> Option<bool> {
        match self.present(name).cloned() {
            None => {
                self.missing(name, required);
                None
            }
            Some(Value::Bool(b)) => Some(b),
            Some(Value::String(s)) if self.form && (s == "true" || s == "false") => {
                Some(s == "true")
            }
            Some(other) => {
                self.wrong_type(name, "boolean", &other);
                None
            }
        }
    }

    /// A non-negative integer field.
    pub fn uint(&mut self, name: &str, required: bool) -> Option<u64> {
        match self.present(name).cloned() {
            None => {
                self.missing(name, required);
                None
            }
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
            Some(Value::String(s)) if self.form && s.parse::<u64>().is_ok() => s.parse().ok(),
            Some(Value::Number(_)) => {
                self.errors.push(format!(
                    "{name} in body should be greater than or equal to 0"
                ));
                None
            }
            Some(other) => {
                self.wrong_type(name, "integer", &other);
                None
            }
        }
    }

    /// An object field.
    pub fn object(&mut self, name: &str, required: bool) -> Option<Map<String, Value>> {
        match self.present(name).cloned() {
            None => {
                self.missing(name, required);
                None
            }
            Some(Value::Object(m)) => Some(m),
            Some(other) => {
                self.wrong_type(name, "object", &other);
                None
            }
        }
    }

    /// An array field.
    pub fn array(&mut self, name: &str, required: bool) -> Option<Vec<Value>> {
        match self.present(name).cloned() {
            None => {
                self.missing(name, required);
                None
            }
            Some(Value::Array(a)) => Some(a),
            Some(other) => {
                self.wrong_type(name, "array", &other);
                None
            }
        }
    }

    /// Length in characters, `max` 0 for none.
    pub fn length(&mut self, name: &str, value: Option<&str>, min: usize, max: usize) -> bool {
        let Some(value) = value else { return true };
        let len = value.chars().count();
        if len < min {
            self.errors.push(format!(
                "{name} in body should be at least {min} chars long"
            ));
            false
        } else if max > 0 && len > max {
            self.errors
                .push(format!("{name} in body should be at most {max} chars long"));
            false
        } else {
            true
        }
    }

    /// A documented pattern (checked only when the length was right, as go-swagger reports one
    /// failure per field).
    pub fn pattern(&mut self, name: &str, value: Option<&str>, pattern: Pattern) {
        if let Some(value) = value
            && !pattern.matches(value)
        {
            self.errors.push(format!(
                "{name} in body should match '{}'",
                pattern.source()
            ));
        }
    }

    /// Length then pattern.
    pub fn canonical(
        &mut self,
        name: &str,
        value: Option<&str>,
        pattern: Pattern,
        min: usize,
        max: usize,
    ) {
        if self.length(name, value, min, max) {
            self.pattern(name, value, pattern);
        }
    }

    /// The canonical given, or the one derived from the name (checked against the same
    /// pattern, since a name like "!!!" gives none).
    pub fn canonical_or_slug(
        &mut self,
        canonical: Option<String>,
        name: Option<&str>,
        pattern: Pattern,
        max: usize,
    ) -> Option<String> {
        if canonical.is_some() {
            return canonical;
        }
        let derived = slug(name?);
        if !pattern.matches(&derived) || derived.chars().count() > max {
            self.errors.push(format!(
                "canonical in body should match '{}' (derived from the name)",
                pattern.source()
            ));
        }
        Some(derived)
    }

    /// One of the enum's values.
    pub fn one_of(&mut self, name: &str, value: Option<&str>, allowed: &[&str]) {
        if let Some(value) = value
            && !allowed.contains(&value)
        {
            self.errors.push(format!(
                "{name} in body should be one of [{}]",
                allowed.join(" ")
            ));
        }
    }

    /// Schemas with `additionalProperties: false` reject any other property.
    pub fn forbid_others(&mut self, allowed: &[&str]) {
        let extra: Vec<String> = self
            .map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in extra {
            self.errors
                .push(format!("{k} in body is a forbidden property"));
        }
    }

    /// Records a violation found by the caller.
    pub fn violation(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }

    /// 422 with every violation, or Ok.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.errors))
        }
    }
}

/// Stack form variables (`FormVariables`): section → group → variable → any value.
pub fn form_variables(fields: &mut Fields, name: &str, vars: &Map<String, Value>) {
    for (section, groups) in vars {
        let Value::Object(groups) = groups else {
            fields.violation(format!("{name}.{section} in body must be of type object"));
            continue;
        };
        for (group, variables) in groups {
            if !variables.is_object() {
                fields.violation(format!(
                    "{name}.{section}.{group} in body must be of type object"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_patterns_follow_the_docs() {
        assert!(Pattern::Canonical.matches("acme-config"));
        assert!(!Pattern::Canonical.matches("ab"));
        assert!(!Pattern::Canonical.matches("-abc"));
        assert!(!Pattern::Canonical.matches("Acme"));
        assert!(Pattern::ProjectCanonical.matches("a"));
        assert!(!Pattern::ProjectCanonical.matches("a."));
        assert!(Pattern::EnvCanonical.matches("Prod.eu-1"));
        assert!(!Pattern::EnvCanonical.matches("p"));
        assert!(Pattern::PathCanonical.matches("p"));
        assert!(Pattern::PipelineName.matches("billing-api.deploy"));
        assert!(!Pattern::PipelineName.matches("Billing"));
        assert!(Pattern::TagValue.matches("payments team:1/2@x"));
        assert!(!Pattern::TagValue.matches("a,b"));
    }

    #[test]
    fn git_urls_follow_the_spec_pattern() {
        assert!(is_git_url("git@github.com:acme/config.git"));
        assert!(is_git_url("https://github.com/acme/config.git"));
        assert!(is_git_url("/srv/git/config.git"));
        assert!(!is_git_url("not a url"));
        assert!(!is_git_url(""));
    }

    #[test]
    fn slug_derives_canonicals_from_names() {
        assert_eq!(slug("Billing API"), "billing-api");
        assert_eq!(slug("  Été / Prod "), "t-prod");
    }
}
