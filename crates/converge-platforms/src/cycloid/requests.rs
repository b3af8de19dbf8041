//! What Converge sends to Cycloid: request bodies with the spec's field names, and the filters
//! of the lists it reads.
//!
//! Canonicals are always sent on create, although the platform would derive one from the
//! name: the canonical is the natural key a reconciler looks up before creating, so it must be
//! known before the create is sent.

use serde::Serialize;

use super::model::{EventType, FormVariables, Project, Severity, Tag};

/// `createProject`: `name` and `config_repository_canonical` are required; unknown properties
/// are refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewProject {
    pub canonical: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Username of the owner; the API key's user when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub config_repository_canonical: String,
    /// Only needed with quotas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_canonical: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
}

/// `updateProject`, a full replacement: optional fields not sent are cleared on the platform.
/// Start from [`UpdateProject::from_current`] and change what differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UpdateProject {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_provider: Option<String>,
    /// Required for a project that has one; a different one moves the project's configuration
    /// to that repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_repository_canonical: Option<String>,
    /// The project's `updated_at` as last read: a stale one is refused with 409.
    pub updated_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
}

impl UpdateProject {
    /// An update that changes nothing: every field as `project` has it, with its `updated_at`.
    pub fn from_current(project: &Project) -> Self {
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        UpdateProject {
            name: project.name.clone(),
            description: non_empty(&project.description),
            owner: project.owner.as_ref().map(|u| u.username.clone()),
            cloud_provider: project.cloud_provider.as_ref().map(|c| c.canonical.clone()),
            config_repository_canonical: project.config_repository_canonical.clone(),
            updated_at: project.updated_at,
            color: non_empty(&project.color),
            icon: non_empty(&project.icon),
        }
    }
}

/// `createEnvironment`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewEnvironment {
    pub canonical: String,
    /// 1..100 characters.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// `updateEnvironment`: a color not sent is cleared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UpdateEnvironment {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// `createComponent`: the stack (`service_catalog_ref`, e.g. `cycloidio:stack-docker`) must
/// exist and offer `use_case`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewComponent {
    pub canonical: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub service_catalog_ref: String,
    pub use_case: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_provider_canonical: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vars: Option<FormVariables>,
}

/// `updateComponent`: the canonical and the stack cannot change. A description not sent is
/// cleared; variables not sent are kept.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpdateComponent {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub use_case: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vars: Option<FormVariables>,
}

/// `createPipeline`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewPipeline {
    /// Unique in the organization (it is the Concourse team's pipeline name).
    pub pipeline_name: String,
    /// The Concourse configuration, YAML.
    pub passed_config: String,
    /// YAML variables `((name))` in the configuration takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yaml_vars: Option<String>,
    /// Also check the credential manager variables `((a.b))`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_credentials: Option<bool>,
}

/// `updatePipeline`: variables not sent are cleared; the pause state does not change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UpdatePipeline {
    pub passed_config: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yaml_vars: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_credentials: Option<bool>,
}

/// `sendEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewEvent {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub title: String,
    pub message: String,
    pub severity: Severity,
    /// Values may not contain commas.
    pub tags: Vec<Tag>,
    /// A Font Awesome class name, 3 characters at least.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// A CSS 2 color keyword (`red`, `teal`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// `getEvents`: the time range is required; the other filters narrow it (AND).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventFilter {
    /// Unix milliseconds, inclusive.
    pub begin: u64,
    /// Unix milliseconds, inclusive.
    pub end: u64,
    pub types: Vec<EventType>,
    pub severities: Vec<Severity>,
}

/// `getPipelines` (the organization's pipelines): each list narrows the result when not
/// empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PipelineFilter {
    pub names: Vec<String>,
    pub projects: Vec<String>,
    pub environments: Vec<String>,
    /// `paused`, or a build status (`pending`, `started`, `succeeded`, `failed`, `errored`,
    /// `aborted`) that the latest build of one of the pipeline's jobs has.
    pub statuses: Vec<String>,
}
