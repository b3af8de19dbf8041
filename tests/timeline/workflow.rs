//! Workflow timelines: OpsChain (definition versions, runs per token, approvals by policy,
//! a rejection, refused approvals, deletion with runs waiting) and Cycloid (job builds per
//! token, a build held by a pause, deletion aborting it).

use converge_api::component::Component;
use converge_api::connection::PlatformConnection;
use converge_api::project::Project;
use converge_api::workflow::Workflow;
use converge_platforms::cycloid::ComponentPath;
use converge_platforms::opschain::StepStatus;
use serde_json::{Value, json};

use super::project::cycloid_shop;
use crate::common::every_kind::PIPELINE;
use crate::common::timeline::platform::{cycloid, opschain};
use crate::common::timeline::*;

const W: &str = "workflow.converge.dev/release";

async fn opschain_project(t: &Timeline, code: &str) {
    t.apply(&manifest(
        "Project",
        "proj",
        json!({"connectionRef": {"name": "opschain"},
               "opschain": {"code": code, "name": code, "projectType": "Enterprise",
                            "environments": [{"code": "dev"}]}}),
    ))
    .await;
    t.wait::<Project>("proj", "Ready", ready).await;
}

/// A release workflow: deploy to dev, then a wait for `approvers`; `extra` merged into spec.
fn release(project: &str, approvers: &str, extra: Value) -> Value {
    let mut spec = json!({
        "connectionRef": {"name": "opschain"}, "projectRef": {"name": "proj"},
        "opschain": {"code": "release", "name": "Release",
            "steps": [
                {"type": "change", "name": "deploy to dev", "action": "deploy",
                 "target": format!("/projects/{project}/environments/dev")},
                {"type": "wait", "name": "production approval", "requiresApprovalFrom": approvers}
            ]}
    });
    crate::common::converge::merge(&mut spec, extra);
    manifest("Workflow", "release", spec)
}

fn latest_run(w: &Workflow) -> converge_api::workflow::RunStatus {
    w.status.as_ref().unwrap().last_run.clone().unwrap()
}

/// Create; a run token (the run waits for a person); an approval policy (Converge approves);
/// new steps, a new token and a Reject policy (a new version, a run rejected as declared);
/// removal.
#[tokio::test]
async fn opschain_workflow_timeline() {
    let mut t = Timeline::start("tl-workflow-opschain", &["opschain"]).await;
    let code = "tl_wf";
    opschain_project(&t, code).await;
    let oc = opschain();

    // 1. Create: the definition, version 1 published; no run without a trigger.
    t.apply(&release(code, "release-managers", json!({}))).await;
    let w: Workflow = t.wait("release", "Ready", ready).await;
    assert_conditions(&w, true, "Converged", &["version 1, published 1"]);
    t.expect_events(
        W,
        &[(
            "Normal",
            "Created",
            "created OpsChain workflow tl_wf/release",
        )],
    )
    .await;
    let on = oc.get_workflow(code, "release").await.unwrap().unwrap();
    assert_eq!(on.latest_published_version, Some(1));
    assert!(oc.list_runs(code, "release").await.unwrap().is_empty());

    // 2. A run token: the run waits for a person (no policy), and says so once.
    t.apply(&release(
        code,
        "release-managers",
        json!({"run": {"token": "r1"}}),
    ))
    .await;
    let w: Workflow = t.wait("release", "waiting", waits_for_approval).await;
    let r1 = latest_run(&w);
    assert_conditions(
        &w,
        false,
        "Progressing",
        &[&format!(
            "run {} is waiting for approval of step \"production approval\"",
            r1.id
        )],
    );
    t.expect_events(
        W,
        &[
            (
                "Normal",
                "RunStarted",
                &format!(
                    "started run {} of tl_wf/release version 1 for run token \"r1\"",
                    r1.id
                ),
            ),
            (
                "Warning",
                "WaitingForApproval",
                &format!("run {} is waiting for step \"production approval\"", r1.id),
            ),
        ],
    )
    .await;
    let run = oc.get_run(code, "release", &r1.id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "waiting");

    // 3. An approval policy: Converge approves, the run succeeds.
    t.apply(&release(
        code,
        "release-managers",
        json!({"run": {"token": "r1"}, "opschain": {"approval": {"action": "Approve"}}}),
    ))
    .await;
    let w: Workflow = t
        .wait("release", "Ready", |w: &Workflow| {
            ready(w) && latest_run(w).status == "success"
        })
        .await;
    assert_conditions(
        &w,
        true,
        "Converged",
        &[&format!("run {} succeeded", r1.id)],
    );
    t.expect_events(
        W,
        &[(
            "Normal",
            "StepApproved",
            &format!(
                "approved step \"production approval\" of run {} of tl_wf/release, as \
             spec.opschain.approval says (action: Approve)",
                r1.id
            ),
        )],
    )
    .await;
    let steps = oc.list_run_steps(code, "release", &r1.id).await.unwrap();
    assert!(steps.iter().any(|s| s.name == "production approval"
        && s.status == StepStatus::Approved
        && s.approved_by.iter().any(|d| d.username == "sandbox-user")));

    // 4. New steps (version 2), token r2 and a Reject policy: the run is rejected as declared,
    //    and status says so (not "fix the cause").
    let mut second = release(
        code,
        "release-managers",
        json!({"run": {"token": "r2"}, "opschain": {"approval": {"action": "Reject"}}}),
    );
    second["spec"]["opschain"]["steps"][0]["name"] = json!("deploy to dev again");
    t.apply(&second).await;
    let w: Workflow = t
        .wait("release", "rejected", |w: &Workflow| {
            ready_reason(w, "RunRejected")
        })
        .await;
    let r2 = latest_run(&w);
    assert_ne!(r2.id, r1.id);
    let message = assert_conditions(
        &w,
        false,
        "RunRejected",
        &[
            &format!("run {} ended error", r2.id),
            "step \"production approval\" was rejected by spec.opschain.approval (action: Reject), as declared",
        ],
    );
    assert!(!message.contains("fix the cause"), "{message}");
    assert!(
        r2.message
            .as_deref()
            .unwrap()
            .contains("rejected by spec.opschain.approval")
    );
    t.expect_events(W, &[
        (
            "Normal",
            "Updated",
            "updated OpsChain workflow tl_wf/release: add version 2 with the declared steps, published",
        ),
        (
            "Normal",
            "RunStarted",
            &format!("started run {} of tl_wf/release version 2 for run token \"r2\"", r2.id),
        ),
        (
            "Normal",
            "StepRejected",
            &format!("rejected step \"production approval\" of run {}", r2.id),
        ),
        ("Warning", "RunRejected", "rejected by spec.opschain.approval"),
    ]).await;
    let run = oc.get_run(code, "release", &r2.id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "error");

    // 5. Removal: the workflow (which ran) is archived.
    t.delete("workflow/release").await;
    t.wait_gone::<Workflow>("release").await;
    t.expect_events(W, &[("Normal", "Deleted", "deleted OpsChain workflow")])
        .await;
    assert!(
        oc.get_workflow(code, "release")
            .await
            .unwrap()
            .is_none_or(|w| w.archived)
    );
}

/// OpsChain refusing an approval (403 "You are not permitted to approve this step") is that
/// one action refused: Stalled with the platform's words and what to do, while the connection
/// stays Ready; not a credentials problem retried forever.
#[tokio::test]
async fn opschain_refused_approval_is_stalled_not_bad_credentials() {
    let mut t = Timeline::start("tl-workflow-refused", &["opschain"]).await;
    let code = "tl_wf_refused";
    opschain_project(&t, code).await;

    // 1. Create with a run and an Approve policy for a step only the change board may approve.
    t.apply(&release(
        code,
        "change-board",
        json!({"run": {"token": "r1"}, "opschain": {"approval": {"action": "Approve"}}}),
    ))
    .await;
    let w: Workflow = t
        .wait("release", "Stalled", |w: &Workflow| {
            ready_reason(w, "Forbidden")
        })
        .await;
    let r1 = latest_run(&w);
    assert_conditions(
        &w,
        false,
        "Forbidden",
        &[
            "OpsChain refused to approve step \"production approval\"",
            "You are not permitted to approve this step",
            "(\"change-board\")",
            "spec.opschain.approval.action: Manual",
            "The credentials themselves are accepted",
        ],
    );
    t.expect_events(
        W,
        &[
            ("Normal", "Created", "created OpsChain workflow"),
            ("Normal", "RunStarted", "for run token \"r1\""),
            (
                "Warning",
                "Forbidden",
                "You are not permitted to approve this step",
            ),
        ],
    )
    .await;
    let conn = t.api::<PlatformConnection>().get("opschain").await.unwrap();
    let ready_condition = conn
        .status
        .unwrap()
        .common
        .condition("Ready")
        .cloned()
        .unwrap();
    assert_eq!(
        (
            ready_condition.status.as_str(),
            ready_condition.reason.as_str()
        ),
        ("True", "Connected"),
        "the connection is not blamed: {ready_condition:?}"
    );

    // 2. Manual: left for a person, as declared.
    t.apply(&release(
        code,
        "change-board",
        json!({"run": {"token": "r1"}, "opschain": {"approval": {"action": "Manual"}}}),
    ))
    .await;
    let w: Workflow = t.wait("release", "waiting", waits_for_approval).await;
    assert_conditions(
        &w,
        false,
        "Progressing",
        &["waiting for approval of step \"production approval\" (from change-board)"],
    );
    t.expect_events(
        W,
        &[(
            "Warning",
            "WaitingForApproval",
            &format!("run {} is waiting for step", r1.id),
        )],
    )
    .await;

    // 3. Removal cancels the waiting run (run.onDelete defaults to Cancel).
    t.delete("workflow/release").await;
    t.wait_gone::<Workflow>("release").await;
    t.expect_events(
        W,
        &[
            (
                "Normal",
                "RunCancelled",
                &format!("cancelled run {} (waiting) of tl_wf_refused/release", r1.id),
            ),
            ("Normal", "Deleted", "deleted OpsChain workflow"),
        ],
    )
    .await;
    let run = opschain()
        .get_run(code, "release", &r1.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status.as_str(), "cancelled");
}

/// Project "proj" (OpsChain `code`) and Workflow "release" with `run`, once its run waits
/// for approval; the Events so far are taken as seen.
async fn waiting_run(
    t: &mut Timeline,
    code: &str,
    run: Value,
) -> converge_api::workflow::RunStatus {
    opschain_project(t, code).await;
    t.apply(&release(code, "release-managers", json!({ "run": run })))
        .await;
    let w: Workflow = t.wait("release", "waiting", waits_for_approval).await;
    t.expect_events(
        W,
        &[
            ("Normal", "Created", "created OpsChain workflow"),
            ("Normal", "RunStarted", "for run token \"r1\""),
            ("Warning", "WaitingForApproval", "is waiting for step"),
        ],
    )
    .await;
    t.events("project.converge.dev/proj").await;
    latest_run(&w)
}

/// Progressing because its latest run waits for a person (not merely because it runs: the
/// run is read as started before it is read as waiting).
fn waits_for_approval(w: &Workflow) -> bool {
    ready_reason(w, "Progressing")
        && w.status
            .as_ref()
            .and_then(|s| s.last_run.as_ref())
            .is_some_and(|r| r.waiting_step.is_some())
}

/// Deleting a Workflow and its Project while a run Converge started waits for approval: the
/// run is resolved by run.onDelete, so the Project's archive (which OpsChain refuses while an
/// activity waits) completes. Wait: the deletion waits, says so, and goes on once a person
/// decides; Cancel: the run is cancelled at once.
#[tokio::test]
async fn opschain_deletion_resolves_waiting_runs() {
    let mut t = Timeline::start("tl-workflow-delete", &["opschain"]).await;
    let code = "tl_wf_delete";
    let oc = opschain();
    let p = "project.converge.dev/proj";

    // 1. A run waiting for approval, run.onDelete: Wait for up to 10 minutes.
    let r1 = waiting_run(
        &mut t,
        code,
        json!({"token": "r1", "onDelete": "Wait", "onDeleteTimeout": "10m"}),
    )
    .await;

    // 2. Both deleted: the Workflow waits for its run, and says so; the Project waits for it.
    t.delete("workflow/release").await;
    t.delete("project/proj").await;
    let w: Workflow = t
        .wait("release", "Deleting", |w: &Workflow| {
            crate::common::converge::condition(w, "Ready").is_some_and(|c| c.reason == "Deleting")
        })
        .await;
    let message = crate::common::converge::condition(&w, "Ready")
        .unwrap()
        .message;
    assert!(
        message.contains(&format!("waiting for run(s) {} (waiting)", r1.id))
            && message.contains("run.onDelete: Wait")
            && message.contains("(onDeleteTimeout 10m)"),
        "{message}"
    );
    t.expect_events(W, &[("Warning", "Deleting", "run.onDelete: Wait")])
        .await;
    t.expect_events(
        p,
        &[(
            "Warning",
            "Deleting",
            "waiting for Workflow release to be deleted first",
        )],
    )
    .await;

    // 3. A person approves in OpsChain: the run ends, the workflow and then the project go.
    let steps = oc.list_run_steps(code, "release", &r1.id).await.unwrap();
    let gate = steps.iter().find(|s| s.awaits_approval()).unwrap();
    oc.approve_step(&gate.id, Some("go")).await.unwrap();
    t.wait_gone::<Workflow>("release").await;
    t.wait_gone::<Project>("proj").await;
    t.expect_events(W, &[("Normal", "Deleted", "deleted OpsChain workflow")])
        .await;
    t.expect_events(
        p,
        &[(
            "Normal",
            "Deleted",
            "deleted OpsChain project \"tl_wf_delete\"",
        )],
    )
    .await;
    assert_eq!(
        oc.get_run(code, "release", &r1.id)
            .await
            .unwrap()
            .unwrap()
            .status
            .as_str(),
        "success"
    );
    assert!(oc.get_project(code).await.unwrap().unwrap().archived);

    // 4. Again with the default (Cancel): the waiting run is cancelled, both go at once.
    let code2 = "tl_wf_delete2";
    let r = waiting_run(&mut t, code2, json!({"token": "r1"})).await;
    t.delete("workflow/release").await;
    t.delete("project/proj").await;
    t.wait_gone::<Workflow>("release").await;
    t.wait_gone::<Project>("proj").await;
    t.expect_events(
        W,
        &[
            (
                "Normal",
                "RunCancelled",
                &format!(
                    "cancelled run {} (waiting) of tl_wf_delete2/release: the Workflow is being \
                 deleted (run.onDelete: Cancel)",
                    r.id
                ),
            ),
            ("Normal", "Deleted", "deleted OpsChain workflow"),
        ],
    )
    .await;
    // The Project may or may not have waited for the Workflow (how fast it went is not
    // this test's business); it was deleted after it.
    t.expect_events_including(
        p,
        &[(
            "Normal",
            "Deleted",
            "deleted OpsChain project \"tl_wf_delete2\"",
        )],
    )
    .await;
    assert_eq!(
        oc.get_run(code2, "release", &r.id)
            .await
            .unwrap()
            .unwrap()
            .status
            .as_str(),
        "cancelled"
    );
    assert!(oc.get_project(code2).await.unwrap().unwrap().archived);
}

fn cycloid_job_component(paused: bool) -> Value {
    manifest(
        "Component",
        "api",
        json!({"connectionRef": {"name": "cycloid"}, "projectRef": {"name": "shop"},
               "cycloid": {"canonical": "tl-wf-api", "name": "API", "environment": "staging",
                   "stackRef": "cycloidio:stack-docker", "useCase": "default",
                   "pipelines": [{"name": "tl-wf-api-deploy", "config": PIPELINE, "paused": paused}]}}),
    )
}

fn cycloid_workflow(token: Option<&str>) -> Value {
    let mut spec = json!({"connectionRef": {"name": "cycloid"}, "projectRef": {"name": "shop"},
        "cycloid": {"componentRef": {"name": "api"}, "pipeline": "tl-wf-api-deploy",
                    "job": "deploy"}});
    if let Some(t) = token {
        spec["run"] = json!({"token": t});
    }
    manifest("Workflow", "build", spec)
}

/// Create; token t1 (a build); token t2 while the pipeline is paused (the build waits, not
/// Ready); removal aborts the waiting build and leaves the job to its Component.
#[tokio::test]
async fn cycloid_workflow_timeline() {
    let mut t = Timeline::start("tl-workflow-cycloid", &["cycloid"]).await;
    let b = "workflow.converge.dev/build";
    cycloid_shop(&t, "tl-wf-shop").await;
    t.apply(&cycloid_job_component(false)).await;
    t.wait::<Component>("api", "Ready", ready).await;
    let at = ComponentPath::new("tl-wf-shop", "staging", "tl-wf-api");
    let job = "tl-wf-shop/staging/tl-wf-api/tl-wf-api-deploy/deploy";
    let builds = || async {
        cycloid()
            .list_builds(&at, "tl-wf-api-deploy", "deploy")
            .await
            .unwrap()
    };

    // 1. Create: the job is found; nothing runs without a trigger.
    t.apply(&cycloid_workflow(None)).await;
    let w: Workflow = t.wait("build", "Ready", ready).await;
    assert_conditions(&w, true, "Converged", &[&format!("Cycloid job {job}")]);
    t.expect_events(b, &[]).await;
    assert!(builds().await.is_empty());

    // 2. A token: one build.
    t.apply(&cycloid_workflow(Some("t1"))).await;
    let w: Workflow = t
        .wait("build", "built", |w: &Workflow| {
            ready(w) && w.status.as_ref().unwrap().last_run.is_some()
        })
        .await;
    let first = latest_run(&w);
    assert_conditions(
        &w,
        true,
        "Converged",
        &[&format!("run {} succeeded", first.id)],
    );
    t.expect_events(
        b,
        &[(
            "Normal",
            "BuildStarted",
            &format!("of job {job} for run token \"t1\""),
        )],
    )
    .await;
    assert_eq!(builds().await.len(), 1);

    // 3. The pipeline paused, then token t2: the build waits pending; not Ready.
    t.apply(&cycloid_job_component(true)).await;
    t.wait::<Component>("api", "paused", |c: &Component| {
        ready(c)
            && c.status
                .as_ref()
                .unwrap()
                .pipelines
                .iter()
                .all(|p| p.paused)
    })
    .await;
    t.apply(&cycloid_workflow(Some("t2"))).await;
    let w: Workflow = t
        .wait("build", "pending", |w: &Workflow| {
            ready_reason(w, "Progressing") && latest_run(w).id != first.id
        })
        .await;
    let second = latest_run(&w);
    assert_conditions(
        &w,
        false,
        "Progressing",
        &[&format!("run {} is pending", second.id)],
    );
    t.expect_events(
        b,
        &[(
            "Normal",
            "BuildStarted",
            &format!("of job {job} for run token \"t2\""),
        )],
    )
    .await;

    // 4. Removal: the waiting build is aborted; the job stays with its Component.
    t.delete("workflow/build").await;
    t.wait_gone::<Workflow>("build").await;
    t.expect_events(b, &[
        (
            "Normal",
            "BuildAborted",
            &format!(
                "(pending) of job {job}: the Workflow is being deleted (run.onDelete: Cancel)"
            ),
        ),
        (
            "Normal",
            "Released",
            &format!(
                "nothing to delete on the platform: job {job} belongs to the Component's pipeline"
            ),
        ),
    ]).await;
    let all = builds().await;
    let aborted = all.iter().find(|x| x.id.to_string() == second.id).unwrap();
    assert_eq!(format!("{:?}", aborted.status).to_lowercase(), "aborted");
    assert!(
        cycloid()
            .get_job(&at, "tl-wf-api-deploy", "deploy")
            .await
            .unwrap()
            .is_some()
    );
}
