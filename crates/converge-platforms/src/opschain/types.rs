//! OpsChain resources as the client returns them: flat structs holding the resource id, the
//! attributes Converge reads and the few related ids it follows. Fields the documentation
//! shows in every example are required (a missing one is a decode error); fields it leaves out
//! of some examples, or sends as null, are optional. Unknown fields are ignored.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::jsonapi::related_id;
use super::status::{RunStatus, StepKind, StepStatus};

fn properties<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    related_id(d, "properties")
}

fn workflow_version<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    related_id(d, "workflow_version")
}

fn workflow_run<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    related_id(d, "workflow_run")
}

/// `GET /api/info`: the OpsChain instance.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Info {
    /// The OpsChain release, e.g. `2025-04-25`.
    pub version: String,
    pub api_version: String,
    pub runner_image: String,
    pub db_version: String,
    #[serde(rename = "ldap_available?")]
    pub ldap_available: Option<bool>,
}

/// A project, addressed by its immutable `code`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Project {
    pub id: String,
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    /// Archived projects are listed and shown; their code stays taken.
    pub archived: bool,
    /// Standard, Enterprise or a type the instance defines; only some types hold workflows.
    pub project_type: String,
    pub created_by: Option<String>,
    /// The project's versioned properties (see `get_properties`).
    #[serde(rename = "relationships", default, deserialize_with = "properties")]
    pub properties_id: Option<String>,
}

/// An environment of a project, addressed by its `code` (unique in the project, immutable).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Environment {
    pub id: String,
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    pub archived: bool,
    pub created_by: Option<String>,
    #[serde(rename = "relationships", default, deserialize_with = "properties")]
    pub properties_id: Option<String>,
}

/// A versioned properties document: its current `data` and `version`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Properties {
    pub id: String,
    pub data: Map<String, Value>,
    /// Incremented by every update; an update names the version it was made to.
    pub version: u64,
    pub created_at: Timestamp,
}

/// A workflow, addressed by its `code`, showing its latest version's definition.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Workflow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    /// Whether the latest version is a draft.
    pub draft: bool,
    pub archived: bool,
    pub created_by: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The latest version's steps, as they were written.
    pub steps: Vec<Value>,
    pub source_yaml: Option<String>,
    pub latest_version: u64,
    /// The version a run uses by default; `None` while every version is a draft.
    pub latest_published_version: Option<u64>,
}

/// One version of a workflow: a draft until published, then immutable.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct WorkflowVersion {
    pub id: String,
    pub version: u64,
    /// The workflow's code, name and description.
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    pub draft: bool,
    pub archived: bool,
    pub created_by: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub steps: Vec<Value>,
    pub source_yaml: Option<String>,
}

/// A workflow run.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Run {
    pub id: String,
    #[serde(rename = "status_code")]
    pub status: RunStatus,
    /// What the run was started with; Converge finds its own runs by it.
    pub metadata: Map<String, Value>,
    pub created_by: String,
    pub cancelled_by: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    /// The id of the workflow version it runs (the version number is on that version).
    #[serde(
        rename = "relationships",
        default,
        deserialize_with = "workflow_version"
    )]
    pub workflow_version_id: Option<String>,
}

/// A step of a workflow run. Type-specific attributes are `None` (or empty) on other types.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Step {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: StepKind,
    pub name: String,
    #[serde(rename = "status_code")]
    pub status: StepStatus,
    /// Incremented by every change made through the API (a decision, skip_on_retry).
    pub lock_version: u64,
    #[serde(default)]
    pub skip_on_retry: bool,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    /// Change steps: the action run.
    pub action: Option<String>,
    /// Workflow steps: the child workflow's code.
    pub code: Option<String>,
    /// Stages: `sequential` or `parallel`.
    pub child_execution_strategy: Option<String>,
    /// Wait steps: the comma-separated users and LDAP groups who may approve or reject; `None`
    /// for a wait step that is continued instead.
    pub requires_approval_from: Option<String>,
    #[serde(default)]
    pub approved_by: Vec<Decision>,
    #[serde(default)]
    pub rejected_by: Vec<Decision>,
    #[serde(default)]
    pub continued_by: Vec<Decision>,
    /// The run the step belongs to.
    #[serde(rename = "relationships", default, deserialize_with = "workflow_run")]
    pub run_id: Option<String>,
}

impl Step {
    /// A wait step waiting for one of its approvers to approve or reject it.
    pub fn awaits_approval(&self) -> bool {
        self.status == StepStatus::Waiting && self.requires_approval_from.is_some()
    }
}

/// Who approved, rejected or continued a wait step, and what they said.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Decision {
    pub username: String,
    pub message: Option<String>,
}
