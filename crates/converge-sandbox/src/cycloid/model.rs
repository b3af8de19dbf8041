//! What the Cycloid sandbox stores. Entities nest as the paths do (organization → project →
//! environment → component → pipeline → job → build), so a lookup follows the URL. Ids are
//! integers from per-kind counters, as the platform's are; build ids are global, as Concourse's.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ApiError;

/// Everything the sandbox stores.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub organizations: Vec<Organization>,
    /// Stacks (service catalogs) visible to every organization, by ref `org:canonical`.
    pub stacks: Vec<Stack>,
    /// The last id given per kind.
    pub ids: BTreeMap<String, u64>,
}

impl State {
    /// The next id of a kind: organization, user, team, config_repository, stack, project,
    /// environment, component, pipeline, job, build, event.
    pub fn next_id(&mut self, kind: &str) -> u64 {
        let id = self.ids.entry(kind.to_string()).or_default();
        *id += 1;
        *id
    }

    pub fn org(&self, org: &str) -> Result<&Organization, ApiError> {
        self.organizations
            .iter()
            .find(|o| o.canonical == org)
            .ok_or_else(|| ApiError::not_found(format!("organization {org:?} not found")))
    }

    pub fn org_mut(&mut self, org: &str) -> Result<&mut Organization, ApiError> {
        self.organizations
            .iter_mut()
            .find(|o| o.canonical == org)
            .ok_or_else(|| ApiError::not_found(format!("organization {org:?} not found")))
    }

    pub fn stack(&self, reference: &str) -> Option<&Stack> {
        self.stacks.iter().find(|s| s.reference() == reference)
    }
}

/// A user of an organization (project owners).
#[derive(Clone, Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub created_at: Timestamp,
}

/// A team (projects link to one when quotas are used).
#[derive(Clone, Serialize, Deserialize)]
pub struct Team {
    pub id: u64,
    pub canonical: String,
    pub name: String,
    pub created_at: Timestamp,
}

/// An organization and everything in it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Organization {
    pub id: u64,
    pub canonical: String,
    pub name: String,
    pub created_at: Timestamp,
    pub members: Vec<User>,
    pub teams: Vec<Team>,
    pub config_repositories: Vec<ConfigRepository>,
    pub projects: Vec<Project>,
    pub events: Vec<Event>,
}

impl Organization {
    pub fn project(&self, p: &str) -> Result<&Project, ApiError> {
        self.projects
            .iter()
            .find(|x| x.canonical == p)
            .ok_or_else(|| ApiError::not_found(format!("project {p:?} not found")))
    }

    pub fn project_mut(&mut self, p: &str) -> Result<&mut Project, ApiError> {
        self.projects
            .iter_mut()
            .find(|x| x.canonical == p)
            .ok_or_else(|| ApiError::not_found(format!("project {p:?} not found")))
    }

    pub fn config_repository(&self, c: &str) -> Option<&ConfigRepository> {
        self.config_repositories.iter().find(|x| x.canonical == c)
    }

    /// Every pipeline of the organization with where it lives, in creation order of their
    /// parents.
    pub fn pipelines(&self) -> impl Iterator<Item = Located<'_>> {
        self.projects.iter().flat_map(move |project| {
            project.environments.iter().flat_map(move |env| {
                env.components.iter().flat_map(move |component| {
                    component.pipelines.iter().map(move |pipeline| Located {
                        project,
                        env,
                        component,
                        pipeline,
                    })
                })
            })
        })
    }

    /// Concourse pipeline names are unique in a team, and the organization is the team.
    pub fn pipeline_name_taken(&self, name: &str) -> bool {
        self.pipelines().any(|l| l.pipeline.name == name)
    }
}

/// A pipeline and the entities of its path.
#[derive(Clone, Copy)]
pub struct Located<'a> {
    pub project: &'a Project,
    pub env: &'a Environment,
    pub component: &'a Component,
    pub pipeline: &'a Pipeline,
}

/// A config repository: the Git repository holding the organization's configuration.
#[derive(Clone, Serialize, Deserialize)]
pub struct ConfigRepository {
    pub id: u64,
    pub canonical: String,
    pub name: String,
    pub url: String,
    pub branch: String,
    pub default: bool,
    pub credential_canonical: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A stack (service catalog) components instantiate.
#[derive(Clone, Serialize, Deserialize)]
pub struct Stack {
    pub id: u64,
    pub organization_canonical: String,
    pub canonical: String,
    pub name: String,
    pub author: String,
    pub description: String,
    pub keywords: Vec<String>,
    pub use_cases: Vec<UseCase>,
    pub created_at: Timestamp,
}

impl Stack {
    /// `organization:canonical`, as `service_catalog_ref` names it.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.organization_canonical, self.canonical)
    }
}

/// One use case of a stack.
#[derive(Clone, Serialize, Deserialize)]
pub struct UseCase {
    pub use_case: String,
    pub name: String,
    pub description: String,
    pub cloud_provider: Option<String>,
}

/// A project.
#[derive(Clone, Serialize, Deserialize)]
pub struct Project {
    pub id: u64,
    pub canonical: String,
    pub name: String,
    pub description: String,
    pub color: String,
    pub icon: String,
    /// Username of the owner.
    pub owner: Option<String>,
    /// Canonical of the team.
    pub team: Option<String>,
    pub config_repository_canonical: Option<String>,
    pub cloud_provider: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub environments: Vec<Environment>,
}

impl Project {
    pub fn env(&self, e: &str) -> Result<&Environment, ApiError> {
        self.environments
            .iter()
            .find(|x| x.canonical == e)
            .ok_or_else(|| ApiError::not_found(format!("environment {e:?} not found")))
    }

    pub fn env_mut(&mut self, e: &str) -> Result<&mut Environment, ApiError> {
        self.environments
            .iter_mut()
            .find(|x| x.canonical == e)
            .ok_or_else(|| ApiError::not_found(format!("environment {e:?} not found")))
    }
}

/// An environment of a project.
#[derive(Clone, Serialize, Deserialize)]
pub struct Environment {
    pub id: u64,
    pub canonical: String,
    pub name: String,
    pub color: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub components: Vec<Component>,
}

impl Environment {
    pub fn component(&self, c: &str) -> Result<&Component, ApiError> {
        self.components
            .iter()
            .find(|x| x.canonical == c)
            .ok_or_else(|| ApiError::not_found(format!("component {c:?} not found")))
    }

    pub fn component_mut(&mut self, c: &str) -> Result<&mut Component, ApiError> {
        self.components
            .iter_mut()
            .find(|x| x.canonical == c)
            .ok_or_else(|| ApiError::not_found(format!("component {c:?} not found")))
    }
}

/// A component: one stack instance in one environment.
#[derive(Clone, Serialize, Deserialize)]
pub struct Component {
    pub id: u64,
    pub canonical: String,
    pub name: String,
    pub description: String,
    pub use_case: String,
    pub stack_ref: String,
    pub cloud_provider: Option<String>,
    /// Stack form variables (`FormVariables`).
    pub vars: Option<Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub pipelines: Vec<Pipeline>,
}

impl Component {
    pub fn pipeline(&self, p: &str) -> Result<&Pipeline, ApiError> {
        self.pipelines
            .iter()
            .find(|x| x.name == p)
            .ok_or_else(|| ApiError::not_found(format!("pipeline {p:?} not found")))
    }

    pub fn pipeline_mut(&mut self, p: &str) -> Result<&mut Pipeline, ApiError> {
        self.pipelines
            .iter_mut()
            .find(|x| x.name == p)
            .ok_or_else(|| ApiError::not_found(format!("pipeline {p:?} not found")))
    }
}

/// A Concourse pipeline of a component.
#[derive(Clone, Serialize, Deserialize)]
pub struct Pipeline {
    pub id: u64,
    pub name: String,
    /// The configuration as sent.
    pub passed_config: String,
    /// The variables as sent.
    pub yaml_vars: String,
    /// The configuration with the variables interpolated, as JSON.
    pub config: Value,
    pub paused: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub jobs: Vec<Job>,
}

impl Pipeline {
    pub fn job(&self, j: &str) -> Result<&Job, ApiError> {
        self.jobs
            .iter()
            .find(|x| x.name == j)
            .ok_or_else(|| ApiError::not_found(format!("job {j:?} not found")))
    }

    pub fn job_mut(&mut self, j: &str) -> Result<&mut Job, ApiError> {
        self.jobs
            .iter_mut()
            .find(|x| x.name == j)
            .ok_or_else(|| ApiError::not_found(format!("job {j:?} not found")))
    }
}

/// A job of a pipeline, from the configuration's `jobs`.
#[derive(Clone, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    pub name: String,
    pub paused: bool,
    pub disable_manual_trigger: bool,
    /// The job's configuration, as JSON.
    pub config: Value,
    /// How many builds the job had, for build names ("1", "2"...).
    pub build_count: u64,
    pub builds: Vec<Build>,
}

/// How a build ends once it has run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Succeeded,
    Failed,
    Errored,
}

/// A build of a job. Its status is computed from its timestamps (see `concourse::status`).
#[derive(Clone, Serialize, Deserialize)]
pub struct Build {
    pub id: u64,
    /// The job's build number, or `N.M` for the M-th rerun of build N.
    pub name: String,
    pub created_at: Timestamp,
    /// When it could start running; None while its pipeline or job is paused.
    pub scheduled_at: Option<Timestamp>,
    /// Decided when the build is created: a failure marked through the admin surface, or
    /// variables the configuration uses and nobody defined.
    pub outcome: Outcome,
    /// Why it errored (the undefined variables).
    pub error: Option<String>,
    pub aborted_at: Option<Timestamp>,
}

/// A key and value pair of an event.
#[derive(Clone, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// An event of an organization.
#[derive(Clone, Serialize, Deserialize)]
pub struct Event {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub message: String,
    pub severity: String,
    pub icon: Option<String>,
    pub color: Option<String>,
    pub tags: Vec<Tag>,
    /// Unix milliseconds, as `begin`/`end` filter them.
    pub timestamp: u64,
}
