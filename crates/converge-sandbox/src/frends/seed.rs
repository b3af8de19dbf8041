//! Seed data: the default agent groups, and what `POST /_sandbox/seed` adds.

use serde::Deserialize;

use super::model::{AgentGroup, State};
use super::openapi;
use super::passthrough::CreateModel;
use super::problem::Problem;

/// The body of `POST /_sandbox/seed` (every key optional, unknown keys refused):
///
/// ```json
/// {
///   "agentGroups": [{ "id": 3, "name": "Staging", "isDefault": false }],
///   "apiSpecifications": [{
///     "id": 40,
///     "specification": "openapi: 3.0.1\ninfo: {title: Orders, version: '1'}\nservers: [{url: /api/orders}]\npaths: {}",
///     "passthrough": [{ "isDefault": true, "targetUrl": { "server": "https://orders.internal" } }],
///     "publish": ["First release"],
///     "deployments": [{ "agentGroupId": 2, "version": 1 }]
///   }]
/// }
/// ```
///
/// Agent groups are added or renamed by id; `isDefault: true` moves the default to that group.
/// A specification (id optional) is created as through the API, its `passthrough`
/// configurations are added to version 1, then it is published once per `publish` entry (each
/// the change description), then deployed: seeded deployments are already `Deployed`. The seed
/// applies entirely or not at all.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    agent_groups: Vec<AgentGroupSeed>,
    #[serde(default)]
    api_specifications: Vec<SpecificationSeed>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AgentGroupSeed {
    id: i64,
    name: String,
    #[serde(default)]
    is_default: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SpecificationSeed {
    id: Option<i64>,
    specification: String,
    #[serde(default)]
    passthrough: Vec<CreateModel>,
    #[serde(default)]
    publish: Vec<String>,
    #[serde(default)]
    deployments: Vec<DeploymentSeed>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeploymentSeed {
    agent_group_id: i64,
    version: i32,
}

/// Agent group 1 is the default (as `examples/frends/connection.yaml` says); 2 is Production
/// (where `examples/frends/apispec.yaml` deploys).
pub fn default_seed(state: &mut State) {
    for (id, name, is_default) in [(1, "Default", true), (2, "Production", false)] {
        state.agent_groups.insert(
            id,
            AgentGroup {
                id,
                name: name.into(),
                is_default,
            },
        );
    }
}

/// Applies a seed to a copy of the state and keeps it only if all of it applied.
pub fn apply(state: &mut State, seed: serde_json::Value) -> Result<(), String> {
    let seed: Seed = serde_json::from_value(seed).map_err(|e| format!("invalid seed: {e}"))?;
    let mut next = state.clone();
    for g in seed.agent_groups {
        if g.id < 1 {
            return Err(format!("agent group id {} must be at least 1", g.id));
        }
        if g.name.trim().is_empty() {
            return Err(format!("agent group {} needs a name", g.id));
        }
        if g.is_default {
            next.agent_groups
                .values_mut()
                .for_each(|other| other.is_default = false);
        }
        let was_default = next.agent_groups.get(&g.id).is_some_and(|o| o.is_default);
        next.agent_groups.insert(
            g.id,
            AgentGroup {
                id: g.id,
                name: g.name,
                is_default: g.is_default || was_default,
            },
        );
    }
    if next.default_agent_group().is_none() {
        return Err("no agent group is the default: seed one with \"isDefault\": true".into());
    }
    let now = jiff::Timestamp::now();
    for s in seed.api_specifications {
        if s.id.is_some_and(|id| id < 1) {
            return Err("a specification id must be at least 1".into());
        }
        let doc = openapi::parse(&s.specification).map_err(|e| format!("specification: {e}"))?;
        let id = next
            .create(&s.specification, doc, s.id, now)
            .map_err(Problem::into_detail)?;
        for p in s.passthrough {
            let key = p.key().map_err(Problem::into_detail)?;
            let settings = p.settings.settings().map_err(Problem::into_detail)?;
            next.add_passthrough(id, 1, key, settings, "seed".into(), now)
                .map_err(Problem::into_detail)?;
        }
        for change in s.publish {
            next.publish(id, Some(change), now)
                .map_err(Problem::into_detail)?;
        }
        for d in s.deployments {
            next.deploy(
                id,
                d.version,
                d.agent_group_id,
                jiff::Timestamp::UNIX_EPOCH,
                false,
            )
            .map_err(Problem::into_detail)?;
        }
    }
    *state = next;
    Ok(())
}
