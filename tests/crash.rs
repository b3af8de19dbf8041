//! A controller killed between a platform create and the status write that records it: the
//! restarted controller recognises the object it created and converges without a duplicate.
//!
//! The controller runs as a real `converge run` process. The `after-platform-create` failpoint
//! (the `fail` crate, configured through FAILPOINTS) pauses it right after the create returns;
//! the test then kills it with SIGKILL, as a node failure or OOM kill would.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::controlplane;
use common::converge::{apply, connection_spec, credentials, install_crds, namespace, put_secret};
use converge::project::crd::Project;
use kube::api::Api;
use serde_json::json;

fn controller(
    kubeconfig: &std::path::Path,
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

async fn calls(sandbox: &str) -> Vec<serde_json::Value> {
    reqwest::get(format!("{sandbox}/_sandbox/calls"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_controller_killed_after_a_create_does_not_create_twice() {
    let cp = controlplane::shared().await;
    install_crds(cp);
    let sandboxes =
        converge::sandbox::all::Sandboxes::start(converge::sandbox::all::Options::ephemeral())
            .await
            .unwrap();
    let (_, sandbox, endpoint) = sandboxes
        .endpoints()
        .into_iter()
        .find(|e| e.0 == "cycloid")
        .unwrap();
    let client = cp.client().await.unwrap();
    let ns = "crash";
    namespace(&client, ns).await;
    put_secret(&client, ns, "cycloid-credentials", credentials("cycloid")).await;
    apply(
        &client,
        ns,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
               "metadata": {"name": "cycloid"},
               "spec": connection_spec("cycloid", &endpoint, "cycloid-credentials")}),
    )
    .await;
    apply(
        &client,
        ns,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Project", "metadata": {"name": "shop"},
               "spec": {"connectionRef": {"name": "cycloid"},
                        "cycloid": {"canonical": "crash-shop", "name": "Shop",
                                    "configRepositoryCanonical": "acme-config"}}}),
    )
    .await;
    let logs = tempfile::tempdir().unwrap();
    let api = Api::<Project>::namespaced(client.clone(), ns);

    // First run: paused right after Cycloid created the project, then killed.
    let mut first = controller(
        cp.kubeconfig(),
        Some("after-platform-create=pause"),
        &logs.path().join("first.log"),
    );
    let created = |calls: &[serde_json::Value]| {
        calls
            .iter()
            .filter(|c| c["method"] == "POST" && c["path"].as_str().unwrap().ends_with("/projects"))
            .count()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while created(&calls(&sandbox).await) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first controller never created the project: {}",
            std::fs::read_to_string(logs.path().join("first.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = api.get("shop").await.unwrap().status.unwrap_or_default();
    assert_eq!(before.common.pending_create.as_deref(), Some("crash-shop"));
    assert_eq!(
        before.project_id, None,
        "the id must not have been recorded yet"
    );
    kill(&mut first);

    // Second run: recognises its own project.
    let mut second = controller(cp.kubeconfig(), None, &logs.path().join("second.log"));
    let p = common::converge::wait_until(
        &api,
        "shop",
        "Ready",
        Duration::from_secs(60),
        |p: &Project| common::converge::is_ready(p),
    )
    .await;
    let status = p.status.unwrap();
    assert_eq!(status.project_id.as_deref(), Some("crash-shop"));
    assert_eq!(status.common.pending_create, None);
    assert!(status.common.condition("Stalled").is_none());
    let calls = calls(&sandbox).await;
    assert_eq!(created(&calls), 1, "exactly one create call in all");
    kill(&mut second);
}
