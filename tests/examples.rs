//! The promise of the README: with Converge running against the sandboxes, `kubectl apply -f
//! examples/` on a real apiserver brings every example to Ready.
//!
//! The examples name the sandboxes' default ports (18101..18105), so this test serves them
//! there; it fails with a clear message when something else holds those ports.

mod common;

use common::controlplane;
use common::converge::{Env, env_with, namespace};

fn env() -> &'static Env {
    env_with(|| {
        for (platform, port) in converge_sandbox::all::DEFAULT_PORTS {
            assert!(
                std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
                "port {port} ({platform} sandbox) is in use; the examples need it free"
            );
        }
        converge_sandbox::all::Options {
            ports: converge_sandbox::all::DEFAULT_PORTS,
            ..converge_sandbox::all::Options::ephemeral()
        }
    })
}

const KINDS: &str =
    "platformconnections,projects.converge.dev,components,apispecs,gatewayapplications,workflows";

#[tokio::test]
async fn kubectl_apply_of_the_examples_brings_every_object_to_ready() {
    env();
    let cp = controlplane::shared().await;
    let client = cp.client().await.unwrap();
    let ns = "examples";
    namespace(&client, ns).await;
    let examples =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("examples");
    let o = cp
        .kubectl()
        .args(["apply", "-n", ns, "-R", "-f", examples.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let applied = String::from_utf8_lossy(&o.stdout).into_owned();

    let started = std::time::Instant::now();
    let o = cp
        .kubectl()
        .args([
            "wait",
            "-n",
            ns,
            "--for=condition=Ready",
            "--timeout=180s",
            KINDS,
            "--all",
        ])
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    if !o.status.success() {
        let status = cp
            .kubectl()
            .args(["get", "-n", ns, KINDS, "-o", "yaml"])
            .output()
            .unwrap();
        panic!(
            "not every example became Ready: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&status.stdout)
        );
    }
    let waited = String::from_utf8_lossy(&o.stdout);
    let converged = waited
        .lines()
        .filter(|l| l.contains("condition met"))
        .count();
    let declared = applied
        .lines()
        .filter(|l| l.contains(".converge.dev/"))
        .count();
    assert_eq!(
        converged, declared,
        "every applied Converge object is Ready:\n{waited}"
    );
    eprintln!("{converged} example objects Ready in {elapsed:?}");

    let table = cp
        .kubectl()
        .args(["get", "converge", "-n", ns])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(!table.contains("False"), "{table}");
}
