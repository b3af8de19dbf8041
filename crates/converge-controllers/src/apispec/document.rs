//! The declared OpenAPI document, checked before any platform sees it, and its hash (pure).
//!
//! The hash is of the normalized document (parsed, keys sorted, re-serialized), so reformatting
//! the YAML or converting it to JSON is not a change worth a platform write.

use serde_json::Value;

/// What the reconcilers need from a document.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The text as declared: what is sent to the platform.
    pub text: String,
    /// `info.title`: the name Frends shows and the application name API7 imports it as.
    pub title: String,
    /// `info.description`.
    pub description: Option<String>,
    /// `basePath` (OpenAPI 2) or `servers[0].url` (OpenAPI 3), if declared.
    pub base_path: Option<String>,
    /// SHA-256 of the normalized document.
    pub hash: String,
}

/// A document's text as JSON values (JSON, else YAML with keys such as `200:` as strings).
pub fn yaml_or_json(text: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Ok(v),
        Err(_) => serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text)
            .map_err(|e| format!("the definition is neither JSON nor YAML: {e}"))
            .and_then(yaml_to_json),
    }
}

/// Parses and checks a document; the error says what to fix in the manifest.
pub fn parse(text: &str) -> Result<Document, String> {
    let root = yaml_or_json(text)?;
    let Value::Object(obj) = &root else {
        return Err("the definition must be an OpenAPI document (a mapping at the top)".into());
    };
    let v3 = match (scalar(obj.get("openapi")), scalar(obj.get("swagger"))) {
        (Some(v), _) if v.starts_with('3') => true,
        (_, Some(v)) if v.starts_with('2') => false,
        (Some(v), _) | (_, Some(v)) => {
            return Err(format!(
                "the definition declares OpenAPI version {v:?}; use openapi: 3.x or swagger: \"2.0\""
            ));
        }
        (None, None) => {
            return Err(
                "the definition declares no OpenAPI version: add openapi: 3.x (or swagger: \"2.0\")"
                    .into(),
            );
        }
    };
    let info = obj
        .get("info")
        .and_then(Value::as_object)
        .ok_or("the definition has no info block; add info.title and info.version")?;
    let title = info
        .get("title")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or("the definition has no info.title; the platforms name the API after it")?
        .to_string();
    let description = info
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string);
    let base_path = if v3 {
        obj.get("servers")
            .and_then(Value::as_array)
            .and_then(|s| s.first())
            .and_then(|s| s.get("url"))
            .and_then(Value::as_str)
    } else {
        obj.get("basePath").and_then(Value::as_str)
    }
    .map(str::to_string);
    let mut canonical = String::new();
    write_canonical(&root, &mut canonical);
    Ok(Document {
        text: text.to_string(),
        title,
        description,
        base_path,
        hash: sha256_hex(canonical.as_bytes()),
    })
}

/// A document as written to Frends: `info.description` ends with Converge's marker.
#[derive(Clone, Debug, PartialEq)]
pub struct Marked {
    /// The document as JSON (Frends takes JSON or YAML text), with the marked description.
    pub text: String,
    /// The `info.description` written: the declared one, a blank line, the marker.
    pub description: String,
}

/// The document with `marker` appended to `info.description`, so that the object it was written
/// for can be found again by a field the platform reads back (see `apispec::frends`).
pub fn marked(doc: &Document, marker: &str) -> Result<Marked, String> {
    let mut root = yaml_or_json(&doc.text)?;
    let description = match doc.description.as_deref().map(str::trim_end) {
        Some(d) if !d.is_empty() => format!("{d}\n\n{marker}"),
        _ => marker.to_string(),
    };
    let info = root
        .get_mut("info")
        .and_then(Value::as_object_mut)
        .ok_or("the definition has no info block")?;
    info.insert("description".into(), Value::String(description.clone()));
    let text = serde_json::to_string(&root).map_err(|e| e.to_string())?;
    Ok(Marked { text, description })
}

/// The URL path of a base path or server URL, lower-cased, without a trailing slash: how Frends
/// compares them.
pub fn path_key(base_path: &str) -> String {
    let path = match base_path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => base_path,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    match path.trim().trim_end_matches('/') {
        "" => "/".to_string(),
        p => p.to_lowercase(),
    }
}

/// A hash of several parts, for "what was published" (document and passthrough settings).
pub fn hash_of(parts: &[&str]) -> String {
    sha256_hex(parts.join("\u{0}").as_bytes())
}

/// JSON with object keys sorted at every level, whatever order the map keeps.
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// YAML to JSON; mapping keys such as `200:` become strings.
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
                    .map_or(Value::Null, Value::Number)
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
                    _ => return Err("the definition has a mapping key that is not a scalar".into()),
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(t.value)?,
    })
}

/// Lowercase hex SHA-256 (the `sha2` crate).
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "openapi: 3.0.1\ninfo:\n  title: Pets\n  version: 1.0.0\n  description: All pets\nservers:\n  - url: /api/pets/v1\npaths:\n  /pets:\n    get:\n      responses:\n        200:\n          description: ok\n";

    #[test]
    fn a_marked_document_keeps_its_content_and_ends_its_description_with_the_marker() {
        let d = parse(YAML).unwrap();
        let m = marked(&d, "[managed by Converge]").unwrap();
        assert_eq!(m.description, "All pets\n\n[managed by Converge]");
        let back = parse(&m.text).unwrap();
        assert_eq!(back.description.as_deref(), Some(m.description.as_str()));
        assert_eq!((back.title, back.base_path), (d.title, d.base_path));
        assert!(m.text.contains("\"200\""), "YAML keys become JSON strings");
        let bare = parse("openapi: 3.0.1\ninfo: {title: T, version: '1'}\npaths: {}").unwrap();
        assert_eq!(marked(&bare, "[m]").unwrap().description, "[m]");
    }

    #[test]
    fn reads_title_description_and_base_path() {
        let d = parse(YAML).unwrap();
        assert_eq!(d.title, "Pets");
        assert_eq!(d.description.as_deref(), Some("All pets"));
        assert_eq!(d.base_path.as_deref(), Some("/api/pets/v1"));
        assert_eq!(d.hash.len(), 64);
        let v2 = parse(
            r#"{"swagger":"2.0","info":{"title":"O","version":"1"},"basePath":"/o","paths":{}}"#,
        )
        .unwrap();
        assert_eq!(v2.base_path.as_deref(), Some("/o"));
    }

    #[test]
    fn the_hash_ignores_formatting_but_not_content() {
        let json = r#"{"paths":{"/pets":{"get":{"responses":{"200":{"description":"ok"}}}}},"servers":[{"url":"/api/pets/v1"}],"info":{"version":"1.0.0","title":"Pets","description":"All pets"},"openapi":"3.0.1"}"#;
        assert_eq!(parse(YAML).unwrap().hash, parse(json).unwrap().hash);
        let changed = YAML.replace("description: ok", "description: fine");
        assert_ne!(parse(YAML).unwrap().hash, parse(&changed).unwrap().hash);
    }

    #[test]
    fn refuses_what_is_not_an_openapi_document() {
        for (text, says) in [
            ("a: [b", "neither JSON nor YAML"),
            ("- a\n- b", "mapping"),
            (
                "info: {title: A, version: '1'}\npaths: {}",
                "no OpenAPI version",
            ),
            ("openapi: 4.0.0\ninfo: {title: A}", "version \"4.0.0\""),
            ("openapi: 3.0.0\npaths: {}", "no info"),
            ("openapi: 3.0.0\ninfo: {version: '1'}", "info.title"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn base_paths_compare_as_frends_does() {
        assert_eq!(path_key("https://gw.test/API/v1/"), "/api/v1");
        assert_eq!(path_key("/api/v1"), "/api/v1");
        assert_eq!(path_key("https://gw.test"), "/");
    }
}
