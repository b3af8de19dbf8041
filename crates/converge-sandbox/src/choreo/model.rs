//! What the Choreo sandbox stores, and the statuses computed from it.
//!
//! Builds and deployments store when they started and whether they are meant to fail; their
//! status is computed on every read from the sandbox's [`Timing`], so a snapshot restored later
//! carries on where it was.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Timing;

use super::error::ApiError;

/// Everything the Choreo sandbox knows. Vectors keep creation order, which the lists show.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct State {
    pub organizations: Vec<Organization>,
    pub environments: Vec<Environment>,
    pub projects: Vec<Project>,
    pub components: Vec<Component>,
    pub builds: Vec<Build>,
    pub deployments: Vec<Deployment>,
    pub apis: Vec<OrgApi>,
}

/// An organization, rendered as stored (schema `Organization`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub handle: String,
    pub created_at: Timestamp,
}

/// An organization's environment, rendered as stored (schema `Environment`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_: EnvironmentType,
    pub is_default: bool,
    pub org_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnvironmentType {
    Development,
    Staging,
    Production,
}

/// A project, rendered as stored (schema `Project`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub org_id: String,
    pub created_at: Timestamp,
}

/// The eight component types of the `Component` and `ComponentCreate` schemas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ComponentType {
    Service,
    #[serde(rename = "REST API Proxy")]
    RestApiProxy,
    #[serde(rename = "GraphQL API Proxy")]
    GraphQlApiProxy,
    #[serde(rename = "Web Application")]
    WebApplication,
    #[serde(rename = "Scheduled Job")]
    ScheduledJob,
    #[serde(rename = "Manual Trigger")]
    ManualTrigger,
    #[serde(rename = "Event Handler")]
    EventHandler,
    Webhook,
}

impl ComponentType {
    /// Every type with its wire name, in the order the spec lists them.
    pub const ALL: [(&'static str, ComponentType); 8] = [
        ("Service", ComponentType::Service),
        ("REST API Proxy", ComponentType::RestApiProxy),
        ("GraphQL API Proxy", ComponentType::GraphQlApiProxy),
        ("Web Application", ComponentType::WebApplication),
        ("Scheduled Job", ComponentType::ScheduledJob),
        ("Manual Trigger", ComponentType::ManualTrigger),
        ("Event Handler", ComponentType::EventHandler),
        ("Webhook", ComponentType::Webhook),
    ];
}

/// A component as stored. `subPath` is kept although the `Component` schema does not render it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_: ComponentType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub repo_url: String,
    pub branch: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buildpack_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
    pub project_id: String,
    pub org_id: String,
    pub created_at: Timestamp,
}

/// A component as the API renders it (schema `Component`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub type_: ComponentType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub repo_url: &'a str,
    pub branch: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buildpack_id: Option<&'a str>,
    pub project_id: &'a str,
    pub org_id: &'a str,
    pub status: ComponentStatus,
    pub created_at: Timestamp,
}

/// The docs do not say what makes a component Active; the sandbox calls it Active while one of
/// its deployments is Active, and Inactive before its first deployment goes live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ComponentStatus {
    Active,
    Inactive,
}

/// A build as stored. `fails` is decided when it is triggered (admin failure patterns).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Build {
    pub id: String,
    pub component_id: String,
    pub branch: String,
    pub commit_hash: String,
    pub created_at: Timestamp,
    pub fails: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BuildStatus {
    Pending,
    InProgress,
    Success,
    Failed,
    // `Cancelled` is in the spec's enum, but no documented operation cancels a build.
}

/// A build as the API renders it (schema `Build`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildView<'a> {
    pub id: &'a str,
    pub component_id: &'a str,
    pub status: BuildStatus,
    pub commit_hash: &'a str,
    pub branch: &'a str,
    pub created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
}

/// A build goes Pending, then InProgress, then Success or Failed: one timing step each.
const BUILD_STAGES: usize = 3;

impl Build {
    pub fn status(&self, clock: &Clock) -> BuildStatus {
        let held = clock.holds.iter().any(|h| {
            !h.is_empty()
                && (self.commit_hash.contains(h.as_str()) || self.branch.contains(h.as_str()))
        });
        let stage = clock.stage(self.created_at, BUILD_STAGES);
        match if held { stage.min(1) } else { stage } {
            0 => BuildStatus::Pending,
            1 => BuildStatus::InProgress,
            _ if self.fails => BuildStatus::Failed,
            _ => BuildStatus::Success,
        }
    }

    pub fn view(&self, clock: &Clock) -> BuildView<'_> {
        let status = self.status(clock);
        let finished = matches!(status, BuildStatus::Success | BuildStatus::Failed);
        BuildView {
            id: &self.id,
            component_id: &self.component_id,
            status,
            commit_hash: &self.commit_hash,
            branch: &self.branch,
            created_at: self.created_at,
            completed_at: finished.then(|| clock.reached(self.created_at, BUILD_STAGES)),
        }
    }
}

/// A deployment as stored. `fails` is decided when it is created (admin failure patterns).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    pub component_id: String,
    pub build_id: String,
    pub environment_id: String,
    pub created_at: Timestamp,
    pub fails: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DeploymentStatus {
    Pending,
    Active,
    Failed,
    Inactive,
}

/// A deployment as the API renders it (schema `Deployment`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentView<'a> {
    pub id: &'a str,
    pub component_id: &'a str,
    pub build_id: &'a str,
    pub environment_id: &'a str,
    pub status: DeploymentStatus,
    pub created_at: Timestamp,
}

/// A deployment is Pending for one timing step, then Active (or Failed).
const DEPLOYMENT_STAGES: usize = 2;

impl Deployment {
    /// Whether it has gone live by now (it may since have been replaced).
    fn went_live(&self, clock: &Clock) -> bool {
        !self.fails && clock.stage(self.created_at, DEPLOYMENT_STAGES) == DEPLOYMENT_STAGES - 1
    }
}

/// An API managed by the gateway, rendered as stored (schema `API`). Read-only: seeded.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Api {
    pub id: String,
    pub name: String,
    pub version: String,
    pub context: String,
    #[serde(rename = "type")]
    pub type_: ApiType,
    pub status: ApiStatus,
    pub visibility: ApiVisibility,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_id: Option<String>,
    pub created_at: Timestamp,
}

/// An API and the organization it belongs to (the `API` schema has no organization field).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgApi {
    pub org_id: String,
    pub api: Api,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiType {
    #[serde(rename = "REST")]
    Rest,
    GraphQL,
    #[serde(rename = "gRPC")]
    Grpc,
    WebSocket,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiStatus {
    Created,
    Published,
    Deprecated,
    Retired,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiVisibility {
    Public,
    Organization,
    Project,
}

/// The time the state machines are read at, and how fast they move.
pub struct Clock {
    pub timing: Timing,
    pub now: Timestamp,
    /// Admin hold patterns (`/_sandbox/holds`): a build whose commit or branch contains one
    /// stays InProgress.
    pub holds: Vec<String>,
}

impl Clock {
    fn stage(&self, since: Timestamp, stages: usize) -> usize {
        self.timing.stage(since, self.now, stages)
    }

    /// When an object started at `since` reached the last of `stages` states.
    fn reached(&self, since: Timestamp, stages: usize) -> Timestamp {
        let wait = self.timing.step * (stages.saturating_sub(1) as u32);
        since.checked_add(wait).unwrap_or(since)
    }
}

/// The current time as stored in objects: milliseconds, as the platform's timestamps have.
pub fn timestamp(now: Timestamp) -> Timestamp {
    now.round(jiff::Unit::Millisecond).unwrap_or(now)
}

impl State {
    /// An organization by id or handle.
    pub fn org(&self, key: &str) -> Result<&Organization, ApiError> {
        self.organizations
            .iter()
            .find(|o| o.id == key)
            .or_else(|| self.organizations.iter().find(|o| o.handle == key))
            .ok_or_else(|| ApiError::not_found(format!("organization {key} not found")))
    }

    pub fn project(&self, org: &Organization, project_id: &str) -> Result<&Project, ApiError> {
        self.projects
            .iter()
            .find(|p| p.org_id == org.id && p.id == project_id)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "project {project_id} not found in organization {}",
                    org.handle
                ))
            })
    }

    /// The component a path names, after its organization and project.
    pub fn component(
        &self,
        org_key: &str,
        project_id: &str,
        component_id: &str,
    ) -> Result<&Component, ApiError> {
        let org = self.org(org_key)?;
        let project = self.project(org, project_id)?;
        self.components
            .iter()
            .find(|c| c.project_id == project.id && c.id == component_id)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "component {component_id} not found in project {project_id}"
                ))
            })
    }

    pub fn component_view<'a>(&'a self, c: &'a Component, clock: &Clock) -> ComponentView<'a> {
        let live = self
            .deployments
            .iter()
            .enumerate()
            .filter(|(_, d)| d.component_id == c.id)
            .any(|(i, _)| self.deployment_status(i, clock) == DeploymentStatus::Active);
        ComponentView {
            id: &c.id,
            name: &c.name,
            type_: c.type_,
            description: c.description.as_deref(),
            repo_url: &c.repo_url,
            branch: &c.branch,
            buildpack_id: c.buildpack_id.as_deref(),
            project_id: &c.project_id,
            org_id: &c.org_id,
            status: if live {
                ComponentStatus::Active
            } else {
                ComponentStatus::Inactive
            },
            created_at: c.created_at,
        }
    }

    /// The status of `deployments[index]`: Pending, then Active or Failed; an Active one turns
    /// Inactive once a later deployment of the component to the same environment goes live.
    pub fn deployment_status(&self, index: usize, clock: &Clock) -> DeploymentStatus {
        let d = &self.deployments[index];
        if clock.stage(d.created_at, DEPLOYMENT_STAGES) == 0 {
            return DeploymentStatus::Pending;
        }
        if d.fails {
            return DeploymentStatus::Failed;
        }
        let replaced = self.deployments[index + 1..].iter().any(|later| {
            later.component_id == d.component_id
                && later.environment_id == d.environment_id
                && later.went_live(clock)
        });
        if replaced {
            DeploymentStatus::Inactive
        } else {
            DeploymentStatus::Active
        }
    }

    pub fn deployment_view(&self, index: usize, clock: &Clock) -> DeploymentView<'_> {
        let d = &self.deployments[index];
        DeploymentView {
            id: &d.id,
            component_id: &d.component_id,
            build_id: &d.build_id,
            environment_id: &d.environment_id,
            status: self.deployment_status(index, clock),
            created_at: d.created_at,
        }
    }
}
