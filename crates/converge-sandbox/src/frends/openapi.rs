//! Reading the OpenAPI document a specification is made of: JSON or YAML, OpenAPI 2.0
//! (`swagger`) or 3.x (`openapi`). Frends takes the name from `info.title`, the description from
//! `info.description`, and the base path from `basePath` (OpenAPI 2) or the first server URL
//! (OpenAPI 3); a document without them is refused.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Methods an OpenAPI path item can hold operations for.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// What Frends keeps from a document.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub name: String,
    pub description: Option<String>,
    /// `basePath` (OpenAPI 2) or `servers[0].url` (OpenAPI 3), as declared (without a trailing
    /// slash). This is what can never change after creation.
    pub base_path: String,
    /// Path template → upper-case methods with an operation.
    pub operations: BTreeMap<String, BTreeSet<String>>,
}

impl Document {
    /// The URL path the API is served under, lower-cased: two specifications may not share it.
    pub fn path_key(&self) -> String {
        path_key(&self.base_path)
    }
}

/// The URL path part of a base path or server URL, lower-cased (ASP.NET routes ignore case).
pub fn path_key(base_path: &str) -> String {
    let path = match base_path.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => base_path,
    };
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.to_lowercase()
    }
}

/// Parses and checks a document. The error is the detail of a 400.
pub fn parse(text: &str) -> Result<Document, String> {
    if text.trim().is_empty() {
        return Err("The API specification is empty.".into());
    }
    let root = match serde_json::from_str::<Value>(text) {
        Ok(v) => v,
        Err(_) => serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text)
            .map_err(|e| format!("The API specification is neither valid JSON nor YAML: {e}"))
            .and_then(yaml_to_json)?,
    };
    let Value::Object(root) = root else {
        return Err("The API specification must be an OpenAPI document (an object).".into());
    };

    let openapi3 = match (scalar(root.get("swagger")), scalar(root.get("openapi"))) {
        (Some(v), _) if v == "2.0" || v == "2" => false,
        (_, Some(v)) if v.starts_with("3.") || v == "3" => true,
        (Some(v), _) | (_, Some(v)) => {
            return Err(format!(
                "Unsupported OpenAPI version {v:?}: use OpenAPI 2.0 (swagger) or 3.x."
            ));
        }
        (None, None) => {
            return Err(
                "The API specification must declare its version in 'swagger' (2.0) or 'openapi' (3.x)."
                    .into(),
            );
        }
    };

    let info = root
        .get("info")
        .and_then(Value::as_object)
        .ok_or("The API specification must have an 'info' object.")?;
    let name = info
        .get("title")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or("The API specification must have a non-empty 'info.title'.")?
        .to_string();
    if scalar(info.get("version")).is_none() {
        return Err("The API specification must have 'info.version'.".into());
    }
    let description = info
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string);

    let base_path = if openapi3 {
        let url = root
            .get("servers")
            .and_then(Value::as_array)
            .and_then(|s| s.first())
            .and_then(|s| s.get("url"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or("An OpenAPI 3 specification must declare its server URL in 'servers[0].url'.")?;
        let absolute = url.starts_with("http://") || url.starts_with("https://");
        if !absolute && !url.starts_with('/') {
            return Err(format!(
                "The server URL {url:?} must be absolute (http:// or https://) or start with '/'."
            ));
        }
        url.to_string()
    } else {
        let base = root
            .get("basePath")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .ok_or("An OpenAPI 2 specification must declare its 'basePath'.")?;
        if !base.starts_with('/') {
            return Err(format!("The basePath {base:?} must start with '/'."));
        }
        base.to_string()
    };
    let base_path = match base_path.trim_end_matches('/') {
        "" => "/".to_string(),
        trimmed => trimmed.to_string(),
    };

    // OpenAPI 3.1 made `paths` optional (webhooks-only documents); 2.0 and 3.0 require it.
    let paths_required = !scalar(root.get("openapi")).is_some_and(|v| v.starts_with("3.1"));
    let operations = match root.get("paths") {
        Some(Value::Object(paths)) => {
            let mut operations = BTreeMap::new();
            for (path, item) in paths {
                if path.starts_with("x-") {
                    continue;
                }
                if !path.starts_with('/') {
                    return Err(format!("The path {path:?} must start with '/'."));
                }
                let methods = item
                    .as_object()
                    .map(|item| {
                        METHODS
                            .iter()
                            .filter(|m| item.contains_key(**m))
                            .map(|m| m.to_uppercase())
                            .collect()
                    })
                    .unwrap_or_default();
                operations.insert(path.clone(), methods);
            }
            operations
        }
        None if !paths_required => BTreeMap::new(),
        None => return Err("The API specification must have a 'paths' object.".into()),
        Some(_) => return Err("'paths' must be an object.".into()),
    };

    Ok(Document {
        name,
        description,
        base_path,
        operations,
    })
}

/// A string or number as text (unquoted YAML versions such as `swagger: 2.0` are numbers).
fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// YAML mapping keys may be numbers (`200:` under `responses`); JSON keys are strings.
fn yaml_to_json(v: serde_yaml_ng::Value) -> Result<Value, String> {
    use serde_yaml_ng::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".into(),
                    _ => {
                        return Err(
                            "The API specification has a mapping key that is not a scalar.".into(),
                        );
                    }
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(t.value)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_with_numeric_keys_and_unquoted_versions() {
        let doc = parse(
            "swagger: 2.0\ninfo:\n  title: Pets\n  version: 1.0\nbasePath: /api/pets/\npaths:\n  /pets:\n    get:\n      responses:\n        200:\n          description: ok\n",
        )
        .unwrap();
        assert_eq!(doc.name, "Pets");
        assert_eq!(doc.base_path, "/api/pets");
        assert_eq!(doc.operations["/pets"], BTreeSet::from(["GET".to_string()]));
    }

    #[test]
    fn server_url_path_is_the_conflict_key() {
        assert_eq!(path_key("https://h.example/API/v1/"), "/api/v1");
        assert_eq!(path_key("https://h.example"), "/");
        assert_eq!(path_key("/api/v1"), "/api/v1");
    }

    #[test]
    fn refuses_documents_without_what_frends_needs() {
        assert!(parse("openapi: 3.0.1\ninfo: {title: A, version: '1'}\npaths: {}").is_err());
        assert!(parse("{\"swagger\":\"2.0\",\"info\":{\"version\":\"1\"},\"basePath\":\"/a\",\"paths\":{}}").is_err());
        assert!(parse("openapi: 4.0.0\ninfo: {title: A, version: '1'}").is_err());
        assert!(parse("- a\n- b").is_err());
    }
}
