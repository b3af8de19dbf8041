//! The structural schema's value validations with the `jsonschema` crate, and the apiserver's
//! messages for them.
//!
//! A CRD schema is OpenAPI v3, not JSON Schema: before compiling, `nullable` becomes a `null`
//! type, `x-kubernetes-int-or-string` the pair of types it allows, a `pattern` written for Go's
//! RE2 gets the same meaning under Rust's `regex` (`\d` and `\w` are ASCII there too), and the
//! keywords only Kubernetes knows (`x-kubernetes-*`, `default`, `format`) are taken out: unknown
//! fields, defaults and list types are the structural step's, and formats are checked here by
//! hand, for exactly the formats the apiserver checks.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::{Map, Value, json};

use super::schema::Kind;
use super::structural::go_value;
use super::{Cause, Seg, render};

/// Compiles a CRD schema for value validation.
pub fn compile(schema: &Value) -> jsonschema::Validator {
    let converted = convert(schema);
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(false)
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(&converted)
        .unwrap_or_else(|e| panic!("a CRD schema compiles: {e}\n{converted}"))
}

/// Validates `obj` (decoded and defaulted) against its kind's schema.
pub fn validate(kind: &Kind, obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    for e in kind.values.iter_errors(obj) {
        let path = segments(obj, e.instance_path().as_str());
        if matches!(path.first(), Some(Seg::Key(k)) if k == "metadata" || k == "apiVersion" || k == "kind")
        {
            continue; // the apiserver checks these apart (`meta`)
        }
        out.push(Cause::new(
            path.clone(),
            message(&kind.schema, &path, e.instance(), e.kind()),
        ));
    }
    formats(obj, &kind.schema, &mut Vec::new(), &mut out);
    out
}

/// A JSON pointer into `obj`, as field path segments (an array's children are indexes).
fn segments(obj: &Value, pointer: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut at = obj;
    for raw in pointer.split('/').skip(1) {
        let key = raw.replace("~1", "/").replace("~0", "~");
        match at {
            Value::Array(a) => {
                let i: usize = key.parse().unwrap_or(0);
                out.push(Seg::Index(i));
                at = a.get(i).unwrap_or(&Value::Null);
            }
            _ => {
                at = at.get(&key).unwrap_or(&Value::Null);
                out.push(Seg::Key(key));
            }
        }
    }
    out
}

/// kube-openapi's message for one failed keyword, as the apiserver's field error shows it.
fn message(schema: &Value, path: &[Seg], value: &Value, kind: &ValidationErrorKind) -> String {
    let field = render(path);
    let invalid = |detail: String| format!("{field}: Invalid value: {}: {detail}", go_value(value));
    let limit = |v: &Value| match v.as_f64() {
        Some(f) if f.fract() == 0.0 => format!("{}", f as i64),
        _ => v.to_string(),
    };
    match kind {
        ValidationErrorKind::Required { property } => {
            let child = property.as_str().unwrap_or_default();
            let name = if field.is_empty() {
                child.to_string()
            } else {
                format!("{field}.{child}")
            };
            format!("{name}: Required value")
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(ts) => ts
                    .iter()
                    .map(|t| t.to_string())
                    .filter(|t| t != "null")
                    .collect::<Vec<_>>()
                    .join(","),
            };
            // A fraction where an int32/int64 is declared: kube-openapi names the format.
            let format = super::schema::at(schema, path)["format"]
                .as_str()
                .unwrap_or_default();
            if value.is_f64() && (format == "int32" || format == "int64") {
                return format!(
                    "{field}: Invalid value: \"float64\": {field} in body must be of type {format}: \"float64\""
                );
            }
            format!(
                "{field}: Invalid value: {:?}: {field} in body must be of type {expected}: {:?}",
                converge_core::json_type(value),
                converge_core::json_type(value)
            )
        }
        ValidationErrorKind::Enum { options } => {
            let allowed: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|v| !v.is_null())
                        .map(|v| match v {
                            Value::String(s) => format!("{s:?}"),
                            other => format!("{:?}", other.to_string()),
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{field}: Unsupported value: {}: supported values: {}",
                go_value(value),
                allowed.join(", ")
            )
        }
        ValidationErrorKind::MaxLength { limit } => {
            let unit = if *limit == 1 { "byte" } else { "bytes" };
            format!("{field}: Too long: may not be more than {limit} {unit}")
        }
        ValidationErrorKind::MinLength { limit } => invalid(format!(
            "{field} in body should be at least {limit} chars long"
        )),
        ValidationErrorKind::Pattern { .. } => invalid(format!(
            "{field} in body should match '{}'",
            super::schema::at(schema, path)["pattern"]
                .as_str()
                .unwrap_or_default()
        )),
        ValidationErrorKind::Maximum { limit: l } => invalid(format!(
            "{field} in body should be less than or equal to {}",
            limit(l)
        )),
        ValidationErrorKind::Minimum { limit: l } => invalid(format!(
            "{field} in body should be greater than or equal to {}",
            limit(l)
        )),
        ValidationErrorKind::ExclusiveMaximum { limit: l } => {
            invalid(format!("{field} in body should be less than {}", limit(l)))
        }
        ValidationErrorKind::ExclusiveMinimum { limit: l } => invalid(format!(
            "{field} in body should be greater than {}",
            limit(l)
        )),
        ValidationErrorKind::MaxItems { limit } => {
            let n = value.as_array().map_or(0, Vec::len);
            let unit = if *limit == 1 { "item" } else { "items" };
            format!("{field}: Too many: {n}: must have at most {limit} {unit}")
        }
        ValidationErrorKind::MinItems { limit } => format!(
            "{field}: Invalid value: {}: {field} in body should have at least {limit} items",
            value.as_array().map_or(0, Vec::len)
        ),
        ValidationErrorKind::MaxProperties { limit } => {
            let n = value.as_object().map_or(0, Map::len);
            let unit = if *limit == 1 { "item" } else { "items" };
            format!("{field}: Too many: {n}: must have at most {limit} {unit}")
        }
        ValidationErrorKind::MinProperties { limit } => invalid(format!(
            "{field} in body should have at least {limit} properties"
        )),
        ValidationErrorKind::MultipleOf { multiple_of } => invalid(format!(
            "{field} in body should be a multiple of {multiple_of}"
        )),
        ValidationErrorKind::UniqueItems => {
            invalid(format!("{field} in body shouldn't contain duplicates"))
        }
        other => invalid(format!("{field} in body is invalid: {other:?}")),
    }
}

/// The conversion from a structural schema to the JSON Schema `jsonschema` validates.
fn convert(s: &Value) -> Value {
    let Some(o) = s.as_object() else {
        return s.clone();
    };
    let mut out = Map::new();
    let nullable = o.get("nullable") == Some(&Value::Bool(true));
    let mut types: Vec<Value> = match o.get("type") {
        Some(Value::String(t)) => vec![json!(t)],
        _ if o.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) => {
            vec![json!("integer"), json!("string")]
        }
        _ => Vec::new(),
    };
    if !types.is_empty() {
        if nullable {
            types.push(json!("null"));
        }
        out.insert(
            "type".into(),
            if types.len() == 1 {
                types.remove(0)
            } else {
                Value::Array(types)
            },
        );
    }
    for (k, v) in o {
        match k.as_str() {
            "properties" => {
                let props: Map<String, Value> = v
                    .as_object()
                    .map(|p| p.iter().map(|(k, v)| (k.clone(), convert(v))).collect())
                    .unwrap_or_default();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "not" => {
                out.insert(k.clone(), convert(v));
            }
            "additionalProperties" if v.is_object() => {
                out.insert(k.clone(), convert(v));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let list: Vec<Value> = v
                    .as_array()
                    .map(|a| a.iter().map(convert).collect())
                    .unwrap_or_default();
                out.insert(k.clone(), Value::Array(list));
            }
            "enum" => {
                let mut values = v.as_array().cloned().unwrap_or_default();
                if nullable {
                    values.push(Value::Null);
                }
                out.insert(k.clone(), Value::Array(values));
            }
            "pattern" => {
                if let Some(p) = v.as_str() {
                    out.insert(k.clone(), json!(rust_pattern(p)));
                }
            }
            "required" | "maxLength" | "minLength" | "maxItems" | "minItems" | "uniqueItems"
            | "minimum" | "maximum" | "multipleOf" | "maxProperties" | "minProperties" => {
                out.insert(k.clone(), v.clone());
            }
            // OpenAPI v3.0's boolean form, as JSON Schema draft 7 writes it.
            "exclusiveMaximum" | "exclusiveMinimum" => {
                let bound = if k == "exclusiveMaximum" {
                    "maximum"
                } else {
                    "minimum"
                };
                if v == &Value::Bool(true)
                    && let Some(b) = o.get(bound)
                {
                    out.insert(k.clone(), b.clone());
                    out.remove(bound);
                }
            }
            _ => {}
        }
    }
    // `exclusiveMaximum` may come before `maximum` in the map: never keep both.
    for (ex, bound) in [
        ("exclusiveMaximum", "maximum"),
        ("exclusiveMinimum", "minimum"),
    ] {
        if out.contains_key(ex) {
            out.remove(bound);
        }
    }
    Value::Object(out)
}

/// A Go RE2 pattern for Rust's `regex`: the classes Go keeps ASCII (`\d`, `\w`, `\s` and
/// their negations) are spelled out, since Rust's are Unicode by default.
pub fn rust_pattern(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 8);
    let mut chars = p.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('d' | 'w' | 's')) => {
                    let set = match e {
                        'd' => "0-9",
                        'w' => "0-9A-Za-z_",
                        _ => "\\t\\n\\f\\r ",
                    };
                    if in_class {
                        out.push_str(set);
                    } else {
                        out.push('[');
                        out.push_str(set);
                        out.push(']');
                    }
                }
                Some(e @ ('D' | 'W' | 'S')) if !in_class => {
                    out.push_str(match e {
                        'D' => "[^0-9]",
                        'W' => "[^0-9A-Za-z_]",
                        _ => "[^\\t\\n\\f\\r ]",
                    });
                }
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` (or `^]`) right after the opening bracket is a literal.
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                if chars.peek() == Some(&']') {
                    out.push(chars.next().unwrap_or(']'));
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// String formats, as the apiserver checks them (kube-openapi's strfmt); unknown formats are
/// not checked, as there.
fn formats(x: &Value, s: &Value, path: &mut Vec<Seg>, out: &mut Vec<Cause>) {
    match x {
        Value::String(text) => {
            if let Some(format) = s.get("format").and_then(Value::as_str)
                && s.get("type")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t == "string")
                && let Some(ok) = check_format(format, text)
                && !ok
            {
                let field = render(path);
                out.push(Cause::new(
                    path.clone(),
                    format!(
                        "{field}: Invalid value: {text:?}: {field} in body must be of type {format}: {text:?}"
                    ),
                ));
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let child = s
                    .get("properties")
                    .and_then(|p| p.get(k))
                    .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()));
                if let Some(cs) = child {
                    path.push(Seg::Key(k.clone()));
                    formats(v, cs, path, out);
                    path.pop();
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                for (i, v) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    formats(v, is, path, out);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

/// Whether `text` has `format`; None for a format the apiserver does not check.
pub fn check_format(format: &str, text: &str) -> Option<bool> {
    static UUID: OnceLock<regex::Regex> = OnceLock::new();
    static DATE_TIME: OnceLock<regex::Regex> = OnceLock::new();
    static HOSTNAME: OnceLock<regex::Regex> = OnceLock::new();
    let normalized = format.replace('-', "");
    Some(match normalized.as_str() {
        "datetime" => {
            let re = DATE_TIME.get_or_init(|| {
                regex::Regex::new(
                    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
                )
                .expect("a valid regex")
            });
            re.is_match(text) && text[..10].parse::<jiff::civil::Date>().is_ok()
        }
        "date" => text.len() == 10 && text.parse::<jiff::civil::Date>().is_ok(),
        "byte" => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(text).is_ok()
        }
        "uuid" => UUID
            .get_or_init(|| {
                regex::Regex::new(
                    r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
                )
                .expect("a valid regex")
            })
            .is_match(text),
        "ipv4" => text.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => text.parse::<std::net::Ipv6Addr>().is_ok(),
        "hostname" => {
            text.len() <= 255
                && HOSTNAME
                    .get_or_init(|| {
                        regex::Regex::new(
                            r"^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])(\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]{0,61}[a-zA-Z0-9]))*\.?$",
                        )
                        .expect("a valid regex")
                    })
                    .is_match(text)
        }
        "password" => true,
        // int32, int64, float, double: not checked for numbers either (kube-openapi).
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_classes_stay_ascii() {
        let re = regex::Regex::new(&rust_pattern(r"^[\da-z]+\w$")).unwrap();
        assert!(re.is_match("a1_"));
        assert!(
            !re.is_match("\u{0663}a"),
            "an Arabic-Indic digit is not \\d in Go"
        );
        assert_eq!(
            rust_pattern(r"^\S+\s[^\d]$"),
            r"^[^\t\n\f\r ]+[\t\n\f\r ][^0-9]$"
        );
    }

    #[test]
    fn nullable_and_int_or_string_become_json_schema_types() {
        let s = json!({"type": "object", "properties": {
            "a": {"type": "string", "nullable": true, "enum": ["x"]},
            "b": {"x-kubernetes-int-or-string": true},
            "c": {"type": "integer", "maximum": 5, "exclusiveMaximum": true, "default": 1}}});
        let c = convert(&s);
        assert_eq!(
            c["properties"]["a"],
            json!({"type": ["string", "null"], "enum": ["x", null]})
        );
        assert_eq!(c["properties"]["b"], json!({"type": ["integer", "string"]}));
        assert_eq!(
            c["properties"]["c"],
            json!({"type": "integer", "exclusiveMaximum": 5})
        );
    }

    #[test]
    fn every_format_the_crds_use_is_checked_or_known_unchecked() {
        fn walk(v: &Value, out: &mut Vec<(String, String)>) {
            match v {
                Value::Object(o) => {
                    if let (Some(f), Some(t)) = (o.get("format"), o.get("type")) {
                        out.push((
                            t.as_str().unwrap_or_default().into(),
                            f.as_str().unwrap_or_default().into(),
                        ));
                    }
                    o.values().for_each(|v| walk(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        walk(
            &serde_json::to_value(converge_api::crds::all()).unwrap(),
            &mut found,
        );
        for (t, f) in found {
            match t.as_str() {
                "string" => assert!(
                    check_format(&f, "x").is_some() || f == "int-or-string",
                    "string format {f:?} is in a CRD: teach check_format what the apiserver does with it"
                ),
                "integer" => assert!(["int32", "int64"].contains(&f.as_str()), "{f}"),
                "number" => assert!(["float", "double"].contains(&f.as_str()), "{f}"),
                _ => {}
            }
        }
        assert_eq!(
            check_format("date-time", "2026-01-02T03:04:05Z"),
            Some(true)
        );
        assert_eq!(
            check_format("date-time", "2026-13-02T03:04:05Z"),
            Some(false)
        );
        assert_eq!(check_format("k8s-short-name", "x"), None);
    }
}
