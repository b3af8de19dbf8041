//! GitOps tools read Converge's status as Converge means it. Real objects on a real apiserver,
//! converged by the in-process controller against the sandboxes, are read three ways and must
//! agree: sigs.k8s.io/cli-utils' kstatus (what Flux's health checks use; the Go command in
//! `tests/kstatus/`), the Argo CD health Lua of `gitops/argocd/argocd-cm.yaml` (run with mlua),
//! and `kubectl wait --for=condition=Ready`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::controlplane;
use common::converge::*;
use converge_api::component::Component;
use converge_api::project::Project;
use kube::api::Api;
use serde_json::{Value, json};

/// Instant sandboxes: a state that must be seen is held (a Choreo build by a sandbox hold),
/// never caught in passing. Every test calls this before any harness helper.
fn env() -> &'static Env {
    env_with(converge_sandbox::all::Options::ephemeral)
}

fn repo(path: &str) -> PathBuf {
    std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join(path)
}

/// The kstatus command, built (or found in the cache) by tests/kstatus/build.sh.
fn kstatus_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo("tests/kstatus/build.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("running tests/kstatus/build.sh");
        assert!(out.status.success(), "tests/kstatus/build.sh failed");
        let stdout = String::from_utf8(out.stdout).unwrap();
        Path::new(stdout.lines().last().unwrap().trim()).join("kstatus")
    })
}

/// kstatus' (status, message) for one object.
fn kstatus(object: &Value) -> (String, String) {
    let mut child = Command::new(kstatus_bin())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(object.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kstatus: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        line["status"].as_str().unwrap().to_string(),
        line["message"].as_str().unwrap().to_string(),
    )
}

/// The `data` of gitops/argocd/argocd-cm.yaml, the snippet users paste.
fn argocd_cm() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(repo("gitops/argocd/argocd-cm.yaml")).unwrap();
    let cm: Value = serde_yaml_ng::from_str(&text).unwrap();
    cm["data"].as_object().unwrap().clone()
}

/// Argo CD's (health status, message) for one object: the argocd-cm entry for its kind, run
/// the way Argo CD runs a health script (the object as the global `obj`, a table returned).
fn argocd_health(object: &Value) -> (String, String) {
    let (group, _) = object["apiVersion"]
        .as_str()
        .unwrap()
        .split_once('/')
        .unwrap();
    let key = format!(
        "resource.customizations.health.{group}_{}",
        object["kind"].as_str().unwrap()
    );
    let script = argocd_cm()[&key]
        .as_str()
        .unwrap_or_else(|| panic!("argocd-cm.yaml has no {key}"))
        .to_string();
    let lua = mlua::Lua::new();
    // Argo CD hands Lua a JSON null as nil.
    let options = mlua::SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false);
    let obj = mlua::LuaSerdeExt::to_value_with(&lua, object, options).unwrap();
    lua.globals().set("obj", obj).unwrap();
    let hs: mlua::Table = lua.load(&script).set_name(&key).eval().unwrap();
    (hs.get("status").unwrap(), hs.get("message").unwrap())
}

/// How one object reads: the same JSON (as `kubectl get -o json` prints it) through kstatus
/// and Argo CD's Lua.
#[derive(Debug)]
struct Reading {
    kstatus: String,
    kstatus_message: String,
    argocd: String,
    argocd_message: String,
    ready_message: String,
}

async fn snapshot(ns: &str, resource: &str, name: &str) -> Reading {
    let cp = controlplane::shared().await;
    let out = cp
        .kubectl()
        .args(["get", "-n", ns, resource, name, "-o", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let object: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (kstatus, kstatus_message) = kstatus(&object);
    let (argocd, argocd_message) = argocd_health(&object);
    let ready_message = object["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .map(|c| c["message"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    Reading {
        kstatus,
        kstatus_message,
        argocd,
        argocd_message,
        ready_message,
    }
}

/// Whether `kubectl wait --for=condition=Ready` succeeds on the live object (within 1 s).
async fn kubectl_wait_ready(ns: &str, resource: &str, name: &str) -> bool {
    let cp = controlplane::shared().await;
    cp.kubectl()
        .args(["wait", "-n", ns, "--for=condition=Ready", "--timeout=1s"])
        .arg(format!("{resource}/{name}"))
        .output()
        .unwrap()
        .status
        .success()
}

/// Reads the object (its state must be stable) and checks that kstatus, Argo CD and
/// `kubectl wait` say what is expected, and that Argo CD shows the Ready message.
async fn assert_reads(
    (ns, resource, name): (&str, &str, &str),
    kstatus: &str,
    argocd: &str,
    wait_ready: bool,
) -> Reading {
    let r = snapshot(ns, resource, name).await;
    let waited = kubectl_wait_ready(ns, resource, name).await;
    assert_eq!(
        (r.kstatus.as_str(), r.argocd.as_str(), waited),
        (kstatus, argocd, wait_ready),
        "{name}: {r:#?}"
    );
    assert!(!r.ready_message.is_empty(), "{r:#?}");
    assert_eq!(r.argocd_message, r.ready_message, "{r:#?}");
    r
}

fn project(name: &str, connection: &str, code: &str, extra: Value) -> Value {
    let mut spec = json!({"connectionRef": {"name": connection},
        "opschain": {"code": code, "name": "GitOps", "projectType": "Enterprise"}});
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Project",
           "metadata": {"name": name}, "spec": spec})
}

#[tokio::test]
async fn projects_waiting_stalled_ready_and_suspended_read_alike() {
    env();
    let client = client().await;
    let ns = "kstatus-projects";
    namespace(&client, ns).await;
    connect(&client, ns, "opschain").await;
    let api = Api::<Project>::namespaced(client.clone(), ns);
    let converge_platforms::PlatformClient::OpsChain(oc) = env().platform_client("opschain") else {
        unreachable!()
    };
    oc.create_project(&converge_platforms::opschain::NewProject {
        code: "ks_theirs".into(),
        name: "Theirs".into(),
        description: None,
        project_type: "Enterprise".into(),
    })
    .await
    .unwrap();
    apply(
        &client,
        ns,
        project("waiting", "nowhere", "ks_waiting", json!({})),
    )
    .await;
    apply(
        &client,
        ns,
        project("conflict", "opschain", "ks_theirs", json!({})),
    )
    .await;
    apply(
        &client,
        ns,
        project("ready", "opschain", "ks_ready", json!({})),
    )
    .await;

    assert_reads(
        (ns, "platformconnections.converge.dev", "opschain"),
        "Current",
        "Healthy",
        true,
    )
    .await;

    // Waiting for a reference: converging, not done.
    wait_reason(&api, "waiting", "Reconciling", "WaitingForReference").await;
    let r = assert_reads(
        (ns, "projects.converge.dev", "waiting"),
        "InProgress",
        "Progressing",
        false,
    )
    .await;
    assert!(r.kstatus_message.contains("nowhere"), "{r:#?}");

    // An adoption conflict: Stalled, which needs a person.
    wait_reason(&api, "conflict", "Stalled", "AlreadyExistsNotAdopted").await;
    let r = assert_reads(
        (ns, "projects.converge.dev", "conflict"),
        "Failed",
        "Degraded",
        false,
    )
    .await;
    assert!(
        r.kstatus_message.contains("adoptionPolicy: Adopt"),
        "{r:#?}"
    );

    wait_ready(&api, "ready").await;
    assert_reads(
        (ns, "projects.converge.dev", "ready"),
        "Current",
        "Healthy",
        true,
    )
    .await;

    // Suspended with nothing to change: still Ready, so kstatus and kubectl say done; Argo CD
    // has a word for it.
    apply(
        &client,
        ns,
        project("ready", "opschain", "ks_ready", json!({"suspend": true})),
    )
    .await;
    wait_until(
        &api,
        "ready",
        "Ready (Suspended)",
        std::time::Duration::from_secs(30),
        |p| is_ready(p) && condition(p, "Ready").unwrap().reason == "Suspended",
    )
    .await;
    assert_reads(
        (ns, "projects.converge.dev", "ready"),
        "Current",
        "Suspended",
        true,
    )
    .await;

    // Suspended with a change held back: not Ready; kstatus has no "suspended", so it reads
    // Ready=False as in progress.
    let mut renamed = project("ready", "opschain", "ks_ready", json!({"suspend": true}));
    renamed["spec"]["opschain"]["name"] = json!("Renamed");
    apply(&client, ns, renamed).await;
    wait_until(
        &api,
        "ready",
        "held",
        std::time::Duration::from_secs(30),
        |p| {
            p.status.as_ref().and_then(|s| s.common.observed_generation) == p.metadata.generation
                && condition(p, "Ready").is_some_and(|c| c.status == "False")
        },
    )
    .await;
    let r = assert_reads(
        (ns, "projects.converge.dev", "ready"),
        "InProgress",
        "Suspended",
        false,
    )
    .await;
    assert!(r.argocd_message.contains("Renamed"), "{r:#?}");

    // ObserveOnly with the same change: writes held too, so Argo CD reads it as suspended.
    let mut observed = project(
        "ready",
        "opschain",
        "ks_ready",
        json!({"managementPolicy": "ObserveOnly"}),
    );
    observed["spec"]["opschain"]["name"] = json!("Renamed");
    apply(&client, ns, observed).await;
    wait_reason(&api, "ready", "Ready", "Observed").await;
    let r = assert_reads(
        (ns, "projects.converge.dev", "ready"),
        "InProgress",
        "Suspended",
        false,
    )
    .await;
    assert!(r.argocd_message.contains("ObserveOnly"), "{r:#?}");
}

/// The commit of the held build (unique to this binary).
const HELD_COMMIT: &str = "4f2c9e1";

/// Holds (or releases) Choreo builds of `commit` under way in the sandbox.
async fn hold(commit: &str, on: bool) {
    let url = format!("{}/_sandbox/holds", env().sandbox("choreo"));
    let http = reqwest::Client::new();
    let sent = if on {
        http.post(url).json(&json!({"match": commit})).send().await
    } else {
        http.delete(url).query(&[("match", commit)]).send().await
    };
    assert!(sent.unwrap().status().is_success());
}

#[tokio::test]
async fn a_component_reads_in_progress_while_its_choreo_build_runs_then_current() {
    env();
    hold(HELD_COMMIT, true).await;
    let client = client().await;
    let ns = "kstatus-component";
    namespace(&client, ns).await;
    connect(&client, ns, "choreo").await;
    apply(
        &client,
        ns,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Project",
               "metadata": {"name": "shop"},
               "spec": {"connectionRef": {"name": "choreo"}, "deletionPolicy": "Orphan",
                        "choreo": {"name": "kstatus-shop"}}}),
    )
    .await;
    apply(
        &client,
        ns,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Component",
               "metadata": {"name": "orders"},
               "spec": {"connectionRef": {"name": "choreo"}, "projectRef": {"name": "shop"},
                        "choreo": {"name": "orders", "type": "Service",
                                   "repoUrl": "https://github.com/acme/orders", "branch": "main",
                                   "revision": {"branch": "main", "commit": "4f2c9e1"}}}}),
    )
    .await;
    let api = Api::<Component>::namespaced(client.clone(), ns);
    // The build is held InProgress by the sandbox until released, so the state is read while
    // it lasts, however busy the machine.
    wait_until(
        &api,
        "orders",
        "building",
        std::time::Duration::from_secs(60),
        |c| condition(c, "Ready").is_some_and(|r| r.message.contains("building revision")),
    )
    .await;
    let building = assert_reads(
        (ns, "components.converge.dev", "orders"),
        "InProgress",
        "Progressing",
        false,
    )
    .await;
    assert!(
        building.kstatus_message.contains("building revision"),
        "{building:#?}"
    );

    hold(HELD_COMMIT, false).await;
    wait_ready(&api, "orders").await;
    assert_reads(
        (ns, "components.converge.dev", "orders"),
        "Current",
        "Healthy",
        true,
    )
    .await;
}

/// Between `kubectl apply` and Converge's first status write, an object already reads as not
/// converged: the CRDs default `status.observedGeneration` to 0 (kstatus would read an object
/// with no status as Current). A server-side dry run shows the object as created, before any
/// controller has seen it.
#[tokio::test]
async fn a_new_object_reads_in_progress_before_converge_writes_status() {
    env();
    let client = client().await;
    let ns = "kstatus-new";
    namespace(&client, ns).await;
    let cp = controlplane::shared().await;
    let mut child = cp
        .kubectl()
        .args([
            "create",
            "--dry-run=server",
            "-o",
            "json",
            "-n",
            ns,
            "-f",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let manifest = project("fresh", "opschain", "ks_fresh", json!({}));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(manifest.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let object: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        object["status"],
        json!({"observedGeneration": 0}),
        "{object:#}"
    );
    assert_eq!(kstatus(&object).0, "InProgress");
    assert_eq!(argocd_health(&object).0, "Progressing");
}

/// Objects in states the controller passes through too briefly to catch: kstatus and the Lua
/// read the same JSON.
#[test]
fn transient_states_read_alike() {
    let object = |metadata: Value, spec: Value, status: Value| {
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Workflow",
               "metadata": metadata, "spec": spec, "status": status})
    };
    let ready = |status: &str, reason: &str| {
        json!({"type": "Ready", "status": status, "reason": reason, "message": reason,
               "lastTransitionTime": "2026-01-01T00:00:00Z"})
    };
    let stalled = json!({"type": "Stalled", "status": "True", "reason": "InvalidSpec",
        "message": "spec is wrong", "lastTransitionTime": "2026-01-01T00:00:00Z"});
    let cases = [
        (
            "a spec change not observed yet",
            object(
                json!({"name": "w", "generation": 3}),
                json!({}),
                json!({"observedGeneration": 2, "conditions": [ready("True", "Converged")]}),
            ),
            ("InProgress", "Progressing"),
        ),
        (
            "a deletion whose cleanup runs",
            object(
                json!({"name": "w", "generation": 1, "deletionTimestamp": "2026-01-01T00:00:00Z",
                       "finalizers": ["converge.dev/cleanup"]}),
                json!({}),
                json!({"observedGeneration": 1, "conditions": [ready("False", "Deleting")]}),
            ),
            ("Terminating", "Progressing"),
        ),
        (
            "stalled while suspended",
            object(
                json!({"name": "w", "generation": 1}),
                json!({"suspend": true}),
                json!({"observedGeneration": 1,
                       "conditions": [ready("False", "InvalidSpec"), stalled]}),
            ),
            ("Failed", "Degraded"),
        ),
    ];
    for (what, obj, (k, a)) in cases {
        assert_eq!(
            (kstatus(&obj).0.as_str(), argocd_health(&obj).0.as_str()),
            (k, a),
            "{what}"
        );
    }
}

/// The snippet covers every kind with health.lua verbatim, and merges into an existing
/// argocd-cm the way the README says.
#[tokio::test]
async fn argocd_cm_covers_every_kind_and_patches_into_argocd_cm() {
    let lua = std::fs::read_to_string(repo("gitops/argocd/health.lua")).unwrap();
    let data = argocd_cm();
    let mut want: Vec<String> = converge_api::crds::all()
        .iter()
        .map(|c| {
            format!(
                "resource.customizations.health.{}_{}",
                c.spec.group, c.spec.names.kind
            )
        })
        .collect();
    want.sort();
    let mut have: Vec<String> = data.keys().cloned().collect();
    have.sort();
    assert_eq!(have, want);
    for (key, script) in &data {
        assert!(
            script.as_str() == Some(lua.as_str()),
            "{key} in argocd-cm.yaml differs from gitops/argocd/health.lua: run gitops/argocd/render.sh"
        );
    }

    let cp = controlplane::shared().await;
    let kubectl = |args: &[&str]| {
        let out = cp.kubectl().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    kubectl(&["create", "namespace", "argocd"]);
    kubectl(&[
        "create",
        "configmap",
        "argocd-cm",
        "-n",
        "argocd",
        "--from-literal=url=https://argocd.example.com",
    ]);
    let patch = repo("gitops/argocd/argocd-cm.yaml");
    kubectl(&[
        "patch",
        "configmap",
        "argocd-cm",
        "-n",
        "argocd",
        "--patch-file",
        patch.to_str().unwrap(),
    ]);
    let merged: Value = serde_json::from_str(&kubectl(&[
        "get",
        "configmap",
        "argocd-cm",
        "-n",
        "argocd",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(merged["data"]["url"], "https://argocd.example.com");
    for key in &want {
        assert_eq!(merged["data"][key].as_str(), Some(lua.as_str()), "{key}");
    }
}

/// A GatewayApplication whose canary `steps` to v2 are judged on API7's metrics.
fn judged_canary(name: &str, v2_host: &str) -> Value {
    json!({"apiVersion": "converge.dev/v1alpha1", "kind": "GatewayApplication",
        "metadata": {"name": name},
        "spec": {"connectionRef": {"name": "api7"}, "name": name,
            "hosts": [format!("{name}.acme.test")], "pathPrefix": format!("/{name}"),
            "upstreams": [
                {"version": "v1", "targets": [{"host": "v1.internal", "port": 8080}]},
                {"version": "v2", "targets": [{"host": v2_host, "port": 8080}]}],
            "defaultUpstreamVersion": "v1",
            "canary": {"name": "to-v2", "upstreamVersion": "v2",
                "steps": [{"weight": 50}, {"weight": 100}],
                "analysis": {"provider": {"api7": {}}, "interval": "1s", "faultTimeout": "2s",
                    "failureRate": {"max": 5}, "requests": {"min": 1}}}}})
}

/// A canary rolled back by its analysis needs a person: kstatus reads it Failed (not Current),
/// Argo CD Degraded, and `kubectl wait` does not pass; so does a canary paused because its
/// metrics cannot be read. Declaring the abort acknowledges the rollback: Current again.
#[tokio::test]
async fn a_canary_rolled_back_or_paused_by_its_analysis_reads_failed() {
    env();
    let client = client().await;
    let ns = "kstatus-canary";
    namespace(&client, ns).await;
    connect(&client, ns, "api7").await;
    let api = Api::<converge_api::gateway::GatewayApplication>::namespaced(client.clone(), ns);

    // v2's only target never resolves: every request sent there fails (502).
    apply(&client, ns, judged_canary("rolled-back", "v2.invalid")).await;
    wait_reason(&api, "rolled-back", "Stalled", "CanaryAnalysisFailed").await;
    let r = assert_reads(
        (ns, "gatewayapplications", "rolled-back"),
        "Failed",
        "Degraded",
        false,
    )
    .await;
    assert!(
        r.kstatus_message
            .contains("by its analysis: failureRate 50% (max 5%)"),
        "{r:#?}"
    );

    // The metrics operation answers 503: the canary pauses at its weight.
    let put = reqwest::Client::new()
        .put(format!("{}/_sandbox/traffic", env().sandbox("api7")))
        .json(&json!({"application": "paused", "metrics": "error"}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    apply(&client, ns, judged_canary("paused", "v2.internal")).await;
    wait_reason(&api, "paused", "Stalled", "CanaryPaused").await;
    assert_reads(
        (ns, "gatewayapplications", "paused"),
        "Failed",
        "Degraded",
        false,
    )
    .await;

    // abort: true declares what happened: the object matches its spec again.
    let mut acknowledged = judged_canary("rolled-back", "v2.invalid");
    acknowledged["spec"]["canary"]["abort"] = json!(true);
    apply(&client, ns, acknowledged).await;
    wait_ready(&api, "rolled-back").await;
    assert_reads(
        (ns, "gatewayapplications", "rolled-back"),
        "Current",
        "Healthy",
        true,
    )
    .await;
}
