//! OpsChain: observe the workflow and our runs, apply the decisions of `opschain.rs`.

pub mod plan;

use jiff::Timestamp;

use crate::workflow::runs::{self, Due};
use crate::workflow::{reason, steps};
use converge_api::common::conditions::reason as common;
use converge_api::project::Project;
use converge_api::workflow::{OpsChainWorkflow, Workflow, WorkflowStatus};
use converge_core::Platform;
use converge_engine::external::{self, Ensured, PlatformDelete, PlatformObject};
use converge_engine::{Cx, Failure, Phase};
use converge_platforms::opschain::{self, OpsChainClient, StepActionError, WorkflowUpdate};
use converge_platforms::{ClientError, PlatformClient};
use plan::{APPROVAL_NOTE, Definition, Desired, OBJECT_KEY, StepAction};

fn client(cx: &Cx<Workflow>) -> Result<OpsChainClient, Failure> {
    match &cx.client {
        PlatformClient::OpsChain(c) => Ok(c.clone()),
        other => Err(Failure::stalled(
            common::INVALID_SPEC,
            format!(
                "spec.opschain needs an OpsChain connection, not {}",
                other.platform()
            ),
        )),
    }
}

/// The OpsChain project code of the referenced Project, once it is Ready.
async fn project_code(wf: &Workflow, cx: &Cx<Workflow>) -> Result<String, Failure> {
    let name = &wf.spec.project_ref.name;
    let project: Project = cx.ready(name).await?;
    project.spec.opschain.map(|p| p.code).ok_or_else(|| {
        Failure::stalled(
            common::INVALID_SPEC,
            format!("projectRef {name:?} is not an OpsChain project; name one with spec.opschain"),
        )
    })
}

/// The OpsChain workflow a Workflow declares, in its Project's OpsChain project: the project
/// and workflow codes are its key, read and written by code.
struct WorkflowObject<'a> {
    desired: &'a Desired,
    client: &'a OpsChainClient,
    project: &'a str,
    key: &'a str,
}

impl PlatformObject<Workflow> for WorkflowObject<'_> {
    type Observed = opschain::Workflow;
    type Update = WorkflowUpdate;
    const PLATFORM: Platform = Platform::OpsChain;
    const WHAT: &'static str = "workflow";

    fn key(&self) -> &str {
        self.key
    }
    fn name(&self) -> String {
        self.key.to_string()
    }
    fn id(found: &opschain::Workflow) -> String {
        found.id.clone()
    }
    fn record(status: &mut WorkflowStatus, id: String) {
        status.workflow_id = Some(id);
    }
    async fn observe(&self, _by_id: Option<&str>) -> Result<Option<opschain::Workflow>, Failure> {
        // OpsChain reads a workflow by its code only.
        Ok(self
            .client
            .get_workflow(self.project, &self.desired.code)
            .await?)
    }
    async fn create(&self) -> Result<opschain::Workflow, Failure> {
        let new = plan::new_workflow(self.desired);
        Ok(self.client.create_workflow(self.project, &new).await?)
    }
    fn plan(&self, found: &opschain::Workflow) -> Option<(WorkflowUpdate, Vec<String>)> {
        match plan::definition(self.desired, Some(found)) {
            Definition::Update { update, changes } => Some((update, changes)),
            Definition::Create(_) | Definition::InSync => None,
        }
    }
    async fn update(
        &self,
        _found: &opschain::Workflow,
        update: &WorkflowUpdate,
    ) -> Result<Option<opschain::Workflow>, Failure> {
        Ok(Some(
            self.client
                .update_workflow(self.project, &self.desired.code, update)
                .await?,
        ))
    }
}

pub async fn converge(
    wf: &Workflow,
    spec: &OpsChainWorkflow,
    now: Timestamp,
    created: Timestamp,
    cx: &mut Cx<Workflow>,
) -> Result<Phase, Failure> {
    let client = client(cx)?;
    let due: Due = runs::due(wf.spec.run.as_ref(), &cx.status, created, now)
        .map_err(|e| Failure::stalled(common::INVALID_SPEC, e))?;
    if let Some(n) = due.next_fire {
        cx.wake_within(n);
    }
    let desired =
        Desired::from_spec(spec).map_err(|e| Failure::stalled(common::INVALID_SPEC, e))?;
    let project = project_code(wf, cx).await?;
    let key = format!("{project}/{}", desired.code);
    let object = WorkflowObject {
        desired: &desired,
        client: &client,
        project: &project,
        key: &key,
    };
    let found = match external::ensure(wf, &object, cx).await? {
        Ensured::Found(found) => found,
        Ensured::Held(phase) => return Ok(phase),
    };
    let mut held = Vec::new();
    let w = external::update(&object, &found, cx, &mut held)
        .await?
        .unwrap_or(found);
    let s = &mut cx.status;
    s.workflow_id = Some(w.id.clone());
    s.platform_path = Some(key.clone());
    s.latest_version = Some(w.latest_version as i32);
    s.latest_published_version = w.latest_published_version.map(|v| v as i32);
    if steps::same(&desired.steps, &w.steps) {
        s.steps_hash = Some(steps::hash(&desired.steps));
    }

    // A drift check with no run due and every recorded run finished: finished runs never
    // change, so the runs are not read again.
    let settled = cx.at_rest() && runs::settled(&due, &cx.status.runs);
    if !settled {
        let uid = wf.metadata.uid.clone().unwrap_or_default();
        let mut ours = client
            .find_runs_by_metadata(&project, &desired.code, OBJECT_KEY, &uid)
            .await?;
        for trigger in &due.triggers {
            if plan::started(&ours, trigger).is_some() {
                trigger.record(&mut cx.status);
                continue;
            }
            if !cx.may_write() {
                held.push(format!("start a run for {}", trigger.describe()));
                continue;
            }
            let Some(version) = w.latest_published_version else {
                return Err(Failure::stalled(
                    reason::NOT_PUBLISHED,
                    format!(
                        "workflow {key} has no published version to run for {}; set \
                         spec.opschain.publish: true (or publish it in OpsChain)",
                        trigger.describe()
                    ),
                ));
            };
            let new = plan::new_run(&uid, trigger, version, spec.property_overrides.as_ref());
            let run = client.create_run(&project, &desired.code, &new).await?;
            trigger.record(&mut cx.status);
            cx.did(
                "RunStarted",
                format!(
                    "started run {} of {key} version {version} for {}",
                    run.id,
                    trigger.describe()
                ),
            );
            ours.push(run);
            cx.save().await?;
        }

        let mut history = plan::history(&ours, runs::history_limit(wf.spec.run.as_ref()));
        if let Some(latest) = history.first_mut()
            && latest.status == "waiting"
        {
            let steps = client
                .list_run_steps(&project, &desired.code, &latest.id)
                .await?;
            let mut left = Vec::new();
            for action in plan::approvals(spec.approval.as_ref(), &steps) {
                let (id, name, approve) = match action {
                    StepAction::Leave { name, from } => {
                        left.push(plan::waiting_label(&name, from.as_deref()));
                        continue;
                    }
                    StepAction::Approve { id, name } => (id, name, true),
                    StepAction::Reject { id, name } => (id, name, false),
                };
                let verb = if approve { "approve" } else { "reject" };
                if !cx.may_write() {
                    held.push(format!("{verb} step {name:?} of run {}", latest.id));
                    continue;
                }
                let result = if approve {
                    client.approve_step(&id, Some(APPROVAL_NOTE)).await
                } else {
                    client.reject_step(&id, Some(APPROVAL_NOTE)).await
                };
                let (reason, done) = if approve {
                    ("StepApproved", "approved")
                } else {
                    ("StepRejected", "rejected")
                };
                match result {
                    Ok(_) => cx.did(
                        reason,
                        format!(
                            "{done} step {name:?} of run {} of {key}, as spec.opschain.approval \
                             says (action: {})",
                            latest.id,
                            if approve { "Approve" } else { "Reject" }
                        ),
                    ),
                    // Decided already: by our own earlier attempt whose answer was lost, or by a person.
                    Err(StepActionError::NotWaiting { .. }) => {}
                    Err(StepActionError::Client(e)) if e.is_forbidden() => {
                        let from = steps
                            .iter()
                            .find(|s| s.id == id)
                            .and_then(|s| s.requires_approval_from.clone())
                            .unwrap_or_default();
                        return Err(Failure::stalled(
                            common::FORBIDDEN,
                            plan::refused_decision(verb, &name, &latest.id, &from, &e),
                        ));
                    }
                    Err(StepActionError::Client(e)) => return Err(e.into()),
                }
            }
            latest.waiting_step = (!left.is_empty()).then(|| left.join(", "));
        }
        plan::keep_messages(&mut history, &cx.status.runs);
        if let Some(latest) = history.first_mut()
            && latest.message.is_none()
            && runs::is_final(&latest.status)
            && !runs::succeeded(&latest.status)
        {
            // Why it ended: a step rejected (by the approval policy or a person) or failed.
            let steps = client
                .list_run_steps(&project, &desired.code, &latest.id)
                .await?;
            latest.message = plan::ended_because(&steps);
        }
        note_waiting(cx, history.first());
        cx.status.last_run = history.first().cloned();
        cx.status.runs = history;
    }

    if !cx.may_write() {
        return Ok(cx.held(held));
    }
    let published = w
        .latest_published_version
        .map_or("none".to_string(), |v| v.to_string());
    Ok(runs::phase(
        cx.status.last_run.as_ref(),
        &format!(
            "OpsChain workflow {key} is in sync (version {}, published {published})",
            w.latest_version
        ),
    ))
}

/// One Warning Event when a run starts waiting for a person, not one per look.
fn note_waiting(cx: &mut Cx<Workflow>, latest: Option<&converge_api::workflow::RunStatus>) {
    let Some(run) = latest else { return };
    let Some(step) = &run.waiting_step else {
        return;
    };
    let seen = cx
        .status
        .last_run
        .as_ref()
        .is_some_and(|r| r.id == run.id && r.waiting_step.as_ref() == Some(step));
    if !seen {
        cx.warn(
            reason::WAITING_FOR_APPROVAL,
            format!(
                "run {} is waiting for step {step}; Converge leaves it to a person: approve, \
                 reject or continue it in OpsChain, or set spec.opschain.approval",
                run.id
            ),
        );
    }
}

/// Resolves the runs this Workflow started that have not ended (run.onDelete), then deletes
/// the workflow recorded in status (OpsChain archives one that ever ran). A run left waiting
/// would keep OpsChain from archiving the project, and the Project's deletion with it.
pub async fn delete(wf: &Workflow, cx: &mut Cx<Workflow>) -> Result<(), Failure> {
    let client = client(cx)?;
    let Some((project, code)) = plan::recorded(&cx.status) else {
        return Ok(());
    };
    let uid = wf.metadata.uid.clone().unwrap_or_default();
    let ours = match client
        .find_runs_by_metadata(&project, &code, OBJECT_KEY, &uid)
        .await
    {
        Err(e) if e.is_not_found() => return Ok(()),
        other => other?,
    };
    let under_way: Vec<(String, String)> = ours
        .iter()
        .filter(|r| !r.status.is_final())
        .map(|r| (r.id.clone(), r.status.to_string()))
        .collect();
    let path = format!("{project}/{code}");
    runs::resolve_on_delete(wf, &under_way, &path)?;
    for (id, state) in &under_way {
        match client.cancel_run(&project, &code, id).await {
            Err(e) if e.is_not_found() => continue,
            other => other?,
        }
        cx.did(
            "RunCancelled",
            format!(
                "cancelled run {id} ({state}) of {path}: the Workflow is being deleted \
                 ({})",
                runs::on_delete_label(wf.spec.run.as_ref())
            ),
        );
    }
    external::delete(&Deletion { client: &client }, cx).await
}

/// The OpsChain workflow to delete (OpsChain archives one that ever ran): by the recorded
/// project and workflow codes, or those of a create in flight.
struct Deletion<'a> {
    client: &'a OpsChainClient,
}

impl PlatformDelete<Workflow> for Deletion<'_> {
    fn recorded(&self, status: &WorkflowStatus) -> Option<String> {
        status.platform_path.clone()
    }
    async fn made_by(&self, path: &str) -> Result<Option<String>, Failure> {
        Ok(Some(path.to_string()))
    }
    async fn delete(&self, path: &str) -> Result<(), ClientError> {
        // `delete` checked the path's shape (`plan::recorded`) before resolving the runs.
        let Some((project, code)) = path.split_once('/') else {
            return Ok(());
        };
        self.client.delete_workflow(project, code).await
    }
}
