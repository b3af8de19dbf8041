//! `converge local` and `converge plan` as a newcomer runs them: real processes, the README's
//! commands, no cluster (KUBECONFIG points nowhere) except for `plan --cluster`, which reads the
//! test apiserver.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::converge::*;
use converge::project::crd::Project;
use kube::Api;
use serde_json::json;

fn converge() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_converge"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("RUST_LOG");
    c
}

/// The rows of the final table, as (object, platform, id, state).
fn table_rows(out: &str) -> Vec<(String, String, String, String)> {
    let start = out
        .rfind("\nOBJECT ")
        .expect("the output ends with a table");
    out[start + 1..]
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (
                cols[0].to_string(),
                cols[1].to_string(),
                cols[2].to_string(),
                cols[3].to_string(),
            )
        })
        .collect()
}

#[test]
fn local_converges_the_examples_with_no_cluster_and_prints_every_object() {
    let started = Instant::now();
    let out = converge()
        .args(["local", "--step-delay", "0s", "--timeout", "3m"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    eprintln!(
        "converge local on examples/: {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let rows = table_rows(&stdout);
    assert_eq!(rows.len(), 16, "{stdout}");
    assert!(stdout.contains("16/16 Ready"), "{stdout}");
    for (object, platform, id, state) in &rows {
        assert!(
            ["Converged", "Connected", "Observed"].contains(&state.as_str()),
            "{object} is {state}\n{stdout}"
        );
        assert!(
            ["choreo", "cycloid", "frends", "api7", "opschain"].contains(&platform.as_str()),
            "{object}: {platform}"
        );
        let managed = !object.starts_with("PlatformConnection/");
        let observed_only = object == "ApiSpec/orders-api-observed";
        if managed && !observed_only {
            assert_ne!(id, "-", "{object} has a platform id\n{stdout}");
        }
    }
    // Progress came as Events while it happened, not only at the end.
    for event in [
        "Project/billing  Created:",
        "Component/orders-service  Deployed:",
        "GatewayApplication/checkout  CanaryPromoted:",
        "Workflow/web-release  StepApproved:",
    ] {
        assert!(stdout.contains(event), "no {event:?} line\n{stdout}");
    }
    assert!(
        stdout.contains("the built-in cycloid sandbox"),
        "connections are pointed at the sandboxes, and it says so\n{stdout}"
    );
    assert!(
        !stderr.contains("WARN") && !stderr.contains("ERROR"),
        "a clean run logs no warnings\n{stderr}"
    );
}

#[test]
fn local_refuses_invalid_manifests_before_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    // Two platform blocks: the CRD's CEL rule refuses it, and so does `converge local`.
    std::fs::write(
        dir.path().join("bad.yaml"),
        "apiVersion: converge.dev/v1alpha1\nkind: Project\nmetadata: {name: x}\nspec:\n  connectionRef: {name: c}\n  cycloid: {canonical: x, name: X}\n  opschain: {code: x, name: X}\n",
    )
    .unwrap();
    let out = converge()
        .args(["local", "-f"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("spec.cycloid: missing field `configRepositoryCanonical`"),
        "the error names the file and the field: {stderr}"
    );
    assert!(stderr.contains("bad.yaml"), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("converging"),
        "nothing started"
    );
}

/// Lines of a child's stdout, read on a thread.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Reads lines until one contains `needle`; returns everything read.
fn read_until(rx: &mpsc::Receiver<String>, needle: &str, seen: &mut String) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(needle) {
                    return;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    panic!("no line with {needle:?}; output so far:\n{seen}");
}

#[test]
fn local_watch_reloads_changed_and_removed_manifests() {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "connection.yaml",
        "project.yaml",
        "component.yaml",
        "workflow.yaml",
    ] {
        std::fs::copy(format!("examples/cycloid/{f}"), dir.path().join(f)).unwrap();
    }
    let mut child = converge()
        .args(["local", "--watch", "--step-delay", "0s", "-f"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    let mut seen = String::new();
    read_until(&rx, "Ready after", &mut seen);
    assert!(seen.contains("4/4 Ready"), "{seen}");
    read_until(&rx, "watching", &mut seen);

    // A new environment in the project.
    let project = std::fs::read_to_string(dir.path().join("project.yaml")).unwrap();
    let project = project.replace(
        "      - canonical: prod\n",
        "      - canonical: qa\n        name: QA\n        color: green\n      - canonical: prod\n",
    );
    std::fs::write(dir.path().join("project.yaml"), project).unwrap();
    read_until(&rx, "reloaded", &mut seen);
    assert!(seen.contains("0 created, 1 updated, 0 deleted"), "{seen}");
    read_until(&rx, "Ready after", &mut seen);
    let table = &seen[seen.rfind("\nOBJECT ").unwrap()..];
    assert!(table.contains("with 3 environment(s)"), "{table}");

    // The workflow's file goes away: the object is deleted like `kubectl apply --prune`.
    std::fs::remove_file(dir.path().join("workflow.yaml")).unwrap();
    read_until(&rx, "reloaded", &mut seen);
    assert!(seen.contains("0 created, 0 updated, 1 deleted"), "{seen}");
    read_until(&rx, "Ready after", &mut seen);
    let table = &seen[seen.rfind("\nOBJECT ").unwrap()..];
    assert!(!table.contains("Workflow/"), "{table}");
    assert!(table.contains("3/3 Ready"), "{table}");

    // An invalid edit is refused and the last good state stays.
    std::fs::write(dir.path().join("broken.yaml"), "kind: Project\napiVersion: converge.dev/v1alpha1\nmetadata: {name: b}\nspec: {connectionRef: {name: cycloid}}\n").unwrap();
    read_until(&rx, "not reloaded", &mut seen);

    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "converge local --watch stops on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn plan_lists_the_platform_calls_and_writes_nothing() {
    let out = converge().args(["plan"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "Project/billing  (cycloid)\n  + create Cycloid project \"billing\"",
        "ApiSpec/petstore  (frends)\n  + create the Frends API specification \"Petstore\"",
        "GatewayApplication/checkout  (api7)\n  + create application checkout",
        "+ start canary release checkout-v2",
        "ApiSpec/orders-api-observed  (choreo)\n  = no changes",
        "Component/billing-api  (cycloid)\n  … planned once what it needs exists: waiting for Project \"billing\"",
        "Platform calls: ",
        " read(s), 0 write(s).",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in\n{stdout}");
    }
}

#[tokio::test]
async fn plan_against_the_cluster_shows_only_what_differs() {
    let env = env();
    let client = client().await;
    let ns = "local-plan";
    namespace(&client, ns).await;
    connect(&client, ns, "cycloid").await;
    let project = json!({
        "apiVersion": "converge.dev/v1alpha1", "kind": "Project",
        "metadata": {"name": "planned", "namespace": ns},
        "spec": {"connectionRef": {"name": "cycloid"}, "driftInterval": "1h",
                 "cycloid": {"canonical": "planned-proj", "name": "Planned", "configRepositoryCanonical": "acme-config",
                             "environments": [{"canonical": "dev", "name": "Dev"}]}},
    });
    apply(&client, ns, project.clone()).await;
    let projects: Api<Project> = Api::namespaced(client.clone(), ns);
    wait_ready(&projects, "planned").await;

    // The repository now declares one more environment.
    let mut changed = project;
    changed["spec"]["cycloid"]["environments"]
        .as_array_mut()
        .unwrap()
        .push(json!({"canonical": "prod", "name": "Prod"}));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("project.yaml"),
        serde_yaml_ng::to_string(&changed).unwrap(),
    )
    .unwrap();
    let writes_before = env.writes("cycloid", "planned-proj").await;
    let kubeconfig = common::controlplane::shared()
        .await
        .kubeconfig()
        .to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        let mut c = converge();
        c.env("KUBECONFIG", kubeconfig)
            .args(["plan", "--cluster", "-f"])
            .arg(dir.path())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let section = &stdout[stdout
        .find("Project/planned")
        .expect("the project is planned")..];
    let section: String = section.lines().take(4).collect::<Vec<_>>().join("\n");
    assert!(
        section.contains("prod"),
        "the new environment is planned:\n{stdout}"
    );
    assert!(
        !stdout.contains("create Cycloid project"),
        "the project is recognised as Converge's own from the cluster's status:\n{stdout}"
    );
    assert!(stdout.contains("PlatformConnection/cycloid"), "{stdout}");
    assert_eq!(
        env.writes("cycloid", "planned-proj").await,
        writes_before,
        "plan wrote nothing to the platform"
    );
    let live = projects.get("planned").await.unwrap();
    let envs = &live.spec.cycloid.as_ref().unwrap().environments;
    assert_eq!(envs.len(), 1, "plan wrote nothing to the cluster");
}
