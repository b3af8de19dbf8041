//! The Helm chart: lint-clean, accepted by a real apiserver (server-side dry run) with default
//! and non-default values, installable with helm, and its CRDs identical to `crds/`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::controlplane;
use common::converge::install_crds;

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/converge")
}

/// replicas=2 (so leader election), one watched namespace, a shard, the ServiceMonitor and the
/// Grafana dashboard.
const EVERYTHING: &str = "replicaCount=2,watchNamespace=chart-team,shardSelector=converge.dev/shard=a,\
metrics.serviceMonitor.enabled=true,grafana.dashboard.enabled=true,sandboxes.enabled=true";

fn run(mut c: Command) -> String {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{c:?}:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn run_with_stdin(mut c: Command, stdin: &str) -> String {
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
        .write_all(stdin.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{c:?}:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[tokio::test]
async fn the_chart_lints_clean_in_strict_mode() {
    let cp = controlplane::shared().await;
    for set in [None, Some(EVERYTHING)] {
        let mut c = cp.helm();
        c.args(["lint", "--strict", chart().to_str().unwrap()]);
        if let Some(s) = set {
            c.args(["--set", s]);
        }
        let out = run(c);
        assert!(
            !out.contains("[WARNING]") && !out.contains("[ERROR]"),
            "{out}"
        );
    }
}

#[test]
fn the_charts_crds_are_the_repositorys() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let names = |dir: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&repo), names(&chart().join("crds")));
    for name in names(&repo) {
        assert_eq!(
            std::fs::read_to_string(repo.join(&name)).unwrap(),
            std::fs::read_to_string(chart().join("crds").join(&name)).unwrap(),
            "charts/converge/crds/{name:?} differs from crds/: run `cargo run -- crd --write charts/converge/crds/`"
        );
    }
}

#[test]
fn the_values_schema_refuses_a_wrong_value() {
    let Ok(dir) = controlplane::bin_dir() else {
        panic!("no helm")
    };
    let o = Command::new(dir.join("helm"))
        .args(["template", "x", chart().to_str().unwrap()])
        .args(["--set", "logFormat=xml"])
        .env(
            "HELM_CACHE_HOME",
            std::env::temp_dir().join("converge-helm-cache"),
        )
        .env(
            "HELM_CONFIG_HOME",
            std::env::temp_dir().join("converge-helm-config"),
        )
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("logFormat"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The Prometheus Operator's CRD is not in the test cluster; a minimal one (the real group,
/// kind and scope, an open schema) lets the apiserver check the ServiceMonitor's envelope.
const SERVICE_MONITOR_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"#;

fn template(cp: &controlplane::ControlPlane, ns: &str, set: Option<&str>) -> String {
    let mut c = cp.helm();
    c.args([
        "template",
        "converge",
        chart().to_str().unwrap(),
        "--namespace",
        ns,
        "--include-crds",
    ]);
    if let Some(s) = set {
        c.args(["--set", s]);
    }
    run(c)
}

#[tokio::test]
async fn the_rendered_chart_passes_a_server_side_dry_run() {
    let cp = controlplane::shared().await;
    install_crds(cp);
    run_with_stdin(
        {
            let mut c = cp.kubectl();
            c.args(["apply", "-f", "-"]);
            c
        },
        SERVICE_MONITOR_CRD,
    );
    run({
        let mut c = cp.kubectl();
        c.args([
            "wait",
            "--for=condition=Established",
            "crd/servicemonitors.monitoring.coreos.com",
        ]);
        c
    });
    for ns in ["chart-dry", "chart-team"] {
        let mut c = cp.kubectl();
        c.args(["create", "namespace", ns]);
        let _ = c.output();
    }
    for set in [None, Some(EVERYTHING)] {
        let manifests = template(cp, "chart-dry", set);
        let out = run_with_stdin(
            {
                let mut c = cp.kubectl();
                c.args(["apply", "--dry-run=server", "-f", "-"]);
                c
            },
            &manifests,
        );
        for kind in [
            "deployment.apps",
            "serviceaccount",
            "clusterrole",
            "service/",
        ] {
            assert!(out.contains(kind), "{set:?}: {kind} in\n{out}");
        }
        if set.is_some() {
            for kind in [
                "role.rbac.authorization.k8s.io/converge ",
                "role.rbac.authorization.k8s.io/converge-leader",
                "servicemonitor.monitoring.coreos.com/converge",
                "configmap/converge-dashboard",
            ] {
                assert!(out.contains(kind), "{kind} in\n{out}");
            }
            assert!(
                !out.contains("clusterrole.rbac.authorization.k8s.io/converge "),
                "{out}"
            );
            assert!(
                manifests.contains("- name: sandboxes") && manifests.contains("- sandbox\n"),
                "the demo sandboxes run beside the controller:\n{manifests}"
            );
        } else {
            assert!(
                !out.contains("role.rbac.authorization.k8s.io/converge-leader"),
                "{out}"
            );
        }
        eprintln!("dry run with {set:?}:\n{out}");
    }
}

#[tokio::test]
async fn helm_install_creates_every_object() {
    let cp = controlplane::shared().await;
    install_crds(cp);
    let ns = "chart-install";
    let out = run({
        let mut c = cp.helm();
        c.args([
            "install",
            "converge",
            chart().to_str().unwrap(),
            "--namespace",
            ns,
            "--create-namespace",
            "--set",
            "replicaCount=2,grafana.dashboard.enabled=true",
        ]);
        c
    });
    assert!(out.contains("STATUS: deployed"), "{out}");
    assert!(out.contains("elect a leader on the Lease"), "NOTES: {out}");

    let get = |what: &str, namespaced: bool| {
        let mut c = cp.kubectl();
        c.args(["get", what, "-o", "json"]);
        if namespaced {
            c.args(["-n", ns]);
        }
        serde_json::from_str::<serde_json::Value>(&run(c)).unwrap()
    };
    let deployment = get("deployment/converge", true);
    assert_eq!(deployment["spec"]["replicas"], 2);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args.contains(&"--leader-election"), "{args:?}");
    assert!(args.contains(&"--health-addr=0.0.0.0:8080"), "{args:?}");
    let sc = &container["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert!(
        container["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "POD_NAME")
    );
    assert_eq!(
        get("serviceaccount/converge", true)["metadata"]["name"],
        "converge"
    );
    let role = get("clusterrole/converge", false);
    assert!(!role.to_string().contains("\"*\""), "no wildcards: {role}");
    get("clusterrolebinding/converge", false);
    get("clusterrole/converge-crds", false);
    get("role/converge-leader", true);
    get("rolebinding/converge-leader", true);
    let svc = get("service/converge-metrics", true);
    assert_eq!(svc["spec"]["ports"][0]["port"], 8080);
    let dashboard = get("configmap/converge-dashboard", true);
    assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
    let json: serde_json::Value =
        serde_json::from_str(dashboard["data"]["converge.json"].as_str().unwrap()).unwrap();
    assert_eq!(json["uid"], "converge");
    // No kubelet here: the Deployment exists, no Pod runs.
}

#[test]
fn the_dashboard_queries_only_metrics_the_controller_exports() {
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(chart().join("dashboards/converge.json")).unwrap(),
    )
    .unwrap();
    let exported = converge::controller::metrics::Metrics::default();
    // Every family, with one sample each, so the text names them all.
    let m = &exported;
    m.reconciles
        .get_or_create(&converge::controller::metrics::ResultLabels {
            kind: "Project",
            result: "success",
        })
        .inc();
    m.failures
        .get_or_create(&converge::controller::metrics::ErrorLabels {
            kind: "Project",
            error: "x",
        })
        .inc();
    m.durations
        .get_or_create(&converge::controller::metrics::KindLabels { kind: "Project" })
        .observe(1.0);
    m.queue_depth
        .get_or_create(&converge::controller::metrics::KindLabels { kind: "Project" })
        .set(1);
    m.clients
        .requests
        .get_or_create(&converge::clients::metrics::CallLabels {
            platform: "api7",
            operation: "x",
            status: "200".into(),
        })
        .inc();
    m.clients
        .latency
        .get_or_create(&converge::clients::metrics::OperationLabels {
            platform: "api7",
            operation: "x",
        })
        .observe(1.0);
    let text = exported.encode();
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                if word.starts_with("converge_") {
                    queried += 1;
                    assert!(
                        text.lines().any(|l| l.starts_with(word)),
                        "{word} (panel {:?}) is not exported",
                        panel["title"]
                    );
                }
            }
        }
    }
    assert!(queried >= 9, "{queried}");
}
