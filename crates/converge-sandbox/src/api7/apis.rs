//! APIs of an application: `/apps/{app_id}/apis[/{api_id}]`, with the cluster in
//! `X-API7-Cloud-Gateway-Cluster-ID` (see [`super::scope`]).
//!
//! Validation follows the docs: name 1..64 (unique in the application: 409), description
//! <= 256, methods unique HTTP methods, paths 1..64 items of `{path, path_type}` where `path`
//! matches `^/` (up to 4096 characters; "" stands for the application's prefix itself, as the
//! Go SDK documents) and `path_type` is Prefix|Exact (default Prefix), labels, type
//! Rest|WebSocket (default Rest), active 0|1 (default 0), `fine_grained_route_control` with
//! `logical_relationship` All|Any and expressions of the SDK's subjects and operators.
//! `strip_path_prefix` defaults to false.
//! `PATCH` merges top-level fields, then validates the whole API.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

use super::Api7;
use super::envelope::{ApiError, Reply, ok, ok_empty, ok_list};
use super::model::{Api, ApiSpec, Clock, Id, State as Store};
use super::orgs::clock;
use super::query::{self, ListSpec, SortKey};
use super::scope;
use super::validate::{
    Checker, Pattern, field, parse_object, parse_patch, patched, path_id, present,
};
use crate::Sandbox;

const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
];
const SUBJECTS: [&str; 5] = ["header", "query", "cookie", "path", "variable"];
const OPERATORS: [&str; 10] = [
    "equal",
    "not_equal",
    "regex_match",
    "regex_not_match",
    "present",
    "not_present",
    "larger_equal",
    "larger_than",
    "less_equal",
    "less_than",
];

/// Route match expressions (`subject`, `name`, `operator`, `value`), as APIs and canary
/// releases take them.
pub fn expressions(
    c: &mut Checker,
    obj: &Map<String, Value>,
    path: &str,
    required: bool,
) -> Option<Vec<Value>> {
    let list = c.array(obj, path, "expressions", required, (1, 64), false)?;
    let f = field(path, "expressions");
    for (i, e) in list.iter().enumerate() {
        let ep = format!("{f}.{i}");
        let Some(e) = e.as_object() else {
            c.fail(format!("{ep} in body must be of type object"));
            continue;
        };
        c.one_of(e, &ep, "subject", true, &SUBJECTS, false);
        c.string(e, &ep, "name", false, (0, 256));
        c.one_of(e, &ep, "operator", true, &OPERATORS, false);
        c.string(e, &ep, "value", false, (0, 4096));
    }
    Some(list.clone())
}

/// Validates an API body for application `app`; `own` is the API being replaced.
pub fn validate(
    obj: &Map<String, Value>,
    state: &Store,
    app: Id,
    own: Option<Id>,
) -> Result<ApiSpec, ApiError> {
    let mut c = Checker::new();
    let name = c.string(obj, "", "name", true, (1, 64));
    let description = c
        .string(obj, "", "description", false, (0, 256))
        .unwrap_or_default();
    let methods = c
        .strings(
            obj,
            "",
            "methods",
            false,
            (0, 9),
            true,
            (0, usize::MAX),
            None,
        )
        .unwrap_or_default();
    for (i, m) in methods.iter().enumerate() {
        if !METHODS.contains(&m.as_str()) {
            c.fail(format!(
                "methods.{i} in body should be one of [{}]",
                METHODS.join(" ")
            ));
        }
    }
    let mut paths = Vec::new();
    if let Some(list) = c.array(obj, "", "paths", true, (1, 64), false) {
        for (i, p) in list.iter().enumerate() {
            let pp = format!("paths.{i}");
            let Some(p) = p.as_object() else {
                c.fail(format!("{pp} in body must be of type object"));
                continue;
            };
            // An empty path stands for the application's path prefix itself (Go SDK).
            let path = c
                .string(p, &pp, "path", true, (0, 4096))
                .filter(|s| s.is_empty() || c.pattern(&field(&pp, "path"), s, Pattern::Slash));
            let kind = c
                .one_of(p, &pp, "path_type", false, &["Prefix", "Exact"], true)
                .unwrap_or_else(|| "Prefix".into());
            if let Some(path) = path {
                paths.push(json!({ "path": path, "path_type": kind }));
            }
        }
    }
    let route_control = c
        .object(obj, "", "fine_grained_route_control", false)
        .map(|frc| {
            let fp = "fine_grained_route_control";
            let mut out = frc.clone();
            let enabled = c.boolean(frc, fp, "enabled").unwrap_or(false);
            out.insert("enabled".into(), json!(enabled));
            if let Some(rel) = c.one_of(
                frc,
                fp,
                "logical_relationship",
                false,
                &["All", "Any"],
                true,
            ) {
                out.insert("logical_relationship".into(), json!(rel));
            }
            expressions(&mut c, frc, fp, false);
            Value::Object(out)
        });
    let strip = c.boolean(obj, "", "strip_path_prefix").unwrap_or(false);
    let plugins = c.plugins(obj, "");
    let labels = c.labels(obj, "");
    let kind = c
        .one_of(obj, "", "type", false, &["Rest", "WebSocket"], true)
        .unwrap_or_else(|| "Rest".into());
    let active = c.int_enum(obj, "", "active", &[0, 1]).unwrap_or(0);
    c.finish()?;
    let Some(name) = name else {
        return Err(ApiError::invalid("name in body is required"));
    };
    if let Some(other) = state
        .apis
        .values()
        .find(|a| a.app_id == app && a.spec.name == name && Some(a.id) != own)
    {
        return Err(ApiError::conflict(format!(
            "API name {name:?} already exists in application {app} (API {})",
            other.id
        )));
    }
    Ok(ApiSpec {
        name,
        description,
        labels,
        methods,
        paths,
        fine_grained_route_control: route_control,
        strip_path_prefix: strip,
        plugins,
        active,
        kind,
    })
}

pub fn render(api: &Api, clock: &Clock) -> Value {
    let mut out = match serde_json::to_value(&api.spec) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    out.insert("id".into(), json!(api.id));
    out.insert("app_id".into(), json!(api.app_id));
    out.insert(
        "status".into(),
        json!(clock.entity_status(api.updated_at, api.never_ready)),
    );
    out.insert("created_at".into(), json!(api.created_at));
    out.insert("updated_at".into(), json!(api.updated_at));
    Value::Object(out)
}

/// Stores a validated API.
pub fn insert(s: &mut Store, app: Id, spec: ApiSpec, clock: &Clock, never_ready: bool) -> Value {
    let id = s.new_id();
    let api = Api {
        id,
        app_id: app,
        spec,
        created_at: clock.now,
        updated_at: clock.now,
        never_ready,
    };
    let out = render(&api, clock);
    s.apis.insert(id, api);
    out
}

const API_LIST: ListSpec = ListSpec {
    order_by: &["created_at", "updated_at", "name"],
    labels: true,
    active: false,
};

pub async fn list(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path(app): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = query::parse(raw.as_deref(), &API_LIST)?;
    let clock = clock(&sb);
    sb.read(|s| {
        let (_, app) = scope::app(s, &headers, &app)?;
        let found: Vec<&Api> = s
            .apis
            .values()
            .filter(|a| a.app_id == app)
            .filter(|a| q.matches_search(a.id, &[&a.spec.name]) && q.matches_labels(&a.spec.labels))
            .collect();
        let (page, count) = q.page(found, |a, by| {
            let key = match by {
                "created_at" => SortKey::Time(Some(a.created_at)),
                "name" => SortKey::Text(a.spec.name.clone()),
                _ => SortKey::Time(Some(a.updated_at)),
            };
            (key, a.id)
        });
        Ok(ok_list(
            page.iter().map(|a| render(a, &clock)).collect(),
            count,
        ))
    })
}

pub async fn create(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path(app): Path<String>,
    body: Bytes,
) -> Reply {
    let obj = parse_object(&body)?;
    let clock = clock(&sb);
    let fails = present(&obj, "name")
        .and_then(Value::as_str)
        .is_some_and(|n| sb.should_fail(n));
    sb.write(|s| {
        let (cluster, app) = scope::app(s, &headers, &app)?;
        scope::writable(s, cluster, &clock)?;
        let spec = validate(&obj, s, app, None)?;
        Ok(ok(insert(s, app, spec, &clock, fails)))
    })
}

fn find(s: &Store, headers: &HeaderMap, app: &str, api: &str) -> Result<(Id, Id), ApiError> {
    let (cluster, app) = scope::app(s, headers, app)?;
    let id = path_id("api_id", api)?;
    match s.apis.get(&id) {
        Some(a) if a.app_id == app => Ok((cluster, id)),
        _ => Err(ApiError::not_found("API", id)),
    }
}

pub async fn get(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((app, api)): Path<(String, String)>,
) -> Reply {
    let clock = clock(&sb);
    sb.read(|s| {
        let (_, id) = find(s, &headers, &app, &api)?;
        Ok(ok(render(&s.apis[&id], &clock)))
    })
}

fn replace(
    sb: &Sandbox<Api7>,
    headers: &HeaderMap,
    app: &str,
    api: &str,
    obj: Map<String, Value>,
    merge: bool,
) -> Reply {
    let clock = clock(sb);
    sb.write(|s| {
        let (cluster, id) = find(s, headers, app, api)?;
        scope::writable(s, cluster, &clock)?;
        let current = &s.apis[&id];
        let obj = patched(&current.spec, obj, merge);
        let spec = validate(&obj, s, current.app_id, Some(id))?;
        let fails = sb.should_fail(&spec.name);
        let a = s.apis.get_mut(&id).expect("found above");
        a.spec = spec;
        a.updated_at = clock.now;
        a.never_ready = fails;
        Ok(ok(render(a, &clock)))
    })
}

pub async fn update(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((app, api)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let obj = parse_object(&body)?;
    replace(&sb, &headers, &app, &api, obj, false)
}

pub async fn patch(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((app, api)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let obj = parse_patch(&body)?;
    replace(&sb, &headers, &app, &api, obj, true)
}

pub async fn delete(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((app, api)): Path<(String, String)>,
) -> Reply {
    sb.write(|s| {
        let (_, id) = find(s, &headers, &app, &api)?;
        s.apis.remove(&id);
        Ok(ok_empty())
    })
}

pub async fn delete_all(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path(app): Path<String>,
) -> Reply {
    sb.write(|s| {
        let (_, app) = scope::app(s, &headers, &app)?;
        s.apis.retain(|_, a| a.app_id != app);
        Ok(ok_empty())
    })
}
