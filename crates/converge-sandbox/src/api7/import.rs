//! The OpenAPI import, the docs' second "Create Application" (body `{"openapi": "<document>"}`,
//! listed among the application operations with only `cluster_id` in its path). The docs give
//! no URL; the sandbox serves it at `POST /api/v1/clusters/{cluster_id}/apps/openapi`, beside
//! the application collection it creates into. As the docs show, it answers without a payload:
//! find the application afterwards by name (`GET .../apps?search=<title>`).
//!
//! How a document (OpenAPI 3.x or Swagger 2.0, JSON or YAML) becomes an application:
//! - `name` is `info.title` and `description` is `info.description`, validated like any
//!   application (a title over 64 characters is a 400; a taken name is a 409).
//! - The upstream (version "default") is the first server: `servers[0].url` (3.x) or
//!   `schemes[0]://host` (2.0), its scheme and port (80/443 by default); the path of that URL
//!   (or `basePath`) is the application's `path_prefix` ("/" without one), so requests reach the
//!   backend under the same path. A document without an absolute server URL is a 400.
//! - `hosts` is `["*"]` and `protocols` `["HTTP"]`: a document does not say where the gateway
//!   listens. Set them afterwards with a `PUT` or `PATCH` of the application.
//! - Each operation becomes an API named by its `operationId` (else `METHOD /path`, cut to 64
//!   characters and made unique), with its method, its `summary` as description, and its path:
//!   `Exact`, or `Prefix` up to the first `{parameter}`.
//! - The application is published (`active: 0`), as a created one is by default.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

use super::Api7;
use super::envelope::{ApiError, Reply, ok_empty};
use super::model::Id;
use super::orgs::clock;
use super::validate::{Checker, parse_object};
use super::{apis, apps, scope};
use crate::Sandbox;

const OPERATIONS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// YAML (a superset of JSON here) to JSON, with keys such as `200:` as strings.
fn to_json(v: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => json!(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64())
            }
        }
        Y::String(s) => json!(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_yaml_ng::to_string(&other)
                            .map(|s| s.trim().to_string())
                            .unwrap_or_default(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => to_json(t.value),
    }
}

/// scheme, host, port and path of an absolute URL.
fn split_url(url: &str) -> Option<(String, String, u16, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = authority.rsplit('@').next()?;
    let default_port = if scheme == "https" { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p))
            if !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (!h.contains(':') || h.ends_with(']')) =>
        {
            (h.to_string(), p.parse().ok()?)
        }
        _ => (authority.to_string(), default_port),
    };
    if host.is_empty() {
        return None;
    }
    Some((scheme, host, port, path.to_string()))
}

/// An application body and the bodies of its APIs.
type Derived = (Map<String, Value>, Vec<Map<String, Value>>);

/// The application body and the API bodies a document describes.
fn derive(doc: &Value) -> Result<Derived, ApiError> {
    let bad = |why: &str| ApiError::invalid(format!("openapi in body: {why}"));
    let root = doc
        .as_object()
        .ok_or_else(|| bad("the document is not an object"))?;
    let v3 = root
        .get("openapi")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("3."));
    let v2 = root.get("swagger").and_then(Value::as_str) == Some("2.0");
    if !v3 && !v2 {
        return Err(bad("not an OpenAPI 3.x or Swagger 2.0 document"));
    }
    let info = root
        .get("info")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("info is required"))?;
    let title = info
        .get("title")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("info.title is required: it names the application"))?;

    let url = if v3 {
        root.get("servers")
            .and_then(Value::as_array)
            .and_then(|s| s.first())
            .and_then(|s| s.get("url"))
            .and_then(Value::as_str)
            .map(String::from)
    } else {
        root.get("host").and_then(Value::as_str).map(|host| {
            let scheme = root
                .get("schemes")
                .and_then(Value::as_array)
                .and_then(|s| s.first())
                .and_then(Value::as_str)
                .unwrap_or("http");
            let base = root.get("basePath").and_then(Value::as_str).unwrap_or("");
            format!("{scheme}://{host}{base}")
        })
    };
    let url = url.ok_or_else(|| {
        bad("the document names no server (servers[0].url or host) to use as the upstream")
    })?;
    if url.contains('{') {
        return Err(bad("server URL variables are not supported"));
    }
    let (scheme, host, port, path) = split_url(&url).ok_or_else(|| {
        bad(&format!(
            "server URL {url:?} is not an absolute http(s) URL"
        ))
    })?;
    let prefix = path.trim_end_matches('/');
    let prefix = if prefix.is_empty() { "/" } else { prefix };

    let mut app = Map::new();
    app.insert("name".into(), json!(title));
    if let Some(d) = info.get("description").and_then(Value::as_str) {
        app.insert("description".into(), json!(d));
    }
    app.insert("hosts".into(), json!(["*"]));
    app.insert("path_prefix".into(), json!(prefix));
    app.insert("protocols".into(), json!(["HTTP"]));
    app.insert(
        "upstreams".into(),
        json!([{
            "version": "default",
            "upstream": {
                "scheme": scheme,
                "lb_type": "roundrobin",
                "targets": [{ "host": host, "port": port, "weight": 100 }]
            }
        }]),
    );
    app.insert("default_upstream_version".into(), json!("default"));
    app.insert("active".into(), json!(0));

    let mut apis = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let paths = root.get("paths").and_then(Value::as_object);
    for (route, item) in paths.into_iter().flatten() {
        let Some(item) = item.as_object() else {
            continue;
        };
        for method in OPERATIONS {
            let Some(op) = item.get(method).and_then(Value::as_object) else {
                continue;
            };
            let upper = method.to_ascii_uppercase();
            let base: String = op
                .get("operationId")
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| format!("{upper} {route}"))
                .chars()
                .take(64)
                .collect();
            let mut name = base.clone();
            let mut n = 2;
            while names.contains(&name) {
                let suffix = format!("-{n}");
                let keep = 64 - suffix.len();
                name = format!("{}{suffix}", base.chars().take(keep).collect::<String>());
                n += 1;
            }
            names.push(name.clone());
            let (api_path, path_type) = match route.find('{') {
                Some(i) => (&route[..i], "Prefix"),
                None => (route.as_str(), "Exact"),
            };
            let summary: String = op
                .get("summary")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(256)
                .collect();
            let mut api = Map::new();
            api.insert("name".into(), json!(name));
            api.insert("description".into(), json!(summary));
            api.insert("methods".into(), json!([upper]));
            api.insert(
                "paths".into(),
                json!([{ "path": api_path, "path_type": path_type }]),
            );
            api.insert("type".into(), json!("Rest"));
            api.insert("active".into(), json!(0));
            apis.push(api);
        }
    }
    Ok((app, apis))
}

pub async fn import(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path(cid): Path<String>,
    body: Bytes,
) -> Reply {
    let obj = parse_object(&body)?;
    let mut c = Checker::new();
    let text = c.string(&obj, "", "openapi", true, (1, usize::MAX));
    c.finish()?;
    let text = text.unwrap_or_default();
    let doc = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text)
        .map(to_json)
        .map_err(|e| {
            ApiError::invalid(format!("openapi in body is not valid JSON or YAML: {e}"))
        })?;
    let (app_body, api_bodies) = derive(&doc)?;
    let clock = clock(&sb);
    let fails = app_body
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| sb.should_fail(n));
    sb.write(|s| {
        let cluster = scope::cluster(s, &headers, &cid)?;
        scope::writable(s, cluster, &clock)?;
        let spec = apps::validate(&app_body, s, cluster, None)?;
        // Validated against an application that has no APIs yet; names are already unique.
        let specs = api_bodies
            .iter()
            .map(|b| apis::validate(b, s, Id(0), None))
            .collect::<Result<Vec<_>, _>>()?;
        let (app, _) = apps::insert(s, cluster, spec, clock.now, fails, &clock);
        for spec in specs {
            apis::insert(s, app, spec, &clock, false);
        }
        Ok(ok_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_upstream_parts() {
        assert_eq!(
            split_url("http://inventory.internal:8080"),
            Some(("http".into(), "inventory.internal".into(), 8080, "".into()))
        );
        assert_eq!(
            split_url("https://api.example.com/v2/"),
            Some(("https".into(), "api.example.com".into(), 443, "/v2/".into()))
        );
        assert_eq!(split_url("/relative"), None);
        assert_eq!(split_url("ftp://x"), None);
    }
}
