//! The CRDs on a real kube-apiserver: they establish, accept every example, refuse the invalid
//! corpus with the expected message, and document their fields for `kubectl explain`.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::controlplane::{self, ControlPlane};

fn repo(p: &str) -> PathBuf {
    std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo")).join(p)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn kubectl(cp: &ControlPlane, args: &[&str]) -> Output {
    cp.kubectl().args(args).output().expect("kubectl runs")
}

fn kubectl_ok(cp: &ControlPlane, args: &[&str]) -> String {
    let o = kubectl(cp, args);
    assert!(
        o.status.success(),
        "kubectl {}: {}",
        args.join(" "),
        text(&o)
    );
    text(&o)
}

/// Applies crds/ once per test binary and waits until every CRD is Established.
async fn with_crds() -> &'static ControlPlane {
    static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    let cp = controlplane::shared().await;
    INSTALLED
        .get_or_init(|| async {
            kubectl_ok(
                cp,
                &[
                    "apply",
                    "--server-side",
                    "-f",
                    repo("crds").to_str().unwrap(),
                ],
            );
            kubectl_ok(
                cp,
                &[
                    "wait",
                    "--for=condition=Established",
                    "--timeout=60s",
                    "crd",
                    "--all",
                ],
            );
        })
        .await;
    cp
}

fn namespace(cp: &ControlPlane, name: &str) -> String {
    let o = kubectl(cp, &["create", "namespace", name]);
    assert!(
        o.status.success() || text(&o).contains("AlreadyExists"),
        "{}",
        text(&o)
    );
    name.to_string()
}

#[tokio::test]
async fn every_crd_is_established_with_its_names() {
    let cp = with_crds().await;
    for crd in converge_api::crds::all() {
        let name = crd.metadata.name.unwrap();
        let out = kubectl_ok(
            cp,
            &[
                "get",
                "crd",
                &name,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Established\")].status}",
            ],
        );
        assert_eq!(out.trim(), "True", "{name}");
    }
    // Every kind answers to its short name and to the category.
    let ns = namespace(cp, "names");
    for short in ["cvconn", "cvproj", "cvcomp", "cvapi", "cvgw", "cvwf"] {
        kubectl_ok(cp, &["get", short, "-n", &ns]);
    }
    let out = kubectl_ok(cp, &["get", "converge", "-n", &ns]);
    assert!(out.contains("No resources found"), "{out}");
}

#[tokio::test]
async fn every_example_is_accepted_and_printed_with_its_columns() {
    let cp = with_crds().await;
    let ns = namespace(cp, "examples");
    kubectl_ok(
        cp,
        &[
            "apply",
            "-n",
            &ns,
            "--recursive",
            "-f",
            repo("examples").to_str().unwrap(),
        ],
    );
    let loaded = converge_local::manifests::load(&repo("examples"), &ns).unwrap();
    let objects = loaded
        .objects
        .iter()
        .filter(|l| l.manifest.is_converge_object())
        .count();
    let listed = kubectl_ok(cp, &["get", "converge", "-n", &ns, "-o", "name"]);
    assert_eq!(listed.lines().count(), objects, "{listed}");

    let table = kubectl_ok(cp, &["get", "projects.converge.dev", "-n", &ns]);
    let header = table.lines().next().unwrap();
    for column in [
        "NAME",
        "READY",
        "STATUS",
        "PLATFORM ID",
        "ENVIRONMENTS",
        "AGE",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let table = kubectl_ok(cp, &["get", "cvgw", "-n", &ns]);
    assert!(table.lines().next().unwrap().contains("CANARY"), "{table}");
}

#[tokio::test]
async fn the_invalid_corpus_is_refused_with_clear_messages() {
    let cp = with_crds().await;
    let ns = namespace(cp, "invalid");
    let mut per_kind = std::collections::BTreeMap::<String, usize>::new();
    let mut failures = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(repo("tests/invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let content = std::fs::read_to_string(&path).unwrap();
        let expect = content
            .lines()
            .next()
            .unwrap()
            .strip_prefix("# expect: ")
            .unwrap()
            .to_string();
        let docs: Vec<&str> = content.split("\n---\n").collect();
        let kind = content
            .lines()
            .find_map(|l| l.strip_prefix("kind: "))
            .unwrap()
            .to_string();
        *per_kind.entry(kind).or_default() += 1;
        let apply = |doc: &str| {
            let file = std::env::temp_dir().join(format!(
                "converge-invalid-{}-{}",
                std::process::id(),
                path.file_name().unwrap().to_str().unwrap()
            ));
            std::fs::write(&file, doc).unwrap();
            let out = kubectl(cp, &["apply", "-n", &ns, "-f", file.to_str().unwrap()]);
            let _ = std::fs::remove_file(&file);
            out
        };
        let refused = match docs.as_slice() {
            [one] => apply(one),
            [first, second] => {
                let created = apply(first);
                assert!(
                    created.status.success(),
                    "{}: the first document must be valid: {}",
                    path.display(),
                    text(&created)
                );
                apply(second)
            }
            _ => panic!("{}: one or two documents", path.display()),
        };
        let out = text(&refused);
        if refused.status.success() || !out.contains(&expect) {
            failures.push(format!(
                "{}:\n  expected: {expect}\n  got: {}",
                path.display(),
                out.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for kind in [
        "PlatformConnection",
        "Project",
        "Component",
        "ApiSpec",
        "GatewayApplication",
        "Workflow",
    ] {
        assert!(
            per_kind.get(kind).copied().unwrap_or(0) >= 3,
            "fewer than three invalid cases for {kind}: {per_kind:?}"
        );
    }
}

#[tokio::test]
async fn kubectl_explain_shows_the_field_docs() {
    let cp = with_crds().await;
    let cases = [
        (
            "platformconnections.spec.credentials.secretName",
            "Name of the Secret",
        ),
        ("projects.spec.cycloid.canonical", "Immutable"),
        ("components.spec.choreo.revision", "triggers a new build"),
        ("apispecs.spec.frends.basePath", "never"),
        (
            "gatewayapplications.spec.canary.steps.weight",
            "Percentage of requests",
        ),
        (
            "workflows.spec.opschain.approval",
            "never approves or rejects",
        ),
    ];
    for (field, doc) in cases {
        // Discovery lags a moment behind Established: retry briefly before judging.
        let mut out = String::new();
        for _ in 0..50 {
            let o = kubectl(
                cp,
                &["explain", "--api-version=converge.dev/v1alpha1", field],
            );
            out = text(&o);
            if o.status.success() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        // kubectl wraps descriptions at its own width.
        let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(doc), "kubectl explain {field}:\n{out}");
    }
}
