//! The user, organizations and clusters.
//!
//! `POST /orgs/{org_id}/clusters` ("Create Cluster", whose body the docs leave as an open
//! object) takes an optional `name` and `region_id`. A new cluster is `pending` (1), then
//! `creating` (2), then `normal` (3), one step each; when its name matched a failure pattern
//! (`POST /_sandbox/failures`) it ends `create failed` (4) instead. Seeded clusters are normal.
//! `PATCH .../config` merges `client_settings`, `observability_settings` and
//! `api_proxy_settings` into `settings`; `PATCH .../plugins` merges plugins into `policies`
//! (`null` removes one); both bump `config_version` and answer without a payload.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde_json::Value;

use super::Api7;
use super::envelope::{ApiError, Reply, ok, ok_empty, ok_list};
use super::model::{Clock, Cluster, Id, Provisioning};
use super::query::{self, ListSpec, SortKey};
use super::scope;
use super::validate::{Checker, parse_object, path_id};
use crate::Sandbox;

pub fn clock(sb: &Sandbox<Api7>) -> Clock {
    Clock {
        now: sb.now(),
        timing: *sb.timing(),
    }
}

pub async fn me(State(sb): State<Sandbox<Api7>>) -> Reply {
    sb.read(|s| match &s.user {
        Some(u) => Ok(ok(u)),
        None => Err(ApiError::not_found("user", "me")),
    })
}

pub async fn get_org(State(sb): State<Sandbox<Api7>>, Path(org): Path<String>) -> Reply {
    let id = path_id("org_id", &org)?;
    sb.read(|s| {
        s.organizations
            .get(&id)
            .map(ok)
            .ok_or_else(|| ApiError::not_found("organization", id))
    })
}

const CLUSTER_LIST: ListSpec = ListSpec {
    order_by: &["created_at", "updated_at"],
    labels: false,
    active: false,
};

pub async fn list_clusters(
    State(sb): State<Sandbox<Api7>>,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let id = path_id("org_id", &org)?;
    let q = query::parse(raw.as_deref(), &CLUSTER_LIST)?;
    let clock = clock(&sb);
    sb.read(|s| {
        if !s.organizations.contains_key(&id) {
            return Err(ApiError::not_found("organization", id));
        }
        let found: Vec<&Cluster> = s
            .clusters
            .values()
            .filter(|c| c.org_id == id && q.matches_search(c.id, &[&c.name]))
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
            page.iter().map(|c| c.render(&clock)).collect(),
            count,
        ))
    })
}

pub async fn create_cluster(
    State(sb): State<Sandbox<Api7>>,
    Path(org): Path<String>,
    body: Bytes,
) -> Reply {
    let org = path_id("org_id", &org)?;
    let obj = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else {
        parse_object(&body)?
    };
    let mut c = Checker::new();
    let name = c.string(&obj, "", "name", false, (1, 64));
    let region = c.string(&obj, "", "region_id", false, (1, 20));
    c.finish()?;
    let region =
        match region {
            Some(r) => Some(Id::parse(&r).ok_or_else(|| {
                ApiError::invalid("region_id in body should match '^[1-9][0-9]*$'")
            })?),
            None => None,
        };
    let now = sb.now();
    let clock = clock(&sb);
    let fails_for = |name: &str| sb.should_fail(name);
    sb.write(|s| {
        if !s.organizations.contains_key(&org) {
            return Err(ApiError::not_found("organization", org));
        }
        let id = s.new_id();
        let name = name.unwrap_or_else(|| format!("cluster-{id}"));
        if s.clusters
            .values()
            .any(|c| c.org_id == org && c.name == name)
        {
            return Err(ApiError::conflict(format!(
                "cluster {name:?} already exists in organization {org}"
            )));
        }
        let region_id = match region {
            Some(r) => r,
            None => s.new_id(),
        };
        let cluster = Cluster {
            id,
            org_id: org,
            region_id,
            created_at: now,
            updated_at: now,
            domain: format!("{id}.sandbox.api7.cloud"),
            settings: default_settings(),
            policies: serde_json::Map::new(),
            config_version: 1,
            provisioning: Some(Provisioning {
                started_at: now,
                fails: fails_for(&name),
            }),
            name,
        };
        let out = cluster.render(&clock);
        s.clusters.insert(id, cluster);
        Ok(ok(out))
    })
}

/// The settings a new cluster starts with.
pub fn default_settings() -> serde_json::Map<String, Value> {
    let v = serde_json::json!({
        "client_settings": {
            "client_real_ip": { "enabled": false },
            "maximum_request_body_size": 1_048_576
        },
        "observability_settings": {
            "metrics": { "enabled": true },
            "show_upstream_status_in_response_header": false
        },
        "api_proxy_settings": {
            "enable_request_buffering": true,
            "server_header_customization": { "enabled": false },
            "url_handling_options": []
        }
    });
    v.as_object().cloned().unwrap_or_default()
}

pub async fn get_cluster(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path(cid): Path<String>,
) -> Reply {
    let clock = clock(&sb);
    sb.read(|s| {
        let id = scope::cluster(s, &headers, &cid)?;
        Ok(ok(s.clusters[&id].render(&clock)))
    })
}

const SETTINGS: [&str; 3] = [
    "client_settings",
    "observability_settings",
    "api_proxy_settings",
];

pub async fn update_config(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path(cid): Path<String>,
    body: Bytes,
) -> Reply {
    let obj = parse_object(&body)?;
    let mut c = Checker::new();
    for key in SETTINGS {
        c.object(&obj, "", key, false);
    }
    c.finish()?;
    let clock = clock(&sb);
    sb.write(|s| {
        let id = scope::cluster(s, &headers, &cid)?;
        scope::writable(s, id, &clock)?;
        let cluster = s.clusters.get_mut(&id).expect("checked above");
        for key in SETTINGS {
            if let Some(v) = obj.get(key).filter(|v| !v.is_null()) {
                cluster.settings.insert(key.to_string(), v.clone());
            }
        }
        cluster.config_version += 1;
        cluster.updated_at = clock.now;
        Ok(ok_empty())
    })
}

pub async fn update_plugins(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path(cid): Path<String>,
    body: Bytes,
) -> Reply {
    let obj = parse_object(&body)?;
    let clock = clock(&sb);
    sb.write(|s| {
        let id = scope::cluster(s, &headers, &cid)?;
        scope::writable(s, id, &clock)?;
        let cluster = s.clusters.get_mut(&id).expect("checked above");
        for (name, conf) in obj {
            if conf.is_null() {
                cluster.policies.remove(&name);
            } else {
                cluster.policies.insert(name, conf);
            }
        }
        cluster.config_version += 1;
        cluster.updated_at = clock.now;
        Ok(ok_empty())
    })
}
