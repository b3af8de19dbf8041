//! The deletion order on a real apiserver whose kube-controller-manager really deletes
//! namespaces: a namespace full of objects of every kind on every platform goes away with
//! their platform objects (Delete) or without touching them (Orphan), and nothing wedges; a
//! Project deleted while Components and Workflows still use it waits for them, so the
//! platform sees the children deleted first; a PlatformConnection in use says who uses it.

mod common;

use std::time::{Duration, Instant};

use common::converge::*;
use common::every_kind::everything;
use converge_api::connection::PlatformConnection;
use converge_api::project::Project;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};

const PLATFORMS: [&str; 5] = ["choreo", "cycloid", "frends", "api7", "opschain"];
/// How long a namespace full of objects may take to go; the namespace controller re-checks
/// with backoff, so this is mostly its pace, not Converge's.
const NAMESPACE_GONE: Duration = Duration::from_secs(90);

/// Every JSON object in the sandbox's state that names `marker` in one of its own strings,
/// outside archived objects (OpsChain's delete archives, with what the object holds) and
/// OpsChain property sets (they belong to their project or environment, archived with it).
fn named(state: &Value, marker: &str, out: &mut Vec<Value>) {
    match state {
        Value::Object(map) => {
            if map.get("archived") == Some(&json!(true)) || map.contains_key("owner_path") {
                return;
            }
            let own = map
                .values()
                .any(|v| v.as_str().is_some_and(|s| s.contains(marker)));
            if own {
                out.push(state.clone());
            }
            map.values().for_each(|v| named(v, marker, out));
        }
        Value::Array(items) => items.iter().for_each(|v| named(v, marker, out)),
        _ => {}
    }
}

async fn platform_objects(env: &Env, marker: &str) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for p in PLATFORMS {
        let mut here = Vec::new();
        named(&env.state(p).await, marker, &mut here);
        found.extend(here.into_iter().map(|v| (p.to_string(), v)));
    }
    found
}

async fn fill(client: &kube::Client, ns: &str, marker: &str, policy: &str) {
    namespace(client, ns).await;
    for p in PLATFORMS {
        connect(client, ns, p).await;
    }
    let objects = everything(marker, policy);
    for o in &objects {
        apply(client, ns, o.clone()).await;
    }
    let started = Instant::now();
    let cp = common::controlplane::shared().await;
    let o = cp
        .kubectl()
        .args(["wait", "-n", ns, "--for=condition=Ready", "--timeout=120s"])
        .arg("projects.converge.dev,components,apispecs,gatewayapplications,workflows")
        .arg("--all")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{ns}: not all Ready: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!(
        "{ns}: {} objects on 5 platforms Ready in {:?}",
        objects.len(),
        started.elapsed()
    );
}

/// Deletes the namespace and returns how long it took to be gone.
async fn delete_namespace(client: &kube::Client, ns: &str) -> Duration {
    let api = Api::<Namespace>::all(client.clone());
    let started = Instant::now();
    api.delete(ns, &DeleteParams::default()).await.unwrap();
    while api.get_opt(ns).await.unwrap().is_some() {
        if started.elapsed() > NAMESPACE_GONE {
            let cp = common::controlplane::shared().await;
            let o = cp
                .kubectl()
                .args(["get", "-n", ns, "-o", "yaml"])
                .arg("platformconnections,projects.converge.dev,components,apispecs,gatewayapplications,workflows")
                .output()
                .unwrap();
            panic!(
                "namespace {ns} still exists {NAMESPACE_GONE:?} after its deletion:\n{}",
                String::from_utf8_lossy(&o.stdout)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn deleting_a_namespace_deletes_or_orphans_every_platform_object_and_never_wedges() {
    let env = env();
    let client = client().await;

    // Delete: the namespace goes, and so does every platform object.
    let marker = "nsdel";
    fill(&client, "deletion-delete", marker, "Delete").await;
    let before = platform_objects(env, marker).await;
    assert!(
        before.len() >= 9,
        "the sandboxes hold the objects: {before:#?}"
    );
    let took = delete_namespace(&client, "deletion-delete").await;
    eprintln!("namespace with deletionPolicy Delete gone in {took:?}");
    let left = platform_objects(env, marker).await;
    if !left.is_empty() {
        let logs = env.logs.text();
        let lines: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("deletion-delete") && !l.contains("DEBUG"))
            .collect();
        panic!(
            "platform objects left behind: {left:?}\ncontroller said:\n{}",
            lines.join("\n")
        );
    }

    // Orphan: the namespace goes, the platform objects stay as they were.
    let marker = "nsorph";
    fill(&client, "deletion-orphan", marker, "Orphan").await;
    let before = platform_objects(env, marker).await;
    let took = delete_namespace(&client, "deletion-orphan").await;
    eprintln!("namespace with deletionPolicy Orphan gone in {took:?}");
    let after = platform_objects(env, marker).await;
    assert_eq!(
        after.len(),
        before.len(),
        "Orphan leaves every platform object: before {before:#?}\nafter {after:#?}"
    );
}

/// The sandbox's call log: (method, path) in order.
async fn calls(env: &Env, platform: &str) -> Vec<(String, String)> {
    let calls: Vec<Value> = reqwest::get(format!("{}/_sandbox/calls", env.sandbox(platform)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    calls
        .into_iter()
        .map(|c| {
            (
                c["method"].as_str().unwrap_or_default().to_string(),
                c["path"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_project_waits_for_its_components_and_workflows_then_goes_last() {
    let env = env();
    let client = client().await;
    let ns = "deletion-order";
    namespace(&client, ns).await;
    connect(&client, ns, "cycloid").await;
    let m = "order";
    for o in everything(m, "Delete").into_iter().take(3) {
        apply(&client, ns, o).await;
    }
    let projects = Api::<Project>::namespaced(client.clone(), ns);
    let components = Api::<converge_api::component::Component>::namespaced(client.clone(), ns);
    let workflows = Api::<converge_api::workflow::Workflow>::namespaced(client.clone(), ns);
    wait_ready(&projects, "cy-proj").await;
    wait_ready(&components, "cy-api").await;
    wait_ready(&workflows, "cy-build").await;

    // The Project first: it waits, saying for whom, while its children live.
    projects
        .delete("cy-proj", &DeleteParams::default())
        .await
        .unwrap();
    let p = wait_until(
        &projects,
        "cy-proj",
        "waiting for its children",
        Duration::from_secs(30),
        |p| {
            condition(p, "Ready")
                .is_some_and(|c| c.reason == "Deleting" && c.message.contains("Component cy-api"))
        },
    )
    .await;
    let message = condition(&p, "Ready").unwrap().message;
    assert!(message.contains("Workflow cy-build"), "{message}");
    let deleting = wait_event(&client, ns, "cy-proj", "Deleting").await;
    assert!(deleting.contains("to be deleted first"), "{deleting}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !calls(env, "cycloid")
            .await
            .iter()
            .any(|(method, path)| method == "DELETE" && path.ends_with(&format!("/{m}-cy"))),
        "the project is not deleted on the platform while its children exist"
    );
    assert!(projects.get_opt("cy-proj").await.unwrap().is_some());

    // The children go (the Component also waits for its Workflow), then the Project follows.
    components
        .delete("cy-api", &DeleteParams::default())
        .await
        .unwrap();
    delete_and_wait(&workflows, "cy-build").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while projects.get_opt("cy-proj").await.unwrap().is_some()
        || components.get_opt("cy-api").await.unwrap().is_some()
    {
        assert!(Instant::now() < deadline, "the Project never followed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deletes: Vec<String> = calls(env, "cycloid")
        .await
        .into_iter()
        .filter(|(method, path)| method == "DELETE" && path.contains(m))
        .map(|(_, path)| path)
        .collect();
    let component = deletes
        .iter()
        .position(|p| p.contains(&format!("{m}-cy-api")))
        .unwrap_or_else(|| panic!("no component delete: {deletes:?}"));
    let project = deletes
        .iter()
        .position(|p| p.ends_with(&format!("/projects/{m}-cy")))
        .unwrap_or_else(|| panic!("no project delete: {deletes:?}"));
    assert!(
        component < project,
        "children are deleted on the platform before their project: {deletes:?}"
    );
}

#[tokio::test]
async fn a_connection_in_use_waits_for_its_users_and_names_them() {
    let client = client().await;
    let ns = "deletion-connection";
    namespace(&client, ns).await;
    connect(&client, ns, "api7").await;
    let objects = everything("inuse", "Delete");
    for o in objects
        .iter()
        .filter(|o| o["spec"]["connectionRef"]["name"] == "api7")
    {
        apply(&client, ns, o.clone()).await;
    }
    let apps = Api::<converge_api::gateway::GatewayApplication>::namespaced(client.clone(), ns);
    let specs = Api::<converge_api::apispec::ApiSpec>::namespaced(client.clone(), ns);
    wait_ready(&apps, "a7-app").await;
    wait_ready(&specs, "a7-spec").await;

    let conns = Api::<PlatformConnection>::namespaced(client.clone(), ns);
    conns
        .delete("api7", &DeleteParams::default())
        .await
        .unwrap();
    let c = wait_until(
        &conns,
        "api7",
        "waiting for its users",
        Duration::from_secs(30),
        |c| {
            c.status.as_ref().is_some_and(|s| {
                s.common
                    .condition("Reconciling")
                    .is_some_and(|r| r.reason == "Deleting" && r.message.contains("2 objects"))
            })
        },
    )
    .await;
    let message = c
        .status
        .unwrap()
        .common
        .condition("Reconciling")
        .unwrap()
        .message
        .clone();
    assert!(
        message.contains("GatewayApplication a7-app") && message.contains("ApiSpec a7-spec"),
        "{message}"
    );
    wait_event(&client, ns, "api7", "InUse").await;

    // Its users can still delete their platform objects through it; then it goes.
    delete_and_wait(&apps, "a7-app").await;
    assert!(
        wait_event(&client, ns, "a7-app", "Deleted")
            .await
            .contains("deleted"),
        "deleted through the connection being deleted"
    );
    delete_and_wait(&specs, "a7-spec").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while conns.get_opt("api7").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the connection never went");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_object_whose_connection_is_truly_gone_is_released_not_wedged() {
    let client = client().await;
    let ns = "deletion-gone";
    namespace(&client, ns).await;
    connect(&client, ns, "api7").await;
    let app = everything("gone", "Delete")
        .into_iter()
        .find(|o| o["kind"] == "GatewayApplication")
        .unwrap();
    apply(&client, ns, app).await;
    let apps = Api::<converge_api::gateway::GatewayApplication>::namespaced(client.clone(), ns);
    wait_ready(&apps, "a7-app").await;

    // Someone removes the connection's finalizer by hand: it is gone for good.
    let conns = Api::<PlatformConnection>::namespaced(client.clone(), ns);
    conns
        .delete("api7", &DeleteParams::default())
        .await
        .unwrap();
    conns
        .patch(
            "api7",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while conns.get_opt("api7").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the connection never went");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The controller drops the client of a connection gone this way within seconds.
    tokio::time::sleep(Duration::from_secs(7)).await;
    delete_and_wait(&apps, "a7-app").await;
    let gone = wait_event(&client, ns, "a7-app", "ConnectionGone").await;
    assert!(
        gone.contains("no longer exists") && gone.contains("left on the platform"),
        "{gone}"
    );
}
