//! GatewayApplication on a real apiserver against the API7 Cloud sandbox: create, update, drift
//! corrected with an Event, no write when nothing differs, delete and orphan, adoption, waiting
//! for the connection, suspend and ObserveOnly, and canary releases run to the end, aborted, and
//! resumed from the platform's state.

mod common;

use std::time::Duration;

use common::converge::*;
use converge::clients::api7::{
    Api7Client, Api7Scope, ApiPath, ApiSpec, ApplicationPatch, CanaryRelease, ListFilter,
};
use converge::clients::{Auth, ClientMetrics};
use converge::gateway::crd::GatewayApplication;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

const SECS: Duration = Duration::from_secs(60);

fn api7() -> Api7Client {
    Api7Client::new(
        Api7Client::config(env().endpoint("api7")),
        Auth::bearer("sandbox-api7-token"),
        ClientMetrics::default(),
        Api7Scope {
            organization_id: "1001".into(),
            cluster_id: "2001".into(),
        },
    )
    .unwrap()
}

/// A namespace connected to the API7 sandbox, and the GatewayApplication Api in it.
async fn setup(ns: &str) -> (kube::Client, Api<GatewayApplication>) {
    let client = client().await;
    namespace(&client, ns).await;
    connect(&client, ns, "api7").await;
    let api = Api::namespaced(client.clone(), ns);
    (client, api)
}

/// A manifest for application `app` (also the object's name) with two APIs; `extra` is merged
/// into its spec.
fn manifest(app: &str, extra: Value) -> Value {
    let mut spec = json!({
        "connectionRef": {"name": "api7"},
        "name": app,
        "driftInterval": "5s",
        "hosts": [format!("{app}.acme.test")],
        "pathPrefix": format!("/{app}"),
        "upstreams": [
            {"version": "v1", "targets": [{"host": "v1.internal", "port": 8080}]},
            {"version": "v2", "targets": [{"host": "v2.internal", "port": 8080}]}
        ],
        "defaultUpstreamVersion": "v1",
        "labels": ["team-a"],
        "apis": [
            {"name": "list", "methods": ["GET"], "paths": [{"path": "/items"}]},
            {"name": "create", "methods": ["POST"], "paths": [{"path": "/items", "pathType": "Exact"}], "stripPathPrefix": true}
        ]
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    json!({
        "apiVersion": "converge.dev/v1alpha1", "kind": "GatewayApplication",
        "metadata": {"name": app}, "spec": spec
    })
}

fn app_id(g: &GatewayApplication) -> String {
    g.status
        .as_ref()
        .and_then(|s| s.application_id.clone())
        .expect("status has the application id")
}

/// Writes (anything but GET) the sandbox received about application `id` and what is under it.
async fn writes(id: &str) -> usize {
    let calls: Vec<Value> = reqwest::get(format!("{}/_sandbox/calls", env().sandbox("api7")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let needle = format!("/apps/{id}");
    calls
        .iter()
        .filter(|c| c["method"] != "GET")
        .filter(|c| {
            let path = c["path"].as_str().unwrap_or_default();
            path.ends_with(&needle) || path.contains(&format!("{needle}/"))
        })
        .count()
}

async fn has_event(client: &kube::Client, ns: &str, name: &str, reason: &str) -> bool {
    events(client, ns, name)
        .await
        .iter()
        .any(|e| e.starts_with(&format!("{reason}:")))
}

async fn wait_event(client: &kube::Client, ns: &str, name: &str, reason: &str) {
    let deadline = tokio::time::Instant::now() + SECS;
    while !has_event(client, ns, name, reason).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {reason} Event for {name}; got {:?}",
            events(client, ns, name).await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn release(app: &str, name: &str) -> Option<CanaryRelease> {
    api7().find_canary_release_by_name(app, name).await.unwrap()
}

fn canary_status(g: &GatewayApplication) -> Option<&converge::gateway::crd::CanaryStatus> {
    g.status.as_ref().and_then(|s| s.canary.as_ref())
}

#[tokio::test(flavor = "multi_thread")]
async fn create_update_drift_and_delete() {
    let ns = "gw-lifecycle";
    let name = "gw-lifecycle";
    let (client, api) = setup(ns).await;
    apply(&client, ns, manifest(name, json!({}))).await;
    let g = wait_ready(&api, name).await;
    let id = app_id(&g);
    let st = g.status.as_ref().unwrap();
    assert_eq!(st.apis.len(), 2, "API ids in status: {st:?}");
    let p = api7();
    let app = p.get_application(&id).await.unwrap();
    assert_eq!(app.spec.hosts, vec![format!("{name}.acme.test")]);
    assert_eq!(app.spec.default_upstream_version, "v1");
    let apis = p.list_apis(&id, &ListFilter::default()).await.unwrap();
    assert_eq!(apis.len(), 2);

    // Nothing differs: no write across more than two drift intervals.
    let before = writes(&id).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        writes(&id).await,
        before,
        "a converged object wrote to the platform"
    );

    // Update: a host and one API's path; the other API is removed from the spec.
    patch_spec(
        &api,
        name,
        json!({
            "hosts": [format!("{name}.acme.test"), "extra.acme.test"],
            "apis": [{"name": "list", "methods": ["GET"], "paths": [{"path": "/things"}]}]
        }),
    )
    .await;
    // An API added by hand is not the manifest's: it stays.
    let by_hand = ApiSpec {
        name: "by-hand".into(),
        description: String::new(),
        methods: vec![],
        paths: vec![ApiPath {
            path: "/hand".into(),
            path_type: None,
        }],
        strip_path_prefix: false,
        fine_grained_route_control: None,
        plugins: Default::default(),
        labels: vec![],
        kind: None,
        active: Default::default(),
    };
    p.create_api(&id, &by_hand).await.unwrap();
    wait_ready(&api, name).await;
    let app = p.get_application(&id).await.unwrap();
    assert_eq!(app.spec.hosts.len(), 2);
    let mut names: Vec<String> = p
        .list_apis(&id, &ListFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|a| {
            if a.spec.name == "list" {
                assert_eq!(a.spec.paths[0].path, "/things");
            }
            a.spec.name
        })
        .collect();
    names.sort();
    assert_eq!(names, vec!["by-hand", "list"]);

    // Drift made through the platform's API is corrected, with an Event.
    p.patch_application(
        &id,
        &ApplicationPatch {
            path_prefix: Some("/elsewhere".into()),
            default_upstream_version: Some("v2".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    wait_event(&client, ns, name, "DriftCorrected").await;
    let app = p.get_application(&id).await.unwrap();
    assert_eq!(app.spec.path_prefix, format!("/{name}"));
    assert_eq!(app.spec.default_upstream_version, "v1");

    delete_and_wait(&api, name).await;
    let gone = p.get_application(&id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
}

#[tokio::test(flavor = "multi_thread")]
async fn orphan_leaves_the_application() {
    let ns = "gw-orphan";
    let name = "gw-orphan";
    let (client, api) = setup(ns).await;
    apply(
        &client,
        ns,
        manifest(name, json!({"deletionPolicy": "Orphan"})),
    )
    .await;
    let id = app_id(&wait_ready(&api, name).await);
    delete_and_wait(&api, name).await;
    let app = api7().get_application(&id).await.unwrap();
    assert_eq!(app.spec.name, name);
    api7().delete_application(&id, true).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn adoption_is_explicit() {
    let ns = "gw-adopt";
    let name = "gw-adopt";
    let (client, api) = setup(ns).await;
    // Someone created the application on the platform first.
    let m = manifest(name, json!({}));
    let spec: converge::gateway::crd::GatewayApplicationSpec =
        serde_json::from_value(m["spec"].clone()).unwrap();
    let theirs = api7()
        .create_application(&converge::gateway::application::create_body(&spec, "v1"))
        .await
        .unwrap();

    apply(&client, ns, m).await;
    let g = wait_reason(&api, name, "Stalled", "AlreadyExistsNotAdopted").await;
    let msg = condition(&g, "Stalled").unwrap().message;
    assert!(msg.contains("adoptionPolicy: Adopt"), "{msg}");
    assert!(msg.contains(&theirs.id), "{msg}");

    patch_spec(&api, name, json!({"adoptionPolicy": "Adopt"})).await;
    let g = wait_ready(&api, name).await;
    assert_eq!(app_id(&g), theirs.id);
    let same_name = api7()
        .list_applications(&ListFilter::search(name))
        .await
        .unwrap();
    assert_eq!(same_name.len(), 1, "no second application");
    // Its APIs were created in the adopted application.
    let apis = api7()
        .list_apis(&theirs.id, &ListFilter::default())
        .await
        .unwrap();
    assert_eq!(apis.len(), 2);
    delete_and_wait(&api, name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn waits_for_its_connection() {
    let ns = "gw-wait";
    let name = "gw-wait";
    let client = client().await;
    namespace(&client, ns).await;
    let api: Api<GatewayApplication> = Api::namespaced(client.clone(), ns);
    apply(&client, ns, manifest(name, json!({}))).await;
    let g = wait_reason(&api, name, "Reconciling", "WaitingForReference").await;
    assert!(
        condition(&g, "Ready")
            .unwrap()
            .message
            .contains("PlatformConnection"),
        "{g:?}"
    );
    connect(&client, ns, "api7").await;
    let g = wait_ready(&api, name).await;
    assert!(api7().get_application(&app_id(&g)).await.is_ok());
    delete_and_wait(&api, name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn suspend_and_observe_only_write_nothing() {
    let ns = "gw-hold";
    let name = "gw-hold";
    let (client, api) = setup(ns).await;

    // Held from the start: nothing is created.
    apply(&client, ns, manifest(name, json!({"suspend": true}))).await;
    let g = wait_reason(&api, name, "Ready", "Suspended").await;
    assert!(
        condition(&g, "Ready")
            .unwrap()
            .message
            .contains("create application"),
        "{g:?}"
    );
    assert!(
        api7()
            .find_application_by_name(name)
            .await
            .unwrap()
            .is_none(),
        "suspended, yet created"
    );

    patch_spec(&api, name, json!({"suspend": false})).await;
    let id = app_id(&wait_ready(&api, name).await);
    let before = writes(&id).await;

    patch_spec(&api, name, json!({"suspend": true, "pathPrefix": "/held"})).await;
    let g = wait_until(&api, name, "Suspended with the change", SECS, |g| {
        condition(g, "Ready").is_some_and(|c| {
            c.reason == "Suspended" && c.message.contains("set path prefix to /held")
        }) && is_current(g)
    })
    .await;
    assert_eq!(condition(&g, "Ready").unwrap().status, "False");

    patch_spec(
        &api,
        name,
        json!({"suspend": false, "managementPolicy": "ObserveOnly"}),
    )
    .await;
    wait_until(&api, name, "Observed with the change", SECS, |g| {
        condition(g, "Ready").is_some_and(|c| {
            c.reason == "Observed" && c.message.contains("set path prefix to /held")
        }) && is_current(g)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        writes(&id).await,
        before,
        "held objects wrote to the platform"
    );
    let app = api7().get_application(&id).await.unwrap();
    assert_eq!(app.spec.path_prefix, format!("/{name}"));

    patch_spec(&api, name, json!({"managementPolicy": "Manage"})).await;
    wait_ready(&api, name).await;
    assert_eq!(
        api7().get_application(&id).await.unwrap().spec.path_prefix,
        "/held"
    );
    delete_and_wait(&api, name).await;
}

fn is_current(g: &GatewayApplication) -> bool {
    g.status.as_ref().and_then(|s| s.common.observed_generation) == g.metadata.generation
}

#[tokio::test(flavor = "multi_thread")]
async fn canary_runs_from_start_to_finish() {
    let ns = "gw-canary";
    let name = "gw-canary";
    let (client, api) = setup(ns).await;
    let canary = json!({
        "name": "to-v2",
        "upstreamVersion": "v2",
        "steps": [{"weight": 10, "pause": "2s"}, {"weight": 50, "pause": "2s"}, {"weight": 100}]
    });
    apply(&client, ns, manifest(name, json!({"canary": canary}))).await;

    // While it runs, status and the platform agree on the step.
    let mut weights = Vec::new();
    let deadline = tokio::time::Instant::now() + SECS;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the canary never finished"
        );
        let g = api.get(name).await.unwrap();
        if let Some(c) = canary_status(&g) {
            if c.phase == "Promoted" {
                break;
            }
            if c.phase == "Progressing" && !weights.contains(&c.weight) {
                weights.push(c.weight);
                let step = usize::try_from(c.step).unwrap();
                assert_eq!(c.weight, [10, 50, 100][step], "{c:?}");
                assert_eq!(condition(&g, "Reconciling").unwrap().reason, "Progressing");
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(weights.starts_with(&[10, 50]), "steps seen: {weights:?}");
    let g = wait_ready(&api, name).await;
    let id = app_id(&g);
    let c = canary_status(&g).unwrap();
    assert_eq!((c.phase.as_str(), c.weight), ("Promoted", 100));

    let app = api7().get_application(&id).await.unwrap();
    assert_eq!(
        app.spec.default_upstream_version, "v2",
        "the canary version is the default"
    );
    let r = release(&id, "to-v2").await.unwrap();
    assert_eq!(r.spec.state.as_str(), "finished");
    for reason in ["CanaryStarted", "CanaryAdvanced", "CanaryPromoted"] {
        assert!(
            has_event(&client, ns, name, reason).await,
            "no {reason} Event"
        );
    }

    // Finished is finished: not restarted, and the promoted default is kept.
    let before = writes(&id).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(writes(&id).await, before);
    let all = api7()
        .list_canary_releases(&id, &ListFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    delete_and_wait(&api, name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn canary_abort_rolls_back() {
    let ns = "gw-abort";
    let name = "gw-abort";
    let (client, api) = setup(ns).await;
    let canary = json!({
        "name": "try-v2",
        "upstreamVersion": "v2",
        "steps": [{"weight": 20, "pause": "1h"}, {"weight": 100}]
    });
    apply(&client, ns, manifest(name, json!({"canary": canary}))).await;
    let g = wait_until(&api, name, "at the first step", SECS, |g| {
        canary_status(g).is_some_and(|c| c.phase == "Progressing" && c.weight == 20)
    })
    .await;
    let id = app_id(&g);
    assert_eq!(release(&id, "try-v2").await.unwrap().spec.percent, Some(20));

    patch_spec(
        &api,
        name,
        json!({"canary": {"name": "try-v2", "upstreamVersion": "v2", "abort": true,
                          "steps": [{"weight": 20, "pause": "1h"}, {"weight": 100}]}}),
    )
    .await;
    let g = wait_ready(&api, name).await;
    let c = canary_status(&g).unwrap();
    assert_eq!((c.phase.as_str(), c.weight), ("Aborted", 0));
    let r = release(&id, "try-v2").await.unwrap();
    assert_eq!(r.spec.state.as_str(), "finished");
    let app = api7().get_application(&id).await.unwrap();
    assert_eq!(
        app.spec.default_upstream_version, "v1",
        "the default is unchanged"
    );
    assert!(has_event(&client, ns, name, "CanaryAborted").await);
    delete_and_wait(&api, name).await;
}

/// A restarted controller has only the platform and status to go on; with status wiped the
/// step still comes from the platform, and nothing restarts.
#[tokio::test(flavor = "multi_thread")]
async fn canary_position_comes_from_the_platform() {
    let ns = "gw-resume";
    let name = "gw-resume";
    let (client, api) = setup(ns).await;
    let canary = json!({
        "name": "slow",
        "upstreamVersion": "v2",
        "steps": [{"weight": 10, "pause": "1s"}, {"weight": 30, "pause": "1h"}, {"weight": 100}]
    });
    apply(&client, ns, manifest(name, json!({"canary": canary}))).await;
    let g = wait_until(&api, name, "at the second step", SECS, |g| {
        canary_status(g).is_some_and(|c| c.step == 1 && c.weight == 30)
    })
    .await;
    let id = app_id(&g);
    let started = canary_status(&g).unwrap().step_started_at.clone();
    let r = release(&id, "slow").await.unwrap();
    assert_eq!(r.spec.percent, Some(30));

    // Several reconciles later (drift interval 5s), the same step and the same start.
    let writes_before = writes(&id).await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    let g = api.get(name).await.unwrap();
    let c = canary_status(&g).unwrap();
    assert_eq!((c.step, c.weight, &c.step_started_at), (1, 30, &started));
    assert_eq!(writes(&id).await, writes_before, "no write while pausing");

    // Status lost: the step is derived again from the release, not restarted.
    let wipe = json!({"status": {"canary": null}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&wipe))
        .await
        .unwrap();
    let g = wait_until(&api, name, "the canary re-derived", SECS, |g| {
        canary_status(g).is_some_and(|c| c.step == 1)
    })
    .await;
    let c = canary_status(&g).unwrap();
    assert_eq!(c.weight, 30);
    assert_eq!(
        c.step_started_at.as_deref(),
        r.updated_at.map(|t| t.to_string()).as_deref(),
        "the pause counts from the release's last update"
    );
    assert_eq!(writes(&id).await, writes_before, "nothing restarted");

    // The weight changed on the platform is put back.
    let mut body = r.spec.clone();
    body.percent = Some(70);
    api7()
        .update_canary_release(&id, &r.id, &body)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + SECS;
    loop {
        let now = release(&id, "slow").await.unwrap();
        if now.spec.percent == Some(30) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "weight stays {:?}",
            now.spec.percent
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    delete_and_wait(&api, name).await;
}

/// The example manifest converges against the sandbox (its canary starts: its pauses are
/// minutes long).
#[tokio::test(flavor = "multi_thread")]
async fn the_example_converges() {
    let ns = "gw-example";
    let (client, api) = setup(ns).await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/api7/gateway.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let obj: Value = serde_yaml_ng::from_str(&text).unwrap();
    apply(&client, ns, obj).await;
    let g = wait_until(&api, "checkout", "at its first canary step", SECS, |g| {
        canary_status(g).is_some_and(|c| c.phase == "Progressing" && c.weight == 10)
    })
    .await;
    let id = app_id(&g);
    let apis = api7().list_apis(&id, &ListFilter::default()).await.unwrap();
    assert_eq!(apis.len(), 2);
    delete_and_wait(&api, "checkout").await;
}
