//! The OpsChain client against the OpsChain sandbox over real HTTP: every operation, the
//! platform's error messages, the refusals a reconciler must recognise (a step that is not
//! waiting, a properties version mismatch), crash-safe run lookup by metadata, and the shared
//! layer's retries, throttling, timeouts, malformed bodies and secret redaction.

use std::time::{Duration, Instant};

use converge_platforms::opschain::{
    NewEnvironment, NewProject, NewRun, NewWorkflow, NodeUpdate, OpsChainClient,
    PropertiesUpdateError, RunStatus, Step, StepActionError, StepKind, StepStatus, WorkflowUpdate,
};
use converge_platforms::{Auth, ClientError, ClientMetrics, HttpConfig};
use converge_sandbox::all::default_credentials;
use converge_sandbox::opschain::OpsChain;
use converge_sandbox::{Credential, Ops, OpsConfig, Sandbox, Served, Timing, serve};
use reqwest::Method;
use serde_json::{Map, Value, json};

const CANARY: &str = "opschain-canary-4f1d2b9e7a";

async fn sandbox() -> Served {
    let mut accepted = default_credentials("opschain");
    accepted.push(Credential::bearer(CANARY));
    let ops = Ops::new(OpsConfig {
        accepted,
        ..Default::default()
    });
    serve(
        Sandbox::<OpsChain>::new(ops, Timing::INSTANT, None),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

fn client_with(
    endpoint: &str,
    auth: Auth,
    metrics: &ClientMetrics,
    tune: impl FnOnce(&mut HttpConfig),
) -> OpsChainClient {
    let mut config = OpsChainClient::config(endpoint);
    config.min_retry_delay = Duration::from_millis(10);
    config.max_retry_delay = Duration::from_secs(2);
    tune(&mut config);
    OpsChainClient::new(config, auth, metrics.clone()).unwrap()
}

fn client(served: &Served) -> OpsChainClient {
    client_with(
        &served.url(),
        Auth::basic("sandbox-user", "sandbox-password"),
        &ClientMetrics::default(),
        |_| {},
    )
}

async fn admin(served: &Served, method: Method, path: &str, body: Value) {
    let status = reqwest::Client::new()
        .request(method, format!("{}/_sandbox/{path}", served.url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "admin {path}: {status}");
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().expect("an object").clone()
}

fn new_project(code: &str, project_type: &str) -> NewProject {
    NewProject {
        code: code.into(),
        name: format!("{code} project"),
        description: Some(format!("the {code} estate")),
        project_type: project_type.into(),
    }
}

/// The `web` Enterprise project with a `dev` environment, through the client.
async fn web(client: &OpsChainClient) {
    client
        .create_project(&new_project("web", "Enterprise"))
        .await
        .unwrap();
    client
        .create_environment(
            "web",
            &NewEnvironment {
                code: "dev".into(),
                name: "Development".into(),
                description: None,
            },
        )
        .await
        .unwrap();
}

fn status_of(error: &ClientError) -> (u16, &str) {
    match error {
        ClientError::Status {
            status, message, ..
        } => (*status, message.as_str()),
        other => panic!("expected a status error, got {other:?}"),
    }
}

#[tokio::test]
async fn info_answers_basic_and_bearer_credentials_and_refuses_others() {
    let served = sandbox().await;
    let info = client(&served).info().await.unwrap();
    assert_eq!(info.version, "2025-04-25");
    assert_eq!(info.api_version, "7.1.5.1");
    assert_eq!(info.runner_image, "limepoint/opschain-runner:2025-04-25");
    assert_eq!(info.ldap_available, Some(true));
    let metrics = ClientMetrics::default();
    let bearer = client_with(
        &served.url(),
        Auth::bearer("sandbox-opschain-token"),
        &metrics,
        |_| {},
    );
    assert_eq!(bearer.info().await.unwrap().db_version, "17.2");
    assert_eq!(metrics.count("opschain", "getInfo", "200"), 1);

    let wrong = client_with(
        &served.url(),
        Auth::bearer("not-the-token"),
        &metrics,
        |_| {},
    );
    let refused = wrong.info().await.unwrap_err();
    assert_eq!(
        status_of(&refused),
        (401, "Unauthorized: invalid credentials")
    );
    assert!(refused.is_unauthorized() && !refused.is_retryable());
    assert_eq!(
        metrics.count("opschain", "getInfo", "401"),
        1,
        "not retried"
    );
}

#[tokio::test]
async fn projects_and_environments_are_managed_by_code() {
    let served = sandbox().await;
    let client = client(&served);

    let created = client
        .create_project(&new_project("web", "Enterprise"))
        .await
        .unwrap();
    assert_eq!(created.code, "web");
    assert_eq!(created.name, "web project");
    assert_eq!(created.description.as_deref(), Some("the web estate"));
    assert_eq!(created.project_type, "Enterprise");
    assert!(!created.archived);
    assert_eq!(created.created_by.as_deref(), Some("sandbox-user"));
    assert!(created.properties_id.is_some());
    assert_eq!(
        client.get_project("web").await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(client.get_project("nope").await.unwrap(), None);
    client
        .create_project(&new_project("ops", "Standard"))
        .await
        .unwrap();
    let codes: Vec<String> = client
        .list_projects()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.code)
        .collect();
    assert_eq!(codes, ["web", "ops"]);

    let taken = client
        .create_project(&NewProject {
            name: "Another".into(),
            ..new_project("web", "Enterprise")
        })
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&taken),
        (
            422,
            "Code has already been taken (at /data/attributes/code)"
        )
    );
    let invalid = client
        .create_project(&new_project("Web-2", "Premium"))
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&invalid).1,
        "Code must only contain lowercase letters, numbers and underscores (at /data/attributes/code); \
         Project type is not included in the list (at /data/attributes/project_type)"
    );

    let renamed = client
        .update_project(
            "web",
            &NodeUpdate {
                name: Some("Web platform".into()),
                description: Some("Public web estate".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Web platform");
    assert_eq!(renamed.description.as_deref(), Some("Public web estate"));
    assert_eq!(renamed.id, created.id);

    let dev = client
        .create_environment(
            "web",
            &NewEnvironment {
                code: "dev".into(),
                name: "Development".into(),
                description: Some("first stop".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (dev.code.as_str(), dev.name.as_str(), dev.archived),
        ("dev", "Development", false)
    );
    assert!(dev.properties_id.is_some());
    assert_ne!(dev.properties_id, created.properties_id);
    let duplicate = client
        .create_environment(
            "web",
            &NewEnvironment {
                code: "dev".into(),
                name: "Again".into(),
                description: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&duplicate),
        (
            422,
            "Code has already been taken (at /data/attributes/code)"
        )
    );
    assert_eq!(
        client.get_environment("web", "dev").await.unwrap(),
        Some(dev.clone())
    );
    assert_eq!(client.get_environment("web", "qa").await.unwrap(), None);
    assert_eq!(client.get_environment("nope", "dev").await.unwrap(), None);
    let updated = client
        .update_environment(
            "web",
            "dev",
            &NodeUpdate {
                name: Some("Dev".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Dev");
    assert_eq!(updated.description.as_deref(), Some("first stop"));
    let listed = client.list_environments("web").await.unwrap();
    assert_eq!(listed, [updated]);
    let unknown = client.list_environments("nope").await.unwrap_err();
    assert!(unknown.is_not_found());
    assert_eq!(
        status_of(&unknown).1,
        "Active Record - Record Not Found: Couldn't find Node"
    );

    client.archive_environment("web", "dev").await.unwrap();
    assert!(
        client
            .get_environment("web", "dev")
            .await
            .unwrap()
            .unwrap()
            .archived
    );
    client.archive_project("web").await.unwrap();
    assert!(client.get_project("web").await.unwrap().unwrap().archived);
    let restored = client
        .update_project(
            "web",
            &NodeUpdate {
                archived: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!restored.archived);
    assert!(
        client
            .archive_project("nope")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        client
            .archive_environment("web", "qa")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn properties_updates_name_the_version_they_were_made_to() {
    let served = sandbox().await;
    let client = client(&served);
    web(&client).await;
    let id = client
        .get_project("web")
        .await
        .unwrap()
        .unwrap()
        .properties_id
        .unwrap();
    let first = client.get_properties(&id).await.unwrap().unwrap();
    assert_eq!((first.id.as_str(), first.version), (id.as_str(), 1));
    assert!(first.data.is_empty());

    let data = object(json!({"region": "eu", "replicas": 3}));
    let second = client.update_properties(&id, 1, &data).await.unwrap();
    assert_eq!(second.version, 2);
    assert_eq!(second.data, data);
    assert_eq!(client.get_properties(&id).await.unwrap(), Some(second));

    let stale = client
        .update_properties(&id, 1, &object(json!({"region": "us"})))
        .await
        .unwrap_err();
    match &stale {
        PropertiesUpdateError::VersionMismatch { current, error } => {
            assert_eq!(*current, Some(2));
            assert_eq!(error.status(), Some(422));
            assert!(error.message().starts_with("Version mismatch"), "{error}");
        }
        other => panic!("expected a version mismatch, got {other:?}"),
    }
    assert_eq!(
        client.get_properties(&id).await.unwrap().unwrap().data,
        data
    );
    assert_eq!(client.get_properties("nope").await.unwrap(), None);
    let unknown = client
        .update_properties("nope", 1, &data)
        .await
        .unwrap_err();
    assert!(matches!(&unknown, PropertiesUpdateError::Client(e) if e.is_not_found()));
}

#[tokio::test]
async fn workflows_are_drafted_published_and_versioned() {
    let served = sandbox().await;
    let client = client(&served);
    web(&client).await;
    let v1 = vec![
        json!({"type": "change", "name": "deploy", "target": "/projects/web/environments/dev", "action": "deploy"}),
    ];
    let v2 = vec![json!({"type": "wait", "name": "hold"})];
    let v3 = vec![json!({"type": "wait", "name": "hold longer"})];

    let draft = client
        .create_workflow(
            "web",
            &NewWorkflow {
                code: "release".into(),
                name: "Release".into(),
                description: Some("to dev".into()),
                steps: v1.clone(),
                draft: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(draft.code, "release");
    assert!(draft.draft);
    assert_eq!(draft.steps, v1);
    assert_eq!(
        (draft.latest_version, draft.latest_published_version),
        (1, None)
    );
    assert_eq!(draft.created_by.as_deref(), Some("sandbox-user"));
    assert!(
        draft
            .source_yaml
            .as_deref()
            .unwrap()
            .contains("action: deploy")
    );
    assert_eq!(
        client.get_workflow("web", "release").await.unwrap(),
        Some(draft.clone())
    );
    assert_eq!(client.get_workflow("web", "nope").await.unwrap(), None);
    assert_eq!(client.get_workflow("nope", "release").await.unwrap(), None);
    assert_eq!(
        client.list_workflows("web").await.unwrap(),
        std::slice::from_ref(&draft)
    );

    let unpublished = client
        .create_run(
            "web",
            "release",
            &NewRun {
                version: 1,
                property_overrides: Map::new(),
                metadata: Map::new(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&unpublished),
        (
            422,
            "Only published workflow versions can be run (at /data/attributes/version)"
        )
    );

    // Through the documented workflow PATCH: the version PATCH is in the spec only, and the
    // spec's schema of its steps admits none of the documented step shapes.
    let published = client
        .update_workflow(
            "web",
            "release",
            &WorkflowUpdate {
                name: "Release".into(),
                draft: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            published.latest_version,
            published.latest_published_version,
            published.draft
        ),
        (1, Some(1), false)
    );
    assert_eq!(published.code, "release");
    let second = client
        .update_workflow(
            "web",
            "release",
            &WorkflowUpdate {
                name: "Release".into(),
                steps: Some(v2.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            second.latest_version,
            second.latest_published_version,
            second.draft
        ),
        (2, Some(1), true),
        "new steps after a published version add a draft version"
    );
    assert_eq!(second.steps, v2);
    assert_eq!(
        client
            .get_workflow_version("web", "release", 2)
            .await
            .unwrap()
            .unwrap()
            .steps,
        v2
    );
    let versions: Vec<(u64, bool)> = client
        .list_workflow_versions("web", "release")
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.version, v.draft))
        .collect();
    assert_eq!(versions, [(2, true), (1, false)]);
    assert_eq!(
        client
            .get_workflow_version("web", "release", 1)
            .await
            .unwrap()
            .unwrap()
            .steps,
        v1
    );
    assert_eq!(
        client
            .get_workflow_version("web", "release", 9)
            .await
            .unwrap(),
        None
    );

    let rewritten = client
        .update_workflow(
            "web",
            "release",
            &WorkflowUpdate {
                name: "Release to dev".into(),
                steps: Some(v3.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rewritten.name, "Release to dev");
    assert_eq!(rewritten.steps, v3);
    assert_eq!(
        (
            rewritten.latest_version,
            rewritten.latest_published_version,
            rewritten.draft
        ),
        (2, Some(1), true),
        "the draft version 2 was rewritten"
    );
    let publishing = client
        .update_workflow(
            "web",
            "release",
            &WorkflowUpdate {
                name: "Release to dev".into(),
                draft: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(publishing.latest_published_version, Some(2));
    assert!(!publishing.draft);

    let invalid = client
        .create_workflow(
            "web",
            &NewWorkflow {
                code: "broken".into(),
                name: "Broken".into(),
                description: None,
                steps: vec![json!({"type": "change", "target": "/projects/web/environments/dev"})],
                draft: false,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&invalid),
        (
            422,
            "object at `/steps/0` is missing required properties: action (at /data/attributes/steps)"
        )
    );
    client
        .create_project(&new_project("plain", "Standard"))
        .await
        .unwrap();
    let unsupported = client.list_workflows("plain").await.unwrap_err();
    assert_eq!(
        status_of(&unsupported),
        (
            422,
            "Unsupported project type: \"Standard\" projects do not support workflows"
        )
    );

    client.delete_workflow("web", "release").await.unwrap();
    assert_eq!(client.get_workflow("web", "release").await.unwrap(), None);
    assert!(
        client
            .delete_workflow("web", "release")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// Run steps by name.
fn step<'a>(steps: &'a [Step], name: &str) -> &'a Step {
    steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name} in {steps:?}"))
}

fn run_request(marker: &str) -> NewRun {
    NewRun {
        version: 1,
        property_overrides: object(json!({"replicas": 2})),
        metadata: object(json!({"converge.dev/run": marker, "trigger": "token"})),
    }
}

#[tokio::test]
async fn runs_are_found_by_metadata_and_steps_decided_once() {
    let served = sandbox().await;
    let client = client(&served);
    web(&client).await;
    client
        .create_workflow(
            "web",
            &NewWorkflow {
                code: "release".into(),
                name: "Release".into(),
                description: None,
                steps: vec![
                    json!({"type": "wait", "name": "hold"}),
                    json!({"type": "wait", "name": "approval", "requires_approval_from": "release-managers"}),
                    json!({"type": "change", "name": "deploy", "target": "/projects/web/environments/dev", "action": "deploy"}),
                ],
                draft: false,
            },
        )
        .await
        .unwrap();

    // A start whose answer is an error is not resent; the lookup shows nothing started.
    admin(&served, Method::PUT, "faults", json!({"failNext": 1})).await;
    let failed = client
        .create_run("web", "release", &run_request("uid-1"))
        .await
        .unwrap_err();
    assert_eq!(status_of(&failed).0, 503);
    assert!(
        client
            .find_runs_by_metadata("web", "release", "converge.dev/run", "uid-1")
            .await
            .unwrap()
            .is_empty()
    );

    let first = client
        .create_run("web", "release", &run_request("uid-1"))
        .await
        .unwrap();
    assert_eq!(first.status, RunStatus::Pending);
    assert_eq!(first.metadata["converge.dev/run"], "uid-1");
    assert_eq!(first.created_by, "sandbox-user");
    assert!(first.workflow_version_id.is_some());
    let second = client
        .create_run("web", "release", &run_request("uid-10"))
        .await
        .unwrap();
    // `uid-1` is a substring of `uid-10`'s metadata: the platform's filter keeps both, the
    // client only the exact match.
    let found = client
        .find_runs_by_metadata("web", "release", "converge.dev/run", "uid-1")
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [first.id.as_str()]
    );
    assert!(
        client
            .find_runs_by_metadata("web", "release", "converge.dev/run", "UID-1")
            .await
            .unwrap()
            .is_empty()
    );
    let all = client.list_runs("web", "release").await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [first.id.as_str(), second.id.as_str()]
    );

    let waiting = client
        .get_run("web", "release", &first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(waiting.status, RunStatus::Waiting);
    assert!(waiting.started_at.is_some() && waiting.finished_at.is_none());
    assert_eq!(
        client.get_run("web", "release", "nope").await.unwrap(),
        None
    );

    let steps = client
        .list_run_steps("web", "release", &first.id)
        .await
        .unwrap();
    assert_eq!(steps.len(), 4);
    assert_eq!(steps[0].kind, StepKind::Stage);
    assert_eq!(
        steps[0].child_execution_strategy.as_deref(),
        Some("sequential")
    );
    let hold = step(&steps, "hold");
    assert_eq!(
        (hold.kind.clone(), hold.status.clone()),
        (StepKind::Wait, StepStatus::Waiting)
    );
    assert_eq!(hold.run_id.as_deref(), Some(first.id.as_str()));
    assert!(!hold.awaits_approval());
    let approval = step(&steps, "approval").clone();
    assert_eq!(approval.status, StepStatus::Pending);
    assert_eq!(
        approval.requires_approval_from.as_deref(),
        Some("release-managers")
    );
    assert_eq!(step(&steps, "deploy").action.as_deref(), Some("deploy"));

    // Not waiting yet: recognisable, with the state OpsChain named.
    match client.approve_step(&approval.id, None).await.unwrap_err() {
        StepActionError::NotWaiting { status, error } => {
            assert_eq!(status, StepStatus::Pending);
            assert_eq!(
                error.message(),
                "Cannot approve step because it is in the \"pending\" state (at /data/attributes/base)"
            );
        }
        other => panic!("expected NotWaiting, got {other:?}"),
    }
    let wrong_kind = client.approve_step(&hold.id, None).await.unwrap_err();
    assert!(
        matches!(&wrong_kind, StepActionError::Client(e) if e.status() == Some(422)),
        "{wrong_kind:?}"
    );

    let continued = client
        .continue_step(&hold.id, Some("checks done"))
        .await
        .unwrap();
    assert_eq!(continued.status, StepStatus::Continued);
    assert_eq!(continued.continued_by[0].username, "sandbox-user");
    assert_eq!(
        continued.continued_by[0].message.as_deref(),
        Some("checks done")
    );
    let now_waiting = client.get_step(&approval.id).await.unwrap().unwrap();
    assert!(now_waiting.awaits_approval());

    let approved = client
        .approve_step(&approval.id, Some("as per CR 7"))
        .await
        .unwrap();
    assert_eq!(approved.status, StepStatus::Approved);
    assert_eq!(
        approved.approved_by[0].message.as_deref(),
        Some("as per CR 7")
    );
    assert_eq!(approved.lock_version, approval.lock_version + 1);
    // A second approval (a resend after a lost answer) is "already approved", not a failure.
    match client.approve_step(&approval.id, None).await.unwrap_err() {
        StepActionError::NotWaiting { status, .. } => assert_eq!(status, StepStatus::Approved),
        other => panic!("expected NotWaiting, got {other:?}"),
    }
    let as_client_error: ClientError = client
        .reject_step(&approval.id, None)
        .await
        .unwrap_err()
        .into();
    assert_eq!(as_client_error.status(), Some(422));
    let done = client
        .get_run("web", "release", &first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, RunStatus::Success);
    assert!(done.status.is_final() && done.finished_at.is_some());

    // The queued run starts once the first is over; a rejection ends it in error.
    let steps = client
        .list_run_steps("web", "release", &second.id)
        .await
        .unwrap();
    client
        .continue_step(&step(&steps, "hold").id, None)
        .await
        .unwrap();
    let rejected = client
        .reject_step(&step(&steps, "approval").id, Some("failed UAT"))
        .await
        .unwrap();
    assert_eq!(rejected.status, StepStatus::Rejected);
    assert_eq!(rejected.rejected_by[0].username, "sandbox-user");
    let ended = client
        .get_run("web", "release", &second.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.status, RunStatus::Error);
    assert_eq!(client.get_step("nope").await.unwrap(), None);
    assert!(matches!(
        client.continue_step("nope", None).await.unwrap_err(),
        StepActionError::Client(e) if e.is_not_found()
    ));
}

#[tokio::test]
async fn reads_are_retried_after_server_errors_and_creates_are_not() {
    let served = sandbox().await;
    let metrics = ClientMetrics::default();
    let client = client_with(
        &served.url(),
        Auth::basic("sandbox-user", "sandbox-password"),
        &metrics,
        |_| {},
    );
    web(&client).await;

    admin(&served, Method::PUT, "faults", json!({"failNext": 2})).await;
    let project = client.get_project("web").await.unwrap().unwrap();
    assert_eq!(project.code, "web");
    assert_eq!(metrics.count("opschain", "getProject", "503"), 2);
    assert_eq!(metrics.count("opschain", "getProject", "200"), 1);

    admin(&served, Method::PUT, "faults", json!({"failNext": 1})).await;
    let refused = client
        .create_project(&new_project("shop", "Standard"))
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&refused),
        (503, "Service Unavailable: service unavailable (injected)")
    );
    assert!(refused.is_retryable());
    assert_eq!(
        metrics.count("opschain", "createProject", "503"),
        1,
        "sent once"
    );
    assert_eq!(client.get_project("shop").await.unwrap(), None);
}

#[tokio::test]
async fn throttling_is_waited_out_or_handed_back() {
    let served = sandbox().await;
    let metrics = ClientMetrics::default();
    let client = client_with(
        &served.url(),
        Auth::basic("sandbox-user", "sandbox-password"),
        &metrics,
        |_| {},
    );
    admin(
        &served,
        Method::PUT,
        "rate-limit",
        json!({"perSecond": 1, "burst": 1}),
    )
    .await;
    client.info().await.unwrap();
    let started = Instant::now();
    assert_eq!(client.info().await.unwrap().version, "2025-04-25");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );
    assert!(metrics.count("opschain", "getInfo", "429") >= 1);
    admin(&served, Method::DELETE, "rate-limit", json!({})).await;

    // Longer than the client will wait between attempts: the caller gets Retry-After.
    admin(
        &served,
        Method::PUT,
        "faults",
        json!({"throttleRate": 1.0, "retryAfterSeconds": 30}),
    )
    .await;
    let started = Instant::now();
    let throttled = client.list_projects().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        status_of(&throttled),
        (429, "Too Many Requests: too many requests (injected)")
    );
    assert_eq!(throttled.retry_after(), Some(Duration::from_secs(30)));
    admin(&served, Method::PUT, "faults", json!({})).await;
    assert!(client.list_projects().await.unwrap().is_empty());
}

#[tokio::test]
async fn timeouts_malformed_bodies_and_wrong_endpoints_are_errors() {
    let served = sandbox().await;
    let impatient = client_with(
        &served.url(),
        Auth::basic("sandbox-user", "sandbox-password"),
        &ClientMetrics::default(),
        |c| {
            c.timeout = Duration::from_millis(300);
            c.max_retries = 1;
        },
    );
    admin(&served, Method::PUT, "faults", json!({"latencyMs": 1500})).await;
    let started = Instant::now();
    let slow = impatient.info().await.unwrap_err();
    assert!(
        matches!(slow, ClientError::Transport { timeout: true, .. }),
        "{slow:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(1400));

    admin(
        &served,
        Method::PUT,
        "faults",
        json!({"malformedRate": 1.0}),
    )
    .await;
    let client = client(&served);
    let malformed = client.list_projects().await.unwrap_err();
    assert!(
        matches!(malformed, ClientError::Decode { .. }),
        "{malformed:?}"
    );
    admin(&served, Method::PUT, "faults", json!({})).await;

    // A wrong endpoint answers Rails' routing error: an error, not a missing project.
    let misplaced = client_with(
        &format!("{}/elsewhere", served.url()),
        Auth::basic("sandbox-user", "sandbox-password"),
        &ClientMetrics::default(),
        |_| {},
    );
    let routing = misplaced.get_project("web").await.unwrap_err();
    assert_eq!(
        status_of(&routing),
        (
            404,
            "Action Controller - Routing Error: No route matches [GET] \"/elsewhere/api/projects/web\""
        )
    );
    let with_api = client_with(
        &format!("{}/api", served.url()),
        Auth::basic("sandbox-user", "sandbox-password"),
        &ClientMetrics::default(),
        |_| {},
    );
    assert_eq!(with_api.get_project("web").await.unwrap(), None);
}

#[tokio::test]
async fn credentials_never_appear_in_errors() {
    let served = sandbox().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let metrics = ClientMetrics::default();
    let bearer = |endpoint: &str, token: &str| {
        client_with(endpoint, Auth::bearer(token), &metrics, |c| {
            c.timeout = Duration::from_millis(300);
            c.max_retries = 0;
        })
    };
    let wrong_token = format!("{CANARY}-wrong");
    let mut errors: Vec<ClientError> = vec![
        bearer(&served.url(), &wrong_token)
            .info()
            .await
            .unwrap_err(),
        client_with(
            &served.url(),
            Auth::basic("sandbox-user", CANARY),
            &metrics,
            |_| {},
        )
        .info()
        .await
        .unwrap_err(),
        // The path echoed in the routing error, and the URL in transport errors, hold the
        // secret here: the shared layer must scrub them.
        bearer(&format!("{}/{CANARY}", served.url()), CANARY)
            .get_project("web")
            .await
            .unwrap_err(),
        bearer(&closed, CANARY)
            .get_project(CANARY)
            .await
            .unwrap_err(),
    ];
    admin(&served, Method::PUT, "faults", json!({"latencyMs": 1000})).await;
    errors.push(
        bearer(&served.url(), CANARY)
            .get_project(CANARY)
            .await
            .unwrap_err(),
    );
    admin(&served, Method::PUT, "faults", json!({})).await;

    assert_eq!(errors[0].status(), Some(401));
    assert_eq!(errors[1].status(), Some(401));
    assert_eq!(errors[2].status(), Some(404));
    for scrubbed in &errors[2..] {
        assert!(scrubbed.message().contains("[redacted]"), "{scrubbed}");
    }
    assert!(matches!(
        errors[3],
        ClientError::Transport { timeout: false, .. }
    ));
    assert!(matches!(
        errors[4],
        ClientError::Transport { timeout: true, .. }
    ));
    for error in &errors {
        for text in [format!("{error}"), format!("{error:?}")] {
            assert!(!text.contains(CANARY), "the secret leaked: {text}");
        }
    }
    let client = bearer(&served.url(), CANARY);
    assert!(!format!("{client:?}").contains(CANARY));
}

#[tokio::test]
async fn a_drift_check_reads_a_project_from_the_shared_list() {
    let served = sandbox().await;
    let c = client(&served);
    web(&c).await;
    let counts = || async {
        let v: Value = reqwest::get(format!("{}/_sandbox/counts", served.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let n = |route: &str| v[route].as_u64().unwrap_or(0);
        (n("GET /api/projects"), n("GET /api/projects/{project}"))
    };

    // Drift checks of two projects: one list read answers both, with the same project a GET
    // would give.
    c.create_project(&new_project("shop", "Enterprise"))
        .await
        .unwrap();
    let alone = c.get_project("web").await.unwrap().unwrap();
    let drift = c.sharing(Duration::from_secs(30));
    let listed = drift.get_project("web").await.unwrap().unwrap();
    assert_eq!(listed, alone);
    assert!(drift.get_project("shop").await.unwrap().is_some());
    assert_eq!(counts().await, (1, 1));

    // A project the list does not show is looked up alone, so absence is always confirmed.
    assert!(drift.get_project("nope").await.unwrap().is_none());
    assert_eq!(counts().await, (1, 2));
}
