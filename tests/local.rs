//! `converge local` and `converge plan` as a newcomer runs them: real processes, the README's
//! commands, no cluster (KUBECONFIG points nowhere) except for `plan --cluster`, which reads the
//! test apiserver.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::converge::*;
use converge_api::project::Project;
use kube::Api;
use serde_json::json;

fn converge() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_converge"));
    c.current_dir(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
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

/// Writes `files` (name, content) into a new temp dir.
fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

fn run(args: &[&str], dir: &std::path::Path) -> (bool, String, String) {
    let out = converge()
        .env("RUST_BACKTRACE", "1")
        .args(args)
        .arg("-f")
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

const BAD_PROJECT: &str = "apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {token: t}
---
apiVersion: converge.dev/v1alpha1
kind: Project
metadata: {name: billing}
spec:
  connectionRef: {name: c}
  deletionpolicy: Orphan
  cycloid:
    canonical: Billing_Project
    name: Billing
    configRepositoryCanonical: cfg
";

#[test]
fn local_and_plan_refuse_what_the_apiserver_refuses_naming_file_document_and_line() {
    let dir = dir_with(&[
        ("a.yaml", BAD_PROJECT),
        (
            "sub/b.json",
            r#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"token": "u"}}"#,
        ),
    ]);
    for command in [&["local"][..], &["plan"][..]] {
        let (ok, stdout, stderr) = run(command, dir.path());
        assert!(!ok, "{command:?} exits non-zero\n{stdout}\n{stderr}");
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("sub/b.json");
        for expected in [
            // The typo is refused, not dropped (it would have made Orphan a Delete).
            format!(
                "error: {}:11 (document 2): Project/billing: strict decoding error: unknown field \"spec.deletionpolicy\"",
                a.display()
            ),
            format!(
                "error: {}:1 (document 1): Secret/s: declared twice in namespace default: also at {}:1 (document 1)",
                b.display(),
                a.display()
            ),
        ] {
            assert!(
                stderr.contains(&expected),
                "{command:?}: no {expected:?} in\n{stderr}"
            );
        }
        assert!(
            !stderr.contains("stack backtrace") && !stderr.contains("Stack backtrace"),
            "a user error prints no backtrace, RUST_BACKTRACE=1 or not:\n{stderr}"
        );
        assert!(!stdout.contains("converging"), "nothing started:\n{stdout}");
    }
    // Fixed, the schema's own rules speak: the pattern, with the line of the field.
    std::fs::write(
        dir.path().join("a.yaml"),
        BAD_PROJECT.replace("  deletionpolicy: Orphan\n", ""),
    )
    .unwrap();
    std::fs::remove_dir_all(dir.path().join("sub")).unwrap();
    let (ok, _, stderr) = run(&["local"], dir.path());
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "{}:12 (document 2): Project/billing: spec.cycloid.canonical: Invalid value: \"Billing_Project\": spec.cycloid.canonical in body should match",
            dir.path().join("a.yaml").display()
        )),
        "{stderr}"
    );
}

#[test]
fn local_and_plan_say_when_there_is_nothing_to_converge() {
    let empty = tempfile::tempdir().unwrap();
    let only_other = dir_with(&[(
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
    )]);
    for command in [&["local"][..], &["plan"][..]] {
        let (ok, _, stderr) = run(command, empty.path());
        assert!(!ok, "{command:?} on an empty directory exits non-zero");
        assert!(
            stderr.contains(&format!(
                "error: no manifests found in {}: looked for .yaml, .yml and .json files",
                empty.path().display()
            )),
            "{stderr}"
        );
        let (ok, stdout, stderr) = run(command, only_other.path());
        assert!(!ok);
        assert!(
            stdout.contains(&format!(
                "skipped Deployment/web (apps/v1) at {}:1 (document 1)",
                only_other.path().join("deploy.yaml").display()
            )),
            "other kinds are listed as skipped:\n{stdout}"
        );
        assert!(stderr.contains("no Converge objects in"), "{stderr}");
    }
}

#[test]
fn local_reads_lists_json_and_skips_other_kinds_as_kubectl_apply_reads_a_directory() {
    let connection = std::fs::read_to_string("examples/opschain/connection.yaml").unwrap();
    let docs: Vec<serde_json::Value> = converge_local::manifests::yaml::documents(&connection)
        .unwrap()
        .into_iter()
        .filter_map(|d| d.value)
        .collect();
    let project = std::fs::read_to_string("examples/opschain/project.yaml").unwrap();
    let project: serde_json::Value = converge_local::manifests::yaml::documents(&project).unwrap()
        [0]
    .value
    .clone()
    .unwrap();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default", "labels": {"team": "web"}}},
        project,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "b"}}]});
    let dir = dir_with(&[
        // Several JSON objects in a row, as kubectl reads them.
        (
            "connection.json",
            &docs
                .iter()
                .map(|d| serde_json::to_string_pretty(d).unwrap())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ("list.yaml", &serde_yaml_ng::to_string(&list).unwrap()),
        (
            "deploy.yml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
        ),
        ("notes.txt", "not a manifest"),
    ]);
    let (ok, stdout, stderr) = run(&["local", "--step-delay", "0s"], dir.path());
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("skipped Deployment/web (apps/v1) at"),
        "{stdout}"
    );
    assert!(stdout.contains("converging 2 object(s)"), "{stdout}");
    assert!(stdout.contains("2/2 Ready"), "{stdout}");
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
    let (child, rx) = watch(dir.path());
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

    // The component's stack variables, changed twice: the same Event each time, printed each
    // time (the second counted on, as `kubectl events` counts it).
    let updated = "Component/billing-api  Updated: updated Cycloid component billing/staging/billing-api: stack variables";
    assert!(
        !seen.contains(updated),
        "nothing updated after the create:\n{seen}"
    );
    for (from, to, again) in [
        ("tag: \"1.4.2\"", "tag: \"1.4.3\"", ""),
        ("tag: \"1.4.3\"", "tag: \"1.4.4\"", " (x2)"),
    ] {
        let component = std::fs::read_to_string(dir.path().join("component.yaml")).unwrap();
        assert!(component.contains(from), "{component}");
        std::fs::write(
            dir.path().join("component.yaml"),
            component.replacen(from, to, 1),
        )
        .unwrap();
        read_until(&rx, "reloaded", &mut seen);
        read_until(&rx, "Ready after", &mut seen);
        let step = &seen[seen.rfind("reloaded").unwrap()..];
        let line = step
            .lines()
            .find(|l| l.contains(updated))
            .unwrap_or_else(|| panic!("no {updated:?} in\n{step}"));
        assert!(line.ends_with(&format!("stack variables{again}")), "{line}");
    }

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

    interrupt(child);
}

/// A `converge local --watch` started by a test: killed if the test fails before it
/// interrupts it, so a failing test leaves nothing running.
struct Watching(Option<Child>);

impl Drop for Watching {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `converge local --watch -f DIR`, with its stdout and stderr lines.
fn watch(dir: &std::path::Path) -> (Watching, mpsc::Receiver<String>) {
    let mut child = converge()
        .args(["local", "--watch", "--step-delay", "0s", "-f"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = all_lines(&mut child);
    (Watching(Some(child)), rx)
}

/// Ctrl-C, and it stops.
fn interrupt(mut watching: Watching) {
    // Left in `watching`: killed on drop should it not stop.
    let child = watching.0.as_mut().expect("running");
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

/// Lines of a child's stdout and stderr, interleaved as they come, read on threads.
fn all_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx2.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The endpoint `converge local` printed for a platform's sandbox.
fn sandbox_endpoint(seen: &str, platform: &str) -> String {
    let marker = format!("the built-in {platform} sandbox at ");
    let line = seen
        .lines()
        .find(|l| l.contains(&marker))
        .unwrap_or_else(|| panic!("no {platform} endpoint in\n{seen}"));
    line[line.find(&marker).unwrap() + marker.len()..]
        .trim()
        .to_string()
}

/// GET on a sandbox's API with its documented bearer token; the JSON answer.
fn sandbox_get(url: &str, token: &str) -> serde_json::Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .get(url)
            .bearer_auth(token)
            // API7 Cloud names the cluster of an application in a header.
            .header("X-API7-Cloud-Gateway-Cluster-ID", "2001")
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(status.is_success(), "GET {url}: {status} {body}");
        body
    })
}

const CANARY_GATEWAY: &str = "apiVersion: converge.dev/v1alpha1
kind: GatewayApplication
metadata:
  name: checkout
spec:
  connectionRef:
    name: api7
  name: checkout
  hosts: [checkout.acme.test]
  pathPrefix: /checkout
  upstreams:
    - version: v1
      targets: [{host: checkout-v1.internal, port: 8080}]
    - version: v2
      targets: [{host: checkout-v2.internal, port: 8080}]
  defaultUpstreamVersion: v1
  canary:
    name: checkout-v2
    upstreamVersion: v2
    steps:
      # The pause holds the canary (and the first convergence) until the edit below.
      - weight: 10
        pause: 1h
      - weight: 100
";

/// The --watch timeline: create (a canary held in its pause keeps the first convergence
/// going); abort it by editing the file while it converges; change an immutable field
/// (refused as the apiserver refuses it, nothing created on the platform); remove a file.
/// After each step, what the sandboxes hold is read through their own APIs.
#[test]
fn local_watch_applies_edits_while_anything_converges() {
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in [
        ("examples/api7/connection.yaml", "api7-connection.yaml"),
        (
            "examples/cycloid/connection.yaml",
            "cycloid-connection.yaml",
        ),
        ("examples/cycloid/project.yaml", "project.yaml"),
    ] {
        std::fs::copy(from, dir.path().join(to)).unwrap();
    }
    std::fs::write(dir.path().join("gateway.yaml"), CANARY_GATEWAY).unwrap();
    let (child, rx) = watch(dir.path());
    let mut seen = String::new();

    // 1. Create: the canary starts and holds at 10% for an hour.
    read_until(
        &rx,
        "GatewayApplication/checkout  CanaryStarted:",
        &mut seen,
    );
    let api7 = sandbox_endpoint(&seen, "api7");
    let cycloid = sandbox_endpoint(&seen, "cycloid");
    let api7_token = "sandbox-api7-token";
    let apps = sandbox_get(
        &format!(
            "{api7}/api/v1/clusters/2001/apps?page=1&page_size=100&order_by=created_at&direction=ASC"
        ),
        api7_token,
    );
    let app = apps["payload"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "checkout")
        .unwrap_or_else(|| panic!("no checkout app in {apps}"))
        .clone();
    let canaries = |app_id: &str| {
        sandbox_get(
            &format!("{api7}/api/v1/apps/{app_id}/canary_releases?page=1&page_size=100&order_by=created_at&direction=ASC"),
            api7_token,
        )["payload"]["list"]
            .as_array()
            .unwrap()
            .clone()
    };
    let app_id = app["id"].as_str().unwrap().to_string();
    let open = canaries(&app_id);
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["state"], "in_progress", "{open:?}");
    assert!(
        !seen.contains("Ready after"),
        "the first convergence is still going (the canary holds):\n{seen}"
    );

    // 2. While it converges: abort. The edit is applied now, not after the hour.
    let edited = std::time::Instant::now();
    std::fs::write(
        dir.path().join("gateway.yaml"),
        CANARY_GATEWAY.replace(
            "    upstreamVersion: v2\n",
            "    upstreamVersion: v2\n    abort: true\n",
        ),
    )
    .unwrap();
    read_until(&rx, "reloaded", &mut seen);
    let took = edited.elapsed();
    assert!(seen.contains("0 created, 1 updated, 0 deleted"), "{seen}");
    read_until(
        &rx,
        "GatewayApplication/checkout  CanaryAborted:",
        &mut seen,
    );
    eprintln!(
        "converge local --watch: the abort was reloaded {:.1}s after the edit, while the canary held its pause",
        took.as_secs_f64()
    );
    read_until(&rx, "Ready after", &mut seen);
    let table = &seen[seen.rfind("\nOBJECT ").unwrap()..];
    assert!(
        table.contains("GatewayApplication/checkout")
            && table.contains("canary release checkout-v2 abort"),
        "the table after the reload shows the state after it: {table}"
    );
    let done = canaries(&app_id);
    assert_eq!(done[0]["state"], "finished", "the release ended: {done:?}");
    let app = sandbox_get(
        &format!("{api7}/api/v1/clusters/2001/apps/{app_id}"),
        api7_token,
    );
    assert_eq!(
        app["payload"]["default_upstream_version"], "v1",
        "aborted, not promoted: traffic stays on v1: {app}"
    );

    // 3. An immutable field changed: refused with the apiserver's message, located; the
    //    platform keeps one project and Converge keeps the last good manifests.
    let project = std::fs::read_to_string(dir.path().join("project.yaml")).unwrap();
    let line = project
        .lines()
        .position(|l| l.trim() == "canonical: billing")
        .unwrap()
        + 1;
    std::fs::write(
        dir.path().join("project.yaml"),
        project.replace("canonical: billing", "canonical: billing-v2"),
    )
    .unwrap();
    let expected = format!(
        "error: {}:{line} (document 1): Project/billing: spec.cycloid.canonical: Invalid value: \"string\": cycloid.canonical is immutable: Cycloid never renames a project canonical",
        dir.path().join("project.yaml").display()
    );
    // The refusal (stderr) and the "not reloaded" line (stdout) come on two pipes.
    read_until(&rx, &expected, &mut seen);
    if !seen.contains("not reloaded") {
        read_until(&rx, "not reloaded", &mut seen);
    }
    let projects = sandbox_get(
        &format!("{cycloid}/organizations/acme/projects"),
        "sandbox-cycloid-api-key",
    );
    let canonicals: Vec<&str> = projects["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["canonical"].as_str())
        .collect();
    assert_eq!(canonicals, ["billing"], "no second project: {projects}");

    // 4. A file removed: the object is deleted, and so is its platform object.
    std::fs::write(dir.path().join("project.yaml"), project).unwrap();
    std::fs::remove_file(dir.path().join("gateway.yaml")).unwrap();
    read_until(&rx, "reloaded", &mut seen);
    assert!(seen.contains("0 created, 0 updated, 1 deleted"), "{seen}");
    read_until(&rx, "Ready after", &mut seen);
    let table = &seen[seen.rfind("\nOBJECT ").unwrap()..];
    assert!(!table.contains("GatewayApplication/"), "{table}");
    let apps = sandbox_get(
        &format!(
            "{api7}/api/v1/clusters/2001/apps?page=1&page_size=100&order_by=created_at&direction=ASC"
        ),
        api7_token,
    );
    assert!(
        !apps["payload"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "checkout"),
        "deleted on API7 too: {apps}"
    );

    interrupt(child);
}

#[test]
fn plan_rehearses_the_examples_and_lists_each_objects_writes_in_order() {
    let out = converge().args(["plan"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Objects that do not depend on each other converge concurrently: only each object's own
    // writes have a fixed order.
    for object in [
        &[
            "Project/billing  (cycloid)\n",
            ". created Cycloid project \"billing\"\n",
            ". created Cycloid environment \"staging\" in project \"billing\"\n",
        ][..],
        &[
            "ApiSpec/petstore  (frends)\n",
            ". created Frends API specification",
            ". create passthrough (default) on version 1\n",
            ". published version 1\n",
            ". requested the deployment of version 1 to agent group 2",
        ],
        &[
            "GatewayApplication/checkout  (api7)\n",
            ". created API7 application \"checkout\"",
            ". start canary release checkout-v2 at step 1/3",
            // The example pauses 15 s there: the rehearsal stops rather than wait it out.
            "… then waits: canary release checkout-v2 at step 1/3",
        ],
        &[
            "Component/billing-api  (cycloid)  after Project \"billing\" is Ready\n",
            ". created Cycloid component billing/staging/billing-api\n",
        ],
        &["ApiSpec/orders-api-observed  (choreo)\n  = no changes\n"],
        &[" 0 not planned.", " Rehearsal: "],
    ] {
        in_order(&stdout, object);
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

/// `converge plan -f DIR --exit-code`: the exit code and what it printed.
fn plan(args: &[&str]) -> (i32, String) {
    let out = converge()
        .args(["plan", "--exit-code"])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), format!("{stdout}{stderr}"))
}

/// Asserts that `lines` appear in `out` in this order.
fn in_order(out: &str, lines: &[&str]) {
    let mut from = 0;
    for line in lines {
        let at = out[from..]
            .find(line)
            .unwrap_or_else(|| panic!("no {line:?} after the earlier lines in\n{out}"));
        from += at + line.len();
    }
}

#[test]
fn plan_lists_a_frends_apis_publish_passthrough_and_deployments_after_its_create() {
    let (code, out) = plan(&["-f", "examples/frends"]);
    assert_eq!(code, 2, "changes: exit 2\n{out}");
    in_order(
        &out,
        &[
            "ApiSpec/petstore  (frends)\n",
            "  1. created Frends API specification ",
            "on base path \"/api/petstore/v1\" (id ",
            "  2. create passthrough (default) on version 1\n",
            "  3. published version 1\n",
            "  4. requested the deployment of version 1 to agent group 2",
            " 0 not planned.",
        ],
    );
}

#[test]
fn plan_lists_cycloid_environments_and_the_component_its_project_makes_possible() {
    // Every write, exactly: a write too many (an update right after a create) is as wrong as
    // one missing. What follows what is read from the references, so it holds however the
    // rehearsal's reconciles interleave.
    for _ in 0..3 {
        let (code, out) = plan(&["-f", "examples/cycloid"]);
        assert_eq!(code, 2, "{out}");
        let (Some(from), Some(to)) = (out.find("Project/billing"), out.find(" Rehearsal: ")) else {
            panic!("no plan in\n{out}");
        };
        assert_eq!(
            &out[from..to],
            "Project/billing  (cycloid)
  1. created Cycloid project \"billing\"
  2. created Cycloid environment \"staging\" in project \"billing\"
  3. created Cycloid environment \"prod\" in project \"billing\"
Component/billing-api  (cycloid)  after Project \"billing\" is Ready
  4. created Cycloid component billing/staging/billing-api
  5. created pipeline \"billing-api-deploy\" of component billing/staging/billing-api
  6. unpaused pipeline \"billing-api-deploy\" of component billing/staging/billing-api
  7. started build 1 of job \"deploy\" (revision \"1.4.2\")
  8. sent Cycloid event 1 for build 1 of job \"deploy\" (revision \"1.4.2\")
Workflow/billing-nightly-deploy  (cycloid)  after Project \"billing\" and Component \"billing-api\" are Ready
  9. started build 2 of job billing/staging/billing-api/billing-api-deploy/deploy for run token \"2026-11-24\"

9 change(s) to 3 object(s); 2 object(s) planned after objects this plan creates; 0 not planned.",
            "{out}"
        );
        assert!(out.contains(" 9 write(s)."), "{out}");
    }
}

#[test]
fn plan_lists_an_opschain_run_due_after_the_workflow_it_creates() {
    let (code, out) = plan(&["-f", "examples/opschain"]);
    assert_eq!(code, 2, "{out}");
    in_order(
        &out,
        &[
            "Project/web-platform  (opschain)\n",
            "  1. created OpsChain project \"web\"",
            "Workflow/web-release  (opschain)  after Project \"web-platform\" is Ready\n",
            "created OpsChain workflow ",
            "started run ",
            "for run token \"release-42\"",
            "approved step \"production approval\"",
            " 0 not planned.",
        ],
    );

    let out = converge()
        .args(["plan", "-o", "json", "-f", "examples/opschain"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let writes = json["writes"].as_array().unwrap();
    let orders: Vec<u64> = writes
        .iter()
        .map(|w| w["order"].as_u64().unwrap())
        .collect();
    assert_eq!(
        orders,
        (1..=writes.len() as u64).collect::<Vec<_>>(),
        "{json}"
    );
    assert_eq!(writes[0]["object"], "Project/web-platform", "{json}");
    let workflow = json["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "web-release")
        .unwrap();
    assert_eq!(
        workflow["follows"],
        "waiting for Project \"web-platform\" to be Ready"
    );
    assert_eq!(
        json["summary"]["changes"].as_u64().unwrap() as usize,
        writes.len()
    );
    assert_eq!(json["complete"], true);
}

#[tokio::test]
async fn plan_cluster_with_the_connection_manifests_reads_the_clusters_platforms() {
    let env = env();
    let client = client().await;
    let ns = "plan-drift";
    namespace(&client, ns).await;
    connect(&client, ns, "cycloid").await;
    let project = json!({
        "apiVersion": "converge.dev/v1alpha1", "kind": "Project",
        "metadata": {"name": "drifted", "namespace": ns},
        "spec": {"connectionRef": {"name": "cycloid"}, "driftInterval": "1h",
                 "cycloid": {"canonical": "drifted-proj", "name": "Drifted", "configRepositoryCanonical": "acme-config",
                             "environments": [{"canonical": "dev", "name": "Dev"}, {"canonical": "prod", "name": "Prod"}]}},
    });
    apply(&client, ns, project.clone()).await;
    let projects: Api<Project> = Api::namespaced(client.clone(), ns);
    wait_ready(&projects, "drifted").await;
    // Someone deletes an environment on the platform.
    let converge_platforms::PlatformClient::Cycloid(cy) = env.platform_client("cycloid") else {
        unreachable!()
    };
    cy.delete_environment("drifted-proj", "prod").await.unwrap();

    // The repository as examples/ lays it out: the connection's manifests (with the example's
    // endpoint and a placeholder credential) beside the project.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("examples/cycloid/connection.yaml"),
        dir.path().join("connection.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("project.yaml"),
        serde_yaml_ng::to_string(&project).unwrap(),
    )
    .unwrap();
    let kubeconfig = common::controlplane::shared()
        .await
        .kubeconfig()
        .to_path_buf();
    let plan_cluster = move |dir: std::path::PathBuf| {
        let kubeconfig = kubeconfig.clone();
        tokio::task::spawn_blocking(move || {
            let out = converge()
                .env("KUBECONFIG", kubeconfig)
                .args(["plan", "--cluster", "--exit-code", "-n", ns, "-f"])
                .arg(dir)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.code().unwrap_or(-1), text)
        })
    };
    let writes_before = env.writes("cycloid", "drifted-proj").await;
    let (code, out) = plan_cluster(dir.path().to_path_buf()).await.unwrap();
    assert_eq!(code, 2, "the platform differs: exit 2\n{out}");
    in_order(
        &out,
        &[
            "PlatformConnection/cycloid  (cycloid)\n",
            "DIR declares endpoint http://127.0.0.1:18102 (Secret cycloid-credentials) here; planned with the cluster's: endpoint ",
            "Project/drifted  (cycloid)\n",
            "  1. ",
            "prod",
            "1 change(s) to 1 object(s)",
        ],
    );
    assert_eq!(
        env.writes("cycloid", "drifted-proj").await,
        writes_before,
        "plan wrote nothing to the platform"
    );

    // Converge: a reconcile now (the drift interval is an hour), then plan again.
    let patch = json!({"metadata": {"annotations": {
        "reconcile.converge.dev/requestedAt": "2026-01-01T00:00:00Z"}}});
    projects
        .patch(
            "drifted",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    wait_until(
        &projects,
        "drifted",
        "handled",
        Duration::from_secs(60),
        |p| {
            is_ready(p)
                && p.status.as_ref().is_some_and(|s| {
                    s.common.last_handled_reconcile_at.as_deref() == Some("2026-01-01T00:00:00Z")
                })
        },
    )
    .await;
    assert!(
        cy.get_project("drifted-proj")
            .await
            .unwrap()
            .unwrap()
            .environments
            .iter()
            .any(|e| e.canonical == "prod")
    );
    let (code, out) = plan_cluster(dir.path().to_path_buf()).await.unwrap();
    assert_eq!(code, 0, "converged: exit 0\n{out}");
    assert!(
        out.contains("Project/drifted  (cycloid)\n  = no changes"),
        "{out}"
    );
    assert!(out.contains("0 change(s) to 0 object(s)"), "{out}");
}
