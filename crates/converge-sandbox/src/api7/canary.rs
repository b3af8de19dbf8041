//! Canary releases of an application: `/apps/{app_id}/canary_releases[/{canary_release_id}]`,
//! with the cluster in `X-API7-Cloud-Gateway-Cluster-ID`.
//!
//! Starting, pausing and finishing are a `PUT` of the whole release with `state`
//! `in_progress`, `paused` or `finished` (the Go SDK's Start/Pause/FinishCanaryRelease).
//! Fields as the docs give them: name 1..64, state, type `percent|rule`,
//! canary_upstream_version 1..64, percent 1..100, expressions 1..64 items (the docs call them
//! `expressions`; the old SDK struct said `rules`).
//!
//! What the docs leave open, decided here:
//! - A new release without `state` is `paused`; it may also be created `in_progress`, never
//!   `finished` (400). A `PUT` without `state` keeps the current one.
//! - Transitions: paused <-> in_progress, and either -> finished. `finished` is final: a `PUT`
//!   that changes anything on a finished release is 400, an identical one answers 200 without
//!   change (a client retrying a lost "finish" succeeds).
//! - `percent` is required for type `percent`, `expressions` for type `rule`.
//! - While open (paused or in progress), `canary_upstream_version` must be one of the
//!   application's upstream versions and not its `default_upstream_version` (400), and no other
//!   open release of the application may use it (409). A `PUT` to `finished` skips these, so
//!   promoting the version before or after finishing both work. Names are unique within the
//!   application (409).
//! - Finishing changes nothing on the application: promoting the canary version is the
//!   client's `PUT` of the application with a new `default_upstream_version`.
//! - The release's `status` is 0 then 50 like other entities; a release whose name matched a
//!   failure pattern stays 0 (never delivered to the gateways).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

use super::Api7;
use super::apis::expressions;
use super::envelope::{ApiError, Reply, ok, ok_empty, ok_list};
use super::model::{CanaryRelease, CanarySpec, Clock, Id, State as Store, canary_state};
use super::orgs::clock;
use super::query::{self, ListSpec, SortKey};
use super::scope;
use super::validate::{Checker, parse_object, path_id};
use crate::Sandbox;

/// Validates a canary release body for application `app`; `own` is the release being replaced.
fn validate(
    obj: &Map<String, Value>,
    state: &Store,
    app: Id,
    own: Option<&CanaryRelease>,
) -> Result<CanarySpec, ApiError> {
    let mut c = Checker::new();
    let name = c.string(obj, "", "name", true, (1, 64));
    let new_state = c.one_of(obj, "", "state", false, &canary_state::ALL, true);
    let kind = c.one_of(obj, "", "type", true, &["percent", "rule"], false);
    let version = c.string(obj, "", "canary_upstream_version", true, (1, 64));
    let percent = c.integer(obj, "", "percent", false, Some(1), Some(100));
    let exprs = expressions(&mut c, obj, "", false);
    if kind.as_deref() == Some("percent") && percent.is_none() && c.is_ok() {
        c.fail("percent in body is required for a percent canary release");
    }
    if kind.as_deref() == Some("rule") && exprs.is_none() && c.is_ok() {
        c.fail("expressions in body is required for a rule canary release");
    }
    c.finish()?;
    let (Some(name), Some(kind), Some(version)) = (name, kind, version) else {
        return Err(ApiError::invalid(
            "name, type and canary_upstream_version are required",
        ));
    };
    let new_state = new_state.unwrap_or_else(|| {
        own.map(|o| o.spec.state.clone())
            .unwrap_or_else(|| canary_state::PAUSED.into())
    });
    // A finishing release no longer holds its version: the client may already have promoted it
    // to default_upstream_version, or removed it.
    let application = &state.applications[&app];
    let versions = application.spec.versions();
    if new_state != canary_state::FINISHED && !versions.contains(&version) {
        return Err(ApiError::invalid(format!(
            "canary_upstream_version in body should be one of the application's upstream versions [{}]",
            versions.join(" ")
        )));
    }
    if new_state != canary_state::FINISHED && version == application.spec.default_upstream_version {
        return Err(ApiError::invalid(format!(
            "canary_upstream_version {version:?} is the application's default_upstream_version; a canary release needs another version"
        )));
    }
    let own_id = own.map(|o| o.id);
    if let Some(other) = state
        .canary_releases
        .values()
        .find(|c| c.app_id == app && c.spec.name == name && Some(c.id) != own_id)
    {
        return Err(ApiError::conflict(format!(
            "canary release name {name:?} already exists in application {app} (canary release {})",
            other.id
        )));
    }
    if new_state != canary_state::FINISHED
        && let Some(other) = state
            .open_canaries(app)
            .find(|c| c.spec.canary_upstream_version == version && Some(c.id) != own_id)
    {
        return Err(ApiError::conflict(format!(
            "upstream version {version:?} already has an open canary release {} ({})",
            other.id, other.spec.state
        )));
    }
    Ok(CanarySpec {
        name,
        state: new_state,
        kind,
        canary_upstream_version: version,
        percent,
        expressions: exprs,
    })
}

fn render(cr: &CanaryRelease, clock: &Clock) -> Value {
    let mut out = match serde_json::to_value(&cr.spec) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    out.insert("id".into(), json!(cr.id));
    out.insert("app_id".into(), json!(cr.app_id));
    out.insert(
        "status".into(),
        json!(clock.entity_status(cr.updated_at, cr.never_ready)),
    );
    out.insert("created_at".into(), json!(cr.created_at));
    out.insert("updated_at".into(), json!(cr.updated_at));
    Value::Object(out)
}

const CANARY_LIST: ListSpec = ListSpec {
    order_by: &["created_at", "updated_at"],
    labels: false,
    active: false,
};

pub async fn list(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path(app): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = query::parse(raw.as_deref(), &CANARY_LIST)?;
    let clock = clock(&sb);
    sb.read(|s| {
        let (_, app) = scope::app(s, &headers, &app)?;
        let found: Vec<&CanaryRelease> = s
            .canary_releases
            .values()
            .filter(|c| c.app_id == app && q.matches_search(c.id, &[&c.spec.name]))
            .collect();
        let (page, count) = q.page(found, |c, by| {
            let t = if by == "created_at" {
                c.created_at
            } else {
                c.updated_at
            };
            (SortKey::Time(Some(t)), c.id)
        });
        Ok(ok_list(
            page.iter().map(|c| render(c, &clock)).collect(),
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
    sb.write(|s| {
        let (cluster, app) = scope::app(s, &headers, &app)?;
        scope::writable(s, cluster, &clock)?;
        let spec = validate(&obj, s, app, None)?;
        if spec.state == canary_state::FINISHED {
            return Err(ApiError::invalid(
                "a canary release cannot be created in state finished",
            ));
        }
        let id = s.new_id();
        let cr = CanaryRelease {
            id,
            app_id: app,
            never_ready: sb.should_fail(&spec.name),
            spec,
            created_at: clock.now,
            updated_at: clock.now,
        };
        let out = render(&cr, &clock);
        s.canary_releases.insert(id, cr);
        Ok(ok(out))
    })
}

fn find(s: &Store, headers: &HeaderMap, app: &str, cr: &str) -> Result<(Id, Id), ApiError> {
    let (cluster, app) = scope::app(s, headers, app)?;
    let id = path_id("canary_release_id", cr)?;
    match s.canary_releases.get(&id) {
        Some(c) if c.app_id == app => Ok((cluster, id)),
        _ => Err(ApiError::not_found("canary release", id)),
    }
}

pub async fn get(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((app, cr)): Path<(String, String)>,
) -> Reply {
    let clock = clock(&sb);
    sb.read(|s| {
        let (_, id) = find(s, &headers, &app, &cr)?;
        Ok(ok(render(&s.canary_releases[&id], &clock)))
    })
}

pub async fn update(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((app, cr)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let obj = parse_object(&body)?;
    let clock = clock(&sb);
    sb.write(|s| {
        let (cluster, id) = find(s, &headers, &app, &cr)?;
        scope::writable(s, cluster, &clock)?;
        let current = s.canary_releases[&id].clone();
        if current.spec.state == canary_state::FINISHED {
            let same = validate(&obj, s, current.app_id, Some(&current))
                .is_ok_and(|spec| spec == current.spec);
            if same {
                return Ok(ok(render(&current, &clock)));
            }
            return Err(ApiError::invalid(format!(
                "canary release {id} is finished and cannot be changed"
            )));
        }
        let spec = validate(&obj, s, current.app_id, Some(&current))?;
        let never_ready = sb.should_fail(&spec.name);
        let c = s.canary_releases.get_mut(&id).expect("found above");
        c.spec = spec;
        c.updated_at = clock.now;
        c.never_ready = never_ready;
        Ok(ok(render(c, &clock)))
    })
}

pub async fn delete(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((app, cr)): Path<(String, String)>,
) -> Reply {
    sb.write(|s| {
        let (_, id) = find(s, &headers, &app, &cr)?;
        s.canary_releases.remove(&id);
        Ok(ok_empty())
    })
}
