//! The Workflow reconciler on a real apiserver against the OpsChain and Cycloid sandboxes:
//! definitions created, versioned and published; drift corrected; runs started once per token
//! (also after status lost them); approvals only by explicit policy; adoption; references;
//! suspend and ObserveOnly; deletion with Delete and Orphan; Cycloid job builds.

mod common;

use std::time::Duration;

use common::converge::*;
use converge_api::project::Project;
use converge_api::workflow::Workflow;
use converge_platforms::opschain::{OpsChainClient, WorkflowUpdate};
use converge_platforms::{Auth, ClientMetrics};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

fn opschain() -> OpsChainClient {
    OpsChainClient::new(
        OpsChainClient::config(env().endpoint("opschain")),
        Auth::basic("sandbox-user", "sandbox-password"),
        ClientMetrics::default(),
    )
    .unwrap()
}

/// A namespace connected to `platform`, and the Workflow API in it.
async fn setup(ns: &str, platform: &str) -> (kube::Client, Api<Workflow>) {
    let client = client().await;
    let _ = env();
    namespace(&client, ns).await;
    connect(&client, ns, platform).await;
    let api = Api::<Workflow>::namespaced(client.clone(), ns);
    (client, api)
}

/// An Enterprise OpsChain project `code` with environments dev and prod, as the Project object
/// "proj" (not waited for).
async fn apply_project(client: &kube::Client, ns: &str, code: &str) {
    apply(
        client,
        ns,
        json!({
            "apiVersion": "converge.dev/v1alpha1", "kind": "Project",
            "metadata": {"name": "proj"},
            "spec": {
                "connectionRef": {"name": "opschain"},
                "opschain": {
                    "code": code, "name": format!("Workflow test {code}"),
                    "projectType": "Enterprise",
                    "environments": [{"code": "dev", "name": "Dev"}, {"code": "prod", "name": "Prod"}],
                },
            },
        }),
    )
    .await;
}

async fn project(client: &kube::Client, ns: &str, code: &str) {
    apply_project(client, ns, code).await;
    wait_ready(&Api::<Project>::namespaced(client.clone(), ns), "proj").await;
}

fn steps(project: &str) -> Value {
    json!([
        {"type": "change", "name": "deploy to dev", "target": format!("/projects/{project}/environments/dev"), "action": "deploy"},
        {"type": "wait", "name": "production approval", "requiresApprovalFrom": "release-managers"},
        {"type": "change", "name": "deploy to prod", "target": format!("/projects/{project}/environments/prod"), "action": "deploy"},
    ])
}

/// A Workflow `name` of OpsChain project `project` (Project object "proj") with code `code`;
/// `extra` is merged into
/// the spec (and `opschain` into the opschain block).
fn workflow(name: &str, project: &str, code: &str, extra: Value) -> Value {
    let mut spec = json!({
        "connectionRef": {"name": "opschain"},
        "projectRef": {"name": "proj"},
        "driftInterval": "5s",
        "opschain": {
            "code": code, "name": format!("Workflow {code}"), "description": "test",
            "steps": [{"type": "change", "name": "deploy to dev",
                       "target": format!("/projects/{project}/environments/dev"), "action": "deploy"}],
        },
    });
    for (k, v) in extra.as_object().unwrap() {
        if k == "opschain" {
            for (ok, ov) in v.as_object().unwrap() {
                spec["opschain"][ok] = ov.clone();
            }
        } else {
            spec[k] = v.clone();
        }
    }
    json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Workflow",
           "metadata": {"name": name}, "spec": spec})
}

/// Non-GET calls to the OpsChain sandbox whose path contains `needle`.
async fn writes(needle: &str) -> usize {
    let calls: Vec<Value> = reqwest::get(format!("{}/_sandbox/calls", env().sandbox("opschain")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    calls
        .iter()
        .filter(|c| c["method"] != "GET" && c["path"].as_str().unwrap_or("").contains(needle))
        .count()
}

/// Rewrites status as the controller would have left it (its field manager, the whole status),
/// to stand for a controller that stopped at an awkward moment.
async fn set_status(
    api: &Api<Workflow>,
    name: &str,
    change: impl FnOnce(&mut converge_api::workflow::WorkflowStatus),
) {
    let mut status = api.get(name).await.unwrap().status.unwrap();
    change(&mut status);
    let patch =
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Workflow", "status": status});
    api.patch_status(
        name,
        &PatchParams::apply(converge_engine::context::FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .unwrap();
}

fn status(w: &Workflow) -> &converge_api::workflow::WorkflowStatus {
    w.status.as_ref().unwrap()
}

#[tokio::test]
async fn opschain_definition_is_created_versioned_drift_corrected_and_deleted() {
    let ns = "wf-life";
    let code = "wf_life";
    let (client, api) = setup(ns, "opschain").await;
    project(&client, ns, code).await;
    apply(&client, ns, workflow("release", code, "release", json!({}))).await;
    let w = wait_ready(&api, "release").await;
    let s = status(&w);
    let id = s.workflow_id.clone().expect("workflow id in status");
    assert_eq!(s.latest_version, Some(1));
    assert_eq!(s.latest_published_version, Some(1));
    assert_eq!(s.platform_path.as_deref(), Some("wf_life/release"));
    let hash1 = s.steps_hash.clone().expect("steps hash");
    let oc = opschain();
    let found = oc.get_workflow(code, "release").await.unwrap().unwrap();
    assert_eq!(found.id, id);
    assert!(!found.draft);

    // A changed definition: a new published version, once.
    patch_spec(&api, "release", json!({"opschain": {"steps": steps(code)}})).await;
    let w = wait_until(
        &api,
        "release",
        "at version 2",
        Duration::from_secs(60),
        |w| is_ready(w) && status(w).latest_published_version == Some(2),
    )
    .await;
    assert_ne!(status(&w).steps_hash.as_deref(), Some(hash1.as_str()));
    assert_eq!(
        oc.list_workflow_versions(code, "release")
            .await
            .unwrap()
            .len(),
        2
    );

    // Nothing differs: no write across two drift intervals.
    let before = writes("/wf_life/workflows").await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        writes("/wf_life/workflows").await,
        before,
        "a write with nothing to change"
    );
    assert_eq!(
        oc.list_workflow_versions(code, "release")
            .await
            .unwrap()
            .len(),
        2
    );

    // Drift made through OpsChain's API is corrected, with an Event.
    oc.update_workflow(
        code,
        "release",
        &WorkflowUpdate {
            name: "Renamed by hand".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let e = wait_event(&client, ns, "release", "DriftCorrected").await;
    assert!(e.contains("name"), "{e}");
    let found = oc.get_workflow(code, "release").await.unwrap().unwrap();
    assert_eq!(found.name, "Workflow release");
    assert_eq!(found.latest_version, 2, "renaming back adds no version");

    // Steps changed by hand (a version 3): one version 4 with the declared steps, no more.
    oc.update_workflow(
        code,
        "release",
        &WorkflowUpdate {
            name: "Workflow release".into(),
            steps: Some(vec![json!({"type": "wait", "name": "by hand"})]),
            draft: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    wait_until(
        &api,
        "release",
        "at version 4",
        Duration::from_secs(60),
        |w| is_ready(w) && status(w).latest_published_version == Some(4),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let found = oc.get_workflow(code, "release").await.unwrap().unwrap();
    assert_eq!(found.latest_version, 4);
    assert_eq!(found.steps.len(), 3, "the declared steps are back");

    delete_and_wait(&api, "release").await;
    assert!(
        oc.get_workflow(code, "release").await.unwrap().is_none(),
        "deleted in OpsChain"
    );
}

#[tokio::test]
async fn opschain_runs_once_per_token_and_approves_only_by_policy() {
    let ns = "wf-runs";
    let code = "wf_runs";
    let (client, api) = setup(ns, "opschain").await;
    project(&client, ns, code).await;
    apply(
        &client,
        ns,
        workflow(
            "release",
            code,
            "release",
            json!({"run": {"token": "r1", "historyLimit": 2}, "opschain": {"steps": steps(code)}}),
        ),
    )
    .await;
    // No policy: the approval step waits for a person, and says so.
    let w = wait_until(
        &api,
        "release",
        "waiting for approval",
        Duration::from_secs(60),
        |w| condition(w, "Reconciling").is_some_and(|c| c.message.contains("waiting for approval")),
    )
    .await;
    let run = status(&w).last_run.clone().unwrap();
    assert_eq!(run.status, "waiting");
    assert_eq!(run.trigger.as_deref(), Some("token"));
    assert!(
        run.waiting_step
            .as_deref()
            .unwrap()
            .contains("production approval")
    );
    assert!(!is_ready(&w));
    wait_event(&client, ns, "release", "WaitingForApproval").await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let oc = opschain();
    let run_steps = oc.list_run_steps(code, "release", &run.id).await.unwrap();
    let gate = run_steps
        .iter()
        .find(|s| s.name == "production approval")
        .unwrap();
    assert!(gate.awaits_approval(), "never approved without a policy");
    assert!(gate.approved_by.is_empty() && gate.rejected_by.is_empty());

    // The policy approves the named step; the run finishes.
    patch_spec(
        &api,
        "release",
        json!({"opschain": {"approval": {"action": "Approve", "steps": ["production approval"]}}}),
    )
    .await;
    let w = wait_ready(&api, "release").await;
    assert_eq!(status(&w).last_run.as_ref().unwrap().status, "success");
    let gate = oc.get_step(&gate.id).await.unwrap().unwrap();
    assert_eq!(gate.approved_by.len(), 1);
    wait_event(&client, ns, "release", "StepApproved").await;

    // A new token: one more run.
    patch_spec(&api, "release", json!({"run": {"token": "r2"}})).await;
    let w = wait_until(
        &api,
        "release",
        "run r2 done",
        Duration::from_secs(60),
        |w| is_ready(w) && status(w).last_run_token.as_deref() == Some("r2"),
    )
    .await;
    assert_eq!(status(&w).runs.len(), 2);
    assert_eq!(oc.list_runs(code, "release").await.unwrap().len(), 2);

    // Status loses the token (a crash before it was written): the run is found, not restarted.
    set_status(&api, "release", |s| s.last_run_token = None).await;
    wait_until(
        &api,
        "release",
        "token recorded again",
        Duration::from_secs(60),
        |w| status(w).last_run_token.as_deref() == Some("r2"),
    )
    .await;
    assert_eq!(
        oc.list_runs(code, "release").await.unwrap().len(),
        2,
        "no second run for r2"
    );

    // historyLimit bounds status.runs.
    patch_spec(
        &api,
        "release",
        json!({"run": {"token": "r3", "historyLimit": 1}}),
    )
    .await;
    let w = wait_until(
        &api,
        "release",
        "run r3 done",
        Duration::from_secs(60),
        |w| is_ready(w) && status(w).last_run_token.as_deref() == Some("r3"),
    )
    .await;
    assert_eq!(status(&w).runs.len(), 1);

    // Deleting a workflow that ran archives it in OpsChain.
    delete_and_wait(&api, "release").await;
    let gone = oc.get_workflow(code, "release").await.unwrap();
    assert!(gone.is_none_or(|w| w.archived));
}

#[tokio::test]
async fn opschain_rejects_when_the_policy_says_so() {
    let ns = "wf-reject";
    let code = "wf_reject";
    let (client, api) = setup(ns, "opschain").await;
    project(&client, ns, code).await;
    apply(
        &client,
        ns,
        workflow(
            "gate",
            code,
            "gate",
            json!({"run": {"token": "t1"},
                   "opschain": {"steps": steps(code), "approval": {"action": "Reject"}}}),
        ),
    )
    .await;
    // The policy rejected it, and status says so (not "fix the cause").
    let w = wait_reason(&api, "gate", "Stalled", "RunRejected").await;
    assert_eq!(status(&w).last_run.as_ref().unwrap().status, "error");
    let message = condition(&w, "Stalled").unwrap().message;
    assert!(
        message.contains("rejected by spec.opschain.approval (action: Reject), as declared"),
        "{message}"
    );
    let e = wait_event(&client, ns, "gate", "StepRejected").await;
    assert!(e.contains("rejected step \"production approval\""), "{e}");
}

#[tokio::test]
async fn opschain_existing_workflow_is_adopted_only_when_asked_and_orphaned() {
    let ns = "wf-adopt";
    let code = "wf_adopt";
    let (client, api) = setup(ns, "opschain").await;
    project(&client, ns, code).await;
    let oc = opschain();
    let existing = oc
        .create_workflow(
            code,
            &converge_platforms::opschain::NewWorkflow {
                code: "legacy".into(),
                name: "Legacy".into(),
                description: None,
                steps: vec![json!({"type": "wait", "name": "hold"})],
                draft: false,
            },
        )
        .await
        .unwrap();
    apply(&client, ns, workflow("legacy", code, "legacy", json!({}))).await;
    let w = wait_reason(&api, "legacy", "Stalled", "AlreadyExistsNotAdopted").await;
    let message = condition(&w, "Stalled").unwrap().message;
    assert!(message.contains("adoptionPolicy: Adopt"), "{message}");
    assert!(message.contains(&existing.id), "{message}");
    assert_eq!(
        writes("/wf_adopt/workflows/legacy").await,
        0,
        "nothing written to it"
    );

    patch_spec(
        &api,
        "legacy",
        json!({"adoptionPolicy": "Adopt", "deletionPolicy": "Orphan"}),
    )
    .await;
    let w = wait_ready(&api, "legacy").await;
    assert_eq!(
        status(&w).workflow_id.as_deref(),
        Some(existing.id.as_str())
    );
    let all = oc.list_workflows(code).await.unwrap();
    assert_eq!(all.len(), 1, "no second workflow");
    assert_eq!(all[0].name, "Workflow legacy", "adopted and converged");

    delete_and_wait(&api, "legacy").await;
    assert!(
        oc.get_workflow(code, "legacy").await.unwrap().is_some(),
        "Orphan keeps it"
    );
    wait_event(&client, ns, "legacy", "Orphaned").await;
}

#[tokio::test]
async fn opschain_waits_for_its_project() {
    let ns = "wf-ref";
    let code = "wf_ref";
    let (client, api) = setup(ns, "opschain").await;
    apply(&client, ns, workflow("late", code, "late", json!({}))).await;
    let w = wait_reason(&api, "late", "Reconciling", "WaitingForReference").await;
    assert!(condition(&w, "Ready").unwrap().message.contains("proj"));
    apply_project(&client, ns, code).await;
    let w = wait_ready(&api, "late").await;
    assert!(status(&w).workflow_id.is_some());
}

#[tokio::test]
async fn opschain_suspend_and_observe_only_write_nothing() {
    let ns = "wf-hold";
    let code = "wf_hold";
    let (client, api) = setup(ns, "opschain").await;
    project(&client, ns, code).await;
    apply(
        &client,
        ns,
        workflow(
            "held",
            code,
            "held",
            json!({"suspend": true, "run": {"token": "x"}}),
        ),
    )
    .await;
    let w = wait_reason(&api, "held", "Ready", "Suspended").await;
    let ready = condition(&w, "Ready").unwrap();
    assert_eq!(ready.status, "False");
    assert!(
        ready.message.contains("create OpsChain workflow"),
        "{}",
        ready.message
    );
    let oc = opschain();
    assert!(oc.get_workflow(code, "held").await.unwrap().is_none());

    patch_spec(&api, "held", json!({"suspend": false})).await;
    let w = wait_ready(&api, "held").await;
    assert_eq!(status(&w).last_run.as_ref().unwrap().status, "success");

    // ObserveOnly: a changed name and a new token are reported, not made.
    patch_spec(
        &api,
        "held",
        json!({"managementPolicy": "ObserveOnly", "run": {"token": "y"},
               "opschain": {"name": "Changed"}}),
    )
    .await;
    let before = writes("/wf_hold/workflows").await;
    let w = wait_reason(&api, "held", "Ready", "Observed").await;
    let message = condition(&w, "Ready").unwrap().message;
    assert!(
        message.contains("name") && message.contains("start a run"),
        "{message}"
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(writes("/wf_hold/workflows").await, before);
    assert_eq!(
        oc.get_workflow(code, "held").await.unwrap().unwrap().name,
        "Workflow held"
    );
    assert_eq!(oc.list_runs(code, "held").await.unwrap().len(), 1);
}

fn cycloid() -> converge_platforms::cycloid::CycloidClient {
    converge_platforms::cycloid::CycloidClient::new(
        converge_platforms::cycloid::CycloidClient::config(env().endpoint("cycloid")),
        converge_platforms::Secret::new("sandbox-cycloid-api-key"),
        "acme",
        ClientMetrics::default(),
    )
    .unwrap()
}

const PIPELINE: &str = "jobs:\n  - name: deploy\n    plan:\n      - task: deploy\n        config:\n          platform: linux\n          run: {path: /bin/true}\n";

/// A Cycloid Project "proj" (canonical `canonical`, environment staging) and a Component "api"
/// (canonical `{canonical}-api`) with one pipeline `{canonical}-api-deploy` holding job deploy.
fn cycloid_objects(canonical: &str) -> (Value, Value) {
    let project = json!({
        "apiVersion": "converge.dev/v1alpha1", "kind": "Project", "metadata": {"name": "proj"},
        "spec": {"connectionRef": {"name": "cycloid"}, "deletionPolicy": "Orphan",
                 "cycloid": {"canonical": canonical, "name": canonical,
                             "configRepositoryCanonical": "acme-config",
                             "environments": [{"canonical": "staging"}]}},
    });
    let component = json!({
        "apiVersion": "converge.dev/v1alpha1", "kind": "Component", "metadata": {"name": "api"},
        "spec": {"connectionRef": {"name": "cycloid"}, "projectRef": {"name": "proj"},
                 "deletionPolicy": "Orphan",
                 "cycloid": {"canonical": format!("{canonical}-api"), "name": "API",
                             "environment": "staging", "stackRef": "cycloidio:stack-docker",
                             "useCase": "default",
                             "pipelines": [{"name": format!("{canonical}-api-deploy"),
                                            "config": PIPELINE, "paused": false}]}},
    });
    (project, component)
}

fn cycloid_workflow(canonical: &str, extra: Value) -> Value {
    let mut spec = json!({
        "connectionRef": {"name": "cycloid"}, "projectRef": {"name": "proj"},
        "driftInterval": "5s",
        "cycloid": {"componentRef": {"name": "api"}, "pipeline": format!("{canonical}-api-deploy"),
                    "job": "deploy"},
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Workflow",
           "metadata": {"name": "build"}, "spec": spec})
}

#[tokio::test]
async fn cycloid_job_builds_once_per_token_waits_for_its_component_and_is_deleted() {
    let ns = "wf-cycloid";
    let canonical = "wf-cy";
    let (client, api) = setup(ns, "cycloid").await;
    let (project, component) = cycloid_objects(canonical);
    // The workflow first: it waits for its Project and Component.
    apply(
        &client,
        ns,
        cycloid_workflow(canonical, json!({"run": {"token": "t1"}})),
    )
    .await;
    wait_reason(&api, "build", "Reconciling", "WaitingForReference").await;
    apply(&client, ns, project).await;
    apply(&client, ns, component).await;
    let w = wait_until(&api, "build", "built t1", Duration::from_secs(60), |w| {
        is_ready(w) && status(w).last_run_token.as_deref() == Some("t1")
    })
    .await;
    let s = status(&w);
    assert!(s.workflow_id.is_some(), "the job id");
    let first = s.last_run.clone().unwrap();
    assert_eq!(first.status, "succeeded");
    assert_eq!(first.trigger.as_deref(), Some("token"));
    let cy = cycloid();
    let at = converge_platforms::cycloid::ComponentPath::new(canonical, "staging", "wf-cy-api");
    let pipeline = "wf-cy-api-deploy";
    let builds = || async { cy.list_builds(&at, pipeline, "deploy").await.unwrap().len() };
    assert_eq!(builds().await, 1);

    // Nothing new declared: no build across two drift intervals.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(builds().await, 1);

    // A new token: one more build.
    patch_spec(&api, "build", json!({"run": {"token": "t2"}})).await;
    let w = wait_until(&api, "build", "built t2", Duration::from_secs(60), |w| {
        is_ready(w) && status(w).last_run_token.as_deref() == Some("t2")
    })
    .await;
    assert_eq!(status(&w).runs.len(), 2);
    assert_eq!(builds().await, 2);

    // A crash right after the trigger, before status recorded it: the build is found, not
    // started again.
    set_status(&api, "build", |s| {
        s.last_run_token = Some("t1".into());
        s.pending_run = Some(format!("run:token:t2@after:{}", first.id));
    })
    .await;
    wait_until(
        &api,
        "build",
        "t2 recorded again",
        Duration::from_secs(60),
        |w| {
            let s = status(w);
            s.last_run_token.as_deref() == Some("t2") && s.pending_run.is_none()
        },
    )
    .await;
    assert_eq!(builds().await, 2, "no second build for t2");

    // Suspended: a new token is reported, not built.
    patch_spec(
        &api,
        "build",
        json!({"suspend": true, "run": {"token": "t3"}}),
    )
    .await;
    let w = wait_reason(&api, "build", "Ready", "Suspended").await;
    let message = condition(&w, "Ready").unwrap().message;
    assert!(message.contains("build job"), "{message}");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(builds().await, 2);

    // Deletion leaves the job (the Component's pipeline owns it).
    delete_and_wait(&api, "build").await;
    assert!(cy.get_job(&at, pipeline, "deploy").await.unwrap().is_some());
}

#[tokio::test]
async fn opschain_schedule_catches_up_once_after_missed_times() {
    let ns = "wf-cron";
    let code = "wf_cron";
    let (client, api) = setup(ns, "opschain").await;
    project(&client, ns, code).await;
    apply(
        &client,
        ns,
        workflow(
            "nightly",
            code,
            "nightly",
            json!({"run": {"schedule": "0 0 * * *"}}),
        ),
    )
    .await;
    wait_ready(&api, "nightly").await;
    let oc = opschain();
    assert!(
        oc.list_runs(code, "nightly").await.unwrap().is_empty(),
        "no time passed yet"
    );

    // As if the controller had been down for three nights: one catch-up run, for the latest.
    let three_days_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(72);
    set_status(&api, "nightly", |s| {
        s.last_scheduled_time = Some(three_days_ago.to_string())
    })
    .await;
    let w = wait_until(&api, "nightly", "caught up", Duration::from_secs(60), |w| {
        is_ready(w) && status(w).last_run.is_some()
    })
    .await;
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .start_of_day()
        .unwrap()
        .timestamp();
    assert_eq!(
        status(&w).last_scheduled_time.as_deref(),
        Some(today.to_string().as_str())
    );
    assert_eq!(
        status(&w).last_run.as_ref().unwrap().trigger.as_deref(),
        Some("schedule")
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        oc.list_runs(code, "nightly").await.unwrap().len(),
        1,
        "one run, not three"
    );
}
