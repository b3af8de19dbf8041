//! GatewayApplication on a real apiserver against the API7 Cloud sandbox: create, update, drift
//! corrected with an Event, no write when nothing differs, delete and orphan, adoption, waiting
//! for the connection, suspend and ObserveOnly, and canary releases run to the end, aborted, and
//! resumed from the platform's state. Canary analysis: a healthy canary promoted through every
//! step, a failing one aborted at the step that fails with traffic restored, an idle one not
//! promoted, metrics faults that pause it, the Prometheus provider against a real Prometheus
//! (Debian's `prometheus`, scraping an exporter the test serves), and a timeline (start,
//! automatic rollback, re-arming, a second run, deletion) read through status, `kubectl events`
//! and the platform's API.

mod common;

use std::time::Duration;

use common::converge::*;
use converge_api::gateway::{AnalysisStatus, GatewayApplication};
use converge_platforms::api7::{
    Api7Client, Api7Scope, ApiPath, ApiSpec, ApplicationPatch, CanaryRelease, ListFilter,
    MetricType, MetricsQuery,
};
use converge_platforms::{Auth, ClientMetrics};
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

fn canary_status(g: &GatewayApplication) -> Option<&converge_api::gateway::CanaryStatus> {
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
    let spec: converge_api::gateway::GatewayApplicationSpec =
        serde_json::from_value(m["spec"].clone()).unwrap();
    let theirs = api7()
        .create_application(
            &converge_controllers::gateway::api7::application::create_body(&spec, "v1"),
        )
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
            .contains("create API7 application"),
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
    let path =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("examples/api7/gateway.yaml");
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

// Canary analysis.

/// Sets the API7 sandbox's simulated traffic (`PUT /_sandbox/traffic`).
async fn traffic(body: Value) {
    let r = reqwest::Client::new()
        .put(format!("{}/_sandbox/traffic", env().sandbox("api7")))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert!(status.is_success(), "{status}: {}", r.text().await.unwrap());
}

/// What `kubectl events` prints for the object (the real kubectl, on the test apiserver).
async fn kubectl_events(ns: &str, name: &str) -> String {
    let cp = common::controlplane::shared().await;
    let out = cp
        .kubectl()
        .args(["events", "-n", ns, "--for"])
        .arg(format!("gatewayapplication/{name}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `kubectl events` for the object prints `text`.
async fn wait_printed(ns: &str, name: &str, text: &str) -> String {
    let deadline = tokio::time::Instant::now() + SECS;
    loop {
        let printed = kubectl_events(ns, name).await;
        if printed.contains(text) {
            return printed;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "kubectl events never printed {text:?}:\n{printed}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// An analysis on API7's metrics: a check every second, at most 5% failures, at least 5
/// requests; `extra` is merged in.
fn analysis(extra: Value) -> Value {
    let mut a = json!({"provider": {"api7": {}}, "interval": "1s",
        "failureRate": {"max": 5}, "latency": {"max": "500ms"}, "requests": {"min": 5}});
    merge(&mut a, extra);
    a
}

fn analysis_of(g: &GatewayApplication) -> &AnalysisStatus {
    canary_status(g)
        .and_then(|c| c.analysis.as_ref())
        .expect("status has the analysis")
}

/// The release "to-v2" of application `id` ended at `percent` without promotion: v1 is still
/// the default version (read through API7's API).
async fn assert_rolled_back(id: &str, percent: u8) {
    let r = release(id, "to-v2").await.unwrap();
    assert_eq!(
        (r.spec.state.as_str(), r.spec.percent),
        ("finished", Some(percent))
    );
    let app = api7().get_application(id).await.unwrap();
    assert_eq!(app.spec.default_upstream_version, "v1");
}

fn ready_message(g: &GatewayApplication) -> String {
    condition(g, "Ready").map(|c| c.message).unwrap_or_default()
}

/// (requests, failures) of application `id` in the last `secs` seconds, through API7's own
/// metrics operation.
async fn app_traffic(id: &str, secs: i64) -> (f64, f64) {
    let end = jiff::Timestamp::now();
    let q = MetricsQuery {
        start: end - jiff::SignedDuration::from_secs(secs),
        end,
        step: secs as u64,
        app_id: Some(id.to_string()),
        api_id: None,
    };
    let mut out = [0.0; 2];
    for (i, metric) in [MetricType::Requests, MetricType::FailureRequests]
        .into_iter()
        .enumerate()
    {
        let payload = api7().cluster_metrics(metric, &q).await.unwrap();
        out[i] = converge_platforms::prometheus::samples(&payload)
            .unwrap()
            .iter()
            .sum();
    }
    (out[0], out[1])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_canary_is_promoted_through_every_step_on_its_checks() {
    let ns = "gw-healthy";
    let name = "gw-healthy";
    let (client, api) = setup(ns).await;
    let canary = json!({
        "name": "to-v2", "upstreamVersion": "v2",
        "steps": [{"weight": 10, "pause": "1s"}, {"weight": 50, "pause": "1s"}, {"weight": 100}],
        "analysis": analysis(json!({}))
    });
    apply(&client, ns, manifest(name, json!({"canary": canary}))).await;
    let g = wait_until(&api, name, "promoted", SECS, |g| {
        canary_status(g).is_some_and(|c| c.phase == "Promoted") && is_ready(g)
    })
    .await;
    let id = app_id(&g);
    let a = analysis_of(&g);
    assert_eq!((a.step, a.failed_checks), (2, 0), "{a:?}");
    let names: Vec<&str> = a.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["requests", "failureRate", "latency"]);
    assert!(a.results.iter().all(|r| r.passed && r.step == 2), "{a:?}");
    assert_eq!(a.results[1].value, "0%");
    assert_eq!(a.results[2].value, "20ms", "the sandbox's default latency");

    // Every step was judged before the next: the Events say so, with the values.
    let printed = kubectl_events(ns, name).await;
    for line in [
        "start canary release to-v2 at step 1/3 (10%), sending traffic to v2",
        "canary release to-v2 at step 1/3 (10%): check 1 passed: requests",
        "advance canary release to-v2 to step 2/3 (50%) after its checks passed (requests",
        "canary release to-v2 at step 2/3 (50%): check 1 passed",
        "advance canary release to-v2 to step 3/3 (100%) after its checks passed",
        "canary release to-v2 at step 3/3 (100%): check 1 passed",
        "promote canary release to-v2 after step 3/3 (100%): v2 becomes the default version",
    ] {
        assert!(printed.contains(line), "no {line:?} in:\n{printed}");
    }
    // The platform: promoted, and all traffic now goes to v2 without failures.
    let app = api7().get_application(&id).await.unwrap();
    assert_eq!(app.spec.default_upstream_version, "v2");
    assert_eq!(
        release(&id, "to-v2").await.unwrap().spec.state.as_str(),
        "finished"
    );
    let (requests, failures) = app_traffic(&id, 2).await;
    assert!(requests > 0.0 && failures == 0.0, "{requests} {failures}");
    delete_and_wait(&api, name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_canary_is_aborted_at_the_step_that_fails_with_traffic_restored() {
    let ns = "gw-failing";
    let name = "gw-failing";
    let (client, api) = setup(ns).await;
    // v2 fails a fifth of its requests: 2% of the application's at 10%, 10% at 50%.
    traffic(json!({"application": name, "version": "v2", "failureRate": 0.2})).await;
    let canary = json!({
        "name": "to-v2", "upstreamVersion": "v2",
        "steps": [{"weight": 10, "pause": "1s"}, {"weight": 50, "pause": "1s"}, {"weight": 100}],
        "analysis": analysis(json!({}))
    });
    apply(&client, ns, manifest(name, json!({"canary": canary}))).await;
    let g = wait_reason(&api, name, "Stalled", "CanaryAnalysisFailed").await;
    let id = app_id(&g);
    let c = canary_status(&g).unwrap();
    assert_eq!(
        (c.phase.as_str(), c.step, c.weight),
        ("Aborted", 1, 0),
        "{c:?}"
    );
    let failed = analysis_of(&g).failed.clone().unwrap();
    assert_eq!(
        (
            failed.name.as_str(),
            failed.value.as_str(),
            failed.threshold.as_str(),
            failed.step
        ),
        ("failureRate", "10%", "max 5%", 1)
    );
    assert_eq!(condition(&g, "Ready").unwrap().status, "False");
    let message = ready_message(&g);
    assert!(
        message.contains(
            "aborted at step 2/3 (50%) by its analysis: failureRate 10% (max 5%); traffic is on v1"
        ),
        "{message}"
    );
    assert!(
        message.contains("change spec.canary.retry (now 0)"),
        "{message}"
    );

    let printed = wait_printed(
        ns,
        name,
        "abort canary release to-v2 at step 2/3 (50%) because failureRate 10% (max 5%): traffic goes back to v1",
    )
    .await;
    assert!(
        printed.contains("check 1 failed: failureRate 10% (max 5%) (1 of 1 failed checks allowed)"),
        "{printed}"
    );
    assert!(printed.contains("CanaryAnalysisFailed"), "{printed}");
    assert!(
        printed.contains("advance canary release to-v2 to step 2/3 (50%)"),
        "{printed}"
    );
    assert!(
        !printed.contains("step 3/3"),
        "no step after the failing one:\n{printed}"
    );

    // The platform: the release ended at 50% without promotion, and the application's traffic
    // is healthy again (nothing goes to v2), read through API7's own operations.
    assert_rolled_back(&id, 50).await;
    let (requests, failures) = app_traffic(&id, 2).await;
    assert!(requests > 0.0 && failures == 0.0, "{requests} {failures}");

    // Nothing more runs until the spec changes.
    let before = writes(&id).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(writes(&id).await, before);
    delete_and_wait(&api, name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_canary_is_not_promoted() {
    let ns = "gw-idle";
    let name = "gw-idle";
    let (client, api) = setup(ns).await;
    traffic(json!({"application": name, "requestsPerSecond": 0})).await;
    let canary = json!({
        "name": "to-v2", "upstreamVersion": "v2",
        "steps": [{"weight": 10}, {"weight": 100}],
        "analysis": analysis(json!({"failureLimit": 2}))
    });
    apply(&client, ns, manifest(name, json!({"canary": canary}))).await;
    let g = wait_reason(&api, name, "Stalled", "CanaryAnalysisFailed").await;
    let id = app_id(&g);
    let a = analysis_of(&g);
    assert_eq!((a.step, a.checks, a.failed_checks), (0, 2, 2), "{a:?}");
    let failed = a.failed.clone().unwrap();
    assert_eq!(
        (
            failed.name.as_str(),
            failed.value.as_str(),
            failed.threshold.as_str()
        ),
        ("requests", "0", "min 5")
    );
    assert_rolled_back(&id, 10).await;
    let printed = kubectl_events(ns, name).await;
    assert!(
        printed.contains("check 1 failed: requests 0 (min 5) (1 of 2 failed checks allowed)"),
        "{printed}"
    );
    assert!(!printed.contains("CanaryPromoted"), "{printed}");
    delete_and_wait(&api, name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_faults_never_pass_and_pause_the_canary_until_the_provider_answers() {
    let ns = "gw-faults";
    let name = "gw-faults";
    let (client, api) = setup(ns).await;
    traffic(json!({"application": name, "metrics": "error"})).await;
    let canary = json!({
        "name": "to-v2", "upstreamVersion": "v2",
        "steps": [{"weight": 20}, {"weight": 100}],
        "analysis": analysis(json!({"faultTimeout": "2s"}))
    });
    apply(&client, ns, manifest(name, json!({"canary": canary}))).await;

    // 5xx: retried within the step, then paused at its weight.
    let g = wait_reason(&api, name, "Stalled", "CanaryPaused").await;
    let id = app_id(&g);
    let c = canary_status(&g).unwrap();
    assert_eq!((c.phase.as_str(), c.step, c.weight), ("Paused", 0, 20));
    let message = ready_message(&g);
    assert!(
        message.contains("paused at step 1/2 (20%): metrics unavailable for over 2s"),
        "{message}"
    );
    assert!(
        message.contains("metrics are temporarily unavailable"),
        "{message}"
    );
    let printed = wait_printed(ns, name, "CanaryMetricsUnavailable").await;
    assert!(printed.contains("CanaryPaused"), "{printed}");
    let held = |r: CanaryRelease| (r.spec.state.as_str().to_string(), r.spec.percent);
    assert_eq!(
        held(release(&id, "to-v2").await.unwrap()),
        ("in_progress".into(), Some(20))
    );

    // No data and throttling are faults too: still paused, still at 20%, never promoted.
    for (mode, says) in [
        ("empty", "no data"),
        ("throttle", "too many metrics queries"),
    ] {
        traffic(json!({"application": name, "metrics": mode})).await;
        let g = wait_until(&api, name, &format!("paused on {mode}"), SECS, |g| {
            ready_message(g).contains(says)
        })
        .await;
        assert_eq!(canary_status(&g).unwrap().phase, "Paused", "{mode}");
        assert_eq!(
            analysis_of(&g).checks,
            0,
            "{mode}: a fault is never a check"
        );
        assert_eq!(
            held(release(&id, "to-v2").await.unwrap()),
            ("in_progress".into(), Some(20))
        );
        assert_eq!(
            api7()
                .get_application(&id)
                .await
                .unwrap()
                .spec
                .default_upstream_version,
            "v1"
        );
    }

    // The provider answers again: the analysis goes on and promotes.
    traffic(json!({"application": name, "metrics": "ok"})).await;
    let g = wait_until(&api, name, "promoted", SECS, |g| {
        canary_status(g).is_some_and(|c| c.phase == "Promoted") && is_ready(g)
    })
    .await;
    assert_eq!(analysis_of(&g).fault, None);
    wait_printed(ns, name, "metrics are available again").await;
    delete_and_wait(&api, name).await;
}

/// The gateway's Prometheus exporter as the test serves it: APISIX's request counter and
/// latency histogram for two upstream nodes of route "shop", growing with time since start.
/// Node 10.0.0.2 answers 20 requests a second, all 200, in 30 ms; node 10.0.0.3 answers half
/// of its 20 with a 500.
async fn exporter() -> std::net::SocketAddr {
    let started = std::time::Instant::now();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || async move { exposition(started.elapsed().as_secs_f64()) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn exposition(t: f64) -> String {
    let mut out =
        String::from("# TYPE apisix_http_status counter\n# TYPE apisix_http_latency histogram\n");
    for (node, ok, failed) in [("10.0.0.2", 20.0, 0.0), ("10.0.0.3", 10.0, 10.0)] {
        let labels = format!(r#"route="shop",service="",consumer="",node="{node}""#);
        out.push_str(&format!(
            "apisix_http_status{{code=\"200\",{labels}}} {}\n",
            ok * t
        ));
        if failed > 0.0 {
            out.push_str(&format!(
                "apisix_http_status{{code=\"500\",{labels}}} {}\n",
                failed * t
            ));
        }
        let total = (ok + failed) * t;
        for (le, n) in [("10", 0.0), ("50", total), ("100", total), ("+Inf", total)] {
            out.push_str(&format!(
                "apisix_http_latency_bucket{{type=\"request\",{labels},le=\"{le}\"}} {n}\n"
            ));
        }
        out.push_str(&format!(
            "apisix_http_latency_sum{{type=\"request\",{labels}}} {}\napisix_http_latency_count{{type=\"request\",{labels}}} {total}\n",
            total * 30.0
        ));
    }
    out
}

/// A real Prometheus (Debian's `prometheus` package, which `.ci/run` installs) scraping
/// `target` every second, on a free loopback port; stopped by its PID when dropped.
struct Prometheus {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prometheus_binary() -> std::path::PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("prometheus"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("no prometheus binary on PATH: install Debian's package (apt-get install prometheus), as .ci/run does")
    })
}

async fn prometheus(target: std::net::SocketAddr) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: apisix\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = std::process::Command::new(prometheus_binary())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let p = Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    // Ready, and the exporter scraped at least twice (rates need two samples).
    let deadline = tokio::time::Instant::now() + SECS;
    loop {
        let q = converge_platforms::prometheus::query(
            &p.url,
            "count_over_time(up{job=\"apisix\"}[1m])",
            jiff::Timestamp::now(),
        )
        .await;
        if matches!(q.as_deref(), Ok([n]) if *n >= 2.0) {
            return p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Prometheus did not scrape the exporter: {q:?}\n{}",
            std::fs::read_to_string(p._dir.path().join("prometheus.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_prometheus_provider_judges_the_canary_version_from_a_real_prometheus() {
    let ns = "gw-prometheus";
    let (client, api) = setup(ns).await;
    let prom = prometheus(exporter().await).await;
    let canary = |node: &str| {
        json!({
            "name": "to-v2", "upstreamVersion": "v2",
            "steps": [{"weight": 20, "pause": "2s"}, {"weight": 100}],
            "analysis": {
                "provider": {"prometheus": {"address": prom.url, "selector": format!("route=\"shop\", node=\"{node}\"")}},
                "interval": "2s", "window": "10s", "faultTimeout": "1m",
                "failureRate": {"max": 5}, "latency": {"max": "200ms", "percentile": 99},
                "requests": {"min": 10}
            }
        })
    };
    apply(
        &client,
        ns,
        manifest("gw-prom-ok", json!({"canary": canary("10.0.0.2")})),
    )
    .await;
    apply(
        &client,
        ns,
        manifest("gw-prom-bad", json!({"canary": canary("10.0.0.3")})),
    )
    .await;

    // Healthy node: promoted, with the values Prometheus computed.
    let g = wait_until(&api, "gw-prom-ok", "promoted", SECS, |g| {
        canary_status(g).is_some_and(|c| c.phase == "Promoted") && is_ready(g)
    })
    .await;
    let a = analysis_of(&g);
    assert!(a.results.iter().all(|r| r.passed && r.step == 1), "{a:?}");
    let latency = a.results.iter().find(|r| r.name == "latency").unwrap();
    assert!(
        latency.value.ends_with("ms") && latency.value != "0ms",
        "{latency:?}"
    );
    assert_eq!(
        a.results
            .iter()
            .find(|r| r.name == "failureRate")
            .unwrap()
            .value,
        "0%"
    );
    let id = app_id(&g);
    assert_eq!(
        api7()
            .get_application(&id)
            .await
            .unwrap()
            .spec
            .default_upstream_version,
        "v2"
    );

    // Failing node: half its requests fail, so the first check aborts it at its first step.
    let g = wait_reason(&api, "gw-prom-bad", "Stalled", "CanaryAnalysisFailed").await;
    let failed = analysis_of(&g).failed.clone().unwrap();
    assert_eq!(
        (failed.name.as_str(), failed.value.as_str(), failed.step),
        ("failureRate", "50%", 0)
    );
    let id = app_id(&g);
    assert_rolled_back(&id, 20).await;
    let printed = kubectl_events(ns, "gw-prom-bad").await;
    assert!(
        printed.contains("because failureRate 50% (max 5%)"),
        "{printed}"
    );

    // A query Prometheus refuses is quoted as it says it (a fault: the canary would pause).
    let refused = converge_platforms::prometheus::query(&prom.url, "sum(", jiff::Timestamp::now())
        .await
        .unwrap_err();
    assert!(
        refused.starts_with("Prometheus answered HTTP 400: bad_data: "),
        "{refused}"
    );

    delete_and_wait(&api, "gw-prom-ok").await;
    delete_and_wait(&api, "gw-prom-bad").await;
    drop(prom);
}

/// A canary over time, as a user drives it: started and judged; rolled back automatically when
/// v2 goes bad; re-armed with abort: false (nothing happens, and status says what would); run
/// again with spec.canary.retry once v2 is fixed, promoted; deleted. After each step: status,
/// what `kubectl events` prints, and the platform through API7's own API.
#[tokio::test(flavor = "multi_thread")]
async fn canary_timeline_rollback_rearm_rerun_and_delete() {
    let ns = "gw-timeline";
    let name = "gw-timeline";
    let (client, api) = setup(ns).await;
    let held = json!([{"weight": 10, "pause": "1h"}, {"weight": 100}]);
    let canary = |steps: &Value, extra: Value| {
        let mut c = json!({"name": "to-v2", "upstreamVersion": "v2", "steps": steps,
            "analysis": analysis(json!({"interval": "2s"}))});
        merge(&mut c, extra);
        c
    };

    // 1. Created: the canary starts and its checks pass while the 1h pause holds step 1.
    apply(
        &client,
        ns,
        manifest(name, json!({"canary": canary(&held, json!({}))})),
    )
    .await;
    let g = wait_until(&api, name, "judged at step 1", SECS, |g| {
        canary_status(g)
            .and_then(|c| c.analysis.as_ref())
            .is_some_and(|a| a.checks >= 1)
    })
    .await;
    let id = app_id(&g);
    let c = canary_status(&g).unwrap();
    assert_eq!(
        (c.phase.as_str(), c.step, c.weight, c.retry),
        ("Progressing", 0, 10, Some(0))
    );
    assert!(
        ready_message(&g).contains("canary release to-v2 at step 1/2 (10%): check"),
        "{}",
        ready_message(&g)
    );
    let first_release = release(&id, "to-v2").await.unwrap();
    assert_eq!(
        (
            first_release.spec.state.as_str(),
            first_release.spec.percent
        ),
        ("in_progress", Some(10))
    );
    let printed = wait_printed(ns, name, "check 1 passed").await;
    assert!(
        printed.contains(&format!(
            "start canary release to-v2 at step 1/2 (10%), sending traffic to v2 (id {})",
            first_release.id
        )),
        "{printed}"
    );

    // 2. v2 goes bad: the next check fails and the release is rolled back on its own.
    traffic(json!({"application": name, "version": "v2", "failureRate": 1.0})).await;
    let g = wait_reason(&api, name, "Stalled", "CanaryAnalysisFailed").await;
    let c = canary_status(&g).unwrap();
    assert_eq!((c.phase.as_str(), c.step, c.weight), ("Aborted", 0, 0));
    assert!(
        ready_message(&g).contains("by its analysis: failureRate 10% (max 5%)"),
        "{}",
        ready_message(&g)
    );
    let printed = wait_printed(
        ns,
        name,
        "abort canary release to-v2 at step 1/2 (10%) because failureRate 10% (max 5%): traffic goes back to v1",
    )
    .await;
    assert!(printed.contains("Warning"), "{printed}");
    let r = release(&id, "to-v2").await.unwrap();
    assert_eq!(
        (r.id.as_str(), r.spec.state.as_str()),
        (first_release.id.as_str(), "finished")
    );
    assert_eq!(
        api7()
            .get_application(&id)
            .await
            .unwrap()
            .spec
            .default_upstream_version,
        "v1"
    );
    assert_eq!(
        app_traffic(&id, 2).await.1,
        0.0,
        "no failures once v2 gets no traffic"
    );

    // 3. Re-armed the way that does not work: abort: false. Nothing runs; status says why and
    // what will.
    let writes_before = writes(&id).await;
    patch_spec(
        &api,
        name,
        json!({"canary": canary(&held, json!({"abort": false}))}),
    )
    .await;
    let g = wait_until(&api, name, "observed the re-arm", SECS, is_current).await;
    let message = ready_message(&g);
    assert!(
        message.contains("It does not run again by itself (abort: false does not restart it): change spec.canary.retry (now 0) to run it again from its first step"),
        "{message}"
    );
    assert_eq!(canary_status(&g).unwrap().phase, "Aborted");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(writes(&id).await, writes_before, "re-arming wrote nothing");

    // 4. v2 fixed and a retry asked for: the release runs again from its first step under the
    // same name (the finished one replaced), passes its checks and is promoted.
    traffic(json!({"application": name, "version": "v2", "failureRate": 0.0})).await;
    let fast = json!([{"weight": 10, "pause": "2s"}, {"weight": 100}]);
    patch_spec(
        &api,
        name,
        json!({"canary": canary(&fast, json!({"abort": false, "retry": 1}))}),
    )
    .await;
    let g = wait_until(&api, name, "promoted on the retry", SECS, |g| {
        is_current(g) && canary_status(g).is_some_and(|c| c.phase == "Promoted") && is_ready(g)
    })
    .await;
    let c = canary_status(&g).unwrap();
    assert_eq!(c.retry, Some(1));
    let second = release(&id, "to-v2").await.unwrap();
    assert_ne!(second.id, first_release.id, "a new release");
    assert_eq!(second.spec.state.as_str(), "finished");
    let all = api7()
        .list_canary_releases(&id, &ListFilter::default())
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        1,
        "the aborted release was replaced, not left beside: {all:?}"
    );
    assert_eq!(
        api7()
            .get_application(&id)
            .await
            .unwrap()
            .spec
            .default_upstream_version,
        "v2"
    );
    let printed = wait_printed(
        ns,
        name,
        "promote canary release to-v2 after step 2/2 (100%)",
    )
    .await;
    assert!(
        printed.contains(&format!(
            "start canary release to-v2 again (retry 1) at step 1/2 (10%), sending traffic to v2, replacing finished release {} (id {})",
            first_release.id, second.id
        )),
        "{printed}"
    );

    // 5. Deleted: the application (and its release) go from the platform.
    delete_and_wait(&api, name).await;
    assert!(
        api7()
            .get_application(&id)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// The progressive delivery example under `converge local`: each check printed as it comes, the
/// step that fails, the rollback, and an exit code that says an object is not Ready.
#[test]
fn the_rollback_example_rolls_back_under_converge_local() {
    let example =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("examples/progressive-delivery/rollback.yaml.example");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_converge"))
        .args(["local", "--step-delay", "0s", "--timeout", "3m", "-f"])
        .arg(&example)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let mut at = 0;
    for line in [
        "GatewayApplication/payments  CanaryStarted: start canary release payments-v2 at step 1/3 (5%), sending traffic to v2",
        "GatewayApplication/payments  CanaryAnalysis: canary release payments-v2 at step 1/3 (5%): check 1 passed: requests ",
        "GatewayApplication/payments  CanaryAdvanced: advance canary release payments-v2 to step 2/3 (25%) after its checks passed",
        "warning CanaryAnalysis: canary release payments-v2 at step 2/3 (25%): check 1 failed: failureRate 25% (max 10%)",
        "GatewayApplication/payments  CanaryAborted: abort canary release payments-v2 at step 2/3 (25%) because failureRate 25% (max 10%): traffic goes back to v1",
    ] {
        let found = stdout[at..]
            .find(line)
            .unwrap_or_else(|| panic!("no {line:?} after the lines before it:\n{stdout}"));
        at += found + line.len();
    }
    assert!(!stdout.contains("CanaryPromoted"), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("GatewayApplication/payments "))
        .unwrap_or_else(|| panic!("no table row:\n{stdout}"));
    assert!(row.contains("CanaryAnalysisFailed"), "{row}");
    assert!(stdout.contains("1/2 Ready"), "{stdout}");
}

/// Get Cluster Metrics as the API7 sandbox serves it, over HTTP: the documented parameters
/// (required start, end and step; app_id, api_id, instance_id filters), the envelope, and
/// values from the simulated traffic per application and version.
#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_serves_cluster_metrics_from_simulated_traffic() {
    let ns = "gw-metrics";
    let name = "gw-metrics";
    let (client, api) = setup(ns).await;
    traffic(json!({"application": name, "requestsPerSecond": 20})).await;
    traffic(json!({"application": name, "version": "v2", "failureRate": 0.5, "latencyMs": 100}))
        .await;
    let canary = json!({"name": "to-v2", "upstreamVersion": "v2",
        "steps": [{"weight": 25, "pause": "1h"}, {"weight": 100}]});
    apply(&client, ns, manifest(name, json!({"canary": canary}))).await;
    let g = wait_until(&api, name, "at 25%", SECS, |g| {
        canary_status(g).is_some_and(|c| c.weight == 25)
    })
    .await;
    let id = app_id(&g);
    let apis = g.status.as_ref().unwrap().apis.clone();
    // Let a few seconds of traffic accumulate at this split.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let http = reqwest::Client::new();
    let end = jiff::Timestamp::now();
    let start = end - jiff::SignedDuration::from_secs(2);
    let get = |metric: &str, query: Vec<(&str, String)>| {
        http.get(format!(
            "{}/api/v1/clusters/2001/metrics/{metric}",
            env().endpoint("api7")
        ))
        .bearer_auth("sandbox-api7-token")
        .query(&query)
        .send()
    };
    let window = |extra: &[(&'static str, String)]| {
        let mut q = vec![
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", "2".to_string()),
            ("app_id", id.clone()),
        ];
        q.extend(extra.iter().cloned());
        q
    };
    let values = |body: &Value| converge_platforms::prometheus::samples(&body["payload"]).unwrap();
    let answer = |metric: &'static str, query: Vec<(&'static str, String)>| {
        let sent = get(metric, query);
        async move { sent.await.unwrap().json::<Value>().await.unwrap() }
    };

    // 20 requests/s, 5 of them to v2, which fails half: over 2 s, 40 requests and 5 failures;
    // latency weighted by requests: (15 * 20 + 5 * 100) / 20 = 40 ms.
    let r = get("api-requests", window(&[])).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], json!({"code": 0, "message": "OK"}));
    assert_eq!(body["payload"]["resultType"], "matrix");
    assert_eq!(
        body["payload"]["result"][0]["metric"]["app_id"],
        id.as_str()
    );
    assert_eq!(values(&body), vec![40.0]);
    let body = answer("api-failure-requests", window(&[])).await;
    assert_eq!(values(&body), vec![5.0]);
    let body = answer("api-latency", window(&[])).await;
    assert_eq!(values(&body), vec![40.0]);
    let body = answer("api-status-dist", window(&[])).await;
    let codes: Vec<&str> = body["payload"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["metric"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["200", "500"]);
    // One API of two takes half; no gateway instance matches.
    let body = answer("api-requests", window(&[("api_id", apis[0].id.clone())])).await;
    assert_eq!(values(&body), vec![20.0]);
    let body = answer("api-requests", window(&[("instance_id", "gw-1".into())])).await;
    assert_eq!(values(&body), Vec::<f64>::new());

    // The documented parameters are checked, in the envelope.
    for (metric, query, says) in [
        (
            "api-requests",
            vec![("end", end.to_string()), ("step", "2".into())],
            "start in query is required",
        ),
        (
            "api-requests",
            window(&[("step", "0".into())]),
            "step in query should be greater than or equal to 1",
        ),
        (
            "api-nothing",
            window(&[]),
            "metric_type in path should be one of",
        ),
    ] {
        let r = get(metric, query).await.unwrap();
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"]["code"], 2);
        assert!(body["error"].as_str().unwrap().contains(says), "{body}");
    }
    delete_and_wait(&api, name).await;
}
