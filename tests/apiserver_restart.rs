//! The apiserver goes away while the controller converges, and comes back on the same port
//! (etcd keeps running, as in a rolling control-plane upgrade). The controller — a real
//! `converge run`, the same process throughout — recovers its watches by itself: the objects it
//! was converging finish, objects created after the restart converge (only a working watch
//! tells it about them), /healthz never fails (a liveness probe would restart it for nothing)
//! and /readyz answers OK after the restart.
//!
//! A control plane of its own: every client of it loses the apiserver. With
//! `CONVERGE_TEST_KEEP_LOGS=1` the controller's log is kept (`CONVERGE_TEST_CHILD_LOG` sets its
//! RUST_LOG, e.g. `info,kube_runtime::utils::stream_backoff=debug`).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use common::child::Controller;
use common::controlplane::ControlPlane;
use common::converge::{apply, connection_spec, credentials, install_crds, namespace, put_secret};
use converge_bench::mix;
use converge_bench::objects::{self, is_ready};
use kube::api::{Api, ListParams, PostParams};
use kube::core::DynamicObject;
use serde_json::{Value, json};

const NS: &str = "apiserver-restart";
/// Objects created before the restart, then after it.
const BEFORE: usize = 20;
const AFTER: usize = 20;
const DOWN: Duration = Duration::from_secs(6);

async fn create(apis: &HashMap<&str, Api<DynamicObject>>, objects: &[Value]) {
    for o in objects {
        let obj: DynamicObject = serde_json::from_value(o.clone()).unwrap();
        apis[o["kind"].as_str().unwrap()]
            .create(&PostParams::default(), &obj)
            .await
            .unwrap();
    }
}

async fn health(controller: &Controller, path: &str) -> Option<u16> {
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}{path}", controller.health_port))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_recovers_its_watches_after_an_apiserver_restart() {
    let cp = ControlPlane::start().await.unwrap();
    install_crds(&cp);
    let sandboxes =
        converge_sandbox::all::Sandboxes::start(converge_sandbox::all::Options::ephemeral())
            .await
            .unwrap();
    let client = cp.client().await.unwrap();
    namespace(&client, NS).await;
    for (platform, _, endpoint) in sandboxes.endpoints() {
        let secret = format!("{platform}-credentials");
        put_secret(&client, NS, &secret, credentials(platform)).await;
        apply(
            &client,
            NS,
            json!({"apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
                   "metadata": {"name": platform},
                   "spec": connection_spec(platform, &endpoint, &secret)}),
        )
        .await;
    }
    let apis = objects::apis(&client, NS).await.unwrap();
    let objects: Vec<Value> = (0..BEFORE + AFTER).map(mix::object).collect();
    let logs = tempfile::tempdir().unwrap();
    eprintln!("controller log in {}", logs.path().display());
    let mut controller = Controller::start(
        cp.kubeconfig(),
        NS,
        None,
        logs.path().join("controller.log"),
    );
    let pid = controller.pid();
    let deadline = Instant::now() + Duration::from_secs(30);
    while health(&controller, "/readyz").await != Some(200) {
        assert!(
            Instant::now() < deadline,
            "never ready: {}",
            controller.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Mid-convergence: the first objects are created, then the apiserver goes away.
    create(&apis, &objects[..BEFORE]).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let apiserver_before = cp.apiserver_pid();
    let stopped_at = Instant::now();
    tokio::task::block_in_place(|| cp.stop_apiserver()).unwrap();
    let mut while_down: BTreeMap<String, usize> = BTreeMap::new();
    while stopped_at.elapsed() < DOWN {
        for path in ["/healthz", "/readyz"] {
            let status = health(&controller, path).await;
            *while_down.entry(format!("{path} {status:?}")).or_default() += 1;
            assert!(
                status.is_some(),
                "{path}: the controller stopped answering while the apiserver was down"
            );
            if path == "/healthz" {
                assert_eq!(
                    status,
                    Some(200),
                    "liveness failed while the apiserver was down"
                );
            }
        }
        assert!(controller.alive(), "{}", controller.log_tail(40));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let starting = Instant::now();
    tokio::task::block_in_place(|| cp.start_apiserver()).unwrap();
    let (starting, down_for) = (starting.elapsed(), stopped_at.elapsed());
    assert_ne!(
        cp.apiserver_pid(),
        apiserver_before,
        "a new apiserver process"
    );

    // New objects after the restart: only a recovered watch tells the controller about them.
    // The test's own client carries on too: kube's connection pool reconnects.
    create(&apis, &objects[BEFORE..]).await;
    let restarted = Instant::now();
    let deadline = restarted + Duration::from_secs(120);
    let after: std::collections::HashSet<String> = objects[BEFORE..]
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    let mut new_ones_ready = None;
    loop {
        let mut not_ready = Vec::new();
        let mut n = 0;
        for (kind, api) in &apis {
            for o in api.list(&ListParams::default()).await.unwrap().items {
                n += 1;
                if !is_ready(&o) {
                    not_ready.push(format!("{kind} {}", o.metadata.name.unwrap_or_default()));
                }
            }
        }
        if n == objects.len() && !not_ready.iter().any(|o| after.contains(o)) {
            new_ones_ready.get_or_insert(restarted.elapsed());
        }
        if n == objects.len() && not_ready.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not Ready 120 s after the restart: {not_ready:?}\n{}",
            controller.log_tail(60)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let converged = restarted.elapsed();
    assert!(controller.alive(), "{}", controller.log_tail(40));
    assert_eq!(
        controller.pid(),
        pid,
        "the same controller process throughout"
    );
    assert_eq!(health(&controller, "/readyz").await, Some(200));
    assert_eq!(health(&controller, "/healthz").await, Some(200));

    let sandbox: HashMap<&str, String> = sandboxes
        .endpoints()
        .into_iter()
        .map(|(p, base, _)| (p, base))
        .collect();
    let (duplicates, failures) = common::inventory::verify(&objects, &sandbox).await;
    eprintln!(
        "apiserver restart: down {:.1}s (of which starting again {:.1}s); controller pid {pid} \
         throughout; probes while down {while_down:?}; the {AFTER} objects created after the \
         restart Ready {:.1}s after it, all {} Ready after {:.1}s; duplicates {duplicates}",
        down_for.as_secs_f64(),
        starting.as_secs_f64(),
        new_ones_ready.unwrap_or(converged).as_secs_f64(),
        objects.len(),
        converged.as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    controller.kill();
    if std::env::var_os("CONVERGE_TEST_KEEP_LOGS").is_some() {
        let _ = logs.keep();
    }
}
