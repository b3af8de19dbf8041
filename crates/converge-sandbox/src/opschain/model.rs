//! What the OpsChain sandbox stores. Rendering (JSON:API documents) and behaviour over time
//! (run and step states) are computed from this on every read, so a snapshot restored after a
//! restart carries on where it was.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The whole OpsChain instance.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// What `GET /api/info` reports.
    pub info: Info,
    /// The project types this instance offers; a project of another type is refused.
    pub project_types: Vec<ProjectType>,
    /// The user directory: who may approve a step, and who `created_by` names.
    pub users: Vec<User>,
    /// The user an API token (bearer credential) acts as.
    pub bearer_user: String,
    pub projects: Vec<Project>,
    pub environments: Vec<Environment>,
    pub assets: Vec<Asset>,
    pub properties: Vec<Properties>,
    pub workflows: Vec<Workflow>,
    pub runs: Vec<Run>,
}

/// Server information, as `GET /api/info` shows it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Info {
    pub version: String,
    pub runner_image: String,
    pub db_version: String,
    pub api_version: String,
    #[serde(rename = "ldap_available?")]
    pub ldap_available: bool,
}

impl Default for Info {
    /// The values of the rendered reference's example.
    fn default() -> Self {
        Info {
            version: "2025-04-25".into(),
            runner_image: "limepoint/opschain-runner:2025-04-25".into(),
            db_version: "17.2".into(),
            api_version: "7.1.5.1".into(),
            ldap_available: true,
        }
    }
}

/// A project type and what its projects may hold. OpsChain's Standard projects hold only
/// environments (and Git remotes); Enterprise projects also hold assets and workflows.
#[derive(Clone, Serialize, Deserialize)]
pub struct ProjectType {
    pub name: String,
    pub workflows: bool,
    pub assets: bool,
}

/// A directory user (LDAP in OpsChain).
#[derive(Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub groups: Vec<String>,
    pub created_at: Timestamp,
}

/// Who created or updated a record; every structure records it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Stamp {
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    pub project_type: String,
    pub archived: bool,
    pub properties_id: String,
    pub stamp: Stamp,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Environment {
    pub id: String,
    pub project_id: String,
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    pub archived: bool,
    pub properties_id: String,
    pub stamp: Stamp,
}

/// An asset, owned by a project or by one of its environments.
#[derive(Clone, Serialize, Deserialize)]
pub struct Asset {
    pub id: String,
    pub project_id: String,
    pub environment_id: Option<String>,
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    pub template_name: String,
    pub template_version: String,
    pub archived: bool,
    pub properties_id: String,
    pub stamp: Stamp,
}

/// A versioned properties document owned by a project, environment or asset.
#[derive(Clone, Serialize, Deserialize)]
pub struct Properties {
    pub id: String,
    /// The owner's API path, e.g. `/api/projects/web`.
    pub owner_path: String,
    /// project, environment or asset.
    pub owner_type: String,
    /// Every version, oldest first; the last is current.
    pub versions: Vec<PropertiesVersion>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct PropertiesVersion {
    pub id: String,
    pub version: u64,
    pub data: Map<String, Value>,
    pub created_at: Timestamp,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Workflow {
    pub id: String,
    pub project_id: String,
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    pub archived: bool,
    pub notifications: Value,
    /// The next version number; numbers are never reused after a version is deleted.
    pub next_version: u64,
    pub versions: Vec<WorkflowVersion>,
    pub stamp: Stamp,
}

impl Workflow {
    pub fn latest(&self) -> Option<&WorkflowVersion> {
        self.versions.iter().max_by_key(|v| v.version)
    }

    /// The newest published version that is not archived: what a run uses by default.
    pub fn latest_published(&self) -> Option<&WorkflowVersion> {
        self.versions
            .iter()
            .filter(|v| !v.draft && !v.archived)
            .max_by_key(|v| v.version)
    }

    pub fn version(&self, number: u64) -> Option<&WorkflowVersion> {
        self.versions.iter().find(|v| v.version == number)
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct WorkflowVersion {
    pub id: String,
    pub version: u64,
    /// The steps as given (validated when published).
    pub steps: Value,
    pub source_yaml: String,
    pub draft: bool,
    pub archived: bool,
    pub stamp: Stamp,
}

/// A workflow run: its step tree and the human decisions taken on it. Statuses are derived
/// from these and the clock (see `progress`).
#[derive(Clone, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub project_id: String,
    pub workflow_id: String,
    pub version_id: String,
    pub version: u64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub metadata: Map<String, Value>,
    pub property_overrides: Map<String, Value>,
    pub cancelled: Option<Decision>,
    /// Steps in tree order (parents before children); the first is the root.
    pub steps: Vec<RunStep>,
}

impl Run {
    pub fn root(&self) -> &RunStep {
        &self.steps[0]
    }

    pub fn step(&self, id: &str) -> Option<&RunStep> {
        self.steps.iter().find(|s| s.id == id)
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct RunStep {
    pub id: String,
    pub parent: Option<String>,
    pub children: Vec<String>,
    pub name: String,
    pub kind: StepKind,
    /// Scheduled start (`start_time`): the step does not start before it.
    pub start_time: Option<Timestamp>,
    /// Fixed when the run is created from the failures marked through `/_sandbox/failures`.
    pub fails: bool,
    pub skip_on_retry: bool,
    pub lock_version: u64,
    pub notifications: Value,
    pub created_at: Timestamp,
    /// Last change made through the API (skip_on_retry, a decision).
    pub touched_at: Option<Timestamp>,
    /// Approval, rejection or continuation of a wait step.
    pub decision: Option<Decision>,
}

#[derive(Clone, Serialize, Deserialize)]
pub enum StepKind {
    /// A stage (and the run's root): children run sequentially or in parallel.
    Stage { parallel: bool },
    Change {
        action: String,
        target: String,
        property_overrides: Value,
        /// The node the target names: (id, project/environment/asset), when it exists.
        change_parent: Option<(String, String)>,
    },
    Wait {
        requires_approval_from: Option<String>,
    },
    /// A child workflow. The sandbox runs it as one unit of work (no child run record).
    Workflow {
        target: String,
        code: String,
        child_version_id: Option<String>,
        property_overrides: Value,
    },
}

impl StepKind {
    /// The JSON:API type of the step.
    pub fn type_name(&self) -> &'static str {
        match self {
            StepKind::Stage { .. } => "workflow_noop_step",
            StepKind::Change { .. } => "workflow_change_step",
            StepKind::Wait { .. } => "workflow_wait_step",
            StepKind::Workflow { .. } => "workflow_workflow_step",
        }
    }
}

/// A human decision: approving, rejecting or continuing a step, or cancelling a run.
#[derive(Clone, Serialize, Deserialize)]
pub struct Decision {
    pub kind: DecisionKind,
    pub at: Timestamp,
    pub username: String,
    pub message: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DecisionKind {
    Approved,
    Rejected,
    Continued,
    Cancelled,
}

/// OpsChain codes (projects, environments, assets, workflows) appear in paths: only lowercase
/// letters, digits and underscores.
pub fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A new random id, as OpsChain's UUID primary keys.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl State {
    pub fn project(&self, code: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.code == code)
    }

    pub fn project_by_id(&self, id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    pub fn project_type(&self, name: &str) -> Option<&ProjectType> {
        self.project_types.iter().find(|t| t.name == name)
    }

    pub fn environment(&self, project_id: &str, code: &str) -> Option<&Environment> {
        self.environments
            .iter()
            .find(|e| e.project_id == project_id && e.code == code)
    }

    pub fn asset(
        &self,
        project_id: &str,
        environment_id: Option<&str>,
        code: &str,
    ) -> Option<&Asset> {
        self.assets.iter().find(|a| {
            a.project_id == project_id
                && a.environment_id.as_deref() == environment_id
                && a.code == code
        })
    }

    pub fn workflow(&self, project_id: &str, code: &str) -> Option<&Workflow> {
        self.workflows
            .iter()
            .find(|w| w.project_id == project_id && w.code == code)
    }

    pub fn workflow_by_id(&self, id: &str) -> Option<&Workflow> {
        self.workflows.iter().find(|w| w.id == id)
    }

    pub fn user(&self, username: &str) -> Option<&User> {
        self.users.iter().find(|u| u.username == username)
    }

    /// A new properties document (version 1, empty) for a new structure; returns its id.
    pub fn new_properties(
        &mut self,
        owner_path: String,
        owner_type: &str,
        at: Timestamp,
    ) -> String {
        let id = new_id();
        self.properties.push(Properties {
            id: id.clone(),
            owner_path,
            owner_type: owner_type.to_string(),
            versions: vec![PropertiesVersion {
                id: new_id(),
                version: 1,
                data: Map::new(),
                created_at: at,
            }],
        });
        id
    }

    /// The node an OpsChain path names (`/projects/p`, `/projects/p/environments/e`,
    /// `/projects/p/assets/a`, `/projects/p/environments/e/assets/a`): (id, node type).
    pub fn node_at(&self, path: &str) -> Option<(String, String)> {
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let project = match parts.as_slice() {
            ["", "projects", p, ..] => self.project(p)?,
            _ => return None,
        };
        match &parts[3..] {
            [] => Some((project.id.clone(), "project".into())),
            ["environments", e] => {
                let env = self.environment(&project.id, e)?;
                Some((env.id.clone(), "environment".into()))
            }
            ["assets", a] => {
                let asset = self.asset(&project.id, None, a)?;
                Some((asset.id.clone(), "asset".into()))
            }
            ["environments", e, "assets", a] => {
                let env = self.environment(&project.id, e)?;
                let asset = self.asset(&project.id, Some(&env.id), a)?;
                Some((asset.id.clone(), "asset".into()))
            }
            _ => None,
        }
    }

    /// The workflow a `/projects/p/workflows/w` path names.
    pub fn workflow_at(&self, path: &str) -> Option<&Workflow> {
        match path
            .trim_end_matches('/')
            .split('/')
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["", "projects", p, "workflows", w] => {
                let project = self.project(p)?;
                self.workflow(&project.id, w)
            }
            _ => None,
        }
    }
}
