//! The CRDs' CEL rules (`x-kubernetes-validations`), evaluated by kube's CEL implementation
//! (kube-cel, kube's `cel` feature), transition rules (`oldSelf`) included when there is an old
//! object: on an update, a rule with `oldSelf` runs wherever the field exists in both.

use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use super::schema::Kind;
use super::{Cause, Seg};

fn validator() -> &'static Mutex<kube::core::cel::Validator> {
    static V: OnceLock<Mutex<kube::core::cel::Validator>> = OnceLock::new();
    V.get_or_init(|| Mutex::new(kube::core::cel::Validator::new()))
}

pub fn validate(kind: &Kind, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let Some(compiled) = &kind.cel else {
        return Vec::new();
    };
    // The apiserver's CEL sees a field set to null as not set (`has()` is false).
    let obj = without_nulls(obj);
    let old = old.map(without_nulls);
    let result = validator()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .validate_compiled(compiled, &obj, old.as_ref());
    let Err(errors) = result else {
        return Vec::new();
    };
    errors
        .into_iter()
        .map(|e| {
            let path = parse_path(&e.field_path);
            let field = if e.field_path.is_empty() {
                "<nil>".to_string()
            } else {
                e.field_path.clone()
            };
            let ty = schema_type(&kind.schema, &path);
            let body = match e.reason.as_deref() {
                Some("FieldValueForbidden") => format!("Forbidden: {}", e.message),
                Some("FieldValueRequired") => format!("Required value: {}", e.message),
                Some("FieldValueDuplicate") => format!("Duplicate value: {:?}: {}", ty, e.message),
                _ => format!("Invalid value: {ty:?}: {}", e.message),
            };
            Cause::new(path, format!("{field}: {body}"))
        })
        .collect()
}

fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// `spec.steps[0].weight` as segments.
fn parse_path(p: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in p.split('.').filter(|s| !s.is_empty()) {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            out.push(Seg::Key(key.to_string()));
        }
        for idx in rest.split('[') {
            if let Ok(i) = idx.trim_end_matches(']').parse() {
                out.push(Seg::Index(i));
            }
        }
    }
    out
}

/// The schema type at `path`, as the apiserver names the value of a failed rule.
fn schema_type(schema: &Value, path: &[Seg]) -> String {
    super::schema::at(schema, path)
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("object")
        .to_string()
}
