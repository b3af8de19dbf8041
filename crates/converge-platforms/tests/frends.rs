//! The Frends API management client against the Frends sandbox over real HTTP: every operation,
//! paging, the platform's error messages, retries and what is never retried, throttling,
//! timeouts, malformed answers and redaction of the token.

use std::time::{Duration, Instant};

use converge_platforms::frends::{
    FrendsClient, HeaderAction, NewPassthrough, PassthroughHeader, PassthroughKey,
    PassthroughSettings, TargetUrl, is_path_in_use,
};
use converge_platforms::{Auth, ClientError, ClientMetrics, HttpConfig};
use converge_sandbox::frends::Frends;
use converge_sandbox::{Credential, Ops, OpsConfig, Sandbox, Served, Timing, serve};
use serde_json::{Value, json};

const TOKEN: &str = "sandbox-frends-token";
const DEFAULT_GROUP: i64 = 1;
const PRODUCTION: i64 = 2;

async fn sandbox_accepting(timing: Timing, token: &str) -> Served {
    let sandbox = Sandbox::<Frends>::new(
        Ops::new(OpsConfig {
            accepted: vec![Credential::bearer(token)],
            ..Default::default()
        }),
        timing,
        None,
    );
    serve(sandbox, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn sandbox(timing: Timing) -> Served {
    sandbox_accepting(timing, TOKEN).await
}

/// Small retry delays and no client-side budget to wait for.
fn config(endpoint: &str) -> HttpConfig {
    let mut c = FrendsClient::config(endpoint);
    c.min_retry_delay = Duration::from_millis(10);
    c.max_retry_delay = Duration::from_secs(3);
    c.requests_per_second = 1000;
    c.burst = 1000;
    c
}

fn client_with(
    endpoint: &str,
    token: &str,
    tweak: impl FnOnce(&mut HttpConfig),
) -> (FrendsClient, ClientMetrics) {
    let mut c = config(endpoint);
    tweak(&mut c);
    let metrics = ClientMetrics::default();
    let client =
        FrendsClient::new(c, Auth::bearer(token), metrics.clone(), Some(DEFAULT_GROUP)).unwrap();
    (client, metrics)
}

fn client(served: &Served) -> (FrendsClient, ClientMetrics) {
    client_with(&served.url(), TOKEN, |_| {})
}

async fn admin(served: &Served, method: reqwest::Method, path: &str, body: Value) {
    let r = reqwest::Client::new()
        .request(method, format!("{}/_sandbox/{path}", served.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

/// What the platform does not report, from the sandbox's inspection (its admin surface):
/// `/_sandbox/frends/specifications/{rest}`.
async fn inspect(served: &Served, rest: &str) -> Value {
    reqwest::get(format!(
        "{}/_sandbox/frends/specifications/{rest}",
        served.url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

async fn faults(served: &Served, body: Value) {
    admin(served, reqwest::Method::PUT, "faults", body).await;
}

fn openapi3(title: &str, server: &str) -> String {
    format!(
        "openapi: 3.0.1\ninfo:\n  title: {title}\n  version: 1.0.0\nservers:\n  - url: {server}\npaths:\n  /pets:\n    get:\n      responses:\n        200:\n          description: ok\n  /pets/{{petId}}:\n    delete:\n      responses:\n        204:\n          description: gone\n"
    )
}

fn status_error(e: &ClientError) -> (u16, &str) {
    match e {
        ClientError::Status {
            status, message, ..
        } => (*status, message.as_str()),
        other => panic!("expected a status error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_specification_is_created_updated_and_read_by_version_in_the_documented_shape() {
    let s = sandbox(Timing::INSTANT).await;
    let (c, _) = client(&s);
    assert!(c.list_specifications().await.unwrap().is_empty());

    let created = c
        .create_specification(&openapi3("Petstore", "/api/petstore/v1"))
        .await
        .unwrap();
    assert_eq!(
        (
            created.name.as_str(),
            created.active_version,
            &created.description
        ),
        ("Petstore", 1, &None)
    );

    let spec = c.get_specification(created.id).await.unwrap();
    assert_eq!(
        spec, created,
        "reads answer the documented shape, as create does"
    );
    assert_eq!(
        inspect(&s, &created.id.to_string()).await["basePath"],
        "/api/petstore/v1",
        "the base path is only on the sandbox's inspection"
    );
    assert_eq!(c.list_specifications().await.unwrap(), vec![spec.clone()]);
    assert_eq!(c.find_specification(created.id).await.unwrap(), Some(spec));
    assert_eq!(c.find_specification(created.id + 100).await.unwrap(), None);

    let renamed = openapi3("Petstore Plus", "/api/petstore/v1");
    c.update_specification(created.id, &renamed).await.unwrap();
    let spec = c.get_specification(created.id).await.unwrap();
    assert_eq!(
        (spec.name.as_str(), spec.active_version),
        ("Petstore Plus", 1)
    );
    let v1 = c.get_version(created.id, 1).await.unwrap();
    assert_eq!((v1.name.as_str(), v1.active_version), ("Petstore Plus", 1));
    let inspected = inspect(&s, &format!("{}/1", created.id)).await;
    assert_eq!(inspected["isPublished"], false);
    assert_eq!(inspected["specification"], renamed.as_str());

    // A second API on the same path is a conflict in the platform's words, and nothing is added.
    let e = c
        .create_specification(&openapi3("Other", "/API/petstore/v1/"))
        .await
        .unwrap_err();
    let (status, message) = status_error(&e);
    assert_eq!(status, 409);
    assert_eq!(
        message,
        "A path is already used in an existing API: /API/petstore/v1"
    );
    assert!(!e.is_retryable());
    assert!(is_path_in_use(&e), "the documented refusal is recognised");
    assert_eq!(c.list_specifications().await.unwrap().len(), 1);

    // The base path never changes: a validation problem naming the field.
    let e = c
        .update_specification(created.id, &openapi3("Petstore", "/api/petstore/v2"))
        .await
        .unwrap_err();
    let (status, message) = status_error(&e);
    assert_eq!(status, 400);
    assert!(message.contains("cannot be modified"), "{message}");
    assert!(message.ends_with("(basePath)"), "{message}");
    let e = c
        .create_specification("openapi: 3.0.1\ninfo: {title: A, version: '1'}\npaths: {}")
        .await
        .unwrap_err();
    let (status, message) = status_error(&e);
    assert_eq!(status, 400);
    assert!(message.contains("servers[0].url") && message.ends_with("(specification)"));
}

#[tokio::test]
async fn publish_deploy_and_delete_follow_the_platforms_rules() {
    // A step long enough that a busy machine still sees the deployment in progress.
    let s = sandbox(Timing {
        step: Duration::from_secs(3),
    })
    .await;
    let (c, metrics) = client(&s);
    let id = c
        .create_specification(&openapi3("Petstore", "/api/petstore/v1"))
        .await
        .unwrap()
        .id;

    let e = c.deploy_version(id, 1, PRODUCTION).await.unwrap_err();
    let (status, message) = status_error(&e);
    assert_eq!(status, 409);
    assert!(message.contains("only published versions can be deployed"));

    c.publish_specification(id, Some("First release"))
        .await
        .unwrap();
    let spec = c.get_specification(id).await.unwrap();
    assert_eq!(
        spec.active_version, 2,
        "publishing makes a new active version"
    );
    let v1 = c.get_version(id, 1).await.unwrap();
    assert_eq!(v1.active_version, 2);
    let inspected = inspect(&s, &format!("{id}/1")).await;
    assert_eq!(inspected["isPublished"], true);
    assert_eq!(inspected["changeDescription"], "First release");

    // "Deployment started": the client learns nothing more; the sandbox's inspection shows the
    // deployment held in Deploying for a step, then Deployed.
    c.deploy_version(id, 1, PRODUCTION).await.unwrap();
    let deployments = inspect(&s, &id.to_string()).await["deployments"].clone();
    assert_eq!(
        deployments,
        json!([{"agentGroupId": PRODUCTION, "version": 1, "status": "Deploying"}])
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while inspect(&s, &id.to_string()).await["deployments"][0]["status"] != "Deployed" {
        assert!(Instant::now() < deadline, "the deployment never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Deploying the same version again is a no-op: the deployment does not start over.
    c.deploy_version(id, 1, PRODUCTION).await.unwrap();
    assert_eq!(metrics.count("frends", "deployApiSpecification", "200"), 2);
    assert_eq!(
        inspect(&s, &format!("{id}/1")).await["deployments"],
        json!([{"agentGroupId": PRODUCTION, "version": 1, "status": "Deployed"}])
    );
    assert!(
        c.deploy_version(id, 1, 99)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // The default agent group comes last.
    let e = c
        .remove_from_agent_group(id, DEFAULT_GROUP)
        .await
        .unwrap_err();
    let (status, message) = status_error(&e);
    assert_eq!(status, 409);
    assert!(
        message.contains("must first be deleted from all other Agent groups (still in: 2)"),
        "{message}"
    );
    let no_default = FrendsClient::new(
        config(&s.url()),
        Auth::bearer(TOKEN),
        ClientMetrics::default(),
        None,
    )
    .unwrap();
    assert!(matches!(
        no_default.delete_specification(id, &[]).await,
        Err(ClientError::Config { .. })
    ));
    // Frends does not report deployments: the caller names the groups it deployed to.
    c.delete_specification(id, &[PRODUCTION]).await.unwrap();
    assert_eq!(
        metrics.count("frends", "deleteApiSpecificationFromAgentGroup", "204"),
        2
    );
    assert_eq!(c.find_specification(id).await.unwrap(), None);
    assert!(c.list_specifications().await.unwrap().is_empty());
    // Already gone is done.
    c.delete_specification(id, &[PRODUCTION]).await.unwrap();
    assert!(
        c.publish_specification(id, None)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn import_uploads_the_file_and_waits_for_the_slow_platform() {
    let s = sandbox(Timing {
        step: Duration::from_millis(300),
    })
    .await;
    let (c, _) = client(&s);
    let started = Instant::now();
    let imported = c
        .import_specification("petstore.yaml", &openapi3("Imported", "/api/imported"))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        (imported.name.as_str(), imported.active_version),
        ("Imported", 1)
    );
    assert_eq!(
        inspect(&s, &imported.id.to_string()).await["basePath"],
        "/api/imported"
    );

    let swagger = json!({
        "swagger": "2.0",
        "info": { "title": "Orders", "version": "2", "description": "Orders of the shop" },
        "basePath": "/api/orders",
        "paths": {}
    })
    .to_string();
    let orders = c
        .import_specification("orders.json", &swagger)
        .await
        .unwrap();
    assert_eq!(orders.description.as_deref(), Some("Orders of the shop"));

    let e = c
        .import_specification("again.yaml", &openapi3("Again", "/api/imported"))
        .await
        .unwrap_err();
    assert_eq!(
        status_error(&e),
        (
            409,
            "A path is already used in an existing API: /api/imported"
        )
    );
}

fn settings(server: &str, cors: bool) -> PassthroughSettings {
    PassthroughSettings {
        cors_enabled: cors,
        target_url: TargetUrl {
            server: server.into(),
            base_path: Some("/v1".into()),
            operation_path: None,
            query: None,
        },
        headers: vec![PassthroughHeader {
            action: HeaderAction::Add,
            name: "X-Forwarded-By".into(),
            value: Some("frends".into()),
        }],
        allowed_origins: vec!["https://shop.acme.test".into()],
    }
}

#[tokio::test]
async fn passthrough_configurations_are_created_found_updated_and_deleted() {
    let s = sandbox(Timing::INSTANT).await;
    let (c, _) = client(&s);
    let id = c
        .create_specification(&openapi3("Petstore", "/api/petstore/v1"))
        .await
        .unwrap()
        .id;

    let default = NewPassthrough {
        settings: settings("https://petstore-backend.acme.test", true),
        path: None,
        method: None,
        is_default: true,
    };
    let first = c.create_passthrough(id, 1, &default).await.unwrap();
    assert!(first.is_default);
    assert_eq!(
        (first.path.as_deref(), first.method.as_deref()),
        (None, None)
    );
    assert_eq!(first.settings, default.settings);
    assert!(
        first
            .modifier
            .as_deref()
            .is_some_and(|m| !m.contains(TOKEN))
    );

    let delete_one = NewPassthrough {
        settings: PassthroughSettings {
            headers: vec![PassthroughHeader {
                action: HeaderAction::Remove,
                name: "Cookie".into(),
                value: None,
            }],
            ..settings("http://pets.internal", false)
        },
        path: Some("/pets/{petId}".into()),
        method: Some("delete".into()),
        is_default: false,
    };
    let second = c.create_passthrough(id, 1, &delete_one).await.unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(second.method.as_deref(), Some("DELETE"));
    assert_eq!(second.settings.headers[0].action, HeaderAction::Remove);
    assert_eq!(second.api_version_id, first.api_version_id);

    let all = c.list_passthroughs(id, 1).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        c.find_passthrough(id, 1, &PassthroughKey::Default)
            .await
            .unwrap()
            .map(|p| p.id),
        Some(first.id)
    );

    let e = c.create_passthrough(id, 1, &default).await.unwrap_err();
    let (status, message) = status_error(&e);
    assert_eq!(status, 409);
    assert!(message.contains("already has a default passthrough configuration"));
    let bad = NewPassthrough {
        settings: settings("ftp://b", false),
        path: Some("/pets".into()),
        method: Some("GET".into()),
        is_default: false,
    };
    let e = c.create_passthrough(id, 1, &bad).await.unwrap_err();
    let (status, message) = status_error(&e);
    assert_eq!(status, 400);
    assert!(
        message.contains("must be an absolute http:// or https:// URL")
            && message.ends_with("(targetUrl.server)"),
        "{message}"
    );

    let changed = settings("https://new.acme.test", false);
    let updated = c
        .update_passthrough(id, 1, first.id, &changed)
        .await
        .unwrap();
    assert_eq!(updated.id, first.id);
    assert!(updated.is_default);
    assert_eq!(updated.settings, changed);

    c.delete_passthrough(id, 1, second.id).await.unwrap();
    assert_eq!(c.list_passthroughs(id, 1).await.unwrap(), vec![updated]);
    assert!(
        c.delete_passthrough(id, 1, second.id)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Publishing locks version 1; version 2 holds a copy under a new id.
    c.publish_specification(id, Some("First release"))
        .await
        .unwrap();
    let e = c
        .update_passthrough(id, 1, first.id, &changed)
        .await
        .unwrap_err();
    let (status, message) = status_error(&e);
    assert_eq!(status, 409);
    assert!(message.contains("published and locked"));
    let copy = c
        .find_passthrough(id, 2, &PassthroughKey::Default)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(copy.id, first.id);
    assert_eq!(copy.settings, changed);
}

#[tokio::test]
async fn the_list_walks_every_page() {
    let s = sandbox(Timing::INSTANT).await;
    let specifications: Vec<Value> = (0..205)
        .map(|i| json!({ "specification": openapi3(&format!("Api {i}"), &format!("/api/s{i}")) }))
        .collect();
    admin(
        &s,
        reqwest::Method::POST,
        "seed",
        json!({ "apiSpecifications": specifications }),
    )
    .await;
    let (c, metrics) = client(&s);
    let all = c.list_specifications().await.unwrap();
    assert_eq!(all.len(), 205);
    let mut ids: Vec<i64> = all.iter().map(|s| s.id).collect();
    ids.dedup();
    assert_eq!(ids, (1..=205).collect::<Vec<i64>>());
    assert_eq!(all[204].name, "Api 204");
    assert_eq!(metrics.count("frends", "listApiSpecifications", "200"), 2);
}

#[tokio::test]
async fn a_wrong_token_is_a_401_in_the_platforms_words() {
    let s = sandbox(Timing::INSTANT).await;
    let (c, metrics) = client_with(&s.url(), "not-the-frends-token", |_| {});
    let e = c.list_specifications().await.unwrap_err();
    assert_eq!(status_error(&e), (401, "The bearer token is not valid."));
    assert!(e.is_unauthorized() && !e.is_retryable());
    assert_eq!(metrics.count("frends", "listApiSpecifications", "401"), 1);
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let s = sandbox(Timing::INSTANT).await;
    let (c, _) = client(&s);
    let e = c.get_specification(999).await.unwrap_err();
    assert_eq!(
        status_error(&e),
        (404, "API specification 999 was not found.")
    );
    assert!(e.is_not_found());
    let id = c
        .create_specification(&openapi3("Petstore", "/api/petstore/v1"))
        .await
        .unwrap()
        .id;
    let e = c.get_version(id, 9).await.unwrap_err();
    assert_eq!(
        status_error(&e),
        (
            404,
            format!("Version 9 of API specification {id} was not found.").as_str()
        )
    );
    assert!(
        c.list_passthroughs(999, 1)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        c.remove_from_agent_group(id, PRODUCTION)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn throttling_is_waited_out_for_reads_and_handed_back_for_creates() {
    let s = sandbox(Timing::INSTANT).await;
    let (c, metrics) = client(&s);
    admin(
        &s,
        reqwest::Method::PUT,
        "rate-limit",
        json!({ "perSecond": 1, "burst": 1 }),
    )
    .await;
    c.list_specifications().await.unwrap();
    let started = Instant::now();
    assert!(c.list_specifications().await.unwrap().is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(metrics.count("frends", "listApiSpecifications", "429") >= 1);
    assert_eq!(metrics.count("frends", "listApiSpecifications", "200"), 2);
    admin(&s, reqwest::Method::DELETE, "rate-limit", json!({})).await;

    faults(&s, json!({ "throttleRate": 1.0, "retryAfterSeconds": 1 })).await;
    let e = c
        .create_specification(&openapi3("Petstore", "/api/petstore/v1"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(429));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(metrics.count("frends", "createApiSpecification", "429"), 1);
    faults(&s, json!({})).await;
}

#[tokio::test]
async fn a_5xx_is_retried_for_reads_and_deploys_but_never_for_creates_or_publishes() {
    let s = sandbox(Timing::INSTANT).await;
    let (c, metrics) = client(&s);
    faults(&s, json!({ "failNext": 2 })).await;
    assert!(c.list_specifications().await.unwrap().is_empty());
    assert_eq!(metrics.count("frends", "listApiSpecifications", "503"), 2);
    assert_eq!(metrics.count("frends", "listApiSpecifications", "200"), 1);

    faults(&s, json!({ "failNext": 1 })).await;
    let e = c
        .create_specification(&openapi3("Petstore", "/api/petstore/v1"))
        .await
        .unwrap_err();
    assert_eq!(status_error(&e), (503, "service unavailable (injected)"));
    assert_eq!(metrics.count("frends", "createApiSpecification", "503"), 1);
    assert_eq!(metrics.count("frends", "createApiSpecification", "201"), 0);
    assert!(c.list_specifications().await.unwrap().is_empty());

    let id = c
        .create_specification(&openapi3("Petstore", "/api/petstore/v1"))
        .await
        .unwrap()
        .id;
    faults(&s, json!({ "failNext": 1 })).await;
    let e = c.publish_specification(id, Some("Once")).await.unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert_eq!(metrics.count("frends", "publishApiSpecification", "503"), 1);
    assert_eq!(c.get_specification(id).await.unwrap().active_version, 1);

    c.publish_specification(id, Some("Once")).await.unwrap();
    faults(&s, json!({ "failNext": 1 })).await;
    c.deploy_version(id, 1, PRODUCTION).await.unwrap();
    assert_eq!(metrics.count("frends", "deployApiSpecification", "503"), 1);
    assert_eq!(
        inspect(&s, &id.to_string()).await["deployments"][0]["agentGroupId"],
        PRODUCTION
    );
}

#[tokio::test]
async fn a_slow_platform_times_out() {
    let s = sandbox(Timing::INSTANT).await;
    let (c, _) = client_with(&s.url(), TOKEN, |c| {
        c.timeout = Duration::from_millis(300);
        c.max_retries = 1;
    });
    faults(&s, json!({ "latencyMs": 1500 })).await;
    let started = Instant::now();
    let e = c.get_specification(1).await.unwrap_err();
    assert!(
        matches!(e, ClientError::Transport { timeout: true, .. }),
        "{e:?}"
    );
    assert!(e.is_retryable());
    assert!(started.elapsed() < Duration::from_millis(1400));
}

#[tokio::test]
async fn a_malformed_body_is_a_decode_error() {
    let s = sandbox(Timing::INSTANT).await;
    let (c, _) = client(&s);
    faults(&s, json!({ "malformedRate": 1.0 })).await;
    let e = c.list_specifications().await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Decode {
                operation: "listApiSpecifications",
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn no_error_carries_the_token() {
    const SECRET: &str = "frends-secret-Zq81-do-not-leak";
    let s = sandbox_accepting(Timing::INSTANT, SECRET).await;
    let other = sandbox(Timing::INSTANT).await;
    let fast = |c: &mut HttpConfig| {
        c.timeout = Duration::from_millis(300);
        c.max_retries = 1;
    };
    let (c, _) = client_with(&s.url(), SECRET, fast);
    let (refused, _) = client_with(&other.url(), SECRET, fast);
    let (unreachable, _) = client_with(&format!("http://127.0.0.1:9/{SECRET}"), SECRET, fast);

    let mut errors = vec![
        refused.list_specifications().await.unwrap_err(),
        c.get_specification(42).await.unwrap_err(),
        c.create_specification("not an OpenAPI document")
            .await
            .unwrap_err(),
        unreachable.list_specifications().await.unwrap_err(),
    ];
    faults(&s, json!({ "malformedRate": 1.0 })).await;
    errors.push(c.list_specifications().await.unwrap_err());
    faults(&s, json!({ "latencyMs": 1000 })).await;
    errors.push(c.get_specification(1).await.unwrap_err());
    faults(&s, json!({ "errorRate": 1.0 })).await;
    errors.push(
        c.create_specification(&openapi3("A", "/a"))
            .await
            .unwrap_err(),
    );
    faults(&s, json!({})).await;

    assert_eq!(
        errors
            .iter()
            .map(ClientError::metric_label)
            .collect::<Vec<_>>(),
        [
            "unauthorized",
            "not_found",
            "client_error",
            "transport",
            "decode",
            "timeout",
            "server_error"
        ]
    );
    for e in &errors {
        let (display, debug) = (format!("{e}"), format!("{e:?}"));
        assert!(!display.contains(SECRET), "{display}");
        assert!(!debug.contains(SECRET), "{debug}");
    }
}
