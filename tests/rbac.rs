//! The chart's RBAC is sufficient and minimal: the controller, acting as the chart's
//! ServiceAccount (impersonated), checks its CRDs, wins the Lease and converges every example
//! against the sandboxes, Events, finalizers and status included; and what the role does not
//! grant is refused with 403.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::controlplane;
use common::converge::{install_crds, namespace};
use converge::controller::leader;
use converge_engine::{context::Context, crd_check, metrics::Metrics};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, PostParams};

const RELEASE_NS: &str = "converge-system";
const SA: &str = "system:serviceaccount:converge-system:converge";
const KINDS: &str =
    "platformconnections,projects.converge.dev,components,apispecs,gatewayapplications,workflows";

fn apply_stdin(cp: &controlplane::ControlPlane, ns: Option<&str>, yaml: &str) -> String {
    let mut c = cp.kubectl();
    c.args(["apply", "-f", "-"]);
    if let Some(ns) = ns {
        c.args(["-n", ns]);
    }
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn output(mut c: Command) -> String {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The chart's ServiceAccount and RBAC with `set`, as `helm template` renders them.
fn install_rbac(cp: &controlplane::ControlPlane, release: &str, set: &str) {
    let chart =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("charts/converge");
    let mut c = cp.helm();
    c.args(["template", release, chart.to_str().unwrap()])
        .args(["--namespace", RELEASE_NS])
        .args(["--set", set])
        .args(["--show-only", "templates/serviceaccount.yaml"])
        .args(["--show-only", "templates/rbac.yaml"]);
    let rendered = output(c);
    assert!(
        !rendered.contains("'*'") && !rendered.contains("\"*\""),
        "no wildcards"
    );
    apply_stdin(cp, None, &rendered);
}

/// `examples/`, with the sandboxes' default ports replaced by the ephemeral ones of this test
/// (tests/examples.rs holds the default ports, in parallel).
fn examples(sandboxes: &converge_sandbox::all::Sandboxes) -> String {
    let dir =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("examples");
    let mut files: Vec<_> = walk(&dir);
    files.sort();
    let mut all = String::new();
    for f in files {
        let mut text = std::fs::read_to_string(&f).unwrap();
        for ((platform, port), (p, url, _)) in converge_sandbox::all::DEFAULT_PORTS
            .iter()
            .zip(sandboxes.endpoints())
        {
            assert_eq!(*platform, p);
            text = text.replace(&format!("http://127.0.0.1:{port}"), &url);
        }
        all.push_str("\n---\n");
        all.push_str(&text);
    }
    all
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
    out
}

/// The two tests run one after the other: a cluster-wide controller running beside the
/// namespaced one would converge its objects too, and prove nothing about the Role.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn is_forbidden<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> bool {
    matches!(r, Err(kube::Error::Api(ref s)) if s.code == 403)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_charts_service_account_converges_the_examples_and_nothing_more() {
    let _serial = SERIAL.lock().await;
    let cp = controlplane::shared().await;
    install_crds(cp);
    let admin = cp.client().await.unwrap();
    namespace(&admin, RELEASE_NS).await;
    install_rbac(cp, "converge", "leaderElection.enabled=true");
    let sa = cp
        .client_as(
            SA,
            &[
                "system:serviceaccounts",
                "system:serviceaccounts:converge-system",
            ],
        )
        .await
        .unwrap();

    // Startup as `converge run` does it, with the ServiceAccount's rights only.
    crd_check::ensure_installed(&sa).await.unwrap();
    let election = converge::cli::ElectionArgs {
        leader_election: true,
        lease_name: "converge".into(),
        lease_namespace: Some(RELEASE_NS.into()),
        lease_duration: Duration::from_secs(15),
        lease_renew_before: Duration::from_secs(5),
        lease_identity: Some("rbac-test".into()),
    };
    let mut lease = leader::Election::join(sa.clone(), &election, None)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), lease.acquired())
        .await
        .expect("the ServiceAccount wins the Lease")
        .unwrap();

    let sandboxes =
        converge_sandbox::all::Sandboxes::start(converge_sandbox::all::Options::ephemeral())
            .await
            .unwrap();
    let ctx = Arc::new(Context::new(sa.clone(), Metrics::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(converge_controllers::run(sa.clone(), ctx, async {
        let _ = stopped.await;
    }));

    let ns = "rbac-examples";
    namespace(&admin, ns).await;
    let applied = apply_stdin(cp, Some(ns), &examples(&sandboxes));
    let started = std::time::Instant::now();
    let mut c = cp.kubectl();
    c.args([
        "wait",
        "-n",
        ns,
        "--for=condition=Ready",
        "--timeout=180s",
        KINDS,
        "--all",
    ]);
    let o = c.output().unwrap();
    if !o.status.success() {
        let mut c = cp.kubectl();
        c.args(["get", "-n", ns, KINDS, "-o", "yaml"]);
        panic!(
            "not every example became Ready as the ServiceAccount: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&c.output().unwrap().stdout)
        );
    }
    let converged = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains("condition met"))
        .count();
    let declared = applied
        .lines()
        .filter(|l| l.contains(".converge.dev/"))
        .count();
    assert_eq!(converged, declared);
    eprintln!(
        "{converged} examples Ready in {:?} as {SA}",
        started.elapsed()
    );

    // Events were written (events.k8s.io create) by the controller.
    let events = Api::<k8s_openapi::api::events::v1::Event>::namespaced(admin.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(
        events
            .items
            .iter()
            .any(|e| e.reporting_controller.as_deref() == Some("converge")),
        "the controller recorded Events"
    );

    // Deletion: the finalizer's cleanup and removal (a metadata patch) as the ServiceAccount.
    let mut c = cp.kubectl();
    c.args([
        "delete",
        "-n",
        ns,
        "apispecs.converge.dev",
        "--all",
        "--timeout=60s",
    ]);
    output(c);

    // Outside the role: refused.
    assert!(is_forbidden(
        Api::<Pod>::all(sa.clone())
            .list(&ListParams::default())
            .await
    ));
    assert!(is_forbidden(
        Api::<Secret>::namespaced(sa.clone(), ns)
            .delete("api7-credentials", &DeleteParams::default())
            .await
    ));
    let project: converge_api::project::Project = serde_json::from_value(serde_json::json!({
        "apiVersion": "converge.dev/v1alpha1", "kind": "Project",
        "metadata": {"name": "by-the-controller"},
        "spec": {"connectionRef": {"name": "opschain"}, "opschain": {"code": "nope", "name": "nope"}}
    }))
    .unwrap();
    assert!(is_forbidden(
        Api::<converge_api::project::Project>::namespaced(sa.clone(), ns)
            .create(&PostParams::default(), &project)
            .await
    ));
    assert!(is_forbidden(
        Api::<Lease>::namespaced(sa.clone(), RELEASE_NS)
            .get("someone-elses")
            .await
    ));
    assert!(is_forbidden(
        Api::<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>::all(sa.clone())
            .get("servicemonitors.monitoring.coreos.com")
            .await
    ));

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), controller)
        .await
        .expect("the controller stops")
        .unwrap();
    lease.release(Duration::from_secs(5)).await;
}

/// With `watchNamespace` the chart grants a Role in that namespace only (and `get` on the
/// CRDs): a controller run with `--namespace` converges there with it, and is refused elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_watched_namespace_a_role_there_is_enough() {
    let _serial = SERIAL.lock().await;
    let cp = controlplane::shared().await;
    install_crds(cp);
    let admin = cp.client().await.unwrap();
    let ns = "rbac-team";
    namespace(&admin, RELEASE_NS).await;
    namespace(&admin, ns).await;
    // Release "team": ServiceAccount team-converge.
    install_rbac(cp, "team", &format!("watchNamespace={ns}"));
    let sa = cp
        .client_as(
            "system:serviceaccount:converge-system:team-converge",
            &[
                "system:serviceaccounts",
                "system:serviceaccounts:converge-system",
            ],
        )
        .await
        .unwrap();
    crd_check::ensure_installed(&sa).await.unwrap();
    let sandboxes =
        converge_sandbox::all::Sandboxes::start(converge_sandbox::all::Options::ephemeral())
            .await
            .unwrap();
    let scope = converge_engine::scope::Scope {
        namespace: Some(ns.into()),
        selector: None,
    };
    scope.check(&sa).await.unwrap();
    let ctx = Arc::new(Context::new(sa.clone(), Metrics::default()).with_scope(scope));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(converge_controllers::run(sa.clone(), ctx, async {
        let _ = stopped.await;
    }));

    let opschain =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("examples/opschain");
    let mut yaml = String::new();
    for f in ["connection.yaml", "project.yaml"] {
        yaml.push_str("\n---\n");
        yaml.push_str(&std::fs::read_to_string(opschain.join(f)).unwrap());
    }
    let url = sandboxes
        .endpoints()
        .into_iter()
        .find(|e| e.0 == "opschain")
        .unwrap()
        .1;
    apply_stdin(cp, Some(ns), &yaml.replace("http://127.0.0.1:18105", &url));
    let mut c = cp.kubectl();
    c.args(["wait", "-n", ns, "--for=condition=Ready", "--timeout=60s"])
        .args(["platformconnections,projects.converge.dev", "--all"]);
    output(c);

    assert!(is_forbidden(
        Api::<Secret>::all(sa.clone())
            .list(&ListParams::default())
            .await
    ));
    assert!(is_forbidden(
        Api::<converge_api::project::Project>::namespaced(sa.clone(), "rbac-examples")
            .list(&ListParams::default())
            .await
    ));
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), controller).await;
}
