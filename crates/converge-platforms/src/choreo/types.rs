//! Choreo's objects and request bodies, with the field names of the contract
//! (`docs/choreo-api-management.openapi.txt`, schemas section).
//!
//! The spec marks no response field as required. Here a field is required when it identifies
//! the object or is what a reconciler acts on (ids, names, the build's commit, statuses), so an
//! answer without it fails to decode instead of being acted on half-blind; everything else is
//! optional. Extra fields are ignored and enum values the client does not know are kept in
//! `Other`. Ids are opaque strings (UUIDs on the platform, but an organization may be named by
//! its handle).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::wire_enum::wire_enum;

wire_enum! {
    /// The eight component types of `Component.type` and `ComponentCreate.type`.
    pub enum ComponentType {
        Service = "Service",
        RestApiProxy = "REST API Proxy",
        GraphQlApiProxy = "GraphQL API Proxy",
        WebApplication = "Web Application",
        ScheduledJob = "Scheduled Job",
        ManualTrigger = "Manual Trigger",
        EventHandler = "Event Handler",
        Webhook = "Webhook",
    }
}

wire_enum! {
    /// `Component.status`. The docs do not say what makes a component Active; the sandbox
    /// calls it Active while one of its deployments is.
    pub enum ComponentStatus {
        Active = "Active",
        Inactive = "Inactive",
    }
}

wire_enum! {
    /// `Build.status`.
    pub enum BuildStatus {
        Pending = "Pending",
        InProgress = "InProgress",
        Success = "Success",
        Failed = "Failed",
        Cancelled = "Cancelled",
    }
}

impl BuildStatus {
    /// Success, Failed or Cancelled: the build will not change any more. A status this client
    /// does not know counts as unfinished, so the caller keeps observing rather than acting.
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            BuildStatus::Success | BuildStatus::Failed | BuildStatus::Cancelled
        )
    }
}

wire_enum! {
    /// `Deployment.status`. A live deployment turns Inactive when a later one to the same
    /// environment goes live.
    pub enum DeploymentStatus {
        Pending = "Pending",
        Active = "Active",
        Failed = "Failed",
        Inactive = "Inactive",
    }
}

wire_enum! {
    /// `Environment.type`.
    pub enum EnvironmentType {
        Development = "Development",
        Staging = "Staging",
        Production = "Production",
    }
}

wire_enum! {
    /// `API.type`.
    pub enum ApiType {
        Rest = "REST",
        GraphQl = "GraphQL",
        Grpc = "gRPC",
        WebSocket = "WebSocket",
    }
}

wire_enum! {
    /// `API.status`: the API's lifecycle state on the gateway.
    pub enum ApiStatus {
        Created = "Created",
        Published = "Published",
        Deprecated = "Deprecated",
        Retired = "Retired",
    }
}

wire_enum! {
    /// `API.visibility`.
    pub enum ApiVisibility {
        Public = "Public",
        Organization = "Organization",
        Project = "Project",
    }
}

/// An organization the token's user belongs to (schema `Organization`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    pub name: String,
    /// URL-friendly handle; the platform accepts it in place of the id in paths.
    #[serde(default)]
    pub handle: Option<String>,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
}

/// A project (schema `Project`). Choreo cannot update or delete a project.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    /// Unique in the organization (exactly, case included): the natural key.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub org_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
}

/// The body of `createProject` (schema `ProjectCreate`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectCreate {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A component (schema `Component`). Choreo cannot update a component: its source settings
/// are fixed at creation. The create's `subPath` is not rendered back.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    pub id: String,
    /// Unique in the project (exactly, case included): the natural key.
    pub name: String,
    #[serde(rename = "type")]
    pub type_: ComponentType,
    #[serde(default)]
    pub description: Option<String>,
    pub repo_url: String,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub buildpack_id: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub org_id: Option<String>,
    #[serde(default)]
    pub status: Option<ComponentStatus>,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
}

/// The body of `createComponent` (schema `ComponentCreate`): `name`, `type` and `repoUrl` are
/// required; `branch` defaults to `main` on the platform.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentCreate {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: ComponentType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub repo_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buildpack_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
}

/// A build of a component (schema `Build`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Build {
    pub id: String,
    pub status: BuildStatus,
    /// The commit built, as the platform records it (possibly abbreviated, as it was asked).
    pub commit_hash: String,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub component_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// Set once the build finished.
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
}

impl Build {
    /// Whether this build is of `commit`, either hash possibly abbreviated (one is a prefix of
    /// the other, ignoring case). An abbreviation shorter than git's 7 digits never matches.
    pub fn is_of_commit(&self, commit: &str) -> bool {
        let (ours, theirs) = (
            self.commit_hash.to_ascii_lowercase(),
            commit.to_ascii_lowercase(),
        );
        ours.len().min(theirs.len()) >= 7
            && (ours.starts_with(&theirs) || theirs.starts_with(&ours))
    }
}

/// The body of `createBuild` (schema `BuildCreate`). Both optional: the component's branch
/// and that branch's head by default.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildCreate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_hash: Option<String>,
}

/// A deployment of a build to an environment (schema `Deployment`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    pub build_id: String,
    pub environment_id: String,
    pub status: DeploymentStatus,
    #[serde(default)]
    pub component_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
}

/// The body of `createDeployment` (schema `DeploymentCreate`): the environment by id.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentCreate {
    pub build_id: String,
    pub environment_id: String,
}

/// An environment of the organization (schema `Environment`). Read-only through the API.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub id: String,
    /// Unique in the organization, e.g. "Development".
    pub name: String,
    #[serde(default, rename = "type")]
    pub type_: Option<EnvironmentType>,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub org_id: Option<String>,
}

impl Environment {
    /// The environment a manifest names by id or by name: an id match first (ids are what
    /// deployments carry), then an exact name match.
    pub fn resolve<'a>(environments: &'a [Environment], key: &str) -> Option<&'a Environment> {
        environments
            .iter()
            .find(|e| e.id == key)
            .or_else(|| environments.iter().find(|e| e.name == key))
    }
}

/// A managed API on the gateway (schema `API`). Read-only through the API.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Api {
    pub id: String,
    pub name: String,
    /// Name and version together are unique in the organization.
    pub version: String,
    pub status: ApiStatus,
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default, rename = "type")]
    pub type_: Option<ApiType>,
    #[serde(default)]
    pub visibility: Option<ApiVisibility>,
    /// The component that implements it, when there is one.
    #[serde(default)]
    pub component_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_the_platform_adds_later_decode_and_keep_their_name() {
        let build: Build = serde_json::from_value(json!({
            "id": "b1", "status": "Queued", "commitHash": "4f2c9e1", "runner": "new field"
        }))
        .unwrap();
        assert_eq!(build.status, BuildStatus::Other("Queued".into()));
        assert_eq!(build.status.to_string(), "Queued");
        assert!(!build.status.is_finished());
        let api: Api = serde_json::from_value(json!({
            "id": "a1", "name": "Orders API", "version": "v1", "status": "Published", "type": "AsyncAPI"
        }))
        .unwrap();
        assert_eq!(api.status, ApiStatus::Published);
        assert_eq!(api.type_, Some(ApiType::Other("AsyncAPI".into())));
    }

    #[test]
    fn a_missing_required_field_fails_the_decode() {
        let error = serde_json::from_value::<Deployment>(json!({
            "id": "d1", "buildId": "b1", "status": "Active"
        }))
        .unwrap_err();
        assert!(error.to_string().contains("environmentId"), "{error}");
        assert!(
            serde_json::from_value::<Build>(json!({ "id": "b1", "commitHash": "4f2c9e1" }))
                .is_err()
        );
    }

    #[test]
    fn request_bodies_use_the_contract_names_and_leave_out_what_is_unset() {
        let body = ComponentCreate {
            name: "orders".into(),
            type_: ComponentType::RestApiProxy,
            description: None,
            repo_url: "https://github.com/acme/orders".into(),
            branch: None,
            buildpack_id: None,
            sub_path: Some("services/orders".into()),
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({ "name": "orders", "type": "REST API Proxy",
                    "repoUrl": "https://github.com/acme/orders", "subPath": "services/orders" })
        );
        assert_eq!(
            serde_json::to_value(BuildCreate::default()).unwrap(),
            json!({})
        );
        assert_eq!(
            serde_json::to_value(DeploymentCreate {
                build_id: "b".into(),
                environment_id: "e".into()
            })
            .unwrap(),
            json!({ "buildId": "b", "environmentId": "e" })
        );
    }

    #[test]
    fn commits_match_full_or_abbreviated_in_either_direction() {
        let build = |commit: &str| Build {
            id: "b".into(),
            status: BuildStatus::Success,
            commit_hash: commit.into(),
            branch: None,
            component_id: None,
            created_at: None,
            completed_at: None,
        };
        let full = "4f2c9e1a0b3c4d5e6f708192a3b4c5d6e7f80912";
        assert!(build(full).is_of_commit("4F2C9E1"));
        assert!(build("4f2c9e1").is_of_commit(full));
        assert!(!build(full).is_of_commit("4f2c9e2"));
        assert!(!build(full).is_of_commit("4f2c"));
        assert!(!build(full).is_of_commit(""));
    }

    #[test]
    fn environments_resolve_by_id_before_name() {
        let env = |id: &str, name: &str| Environment {
            id: id.into(),
            name: name.into(),
            type_: None,
            is_default: false,
            org_id: None,
        };
        // A name that is another environment's id still resolves by id.
        let envs = [env("e1", "Development"), env("e2", "e1")];
        assert_eq!(
            Environment::resolve(&envs, "e1").map(|e| &e.name[..]),
            Some("Development")
        );
        assert_eq!(
            Environment::resolve(&envs, "Development").map(|e| &e.id[..]),
            Some("e1")
        );
        assert_eq!(Environment::resolve(&envs, "development"), None);
    }
}
