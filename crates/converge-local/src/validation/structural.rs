//! Decoding an object against its structural schema, as the apiserver's custom resource codec
//! does before any validation: `metadata` read as an `ObjectMeta`, unknown fields pruned (or,
//! under strict field validation, refused), nulls dropped where the schema is neither nullable
//! nor defaulted, then defaults applied. Also the list-type rules (`x-kubernetes-list-type`
//! map and set), which the apiserver checks beside the schema.

use serde_json::{Map, Value};

use super::schema::{Kind, object_meta};
use super::{Cause, FieldValidation, Seg, render};

/// Decodes `obj` in place; returns what makes it undecodable (unknown fields under strict
/// validation, a malformed `metadata`).
pub fn decode(kind: &Kind, obj: &mut Value, fields: FieldValidation) -> Vec<Cause> {
    let Some(root) = obj.as_object_mut() else {
        return vec![Cause::new(Vec::new(), "the object must be a JSON object")];
    };
    let mut causes = Vec::new();
    let mut unknown = Vec::new();
    if let Some(meta) = root.get_mut("metadata") {
        causes.extend(decode_meta(meta, &mut unknown));
    }
    for (k, v) in root.iter_mut() {
        if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(s) = kind.schema["properties"].get(k) {
            prune(v, Some(s), &mut vec![Seg::Key(k.clone())], &mut unknown);
        }
    }
    let declared = kind.schema["properties"].as_object();
    root.retain(|k, _| {
        let keep = matches!(k.as_str(), "apiVersion" | "kind" | "metadata")
            || declared.is_some_and(|p| p.contains_key(k));
        if !keep {
            unknown.push(vec![Seg::Key(k.clone())]);
        }
        keep
    });
    if fields == FieldValidation::Strict && !unknown.is_empty() {
        let mut found: Vec<Cause> = unknown
            .into_iter()
            .map(|p| {
                let name = render(&p);
                Cause::new(p, format!("unknown field {name:?}"))
            })
            .collect();
        found.sort_by(|a, b| a.message.cmp(&b.message));
        found.dedup();
        causes.extend(found);
    }
    if !causes.is_empty() {
        return causes;
    }
    prune_nulls(obj, &kind.schema);
    default(obj, &kind.schema);
    Vec::new()
}

/// Decodes only `status` (a write to the status subresource).
pub fn decode_status(kind: &Kind, obj: &mut Value, fields: FieldValidation) -> Vec<Cause> {
    let Some(schema) = kind.schema["properties"].get("status") else {
        return Vec::new();
    };
    let Some(status) = obj.get_mut("status") else {
        return Vec::new();
    };
    let mut unknown = Vec::new();
    prune(
        status,
        Some(schema),
        &mut vec![Seg::Key("status".into())],
        &mut unknown,
    );
    if fields == FieldValidation::Strict && !unknown.is_empty() {
        return unknown
            .into_iter()
            .map(|p| {
                let name = render(&p);
                Cause::new(p, format!("unknown field {name:?}"))
            })
            .collect();
    }
    prune_nulls(status, schema);
    default(status, schema);
    Vec::new()
}

/// `metadata` as the apiserver reads an `ObjectMeta`: unknown fields pruned and recorded, and
/// a field of the wrong type refused.
fn decode_meta(meta: &mut Value, unknown: &mut Vec<Vec<Seg>>) -> Vec<Cause> {
    let path = vec![Seg::Key("metadata".into())];
    if meta.is_null() {
        *meta = Value::Object(Map::new());
    }
    if !meta.is_object() {
        return vec![Cause::new(
            path,
            format!(
                "metadata: json: cannot unmarshal {} into Go value of type v1.ObjectMeta",
                json_type(meta)
            ),
        )];
    }
    prune(meta, Some(object_meta()), &mut path.clone(), unknown);
    match serde_path_to_error::deserialize::<
        _,
        k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    >(meta.clone())
    {
        Ok(_) => Vec::new(),
        Err(e) => {
            let field = e.path().to_string();
            let mut p = path.clone();
            p.extend(
                field
                    .split('.')
                    .filter(|s| !s.is_empty() && *s != "?")
                    .map(|s| Seg::Key(s.to_string())),
            );
            let name = render(&p);
            vec![Cause::new(
                p,
                format!("{name}: cannot be decoded: {}", e.into_inner()),
            )]
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn preserves_unknown(s: &Value) -> bool {
    s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
}

fn embedded(s: &Value) -> bool {
    s.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true))
}

fn additional(s: &Value) -> Option<&Value> {
    s.get("additionalProperties").filter(|a| a.is_object())
}

/// The apiserver's pruning: fields the schema does not declare are removed and recorded,
/// except under `x-kubernetes-preserve-unknown-fields` (where declared fields are still pruned
/// inside).
fn prune(x: &mut Value, s: Option<&Value>, path: &mut Vec<Seg>, unknown: &mut Vec<Vec<Seg>>) {
    prune_in(x, s, false, path, unknown);
}

/// `preserving`: inside a list whose schema preserves unknown fields, the items do too (the
/// apiserver's `skipPrune`).
fn prune_in(
    x: &mut Value,
    s: Option<&Value>,
    preserving: bool,
    path: &mut Vec<Seg>,
    unknown: &mut Vec<Vec<Seg>>,
) {
    let preserve = preserving || s.is_some_and(preserves_unknown);
    match x {
        Value::Object(map) => {
            let Some(s) = s else {
                if preserve {
                    return;
                }
                for k in map.keys() {
                    let mut p = path.clone();
                    p.push(Seg::Key(k.clone()));
                    unknown.push(p);
                }
                map.clear();
                return;
            };
            let props = s.get("properties").and_then(Value::as_object);
            let add = additional(s);
            let mut remove = Vec::new();
            for (k, v) in map.iter_mut() {
                if embedded(s) && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                path.push(Seg::Key(k.clone()));
                if let Some(p) = props.and_then(|p| p.get(k)) {
                    prune(v, Some(p), path, unknown);
                } else if let Some(a) = add {
                    prune(v, Some(a), path, unknown);
                } else if !preserve {
                    unknown.push(path.clone());
                    remove.push(k.clone());
                }
                path.pop();
            }
            for k in remove {
                map.remove(&k);
            }
        }
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.get("items"));
            if preserve && item_schema.is_none() {
                return;
            }
            for (i, v) in items.iter_mut().enumerate() {
                path.push(Seg::Index(i));
                prune_in(v, item_schema, preserve, path, unknown);
                path.pop();
            }
        }
        _ => {}
    }
}

fn nullable(s: &Value) -> bool {
    s.get("nullable") == Some(&Value::Bool(true))
}

fn field_schema<'a>(s: &'a Value, k: &str) -> Option<&'a Value> {
    s.get("properties")
        .and_then(|p| p.get(k))
        .or_else(|| additional(s))
}

/// The apiserver's `PruneNonNullableNullsWithoutDefaults`.
fn prune_nulls(x: &mut Value, s: &Value) {
    match x {
        Value::Object(map) => {
            map.retain(|k, v| {
                let fs = field_schema(s, k);
                !(v.is_null() && fs.is_some_and(|fs| !nullable(fs) && fs.get("default").is_none()))
            });
            for (k, v) in map.iter_mut() {
                if let Some(fs) = field_schema(s, k) {
                    prune_nulls(v, fs);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                items.iter_mut().for_each(|v| prune_nulls(v, is));
            }
        }
        _ => {}
    }
}

/// The apiserver's structural defaulting: a missing field, or a null one where the schema is
/// not nullable, takes the schema's default; then the children are defaulted.
pub fn default(x: &mut Value, s: &Value) {
    match x {
        Value::Object(map) => {
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                for (k, prop) in props {
                    let Some(d) = prop.get("default") else {
                        continue;
                    };
                    let missing = match map.get(k) {
                        None => true,
                        Some(v) => v.is_null() && !nullable(prop),
                    };
                    if missing {
                        map.insert(k.clone(), d.clone());
                    }
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(p) = s.get("properties").and_then(|p| p.get(k)) {
                    default(v, p);
                } else if let Some(a) = additional(s) {
                    if v.is_null()
                        && !nullable(a)
                        && let Some(d) = a.get("default")
                    {
                        *v = d.clone();
                    }
                    default(v, a);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                for v in items.iter_mut() {
                    if v.is_null()
                        && !nullable(is)
                        && let Some(d) = is.get("default")
                    {
                        *v = d.clone();
                    }
                    default(v, is);
                }
            }
        }
        _ => {}
    }
}

/// `x-kubernetes-list-type`: a `set` holds no value twice; a `map` no two items with the same
/// keys. The apiserver's messages name the second of the two.
pub fn list_types(kind: &Kind, obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    if let Some(props) = kind.schema.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            if let Some(v) = obj.get(k) {
                walk_lists(v, s, &mut vec![Seg::Key(k.clone())], &mut out);
            }
        }
    }
    out
}

fn walk_lists(x: &Value, s: &Value, path: &mut Vec<Seg>, out: &mut Vec<Cause>) {
    match x {
        Value::Array(items) => {
            match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => {
                    for (i, v) in items.iter().enumerate() {
                        if items[..i].contains(v) {
                            let mut p = path.clone();
                            p.push(Seg::Index(i));
                            let name = render(&p);
                            out.push(Cause::new(
                                p,
                                format!("{name}: Duplicate value: {}", go_value(v)),
                            ));
                        }
                    }
                }
                Some("map") => {
                    let keys: Vec<&str> = s
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let item_schema = s.get("items");
                    let key_of = |v: &Value| -> Map<String, Value> {
                        keys.iter()
                            .filter_map(|k| {
                                let value = v.get(*k).cloned().or_else(|| {
                                    item_schema
                                        .and_then(|is| is["properties"][*k].get("default"))
                                        .cloned()
                                })?;
                                Some((k.to_string(), value))
                            })
                            .collect()
                    };
                    let seen: Vec<Map<String, Value>> = items.iter().map(key_of).collect();
                    for (i, k) in seen.iter().enumerate() {
                        if !items[i].is_object() {
                            continue;
                        }
                        if seen[..i].contains(k) {
                            let mut p = path.clone();
                            p.push(Seg::Index(i));
                            let name = render(&p);
                            out.push(Cause::new(
                                p,
                                format!(
                                    "{name}: Duplicate value: {}",
                                    serde_json::to_string(&Value::Object(k.clone()))
                                        .unwrap_or_default()
                                ),
                            ));
                        }
                    }
                }
                _ => {}
            }
            if let Some(is) = s.get("items") {
                for (i, v) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    walk_lists(v, is, path, out);
                    path.pop();
                }
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                if let Some(fs) = field_schema(s, k) {
                    path.push(Seg::Key(k.clone()));
                    walk_lists(v, fs, path, out);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

/// A value as the apiserver's field errors print it: strings quoted, numbers and booleans as
/// they are, anything else as JSON.
pub fn go_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}
