//! The Helm chart: lint-clean, accepted by a real apiserver (server-side dry run) with default
//! and non-default values, installable with helm, and its CRDs identical to `crds/`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use common::controlplane;
use common::converge::install_crds;

fn chart() -> PathBuf {
    std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("charts/converge")
}

/// replicas=2 (so leader election, a PodDisruptionBudget and anti-affinity), one watched
/// namespace, a shard, the ServiceMonitor, the PrometheusRule, the Grafana dashboard, extra
/// args and env.
const EVERYTHING: &str = "replicaCount=2,watchNamespace=chart-team,shardSelector=converge.dev/shard=a,\
metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,grafana.dashboard.enabled=true,\
sandboxes.enabled=true,extraArgs[0]=--lease-duration=20s,extraEnv[0].name=HTTPS_PROXY,\
extraEnv[0].value=http://proxy.internal:3128";

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
    let repo =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("crds");
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

/// The Prometheus Operator's CRDs are not in the test cluster; a minimal one (the real group,
/// kind and scope, an open schema) lets the apiserver check a ServiceMonitor's or
/// PrometheusRule's envelope.
fn operator_crd(kind: &str) -> String {
    let plural = format!("{}s", kind.to_lowercase());
    format!(
        r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {{kind: {kind}, listKind: {kind}List, plural: {plural}, singular: {singular}}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"#,
        singular = kind.to_lowercase()
    )
}

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
    for kind in ["ServiceMonitor", "PrometheusRule"] {
        run_with_stdin(
            {
                let mut c = cp.kubectl();
                c.args(["apply", "-f", "-"]);
                c
            },
            &operator_crd(kind),
        );
    }
    run({
        let mut c = cp.kubectl();
        c.args([
            "wait",
            "--for=condition=Established",
            "crd/servicemonitors.monitoring.coreos.com",
            "crd/prometheusrules.monitoring.coreos.com",
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
                "prometheusrule.monitoring.coreos.com/converge",
                "poddisruptionbudget.policy/converge",
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
            for wanted in [
                "podAntiAffinity:",
                "\"--lease-duration=20s\"",
                "name: HTTPS_PROXY",
            ] {
                assert!(manifests.contains(wanted), "{wanted} in\n{manifests}");
            }
        } else {
            assert!(
                !out.contains("role.rbac.authorization.k8s.io/converge-leader"),
                "{out}"
            );
            assert!(!out.contains("poddisruptionbudget"), "one replica: {out}");
            assert!(!manifests.contains("podAntiAffinity"), "{manifests}");
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
    let exported = converge_engine::metrics::Metrics::default();
    // Every family, with one sample each, so the text names them all.
    let m = &exported;
    m.reconciles
        .get_or_create(&converge_engine::metrics::ResultLabels {
            kind: "Project",
            result: "success",
        })
        .inc();
    m.failures
        .get_or_create(&converge_engine::metrics::ErrorLabels {
            kind: "Project",
            error: "x",
        })
        .inc();
    m.durations
        .get_or_create(&converge_engine::metrics::KindLabels { kind: "Project" })
        .observe(1.0);
    m.queue_depth
        .get_or_create(&converge_engine::metrics::KindLabels { kind: "Project" })
        .set(1);
    m.clients
        .requests
        .get_or_create(&converge_platforms::metrics::CallLabels {
            platform: "api7",
            operation: "x",
            status: "200".into(),
        })
        .inc();
    m.clients
        .latency
        .get_or_create(&converge_platforms::metrics::OperationLabels {
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

/// promtool from Debian's `prometheus` package (.ci/run installs it).
fn promtool() -> Command {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("promtool").is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "promtool is missing: apt-get install prometheus (Debian's package; .ci/run installs it)"
    );
    Command::new("promtool")
}

/// The chart's alerts: valid rules (`promtool check rules`) that fire when they should and say
/// what they should (`promtool test rules` with tests/prometheus/converge_rules_test.yaml).
#[tokio::test]
async fn the_alerts_pass_promtool_check_and_their_unit_tests() {
    let cp = controlplane::shared().await;
    let mut c = cp.helm();
    c.args([
        "template",
        "converge",
        chart().to_str().unwrap(),
        "--namespace",
        "monitoring",
        "--set",
        "metrics.prometheusRule.enabled=true",
        "--show-only",
        "templates/prometheusrule.yaml",
    ]);
    let rule: serde_json::Value = serde_yaml_ng::from_str(&run(c)).unwrap();
    assert_eq!(rule["kind"], "PrometheusRule");
    let groups = serde_json::json!({ "groups": rule["spec"]["groups"] });
    let alerts: Vec<&str> = groups["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    for wanted in [
        "ConvergeDown",
        "ConvergeNoLeader",
        "ConvergeNotReconciling",
        "ConvergeReconcilePanics",
        "ConvergeObjectsStalled",
        "ConvergePlatformErrors",
        "ConvergePlatformThrottled",
    ] {
        assert!(alerts.contains(&wanted), "{wanted} in {alerts:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("converge.rules.yaml");
    std::fs::write(&rules, serde_yaml_ng::to_string(&groups).unwrap()).unwrap();
    let tests = dir.path().join("converge_rules_test.yaml");
    std::fs::copy(
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("tests/prometheus/converge_rules_test.yaml"),
        &tests,
    )
    .unwrap();
    let checked = run({
        let mut c = promtool();
        c.args(["check", "rules", rules.to_str().unwrap()]);
        c
    });
    assert!(
        checked.contains(&format!("SUCCESS: {} rules found", alerts.len())),
        "{checked}"
    );
    let tested = run({
        let mut c = promtool();
        c.current_dir(dir.path())
            .args(["test", "rules", "converge_rules_test.yaml"]);
        c
    });
    assert!(tested.contains("SUCCESS"), "{tested}");
}

/// As a dependency of another chart: Helm passes `global` to every subchart, the parent sets
/// the subchart's values under its name, and names follow nameOverride/fullnameOverride.
#[tokio::test]
async fn the_chart_renders_and_installs_as_a_subchart() {
    let cp = controlplane::shared().await;
    install_crds(cp);
    let parent = tempfile::tempdir().unwrap();
    std::fs::write(
        parent.path().join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: platform\nversion: 1.0.0\ndependencies:\n  - name: converge\n    \
             version: 0.1.0\n    repository: file://{}\n",
            chart().display()
        ),
    )
    .unwrap();
    std::fs::write(
        parent.path().join("values.yaml"),
        "global:\n  imageRegistry: registry.internal\n  team: platform\n\
         converge:\n  fullnameOverride: delivery\n  replicaCount: 3\n  logFormat: json\n  \
         extraArgs: [\"--lease-duration=30s\"]\n  \
         extraEnv: [{name: NO_PROXY, value: .svc}]\n",
    )
    .unwrap();
    // The parent's own template reads the global value the subchart must accept.
    std::fs::create_dir(parent.path().join("templates")).unwrap();
    std::fs::write(
        parent.path().join("templates/team.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: team\ndata:\n  team: {{ .Values.global.team }}\n",
    )
    .unwrap();
    run({
        let mut c = cp.helm();
        c.args(["dependency", "build", parent.path().to_str().unwrap()]);
        c
    });
    run({
        let mut c = cp.helm();
        c.args(["lint", "--strict", parent.path().to_str().unwrap()]);
        c
    });
    let rendered = run({
        let mut c = cp.helm();
        c.args([
            "template",
            "platform",
            parent.path().to_str().unwrap(),
            "--namespace",
            "chart-parent",
        ]);
        c
    });
    let docs: Vec<serde_json::Value> = serde_yaml_ng::Deserializer::from_str(&rendered)
        .filter_map(|d| serde_json::Value::deserialize(d).ok())
        .filter(|d| d.is_object())
        .collect();
    let find = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in\n{rendered}"))
    };
    let deployment = find("Deployment");
    assert_eq!(deployment["metadata"]["name"], "delivery");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let pod = &deployment["spec"]["template"]["spec"];
    let args = pod["containers"][0]["args"].to_string();
    assert!(args.contains("--leader-election"), "{args}");
    assert!(args.contains("--lease-duration=30s"), "{args}");
    assert!(args.contains("--lease-name=delivery"), "{args}");
    assert!(
        pod["containers"][0]["env"].to_string().contains("NO_PROXY"),
        "{pod}"
    );
    assert_eq!(
        pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
            ["topologyKey"],
        "kubernetes.io/hostname"
    );
    let pdb = find("PodDisruptionBudget");
    assert_eq!(pdb["metadata"]["name"], "delivery");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert_eq!(find("Service")["metadata"]["name"], "delivery-metrics");
    // The apiserver takes all of it.
    let _ = cp
        .kubectl()
        .args(["create", "namespace", "chart-parent"])
        .output();
    let out = run_with_stdin(
        {
            let mut c = cp.kubectl();
            c.args(["apply", "--dry-run=server", "-n", "chart-parent", "-f", "-"]);
            c
        },
        &rendered,
    );
    assert!(out.contains("deployment.apps/delivery"), "{out}");
    assert!(out.contains("poddisruptionbudget.policy/delivery"), "{out}");
}
