//! The harness for reconciler tests: one real control plane with Converge's CRDs, the five
//! sandboxes, and one in-process controller, shared by every test of a binary; plus helpers to
//! connect a namespace to a platform, apply objects, and wait on their conditions.
//!
//! Each test works in its own namespace, so tests of one binary run in parallel safely.

#![allow(dead_code)]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use converge_engine::Managed;
use converge_engine::context::Context;
use converge_engine::metrics::Metrics;
use k8s_openapi::api::core::v1::{Event, Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde::de::DeserializeOwned;

use super::controlplane;

pub struct Env {
    /// (platform, sandbox base URL for /_sandbox/, API endpoint a PlatformConnection uses).
    pub endpoints: Vec<(&'static str, String, String)>,
    pub metrics: Metrics,
    pub logs: Logs,
}

/// Every log line of this test binary (the controller's included), at debug level.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
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

/// The shared environment; started on first use, on a runtime of its own so that it outlives
/// any single test's runtime. Sandboxes on free ports.
pub fn env() -> &'static Env {
    env_with(converge_sandbox::all::Options::ephemeral)
}

/// The shared environment with sandboxes started with `options` (e.g. builds that take time);
/// the first call of a test binary decides, so a binary should call this before anything else.
pub fn env_with(options: impl FnOnce() -> converge_sandbox::all::Options) -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| start(options()))
}

/// Starts the control plane (with the CRDs), sandboxes with `options`, and an in-process
/// controller on a thread and runtime of their own; they live as long as the test process.
pub fn start(options: converge_sandbox::all::Options) -> Env {
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
            install_crds(cp);
            let sandboxes = converge_sandbox::all::Sandboxes::start(options)
                .await
                .unwrap();
            let client = cp.client().await.unwrap();
            let metrics = Metrics::default();
            let ctx = Arc::new(Context::new(client.clone(), metrics.clone()));
            tx.send(Env {
                endpoints: sandboxes.endpoints(),
                metrics,
                logs,
            })
            .unwrap();
            converge_controllers::run(client, ctx, std::future::pending()).await;
            drop(sandboxes);
        });
    });
    rx.recv().expect("the controller thread started")
}

/// Applies `crds/` and waits until every CRD is Established.
pub fn install_crds(cp: &controlplane::ControlPlane) {
    let crds =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("crds");
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
}

impl Env {
    /// The API endpoint of `platform`'s sandbox, as a PlatformConnection names it.
    pub fn endpoint(&self, platform: &str) -> &str {
        &self.endpoints.iter().find(|e| e.0 == platform).unwrap().2
    }

    /// The base URL of `platform`'s sandbox, for its `/_sandbox/` admin routes.
    pub fn sandbox(&self, platform: &str) -> &str {
        &self.endpoints.iter().find(|e| e.0 == platform).unwrap().1
    }

    /// `GET /_sandbox/state` of a platform: everything it holds.
    pub async fn state(&self, platform: &str) -> serde_json::Value {
        reqwest::get(format!("{}/_sandbox/state", self.sandbox(platform)))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `GET /_sandbox/counts`: calls per route template.
    pub async fn counts(&self, platform: &str) -> serde_json::Value {
        reqwest::get(format!("{}/_sandbox/counts", self.sandbox(platform)))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// A client of the shared control plane (with the environment started).
pub async fn client() -> kube::Client {
    env();
    controlplane::shared().await.client().await.unwrap()
}

/// Creates namespace `name` (fine if it exists).
pub async fn namespace(client: &kube::Client, name: &str) {
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
    let _ = Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await;
}

pub async fn put_secret(client: &kube::Client, ns: &str, name: &str, data: serde_json::Value) {
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

/// The sandbox's default credentials for `platform`, as Secret data.
pub fn credentials(platform: &str) -> serde_json::Value {
    match platform {
        "choreo" => serde_json::json!({"token": "sandbox-choreo-token"}),
        "cycloid" => serde_json::json!({"token": "sandbox-cycloid-api-key"}),
        "frends" => serde_json::json!({"token": "sandbox-frends-token"}),
        "api7" => serde_json::json!({"token": "sandbox-api7-token"}),
        _ => serde_json::json!({"username": "sandbox-user", "password": "sandbox-password"}),
    }
}

/// A PlatformConnection spec for `platform`'s sandbox with the seeded organization.
pub fn connection_spec(platform: &str, endpoint: &str, secret: &str) -> serde_json::Value {
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
    spec
}

/// Creates the Secret and a PlatformConnection named `platform` in `ns` for that platform's
/// sandbox, and waits until it is Ready.
pub async fn connect(client: &kube::Client, ns: &str, platform: &str) {
    let env = env();
    let secret = format!("{platform}-credentials");
    put_secret(client, ns, &secret, credentials(platform)).await;
    apply(
        client,
        ns,
        serde_json::json!({
            "apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
            "metadata": {"name": platform},
            "spec": connection_spec(platform, env.endpoint(platform), &secret),
        }),
    )
    .await;
    let api = Api::<converge_api::connection::PlatformConnection>::namespaced(client.clone(), ns);
    wait_until(&api, platform, "Ready", Duration::from_secs(30), |c| {
        c.status.as_ref().is_some_and(|s| s.common.is_true("Ready"))
    })
    .await;
}

/// Server-side applies `object` (a full manifest as JSON) in `ns` with the field manager
/// "test", as `kubectl apply --server-side` would.
pub async fn apply(client: &kube::Client, ns: &str, object: serde_json::Value) {
    let name = object["metadata"]["name"].as_str().unwrap().to_string();
    let (group, version) = object["apiVersion"]
        .as_str()
        .unwrap()
        .split_once('/')
        .map(|(g, v)| (g.to_string(), v.to_string()))
        .unwrap_or((
            String::new(),
            object["apiVersion"].as_str().unwrap().to_string(),
        ));
    let kind = object["kind"].as_str().unwrap();
    let gvk = kube::core::GroupVersionKind::gvk(&group, &version, kind);
    let (ar, _) = kube::discovery::pinned_kind(client, &gvk).await.unwrap();
    let api = Api::<kube::core::DynamicObject>::namespaced_with(client.clone(), ns, &ar);
    api.patch(
        &name,
        &PatchParams::apply("test").force(),
        &Patch::Apply(&object),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {kind} {name}: {e}"));
}

/// Merge-patches `spec` of a Converge object (the way a person edits one field).
pub async fn patch_spec<K: Managed>(api: &Api<K>, name: &str, spec: serde_json::Value) {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(&serde_json::json!({ "spec": spec })),
    )
    .await
    .unwrap();
}

/// Polls `name` until `done` holds (or panics after `timeout` with the last status seen).
pub async fn wait_until<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    timeout: Duration,
    done: impl Fn(&K) -> bool,
) -> K
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = None;
    while tokio::time::Instant::now() < deadline {
        if let Some(o) = api.get_opt(name).await.unwrap() {
            if done(&o) {
                return o;
            }
            last = Some(o);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{name} never became {what} within {timeout:?}; last seen: {last:#?}");
}

pub fn condition<K: Managed>(obj: &K, type_: &str) -> Option<Condition> {
    obj.status()
        .and_then(|s| K::common(s).condition(type_))
        .cloned()
}

/// Ready=True for the object's current generation.
pub fn is_ready<K: Managed>(obj: &K) -> bool {
    condition(obj, "Ready").is_some_and(|c| c.status == "True")
        && obj.status().and_then(|s| K::common(s).observed_generation) == obj.meta().generation
}

/// Waits until the object is Ready for its current generation (default timeout 60 s).
pub async fn wait_ready<K: Managed>(api: &Api<K>, name: &str) -> K {
    wait_until(api, name, "Ready", Duration::from_secs(60), is_ready::<K>).await
}

/// Waits until condition `type_` is True with `reason`.
pub async fn wait_reason<K: Managed>(api: &Api<K>, name: &str, type_: &str, reason: &str) -> K {
    wait_until(
        api,
        name,
        &format!("{type_}=True ({reason})"),
        Duration::from_secs(60),
        |o| {
            condition(o, type_)
                .is_some_and(|c| c.reason == reason && (type_ != "Stalled" || c.status == "True"))
        },
    )
    .await
}

/// Deletes the object and waits until it is gone (its finalizer done).
pub async fn delete_and_wait<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    api.delete(name, &DeleteParams::default()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while api.get_opt(name).await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} still exists 60 s after deletion"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The Events recorded for object `name` in `ns`, as "reason: note".
pub async fn events(client: &kube::Client, ns: &str, name: &str) -> Vec<String> {
    Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .map(|e| {
            format!(
                "{}: {}",
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default()
            )
        })
        .collect()
}

impl Env {
    /// Calls other than GET whose path contains `fragment` (an object's canonical, code or
    /// id): the platform writes made for that object so far. Tests of one binary share the
    /// sandboxes, so filter by something only your test uses.
    pub async fn writes(&self, platform: &str, fragment: &str) -> usize {
        let calls: Vec<serde_json::Value> =
            reqwest::get(format!("{}/_sandbox/calls", self.sandbox(platform)))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        calls
            .iter()
            .filter(|c| {
                c["method"] != "GET" && c["path"].as_str().is_some_and(|p| p.contains(fragment))
            })
            .count()
    }

    /// A platform client with the sandbox's default credentials, to act on the platform as
    /// someone other than Converge (drift, pre-existing objects).
    pub fn platform_client(&self, platform: &str) -> converge_platforms::PlatformClient {
        let spec: converge_api::connection::PlatformConnectionSpec =
            serde_json::from_value(connection_spec(platform, self.endpoint(platform), "unused"))
                .unwrap();
        let auth = match platform {
            "opschain" => converge_platforms::Auth::basic("sandbox-user", "sandbox-password"),
            _ => converge_platforms::Auth::bearer(credentials(platform)["token"].as_str().unwrap()),
        };
        converge_platforms::PlatformClient::new(
            &converge_engine::connections::settings::from_spec(&spec, None),
            auth,
            converge_platforms::ClientMetrics::default(),
        )
        .unwrap()
    }
}

/// Waits for an Event with `reason` on object `name`; returns it as "reason: note".
pub async fn wait_event(client: &kube::Client, ns: &str, name: &str, reason: &str) -> String {
    for _ in 0..200 {
        if let Some(e) = events(client, ns, name)
            .await
            .into_iter()
            .find(|e| e.starts_with(&format!("{reason}:")))
        {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "no {reason} Event for {name}: {:?}",
        events(client, ns, name).await
    );
}

/// JSON merge patch of `b` into `a` (a null removes the key), to vary a manifest per test.
pub fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    a.remove(&k);
                } else {
                    merge(a.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (a, b) => *a = b,
    }
}
