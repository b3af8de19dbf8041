//! The attributes of OpsChain writes. OpsChain refuses attributes it does not permit (400
//! `found unpermitted parameter`), so each struct holds exactly what its operation takes and
//! leaves out what is not set.

use serde::Serialize;
use serde_json::{Map, Value};

/// `POST /api/projects`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewProject {
    /// Lowercase letters, digits and underscores; unique and immutable.
    pub code: String,
    /// Unique among projects.
    pub name: String,
    /// Always sent (`null` for none): the official spec requires the attribute.
    pub description: Option<String>,
    /// One of the instance's project types (Standard, Enterprise...): workflows need a type
    /// that holds them.
    pub project_type: String,
}

/// `PATCH` of a project or environment: what is `None` is left as it is. Codes and project
/// types never change.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NodeUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `Some(false)` brings back an archived project or environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

/// `POST /api/projects/{project}/environments`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewEnvironment {
    /// Lowercase letters, digits and underscores; unique in the project and immutable.
    pub code: String,
    /// Unique in the project.
    pub name: String,
    /// Always sent (`null` for none): the official spec requires the attribute.
    pub description: Option<String>,
}

/// `POST /api/projects/{project}/workflows`: the workflow and its version 1.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewWorkflow {
    /// Lowercase letters, digits and underscores; unique in the project and immutable.
    pub code: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Step definitions as OpsChain takes them (`type`, `name`, `action`, `target`,
    /// `requires_approval_from`, `children`...).
    pub steps: Vec<Value>,
    /// `false` publishes version 1 at once, validating the steps and what they target.
    pub draft: bool,
}

/// `PATCH /api/projects/{project}/workflows/{workflow}`: what is `None` is left as it is. The
/// name is always sent: the official spec requires it, and the docs' sample sends it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct WorkflowUpdate {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Rewrites the latest version if it is a draft; after a published version, adds a new
    /// version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Value>>,
    /// `Some(false)` publishes the latest version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

/// `POST /api/projects/{project}/workflows/{workflow}/runs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewRun {
    /// The published version to run (the spec sends it as a string). Naming it, rather than
    /// letting OpsChain pick the latest published one, runs what the caller observed.
    #[serde(serialize_with = "as_text")]
    pub version: u64,
    pub property_overrides: Map<String, Value>,
    /// Free-form metadata kept on the run; put a unique marker here to find the run again
    /// (see `find_runs_by_metadata`).
    pub metadata: Map<String, Value>,
}

fn as_text<S: serde::Serializer>(version: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(version)
}

/// `PATCH /api/properties/{id}`: the whole new document and the version it was made to.
#[derive(Serialize)]
pub(super) struct PropertiesUpdate<'a> {
    pub data: &'a Map<String, Value>,
    pub version: u64,
}

/// The optional message of a continue, approve or reject.
#[derive(Serialize)]
pub(super) struct DecisionMessage<'a> {
    pub message: &'a str,
}
