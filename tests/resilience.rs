//! Nothing one object does stops Converge: a real `converge run` against the real apiserver and
//! the sandboxes. The overflowing manifest is refused by the apiserver with a message; an object
//! whose reconcile panics (a failpoint standing in for a bug) is Stalled with the panic's
//! location and an Event while the others become Ready; the panic is one JSON log line; the
//! metrics, /healthz and `kubectl get` say so; a controller that stops takes the process down
//! with a non-zero exit; a requestedAt annotation reconciles at once with a fresh read.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::controlplane::{self, ControlPlane};
use common::converge::{
    apply, connection_spec, credentials, events, install_crds, namespace, put_secret, wait_event,
    wait_until,
};
use converge_api::connection::PlatformConnection;
use converge_api::project::Project;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

/// A `converge run` with JSON logs in a file, scoped to one namespace.
struct Run {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Run {
    fn start(cp: &ControlPlane, ns: &str, failpoints: Option<&str>) -> Run {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let log = std::env::temp_dir().join(format!(
            "converge-resilience-{ns}-{}.log",
            std::process::id()
        ));
        let file = std::fs::File::create(&log).unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_converge"));
        c.args([
            "run",
            "--log-format",
            "json",
            "--health-addr",
            &format!("127.0.0.1:{port}"),
            "--namespace",
            ns,
            "--shutdown-grace",
            "2s",
        ])
        .env("KUBECONFIG", cp.kubeconfig())
        .env("RUST_LOG", "info")
        .env_remove("FAILPOINTS")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file));
        if let Some(f) = failpoints {
            c.env("FAILPOINTS", f);
        }
        Run {
            child: c.spawn().unwrap(),
            port,
            log,
        }
    }

    async fn get(&self, path: &str) -> Option<(u16, String)> {
        let r = reqwest::get(format!("http://127.0.0.1:{}{path}", self.port))
            .await
            .ok()?;
        Some((r.status().as_u16(), r.text().await.ok()?))
    }

    /// Sum of a metric's samples whose line contains every one of `labels`.
    async fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        let (_, text) = self.get("/metrics").await.unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .filter(|l| labels.iter().all(|x| l.contains(x)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the process to exit on its own (a hang guard, not a timing assertion).
    async fn exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still running:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

async fn world(
    ns: &str,
) -> (
    &'static ControlPlane,
    kube::Client,
    converge_sandbox::all::Sandboxes,
) {
    let cp = controlplane::shared().await;
    install_crds(cp);
    let client = cp.client().await.unwrap();
    namespace(&client, ns).await;
    let sandboxes =
        converge_sandbox::all::Sandboxes::start(converge_sandbox::all::Options::ephemeral())
            .await
            .unwrap();
    (cp, client, sandboxes)
}

async fn connect_cycloid(client: &kube::Client, ns: &str, endpoint: &str) {
    put_secret(client, ns, "cycloid-credentials", credentials("cycloid")).await;
    apply(
        client,
        ns,
        json!({
            "apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
            "metadata": {"name": "cycloid"},
            "spec": connection_spec("cycloid", endpoint, "cycloid-credentials"),
        }),
    )
    .await;
}

fn project(name: &str, extra: Value) -> Value {
    let mut spec = json!({
        "connectionRef": {"name": "cycloid"},
        "cycloid": {"canonical": name, "name": name, "configRepositoryCanonical": "acme-config"}
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Project",
           "metadata": {"name": name}, "spec": spec})
}

fn cycloid_endpoint(sandboxes: &converge_sandbox::all::Sandboxes) -> String {
    sandboxes
        .endpoints()
        .into_iter()
        .find(|e| e.0 == "cycloid")
        .unwrap()
        .2
}

fn ready(p: &Project) -> bool {
    p.status.as_ref().is_some_and(|s| {
        s.common.is_true("Ready") && s.common.observed_generation == p.metadata.generation
    })
}

fn kubectl(cp: &ControlPlane, ns: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    use std::io::Write;
    let mut c = cp.kubectl();
    c.args(["-n", ns]).args(args);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let o = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

#[tokio::test]
async fn one_object_cannot_stop_converge() {
    let ns = "resilience";
    let (cp, client, sandboxes) = world(ns).await;
    let endpoint = cycloid_endpoint(&sandboxes);
    let mut run = Run::start(cp, ns, Some("reconcile-panic=return(boom)"));
    connect_cycloid(&client, ns, &endpoint).await;

    // The manifest that stopped every controller is refused, with a message.
    let overflowing = "apiVersion: converge.dev/v1alpha1\nkind: Project\nmetadata: {name: overflow}\n\
        spec:\n  connectionRef: {name: cycloid}\n  driftInterval: \"99999999999999999999999s\"\n  \
        cycloid: {canonical: overflow, name: Overflow, configRepositoryCanonical: acme-config}\n";
    let (ok, out) = kubectl(cp, ns, &["apply", "-f", "-"], Some(overflowing));
    assert!(!ok, "{out}");
    assert!(
        out.contains("spec.driftInterval: Too long: may not be more than 20 bytes"),
        "{out}"
    );
    let too_long = overflowing.replace("99999999999999999999999s", "999999h999999h");
    let (ok, out) = kubectl(cp, ns, &["apply", "-f", "-"], Some(&too_long));
    assert!(!ok, "{out}");
    assert!(
        out.contains("driftInterval must be at most 168h (a week)"),
        "{out}"
    );

    // A reconcile that panics stays with its object; the others converge beside it.
    for name in ["first", "boom", "second"] {
        apply(&client, ns, project(name, json!({}))).await;
    }
    let api = Api::<Project>::namespaced(client.clone(), ns);
    for name in ["first", "second"] {
        wait_until(&api, name, "Ready", Duration::from_secs(90), ready).await;
    }
    let boom = wait_until(&api, "boom", "Stalled", Duration::from_secs(90), |p| {
        p.status
            .as_ref()
            .is_some_and(|s| s.common.is_true("Stalled"))
    })
    .await;
    let stalled = boom
        .status
        .unwrap()
        .common
        .condition("Stalled")
        .unwrap()
        .clone();
    assert_eq!(stalled.reason, "ReconcilePanicked");
    for words in [
        "Converge panicked while reconciling this object at crates/converge-engine/src/guard.rs:",
        "failpoint reconcile-panic: boom",
        "bug in Converge",
    ] {
        assert!(stalled.message.contains(words), "{}", stalled.message);
    }
    let event = wait_event(&client, ns, "boom", "ReconcilePanicked").await;
    assert!(event.contains("failpoint reconcile-panic: boom"), "{event}");

    // kubectl get tells the Stalled object from the converged ones.
    let (ok, table) = kubectl(cp, ns, &["get", "projects.converge.dev"], None);
    assert!(ok, "{table}");
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} in {table}"))
            .to_string()
    };
    assert!(table.lines().next().unwrap().contains("STATUS"), "{table}");
    assert!(row("boom").contains("ReconcilePanicked"), "{table}");
    assert!(row("first").contains("Converged"), "{table}");

    // The process keeps reconciling: a new object converges after the panics.
    apply(&client, ns, project("third", json!({}))).await;
    wait_until(&api, "third", "Ready", Duration::from_secs(90), ready).await;
    assert!(run.alive(), "{}", run.log());
    assert_eq!(
        run.get("/healthz").await.map(|(code, _)| code),
        Some(200),
        "{}",
        run.log()
    );

    // Metrics count the panics and the objects by condition.
    let panics = run
        .metric("converge_reconcile_panics_total", &[r#"kind="Project""#])
        .await;
    assert!(panics >= 1.0, "{panics}");
    let panicked = run
        .metric(
            "converge_reconciles_total",
            &[r#"kind="Project""#, r#"result="panic""#],
        )
        .await;
    assert_eq!(panicked, panics);
    assert!(
        run.metric(
            "converge_reconciles_total",
            &[r#"kind="Project""#, r#"result="success""#]
        )
        .await
            >= 3.0
    );
    // The gauge is sampled every 2 s from the cache: wait for the sample, not a time.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while run
        .metric(
            "converge_objects",
            &[r#"kind="Project""#, r#"condition="Stalled""#],
        )
        .await
        != 1.0
        || run
            .metric(
                "converge_objects",
                &[r#"kind="Project""#, r#"condition="Ready""#],
            )
            .await
            != 3.0
    {
        assert!(tokio::time::Instant::now() < deadline, "objects gauge");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(run.metric("converge_build_info", &[]).await, 1.0);
    assert!(run.metric("process_open_fds", &[]).await > 0.0);
    assert!(run.metric("process_start_time_seconds", &[]).await > 1.0e9);

    // Logs: JSON lines only (no backtrace in plain text), the panic as one record with its
    // location, flat object fields, no "None", and a startup line with the version.
    let log = run.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let panic_line = lines
        .iter()
        .find(|l| l["message"] == "panic")
        .unwrap_or_else(|| panic!("no panic record in\n{log}"));
    assert_eq!(panic_line["level"], "ERROR");
    assert_eq!(
        panic_line["panic.message"],
        "failpoint reconcile-panic: boom"
    );
    assert!(
        panic_line["panic.location"]
            .as_str()
            .unwrap()
            .starts_with("crates/converge-engine/src/guard.rs:"),
        "{panic_line}"
    );
    assert_eq!(panic_line["kind"], "Project");
    assert_eq!(panic_line["namespace"], ns);
    assert_eq!(panic_line["name"], "boom");
    assert!(panic_line["reconcile_id"].is_string(), "{panic_line}");
    assert!(!log.contains("\"None\""), "{log}");
    let start = lines
        .iter()
        .find(|l| l["message"] == "starting converge run")
        .unwrap();
    assert_eq!(start["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(start["namespace"], ns);
    assert!(start["commit"].is_string(), "{start}");
    drop(sandboxes);
}

/// A controller whose stream ends, or whose task panics, exits the process non-zero so that
/// Kubernetes restarts it (the failpoint ends the Workflow controller at once).
#[tokio::test]
async fn a_controller_that_stops_stops_the_process() {
    let ns = "resilience-stop";
    let (cp, _client, sandboxes) = world(ns).await;
    for (failpoint, why) in [
        (
            "controller-stops=return(Workflow)",
            "its watch stream ended",
        ),
        ("controller-stops=return(Workflow:panic)", "it panicked"),
    ] {
        let mut run = Run::start(cp, ns, Some(failpoint));
        let status = run.exit(Duration::from_secs(60)).await;
        let log = run.log();
        assert!(!status.success(), "{status:?}\n{log}");
        assert!(
            log.contains(&format!("the Workflow controller stopped: {why}")),
            "{log}"
        );
    }
    drop(sandboxes);
}

/// `reconcile.converge.dev/requestedAt` reconciles at once with a fresh read of the platform:
/// with drift checks an hour apart, only the annotation can correct drift within the test.
#[tokio::test]
async fn a_requested_reconcile_reads_the_platform_at_once() {
    let ns = "resilience-request";
    let (cp, client, sandboxes) = world(ns).await;
    let endpoint = cycloid_endpoint(&sandboxes);
    let _run = Run::start(cp, ns, None);
    connect_cycloid(&client, ns, &endpoint).await;
    apply(
        &client,
        ns,
        project("asked", json!({"driftInterval": "1h"})),
    )
    .await;
    let api = Api::<Project>::namespaced(client.clone(), ns);
    wait_until(&api, "asked", "Ready", Duration::from_secs(90), ready).await;

    // Someone renames the project on Cycloid.
    let spec: converge_api::connection::PlatformConnectionSpec =
        serde_json::from_value(connection_spec("cycloid", &endpoint, "unused")).unwrap();
    let converge_platforms::PlatformClient::Cycloid(cy) = converge_platforms::PlatformClient::new(
        &converge_engine::connections::settings::from_spec(&spec, None),
        converge_platforms::Auth::bearer(credentials("cycloid")["token"].as_str().unwrap()),
        converge_platforms::ClientMetrics::default(),
    )
    .unwrap() else {
        unreachable!()
    };
    let current = cy.get_project("asked").await.unwrap().unwrap();
    let mut update = converge_platforms::cycloid::UpdateProject::from_current(&current);
    update.name = "Renamed by hand".into();
    cy.update_project("asked", &update).await.unwrap();

    let patch = json!({"metadata": {"annotations": {
        "reconcile.converge.dev/requestedAt": "2026-01-01T00:00:00Z"}}});
    api.patch("asked", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let handled = wait_until(&api, "asked", "handled", Duration::from_secs(60), |p| {
        p.status.as_ref().is_some_and(|s| {
            s.common.last_handled_reconcile_at.as_deref() == Some("2026-01-01T00:00:00Z")
        })
    })
    .await;
    assert!(ready(&handled), "{handled:?}");
    let drift = wait_event(&client, ns, "asked", "DriftCorrected").await;
    assert!(drift.contains("Renamed by hand"), "{drift}");
    assert_eq!(
        cy.get_project("asked").await.unwrap().unwrap().name,
        "asked"
    );
    // The connection records requests too.
    let conns = Api::<PlatformConnection>::namespaced(client.clone(), ns);
    conns
        .patch("cycloid", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    wait_until(&conns, "cycloid", "handled", Duration::from_secs(60), |c| {
        c.status.as_ref().is_some_and(|s| {
            s.common.last_handled_reconcile_at.as_deref() == Some("2026-01-01T00:00:00Z")
        })
    })
    .await;
    assert!(events(&client, ns, "asked").await.len() >= 2);
    drop(sandboxes);
}
