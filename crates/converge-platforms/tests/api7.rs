//! The API7 Cloud client against the API7 sandbox over real HTTP: every operation, exact large
//! ids, paging, the platform's error messages, retries and what is never retried, timeouts,
//! malformed answers, and secret redaction.

use std::time::{Duration, Instant};

use converge_platforms::api7::{
    Active, Api7Client, Api7Scope, ApiPath, ApiSpec, ApplicationPatch, ApplicationSpec,
    CanaryReleaseSpec, CanaryState, CanaryType, CertificateSpec, CertificateType, ClusterStatus,
    ConsumerSpec, EntityStatus, LbType, ListFilter, PathType, Protocol, Upstream,
    UpstreamAndVersion, UpstreamScheme, UpstreamTarget,
};
use converge_platforms::{Auth, ClientError, ClientMetrics, HttpConfig};
use converge_sandbox::all::default_credentials;
use converge_sandbox::api7::Api7;
use converge_sandbox::ops::RateLimit;
use converge_sandbox::{Credential, Ops, OpsConfig, Sandbox, Served, Timing, serve};
use serde_json::{Value, json};

const TOKEN: &str = "sandbox-api7-token";

/// A certificate for checkout.acme.test and *.shop.acme.test, and its key (the sandbox tests'
/// pair).
const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIB7jCCAZWgAwIBAgIJQu0SOwvYIDoUMAoGCCqGSM49BAMCMDkxCzAJBgNVBAYT
AlVTMQ0wCwYDVQQKDARBY21lMRswGQYDVQQDDBJjaGVja291dC5hY21lLnRlc3Qw
HhcNMjYxMTI0MDEzMDIyWhcNMzYxMTIxMDEzMDIyWjA5MQswCQYDVQQGEwJVUzEN
MAsGA1UECgwEQWNtZTEbMBkGA1UEAwwSY2hlY2tvdXQuYWNtZS50ZXN0MFkwEwYH
KoZIzj0CAQYIKoZIzj0DAQcDQgAE0n9MC6fMns1yCHCA236o6LmQ5dLAG9yqC+Y3
utweMQns/6el0hfzI2Qn5RL9/fuB6JR9rWDXPXne74EceMzMfaOBhTCBgjAdBgNV
HQ4EFgQU9SNaXaTDlg4iIIzMdq/Xuszd4e8wHwYDVR0jBBgwFoAU9SNaXaTDlg4i
IIzMdq/Xuszd4e8wDwYDVR0TAQH/BAUwAwEB/zAvBgNVHREEKDAmghJjaGVja291
dC5hY21lLnRlc3SCECouc2hvcC5hY21lLnRlc3QwCgYIKoZIzj0EAwIDRwAwRAIg
d1MtlHBmCGUDfKjUlUt1f36CYVDB+g/+DuubybrSpOwCIAdZ4xfwCcVBPvOqnPUo
D90zTybXuQLggLMLVzWQf0JO
-----END CERTIFICATE-----
";
const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3jo3+PI5E4tCuV1L
8uyDGEtNWIYaL0Na0q0BpdixjWihRANCAATSf0wLp8yezXIIcIDbfqjouZDl0sAb
3KoL5je63B4xCez/p6XSF/MjZCflEv39+4HolH2tYNc9ed7vgRx4zMx9
-----END PRIVATE KEY-----
";

async fn sandbox() -> (Sandbox<Api7>, Served) {
    let ops = Ops::new(OpsConfig {
        accepted: default_credentials("api7"),
        ..Default::default()
    });
    let sb = Sandbox::<Api7>::new(ops, Timing::INSTANT, None);
    let served = serve(sb.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (sb, served)
}

fn scope() -> Api7Scope {
    Api7Scope {
        organization_id: "1001".into(),
        cluster_id: "2001".into(),
    }
}

/// A client with small retry delays and a budget that never gets in the way.
fn client_at(
    endpoint: &str,
    token: &str,
    tweak: impl FnOnce(&mut HttpConfig),
) -> (Api7Client, ClientMetrics) {
    let mut config = Api7Client::config(endpoint);
    config.min_retry_delay = Duration::from_millis(10);
    config.max_retry_delay = Duration::from_secs(3);
    config.requests_per_second = 1000;
    config.burst = 1000;
    tweak(&mut config);
    let metrics = ClientMetrics::default();
    let client = Api7Client::new(config, Auth::bearer(token), metrics.clone(), scope()).unwrap();
    (client, metrics)
}

fn client(served: &Served) -> (Api7Client, ClientMetrics) {
    client_at(&served.url(), TOKEN, |_| {})
}

async fn admin(served: &Served, path: &str, body: Value) {
    let r = reqwest::Client::new()
        .put(format!("{}{path}", served.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

fn upstream(version: &str, host: &str) -> UpstreamAndVersion {
    UpstreamAndVersion {
        version: version.into(),
        upstream: Upstream {
            scheme: Some(UpstreamScheme::Http),
            lb_type: Some(LbType::Roundrobin),
            targets: vec![UpstreamTarget {
                host: host.into(),
                port: 8080,
                weight: None,
            }],
            ..Default::default()
        },
        client_cert_id: None,
    }
}

/// The application of examples/api7/gateway.yaml.
fn checkout(name: &str) -> ApplicationSpec {
    ApplicationSpec {
        name: name.into(),
        description: "Checkout API gateway".into(),
        hosts: vec!["checkout.acme.test".into()],
        path_prefix: "/checkout".into(),
        protocols: vec![Protocol::Https],
        upstreams: vec![
            upstream("v1", "checkout-v1.internal"),
            upstream("v2", "checkout-v2.internal"),
        ],
        default_upstream_version: "v1".into(),
        plugins: json!({"cors": {"allow_origins": "https://shop.acme.test"}})
            .as_object()
            .unwrap()
            .clone(),
        labels: vec!["payments".into()],
        active: Active::Published,
    }
}

fn route(name: &str, path: &str, path_type: PathType) -> ApiSpec {
    ApiSpec {
        name: name.into(),
        description: String::new(),
        methods: vec!["GET".into()],
        paths: vec![ApiPath {
            path: path.into(),
            path_type: Some(path_type),
        }],
        strip_path_prefix: false,
        fine_grained_route_control: None,
        plugins: Default::default(),
        labels: vec![],
        kind: None,
        active: Active::Published,
    }
}

fn consumer(name: &str) -> ConsumerSpec {
    ConsumerSpec {
        name: name.into(),
        description: String::new(),
        credentials: None,
        plugins: Default::default(),
        labels: vec![],
    }
}

#[track_caller]
fn status_error(e: &ClientError, status: u16, needle: &str) {
    match e {
        ClientError::Status {
            status: s, message, ..
        } => {
            assert_eq!(*s, status, "{e}");
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        other => panic!("expected HTTP {status}, got {other:?}"),
    }
}

#[tokio::test]
async fn the_user_organization_and_cluster_are_read() {
    let (_sb, s) = sandbox().await;
    let (api7, _) = client(&s);
    let me = api7.me().await.unwrap();
    assert_eq!(me.org_ids, ["1001"]);
    assert_eq!(me.email, "sandbox@api7.test");
    let org = api7.organization().await.unwrap();
    assert_eq!((org.id.as_str(), org.name.as_str()), ("1001", "sandbox"));
    let cluster = api7.cluster().await.unwrap();
    assert_eq!(cluster.id, "2001");
    assert_eq!(cluster.org_id, "1001");
    assert_eq!(cluster.name, "default");
    assert_eq!(cluster.status, ClusterStatus::Normal);
    assert_eq!(cluster.config_version, 1);

    // An endpoint given with the API's base path works the same.
    let (with_prefix, _) = client_at(&format!("{}/api/v1/", s.url()), TOKEN, |_| {});
    assert_eq!(with_prefix.cluster().await.unwrap().name, "default");
}

#[tokio::test]
async fn applications_keep_their_large_ids_exactly_through_every_operation() {
    let (_sb, s) = sandbox().await;
    let (api7, _) = client(&s);
    let app = api7
        .create_application(&checkout("checkout"))
        .await
        .unwrap();
    let n: u64 = app.id.parse().unwrap();
    assert!(
        n > 1 << 53,
        "the sandbox hands out ids beyond f64: {}",
        app.id
    );
    assert_ne!((n as f64) as u64, n, "an f64 could not hold {}", app.id);
    assert_eq!(app.cluster_id, "2001");
    assert_eq!(app.status, EntityStatus::Normal);
    assert_eq!(app.spec, as_answered(checkout("checkout")));

    // The id the client kept addresses the same application on the platform.
    let state: Value = reqwest::get(format!("{}/_sandbox/state", s.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["applications"][&app.id]["spec"]["name"], "checkout");
    let got = api7.get_application(&app.id).await.unwrap();
    assert_eq!(got.id, app.id);
    assert_eq!(got.spec.hosts, ["checkout.acme.test"]);

    let mut spec = got.spec.clone();
    spec.description = "renamed".into();
    spec.labels.push("eu".into());
    let put = api7.update_application(&app.id, &spec).await.unwrap();
    assert_eq!(put.id, app.id);
    assert_eq!(put.spec.description, "renamed");
    assert_eq!(put.spec.labels, ["payments", "eu"]);

    let unpublished = api7
        .patch_application(&app.id, &ApplicationPatch::published(false))
        .await
        .unwrap();
    assert_eq!(unpublished.spec.active, Active::Unpublished);
    assert_eq!(
        unpublished.spec.description, "renamed",
        "PATCH keeps the rest"
    );

    api7.delete_application(&app.id, false).await.unwrap();
    let gone = api7.get_application(&app.id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    status_error(&gone, 404, &format!("application {} not found", app.id));
}

/// A spec as the platform answers it: target weights filled in.
fn as_answered(mut spec: ApplicationSpec) -> ApplicationSpec {
    for u in &mut spec.upstreams {
        for t in &mut u.upstream.targets {
            t.weight.get_or_insert(100);
        }
    }
    spec
}

#[tokio::test]
async fn applications_are_found_by_exact_name_and_label_across_pages() {
    let (sb, s) = sandbox().await;
    let (api7, _) = client(&s);
    let api7 = api7.with_page_size(2);
    let mut ids = Vec::new();
    for name in [
        "checkout",
        "checkout-eu",
        "checkout-us",
        "Checkout-Archive",
        "cart",
    ] {
        let mut spec = checkout(name);
        if name == "cart" {
            spec.labels = vec!["basket".into()];
        }
        ids.push(api7.create_application(&spec).await.unwrap().id);
    }
    sb.ops().clear_calls();
    let all = api7
        .list_applications(&ListFilter::default())
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        ids,
        "every page, oldest first"
    );
    assert_eq!(
        sb.ops()
            .counts()
            .get("GET /api/v1/clusters/{cluster_id}/apps"),
        Some(&3),
        "5 applications in pages of 2"
    );

    let found = api7.find_application_by_name("checkout").await.unwrap();
    assert_eq!(found.map(|a| a.id), Some(ids[0].clone()));
    let archive = api7
        .find_application_by_name("Checkout-Archive")
        .await
        .unwrap();
    assert_eq!(archive.map(|a| a.id), Some(ids[3].clone()));
    assert!(
        api7.find_application_by_name("check")
            .await
            .unwrap()
            .is_none()
    );

    let basket = api7
        .list_applications(&ListFilter::label("basket"))
        .await
        .unwrap();
    assert_eq!(basket.len(), 1);
    assert_eq!(basket[0].spec.name, "cart");
}

#[tokio::test]
async fn apis_are_created_read_listed_replaced_and_deleted() {
    let (_sb, s) = sandbox().await;
    let (api7, _) = client(&s);
    let app = api7
        .create_application(&checkout("checkout"))
        .await
        .unwrap();
    let orders = api7
        .create_api(&app.id, &route("get-order", "/orders/", PathType::Prefix))
        .await
        .unwrap();
    assert_eq!(orders.app_id, app.id);
    assert_eq!(orders.spec.paths[0].path_type, Some(PathType::Prefix));
    assert_eq!(orders.spec.active, Active::Published);
    let mut create_order = route("create-order", "/orders", PathType::Exact);
    create_order.methods = vec!["POST".into()];
    let created = api7.create_api(&app.id, &create_order).await.unwrap();

    let all = api7
        .list_apis(&app.id, &ListFilter::default())
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|a| a.spec.name.as_str()).collect::<Vec<_>>(),
        ["get-order", "create-order"]
    );
    let found = api7
        .find_api_by_name(&app.id, "create-order")
        .await
        .unwrap();
    assert_eq!(found.map(|a| a.id), Some(created.id.clone()));
    assert!(
        api7.find_api_by_name(&app.id, "order")
            .await
            .unwrap()
            .is_none()
    );

    let dup = api7.create_api(&app.id, &create_order).await.unwrap_err();
    status_error(&dup, 409, "API name \"create-order\" already exists");

    create_order.strip_path_prefix = true;
    let put = api7
        .update_api(&app.id, &created.id, &create_order)
        .await
        .unwrap();
    assert!(put.spec.strip_path_prefix);
    assert!(
        api7.get_api(&app.id, &created.id)
            .await
            .unwrap()
            .spec
            .strip_path_prefix
    );

    // An application with APIs is deleted only with cascade.
    let refused = api7.delete_application(&app.id, false).await.unwrap_err();
    status_error(&refused, 400, "still has 2 API(s)");
    api7.delete_api(&app.id, &orders.id).await.unwrap();
    assert!(
        api7.get_api(&app.id, &orders.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    api7.delete_application(&app.id, true).await.unwrap();
    assert!(
        api7.get_api(&app.id, &created.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn a_canary_release_is_started_stepped_paused_and_finished() {
    let (_sb, s) = sandbox().await;
    let (api7, _) = client(&s);
    let app = api7
        .create_application(&checkout("checkout"))
        .await
        .unwrap();
    let mut spec = CanaryReleaseSpec {
        name: "checkout-v2".into(),
        state: CanaryState::InProgress,
        kind: CanaryType::Percent,
        canary_upstream_version: "v2".into(),
        percent: Some(10),
        expressions: vec![],
    };
    let release = api7.create_canary_release(&app.id, &spec).await.unwrap();
    assert_eq!(release.app_id, app.id);
    assert_eq!(release.spec, spec);
    let app_now = api7.get_application(&app.id).await.unwrap();
    assert_eq!(app_now.canary_release_id, std::slice::from_ref(&release.id));
    assert_eq!(app_now.canary_upstream_version_list, ["v2"]);

    spec.percent = Some(50);
    let stepped = api7
        .update_canary_release(&app.id, &release.id, &spec)
        .await
        .unwrap();
    assert_eq!(stepped.spec.percent, Some(50));
    spec.state = CanaryState::Paused;
    let paused = api7
        .update_canary_release(&app.id, &release.id, &spec)
        .await
        .unwrap();
    assert_eq!(paused.spec.state, CanaryState::Paused);
    assert!(
        api7.get_application(&app.id)
            .await
            .unwrap()
            .canary_release_id
            .is_empty()
    );

    spec.state = CanaryState::Finished;
    let finished = api7
        .update_canary_release(&app.id, &release.id, &spec)
        .await
        .unwrap();
    assert_eq!(finished.spec.state, CanaryState::Finished);
    let again = api7
        .update_canary_release(&app.id, &release.id, &spec)
        .await
        .unwrap();
    assert_eq!(
        again.spec.state,
        CanaryState::Finished,
        "a repeated finish is harmless"
    );
    spec.percent = Some(70);
    let refused = api7
        .update_canary_release(&app.id, &release.id, &spec)
        .await
        .unwrap_err();
    status_error(&refused, 400, "is finished and cannot be changed");

    let on_default = CanaryReleaseSpec {
        name: "on-default".into(),
        state: CanaryState::Paused,
        canary_upstream_version: "v1".into(),
        ..spec.clone()
    };
    let bad = api7
        .create_canary_release(&app.id, &on_default)
        .await
        .unwrap_err();
    status_error(&bad, 400, "is the application's default_upstream_version");

    let got = api7.get_canary_release(&app.id, &release.id).await.unwrap();
    assert_eq!(got.spec.percent, Some(50));
    let listed = api7
        .list_canary_releases(&app.id, &ListFilter::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let found = api7
        .find_canary_release_by_name(&app.id, "checkout-v2")
        .await
        .unwrap();
    assert_eq!(found.map(|c| c.id), Some(release.id.clone()));
    api7.delete_canary_release(&app.id, &release.id)
        .await
        .unwrap();
    let gone = api7
        .get_canary_release(&app.id, &release.id)
        .await
        .unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
}

#[tokio::test]
async fn consumers_are_managed_and_walked_across_pages() {
    let (sb, s) = sandbox().await;
    let (api7, _) = client(&s);
    let api7 = api7.with_page_size(2);
    let mut alice = consumer("alice");
    alice.credentials = Some(
        json!({"key_auth": {"key": "alice-key-0123456789"}})
            .as_object()
            .unwrap()
            .clone(),
    );
    alice.labels = vec!["team-a".into()];
    let created = api7.create_consumer(&alice).await.unwrap();
    assert_eq!(created.spec.name, "alice");
    assert_eq!(created.cluster_id.as_deref(), Some("2001"));
    assert_eq!(created.spec.credentials, alice.credentials);
    let printed = format!("{created:?} {alice:?}");
    assert!(!printed.contains("alice-key-0123456789"), "{printed}");
    assert!(printed.contains("key_auth"));

    for name in ["bob", "carol", "dave", "erin"] {
        api7.create_consumer(&consumer(name)).await.unwrap();
    }
    sb.ops().clear_calls();
    let all = api7.list_consumers(&ListFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|c| c.spec.name.as_str()).collect::<Vec<_>>(),
        ["alice", "bob", "carol", "dave", "erin"]
    );
    assert_eq!(
        sb.ops()
            .counts()
            .get("GET /api/v1/clusters/{cluster_id}/consumers"),
        Some(&3)
    );
    let found = api7.find_consumer_by_name("alice").await.unwrap();
    assert_eq!(found.map(|c| c.id), Some(created.id.clone()));

    let bad = api7
        .create_consumer(&consumer("not valid"))
        .await
        .unwrap_err();
    status_error(&bad, 400, "name in body should match '^[a-zA-Z0-9_]+$'");
    let dup = api7.create_consumer(&consumer("bob")).await.unwrap_err();
    status_error(&dup, 409, "consumer name \"bob\" already exists");

    alice.description = "the first".into();
    let put = api7.update_consumer(&created.id, &alice).await.unwrap();
    assert_eq!(put.spec.description, "the first");
    assert_eq!(
        api7.get_consumer(&created.id).await.unwrap().spec.labels,
        ["team-a"]
    );
    api7.delete_consumer(&created.id).await.unwrap();
    assert!(
        api7.get_consumer(&created.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn certificates_answer_their_details_flat_or_nested() {
    let (_sb, s) = sandbox().await;
    let (api7, _) = client(&s);
    let mut spec = CertificateSpec {
        certificate: CERT.into(),
        private_key: KEY.into(),
        ca_certificate: None,
        labels: vec!["converge".into()],
        kind: Some(CertificateType::Server),
    };
    assert!(
        !format!("{spec:?}").contains("MIGHAgEA"),
        "the key never prints"
    );
    let cert = api7.create_certificate(&spec).await.unwrap();
    assert_eq!(
        cert.metadata.snis,
        ["checkout.acme.test", "*.shop.acme.test"]
    );
    assert_eq!(cert.kind, CertificateType::Server);
    assert!(cert.metadata.not_after.is_some());
    assert_eq!(api7.get_certificate(&cert.id).await.unwrap(), cert);

    // The application on a covered host lists it.
    let app = api7
        .create_application(&checkout("checkout"))
        .await
        .unwrap();
    assert_eq!(app.available_cert_ids, std::slice::from_ref(&cert.id));

    // The update answers the details under "Metadata": same certificate.
    spec.labels.push("edge".into());
    let updated = api7.update_certificate(&cert.id, &spec).await.unwrap();
    assert_eq!(updated.labels, ["converge", "edge"]);
    assert_eq!(updated.metadata, cert.metadata);

    let labelled = api7
        .list_certificates(&ListFilter::label("edge"))
        .await
        .unwrap();
    assert_eq!(
        labelled.iter().map(|c| &c.id).collect::<Vec<_>>(),
        [&cert.id]
    );
    let by_sni = api7
        .list_certificates(&ListFilter::search("shop.acme"))
        .await
        .unwrap();
    assert_eq!(by_sni.len(), 1);

    spec.private_key = "not a key".repeat(20);
    let bad = api7.create_certificate(&spec).await.unwrap_err();
    status_error(&bad, 400, "private_key in body is not a valid private key");

    api7.delete_certificate(&cert.id).await.unwrap();
    assert!(
        api7.get_certificate(&cert.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// A stand-in for an API7 Cloud that answers updates without a payload, as its docs show.
async fn payloadless_updates() -> (tokio::task::JoinHandle<()>, String) {
    use axum::Json;
    use axum::routing::get;
    let ok = || async { Json(json!({"status": {"code": 0, "message": "OK"}})) };
    let consumer = || async {
        Json(json!({"status": {"code": 0, "message": "OK"}, "payload": {
            "id": "417355345116284933", "name": "alice", "description": "read back",
            "credentials": null, "plugins": null, "labels": ["x"]
        }}))
    };
    let canary = || async {
        Json(json!({"status": {"code": 0, "message": "OK"}, "payload": {
            "id": "417355345116284935", "app_id": "417355345116284931", "status": 50,
            "name": "c", "state": "paused", "type": "percent",
            "canary_upstream_version": "v2", "percent": 30
        }}))
    };
    let router = axum::Router::new()
        .route(
            "/api/v1/clusters/2001/consumers/417355345116284933",
            get(consumer).put(ok),
        )
        .route(
            "/api/v1/apps/417355345116284931/canary_releases/417355345116284935",
            get(canary).put(ok),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (task, url)
}

#[tokio::test]
async fn an_update_answered_without_a_payload_is_read_back() {
    let (task, url) = payloadless_updates().await;
    let (api7, metrics) = client_at(&url, TOKEN, |_| {});
    let consumer = api7
        .update_consumer("417355345116284933", &consumer("alice"))
        .await
        .unwrap();
    assert_eq!(consumer.spec.description, "read back");
    assert!(consumer.spec.plugins.is_empty(), "null reads as empty");
    assert_eq!(metrics.count("api7", "getConsumer", "200"), 1);

    let spec = CanaryReleaseSpec {
        name: "c".into(),
        state: CanaryState::Paused,
        kind: CanaryType::Percent,
        canary_upstream_version: "v2".into(),
        percent: Some(30),
        expressions: vec![],
    };
    let release = api7
        .update_canary_release("417355345116284931", "417355345116284935", &spec)
        .await
        .unwrap();
    assert_eq!(release.spec, spec);
    assert_eq!(metrics.count("api7", "getCanaryRelease", "200"), 1);
    task.abort();
}

#[tokio::test]
async fn errors_carry_the_platforms_words() {
    let (sb, s) = sandbox().await;
    let (api7, _) = client(&s);

    let (wrong, _) = client_at(&s.url(), "not-the-token", |_| {});
    let e = wrong.me().await.unwrap_err();
    status_error(&e, 401, "invalid or expired access token (unauthorized)");
    assert!(e.is_unauthorized() && !e.is_retryable());

    let e = api7.get_application("123").await.unwrap_err();
    status_error(&e, 404, "application 123 not found (not found)");
    assert!(e.is_not_found());

    api7.create_application(&checkout("checkout"))
        .await
        .unwrap();
    let e = api7
        .create_application(&checkout("checkout"))
        .await
        .unwrap_err();
    status_error(
        &e,
        409,
        "application name \"checkout\" already exists in cluster 2001",
    );
    assert_eq!(e.metric_label(), "conflict");

    let mut bad = checkout("bad");
    bad.upstreams[0].upstream.targets[0].port = 0;
    let e = api7.create_application(&bad).await.unwrap_err();
    status_error(
        &e,
        400,
        "upstreams.0.upstream.targets.0.port in body should be greater than or equal to 1",
    );

    // An id that is not a number is refused before anything is sent.
    sb.ops().clear_calls();
    let e = api7.get_application("12/../34").await.unwrap_err();
    assert!(matches!(e, ClientError::Config { .. }), "{e:?}");
    assert!(sb.ops().calls().is_empty());
    let mut config = Api7Client::config(&s.url());
    config.max_retries = 0;
    let e = Api7Client::new(
        config,
        Auth::bearer(TOKEN),
        ClientMetrics::default(),
        Api7Scope {
            organization_id: "1001".into(),
            cluster_id: "default".into(),
        },
    )
    .err()
    .expect("a cluster name is not a cluster id");
    assert!(e.to_string().contains("cluster id \"default\""), "{e}");
}

#[tokio::test]
async fn a_throttled_read_waits_for_retry_after_and_a_throttled_create_hands_it_back() {
    let (sb, s) = sandbox().await;
    let (api7, metrics) = client(&s);
    sb.ops().set_rate_limit(Some(RateLimit {
        per_second: 1,
        burst: 1,
    }));
    api7.me().await.unwrap();
    let t = Instant::now();
    api7.me().await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "retried before Retry-After: {:?}",
        t.elapsed()
    );
    assert_eq!(metrics.count("api7", "me", "429"), 1);
    sb.ops().set_rate_limit(None);

    admin(
        &s,
        "/_sandbox/faults",
        json!({"throttleRate": 1.0, "retryAfterSeconds": 1}),
    )
    .await;
    let e = api7
        .create_application(&checkout("checkout"))
        .await
        .unwrap_err();
    status_error(&e, 429, "too many requests (injected)");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(metrics.count("api7", "createApplication", "429"), 1);
    admin(&s, "/_sandbox/faults", json!({})).await;
}

#[tokio::test]
async fn a_read_outlasts_5xx_and_a_create_is_never_resent() {
    let (sb, s) = sandbox().await;
    let (api7, metrics) = client(&s);
    admin(&s, "/_sandbox/faults", json!({"failNext": 2})).await;
    let apps = api7
        .list_applications(&ListFilter::default())
        .await
        .unwrap();
    assert!(apps.is_empty());
    assert_eq!(metrics.count("api7", "listApplication", "503"), 2);
    assert_eq!(metrics.count("api7", "listApplication", "200"), 1);

    admin(&s, "/_sandbox/faults", json!({"failNext": 2})).await;
    let e = api7
        .create_application(&checkout("checkout"))
        .await
        .unwrap_err();
    status_error(&e, 503, "service unavailable (injected)");
    assert!(e.is_retryable(), "the reconciler retries after looking up");
    assert_eq!(metrics.count("api7", "createApplication", "503"), 1);
    assert_eq!(
        sb.ops()
            .counts()
            .get("POST /api/v1/clusters/{cluster_id}/apps"),
        Some(&1)
    );
    admin(&s, "/_sandbox/faults", json!({})).await;
    assert!(
        api7.find_application_by_name("checkout")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let (_sb, s) = sandbox().await;
    let (api7, metrics) = client_at(&s.url(), TOKEN, |c| {
        c.timeout = Duration::from_millis(300);
        c.max_retries = 1;
    });
    admin(&s, "/_sandbox/faults", json!({"latencyMs": 1500})).await;
    let e = api7.cluster().await.unwrap_err();
    assert!(
        matches!(e, ClientError::Transport { timeout: true, .. }),
        "{e:?}"
    );
    assert_eq!(metrics.count("api7", "getCluster", "timeout"), 2);
}

#[tokio::test]
async fn a_malformed_answer_is_a_decode_error() {
    let (_sb, s) = sandbox().await;
    let (api7, _) = client(&s);
    admin(&s, "/_sandbox/faults", json!({"malformedRate": 1.0})).await;
    let e = api7.cluster().await.unwrap_err();
    assert!(matches!(e, ClientError::Decode { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("api7 getCluster: unexpected response")
    );
}

#[tokio::test]
async fn the_token_never_shows_in_errors() {
    const SECRET: &str = "tok-9f8e7d6c5b4a-api7";
    let (sb, s) = sandbox().await;
    sb.ops().set_accepted(vec![Credential::bearer(SECRET)]);
    let (api7, _) = client_at(&s.url(), SECRET, |c| {
        c.timeout = Duration::from_millis(300);
        c.max_retries = 0;
    });
    let mut errors = Vec::new();

    // The platform echoes a name in its conflict message: here the name is the token.
    api7.create_application(&checkout(SECRET)).await.unwrap();
    let echoed = api7
        .create_application(&checkout(SECRET))
        .await
        .unwrap_err();
    assert!(echoed.message().contains("[redacted]"), "{echoed}");
    errors.push(echoed);
    errors.push(api7.get_application("99").await.unwrap_err());

    admin(&s, "/_sandbox/faults", json!({"malformedRate": 1.0})).await;
    errors.push(api7.cluster().await.unwrap_err());
    admin(&s, "/_sandbox/faults", json!({"latencyMs": 1000})).await;
    errors.push(api7.cluster().await.unwrap_err());
    admin(&s, "/_sandbox/faults", json!({})).await;

    let (wrong, _) = client_at(&s.url(), &format!("{SECRET}-old"), |_| {});
    errors.push(wrong.me().await.unwrap_err());
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let (unreachable, _) = client_at(&closed, SECRET, |c| c.max_retries = 0);
    errors.push(unreachable.me().await.unwrap_err());

    let labels: Vec<&str> = errors.iter().map(|e| e.metric_label()).collect();
    assert_eq!(
        labels,
        [
            "conflict",
            "not_found",
            "decode",
            "timeout",
            "unauthorized",
            "transport"
        ]
    );
    for e in &errors {
        for text in [format!("{e}"), format!("{e:?}")] {
            assert!(!text.contains(SECRET), "the token leaked: {text}");
        }
    }
}
