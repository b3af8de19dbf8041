//! A controller killed between a platform create and the status write that records it: the
//! restarted controller recognises the object it created and converges without a duplicate.
//! And a controller killed in the middle of a canary analysis (a check made, nothing recorded
//! yet): the restarted one resumes the step the platform's weight names, judges it, and goes
//! on, without skipping a step or repeating one.
//!
//! The controller runs as a real `converge run` process. The `after-platform-create` failpoint
//! (the `fail` crate, configured through FAILPOINTS) pauses it right after the create returns;
//! the test then kills it with SIGKILL, as a node failure or an OOM kill would. One case per
//! platform whose objects Converge creates by a natural key: a Cycloid Project (canonical), a
//! Frends ApiSpec (Frends reads back no base path: the restarted controller finds the
//! specification by the marker Converge wrote into its description; a second create would be
//! refused for the base path and stall, so Ready proves the marker was found) and an API7
//! GatewayApplication (name).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::controlplane;
use common::converge::{apply, connection_spec, credentials, install_crds, namespace, put_secret};
use kube::api::Api;
use kube::core::{DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

struct Case {
    platform: &'static str,
    kind: &'static str,
    object: Value,
    /// A create call: POST to a path ending with this.
    create_path: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            platform: "cycloid",
            kind: "Project",
            object: json!({"connectionRef": {"name": "cycloid"},
                "cycloid": {"canonical": "crash-shop", "name": "Shop", "configRepositoryCanonical": "acme-config"}}),
            create_path: "/organizations/acme/projects",
        },
        Case {
            platform: "frends",
            kind: "ApiSpec",
            object: json!({"connectionRef": {"name": "frends"},
                "definition": {"inline": "openapi: 3.0.1\ninfo:\n  title: Crash Orders\n  version: 1.0.0\nservers:\n  - url: /api/crash/v1\npaths: {}\n"},
                "frends": {"basePath": "/api/crash/v1"}}),
            create_path: "/api-management/api-specifications",
        },
        Case {
            platform: "api7",
            kind: "GatewayApplication",
            object: json!({"connectionRef": {"name": "api7"}, "name": "crash-app",
                "hosts": ["crash.acme.test"], "pathPrefix": "/crash",
                "upstreams": [{"version": "v1", "targets": [{"host": "v1.internal", "port": 8080}]}],
                "defaultUpstreamVersion": "v1"}),
            create_path: "/apps",
        },
    ]
}

/// A `converge run` of namespace `ns` only (the tests of this binary run side by side).
fn controller(
    kubeconfig: &std::path::Path,
    ns: &str,
    failpoints: Option<&str>,
    log: &std::path::Path,
) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_converge"));
    c.args([
        "run",
        "--health-addr",
        "127.0.0.1:0",
        "--shutdown-grace",
        "2s",
        "--namespace",
        ns,
    ])
    .env("KUBECONFIG", kubeconfig)
    .env("RUST_LOG", "info")
    .env_remove("FAILPOINTS")
    .stdin(Stdio::null());
    let file = std::fs::File::create(log).unwrap();
    c.stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file));
    if let Some(f) = failpoints {
        c.env("FAILPOINTS", f);
    }
    c.spawn().unwrap()
}

fn kill(child: &mut Child) {
    // SIGKILL: no graceful shutdown, no chance to finish the status write.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
}

async fn creates(sandbox: &str, path: &str) -> usize {
    calls(sandbox)
        .await
        .iter()
        .filter(|(method, p)| method == "POST" && p.ends_with(path))
        .count()
}

/// The sandbox's call log, in order: (method, path).
async fn calls(sandbox: &str) -> Vec<(String, String)> {
    let calls: Vec<Value> = reqwest::get(format!("{sandbox}/_sandbox/calls"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    calls
        .iter()
        .map(|c| {
            (
                c["method"].as_str().unwrap().to_string(),
                c["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Namespace `ns` with a PlatformConnection named `platform` to that sandbox; the sandbox's
/// base URL (for its admin routes).
async fn connect(
    client: &kube::Client,
    sandboxes: &converge_sandbox::all::Sandboxes,
    ns: &str,
    platform: &str,
) -> String {
    let (_, sandbox, endpoint) = sandboxes
        .endpoints()
        .into_iter()
        .find(|e| e.0 == platform)
        .unwrap();
    namespace(client, ns).await;
    let secret = format!("{platform}-credentials");
    put_secret(client, ns, &secret, credentials(platform)).await;
    apply(
        client,
        ns,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
               "metadata": {"name": platform},
               "spec": connection_spec(platform, &endpoint, &secret)}),
    )
    .await;
    sandbox
}

/// The shared control plane with the CRDs, fresh sandboxes, a client and a log directory.
async fn world() -> (
    &'static controlplane::ControlPlane,
    converge_sandbox::all::Sandboxes,
    kube::Client,
    tempfile::TempDir,
) {
    let cp = controlplane::shared().await;
    install_crds(cp);
    let sandboxes =
        converge_sandbox::all::Sandboxes::start(converge_sandbox::all::Options::ephemeral())
            .await
            .unwrap();
    let client = cp.client().await.unwrap();
    (cp, sandboxes, client, tempfile::tempdir().unwrap())
}

async fn api(client: &kube::Client, ns: &str, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("converge.dev", "v1alpha1", kind);
    let (ar, _) = kube::discovery::pinned_kind(client, &gvk).await.unwrap();
    Api::namespaced_with(client.clone(), ns, &ar)
}

fn ready(o: &DynamicObject) -> bool {
    let status = &o.data["status"];
    status["observedGeneration"] == json!(o.metadata.generation)
        && status["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

#[tokio::test]
async fn a_controller_killed_after_a_create_does_not_create_twice() {
    let (cp, sandboxes, client, logs) = world().await;

    for case in cases() {
        let ns = format!("crash-{}", case.platform);
        let sandbox = connect(&client, &sandboxes, &ns, case.platform).await;
        apply(
            &client,
            &ns,
            json!({"apiVersion": "converge.dev/v1alpha1", "kind": case.kind,
                   "metadata": {"name": "crash"}, "spec": case.object}),
        )
        .await;
        let objects = api(&client, &ns, case.kind).await;
        let creates_before = creates(&sandbox, case.create_path).await;

        // First run: paused right after the platform created the object, then killed.
        let log = logs.path().join(format!("{}-first.log", case.platform));
        let mut first = controller(
            cp.kubeconfig(),
            &ns,
            Some("after-platform-create=pause"),
            &log,
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while creates(&sandbox, case.create_path).await == creates_before {
            if tokio::time::Instant::now() >= deadline {
                let o = objects.get("crash").await.unwrap();
                panic!(
                    "{}: the first controller never created it; status {:?}; log:\n{}",
                    case.kind,
                    o.data["status"],
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = objects.get("crash").await.unwrap();
        assert!(
            before.data["status"]["pendingCreate"].is_string(),
            "{}: the pending create is recorded before the call: {:?}",
            case.kind,
            before.data["status"]
        );
        kill(&mut first);

        // Second run: recognises the object it created.
        let log = logs.path().join(format!("{}-second.log", case.platform));
        let mut second = controller(cp.kubeconfig(), &ns, None, &log);
        let o = common::converge::wait_until(
            &objects,
            "crash",
            "Ready",
            Duration::from_secs(60),
            ready,
        )
        .await;
        kill(&mut second);
        let status = &o.data["status"];
        assert!(
            status["pendingCreate"].is_null(),
            "{}: {status:?}",
            case.kind
        );
        assert!(
            !status["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["type"] == "Stalled"),
            "{}: {status:?}",
            case.kind
        );
        assert_eq!(
            creates(&sandbox, case.create_path).await - creates_before,
            1,
            "{}: exactly one create across the crash",
            case.kind
        );
        eprintln!(
            "{} on {}: killed after the create, converged with one create",
            case.kind, case.platform
        );
    }
}

#[tokio::test]
async fn a_controller_killed_in_the_middle_of_an_analysis_resumes_it() {
    let (cp, sandboxes, client, logs) = world().await;
    let ns = "crash-canary";
    let sandbox = connect(&client, &sandboxes, ns, "api7").await;
    // Three steps without pauses: each ends with its first passing check, a second after it
    // began. The failpoint lets the first check (step 1) through and holds the second (step 2)
    // right after it measured.
    apply(
        &client,
        ns,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "GatewayApplication",
               "metadata": {"name": "crash-canary"},
               "spec": {"connectionRef": {"name": "api7"}, "name": "crash-canary",
                 "hosts": ["canary.acme.test"], "pathPrefix": "/canary",
                 "upstreams": [
                   {"version": "v1", "targets": [{"host": "v1.internal", "port": 8080}]},
                   {"version": "v2", "targets": [{"host": "v2.internal", "port": 8080}]}],
                 "defaultUpstreamVersion": "v1",
                 "canary": {"name": "to-v2", "upstreamVersion": "v2",
                   "steps": [{"weight": 20}, {"weight": 60}, {"weight": 100}],
                   "analysis": {"provider": {"api7": {}}, "interval": "1s",
                     "failureRate": {"max": 5}, "requests": {"min": 1}}}}}),
    )
    .await;
    let objects = api(&client, ns, "GatewayApplication").await;
    let is_metrics = |(m, p): &(String, String)| m == "GET" && p.contains("/metrics/api-requests");

    let log = logs.path().join("canary-first.log");
    let mut first = controller(
        cp.kubeconfig(),
        ns,
        Some("canary-measured=1*off->pause"),
        &log,
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while calls(&sandbox)
        .await
        .iter()
        .filter(|c| is_metrics(c))
        .count()
        < 2
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second check never came; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Held after measuring step 2: its check is not in status, the platform is at 60%.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = objects.get("crash-canary").await.unwrap();
    let canary = &held.data["status"]["canary"];
    assert_eq!(
        (canary["step"].as_i64(), canary["weight"].as_i64()),
        (Some(1), Some(60)),
        "{canary}"
    );
    assert_eq!(
        canary["analysis"]["step"], 0,
        "step 2's check not recorded: {canary}"
    );
    kill(&mut first);

    let log = logs.path().join("canary-second.log");
    let mut second = controller(cp.kubeconfig(), ns, None, &log);
    let o = common::converge::wait_until(
        &objects,
        "crash-canary",
        "promoted",
        Duration::from_secs(60),
        |o| ready(o) && o.data["status"]["canary"]["phase"] == "Promoted",
    )
    .await;
    kill(&mut second);

    // The release's writes, in order, with the checks between them: one create and one write
    // per step (no step repeated), and every step measured before the write that left it (none
    // skipped, the interrupted one included).
    let log: Vec<String> = calls(&sandbox)
        .await
        .into_iter()
        .filter_map(|c| {
            if is_metrics(&c) {
                Some("check".to_string())
            } else if c.1.contains("/canary_releases") && c.0 != "GET" {
                Some(c.0)
            } else {
                None
            }
        })
        .collect();
    let mut compact: Vec<&str> = Vec::new();
    for entry in &log {
        if compact.last() != Some(&entry.as_str()) || entry != "check" {
            compact.push(entry);
        }
    }
    assert_eq!(
        compact,
        ["POST", "check", "PUT", "check", "PUT", "check", "PUT"],
        "create at 20%, advance to 60%, advance to 100%, finish: {log:?}"
    );
    let analysis = &o.data["status"]["canary"]["analysis"];
    assert_eq!(analysis["step"], 2, "{analysis}");
    assert!(
        analysis["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["passed"] == true),
        "{analysis}"
    );
    eprintln!(
        "GatewayApplication canary: killed in the middle of step 2's analysis, resumed and promoted ({} checks in all)",
        log.iter().filter(|e| *e == "check").count()
    );
}
