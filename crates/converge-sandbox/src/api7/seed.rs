//! Seed data: what a fresh sandbox holds, and what `POST /_sandbox/seed` adds.
//!
//! A fresh sandbox has the user of the access token, organization `"1001"` ("sandbox") and its
//! cluster `"2001"` ("default", normal), the ids `examples/api7/` use. Those two keep small ids;
//! everything created later gets a large one.
//!
//! `POST /_sandbox/seed` takes (every key optional; ids optional, generated when absent):
//!
//! ```json
//! {
//!   "organizations": [{ "id": "1002", "name": "platform" }],
//!   "clusters": [{ "id": "2002", "org_id": "1002", "name": "staging" }],
//!   "applications": [{ "cluster_id": "2001", "name": "legacy", "hosts": ["legacy.test"],
//!                      "path_prefix": "/legacy",
//!                      "upstreams": [{ "version": "default", "upstream": {
//!                          "scheme": "http", "targets": [{ "host": "10.0.0.7", "port": 80 }] } }] }]
//! }
//! ```
//!
//! Organization names follow the docs (1..32, `\S+`); seeded clusters are normal at once;
//! applications are validated like `POST .../apps` (so a taken name is refused). The user
//! becomes a member of every seeded organization. Nothing is added when anything is wrong.

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::apps;
use super::model::{Clock, Cluster, Id, Organization, SEED_CLUSTER, SEED_ORG, State, User};
use super::orgs::default_settings;
use super::validate::{Checker, Pattern};
use crate::Timing;

fn organization(id: Id, name: &str, now: Timestamp, plan: Id) -> Organization {
    Organization {
        id,
        name: name.into(),
        created_at: now,
        updated_at: now,
        plan_id: plan,
        plan_expire_time: now
            .checked_add(jiff::SignedDuration::from_hours(24 * 365))
            .unwrap_or(now),
        subscription_started_at: Some(now),
        owner_id: String::new(),
    }
}

fn cluster(id: Id, org: Id, name: &str, region: Id, now: Timestamp) -> Cluster {
    Cluster {
        id,
        name: name.into(),
        org_id: org,
        region_id: region,
        created_at: now,
        updated_at: now,
        domain: format!("{id}.sandbox.api7.cloud"),
        settings: default_settings(),
        policies: Map::new(),
        config_version: 1,
        provisioning: None,
    }
}

pub fn default_seed(state: &mut State) {
    let now = Timestamp::now();
    let user_id = state.new_id();
    let plan = state.new_id();
    let region = state.new_id();
    let mut org = organization(SEED_ORG, "sandbox", now, plan);
    org.owner_id = user_id.to_string();
    state.organizations.insert(SEED_ORG, org);
    state.clusters.insert(
        SEED_CLUSTER,
        cluster(SEED_CLUSTER, SEED_ORG, "default", region, now),
    );
    state.user = Some(User {
        id: user_id.to_string(),
        first_name: "Sandbox".into(),
        last_name: "User".into(),
        email: "sandbox@api7.test".into(),
        org_ids: vec![SEED_ORG],
        connection: "email".into(),
        avatar_url: String::new(),
        created_at: now,
        updated_at: now,
    });
}

fn id_of(obj: &Map<String, Value>, key: &str, what: &str) -> Result<Option<Id>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Id::parse(s)
            .map(Some)
            .ok_or_else(|| format!("{what}.{key}: {s:?} is not an id (^[1-9][0-9]*$)")),
        Some(_) => Err(format!("{what}.{key} must be a decimal string")),
    }
}

fn objects<'a>(
    seed: &'a Map<String, Value>,
    key: &str,
) -> Result<Vec<&'a Map<String, Value>>, String> {
    match seed.get(key) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_object()
                    .ok_or_else(|| format!("{key}[{i}] must be an object"))
            })
            .collect(),
        Some(_) => Err(format!("{key} must be an array")),
    }
}

fn fresh_id(state: &mut State, given: Option<Id>, what: &str) -> Result<Id, String> {
    match given {
        Some(id) if state.id_taken(id) => Err(format!("{what}: id {id} is already used")),
        Some(id) => {
            state.claim_id(id);
            Ok(id)
        }
        None => Ok(state.new_id()),
    }
}

/// Adds seed data; on any error the state is left as it was.
pub fn seed(state: &mut State, seed: Value) -> Result<(), String> {
    let Value::Object(seed) = seed else {
        return Err("the seed must be a JSON object".into());
    };
    if let Some(key) = seed
        .keys()
        .find(|k| !["organizations", "clusters", "applications"].contains(&k.as_str()))
    {
        return Err(format!(
            "unknown seed key {key:?} (expected organizations, clusters, applications)"
        ));
    }
    // Work on a copy so a failure half-way changes nothing.
    let mut next: State =
        serde_json::from_value(serde_json::to_value(&*state).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let now = Timestamp::now();

    for (i, o) in objects(&seed, "organizations")?.into_iter().enumerate() {
        let what = format!("organizations[{i}]");
        let mut c = Checker::new();
        let name = c
            .string(o, "", "name", true, (1, 32))
            .filter(|n| c.pattern("name", n, Pattern::NoSpace));
        c.finish().map_err(|e| format!("{what}: {}", e.error))?;
        let name = name.unwrap_or_default();
        let id = fresh_id(&mut next, id_of(o, "id", &what)?, &what)?;
        let plan = next.new_id();
        let mut org = organization(id, &name, now, plan);
        if let Some(u) = &mut next.user {
            org.owner_id = u.id.clone();
            u.org_ids.push(id);
        }
        next.organizations.insert(id, org);
    }

    for (i, o) in objects(&seed, "clusters")?.into_iter().enumerate() {
        let what = format!("clusters[{i}]");
        let mut c = Checker::new();
        let name = c.string(o, "", "name", true, (1, 64));
        c.finish().map_err(|e| format!("{what}: {}", e.error))?;
        let name = name.unwrap_or_default();
        let org = id_of(o, "org_id", &what)?.unwrap_or(SEED_ORG);
        if !next.organizations.contains_key(&org) {
            return Err(format!("{what}: organization {org} does not exist"));
        }
        if next
            .clusters
            .values()
            .any(|c| c.org_id == org && c.name == name)
        {
            return Err(format!(
                "{what}: cluster {name:?} already exists in organization {org}"
            ));
        }
        let id = fresh_id(&mut next, id_of(o, "id", &what)?, &what)?;
        let region = next.new_id();
        next.clusters
            .insert(id, cluster(id, org, &name, region, now));
    }

    let clock = Clock {
        now,
        timing: Timing::INSTANT,
    };
    for (i, o) in objects(&seed, "applications")?.into_iter().enumerate() {
        let what = format!("applications[{i}]");
        let cluster = id_of(o, "cluster_id", &what)?.unwrap_or(SEED_CLUSTER);
        if !next.clusters.contains_key(&cluster) {
            return Err(format!("{what}: cluster {cluster} does not exist"));
        }
        let spec =
            apps::validate(o, &next, cluster, None).map_err(|e| format!("{what}: {}", e.error))?;
        let given = id_of(o, "id", &what)?;
        let (id, _) = apps::insert(&mut next, cluster, spec, now, false, &clock);
        if let Some(want) = given {
            if next.id_taken(want) {
                return Err(format!("{what}: id {want} is already used"));
            }
            if let Some(mut app) = next.applications.remove(&id) {
                app.id = want;
                next.claim_id(want);
                next.applications.insert(want, app);
            }
        }
    }

    *state = next;
    Ok(())
}
