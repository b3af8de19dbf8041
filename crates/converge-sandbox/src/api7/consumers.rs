//! Consumers of a cluster: `/clusters/{cluster_id}/consumers[/{consumer_id}]`.
//!
//! Name 1..100 characters of `^[a-zA-Z0-9_]+$`, unique in the cluster (409); description
//! <= 256; `credentials` an object or null; `plugins` an object; labels. `PATCH` merges
//! top-level fields, then validates the whole consumer. Credentials are returned as given, as
//! the platform's console shows them.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

use super::Api7;
use super::envelope::{ApiError, Reply, ok, ok_empty, ok_list};
use super::model::{Consumer, ConsumerSpec, Id, State as Store};
use super::orgs::clock;
use super::query::{self, ListSpec, SortKey};
use super::scope;
use super::validate::{Checker, Pattern, parse_object, parse_patch, patched, path_id};
use crate::Sandbox;

fn validate(
    obj: &Map<String, Value>,
    state: &Store,
    cluster: Id,
    own: Option<Id>,
) -> Result<ConsumerSpec, ApiError> {
    let mut c = Checker::new();
    let name = c
        .string(obj, "", "name", true, (1, 100))
        .filter(|n| c.pattern("name", n, Pattern::ConsumerName));
    let description = c
        .string(obj, "", "description", false, (0, 256))
        .unwrap_or_default();
    let credentials = c
        .object(obj, "", "credentials", false)
        .map(|m| Value::Object(m.clone()));
    let plugins = c.plugins(obj, "");
    let labels = c.labels(obj, "");
    c.finish()?;
    let Some(name) = name else {
        return Err(ApiError::invalid("name in body is required"));
    };
    if let Some(other) = state
        .consumers
        .values()
        .find(|x| x.cluster_id == cluster && x.spec.name == name && Some(x.id) != own)
    {
        return Err(ApiError::conflict(format!(
            "consumer name {name:?} already exists in cluster {cluster} (consumer {})",
            other.id
        )));
    }
    Ok(ConsumerSpec {
        name,
        description,
        credentials,
        plugins,
        labels,
    })
}

fn render(consumer: &Consumer, clock: &super::model::Clock) -> Value {
    let mut out = match serde_json::to_value(&consumer.spec) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    out.insert("id".into(), json!(consumer.id));
    out.insert("cluster_id".into(), json!(consumer.cluster_id));
    out.insert(
        "status".into(),
        json!(clock.entity_status(consumer.updated_at, false)),
    );
    out.insert("created_at".into(), json!(consumer.created_at));
    out.insert("updated_at".into(), json!(consumer.updated_at));
    Value::Object(out)
}

const CONSUMER_LIST: ListSpec = ListSpec {
    order_by: &["created_at", "updated_at", "name"],
    labels: true,
    active: false,
};

pub async fn list(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path(cid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = query::parse(raw.as_deref(), &CONSUMER_LIST)?;
    let clock = clock(&sb);
    sb.read(|s| {
        let cluster = scope::cluster(s, &headers, &cid)?;
        let found: Vec<&Consumer> = s
            .consumers
            .values()
            .filter(|c| c.cluster_id == cluster)
            .filter(|c| q.matches_search(c.id, &[&c.spec.name]) && q.matches_labels(&c.spec.labels))
            .collect();
        let (page, count) = q.page(found, |c, by| {
            let key = match by {
                "created_at" => SortKey::Time(Some(c.created_at)),
                "name" => SortKey::Text(c.spec.name.clone()),
                _ => SortKey::Time(Some(c.updated_at)),
            };
            (key, c.id)
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
    Path(cid): Path<String>,
    body: Bytes,
) -> Reply {
    let obj = parse_object(&body)?;
    let clock = clock(&sb);
    sb.write(|s| {
        let cluster = scope::cluster(s, &headers, &cid)?;
        scope::writable(s, cluster, &clock)?;
        let spec = validate(&obj, s, cluster, None)?;
        let id = s.new_id();
        let consumer = Consumer {
            id,
            cluster_id: cluster,
            spec,
            created_at: clock.now,
            updated_at: clock.now,
        };
        let out = render(&consumer, &clock);
        s.consumers.insert(id, consumer);
        Ok(ok(out))
    })
}

fn find(s: &Store, headers: &HeaderMap, cid: &str, raw: &str) -> Result<(Id, Id), ApiError> {
    let cluster = scope::cluster(s, headers, cid)?;
    let id = path_id("consumer_id", raw)?;
    match s.consumers.get(&id) {
        Some(c) if c.cluster_id == cluster => Ok((cluster, id)),
        _ => Err(ApiError::not_found("consumer", id)),
    }
}

pub async fn get(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((cid, consumer)): Path<(String, String)>,
) -> Reply {
    let clock = clock(&sb);
    sb.read(|s| {
        let (_, id) = find(s, &headers, &cid, &consumer)?;
        Ok(ok(render(&s.consumers[&id], &clock)))
    })
}

fn replace(
    sb: &Sandbox<Api7>,
    headers: &HeaderMap,
    cid: &str,
    consumer: &str,
    obj: Map<String, Value>,
    merge: bool,
) -> Reply {
    let clock = clock(sb);
    sb.write(|s| {
        let (cluster, id) = find(s, headers, cid, consumer)?;
        scope::writable(s, cluster, &clock)?;
        let obj = patched(&s.consumers[&id].spec, obj, merge);
        let spec = validate(&obj, s, cluster, Some(id))?;
        let c = s.consumers.get_mut(&id).expect("found above");
        c.spec = spec;
        c.updated_at = clock.now;
        Ok(ok(render(c, &clock)))
    })
}

pub async fn update(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((cid, consumer)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let obj = parse_object(&body)?;
    replace(&sb, &headers, &cid, &consumer, obj, false)
}

pub async fn patch(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((cid, consumer)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let obj = parse_patch(&body)?;
    replace(&sb, &headers, &cid, &consumer, obj, true)
}

pub async fn delete(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((cid, consumer)): Path<(String, String)>,
) -> Reply {
    sb.write(|s| {
        let (_, id) = find(s, &headers, &cid, &consumer)?;
        s.consumers.remove(&id);
        Ok(ok_empty())
    })
}
