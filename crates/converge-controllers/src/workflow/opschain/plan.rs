//! OpsChain decisions (pure): the workflow definition to create or update, the steps to approve
//! or reject, and the runs to show in status.

use serde_json::{Map, Value};

use crate::workflow::runs::Trigger;
use crate::workflow::steps;
use converge_api::workflow::{ApprovalAction, ApprovalPolicy, OpsChainWorkflow, RunStatus};
use converge_platforms::ClientError;
use converge_platforms::opschain::{
    NewRun, NewWorkflow, Run, Step, StepKind, StepStatus, Workflow, WorkflowUpdate,
};

/// The message Converge leaves with the decisions `spec.opschain.approval` makes, so a run
/// rejected by the policy is told apart from one a person rejected.
pub const APPROVAL_NOTE: &str = "decided by Converge, as spec.opschain.approval says";

/// Metadata key: the Workflow object (its uid) that started the run.
pub const OBJECT_KEY: &str = "converge.dev/object";
/// Metadata key: the trigger marker (`token:...`, `schedule:...`), unique per object.
pub const RUN_KEY: &str = "converge.dev/run";

/// The definition as the spec declares it, in OpsChain's terms.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    pub steps: Vec<Value>,
    pub publish: bool,
}

impl Desired {
    pub fn from_spec(spec: &OpsChainWorkflow) -> Result<Desired, String> {
        Ok(Desired {
            code: spec.code.clone(),
            name: spec.name.clone(),
            description: spec.description.clone(),
            steps: steps::to_opschain(&spec.steps)?,
            publish: spec.publish.unwrap_or(true),
        })
    }
}

/// What to write to the definition.
#[derive(Clone, Debug, PartialEq)]
pub enum Definition {
    Create(NewWorkflow),
    Update {
        update: WorkflowUpdate,
        changes: Vec<String>,
    },
    InSync,
}

/// The create request for the declared workflow: a draft unless it is to be published.
pub fn new_workflow(desired: &Desired) -> NewWorkflow {
    NewWorkflow {
        code: desired.code.clone(),
        name: desired.name.clone(),
        description: desired.description.clone(),
        steps: desired.steps.clone(),
        draft: !desired.publish,
    }
}

/// Compares the declared definition with the workflow found (if any). Only declared fields
/// count: a description left out of the spec is not cleared.
pub fn definition(desired: &Desired, observed: Option<&Workflow>) -> Definition {
    let Some(w) = observed else {
        return Definition::Create(new_workflow(desired));
    };
    let mut update = WorkflowUpdate {
        name: desired.name.clone(),
        ..Default::default()
    };
    let mut changes = Vec::new();
    if w.name != desired.name {
        changes.push(format!("name {:?} → {:?}", w.name, desired.name));
    }
    if let Some(d) = &desired.description
        && w.description.as_ref() != Some(d)
    {
        update.description = Some(d.clone());
        changes.push("description".to_string());
    }
    if w.archived {
        update.archived = Some(false);
        changes.push("unarchive the workflow".to_string());
    }
    if !steps::same(&desired.steps, &w.steps) {
        update.steps = Some(desired.steps.clone());
        update.draft = desired.publish.then_some(false);
        let what = if w.draft {
            format!(
                "rewrite draft version {} with the declared steps",
                w.latest_version
            )
        } else {
            format!(
                "add version {} with the declared steps",
                w.latest_version + 1
            )
        };
        changes.push(if desired.publish {
            format!("{what}, published")
        } else {
            what
        });
    } else if desired.publish && w.draft {
        update.draft = Some(false);
        changes.push(format!("publish version {}", w.latest_version));
    }
    if changes.is_empty() {
        Definition::InSync
    } else {
        Definition::Update { update, changes }
    }
}

/// The run to start for `trigger`, tagged so it can be found again.
pub fn new_run(
    uid: &str,
    trigger: &Trigger,
    version: u64,
    overrides: Option<&Map<String, Value>>,
) -> NewRun {
    let mut metadata = Map::new();
    metadata.insert(OBJECT_KEY.into(), Value::String(uid.to_string()));
    metadata.insert(RUN_KEY.into(), Value::String(trigger.marker()));
    NewRun {
        version,
        property_overrides: overrides.cloned().unwrap_or_default(),
        metadata,
    }
}

/// The run among ours that `trigger` already started, if any.
pub fn started<'a>(runs: &'a [Run], trigger: &Trigger) -> Option<&'a Run> {
    let marker = trigger.marker();
    runs.iter()
        .find(|r| r.metadata.get(RUN_KEY).and_then(Value::as_str) == Some(marker.as_str()))
}

/// What to do with one step waiting for a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepAction {
    Approve {
        id: String,
        name: String,
    },
    Reject {
        id: String,
        name: String,
    },
    /// Left for a person: no policy covers it, or it is a plain wait step to be continued.
    Leave {
        name: String,
        from: Option<String>,
    },
}

/// Decides each waiting step of a run. Only `spec.opschain.approval` acts, and only on approval
/// steps it covers; a plain wait step (no approvers) is always left for a person.
pub fn approvals(policy: Option<&ApprovalPolicy>, steps: &[Step]) -> Vec<StepAction> {
    steps
        .iter()
        .filter(|s| s.status == converge_platforms::opschain::StepStatus::Waiting)
        .map(|s| {
            let covered = s.requires_approval_from.is_some()
                && policy.is_some_and(|p| p.steps.is_empty() || p.steps.contains(&s.name));
            let action = policy.map_or(ApprovalAction::Manual, |p| p.action);
            let (id, name) = (s.id.clone(), s.name.clone());
            match (covered, action) {
                (true, ApprovalAction::Approve) => StepAction::Approve { id, name },
                (true, ApprovalAction::Reject) => StepAction::Reject { id, name },
                _ => StepAction::Leave {
                    name,
                    from: s.requires_approval_from.clone(),
                },
            }
        })
        .collect()
}

/// How a step left for a person reads in status.
pub fn waiting_label(name: &str, from: Option<&str>) -> String {
    match from {
        Some(f) => format!("{name:?} (from {f})"),
        None => format!("{name:?} (to be continued by a person)"),
    }
}

/// The project and workflow codes deletion works on: the recorded path, or the key of a create
/// in flight. Nothing recorded means nothing was created.
pub fn recorded(status: &converge_api::workflow::WorkflowStatus) -> Option<(String, String)> {
    let path = status
        .platform_path
        .as_deref()
        .or(status.common.pending_create.as_deref())?;
    let (project, code) = path.split_once('/')?;
    Some((project.to_string(), code.to_string()))
}

/// Our runs as status shows them: newest first, at most `limit`.
pub fn history(runs: &[Run], limit: usize) -> Vec<RunStatus> {
    let mut sorted: Vec<&Run> = runs.iter().collect();
    sorted.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    sorted
        .into_iter()
        .take(limit)
        .map(|r| RunStatus {
            id: r.id.clone(),
            status: r.status.to_string(),
            trigger: r
                .metadata
                .get(RUN_KEY)
                .and_then(Value::as_str)
                .and_then(|m| m.split_once(':'))
                .map(|(kind, _)| kind.to_string()),
            waiting_step: None,
            started_at: Some(r.started_at.unwrap_or(r.created_at).to_string()),
            message: r
                .cancelled_by
                .as_ref()
                .filter(|_| r.status.as_str() == "cancelled")
                .map(|by| format!("cancelled by {by}")),
        })
        .collect()
}

/// Keeps what status already knew of why each run ended (it is read from the steps once).
pub fn keep_messages(history: &mut [RunStatus], previous: &[RunStatus]) {
    for run in history.iter_mut().filter(|r| r.message.is_none()) {
        run.message = previous
            .iter()
            .find(|p| p.id == run.id)
            .and_then(|p| p.message.clone());
    }
}

/// Why a run ended without success, from its steps: the approval step rejected, and by whom
/// (this Workflow's approval policy, or a person), or the step that failed.
pub fn ended_because(steps: &[Step]) -> Option<String> {
    if let Some(s) = steps.iter().find(|s| s.status == StepStatus::Rejected) {
        return Some(match s.rejected_by.first() {
            Some(d) if d.message.as_deref() == Some(APPROVAL_NOTE) => format!(
                "step {:?} was rejected by spec.opschain.approval (action: Reject)",
                s.name
            ),
            Some(d) => format!(
                "step {:?} was rejected by {}{}",
                s.name,
                d.username,
                d.message
                    .as_deref()
                    .map(|m| format!(" ({m:?})"))
                    .unwrap_or_default()
            ),
            None => format!("step {:?} was rejected", s.name),
        });
    }
    steps
        .iter()
        .filter(|s| s.kind != StepKind::Stage)
        .find(|s| matches!(s.status, StepStatus::Error | StepStatus::Failed))
        .map(|s| format!("step {:?} ended {}", s.name, s.status))
}

/// The Stalled message for a decision OpsChain refused (403): who may decide, and what to do.
pub fn refused_decision(
    verb: &str,
    step: &str,
    run: &str,
    approvers: &str,
    error: &ClientError,
) -> String {
    format!(
        "OpsChain refused to {verb} step {step:?} of run {run}: {}; the connection's user is \
         not one of the step's approvers ({approvers:?}). Add it (or a group it is in) to the \
         step's requiresApprovalFrom, or set spec.opschain.approval.action: Manual and decide \
         the step in OpsChain. The credentials themselves are accepted",
        error.message()
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use converge_platforms::opschain::StepStatus;

    fn desired() -> Desired {
        Desired {
            code: "web_release".into(),
            name: "Web release".into(),
            description: Some("d".into()),
            steps: vec![json!({"type": "wait", "name": "gate"})],
            publish: true,
        }
    }

    fn workflow(steps: Vec<Value>, draft: bool) -> Workflow {
        serde_json::from_value(json!({
            "id": "w1", "code": "web_release", "name": "Web release", "description": "d",
            "draft": draft, "archived": false, "created_by": "u",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "steps": steps, "source_yaml": null, "latest_version": 1,
            "latest_published_version": if draft { Value::Null } else { json!(1) },
        }))
        .unwrap()
    }

    #[test]
    fn a_missing_workflow_is_created_published_or_draft() {
        match definition(&desired(), None) {
            Definition::Create(n) => {
                assert_eq!(n.code, "web_release");
                assert!(!n.draft);
            }
            other => panic!("{other:?}"),
        }
        let d = Desired {
            publish: false,
            ..desired()
        };
        assert!(matches!(definition(&d, None), Definition::Create(n) if n.draft));
    }

    #[test]
    fn nothing_differs_nothing_is_written() {
        let w = workflow(
            vec![json!({"type": "wait", "name": "gate", "extra": 1})],
            false,
        );
        assert_eq!(definition(&desired(), Some(&w)), Definition::InSync);
        let d = Desired {
            description: None,
            ..desired()
        };
        let mut w = w;
        w.description = Some("set by a person".into());
        assert_eq!(
            definition(&d, Some(&w)),
            Definition::InSync,
            "undeclared is not fought"
        );
    }

    #[test]
    fn changed_steps_add_a_published_version() {
        let w = workflow(vec![json!({"type": "wait", "name": "old"})], false);
        match definition(&desired(), Some(&w)) {
            Definition::Update { update, changes } => {
                assert_eq!(update.steps, Some(desired().steps));
                assert_eq!(update.draft, Some(false));
                assert_eq!(update.name, "Web release", "the spec requires the name");
                assert!(changes[0].contains("add version 2"), "{changes:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn changed_steps_without_publish_stay_a_draft() {
        let d = Desired {
            publish: false,
            ..desired()
        };
        let w = workflow(vec![json!({"type": "wait", "name": "old"})], true);
        match definition(&d, Some(&w)) {
            Definition::Update { update, changes } => {
                assert_eq!(update.draft, None);
                assert!(changes[0].contains("rewrite draft version 1"));
            }
            other => panic!("{other:?}"),
        }
        let w = workflow(d.steps.clone(), true);
        assert_eq!(definition(&d, Some(&w)), Definition::InSync);
    }

    #[test]
    fn a_draft_with_the_declared_steps_is_published() {
        let w = workflow(desired().steps, true);
        match definition(&desired(), Some(&w)) {
            Definition::Update { update, changes } => {
                assert_eq!(update.steps, None);
                assert_eq!(update.draft, Some(false));
                assert_eq!(changes, vec!["publish version 1".to_string()]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn name_description_and_archive_drift_are_corrected() {
        let mut w = workflow(desired().steps, false);
        w.name = "Renamed".into();
        w.description = Some("other".into());
        w.archived = true;
        match definition(&desired(), Some(&w)) {
            Definition::Update { update, changes } => {
                assert_eq!(update.name, "Web release");
                assert_eq!(update.description.as_deref(), Some("d"));
                assert_eq!(update.archived, Some(false));
                assert_eq!(update.steps, None);
                assert_eq!(changes.len(), 3);
            }
            other => panic!("{other:?}"),
        }
    }

    fn run(id: &str, marker: &str, created: &str, status: &str) -> Run {
        serde_json::from_value(json!({
            "id": id, "status_code": status, "created_by": "u", "created_at": created,
            "metadata": {OBJECT_KEY: "uid", RUN_KEY: marker},
        }))
        .unwrap()
    }

    #[test]
    fn a_run_already_started_for_the_trigger_is_found() {
        let runs = vec![run("a", "token:r1", "2026-01-01T00:00:00Z", "success")];
        assert_eq!(
            started(&runs, &Trigger::Token("r1".into())).unwrap().id,
            "a"
        );
        assert!(started(&runs, &Trigger::Token("r2".into())).is_none());
        let r = new_run("uid", &Trigger::Token("r2".into()), 3, None);
        assert_eq!(r.metadata[RUN_KEY], "token:r2");
        assert_eq!(r.metadata[OBJECT_KEY], "uid");
        assert_eq!(r.version, 3);
    }

    #[test]
    fn history_is_newest_first_and_bounded() {
        let runs = vec![
            run("a", "token:r1", "2026-01-01T00:00:00Z", "success"),
            run(
                "c",
                "schedule:2026-01-03T00:00:00Z",
                "2026-01-03T00:00:00Z",
                "running",
            ),
            run("b", "token:r2", "2026-01-02T00:00:00Z", "error"),
        ];
        let h = history(&runs, 2);
        assert_eq!(
            h.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["c", "b"]
        );
        assert_eq!(h[0].trigger.as_deref(), Some("schedule"));
        assert_eq!(h[1].status, "error");
    }

    fn step(id: &str, name: &str, status: &str, approvers: Option<&str>) -> Step {
        serde_json::from_value(json!({
            "id": id, "type": "workflow_wait_step", "name": name, "status_code": status,
            "lock_version": 0, "created_at": "2026-01-01T00:00:00Z",
            "requires_approval_from": approvers,
        }))
        .unwrap()
    }

    fn policy(action: ApprovalAction, steps: &[&str]) -> ApprovalPolicy {
        ApprovalPolicy {
            action,
            steps: steps.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn without_a_policy_nothing_is_approved() {
        let steps = vec![step("s1", "gate", "waiting", Some("ops"))];
        assert_eq!(
            approvals(None, &steps),
            vec![StepAction::Leave {
                name: "gate".into(),
                from: Some("ops".into())
            }]
        );
        let manual = policy(ApprovalAction::Manual, &[]);
        assert!(matches!(
            approvals(Some(&manual), &steps)[0],
            StepAction::Leave { .. }
        ));
    }

    #[test]
    fn a_policy_acts_only_on_the_steps_it_names() {
        let steps = vec![
            step("s1", "gate", "waiting", Some("ops")),
            step("s2", "other", "waiting", Some("ops")),
            step("s3", "done", "approved", Some("ops")),
        ];
        let p = policy(ApprovalAction::Approve, &["gate"]);
        assert_eq!(
            approvals(Some(&p), &steps),
            vec![
                StepAction::Approve {
                    id: "s1".into(),
                    name: "gate".into()
                },
                StepAction::Leave {
                    name: "other".into(),
                    from: Some("ops".into())
                },
            ]
        );
        let p = policy(ApprovalAction::Reject, &[]);
        assert_eq!(approvals(Some(&p), &steps).len(), 2);
        assert!(matches!(
            approvals(Some(&p), &steps)[1],
            StepAction::Reject { .. }
        ));
    }

    #[test]
    fn a_plain_wait_step_is_never_continued() {
        let steps = vec![step("s1", "pause", "waiting", None)];
        let p = policy(ApprovalAction::Approve, &[]);
        assert!(matches!(
            &approvals(Some(&p), &steps)[0],
            StepAction::Leave { from: None, .. }
        ));
        assert!(waiting_label("pause", None).contains("continued by a person"));
    }

    #[test]
    fn deletion_works_on_what_status_recorded() {
        let mut s = converge_api::workflow::WorkflowStatus::default();
        assert_eq!(recorded(&s), None, "nothing created, nothing to delete");
        s.common.pending_create = Some("web/release".into());
        assert_eq!(recorded(&s), Some(("web".into(), "release".into())));
        s.platform_path = Some("web/other".into());
        assert_eq!(recorded(&s), Some(("web".into(), "other".into())));
    }

    #[test]
    fn steps_and_runs_with_status_codes_decode() {
        assert_eq!(step("s", "n", "waiting", None).status, StepStatus::Waiting);
    }
}
