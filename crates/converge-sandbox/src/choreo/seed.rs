//! Seed data: what a fresh sandbox holds, and what `POST /_sandbox/seed` adds.
//!
//! Seed JSON (every list optional; unknown keys are refused; ids default to new UUIDs):
//!
//! ```json
//! {
//!   "organizations": [{"id": "globex", "name": "Globex", "handle": "globex"}],
//!   "environments": [{"orgId": "globex", "id": "…", "name": "QA", "type": "Staging", "isDefault": false}],
//!   "projects": [{"orgId": "globex", "id": "…", "name": "billing", "description": "…"}],
//!   "apis": [{"orgId": "globex", "id": "…", "name": "Billing API", "version": "v2",
//!             "context": "/billing", "type": "REST", "status": "Published",
//!             "visibility": "Organization", "componentId": "…"}]
//! }
//! ```
//!
//! `orgId` takes an organization's id or handle (seeded earlier or in the same call). Defaults:
//! `handle` is the name in lowercase with dashes; `isDefault` false; `context` is `/` and the
//! API name in lowercase with dashes; `type` REST; `status` Created; `visibility` Public.
//! Names are unique per parent as the API has them: organization ids and handles, environment
//! names in an organization, project names in an organization, API name and version in an
//! organization. A seed is applied whole or not at all.

use jiff::Timestamp;
use serde::Deserialize;

use super::model::{
    Api, ApiStatus, ApiType, ApiVisibility, Environment, EnvironmentType, OrgApi, Organization,
    Project, State, timestamp,
};

/// The organization `examples/choreo/connection.yaml` names by id.
pub const DEFAULT_ORG: &str = "acme";

/// Fixed ids, so a reset sandbox answers with the same ids every time.
const DEFAULT_ENVIRONMENTS: [(&str, &str, EnvironmentType, bool); 3] = [
    (
        "415e10e6-c436-4f40-98c9-48b68e2eff7e",
        "Development",
        EnvironmentType::Development,
        true,
    ),
    (
        "e4d5cbd7-6bb2-4814-8a21-0dce99d19a54",
        "Staging",
        EnvironmentType::Staging,
        false,
    ),
    (
        "190a31fd-8886-4dac-b55d-8c0fc0f14f4a",
        "Production",
        EnvironmentType::Production,
        false,
    ),
];

const DEFAULT_API_ID: &str = "98ccd059-1dd5-4bb1-ba62-3ecb9577bcc3";

/// Organization `acme`, its three environments, and the published "Orders API" v1 that
/// `examples/choreo/apispec.yaml` observes.
pub fn default_seed(state: &mut State) {
    let now = timestamp(Timestamp::now());
    state.organizations.push(Organization {
        id: DEFAULT_ORG.to_string(),
        name: "Acme".to_string(),
        handle: DEFAULT_ORG.to_string(),
        created_at: now,
    });
    for (id, name, type_, is_default) in DEFAULT_ENVIRONMENTS {
        state.environments.push(Environment {
            id: id.to_string(),
            name: name.to_string(),
            type_,
            is_default,
            org_id: DEFAULT_ORG.to_string(),
        });
    }
    state.apis.push(OrgApi {
        org_id: DEFAULT_ORG.to_string(),
        api: Api {
            id: DEFAULT_API_ID.to_string(),
            name: "Orders API".to_string(),
            version: "v1".to_string(),
            context: "/orders".to_string(),
            type_: ApiType::Rest,
            status: ApiStatus::Published,
            visibility: ApiVisibility::Public,
            component_id: None,
            created_at: now,
        },
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Seed {
    #[serde(default)]
    organizations: Vec<OrgSeed>,
    #[serde(default)]
    environments: Vec<EnvironmentSeed>,
    #[serde(default)]
    projects: Vec<ProjectSeed>,
    #[serde(default)]
    apis: Vec<ApiSeed>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OrgSeed {
    id: Option<String>,
    name: String,
    handle: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EnvironmentSeed {
    org_id: String,
    id: Option<String>,
    name: String,
    #[serde(rename = "type")]
    type_: EnvironmentType,
    #[serde(default)]
    is_default: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ProjectSeed {
    org_id: String,
    id: Option<String>,
    name: String,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ApiSeed {
    org_id: String,
    id: Option<String>,
    name: String,
    version: String,
    context: Option<String>,
    #[serde(rename = "type")]
    type_: Option<ApiType>,
    status: Option<ApiStatus>,
    visibility: Option<ApiVisibility>,
    component_id: Option<String>,
}

/// Applies a seed (shape in the module doc) to a copy of the state, then keeps the copy.
pub fn seed(state: &mut State, seed: serde_json::Value) -> Result<(), String> {
    let seed: Seed = serde_json::from_value(seed).map_err(|e| format!("invalid seed: {e}"))?;
    let mut next = state.clone();
    let now = timestamp(Timestamp::now());
    for o in seed.organizations {
        let name = non_empty(o.name, "organization name")?;
        let handle = match o.handle {
            Some(h) => non_empty(h, "organization handle")?,
            None => slug(&name),
        };
        let id = o.id.unwrap_or_else(new_id);
        if next
            .organizations
            .iter()
            .any(|x| [&x.id, &x.handle].contains(&&id) || [&x.id, &x.handle].contains(&&handle))
        {
            return Err(format!(
                "an organization with id {id} or handle {handle} already exists"
            ));
        }
        next.organizations.push(Organization {
            id,
            name,
            handle,
            created_at: now,
        });
    }
    for e in seed.environments {
        let org_id = org_id(&next, &e.org_id)?;
        let name = non_empty(e.name, "environment name")?;
        let id = e.id.unwrap_or_else(new_id);
        if next.environments.iter().any(|x| x.id == id) {
            return Err(format!("an environment with id {id} already exists"));
        }
        if next
            .environments
            .iter()
            .any(|x| x.org_id == org_id && x.name == name)
        {
            return Err(format!(
                "organization {} already has an environment named {name}",
                e.org_id
            ));
        }
        next.environments.push(Environment {
            id,
            name,
            type_: e.type_,
            is_default: e.is_default,
            org_id,
        });
    }
    for p in seed.projects {
        let org_id = org_id(&next, &p.org_id)?;
        let name = non_empty(p.name, "project name")?;
        let id = p.id.unwrap_or_else(new_id);
        if next.projects.iter().any(|x| x.id == id) {
            return Err(format!("a project with id {id} already exists"));
        }
        if next
            .projects
            .iter()
            .any(|x| x.org_id == org_id && x.name == name)
        {
            return Err(format!(
                "organization {} already has a project named {name}",
                p.org_id
            ));
        }
        next.projects.push(Project {
            id,
            name,
            description: p.description,
            org_id,
            created_at: now,
        });
    }
    for a in seed.apis {
        let org_id = org_id(&next, &a.org_id)?;
        let name = non_empty(a.name, "API name")?;
        let version = non_empty(a.version, "API version")?;
        let id = a.id.unwrap_or_else(new_id);
        if next.apis.iter().any(|x| x.api.id == id) {
            return Err(format!("an API with id {id} already exists"));
        }
        if next
            .apis
            .iter()
            .any(|x| x.org_id == org_id && x.api.name == name && x.api.version == version)
        {
            return Err(format!(
                "organization {} already has API {name} {version}",
                a.org_id
            ));
        }
        let context = a.context.unwrap_or_else(|| format!("/{}", slug(&name)));
        next.apis.push(OrgApi {
            org_id,
            api: Api {
                id,
                name,
                version,
                context,
                type_: a.type_.unwrap_or(ApiType::Rest),
                status: a.status.unwrap_or(ApiStatus::Created),
                visibility: a.visibility.unwrap_or(ApiVisibility::Public),
                component_id: a.component_id,
                created_at: now,
            },
        });
    }
    *state = next;
    Ok(())
}

fn org_id(state: &State, key: &str) -> Result<String, String> {
    state
        .org(key)
        .map(|o| o.id.clone())
        .map_err(|_| format!("organization {key} does not exist"))
}

fn non_empty(s: String, what: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err(format!("{what} must not be empty"))
    } else {
        Ok(s)
    }
}

fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
