//! `converge run` as real processes against one apiserver and the sandboxes: `--namespace` and
//! `--selector` leave everything outside their scope untouched, and with `--leader-election`
//! exactly one of two replicas reconciles, and the other takes over when the leader is killed.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::controlplane;
use common::converge::{apply, connection_spec, credentials, install_crds, namespace, put_secret};
use converge_api::connection::PlatformConnection;
use converge_api::project::Project;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use serde_json::{Value, json};

/// The sandboxes, per test: each test has its own runtime, and the sandboxes' servers run on
/// the runtime that started them.
async fn sandboxes() -> (converge_sandbox::all::Sandboxes, String) {
    let s = converge_sandbox::all::Sandboxes::start(converge_sandbox::all::Options::ephemeral())
        .await
        .unwrap();
    let endpoint = s
        .endpoints()
        .into_iter()
        .find(|e| e.0 == "opschain")
        .unwrap()
        .2;
    (s, endpoint)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Replica {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Replica {
    fn start(kubeconfig: &std::path::Path, args: &[&str], log: std::path::PathBuf) -> Replica {
        let port = free_port();
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_converge"))
            .arg("run")
            .args(["--health-addr", &format!("127.0.0.1:{port}")])
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info,converge=debug")
            .env_remove("POD_NAME")
            .env_remove("POD_NAMESPACE")
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        Replica { child, port, log }
    }

    async fn get(&self, path: &str) -> Option<String> {
        let r = reqwest::get(format!("http://127.0.0.1:{}{path}", self.port))
            .await
            .ok()?;
        r.text().await.ok()
    }

    /// Sum of a metric's samples, e.g. every kind's `converge_reconciles_total`.
    async fn metric(&self, name: &str) -> f64 {
        let text = self.get("/metrics").await.unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill(&mut self) {
        // SIGKILL: as a node failure would, with no chance to release the Lease.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

async fn connection(client: &kube::Client, ns: &str, endpoint: &str, labels: Value) {
    put_secret(client, ns, "opschain-credentials", credentials("opschain")).await;
    apply(
        client,
        ns,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
               "metadata": {"name": "opschain", "labels": labels},
               "spec": connection_spec("opschain", endpoint, "opschain-credentials")}),
    )
    .await;
}

async fn project(client: &kube::Client, ns: &str, name: &str, code: &str, labels: Value) {
    apply(
        client,
        ns,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Project",
               "metadata": {"name": name, "labels": labels},
               "spec": {"connectionRef": {"name": "opschain"},
                        "opschain": {"code": code, "name": code}}}),
    )
    .await;
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ready<K: converge_engine::Managed>(o: &K) -> bool {
    common::converge::is_ready(o)
}

fn connection_ready(c: &PlatformConnection) -> bool {
    c.status.as_ref().is_some_and(|s| s.common.is_true("Ready"))
}

#[tokio::test]
async fn objects_outside_the_namespace_or_the_shard_are_untouched() {
    let cp = controlplane::shared().await;
    install_crds(cp);
    let client = cp.client().await.unwrap();
    let (_sandboxes, endpoint) = sandboxes().await;
    let logs = tempfile::tempdir().unwrap();
    let shard = json!({"converge.dev/shard": "a"});
    let other_shard = json!({"converge.dev/shard": "b"});
    for (ns, code) in [("scope-in", "scope_in"), ("scope-out", "scope_out")] {
        namespace(&client, ns).await;
        connection(&client, ns, &endpoint, shard.clone()).await;
        project(&client, ns, "in-shard", &format!("{code}_a"), shard.clone()).await;
        project(
            &client,
            ns,
            "other-shard",
            &format!("{code}_b"),
            other_shard.clone(),
        )
        .await;
    }
    let replica = Replica::start(
        cp.kubeconfig(),
        &[
            "--namespace",
            "scope-in",
            "--selector",
            "converge.dev/shard=a",
        ],
        logs.path().join("scoped.log"),
    );

    let projects = Api::<Project>::namespaced(client.clone(), "scope-in");
    wait_for(
        "the in-scope project",
        Duration::from_secs(60),
        async || projects.get("in-shard").await.is_ok_and(|p| ready(&p)),
    )
    .await;
    // Give the controller time to have touched anything it wrongly watches.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The CRDs default status to {observedGeneration: 0} until Converge writes it.
    let untouched = |p: &Project| {
        p.status.as_ref().is_none_or(|s| {
            s.common.conditions.is_empty() && s.common.observed_generation.unwrap_or(0) == 0
        }) && p.metadata.finalizers.is_none()
    };
    let other = projects.get("other-shard").await.unwrap();
    assert!(
        untouched(&other),
        "another shard's object: {:?}",
        other.status
    );
    let outside = Api::<Project>::namespaced(client.clone(), "scope-out");
    for name in ["in-shard", "other-shard"] {
        let p = outside.get(name).await.unwrap();
        assert!(untouched(&p), "another namespace's {name}: {:?}", p.status);
    }
    let conn = Api::<PlatformConnection>::namespaced(client.clone(), "scope-out")
        .get("opschain")
        .await
        .unwrap();
    assert!(
        conn.status
            .as_ref()
            .is_none_or(|s| s.common.conditions.is_empty() && s.platform.is_none()),
        "another namespace's connection: {:?}",
        conn.status
    );
    assert!(
        !replica.log().contains("scope-out"),
        "the controller never saw the other namespace:\n{}",
        replica.log()
    );
}

async fn holder(leases: &Api<Lease>, name: &str) -> Option<String> {
    leases.get_opt(name).await.ok()??.spec?.holder_identity
}

#[tokio::test]
async fn one_replica_reconciles_and_the_other_takes_over_when_it_dies() {
    let cp = controlplane::shared().await;
    install_crds(cp);
    let client = cp.client().await.unwrap();
    let (_sandboxes, endpoint) = sandboxes().await;
    let logs = tempfile::tempdir().unwrap();
    let ns = "leader";
    namespace(&client, ns).await;
    let leases = Api::<Lease>::namespaced(client.clone(), ns);
    let lease_duration = Duration::from_secs(10);
    let args = |id: &'static str| {
        vec![
            "--namespace",
            ns,
            "--leader-election",
            "--lease-name",
            "converge-test",
            "--lease-duration",
            "10s",
            "--lease-renew-before",
            "3s",
            "--lease-identity",
            id,
        ]
    };

    let mut a = Replica::start(cp.kubeconfig(), &args("a"), logs.path().join("a.log"));
    wait_for("a to hold the Lease", Duration::from_secs(30), async || {
        holder(&leases, "converge-test").await.as_deref() == Some("a")
    })
    .await;
    let mut b = Replica::start(cp.kubeconfig(), &args("b"), logs.path().join("b.log"));
    wait_for("b to be ready", Duration::from_secs(30), async || {
        b.get("/readyz").await.is_some_and(|t| t.starts_with("ok"))
    })
    .await;

    connection(&client, ns, &endpoint, json!({})).await;
    project(&client, ns, "first", "leader_first", json!({})).await;
    let projects = Api::<Project>::namespaced(client.clone(), ns);
    let connections = Api::<PlatformConnection>::namespaced(client.clone(), ns);
    wait_for("the first project", Duration::from_secs(60), async || {
        projects.get("first").await.is_ok_and(|p| ready(&p))
    })
    .await;
    assert!(connection_ready(
        &connections.get("opschain").await.unwrap()
    ));

    assert_eq!(holder(&leases, "converge-test").await.as_deref(), Some("a"));
    assert_eq!(a.get("/readyz").await.as_deref(), Some("ok: leader"));
    assert_eq!(
        b.get("/readyz").await.as_deref(),
        Some("ok: follower, waiting for the Lease")
    );
    assert!(a.metric("converge_reconciles_total").await > 0.0);
    assert_eq!(a.metric("converge_leader").await, 1.0);
    assert_eq!(
        b.metric("converge_reconciles_total").await,
        0.0,
        "{}",
        b.log()
    );
    assert_eq!(b.metric("converge_leader").await, 0.0);
    assert!(
        !b.log().contains("reconciled"),
        "the follower reconciled:\n{}",
        b.log()
    );

    a.kill();
    let killed = Instant::now();
    wait_for(
        "b to take the Lease",
        lease_duration + Duration::from_secs(10),
        async || holder(&leases, "converge-test").await.as_deref() == Some("b"),
    )
    .await;
    let takeover = killed.elapsed();
    eprintln!(
        "takeover after SIGKILL of the leader: {takeover:?} (lease duration {lease_duration:?})"
    );
    assert!(
        takeover <= lease_duration + Duration::from_secs(2),
        "takeover took {takeover:?}, more than the lease duration"
    );

    project(&client, ns, "second", "leader_second", json!({})).await;
    wait_for(
        "the second project, by b",
        Duration::from_secs(60),
        async || projects.get("second").await.is_ok_and(|p| ready(&p)),
    )
    .await;
    assert_eq!(b.get("/readyz").await.as_deref(), Some("ok: leader"));
    assert!(b.metric("converge_reconciles_total").await > 0.0);

    // Losing the Lease (here: someone else writes itself in as the holder) stops the leader:
    // it exits non-zero to rejoin as a follower.
    let now = serde_json::to_value(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
        k8s_openapi::jiff::Timestamp::now(),
    ))
    .unwrap();
    leases
        .patch(
            "converge-test",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"holderIdentity": "intruder",
                "acquireTime": now, "renewTime": now}})),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + lease_duration;
    let status = loop {
        if let Some(status) = b.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "b still runs after losing the Lease:\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success(), "{status:?}");
    assert!(b.log().contains("lost the Lease"), "{}", b.log());
}

/// The leader's own check of its Lease: it gives up when the renewals it can see stop (as when
/// the lease manager cannot reach the apiserver), and not while they continue.
#[tokio::test]
async fn the_watchdog_gives_up_just_before_an_unrenewed_lease_expires() {
    let cp = controlplane::shared().await;
    let client = cp.client().await.unwrap();
    namespace(&client, "watchdog").await;
    let leases = Api::<Lease>::namespaced(client.clone(), "watchdog");
    let renew = async |name: &str| {
        let now = serde_json::to_value(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            k8s_openapi::jiff::Timestamp::now(),
        ))
        .unwrap();
        leases
            .patch(
                name,
                &kube::api::PatchParams::apply("test").force(),
                &kube::api::Patch::Apply(json!({"apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease", "metadata": {"name": name},
                    "spec": {"holderIdentity": "me", "leaseDurationSeconds": 3, "renewTime": now}})),
            )
            .await
            .unwrap();
    };
    let duration = Duration::from_secs(3);
    let margin = Duration::from_millis(500);

    // Renewed every 500 ms: the watchdog keeps quiet.
    renew("renewed").await;
    let watched =
        converge::controller::leader::watchdog(&leases, "renewed", "me", duration, margin);
    let renewing = async {
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            renew("renewed").await;
        }
    };
    tokio::select! {
        _ = watched => panic!("the watchdog gave up on a renewed Lease"),
        _ = renewing => {}
    }

    // Renewed once, then never: it gives up before the Lease expires, within the margin.
    renew("stale").await;
    let renewed = Instant::now();
    converge::controller::leader::watchdog(&leases, "stale", "me", duration, margin).await;
    let after = renewed.elapsed();
    eprintln!("watchdog gave up {after:?} after the last renewal (lease {duration:?})");
    assert!(after < duration, "{after:?}");
    assert!(
        after >= duration - margin - Duration::from_millis(200),
        "{after:?}"
    );
}
