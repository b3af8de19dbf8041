//! ApiSpec against the real apiserver and the Frends, API7 Cloud and Choreo sandboxes.

mod common;

use std::time::Duration;

use common::converge::*;
use converge_api::apispec::ApiSpec;
use converge_platforms::api7::{Active, Api7Client, Api7Scope, ApplicationPatch};
use converge_platforms::choreo::ChoreoClient;
use converge_platforms::frends::FrendsClient;
use converge_platforms::{Auth, ClientMetrics, Secret};
use kube::api::Api;
use serde_json::{Value, json};

async fn setup(ns: &str, platform: &str) -> (kube::Client, Api<ApiSpec>) {
    env();
    let client = client().await;
    namespace(&client, ns).await;
    connect(&client, ns, platform).await;
    let api = Api::namespaced(client.clone(), ns);
    (client, api)
}

fn api_base(platform: &str) -> &'static str {
    env().endpoint(platform)
}

fn admin_base(platform: &str) -> &'static str {
    env().sandbox(platform)
}

fn frends() -> FrendsClient {
    FrendsClient::new(
        FrendsClient::config(api_base("frends")),
        Auth::bearer("sandbox-frends-token"),
        ClientMetrics::default(),
        Some(1),
    )
    .unwrap()
}

fn api7() -> Api7Client {
    Api7Client::new(
        Api7Client::config(api_base("api7")),
        Auth::bearer("sandbox-api7-token"),
        ClientMetrics::default(),
        Api7Scope {
            organization_id: "1001".into(),
            cluster_id: "2001".into(),
        },
    )
    .unwrap()
}

fn choreo() -> ChoreoClient {
    ChoreoClient::new(
        ChoreoClient::config(api_base("choreo")),
        Secret::new("sandbox-choreo-token"),
        "acme",
        ClientMetrics::default(),
    )
    .unwrap()
}

/// An OpenAPI 3 document with one GET operation per path.
fn openapi3(title: &str, server: &str, paths: &[&str], description: Option<&str>) -> String {
    let description = description
        .map(|d| format!("  description: {d}\n"))
        .unwrap_or_default();
    let mut doc = format!(
        "openapi: 3.0.1\ninfo:\n  title: {title}\n  version: 1.0.0\n{description}servers:\n  - url: {server}\npaths:\n"
    );
    for p in paths {
        doc.push_str(&format!(
            "  {p}:\n    get:\n      responses:\n        \"200\":\n          description: ok\n"
        ));
    }
    doc
}

fn apispec(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "converge.dev/v1alpha1", "kind": "ApiSpec",
        "metadata": {"name": name}, "spec": spec,
    })
}

fn config_map(name: &str, text: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name}, "data": {"openapi.yaml": text},
    })
}

/// Calls to `platform`'s sandbox that were not reads, on the path `needle` or under it.
async fn writes(platform: &str, needle: &str) -> Vec<String> {
    let calls: Vec<Value> = reqwest::get(format!("{}/_sandbox/calls", admin_base(platform)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    calls
        .into_iter()
        .filter(|c| {
            let path = c["path"].as_str().unwrap_or("");
            c["method"] != "GET" && (path.ends_with(needle) || path.contains(&format!("{needle}/")))
        })
        .map(|c| format!("{} {}", c["method"], c["path"]))
        .collect()
}

fn status(o: &ApiSpec) -> &converge_api::apispec::ApiSpecStatus {
    o.status.as_ref().unwrap()
}

fn ready_message(o: &ApiSpec) -> String {
    condition(o, "Ready").map(|c| c.message).unwrap_or_default()
}

async fn poll<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(t) = f().await {
            return t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never happened"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// What the sandbox shows of a Frends specification beyond the documented API (its base path,
/// published versions, deployments and their progress): its inspection on the admin surface.
async fn frends_inspect(id: i64) -> Value {
    reqwest::get(format!(
        "{}/_sandbox/frends/specifications/{id}",
        admin_base("frends")
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

/// ApiSpec on Frends over time, through kubectl: create from a ConfigMap (published, a
/// deployment to agent group 2 requested, a passthrough); change the document (written to the
/// active version, published once, the new version's deployment requested); change it again;
/// delete. After each step: status (which says a deployment was requested, never that it
/// finished: Frends answers "Deployment started" and reports nothing more), what `kubectl
/// events` prints, the specification read through Frends' documented API (only id, name,
/// activeVersion, description) and the sandbox's own view of what that API cannot show.
#[tokio::test]
async fn frends_timeline_create_change_change_again_delete() {
    let ns = "apispec-frends-timeline";
    let (client, api) = setup(ns, "frends").await;
    let base = "/api/timeline/v1";
    let f = frends();

    // 1. Create.
    apply(
        &client,
        ns,
        config_map("tl-doc", &openapi3("Timeline Pets", base, &["/pets"], None)),
    )
    .await;
    apply(
        &client,
        ns,
        apispec(
            "tl",
            json!({
                "connectionRef": {"name": "frends"},
                "definition": {"configMapKeyRef": {"name": "tl-doc", "key": "openapi.yaml"}},
                "frends": {
                    "basePath": base,
                    "publish": {"changeDescription": "Published by Converge"},
                    "deployments": [{"agentGroupId": 2}],
                    "passthrough": [{"isDefault": true, "targetUrl": {"server": "https://tl.internal"}}],
                },
            }),
        ),
    )
    .await;
    let o = wait_ready(&api, "tl").await;
    let s = status(&o);
    let id: i64 = s.api_id.as_deref().unwrap().parse().unwrap();
    let uid = o.metadata.uid.clone().unwrap();
    assert_eq!((s.active_version, s.published_version), (Some(2), Some(1)));
    assert_eq!(
        (s.deployments[0].agent_group_id, s.deployments[0].version),
        (2, 1)
    );
    assert!(
        s.deployments[0].requested_at.is_some(),
        "when it was requested"
    );
    let ready = ready_message(&o);
    assert!(
        ready.contains("deployment requested: v1 to agent group 2")
            && ready.contains("reports no deployment progress")
            && !ready.contains("deployed"),
        "{ready}"
    );
    assert_events(
        "create",
        ns,
        "tl",
        &[
            (
                "Created",
                &format!(
                    "created Frends API specification \"Timeline Pets\" on base path \"{base}\" (id {id})"
                ),
            ),
            (
                "PassthroughChanged",
                "create passthrough (default) on version 1",
            ),
            ("Published", "published version 1"),
            (
                "DeploymentRequested",
                "requested the deployment of version 1 to agent group 2 (Frends answered \"Deployment started\" and reports no progress)",
            ),
        ],
    );
    let platform = f.get_specification(id).await.unwrap();
    assert_eq!(
        (platform.name.as_str(), platform.active_version),
        ("Timeline Pets", 2)
    );
    assert_eq!(
        platform.description.as_deref(),
        Some(format!("[managed by Converge: ApiSpec {ns}/tl, uid {uid}]").as_str()),
        "the marker Converge finds its specification by"
    );
    let seen = frends_inspect(id).await;
    assert_eq!(seen["basePath"], base);
    assert_eq!(seen["deployments"][0]["agentGroupId"], 2);
    assert_eq!(seen["deployments"][0]["version"], 1);

    // 2. Change the document.
    let o = change_document(
        &client,
        &api,
        ns,
        "tl",
        "tl-doc",
        &openapi3("Timeline Pets", base, &["/pets", "/owners"], Some("v2")),
        &o,
    )
    .await;
    let s = status(&o);
    assert_eq!(s.api_id.as_deref(), Some(id.to_string().as_str()));
    assert_eq!((s.active_version, s.published_version), (Some(3), Some(2)));
    assert_eq!(
        (s.deployments[0].agent_group_id, s.deployments[0].version),
        (2, 2)
    );
    assert!(ready_message(&o).contains("deployment requested: v2 to agent group 2"));
    assert_events(
        "change",
        ns,
        "tl",
        &[
            (
                "Updated",
                "wrote the definition to active version 2 (the definition changed)",
            ),
            ("Published", "published version 2"),
            (
                "DeploymentRequested",
                "requested the deployment of version 2 to agent group 2",
            ),
        ],
    );
    let platform = f.get_specification(id).await.unwrap();
    assert_eq!(platform.active_version, 3);
    assert!(
        platform
            .description
            .as_deref()
            .unwrap()
            .starts_with("v2\n\n[managed by Converge"),
        "{:?}",
        platform.description
    );
    assert_eq!(frends_inspect(id).await["deployments"][0]["version"], 2);

    // 3. Change it again.
    let o = change_document(
        &client,
        &api,
        ns,
        "tl",
        "tl-doc",
        &openapi3(
            "Timeline Pets",
            base,
            &["/pets", "/owners", "/vets"],
            Some("v3"),
        ),
        &o,
    )
    .await;
    let s = status(&o);
    assert_eq!((s.active_version, s.published_version), (Some(4), Some(3)));
    assert_eq!(s.deployments[0].version, 3);
    assert_events(
        "change again",
        ns,
        "tl",
        &[
            (
                "Updated",
                "wrote the definition to active version 3 (the definition changed)",
            ),
            ("Published", "published version 3"),
            (
                "DeploymentRequested",
                "requested the deployment of version 3 to agent group 2",
            ),
        ],
    );
    assert_eq!(f.get_specification(id).await.unwrap().active_version, 4);
    assert_eq!(frends_inspect(id).await["deployments"][0]["version"], 3);
    let publishes = writes("frends", &format!("/{id}/publish")).await;
    assert_eq!(publishes.len(), 3, "one publish per content: {publishes:?}");

    // 4. Delete: removed from agent group 2, then from the default group, for good.
    delete_and_wait(&api, "tl").await;
    assert_events(
        "delete",
        ns,
        "tl",
        &[("Deleted", &format!("deleted Frends API specification {id}"))],
    );
    assert!(
        f.find_specification(id).await.unwrap().is_none(),
        "deleted from Frends"
    );
    let removals = writes("frends", &format!("/{id}/agent-group")).await;
    assert_eq!(
        removals,
        vec![
            format!("\"DELETE\" \"/api/v1/api-management/api-specifications/{id}/agent-group/2\""),
            format!("\"DELETE\" \"/api/v1/api-management/api-specifications/{id}/agent-group/1\""),
        ]
    );
}

/// Nothing is written while nothing differs; a document replaced on Frends and a deleted
/// passthrough are put back, with a DriftCorrected Event.
#[tokio::test]
async fn frends_corrects_drift_and_writes_nothing_when_converged() {
    let ns = "apispec-frends-drift";
    let (client, api) = setup(ns, "frends").await;
    let base = "/api/drift/v1";
    let doc = openapi3("Drift Pets", base, &["/pets"], None);
    apply(
        &client,
        ns,
        apispec(
            "drift",
            json!({
                "connectionRef": {"name": "frends"}, "driftInterval": "5s",
                "definition": {"inline": doc},
                "frends": {
                    "basePath": base,
                    "passthrough": [{"path": "/pets", "method": "GET", "corsEnabled": true,
                        "allowedOrigins": ["https://shop.test"],
                        "targetUrl": {"server": "https://drift.internal"}}],
                },
            }),
        ),
    )
    .await;
    let o = wait_ready(&api, "drift").await;
    let id: i64 = status(&o).api_id.as_deref().unwrap().parse().unwrap();
    let before = writes("frends", &format!("/api-specifications/{id}")).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        writes("frends", &format!("/api-specifications/{id}")).await,
        before,
        "no write across two drift intervals when nothing differs"
    );

    let f = frends();
    f.update_specification(id, &openapi3("Hijacked", base, &["/pets"], None))
        .await
        .unwrap();
    poll("the document put back", async || {
        (f.get_specification(id).await.unwrap().name == "Drift Pets").then_some(())
    })
    .await;
    let e = wait_event(&client, ns, "drift", "DriftCorrected").await;
    assert!(e.contains("wrote the definition"), "{e}");

    let pt = f.list_passthroughs(id, 1).await.unwrap();
    f.delete_passthrough(id, 1, pt[0].id).await.unwrap();
    let back = poll("the passthrough put back", async || {
        let now = f.list_passthroughs(id, 1).await.unwrap();
        (!now.is_empty()).then_some(now)
    })
    .await;
    assert_eq!(back[0].settings.allowed_origins, vec!["https://shop.test"]);
    assert!(back[0].settings.cors_enabled);
    delete_and_wait(&api, "drift").await;
}

/// A specification Converge did not create stalls until adopted; adopted, it keeps its id and
/// no second one appears; deletionPolicy Orphan leaves it on Frends.
#[tokio::test]
async fn frends_adopts_only_when_asked_and_orphans() {
    let ns = "apispec-frends-adopt";
    let (client, api) = setup(ns, "frends").await;
    let base = "/api/adopt/v1";
    let doc = openapi3("Adopt Pets", base, &["/pets"], None);
    let f = frends();
    let existing = f.create_specification(&doc).await.unwrap();
    apply(
        &client,
        ns,
        apispec(
            "adopt",
            json!({
                "connectionRef": {"name": "frends"},
                "definition": {"inline": doc}, "frends": {"basePath": base},
            }),
        ),
    )
    .await;
    let o = wait_reason(&api, "adopt", "Stalled", "AlreadyExistsNotAdopted").await;
    let m = condition(&o, "Stalled").unwrap().message;
    assert!(
        m.contains("adoptionPolicy: Adopt") && m.contains(&existing.id.to_string()),
        "{m}"
    );
    patch_spec(
        &api,
        "adopt",
        json!({"adoptionPolicy": "Adopt", "deletionPolicy": "Orphan"}),
    )
    .await;
    let o = wait_ready(&api, "adopt").await;
    assert_eq!(status(&o).api_id, Some(existing.id.to_string()));
    let named = f
        .list_specifications()
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.name == "Adopt Pets")
        .count();
    assert_eq!(named, 1, "no second specification");
    delete_and_wait(&api, "adopt").await;
    assert!(
        f.find_specification(existing.id).await.unwrap().is_some(),
        "orphaned, kept"
    );
}

/// A missing ConfigMap is waited for; a document that is not OpenAPI stalls with a message
/// saying why; fixing the ConfigMap converges.
#[tokio::test]
async fn frends_waits_for_its_configmap_and_stalls_on_an_invalid_document() {
    let ns = "apispec-frends-ref";
    let (client, api) = setup(ns, "frends").await;
    let base = "/api/ref/v1";
    apply(
        &client,
        ns,
        apispec(
            "ref",
            json!({
                "connectionRef": {"name": "frends"},
                "definition": {"configMapKeyRef": {"name": "ref-doc", "key": "openapi.yaml"}},
                "frends": {"basePath": base},
            }),
        ),
    )
    .await;
    let o = wait_reason(&api, "ref", "Reconciling", "WaitingForReference").await;
    assert!(
        ready_message(&o).contains("ref-doc"),
        "{}",
        ready_message(&o)
    );
    apply(
        &client,
        ns,
        config_map("ref-doc", "info:\n  title: Ref\npaths: {}\n"),
    )
    .await;
    let o = wait_reason(&api, "ref", "Stalled", "InvalidDefinition").await;
    let m = condition(&o, "Stalled").unwrap().message;
    assert!(m.contains("no OpenAPI version"), "{m}");
    apply(
        &client,
        ns,
        config_map("ref-doc", &openapi3("Ref Pets", base, &["/pets"], None)),
    )
    .await;
    let o = wait_ready(&api, "ref").await;
    assert!(status(&o).api_id.is_some());
    delete_and_wait(&api, "ref").await;
}

/// suspend creates nothing and says what it would do; ObserveOnly reports a changed definition
/// without writing it, and deleting under ObserveOnly leaves the specification.
#[tokio::test]
async fn frends_suspend_and_observe_only_never_write() {
    let ns = "apispec-frends-held";
    let (client, api) = setup(ns, "frends").await;
    let base = "/api/held/v1";
    let doc = openapi3("Held Pets", base, &["/pets"], None);
    apply(
        &client,
        ns,
        apispec(
            "held",
            json!({
                "connectionRef": {"name": "frends"}, "suspend": true, "driftInterval": "5s",
                "definition": {"inline": doc}, "frends": {"basePath": base},
            }),
        ),
    )
    .await;
    let o = wait_reason(&api, "held", "Ready", "Suspended").await;
    assert!(ready_message(&o).contains("create Frends API specification"));
    let f = frends();
    let exists = |name: &'static str| {
        let f = f.clone();
        async move {
            f.list_specifications()
                .await
                .unwrap()
                .into_iter()
                .any(|s| s.name == name)
        }
    };
    assert!(!exists("Held Pets").await, "suspended: nothing created");

    patch_spec(&api, "held", json!({"suspend": false})).await;
    let o = wait_ready(&api, "held").await;
    let id = status(&o).api_id.clone().unwrap();
    let before = writes("frends", &format!("/api-specifications/{id}")).await;
    patch_spec(
        &api,
        "held",
        json!({"managementPolicy": "ObserveOnly",
               "definition": {"inline": openapi3("Held Pets", base, &["/pets"], Some("changed"))}}),
    )
    .await;
    let o = wait_reason(&api, "held", "Ready", "Observed").await;
    assert!(
        ready_message(&o).contains("write the definition"),
        "{}",
        ready_message(&o)
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        writes("frends", &format!("/api-specifications/{id}")).await,
        before,
        "ObserveOnly wrote"
    );
    delete_and_wait(&api, "held").await;
    assert!(exists("Held Pets").await, "ObserveOnly never deletes");
}

/// Writes `doc` into ConfigMap `cm` and waits until ApiSpec `name` is Ready with a definition
/// other than the one `before` recorded.
async fn change_document(
    client: &kube::Client,
    api: &Api<ApiSpec>,
    ns: &str,
    name: &str,
    cm: &str,
    doc: &str,
    before: &ApiSpec,
) -> ApiSpec {
    let hash = status(before).definition_hash.clone();
    apply(client, ns, config_map(cm, doc)).await;
    wait_until(
        api,
        name,
        "the changed definition",
        Duration::from_secs(60),
        |o| is_ready(o) && o.status.as_ref().unwrap().definition_hash != hash,
    )
    .await
}

/// What `kubectl events` prints for object `name` in `ns`, as a person reads it.
fn kubectl_events(ns: &str, name: &str) -> String {
    let cp = futures::executor::block_on(common::controlplane::shared());
    let out = cp
        .kubectl()
        .args(["events", "-n", ns, "--for", &format!("apispec/{name}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The (reason, message) of each row `kubectl events` prints, cut at the header's columns.
fn event_rows(printed: &str) -> Vec<(String, String)> {
    let mut lines = printed.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let (Some(reason), Some(object), Some(message)) = (
        header.find("REASON"),
        header.find("OBJECT"),
        header.find("MESSAGE"),
    ) else {
        return Vec::new();
    };
    lines
        .filter(|l| l.len() > message)
        .map(|l| {
            (
                l[reason..object].trim().to_string(),
                l[message..].trim().to_string(),
            )
        })
        .collect()
}

/// Asserts that `kubectl events` shows, for the object, an Event of each (reason, message):
/// a row with that reason whose message contains the text.
fn assert_events(step: &str, ns: &str, name: &str, expected: &[(&str, &str)]) {
    let printed = kubectl_events(ns, name);
    let rows = event_rows(&printed);
    for (reason, message) in expected {
        assert!(
            rows.iter().any(|(r, m)| r == reason && m.contains(message)),
            "{step}: `kubectl events` shows no {reason} Event saying {message:?}:\n{printed}"
        );
    }
}

/// The APIs of an API7 application as the platform lists them: name → (id, methods and
/// paths, description).
async fn api7_apis(app: &str) -> std::collections::BTreeMap<String, (String, String, String)> {
    api7()
        .list_apis(app, &Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|a| {
            let paths: Vec<String> = a.spec.paths.iter().map(|p| p.path.clone()).collect();
            (
                a.spec.name.clone(),
                (
                    a.id,
                    format!("{} {}", a.spec.methods.join(","), paths.join(",")),
                    a.spec.description,
                ),
            )
        })
        .collect()
}

/// A definition for the API7 timeline: `operations` as (method, path, operationId, summary).
fn api7_doc(title: &str, server: &str, operations: &[(&str, &str, &str, &str)]) -> String {
    let mut doc = format!(
        "openapi: 3.0.1\ninfo:\n  title: {title}\n  version: 1.0.0\nservers:\n  - url: {server}\npaths:\n"
    );
    let mut paths: Vec<&str> = operations.iter().map(|o| o.1).collect();
    paths.dedup();
    for path in paths {
        doc.push_str(&format!("  {path}:\n"));
        for (method, _, id, summary) in operations.iter().filter(|o| o.1 == path) {
            doc.push_str(&format!(
                "    {method}:\n      operationId: {id}\n      summary: {summary}\n      responses:\n        \"200\":\n          description: ok\n"
            ));
        }
    }
    doc
}

/// ApiSpec on API7 over time, through kubectl: create (one application, one API per
/// operation, with the documented operations); change the definition (new server and path
/// prefix, a new operation: the same application and the same APIs, patched in place, never
/// deleted and recreated); change it again (an operation removed, a summary changed); delete.
/// After each step: status, what `kubectl events` prints, and the application and APIs read
/// through API7's API.
#[tokio::test]
async fn api7_timeline_create_change_change_again_delete() {
    let ns = "apispec-api7-timeline";
    let (client, api) = setup(ns, "api7").await;
    let a = api7();
    // 1. Create.
    let v1 = api7_doc(
        "inv-timeline",
        "http://inventory.internal:8080/v1",
        &[
            ("get", "/items", "listItems", "List items"),
            ("get", "/items/{id}", "getItem", "One item"),
        ],
    );
    apply(&client, ns, config_map("inv-doc", &v1)).await;
    apply(
        &client,
        ns,
        apispec(
            "inv",
            json!({
                "connectionRef": {"name": "api7"}, "driftInterval": "5s",
                "definition": {"configMapKeyRef": {"name": "inv-doc", "key": "openapi.yaml"}},
                "api7": {"labels": ["warehouse"]},
            }),
        ),
    )
    .await;
    let o = wait_ready(&api, "inv").await;
    let id = status(&o).api_id.clone().unwrap();
    assert!(
        ready_message(&o).contains("2 API(s) from the definition"),
        "{}",
        ready_message(&o)
    );
    assert_events(
        "create",
        ns,
        "inv",
        &[
            (
                "Created",
                &format!("created API7 application \"inv-timeline\" (id {id})"),
            ),
            (
                "ApiChanged",
                "created API \"listItems\" (GET /items) in API7 application \"inv-timeline\"",
            ),
            (
                "ApiChanged",
                "created API \"getItem\" (GET /items/) in API7 application \"inv-timeline\"",
            ),
        ],
    );
    let app = a.get_application(&id).await.unwrap();
    assert_eq!(app.spec.path_prefix, "/v1");
    assert_eq!(app.spec.labels, vec!["warehouse"]);
    assert_eq!(
        app.spec.upstreams[0].upstream.targets[0].host,
        "inventory.internal"
    );
    let apis = api7_apis(&id).await;
    assert_eq!(apis.keys().collect::<Vec<_>>(), ["getItem", "listItems"]);
    let list_items_id = apis["listItems"].0.clone();
    // Labels changed on API7 are put back, with the platform's drift named.
    a.patch_application(
        &id,
        &ApplicationPatch {
            labels: Some(vec!["other".into()]),
            active: Some(Active::Published),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    poll("the labels put back", async || {
        (a.get_application(&id).await.unwrap().spec.labels == vec!["warehouse"]).then_some(())
    })
    .await;
    let e = wait_event(&client, ns, "inv", "DriftCorrected").await;
    assert!(e.contains("labels [warehouse]"), "{e}");
    assert_eq!(
        writes("api7", "/apps/openapi").await,
        Vec::<String>::new(),
        "the undocumented import path is never called"
    );

    // 2. Change the definition: another server and prefix, one more operation.
    let v2 = api7_doc(
        "inv-timeline",
        "http://stock.internal:9090/v2",
        &[
            ("get", "/items", "listItems", "List items"),
            ("get", "/items/{id}", "getItem", "One item"),
            ("post", "/orders", "createOrder", "Order"),
        ],
    );
    let o = change_document(&client, &api, ns, "inv", "inv-doc", &v2, &o).await;
    assert_eq!(
        status(&o).api_id.as_deref(),
        Some(id.as_str()),
        "the same application"
    );
    assert!(
        ready_message(&o).contains("3 API(s)"),
        "{}",
        ready_message(&o)
    );
    assert_events(
        "change",
        ns,
        "inv",
        &[
            (
                "Updated",
                "updated API7 application \"inv-timeline\": path prefix \"/v1\" → \"/v2\", upstream http://stock.internal:9090",
            ),
            (
                "ApiChanged",
                "created API \"createOrder\" (POST /orders) in API7 application \"inv-timeline\"",
            ),
        ],
    );
    let app = a.get_application(&id).await.unwrap();
    assert_eq!(app.spec.path_prefix, "/v2");
    assert_eq!(
        (
            app.spec.upstreams[0].upstream.targets[0].host.as_str(),
            app.spec.upstreams[0].upstream.targets[0].port
        ),
        ("stock.internal", 9090)
    );
    let apis = api7_apis(&id).await;
    assert_eq!(apis.len(), 3);
    assert_eq!(
        apis["listItems"].0, list_items_id,
        "served throughout: never recreated"
    );
    assert_eq!(
        writes("api7", &format!("/apis/{list_items_id}")).await,
        Vec::<String>::new(),
        "an unchanged API is not written"
    );

    // 3. Change it again: an operation removed, a summary changed.
    let v3 = api7_doc(
        "inv-timeline",
        "http://stock.internal:9090/v2",
        &[
            ("get", "/items", "listItems", "Every item in stock"),
            ("post", "/orders", "createOrder", "Order"),
        ],
    );
    let o = change_document(&client, &api, ns, "inv", "inv-doc", &v3, &o).await;
    assert_eq!(status(&o).api_id.as_deref(), Some(id.as_str()));
    assert!(
        ready_message(&o).contains("2 API(s)"),
        "{}",
        ready_message(&o)
    );
    assert_events(
        "change again",
        ns,
        "inv",
        &[
            (
                "ApiChanged",
                "updated API \"listItems\" (GET /items) in API7 application \"inv-timeline\"",
            ),
            (
                "ApiChanged",
                "deleted API \"getItem\" from API7 application \"inv-timeline\" (no longer in the definition)",
            ),
        ],
    );
    let apis = api7_apis(&id).await;
    assert_eq!(
        apis.keys().collect::<Vec<_>>(),
        ["createOrder", "listItems"]
    );
    assert_eq!(apis["listItems"].0, list_items_id);
    assert_eq!(apis["listItems"].2, "Every item in stock");

    // 4. Delete.
    delete_and_wait(&api, "inv").await;
    assert_events(
        "delete",
        ns,
        "inv",
        &[("Deleted", &format!("deleted API7 application {id}"))],
    );
    assert!(a.get_application(&id).await.unwrap_err().is_not_found());
    assert!(
        a.list_apis(&id, &Default::default()).await.is_err(),
        "its APIs went with it"
    );
}

/// An application created by someone else stalls until adopted; adopted, it keeps its id;
/// suspend holds a label change; Orphan leaves it on API7.
#[tokio::test]
async fn api7_adopts_only_when_asked_suspends_and_orphans() {
    let ns = "apispec-api7-adopt";
    let (client, api) = setup(ns, "api7").await;
    let doc = openapi3("inv-adopt", "http://adopt.internal", &["/items"], None);
    let a = api7();
    let derived = converge_controllers::apispec::api7::plan::derive(
        &converge_controllers::apispec::document::parse(&doc).unwrap(),
        &Default::default(),
    )
    .unwrap();
    let existing = a.create_application(&derived.app).await.unwrap();
    apply(
        &client,
        ns,
        apispec(
            "adopt",
            json!({"connectionRef": {"name": "api7"}, "definition": {"inline": doc}, "api7": {}}),
        ),
    )
    .await;
    let o = wait_reason(&api, "adopt", "Stalled", "AlreadyExistsNotAdopted").await;
    assert!(
        condition(&o, "Stalled")
            .unwrap()
            .message
            .contains("adoptionPolicy: Adopt")
    );
    patch_spec(
        &api,
        "adopt",
        json!({"adoptionPolicy": "Adopt", "deletionPolicy": "Orphan"}),
    )
    .await;
    let o = wait_ready(&api, "adopt").await;
    assert_eq!(status(&o).api_id.as_deref(), Some(existing.id.as_str()));

    let before = writes("api7", &existing.id).await;
    patch_spec(
        &api,
        "adopt",
        json!({"suspend": true, "api7": {"labels": ["held"]}}),
    )
    .await;
    let o = wait_reason(&api, "adopt", "Ready", "Suspended").await;
    assert!(
        ready_message(&o).contains("labels [held]"),
        "{}",
        ready_message(&o)
    );
    assert_eq!(
        writes("api7", &existing.id).await,
        before,
        "suspended: no write"
    );

    delete_and_wait(&api, "adopt").await;
    assert!(
        a.get_application(&existing.id).await.is_ok(),
        "orphaned, kept"
    );
}

/// Choreo APIs are observed: Ready with lifecycle status and visibility; a missing one stalls
/// until it appears; deletion and ObserveOnly write nothing to Choreo.
#[tokio::test]
async fn choreo_observes_and_never_writes() {
    let ns = "apispec-choreo";
    let (client, api) = setup(ns, "choreo").await;
    apply(
        &client,
        ns,
        apispec(
            "orders",
            json!({"connectionRef": {"name": "choreo"}, "choreo": {"name": "Orders API", "version": "v1"}}),
        ),
    )
    .await;
    apply(
        &client,
        ns,
        apispec(
            "observed",
            json!({"connectionRef": {"name": "choreo"}, "managementPolicy": "ObserveOnly",
                   "choreo": {"name": "Orders API"}}),
        ),
    )
    .await;
    apply(
        &client,
        ns,
        apispec(
            "refunds",
            json!({"connectionRef": {"name": "choreo"}, "choreo": {"name": "Refunds API"}}),
        ),
    )
    .await;
    let o = wait_ready(&api, "orders").await;
    let s = status(&o);
    assert_eq!(s.lifecycle_status.as_deref(), Some("Published"));
    assert_eq!(s.visibility.as_deref(), Some("Public"));
    let orders_id = s.api_id.clone().unwrap();
    let o = wait_ready(&api, "observed").await;
    assert_eq!(condition(&o, "Ready").unwrap().reason, "Observed");

    let o = wait_reason(&api, "refunds", "Stalled", "ApiNotFound").await;
    assert!(
        condition(&o, "Stalled")
            .unwrap()
            .message
            .contains("Refunds API")
    );
    let r = reqwest::Client::new()
        .post(format!("{}/_sandbox/seed", admin_base("choreo")))
        .json(
            &json!({"apis": [{"orgId": "acme", "name": "Refunds API", "version": "v1",
                                "status": "Created", "visibility": "Organization"}]}),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
    let o = wait_ready(&api, "refunds").await;
    assert_eq!(status(&o).lifecycle_status.as_deref(), Some("Created"));
    assert_eq!(status(&o).visibility.as_deref(), Some("Organization"));

    for name in ["orders", "observed", "refunds"] {
        delete_and_wait(&api, name).await;
    }
    assert!(
        choreo().get_api(&orders_id).await.is_ok(),
        "never deleted on Choreo"
    );
    assert_eq!(
        writes("choreo", "").await,
        Vec::<String>::new(),
        "no write to Choreo"
    );
}

/// The documents of a YAML manifest file of `examples/`, as JSON.
fn example(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join(path),
    )
    .unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| {
            let v: serde_yaml_ng::Value = serde::Deserialize::deserialize(d).unwrap();
            serde_json::to_value(v).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// The ApiSpec examples converge against the sandboxes (their connections, named as the
/// examples name them, point at this test's sandboxes).
#[tokio::test]
async fn the_examples_converge() {
    for (platform, file) in [
        ("frends", "examples/frends/apispec.yaml"),
        ("api7", "examples/api7/apispec.yaml"),
        ("choreo", "examples/choreo/apispec.yaml"),
    ] {
        let ns = format!("apispec-example-{platform}");
        let (client, api) = setup(&ns, platform).await;
        let mut names = Vec::new();
        for object in example(file) {
            if object["kind"] == "ApiSpec" {
                names.push(object["metadata"]["name"].as_str().unwrap().to_string());
            }
            apply(&client, &ns, object).await;
        }
        assert!(!names.is_empty(), "{file} declares an ApiSpec");
        for name in names {
            let o = wait_ready(&api, &name).await;
            assert!(status(&o).api_id.is_some(), "{file}: {name}");
            delete_and_wait(&api, &name).await;
        }
    }
}
