//! Bad input that admission cannot catch (tests/crds.rs covers what it can), on a real
//! apiserver with one in-process controller: documents too large for the apiserver, an
//! OpenAPI document no platform could take, references to what does not exist, a connection
//! of the wrong platform, a Secret without the expected key. Each bad object says what is
//! wrong in its conditions; while they all sit in the namespace, good objects created after
//! them converge, and the same controller keeps running (nothing panicked).

mod common;

use std::time::{Duration, Instant};

use common::converge::*;
use common::every_kind::{everything, object};
use converge_api::apispec::ApiSpec;
use converge_api::component::Component;
use converge_api::connection::PlatformConnection;
use converge_api::project::Project;
use converge_engine::Managed;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

const NS: &str = "bad-input";
/// The apiserver's limit for one object (etcd's request limit is a little above).
const ONE_MIB: usize = 1024 * 1024;

/// A valid OpenAPI 3 document of about `size` bytes: many paths.
fn big_openapi(title: &str, size: usize) -> String {
    let mut doc = format!(
        "openapi: 3.0.1\ninfo:\n  title: {title}\n  version: 1.0.0\nservers:\n  - url: http://big.internal:8080\npaths:\n"
    );
    // Large the way real definitions are large: long descriptions on a few dozen operations
    // (each operation is an API on API7, created one call at a time under the request budget).
    let words = "lorem ipsum ".repeat(size / 40 / 12 + 1);
    let mut i = 0;
    while doc.len() < size {
        doc.push_str(&format!(
            "  /items/{i:06}:\n    get:\n      description: {words}\n      responses:\n        \"200\":\n          description: item {i}\n"
        ));
        i += 1;
    }
    doc
}

fn config_map(name: &str, key: &str, text: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
           "data": {key: text}})
}

/// Server-side applies and returns the apiserver's refusal (the test fails if it accepts).
async fn refused(client: &kube::Client, obj: Value) -> String {
    let (group, version) = obj["apiVersion"]
        .as_str()
        .unwrap()
        .split_once('/')
        .map(|(g, v)| (g.to_string(), v.to_string()))
        .unwrap_or((String::new(), "v1".into()));
    let gvk = kube::core::GroupVersionKind::gvk(&group, &version, obj["kind"].as_str().unwrap());
    let (ar, _) = kube::discovery::pinned_kind(client, &gvk).await.unwrap();
    let api = Api::<kube::core::DynamicObject>::namespaced_with(client.clone(), NS, &ar);
    let name = obj["metadata"]["name"].as_str().unwrap();
    match api
        .patch(
            name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&obj),
        )
        .await
    {
        Ok(_) => panic!("{name} was accepted"),
        Err(e) => e.to_string(),
    }
}

async fn condition_of<K: Managed>(api: &Api<K>, name: &str, type_: &str, reason: &str) -> String {
    let o = wait_until(
        api,
        name,
        &format!("{type_} ({reason})"),
        Duration::from_secs(60),
        |o| condition(o, type_).is_some_and(|c| c.status == "True" && c.reason == reason),
    )
    .await;
    condition(&o, type_).unwrap().message
}

fn connection_not_ready(c: &PlatformConnection) -> Option<(String, String)> {
    let s = c.status.as_ref()?;
    let stalled = s.common.condition("Stalled")?;
    (stalled.status == "True" && !s.common.is_true("Ready"))
        .then(|| (stalled.reason.clone(), stalled.message.clone()))
}

#[tokio::test]
async fn bad_objects_say_what_is_wrong_and_hold_nothing_else_up() {
    let env = env();
    let client = client().await;
    namespace(&client, NS).await;
    for p in ["cycloid", "frends", "api7", "opschain"] {
        connect(&client, NS, p).await;
    }
    let specs = Api::<ApiSpec>::namespaced(client.clone(), NS);
    let projects = Api::<Project>::namespaced(client.clone(), NS);
    let components = Api::<Component>::namespaced(client.clone(), NS);
    let conns = Api::<PlatformConnection>::namespaced(client.clone(), NS);

    // Too large for the apiserver: a ConfigMap over 1 MiB, and an inline document over the
    // CRD's maxLength. Refused with the apiserver's words, before Converge sees them.
    let over = refused(
        &client,
        config_map(
            "too-big",
            "openapi.yaml",
            &big_openapi("Too big", ONE_MIB + 1024),
        ),
    )
    .await;
    assert!(
        over.contains("Too long") || over.contains("too large"),
        "{over}"
    );
    let inline = refused(
        &client,
        object(
            "ApiSpec",
            "inline-too-big",
            json!({"connectionRef": {"name": "frends"},
                   "definition": {"inline": big_openapi("Inline too big", ONE_MIB + 16)},
                   "frends": {"basePath": "/api/big/v1"}}),
        ),
    )
    .await;
    assert!(
        inline.contains("spec.definition.inline") && inline.contains("Too long"),
        "{inline}"
    );
    eprintln!("ConfigMap over 1 MiB: {over}\ninline document over 1 MiB: {inline}");

    // Near the limit, accepted by the apiserver: Converge parses and imports it.
    let near = big_openapi("Near limit", ONE_MIB - 64 * 1024);
    apply(&client, NS, config_map("near-limit", "openapi.yaml", &near)).await;
    apply(
        &client,
        NS,
        object(
            "ApiSpec",
            "near-limit",
            json!({"connectionRef": {"name": "api7"},
                   "definition": {"configMapKeyRef": {"name": "near-limit", "key": "openapi.yaml"}},
                   "api7": {}}),
        ),
    )
    .await;

    // Documents no platform could take: Stalled InvalidDefinition, saying why.
    let invalid = [
        (
            "not-yaml",
            "openapi: [3.0.1\ninfo: {",
            "neither JSON nor YAML",
        ),
        (
            "a-list",
            "- openapi\n- 3.0.1\n",
            "must be an OpenAPI document",
        ),
    ];
    for (name, text, _) in invalid {
        apply(
            &client,
            NS,
            object(
                "ApiSpec",
                name,
                json!({"connectionRef": {"name": "frends"}, "definition": {"inline": text},
                       "frends": {"basePath": format!("/api/{name}/v1")}}),
            ),
        )
        .await;
    }

    // References to what does not exist: waiting, naming it.
    apply(
        &client,
        NS,
        object(
            "Component",
            "orphan-component",
            json!({"connectionRef": {"name": "cycloid"}, "projectRef": {"name": "no-such-project"},
                   "cycloid": {"canonical": "bad-orphan", "name": "Orphan", "environment": "staging",
                               "stackRef": "cycloidio:stack-docker", "useCase": "default"}}),
        ),
    )
    .await;
    apply(
        &client,
        NS,
        object(
            "ApiSpec",
            "missing-config-map",
            json!({"connectionRef": {"name": "frends"},
                   "definition": {"configMapKeyRef": {"name": "no-such-doc", "key": "openapi.yaml"}},
                   "frends": {"basePath": "/api/missing/v1"}}),
        ),
    )
    .await;
    apply(
        &client,
        NS,
        object(
            "Project",
            "no-connection",
            json!({"connectionRef": {"name": "no-such-connection"},
                   "opschain": {"code": "bad_noconn", "name": "No connection"}}),
        ),
    )
    .await;
    // A connection of another platform than the spec's block.
    apply(
        &client,
        NS,
        object(
            "Project",
            "wrong-platform",
            json!({"connectionRef": {"name": "opschain"},
                   "cycloid": {"canonical": "bad-wrong", "name": "Wrong",
                               "configRepositoryCanonical": "acme-config"}}),
        ),
    )
    .await;
    // Secrets without the keys the connection reads.
    put_secret(
        &client,
        NS,
        "token-elsewhere",
        json!({"api-key": "some-token-value"}),
    )
    .await;
    apply(
        &client,
        NS,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
               "metadata": {"name": "missing-token"},
               "spec": connection_spec("cycloid", env.endpoint("cycloid"), "token-elsewhere")}),
    )
    .await;
    put_secret(
        &client,
        NS,
        "no-password",
        json!({"username": "sandbox-user"}),
    )
    .await;
    apply(
        &client,
        NS,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
               "metadata": {"name": "missing-password"},
               "spec": connection_spec("opschain", env.endpoint("opschain"), "no-password")}),
    )
    .await;

    // Good objects created after all of that converge as if it were not there.
    let started = Instant::now();
    let good: Vec<Value> = everything("good", "Delete")
        .into_iter()
        .filter(|o| o["spec"]["connectionRef"]["name"] != "choreo")
        .collect();
    for o in &good {
        apply(&client, NS, o.clone()).await;
    }
    let cp = common::controlplane::shared().await;
    let names: Vec<String> = good
        .iter()
        .map(|o| {
            let kind = match o["kind"].as_str().unwrap() {
                "Project" => "projects.converge.dev",
                k => k,
            };
            format!(
                "{}/{}",
                kind.to_lowercase(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    let o = cp
        .kubectl()
        .args(["wait", "-n", NS, "--for=condition=Ready", "--timeout=90s"])
        .args(&names)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "good objects beside bad ones: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!(
        "{} good objects Ready in {:?} beside the bad ones",
        good.len(),
        started.elapsed()
    );

    // What each bad object says.
    for (name, _, words) in invalid {
        let m = condition_of(&specs, name, "Stalled", "InvalidDefinition").await;
        assert!(
            m.contains("the OpenAPI definition cannot be used") && m.contains(words),
            "{name}: {m}"
        );
    }
    let m = condition_of(
        &components,
        "orphan-component",
        "Reconciling",
        "WaitingForReference",
    )
    .await;
    assert!(m.contains("Project \"no-such-project\""), "{m}");
    let m = condition_of(
        &specs,
        "missing-config-map",
        "Reconciling",
        "WaitingForReference",
    )
    .await;
    assert!(m.contains("ConfigMap \"no-such-doc\""), "{m}");
    let m = condition_of(
        &projects,
        "no-connection",
        "Reconciling",
        "WaitingForReference",
    )
    .await;
    assert!(
        m.contains("PlatformConnection \"no-such-connection\""),
        "{m}"
    );
    let m = condition_of(&projects, "wrong-platform", "Stalled", "InvalidSpec").await;
    assert!(
        m.contains("\"opschain\" is a opschain connection") && m.contains("declares cycloid"),
        "{m}"
    );
    for (name, words) in [
        (
            "missing-token",
            "Secret \"token-elsewhere\" has no key \"token\"",
        ),
        (
            "missing-password",
            "Secret \"no-password\" has no key \"password\"",
        ),
    ] {
        let c = wait_until(&conns, name, "not Ready", Duration::from_secs(30), |c| {
            connection_not_ready(c).is_some()
        })
        .await;
        let (reason, message) = connection_not_ready(&c).unwrap();
        assert_eq!(reason, "CredentialsMissing", "{name}: {message}");
        assert!(message.contains(words), "{name}: {message}");
    }

    // The document near 1 MiB went through (with its many paths).
    let s = wait_ready(&specs, "near-limit").await;
    eprintln!(
        "a {} KiB OpenAPI document in a ConfigMap converged: {:?}",
        near.len() / 1024,
        s.status.and_then(|s| s.api_id)
    );

    // Still the same controller: a later change is picked up, and nothing panicked.
    patch_spec(
        &projects,
        "oc-proj",
        json!({"opschain": {"name": "good renamed"}}),
    )
    .await;
    wait_ready(&projects, "oc-proj").await;
    assert!(
        !env.logs.text().contains("panicked"),
        "a reconcile panicked"
    );
    let ready = specs.get("near-limit").await.unwrap();
    assert!(is_ready(&ready));
}
