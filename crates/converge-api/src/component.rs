// kube's printcolumn(...) arguments repeat `type_ = ...` by design, which clippy mistakes for
// duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use converge_core::Platform;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::common::conditions::CommonStatus;
use crate::common::policy::Management;
use crate::common::refs::LocalRef;
use crate::common::schema::{
    CYCLOID_CANONICAL, CYCLOID_ENV_CANONICAL, CYCLOID_PIPELINE_NAME, CYCLOID_PROJECT_CANONICAL,
};
use crate::kind::{Kind, Watched};

/// A deployable unit of a Project.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "converge.dev",
    version = "v1alpha1",
    kind = "Component",
    namespaced,
    status = "ComponentStatus",
    shortname = "cvcomp",
    category = "converge",
    doc = "A deployable unit: source, builds and deployments per environment on WSO2 Choreo; a stack, pipelines and job builds on Cycloid.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        description = "Why Ready is what it is: Converged, Progressing, WaitingForReference, PlatformRetrying, Suspended, or a Stalled reason",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Platform ID",
        type_ = "string",
        json_path = ".status.componentId"
    ),
    printcolumn(name = "Build", type_ = "string", json_path = ".status.build.status"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("[has(self.choreo), has(self.cycloid)].filter(x, x).size() == 1").message("spec must set exactly one platform block: choreo or cycloid"))]
#[x_kube(validation = Rule::new("[has(self.choreo), has(self.cycloid)] == [has(oldSelf.choreo), has(oldSelf.cycloid)]").message("the platform of a Component cannot change; create a new Component instead"))]
#[serde(rename_all = "camelCase")]
pub struct ComponentSpec {
    /// The PlatformConnection to use; its platform must match the platform block set here.
    pub connection_ref: LocalRef,
    /// The Project this component belongs to. The component waits until that Project is Ready.
    pub project_ref: LocalRef,
    #[serde(flatten)]
    pub management: Management,
    /// A WSO2 Choreo component: source, build of a revision, deployment per environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choreo: Option<ChoreoComponent>,
    /// A Cycloid component: a stack with its variables, its pipelines and job builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycloid: Option<CycloidComponent>,
}

/// The eight component types Choreo knows.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum ChoreoComponentType {
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

/// A Choreo component. Choreo cannot update a component, so its source settings are
/// immutable; the revision to build and the environments to deploy to may change freely.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChoreoComponent {
    /// Component name, unique in the project: its natural key. Immutable.
    #[schemars(length(min = 1, max = 255))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("choreo.name is immutable: Choreo cannot rename a component"))]
    pub name: String,
    /// Component type: Service, REST API Proxy, GraphQL API Proxy, Web Application, Scheduled
    /// Job, Manual Trigger, Event Handler or Webhook. Immutable.
    #[serde(rename = "type")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("choreo.type is immutable: Choreo has no update operation for components"))]
    pub type_: ChoreoComponentType,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub description: Option<String>,
    /// Git repository URL of the source. Immutable.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("choreo.repoUrl is immutable: Choreo has no update operation for components"))]
    pub repo_url: String,
    /// Default branch of the component (Choreo's default is main). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("choreo.branch is immutable: set revision.branch to build another branch"))]
    pub branch: Option<String>,
    /// Directory of the component inside the repository. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("choreo.subPath is immutable"))]
    pub sub_path: Option<String>,
    /// Buildpack to build with. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("choreo.buildpackId is immutable"))]
    pub buildpack_id: Option<String>,
    /// The revision to build. A change triggers a new build and, once it succeeds, a rollout
    /// to every environment in `deployments`. Without it, nothing is built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<ChoreoRevision>,
    /// Environments the successful build of `revision` is deployed to, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["environment"]))]
    pub deployments: Vec<ChoreoDeployment>,
}

/// A branch, a commit, or a commit on a branch.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.branch) || has(self.commit)").message("revision needs a branch, a commit, or both"))]
pub struct ChoreoRevision {
    /// Branch to build from (its head at build time, unless commit is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub branch: Option<String>,
    /// Full or abbreviated commit hash to build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 7, max = 40), regex(pattern = r"^[0-9a-f]{7,40}$"))]
    pub commit: Option<String>,
}

/// One environment to deploy to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChoreoDeployment {
    /// Environment name or id, as GET /organizations/{org}/environments lists them
    /// (for example Development or Production).
    #[schemars(length(min = 1, max = 255))]
    pub environment: String,
}

/// A Cycloid component: one stack instance in one environment of the project.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CycloidComponent {
    /// Component canonical, unique in the environment. Immutable.
    #[schemars(length(min = 1, max = 100), regex(pattern = CYCLOID_ENV_CANONICAL))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("cycloid.canonical is immutable: Cycloid never renames a component canonical"))]
    pub canonical: String,
    /// Display name.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub description: Option<String>,
    /// Canonical of the project environment the component lives in; it must be declared in the
    /// referenced Project. Immutable.
    #[schemars(length(min = 1, max = 100), regex(pattern = CYCLOID_ENV_CANONICAL))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("cycloid.environment is immutable: a component cannot move between environments"))]
    pub environment: String,
    /// The stack to instantiate, as `organization:stack`, for example "cycloidio:stack-magento".
    /// Immutable.
    #[schemars(
        length(min = 3, max = 255),
        regex(pattern = r"^[a-z0-9][a-z0-9\-_]*:[a-zA-Z0-9][a-zA-Z0-9\-_.]*$")
    )]
    #[x_kube(validation = Rule::new("self == oldSelf").message("cycloid.stackRef is immutable: create a new Component to use another stack"))]
    pub stack_ref: String,
    /// The stack's use case.
    #[schemars(length(min = 1, max = 100), regex(pattern = CYCLOID_PROJECT_CANONICAL))]
    pub use_case: String,
    /// Cloud provider canonical, for stacks that need one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 100), regex(pattern = CYCLOID_CANONICAL))]
    pub cloud_provider_canonical: Option<String>,
    /// Stack form variables: section → group → variable → value, as in the stack's forms file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::common::schema::free_form_object")]
    pub vars: Option<serde_json::Map<String, serde_json::Value>>,
    /// Pipelines of the component. Removing one deletes it from Cycloid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub pipelines: Vec<CycloidPipeline>,
    /// The job build to trigger, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<CycloidBuild>,
    /// Send a Cycloid event to the organization when a triggered build completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_event: Option<CycloidCompletionEvent>,
}

/// A Cycloid pipeline of the component.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.config), has(self.configFrom)].filter(x, x).size() <= 1").message("set config or configFrom, not both"))]
pub struct CycloidPipeline {
    /// Pipeline name.
    #[schemars(length(min = 3, max = 100), regex(pattern = CYCLOID_PIPELINE_NAME))]
    pub name: String,
    /// The pipeline configuration (Concourse YAML), sent as passed_config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1048576))]
    pub config: Option<String>,
    /// The pipeline configuration from a ConfigMap key instead of inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_from: Option<crate::common::refs::ConfigMapKeyRef>,
    /// Pipeline variables (YAML), sent as yaml_vars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1048576))]
    pub vars: Option<String>,
    /// Paused pipelines run no jobs. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
}

/// A job build of one of the component's pipelines.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CycloidBuild {
    /// Name of the pipeline (declared in `pipelines`).
    #[schemars(length(min = 3, max = 100), regex(pattern = CYCLOID_PIPELINE_NAME))]
    pub pipeline: String,
    /// Name of the job in the pipeline.
    #[schemars(length(min = 1, max = 255))]
    pub job: String,
    /// The source revision the build is for; a change triggers a new build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub revision: Option<String>,
    /// Any value; a change triggers a new build of the same revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub trigger: Option<String>,
}

/// Severity of a Cycloid event.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CycloidSeverity {
    #[default]
    Info,
    Warn,
    Err,
    Crit,
}

/// The Cycloid event sent when a build completes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CycloidCompletionEvent {
    /// Severity of a successful build's event (default info); failed builds send err.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<CycloidSeverity>,
    /// Tags added to the event, besides project, environment and component.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32, "additionalProperties" = {"type": "string", "maxLength": 256}))]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self.all(k, size(k) <= 64)",
        "message": "completionEvent tag names are at most 64 characters"
    }]))]
    pub tags: BTreeMap<String, String>,
}

/// The platform's view of the component.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// The platform's id of the component (Choreo id, Cycloid canonical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_id: Option<String>,
    /// The platform's id of the component's project (Choreo project id, Cycloid project
    /// canonical), kept so the component can be deleted after its Project is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Cycloid: the canonical of the environment the component lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The revision (and trigger) of a build being requested: written before the platform is
    /// asked to build, so a controller restarted in between looks for that build instead of
    /// starting a second one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_build: Option<String>,
    /// The latest build Converge triggered for the declared revision.
    // Boxed: it keeps every Component small enough to sit unboxed in `manifests::Manifest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<Box<BuildStatus>>,
    /// Choreo: the deployment in each declared environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployments: Vec<DeploymentStatus>,
    /// Cycloid: each declared pipeline and whether it is paused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pipelines: Vec<PipelineStatus>,
}

/// A build as the platform reports it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuildStatus {
    /// The platform's build id.
    pub id: String,
    /// Choreo: Pending, InProgress, Success, Failed or Cancelled. Cycloid: pending, started,
    /// succeeded, failed, errored or aborted.
    pub status: String,
    /// What was built: a branch, commit or revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The trigger value the build was started for (Cycloid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// Cycloid: the id of the event sent when this build completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

/// A Choreo deployment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatus {
    /// The environment as declared.
    pub environment: String,
    /// The environment's Choreo id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    /// The deployment's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The build deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    /// Pending, Active, Failed or Inactive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A Cycloid pipeline.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineStatus {
    /// Pipeline name.
    pub name: String,
    /// Whether Cycloid reports it paused.
    pub paused: bool,
}

impl Kind for Component {
    const KIND: &'static str = "Component";
    const REFERRED_AS: Option<Watched> = Some(Watched::Component);
    const WATCHES: &'static [Watched] = &[Watched::Project, Watched::ConfigMap];
    type Status = ComponentStatus;

    fn management(&self) -> &Management {
        &self.spec.management
    }

    fn connection_name(&self) -> &str {
        &self.spec.connection_ref.name
    }

    fn platform(&self) -> Option<Platform> {
        match (&self.spec.choreo, &self.spec.cycloid) {
            (Some(_), _) => Some(Platform::Choreo),
            (_, Some(_)) => Some(Platform::Cycloid),
            (None, None) => None,
        }
    }

    fn status(&self) -> Option<&ComponentStatus> {
        self.status.as_ref()
    }

    fn common(status: &ComponentStatus) -> &CommonStatus {
        &status.common
    }

    fn common_mut(status: &mut ComponentStatus) -> &mut CommonStatus {
        &mut status.common
    }

    fn platform_id(status: &ComponentStatus) -> Option<&str> {
        status.component_id.as_deref()
    }

    fn platform_object(&self, id: &str) -> String {
        let status = self.status.clone().unwrap_or_default();
        match (&self.spec.choreo, &self.spec.cycloid) {
            (Some(c), _) => format!("Choreo component {:?} (id {id})", c.name),
            (_, Some(_)) => match (status.project_id, status.environment) {
                (Some(p), Some(e)) => format!("Cycloid component {p}/{e}/{id}"),
                _ => format!("Cycloid component {id}"),
            },
            _ => format!("component {id}"),
        }
    }

    fn references(&self) -> Vec<(Watched, String)> {
        let mut refs = vec![(Watched::Project, self.spec.project_ref.name.clone())];
        if let Some(c) = &self.spec.cycloid {
            refs.extend(
                c.pipelines
                    .iter()
                    .filter_map(|p| p.config_from.as_ref())
                    .map(|r| (Watched::ConfigMap, r.name.clone())),
            );
        }
        refs
    }
}
