//! Applications: `/clusters/{cluster_id}/apps[/{app_id}]`.
//!
//! Validation follows the docs (name 1..64, description <= 256, hosts non-empty and unique,
//! path_prefix `^/` 1..4096, protocols 1..2 unique of HTTP/HTTPS, upstreams 1..10,
//! default_upstream_version 0..64 defaulting to "default", labels, active 0|1 defaulting to 0).
//! Where the docs are silent the sandbox decides, as API7 Cloud behaves:
//! - `protocol` (single) is accepted when `protocols` is absent; without either, `["HTTP"]`.
//! - Hosts are non-empty strings. Upstream versions are unique; a missing or empty version is "default"; each upstream needs
//!   `targets` (host, port 1..65535, weight >= 0 defaulting to 100) or `service_discovery`;
//!   `scheme` defaults to http and `lb_type` to roundrobin; a `client_cert_id` must name a
//!   Client certificate of the cluster.
//! - `default_upstream_version` must name one of the upstream versions (400).
//! - A duplicate name in the cluster is 409 (`status.code` 3).
//! - An update may not drop an upstream version an open (paused or in-progress) canary release
//!   uses (400).
//! - `DELETE` with `cascade=false` (the default) refuses an application that still has APIs
//!   (400); `cascade=true` deletes its APIs too. Canary releases always go with it.
//! - `PATCH` merges the given top-level fields into the application, then validates it whole.
//!
//! Responses add `id`, `cluster_id`, `status` (0 then 50, see [`Clock::entity_status`]),
//! `created_at`, `updated_at`, `available_cert_ids` (Server certificates of the cluster whose
//! SNIs cover a host), `canary_release_id` (in-progress canary releases) and
//! `canary_upstream_version_list` (versions of paused or in-progress ones).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::Api7;
use super::envelope::{ApiError, Reply, ok, ok_empty, ok_list};
use super::model::{AppSpec, Application, Clock, Id, State as Store, canary_state};
use super::orgs::clock;
use super::query::{self, ListSpec, SortKey, pairs};
use super::scope;
use super::validate::{
    Checker, Pattern, field, parse_object, parse_patch, patched, path_id, present,
};
use crate::Sandbox;

const PROTOCOLS: [&str; 2] = ["HTTP", "HTTPS"];
const SCHEMES: [&str; 2] = ["http", "https"];
const LB_TYPES: [&str; 4] = ["roundrobin", "consistent_hash", "ewma", "least_conn"];

/// Validates an application body for `cluster`; `own` is the application being replaced.
pub fn validate(
    obj: &Map<String, Value>,
    state: &Store,
    cluster: Id,
    own: Option<Id>,
) -> Result<AppSpec, ApiError> {
    let mut c = Checker::new();
    let name = c.string(obj, "", "name", true, (1, 64));
    let description = c
        .string(obj, "", "description", false, (0, 256))
        .unwrap_or_default();
    let hosts = c.strings(
        obj,
        "",
        "hosts",
        true,
        (1, usize::MAX),
        true,
        (1, 255),
        None,
    );
    let path_prefix = c
        .string(obj, "", "path_prefix", true, (1, 4096))
        .filter(|p| c.pattern("path_prefix", p, Pattern::Slash));
    let protocol = c.one_of(obj, "", "protocol", false, &PROTOCOLS, false);
    let mut protocols = c
        .strings(
            obj,
            "",
            "protocols",
            false,
            (1, 2),
            true,
            (0, usize::MAX),
            None,
        )
        .unwrap_or_default();
    for (i, p) in protocols.iter().enumerate() {
        if !PROTOCOLS.contains(&p.as_str()) {
            c.fail(format!(
                "protocols.{i} in body should be one of [HTTP HTTPS]"
            ));
        }
    }
    if protocols.is_empty() {
        protocols = vec![protocol.unwrap_or_else(|| "HTTP".into())];
    }
    let upstreams = upstreams(&mut c, obj, state, cluster);
    let default_version = c
        .string(obj, "", "default_upstream_version", false, (0, 64))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "default".into());
    let labels = c.labels(obj, "");
    let active = c.int_enum(obj, "", "active", &[0, 1]).unwrap_or(0);
    let plugins = c.plugins(obj, "");
    c.finish()?;

    let (Some(name), Some(hosts), Some(path_prefix), Some(upstreams)) =
        (name, hosts, path_prefix, upstreams)
    else {
        return Err(ApiError::invalid(
            "validation failure list: incomplete body",
        ));
    };
    let spec = AppSpec {
        name,
        description,
        labels,
        protocols,
        path_prefix,
        hosts,
        plugins,
        upstreams,
        default_upstream_version: default_version,
        active,
    };
    let versions = spec.versions();
    if !versions.contains(&spec.default_upstream_version) {
        return Err(ApiError::invalid(format!(
            "default_upstream_version in body should be one of the upstream versions [{}]",
            versions.join(" ")
        )));
    }
    if let Some(other) = state
        .applications
        .values()
        .find(|a| a.cluster_id == cluster && a.spec.name == spec.name && Some(a.id) != own)
    {
        return Err(ApiError::conflict(format!(
            "application name {:?} already exists in cluster {cluster} (application {})",
            spec.name, other.id
        )));
    }
    if let Some(own) = own
        && let Some(cr) = state
            .open_canaries(own)
            .find(|cr| !versions.contains(&cr.spec.canary_upstream_version))
    {
        return Err(ApiError::invalid(format!(
            "upstream version {:?} is used by canary release {} ({}); finish or delete it first",
            cr.spec.canary_upstream_version, cr.id, cr.spec.state
        )));
    }
    Ok(spec)
}

/// Validates and normalizes `upstreams`.
fn upstreams(
    c: &mut Checker,
    obj: &Map<String, Value>,
    state: &Store,
    cluster: Id,
) -> Option<Vec<Value>> {
    let list = c.array(obj, "", "upstreams", true, (1, 10), true)?;
    let mut out = Vec::with_capacity(list.len());
    let mut seen: Vec<String> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let path = format!("upstreams.{i}");
        let Some(item) = item.as_object() else {
            c.fail(format!("{path} in body must be of type object"));
            continue;
        };
        let version = c
            .string(item, &path, "version", false, (0, 64))
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "default".into());
        if seen.contains(&version) {
            c.fail(format!(
                "{path}.version in body should be unique: {version:?} names another upstream"
            ));
        }
        seen.push(version.clone());
        let outer_cert = client_cert(c, item, &path, state, cluster);
        let Some(upstream) = c.object(item, &path, "upstream", true) else {
            continue;
        };
        let upath = field(&path, "upstream");
        let mut normalized = upstream.clone();
        let scheme = c
            .one_of(upstream, &upath, "scheme", false, &SCHEMES, true)
            .unwrap_or_else(|| "http".into());
        normalized.insert("scheme".into(), json!(scheme));
        let lb = c
            .one_of(upstream, &upath, "lb_type", false, &LB_TYPES, true)
            .unwrap_or_else(|| "roundrobin".into());
        normalized.insert("lb_type".into(), json!(lb));
        c.string(upstream, &upath, "hash_key", false, (0, 1024));
        let discovery = c.object(upstream, &upath, "service_discovery", false);
        let targets = c.array(upstream, &upath, "targets", false, (0, 64), false);
        match targets {
            Some(targets) if !targets.is_empty() => {
                let tpath = field(&upath, "targets");
                let mut norm = Vec::with_capacity(targets.len());
                for (j, t) in targets.iter().enumerate() {
                    let tp = format!("{tpath}.{j}");
                    let Some(t) = t.as_object() else {
                        c.fail(format!("{tp} in body must be of type object"));
                        continue;
                    };
                    let mut t2 = t.clone();
                    c.string(t, &tp, "host", true, (1, 253));
                    c.integer(t, &tp, "port", true, Some(1), Some(65535));
                    let w = c.integer(t, &tp, "weight", false, Some(0), Some(65535));
                    t2.insert("weight".into(), json!(w.unwrap_or(100)));
                    norm.push(Value::Object(t2));
                }
                normalized.insert("targets".into(), Value::Array(norm));
            }
            _ if discovery.is_some() => {}
            _ => c.fail(format!("{upath}.targets in body is required")),
        }
        c.integer(upstream, &upath, "retries", false, Some(0), Some(100));
        if let Some(timeout) = c.object(upstream, &upath, "timeout", false) {
            let tpath = field(&upath, "timeout");
            for key in ["connect", "send", "read"] {
                c.integer(timeout, &tpath, key, false, Some(1), None);
            }
        }
        c.string(upstream, &upath, "upstream_host_mode", false, (0, 64));
        c.string(upstream, &upath, "upstream_host", false, (0, 255));
        c.object(upstream, &upath, "checks", false);
        client_cert(c, upstream, &upath, state, cluster);
        let mut entry = Map::new();
        entry.insert("upstream".into(), Value::Object(normalized));
        entry.insert("version".into(), json!(version));
        if let Some(cert) = outer_cert {
            entry.insert("client_cert_id".into(), json!(cert));
        }
        out.push(Value::Object(entry));
    }
    c.is_ok().then_some(out)
}

/// A `client_cert_id`: a Client certificate of the cluster.
fn client_cert(
    c: &mut Checker,
    obj: &Map<String, Value>,
    path: &str,
    state: &Store,
    cluster: Id,
) -> Option<Id> {
    let raw = c.string(obj, path, "client_cert_id", false, (1, 20))?;
    let f = field(path, "client_cert_id");
    let Some(id) = Id::parse(&raw) else {
        c.fail(format!("{f} in body should match '^[1-9][0-9]*$'"));
        return None;
    };
    match state.certificates.get(&id) {
        Some(cert) if cert.cluster_id == cluster && cert.spec.kind == "Client" => Some(id),
        Some(cert) if cert.cluster_id == cluster => {
            c.fail(format!(
                "{f}: certificate {id} is a {} certificate, not a Client one",
                cert.spec.kind
            ));
            None
        }
        _ => {
            c.fail(format!(
                "{f}: certificate {id} not found in cluster {cluster}"
            ));
            None
        }
    }
}

/// Whether a certificate SNI covers a host (exactly, or `*.example.com` for one label).
pub fn sni_covers(sni: &str, host: &str) -> bool {
    let (sni, host) = (sni.to_ascii_lowercase(), host.to_ascii_lowercase());
    if sni == host {
        return true;
    }
    match (sni.strip_prefix("*."), host.split_once('.')) {
        (Some(suffix), Some((_, rest))) => rest == suffix,
        _ => false,
    }
}

/// The application as the API answers it.
pub fn render(app: &Application, state: &Store, clock: &Clock) -> Value {
    let mut out = match serde_json::to_value(&app.spec) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let certs: Vec<Id> = state
        .certificates
        .values()
        .filter(|c| c.cluster_id == app.cluster_id && c.spec.kind == "Server")
        .filter(|c| {
            c.metadata
                .snis
                .iter()
                .any(|sni| app.spec.hosts.iter().any(|h| sni_covers(sni, h)))
        })
        .map(|c| c.id)
        .collect();
    let in_progress: Vec<Id> = state
        .open_canaries(app.id)
        .filter(|c| c.spec.state == canary_state::IN_PROGRESS)
        .map(|c| c.id)
        .collect();
    let mut versions: Vec<String> = Vec::new();
    for c in state.open_canaries(app.id) {
        if !versions.contains(&c.spec.canary_upstream_version) {
            versions.push(c.spec.canary_upstream_version.clone());
        }
    }
    out.insert("id".into(), json!(app.id));
    out.insert("cluster_id".into(), json!(app.cluster_id));
    out.insert(
        "status".into(),
        json!(clock.entity_status(app.updated_at, app.never_ready)),
    );
    out.insert("created_at".into(), json!(app.created_at));
    out.insert("updated_at".into(), json!(app.updated_at));
    out.insert("available_cert_ids".into(), json!(certs));
    out.insert("canary_release_id".into(), json!(in_progress));
    out.insert("canary_upstream_version_list".into(), json!(versions));
    Value::Object(out)
}

const APP_LIST: ListSpec = ListSpec {
    order_by: &["created_at", "updated_at", "name", "path_prefix"],
    labels: true,
    active: true,
};

fn sort_key(a: &Application, by: &str) -> (SortKey, Id) {
    let key = match by {
        "created_at" => SortKey::Time(Some(a.created_at)),
        "name" => SortKey::Text(a.spec.name.clone()),
        "path_prefix" => SortKey::Text(a.spec.path_prefix.clone()),
        _ => SortKey::Time(Some(a.updated_at)),
    };
    (key, a.id)
}

pub async fn list(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path(cid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = query::parse(raw.as_deref(), &APP_LIST)?;
    let clock = clock(&sb);
    sb.read(|s| {
        let cluster = scope::cluster(s, &headers, &cid)?;
        let found: Vec<&Application> = s
            .applications
            .values()
            .filter(|a| a.cluster_id == cluster)
            .filter(|a| q.matches_search(a.id, &[&a.spec.name]))
            .filter(|a| q.matches_labels(&a.spec.labels) && q.matches_active(a.spec.active))
            .collect();
        let (page, count) = q.page(found, |a, by| sort_key(a, by));
        Ok(ok_list(
            page.iter().map(|a| render(a, s, &clock)).collect(),
            count,
        ))
    })
}

/// Stores a validated application and answers it.
pub fn insert(
    s: &mut Store,
    cluster: Id,
    spec: AppSpec,
    now: Timestamp,
    never_ready: bool,
    clock: &Clock,
) -> (Id, Value) {
    let id = s.new_id();
    let app = Application {
        id,
        cluster_id: cluster,
        spec,
        created_at: now,
        updated_at: now,
        never_ready,
    };
    let out = render(&app, s, clock);
    s.applications.insert(id, app);
    (id, out)
}

pub async fn create(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path(cid): Path<String>,
    body: Bytes,
) -> Reply {
    let obj = parse_object(&body)?;
    let clock = clock(&sb);
    let fails = present(&obj, "name")
        .and_then(Value::as_str)
        .is_some_and(|n| sb.should_fail(n));
    sb.write(|s| {
        let cluster = scope::cluster(s, &headers, &cid)?;
        scope::writable(s, cluster, &clock)?;
        let spec = validate(&obj, s, cluster, None)?;
        let (_, out) = insert(s, cluster, spec, clock.now, fails, &clock);
        Ok(ok(out))
    })
}

fn find(s: &Store, headers: &HeaderMap, cid: &str, app: &str) -> Result<(Id, Id), ApiError> {
    let cluster = scope::cluster(s, headers, cid)?;
    let id = path_id("app_id", app)?;
    match s.applications.get(&id) {
        Some(a) if a.cluster_id == cluster => Ok((cluster, id)),
        _ => Err(ApiError::not_found("application", id)),
    }
}

pub async fn get(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((cid, app)): Path<(String, String)>,
) -> Reply {
    let clock = clock(&sb);
    sb.read(|s| {
        let (_, id) = find(s, &headers, &cid, &app)?;
        Ok(ok(render(&s.applications[&id], s, &clock)))
    })
}

fn replace(
    sb: &Sandbox<Api7>,
    headers: &HeaderMap,
    cid: &str,
    app: &str,
    patch: Option<Map<String, Value>>,
    body: Option<Map<String, Value>>,
) -> Reply {
    let clock = clock(sb);
    sb.write(|s| {
        let (cluster, id) = find(s, headers, cid, app)?;
        scope::writable(s, cluster, &clock)?;
        let obj = match (body, patch) {
            (Some(b), _) => b,
            (None, Some(p)) => patched(&s.applications[&id].spec, p, true),
            (None, None) => Map::new(),
        };
        let spec = validate(&obj, s, cluster, Some(id))?;
        let fails = sb.should_fail(&spec.name);
        let a = s.applications.get_mut(&id).expect("found above");
        a.spec = spec;
        a.updated_at = clock.now;
        a.never_ready = fails;
        Ok(ok(render(&s.applications[&id], s, &clock)))
    })
}

pub async fn update(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((cid, app)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let obj = parse_object(&body)?;
    replace(&sb, &headers, &cid, &app, None, Some(obj))
}

pub async fn patch(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((cid, app)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let obj = parse_patch(&body)?;
    replace(&sb, &headers, &cid, &app, Some(obj), None)
}

/// `cascade` from the query (default false).
fn cascade(raw: Option<&str>) -> Result<bool, ApiError> {
    let mut cascade = false;
    for (k, v) in pairs(raw) {
        if k == "cascade" {
            cascade = match v.as_str() {
                "true" | "1" => true,
                "false" | "0" | "" => false,
                _ => {
                    return Err(ApiError::invalid(format!(
                        "cascade in query must be of type boolean: \"{v}\""
                    )));
                }
            };
        }
    }
    Ok(cascade)
}

/// Deletes applications (with their canary releases, and their APIs when `cascade`), or
/// refuses without changing anything.
fn remove_apps(s: &mut Store, ids: &[Id], cascade: bool) -> Result<(), ApiError> {
    if !cascade {
        for id in ids {
            let n = s.apis.values().filter(|a| a.app_id == *id).count();
            if n > 0 {
                return Err(ApiError::invalid(format!(
                    "application {id} still has {n} API(s); delete them first or pass cascade=true"
                )));
            }
        }
    }
    for id in ids {
        s.applications.remove(id);
        s.apis.retain(|_, a| a.app_id != *id);
        s.canary_releases.retain(|_, c| c.app_id != *id);
    }
    Ok(())
}

pub async fn delete(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((cid, app)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let cascade = cascade(raw.as_deref())?;
    sb.write(|s| {
        let (_, id) = find(s, &headers, &cid, &app)?;
        remove_apps(s, &[id], cascade)?;
        Ok(ok_empty())
    })
}

pub async fn delete_all(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path(cid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let cascade = cascade(raw.as_deref())?;
    sb.write(|s| {
        let cluster = scope::cluster(s, &headers, &cid)?;
        let ids: Vec<Id> = s
            .applications
            .values()
            .filter(|a| a.cluster_id == cluster)
            .map(|a| a.id)
            .collect();
        remove_apps(s, &ids, cascade)?;
        Ok(ok_empty())
    })
}
