// kube's printcolumn(...) arguments repeat `type_ = ...` by design, which clippy mistakes for
// duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use converge_core::Platform;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::common::conditions::CommonStatus;
use crate::common::policy::Management;
use crate::common::refs::LocalRef;
use crate::common::schema::{CRON, CYCLOID_PIPELINE_NAME, OPSCHAIN_CODE};
use crate::kind::{Kind, Watched};

/// A workflow and its runs.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "converge.dev",
    version = "v1alpha1",
    kind = "Workflow",
    namespaced,
    status = "WorkflowStatus",
    shortname = "cvwf",
    category = "converge",
    doc = "A workflow: an OpsChain workflow definition with versions, runs and an explicit approval policy; or a Cycloid pipeline job to build.",
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
        json_path = ".status.workflowId"
    ),
    printcolumn(
        name = "Last Run",
        type_ = "string",
        json_path = ".status.lastRun.status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("[has(self.opschain), has(self.cycloid)].filter(x, x).size() == 1").message("spec must set exactly one platform block: opschain or cycloid"))]
#[x_kube(validation = Rule::new("[has(self.opschain), has(self.cycloid)] == [has(oldSelf.opschain), has(oldSelf.cycloid)]").message("the platform of a Workflow cannot change; create a new Workflow instead"))]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSpec {
    /// The PlatformConnection to use; its platform must match the platform block set here.
    pub connection_ref: LocalRef,
    /// The Project the workflow belongs to (OpsChain), or the Project of the component whose
    /// pipeline runs (Cycloid). The workflow waits until it is Ready.
    pub project_ref: LocalRef,
    #[serde(flatten)]
    pub management: Management,
    /// When to start a run. Runs start only from here: never on create alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunPolicy>,
    /// An OpsChain workflow definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opschain: Option<OpsChainWorkflow>,
    /// A Cycloid pipeline job, built as the workflow's run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycloid: Option<CycloidJob>,
}

/// When runs start.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunPolicy {
    /// Any value; each change starts one run. Set it to a commit hash, a date or a counter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub token: Option<String>,
    /// A cron schedule (five fields, UTC, or @daily/@hourly/...) that starts runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255), regex(pattern = CRON))]
    pub schedule: Option<String>,
    /// How many finished runs status keeps (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50))]
    pub history_limit: Option<i32>,
    /// What deleting this Workflow (deletionPolicy Delete) does with the runs Converge started
    /// that are still under way or waiting for approval: Cancel (default) cancels them at once
    /// (a Cycloid build is aborted); Wait lets them finish for at most onDeleteTimeout, then
    /// cancels them. Either way the deletion completes; a platform that refuses to remove a
    /// project with activities still waiting no longer wedges it. deletionPolicy Orphan
    /// leaves the workflow and its runs alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<RunsOnDelete>,
    /// With onDelete: Wait, how long a deletion waits for the runs to finish before cancelling
    /// them, as a duration such as "10m" (default 10m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = crate::common::schema::week_duration("run.onDeleteTimeout"))]
    pub on_delete_timeout: Option<String>,
}

/// What a Workflow's deletion does with its runs still under way.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum RunsOnDelete {
    /// Cancel them at once.
    #[default]
    Cancel,
    /// Let them finish, for at most onDeleteTimeout; then cancel them.
    Wait,
}

/// An OpsChain workflow definition.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpsChainWorkflow {
    /// Workflow code, unique in the project. Immutable.
    #[schemars(length(min = 1, max = 50), regex(pattern = OPSCHAIN_CODE))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("opschain.code is immutable: OpsChain addresses a workflow by its code"))]
    pub code: String,
    /// Display name.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub description: Option<String>,
    /// The workflow steps, as OpsChain takes them: change, wait (with requiresApprovalFrom for
    /// an approval), workflow (a child workflow) and stage steps. A change creates a new version.
    #[schemars(length(min = 1, max = 200))]
    pub steps: Vec<OpsChainStep>,
    /// Publish each new version so it can run (OpsChain `draft: false`). Default true: an
    /// unpublished workflow cannot be run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<bool>,
    /// Property overrides passed to every run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::common::schema::free_form_object")]
    pub property_overrides: Option<serde_json::Map<String, serde_json::Value>>,
    /// What to do with a step waiting for approval. Converge never approves or rejects unless
    /// this says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalPolicy>,
}

/// One OpsChain workflow step. The fields a step type does not use must be left out.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.type != 'change' || (has(self.action) && has(self.target))").message("a change step needs action and target"))]
#[x_kube(validation = Rule::new("self.type != 'workflow' || has(self.target)").message("a workflow step needs target (project and workflow code of the child)"))]
#[x_kube(validation = Rule::new("self.type == 'wait' || !has(self.requiresApprovalFrom)").message("requiresApprovalFrom only applies to wait steps"))]
#[x_kube(validation = Rule::new("self.type == 'stage' || !has(self.steps)").message("only stage steps have nested steps"))]
pub struct OpsChainStep {
    /// change, wait, workflow or stage.
    #[serde(rename = "type")]
    pub type_: StepType,
    /// Human-readable name of the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub name: Option<String>,
    /// change: the action to run on the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub action: Option<String>,
    /// change: the asset or environment path, such as /projects/web/assets/site; workflow: the
    /// child's project and workflow code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub target: Option<String>,
    /// wait: a comma-separated list of users and LDAP groups whose approval the step waits for.
    /// Without it, a wait step waits for someone to continue it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub requires_approval_from: Option<String>,
    /// workflow: the child workflow version to run; default the latest published one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub version: Option<i32>,
    /// stage: the steps of the stage, in the same shape as these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::common::schema::free_form_object_list")]
    #[schemars(length(max = 200))]
    pub steps: Option<Vec<serde_json::Value>>,
    /// stage: run the stage's steps in parallel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<bool>,
    /// change and workflow: property overrides for this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::common::schema::free_form_object")]
    pub property_overrides: Option<serde_json::Map<String, serde_json::Value>>,
}

/// OpsChain step types.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepType {
    Change,
    Wait,
    Workflow,
    Stage,
}

/// What Converge does with a step waiting for approval.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalPolicy {
    /// Manual (default): leave the step for a person and report it waiting. Approve or Reject:
    /// Converge approves or rejects it.
    pub action: ApprovalAction,
    /// Only steps with these names; empty means every approval step of this workflow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(min = 1, max = 255)))]
    pub steps: Vec<String>,
}

/// Approval actions.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum ApprovalAction {
    #[default]
    Manual,
    Approve,
    Reject,
}

/// A Cycloid pipeline job, built as this workflow's run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CycloidJob {
    /// The Component whose pipeline holds the job.
    pub component_ref: LocalRef,
    /// Pipeline name.
    #[schemars(length(min = 3, max = 100), regex(pattern = CYCLOID_PIPELINE_NAME))]
    pub pipeline: String,
    /// Job name.
    #[schemars(length(min = 1, max = 255))]
    pub job: String,
}

/// The platform's view of the workflow.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// The platform's id of the workflow (OpsChain) or pipeline job (Cycloid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    /// Where the workflow lives, recorded for deletion: OpsChain `project/workflow` codes;
    /// Cycloid `project/environment/component/pipeline/job`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_path: Option<String>,
    /// OpsChain: the latest version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_version: Option<i32>,
    /// OpsChain: the latest published version, the one runs use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_published_version: Option<i32>,
    /// SHA-256 of the steps last written, to detect changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_hash: Option<String>,
    /// The run token that started the latest run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_token: Option<String>,
    /// When the schedule last started a run (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scheduled_time: Option<String>,
    /// Cycloid: a build trigger in flight (its trigger, and the newest build before it), so a
    /// controller restarted after the trigger finds that build instead of building again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_run: Option<String>,
    /// The latest run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunStatus>,
    /// Recent runs, newest first, up to run.historyLimit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunStatus>,
}

/// One run.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunStatus {
    /// The platform's run or build id.
    pub id: String,
    /// OpsChain: pending, queued, initializing, running, waiting, success, error, failed,
    /// cancelled or aborted. Cycloid: pending, started, succeeded, failed, errored or aborted.
    pub status: String,
    /// Why it started: token, schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// A step waiting for approval, and from whom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_step: Option<String>,
    /// When it started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Why a run that did not succeed ended, when the platform says: the step rejected and
    /// by whom (spec.opschain.approval, or a person), or that Converge cancelled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Kind for Workflow {
    const KIND: &'static str = "Workflow";
    const WATCHES: &'static [Watched] = &[Watched::Project, Watched::Component];
    type Status = WorkflowStatus;

    fn management(&self) -> &Management {
        &self.spec.management
    }
    fn connection_name(&self) -> &str {
        &self.spec.connection_ref.name
    }
    fn platform(&self) -> Option<Platform> {
        match (&self.spec.cycloid, &self.spec.opschain) {
            (Some(_), _) => Some(Platform::Cycloid),
            (_, Some(_)) => Some(Platform::OpsChain),
            (None, None) => None,
        }
    }
    fn status(&self) -> Option<&WorkflowStatus> {
        self.status.as_ref()
    }
    fn common(status: &WorkflowStatus) -> &CommonStatus {
        &status.common
    }
    fn common_mut(status: &mut WorkflowStatus) -> &mut CommonStatus {
        &mut status.common
    }
    fn platform_id(status: &WorkflowStatus) -> Option<&str> {
        status.workflow_id.as_deref()
    }
    fn platform_object(&self, id: &str) -> String {
        let path = self.status.as_ref().and_then(|s| s.platform_path.clone());
        match (self.platform(), path) {
            (Some(Platform::Cycloid), Some(p)) => format!("Cycloid job {p} (id {id})"),
            (Some(Platform::Cycloid), None) => format!("Cycloid job {id}"),
            (_, Some(p)) => format!("OpsChain workflow {p} (id {id})"),
            (_, None) => format!("OpsChain workflow {id}"),
        }
    }
    fn references(&self) -> Vec<(Watched, String)> {
        let mut refs = vec![(Watched::Project, self.spec.project_ref.name.clone())];
        if let Some(c) = &self.spec.cycloid {
            refs.push((Watched::Component, c.component_ref.name.clone()));
        }
        refs
    }
}
