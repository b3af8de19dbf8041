//! The PlatformConnection reconciler on a real apiserver against the five sandboxes: Ready with
//! what the platform reports, Stalled with the platform's own message, a rotated or created
//! Secret picked up without a restart, and credentials in no status or Event.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::controlplane;
use converge::connection::crd::PlatformConnection;
use converge::controller::context::Context;
use converge::controller::metrics::Metrics;
use k8s_openapi::api::core::v1::{Event, Namespace, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};

/// Sandboxes and one controller for the whole test binary, on a runtime of their own so that
/// they outlive any single test's runtime.
struct Env {
    endpoints: Vec<(&'static str, String)>,
    metrics: Metrics,
    logs: Logs,
}

/// Every log line of this test binary (the controller's included), at debug level.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let cp = controlplane::shared().await;
                let crds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
                let o = cp
                    .kubectl()
                    .args(["apply", "--server-side", "-f", crds.to_str().unwrap()])
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                let o = cp
                    .kubectl()
                    .args([
                        "wait",
                        "--for=condition=Established",
                        "--timeout=60s",
                        "crd",
                        "--all",
                    ])
                    .output()
                    .unwrap();
                assert!(o.status.success());
                let sandboxes = converge::sandbox::all::Sandboxes::start(
                    converge::sandbox::all::Options::ephemeral(),
                )
                .await
                .unwrap();
                let endpoints = sandboxes
                    .endpoints()
                    .into_iter()
                    .map(|(p, _, api)| (p, api))
                    .collect();
                let client = cp.client().await.unwrap();
                let metrics = Metrics::default();
                let ctx = Arc::new(Context::new(client.clone(), metrics.clone()));
                tx.send(Env {
                    endpoints,
                    metrics,
                    logs,
                })
                .unwrap();
                converge::controller::controllers::run(client, ctx, std::future::pending()).await;
                drop(sandboxes);
            });
        });
        rx.recv().expect("the controller thread started")
    })
}

async fn namespace(client: &kube::Client, name: &str) {
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
    let _ = Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await;
}

async fn put_secret(client: &kube::Client, ns: &str, name: &str, data: serde_json::Value) {
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), ns)
        .patch(
            name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&secret),
        )
        .await
        .unwrap();
}

fn connection(name: &str, platform: &str, endpoint: &str, secret: &str) -> PlatformConnection {
    let mut spec =
        serde_json::json!({ "endpoint": endpoint, "credentials": {"secretName": secret} });
    match platform {
        "choreo" => spec["choreo"] = serde_json::json!({"organizationId": "acme"}),
        "cycloid" => spec["cycloid"] = serde_json::json!({"organization": "acme"}),
        "frends" => spec["frends"] = serde_json::json!({"defaultAgentGroupId": 1}),
        "api7" => spec["api7"] = serde_json::json!({"organizationId": "1001", "clusterId": "2001"}),
        _ => {
            spec["opschain"] = serde_json::json!({});
            spec["credentials"]["type"] = "Basic".into();
        }
    }
    serde_json::from_value(serde_json::json!({
        "apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
        "metadata": {"name": name}, "spec": spec
    }))
    .unwrap()
}

/// Waits until the connection satisfies `done`; returns it.
async fn wait_until(
    api: &Api<PlatformConnection>,
    name: &str,
    what: &str,
    done: impl Fn(&PlatformConnection) -> bool,
) -> PlatformConnection {
    let mut last = None;
    for _ in 0..150 {
        let c = api.get(name).await.unwrap();
        if done(&c) {
            return c;
        }
        last = Some(c);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "{name} never became {what}: {:?}",
        last.and_then(|c| c.status)
    );
}

fn condition(
    c: &PlatformConnection,
    type_: &str,
) -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    c.status
        .as_ref()
        .and_then(|s| s.common.condition(type_))
        .cloned()
}

/// Waits until the connection's condition `type_` has `status`.
async fn wait_for(
    api: &Api<PlatformConnection>,
    name: &str,
    type_: &str,
    status: &str,
) -> PlatformConnection {
    wait_until(api, name, &format!("{type_}={status}"), |c| {
        condition(c, type_).is_some_and(|c| c.status == status)
    })
    .await
}

fn credentials(platform: &str) -> serde_json::Value {
    match platform {
        "choreo" => serde_json::json!({"token": "sandbox-choreo-token"}),
        "cycloid" => serde_json::json!({"token": "sandbox-cycloid-api-key"}),
        "frends" => serde_json::json!({"token": "sandbox-frends-token"}),
        "api7" => serde_json::json!({"token": "sandbox-api7-token"}),
        _ => serde_json::json!({"username": "sandbox-user", "password": "sandbox-password"}),
    }
}

#[tokio::test]
async fn every_platform_connects_and_reports_what_it_checked() {
    let env = env();
    let client = controlplane::shared().await.client().await.unwrap();
    let ns = "conn-ready";
    namespace(&client, ns).await;
    let api = Api::<PlatformConnection>::namespaced(client.clone(), ns);
    for (platform, endpoint) in &env.endpoints {
        put_secret(&client, ns, platform, credentials(platform)).await;
        api.create(
            &PostParams::default(),
            &connection(platform, platform, endpoint, platform),
        )
        .await
        .unwrap();
    }
    for (platform, _) in &env.endpoints {
        let c = wait_for(&api, platform, "Ready", "True").await;
        let status = c.status.unwrap();
        assert_eq!(status.platform.as_deref(), Some(*platform));
        assert_eq!(status.common.observed_generation, c.metadata.generation);
        assert!(
            status.common.condition("Stalled").is_none()
                && status.common.condition("Reconciling").is_none()
        );
        if *platform == "opschain" {
            assert!(
                status.platform_version.is_some(),
                "OpsChain reports its version"
            );
        }
    }
    let text = env.metrics.encode();
    assert!(
        text.contains(r#"converge_reconciles_total{kind="PlatformConnection"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"platform="opschain",operation="getInfo""#)
            || text.contains(r#"platform="opschain""#),
        "{text}"
    );
}

#[tokio::test]
async fn a_wrong_token_stalls_with_the_platforms_message_and_a_rotation_recovers_it() {
    let env = env();
    let client = controlplane::shared().await.client().await.unwrap();
    let ns = "conn-rotate";
    namespace(&client, ns).await;
    let api = Api::<PlatformConnection>::namespaced(client.clone(), ns);
    let wrong = "wrong-token-for-the-redaction-check-8812";
    put_secret(&client, ns, "creds", serde_json::json!({"token": wrong})).await;
    let endpoint = &env
        .endpoints
        .iter()
        .find(|(p, _)| *p == "choreo")
        .unwrap()
        .1;
    api.create(
        &PostParams::default(),
        &connection("choreo", "choreo", endpoint, "creds"),
    )
    .await
    .unwrap();

    let c = wait_for(&api, "choreo", "Stalled", "True").await;
    let stalled = c
        .status
        .as_ref()
        .unwrap()
        .common
        .condition("Stalled")
        .unwrap()
        .clone();
    assert_eq!(stalled.reason, "AuthenticationFailed");
    assert!(
        stalled.message.contains("Invalid Credentials"),
        "the platform's own words: {}",
        stalled.message
    );

    // The rotated Secret is picked up through the Secret watch: the periodic re-check is minutes away.
    put_secret(
        &client,
        ns,
        "creds",
        serde_json::json!({"token": "sandbox-choreo-token"}),
    )
    .await;
    let c = wait_for(&api, "choreo", "Ready", "True").await;
    assert!(
        c.status
            .as_ref()
            .unwrap()
            .common
            .condition("Stalled")
            .is_none()
    );

    let events = Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    let reasons: Vec<_> = events
        .items
        .iter()
        .filter_map(|e| e.reason.clone())
        .collect();
    assert!(
        reasons.contains(&"AuthenticationFailed".to_string())
            && reasons.contains(&"Connected".to_string()),
        "{reasons:?}"
    );
    let everything = format!(
        "{:?}{:?}",
        serde_json::to_string(&c).unwrap(),
        serde_json::to_string(&events.items).unwrap()
    );
    assert!(
        !everything.contains(wrong) && !everything.contains("sandbox-choreo-token"),
        "a credential reached status or an Event"
    );
    let logs = env.logs.text();
    assert!(
        logs.contains("choreo"),
        "the controller's debug logs were captured"
    );
    assert!(
        !logs.contains(wrong) && !logs.contains("sandbox-choreo-token"),
        "a credential reached the logs"
    );
}

#[tokio::test]
async fn a_missing_secret_stalls_until_it_is_created() {
    let env = env();
    let client = controlplane::shared().await.client().await.unwrap();
    let ns = "conn-missing";
    namespace(&client, ns).await;
    let api = Api::<PlatformConnection>::namespaced(client.clone(), ns);
    let endpoint = &env
        .endpoints
        .iter()
        .find(|(p, _)| *p == "opschain")
        .unwrap()
        .1;
    api.create(
        &PostParams::default(),
        &connection("ops", "opschain", endpoint, "later"),
    )
    .await
    .unwrap();
    let c = wait_for(&api, "ops", "Stalled", "True").await;
    let stalled = c
        .status
        .unwrap()
        .common
        .condition("Stalled")
        .unwrap()
        .clone();
    assert_eq!(stalled.reason, "CredentialsMissing");
    assert_eq!(
        stalled.message,
        "Secret \"later\" does not exist in this namespace"
    );

    put_secret(
        &client,
        ns,
        "later",
        serde_json::json!({"username": "sandbox-user"}),
    )
    .await;
    let missing_key = "Secret \"later\" has no key \"password\"";
    wait_until(&api, "ops", "stalled on the missing key", |c| {
        condition(c, "Stalled").is_some_and(|s| s.message == missing_key)
    })
    .await;

    put_secret(&client, ns, "later", credentials("opschain")).await;
    wait_for(&api, "ops", "Ready", "True").await;
}
