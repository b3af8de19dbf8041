//! The Choreo client against the Choreo sandbox over real HTTP: every operation, the APIs list
//! walked across pages, the platform's error messages (401, 404, 409, 400), retries of reads
//! on 429 and 5xx but never of creates, timeouts, malformed bodies, and secret redaction.

use std::time::{Duration, Instant};

use converge_platforms::choreo::{
    ApiStatus, ApiType, ApiVisibility, BuildCreate, BuildStatus, ChoreoClient, ComponentCreate,
    ComponentStatus, ComponentType, DeploymentCreate, DeploymentStatus, EnvironmentType,
    ProjectCreate,
};
use converge_platforms::{ClientError, ClientMetrics, HttpConfig, Secret};
use converge_sandbox::choreo::Choreo;
use converge_sandbox::{Credential, Ops, OpsConfig, Sandbox, Served, Timing, serve};
use reqwest::Method;
use serde_json::{Value, json};

const TOKEN: &str = "sandbox-choreo-token";
const DEVELOPMENT: &str = "415e10e6-c436-4f40-98c9-48b68e2eff7e";
const PRODUCTION: &str = "190a31fd-8886-4dac-b55d-8c0fc0f14f4a";
const ORDERS_API: &str = "98ccd059-1dd5-4bb1-ba62-3ecb9577bcc3";
const APIS_ROUTE: &str = "GET /api/v1/organizations/{orgId}/apis";

/// A Choreo sandbox accepting `tokens`, and its admin surface.
struct Platform {
    served: Served,
    admin: reqwest::Client,
}

async fn start() -> Platform {
    start_accepting(&[TOKEN]).await
}

async fn start_accepting(tokens: &[&str]) -> Platform {
    let ops = Ops::new(OpsConfig {
        accepted: tokens.iter().map(|t| Credential::bearer(*t)).collect(),
        ..Default::default()
    });
    let served = serve(
        Sandbox::<Choreo>::new(ops, Timing::INSTANT, None),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    Platform {
        served,
        admin: reqwest::Client::new(),
    }
}

impl Platform {
    fn endpoint(&self) -> String {
        format!("{}/api/v1", self.served.url())
    }

    /// Fast retries and a budget that never holds a test back.
    fn config(&self) -> HttpConfig {
        let mut config = ChoreoClient::config(self.endpoint());
        config.min_retry_delay = Duration::from_millis(10);
        config.max_retry_delay = Duration::from_secs(2);
        config.requests_per_second = 1000;
        config.burst = 1000;
        config
    }

    fn client(&self) -> ChoreoClient {
        self.client_with(self.config(), TOKEN, ClientMetrics::default())
    }

    fn client_with(&self, config: HttpConfig, token: &str, metrics: ClientMetrics) -> ChoreoClient {
        ChoreoClient::new(config, Secret::new(token), "acme", metrics).unwrap()
    }

    async fn admin(&self, method: Method, path: &str, body: Value) {
        let response = self
            .admin
            .request(method, format!("{}/_sandbox{path}", self.served.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }

    async fn faults(&self, faults: Value) {
        self.admin(Method::PUT, "/faults", faults).await;
    }

    async fn counts(&self) -> Value {
        self.admin
            .get(format!("{}/_sandbox/counts", self.served.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn project(name: &str) -> ProjectCreate {
    ProjectCreate {
        name: name.into(),
        description: None,
    }
}

fn service(name: &str) -> ComponentCreate {
    ComponentCreate {
        name: name.into(),
        type_: ComponentType::Service,
        description: None,
        repo_url: format!("https://github.com/acme/{name}"),
        branch: None,
        buildpack_id: None,
        sub_path: None,
    }
}

fn status_of(e: &ClientError) -> (u16, &str) {
    match e {
        ClientError::Status {
            status, message, ..
        } => (*status, message),
        other => panic!("expected a status error, got {other:?}"),
    }
}

#[tokio::test]
async fn projects_and_components_are_created_found_read_and_deleted() {
    let p = start().await;
    let c = p.client();
    assert_eq!(c.organization_id(), "acme");

    let orgs = c.list_organizations().await.unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(
        (
            &orgs[0].id[..],
            &orgs[0].name[..],
            orgs[0].handle.as_deref()
        ),
        ("acme", "Acme", Some("acme"))
    );
    assert!(orgs[0].created_at.is_some());

    assert_eq!(*c.list_projects().await.unwrap(), vec![]);
    assert_eq!(c.find_project_by_name("storefront").await.unwrap(), None);
    let storefront = c
        .create_project(&ProjectCreate {
            name: "storefront".into(),
            description: Some("Customer-facing services".into()),
        })
        .await
        .unwrap();
    assert_eq!(storefront.name, "storefront");
    assert_eq!(
        storefront.description.as_deref(),
        Some("Customer-facing services")
    );
    assert_eq!(storefront.org_id.as_deref(), Some("acme"));
    assert_eq!(storefront.id.len(), 36, "a UUID: {}", storefront.id);
    assert_eq!(
        c.find_project_by_name("storefront").await.unwrap(),
        Some(storefront.clone())
    );
    // Names are matched exactly, as the platform keeps them unique.
    assert_eq!(c.find_project_by_name("Storefront").await.unwrap(), None);
    assert_eq!(*c.list_projects().await.unwrap(), vec![storefront.clone()]);

    let web = c
        .create_component(
            &storefront.id,
            &ComponentCreate {
                name: "web".into(),
                type_: ComponentType::WebApplication,
                description: Some("The shop front".into()),
                repo_url: "https://github.com/acme/web".into(),
                branch: Some("release".into()),
                buildpack_id: Some("nodejs".into()),
                sub_path: Some("apps/web".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(web.name, "web");
    assert_eq!(web.type_, ComponentType::WebApplication);
    assert_eq!(web.description.as_deref(), Some("The shop front"));
    assert_eq!(web.repo_url, "https://github.com/acme/web");
    assert_eq!(web.branch.as_deref(), Some("release"));
    assert_eq!(web.buildpack_id.as_deref(), Some("nodejs"));
    assert_eq!(web.project_id.as_deref(), Some(&storefront.id[..]));
    assert_eq!(web.status, Some(ComponentStatus::Inactive));

    let orders = c
        .create_component(&storefront.id, &service("orders-service"))
        .await
        .unwrap();
    assert_eq!(
        orders.branch.as_deref(),
        Some("main"),
        "the platform default"
    );
    assert_eq!(orders.type_, ComponentType::Service);

    let names: Vec<String> = c
        .list_components(&storefront.id)
        .await
        .unwrap()
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(names, ["web", "orders-service"]);
    assert_eq!(
        c.find_component_by_name(&storefront.id, "orders-service")
            .await
            .unwrap(),
        Some(orders.clone())
    );
    assert_eq!(
        c.find_component_by_name(&storefront.id, "payments")
            .await
            .unwrap(),
        None
    );
    assert_eq!(c.get_component(&storefront.id, &web.id).await.unwrap(), web);

    c.delete_component(&storefront.id, &web.id).await.unwrap();
    let gone = c.get_component(&storefront.id, &web.id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    assert_eq!(
        gone.message(),
        format!(
            "component {} not found in project {}",
            web.id, storefront.id
        )
    );
    let again = c
        .delete_component(&storefront.id, &web.id)
        .await
        .unwrap_err();
    assert!(again.is_not_found(), "{again}");
    assert_eq!(
        *c.list_components(&storefront.id).await.unwrap(),
        vec![orders]
    );
}

#[tokio::test]
async fn builds_are_triggered_and_promoted_to_environments_resolved_by_name_or_id() {
    let p = start().await;
    let c = p.client();

    let environments = c.list_environments().await.unwrap();
    let summary: Vec<(&str, Option<&EnvironmentType>, bool)> = environments
        .iter()
        .map(|e| (&e.name[..], e.type_.as_ref(), e.is_default))
        .collect();
    assert_eq!(
        summary,
        [
            ("Development", Some(&EnvironmentType::Development), true),
            ("Staging", Some(&EnvironmentType::Staging), false),
            ("Production", Some(&EnvironmentType::Production), false),
        ]
    );
    let production = c.resolve_environment("Production").await.unwrap().unwrap();
    assert_eq!(production.id, PRODUCTION);
    let development = c.resolve_environment(DEVELOPMENT).await.unwrap().unwrap();
    assert_eq!(development.name, "Development");
    assert_eq!(c.resolve_environment("production").await.unwrap(), None);
    assert_eq!(c.resolve_environment("QA").await.unwrap(), None);

    let project = c.create_project(&project("storefront")).await.unwrap();
    let component = c
        .create_component(&project.id, &service("orders-service"))
        .await
        .unwrap();
    let (pid, cid) = (&project.id[..], &component.id[..]);

    assert_eq!(
        c.find_build_by_commit(pid, cid, "4f2c9e1").await.unwrap(),
        None
    );
    let pinned = c
        .create_build(
            pid,
            cid,
            &BuildCreate {
                branch: Some("main".into()),
                commit_hash: Some("4f2c9e1".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(pinned.status, BuildStatus::Success);
    assert!(pinned.status.is_finished());
    assert_eq!(pinned.commit_hash, "4f2c9e1");
    assert_eq!(pinned.branch.as_deref(), Some("main"));
    assert_eq!(pinned.component_id.as_deref(), Some(cid));
    assert!(pinned.completed_at.is_some());

    let head = c
        .create_build(pid, cid, &BuildCreate::default())
        .await
        .unwrap();
    assert_eq!(
        head.commit_hash.len(),
        40,
        "the branch head: {}",
        head.commit_hash
    );
    assert_eq!(head.branch.as_deref(), Some("main"));

    let ids: Vec<String> = c
        .list_builds(pid, cid)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ids, [head.id.clone(), pinned.id.clone()]);
    let found = c.find_build_by_commit(pid, cid, "4F2C9E1").await.unwrap();
    assert_eq!(found.map(|b| b.id), Some(pinned.id.clone()));
    let found = c
        .find_build_by_commit(pid, cid, &head.commit_hash[..10])
        .await
        .unwrap();
    assert_eq!(found.map(|b| b.id), Some(head.id.clone()));

    assert_eq!(
        c.find_deployment(pid, cid, &pinned.id, DEVELOPMENT)
            .await
            .unwrap(),
        None
    );
    let first = c
        .create_deployment(
            pid,
            cid,
            &DeploymentCreate {
                build_id: pinned.id.clone(),
                environment_id: development.id.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(first.status, DeploymentStatus::Active);
    assert_eq!(
        (&first.build_id[..], &first.environment_id[..]),
        (&pinned.id[..], DEVELOPMENT)
    );
    assert_eq!(first.component_id.as_deref(), Some(cid));
    assert_eq!(
        c.find_deployment(pid, cid, &pinned.id, DEVELOPMENT)
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        c.get_component(pid, cid).await.unwrap().status,
        Some(ComponentStatus::Active)
    );

    // A newer build going live in the same environment retires the first deployment.
    let second = c
        .create_deployment(
            pid,
            cid,
            &DeploymentCreate {
                build_id: head.id.clone(),
                environment_id: DEVELOPMENT.into(),
            },
        )
        .await
        .unwrap();
    let statuses: Vec<(String, DeploymentStatus)> = c
        .list_deployments(pid, cid)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.id, d.status))
        .collect();
    assert_eq!(
        statuses,
        [
            (second.id.clone(), DeploymentStatus::Active),
            (first.id.clone(), DeploymentStatus::Inactive),
        ]
    );
    let retired = c
        .find_deployment(pid, cid, &pinned.id, DEVELOPMENT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retired.status, DeploymentStatus::Inactive);
    assert_eq!(
        c.find_deployment(pid, cid, &pinned.id, PRODUCTION)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn the_apis_list_is_walked_across_every_page() {
    let p = start().await;
    let mut apis: Vec<Value> = (1..=210)
        .map(|i| json!({ "orgId": "acme", "name": format!("API {i:03}"), "version": "v1" }))
        .collect();
    apis.push(
        json!({ "orgId": "acme", "name": "Orders API", "version": "v2", "context": "/orders/v2",
                      "type": "GraphQL", "status": "Deprecated", "visibility": "Organization",
                      "componentId": "cmp-1" }),
    );
    p.admin(Method::POST, "/seed", json!({ "apis": apis }))
        .await;
    p.admin(Method::DELETE, "/calls", Value::Null).await;
    let c = p.client();

    let all = c.list_apis().await.unwrap();
    assert_eq!(all.len(), 212);
    assert_eq!(all[0].name, "Orders API");
    assert_eq!(all[1].name, "API 001");
    assert_eq!(all[210].name, "API 210");
    assert_eq!(all[211].version, "v2");
    let mut ids: Vec<&str> = all.iter().map(|a| &a.id[..]).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 212);
    assert_eq!(p.counts().await[APIS_ROUTE], 3, "pages of 100, 100 and 12");

    let orders = c.get_api(ORDERS_API).await.unwrap();
    assert_eq!(
        (
            &orders.name[..],
            &orders.version[..],
            orders.context.as_deref()
        ),
        ("Orders API", "v1", Some("/orders"))
    );
    assert_eq!(orders.status, ApiStatus::Published);
    assert_eq!(orders.type_, Some(ApiType::Rest));
    assert_eq!(orders.visibility, Some(ApiVisibility::Public));
    assert_eq!(orders.component_id, None);
    assert_eq!(all[0], orders);

    let both = c.find_apis("Orders API", None).await.unwrap();
    assert_eq!(both.len(), 2);
    let v2 = c.find_apis("Orders API", Some("v2")).await.unwrap();
    assert_eq!(v2.len(), 1);
    assert_eq!(v2[0].status, ApiStatus::Deprecated);
    assert_eq!(v2[0].type_, Some(ApiType::GraphQl));
    assert_eq!(v2[0].visibility, Some(ApiVisibility::Organization));
    assert_eq!(v2[0].component_id.as_deref(), Some("cmp-1"));
    assert_eq!(c.find_apis("Orders API", Some("v3")).await.unwrap(), vec![]);
    assert_eq!(c.find_apis("orders api", None).await.unwrap(), vec![]);
}

#[tokio::test]
async fn errors_carry_the_platforms_words() {
    let p = start().await;
    let metrics = ClientMetrics::default();
    let c = p.client_with(p.config(), "not-the-token", metrics.clone());

    let denied = c.list_projects().await.unwrap_err();
    assert!(denied.is_unauthorized());
    assert_eq!(
        status_of(&denied),
        (
            401,
            "Invalid Credentials. Make sure you have provided the correct security credentials"
        )
    );
    assert_eq!(
        metrics.count("choreo", "listProjects", "401"),
        1,
        "not retried"
    );
    c.set_token(Secret::new(TOKEN));
    assert_eq!(*c.list_projects().await.unwrap(), vec![]);

    let missing = c.get_api("no-such-api").await.unwrap_err();
    assert!(missing.is_not_found());
    assert_eq!(
        status_of(&missing),
        (404, "API no-such-api not found in organization acme")
    );
    let elsewhere = ChoreoClient::new(
        p.config(),
        Secret::new(TOKEN),
        "initech",
        ClientMetrics::default(),
    )
    .unwrap();
    let no_org = elsewhere.list_projects().await.unwrap_err();
    assert_eq!(status_of(&no_org), (404, "organization initech not found"));
    let no_project = c.list_components("p-unknown").await.unwrap_err();
    assert_eq!(
        status_of(&no_project),
        (404, "project p-unknown not found in organization acme")
    );

    let storefront = c.create_project(&project("storefront")).await.unwrap();
    let taken = c.create_project(&project("storefront")).await.unwrap_err();
    assert_eq!(
        status_of(&taken),
        (
            409,
            "a project named \"storefront\" already exists in organization acme"
        )
    );
    assert_eq!(metrics.count("choreo", "createProject", "409"), 1);
    let orders = c
        .create_component(&storefront.id, &service("orders-service"))
        .await
        .unwrap();
    let twice = c
        .create_component(&storefront.id, &service("orders-service"))
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&twice),
        (
            409,
            "a component named \"orders-service\" already exists in project storefront"
        )
    );

    let mut lambda = service("lambda");
    lambda.type_ = ComponentType::Other("Lambda".into());
    let invalid = c
        .create_component(&storefront.id, &lambda)
        .await
        .unwrap_err();
    let (status, message) = status_of(&invalid);
    assert_eq!(status, 400);
    assert!(
        message.starts_with("type must be one of: Service, REST API Proxy"),
        "{message}"
    );
    assert!(!invalid.is_retryable());

    let bad_commit = c
        .create_build(
            &storefront.id,
            &orders.id,
            &BuildCreate {
                branch: None,
                commit_hash: Some("not-a-hash".into()),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&bad_commit),
        (
            400,
            "commitHash must be a git commit hash of 7 to 40 hexadecimal digits"
        )
    );

    p.admin(Method::POST, "/failures", json!({ "match": "deadbee" }))
        .await;
    let failed = c
        .create_build(
            &storefront.id,
            &orders.id,
            &BuildCreate {
                branch: None,
                commit_hash: Some("deadbeef01".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(failed.status, BuildStatus::Failed);
    assert!(failed.status.is_finished());
    let refused = c
        .create_deployment(
            &storefront.id,
            &orders.id,
            &DeploymentCreate {
                build_id: failed.id.clone(),
                environment_id: DEVELOPMENT.into(),
            },
        )
        .await
        .unwrap_err();
    let (status, message) = status_of(&refused);
    assert_eq!(status, 400);
    assert!(message.contains("its status is Failed"), "{message}");
    let by_name = c
        .create_deployment(
            &storefront.id,
            &orders.id,
            &DeploymentCreate {
                build_id: failed.id.clone(),
                environment_id: "Development".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&by_name),
        (400, "environment Development not found in the organization")
    );
}

#[tokio::test]
async fn throttled_reads_wait_for_retry_after_or_hand_it_back() {
    let p = start().await;
    let metrics = ClientMetrics::default();
    let c = p.client_with(p.config(), TOKEN, metrics.clone());

    p.admin(
        Method::PUT,
        "/rate-limit",
        json!({ "perSecond": 1, "burst": 1 }),
    )
    .await;
    c.list_environments().await.unwrap();
    let started = Instant::now();
    let environments = c.list_environments().await.unwrap();
    assert_eq!(environments.len(), 3);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );
    assert!(metrics.count("choreo", "listEnvironments", "429") >= 1);
    assert_eq!(metrics.count("choreo", "listEnvironments", "200"), 2);
    p.admin(Method::DELETE, "/rate-limit", Value::Null).await;

    // Longer than the client's ceiling (2 s): handed to the caller to requeue after.
    p.faults(json!({ "throttleRate": 1.0, "retryAfterSeconds": 5 }))
        .await;
    let started = Instant::now();
    let throttled = c.list_projects().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(status_of(&throttled), (429, "too many requests (injected)"));
    assert_eq!(throttled.retry_after(), Some(Duration::from_secs(5)));
    assert!(throttled.is_retryable());
    p.faults(json!({})).await;
    assert_eq!(*c.list_projects().await.unwrap(), vec![]);
}

#[tokio::test]
async fn server_errors_are_retried_for_reads_but_never_for_creates() {
    let p = start().await;
    let metrics = ClientMetrics::default();
    let c = p.client_with(p.config(), TOKEN, metrics.clone());

    p.faults(json!({ "failNext": 2 })).await;
    assert_eq!(*c.list_projects().await.unwrap(), vec![]);
    assert_eq!(metrics.count("choreo", "listProjects", "503"), 2);
    assert_eq!(metrics.count("choreo", "listProjects", "200"), 1);

    p.faults(json!({ "failNext": 1 })).await;
    let outage = c.create_project(&project("storefront")).await.unwrap_err();
    assert_eq!(status_of(&outage), (503, "service unavailable (injected)"));
    assert!(
        outage.is_retryable(),
        "the caller may look up and try again"
    );
    assert_eq!(metrics.count("choreo", "createProject", "503"), 1);
    assert_eq!(
        p.counts().await["POST /api/v1/organizations/{orgId}/projects"],
        1
    );
    // The injected error came before the handler: nothing was created, and the reconciler's
    // lookup says so.
    assert_eq!(c.find_project_by_name("storefront").await.unwrap(), None);
}

#[tokio::test]
async fn a_slow_platform_times_out_as_a_transport_error() {
    let p = start().await;
    let mut config = p.config();
    config.timeout = Duration::from_millis(300);
    config.max_retries = 1;
    let metrics = ClientMetrics::default();
    let c = p.client_with(config, TOKEN, metrics.clone());
    p.faults(json!({ "latencyMs": 1500 })).await;

    let started = Instant::now();
    let error = c.list_environments().await.unwrap_err();
    assert!(
        matches!(error, ClientError::Transport { timeout: true, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(metrics.count("choreo", "listEnvironments", "timeout"), 2);
}

#[tokio::test]
async fn a_malformed_body_is_a_decode_error() {
    let p = start().await;
    let c = p.client();
    p.faults(json!({ "malformedRate": 1.0 })).await;
    for error in [
        c.list_environments().await.unwrap_err(),
        c.get_api(ORDERS_API).await.map(|_| ()).unwrap_err(),
        c.list_apis().await.map(|_| ()).unwrap_err(),
    ] {
        assert!(matches!(error, ClientError::Decode { .. }), "{error:?}");
    }
    p.faults(json!({})).await;
    assert_eq!(c.get_api(ORDERS_API).await.unwrap().name, "Orders API");
}

#[tokio::test]
async fn tokens_never_appear_in_errors_or_debug_output() {
    const ACCEPTED: &str = "tok-7f3a9c-accepted-secret";
    const REJECTED: &str = "tok-51be0d-rejected-secret";
    let p = start_accepting(&[ACCEPTED]).await;
    let good = p.client_with(p.config(), ACCEPTED, ClientMetrics::default());
    let bad = p.client_with(p.config(), REJECTED, ClientMetrics::default());

    let mut errors = vec![
        bad.list_projects().await.unwrap_err(),
        good.get_api("missing").await.unwrap_err(),
    ];
    good.create_project(&project("storefront")).await.unwrap();
    errors.push(
        good.create_project(&project("storefront"))
            .await
            .unwrap_err(),
    );
    p.faults(json!({ "malformedRate": 1.0 })).await;
    errors.push(good.list_environments().await.unwrap_err());
    p.faults(json!({ "failNext": 1 })).await;
    errors.push(good.create_project(&project("web")).await.unwrap_err());
    p.faults(json!({ "latencyMs": 1000 })).await;
    let mut config = p.config();
    config.timeout = Duration::from_millis(200);
    config.max_retries = 0;
    errors.push(
        p.client_with(config, ACCEPTED, ClientMetrics::default())
            .list_projects()
            .await
            .unwrap_err(),
    );
    p.faults(json!({})).await;

    // Nothing listens on a port just released.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config =
        ChoreoClient::config(format!("http://{}/api/v1", closed.local_addr().unwrap()));
    drop(closed);
    config.max_retries = 0;
    let unreachable = ChoreoClient::new(
        config,
        Secret::new(ACCEPTED),
        "acme",
        ClientMetrics::default(),
    )
    .unwrap();
    errors.push(unreachable.list_projects().await.unwrap_err());
    errors.push(
        ChoreoClient::new(
            ChoreoClient::config("not a url"),
            Secret::new(ACCEPTED),
            "acme",
            ClientMetrics::default(),
        )
        .unwrap_err(),
    );

    let kinds: Vec<&str> = errors.iter().map(ClientError::metric_label).collect();
    assert_eq!(
        kinds,
        [
            "unauthorized",
            "not_found",
            "conflict",
            "decode",
            "server_error",
            "timeout",
            "transport",
            "config"
        ]
    );
    for error in &errors {
        for text in [format!("{error}"), format!("{error:?}")] {
            assert!(
                !text.contains(ACCEPTED) && !text.contains(REJECTED),
                "{text}"
            );
            assert!(text.contains("choreo"), "{text}");
        }
    }
    for client in [&good, &bad] {
        let debug = format!("{client:?}");
        assert!(debug.contains("acme"), "{debug}");
        assert!(
            !debug.contains(ACCEPTED) && !debug.contains(REJECTED),
            "{debug}"
        );
    }
}

#[tokio::test]
async fn drift_checks_share_collection_reads_until_a_write() {
    const PROJECTS: &str = "GET /api/v1/organizations/{orgId}/projects";
    const ENVIRONMENTS: &str = "GET /api/v1/organizations/{orgId}/environments";
    let p = start().await;
    let c = p.client();
    let reads = |counts: &Value, route: &str| counts[route].as_u64().unwrap_or(0);
    c.create_project(&project("shop")).await.unwrap();

    // Two drift checks of the connection: one read of each list between them.
    let (a, b) = (
        c.sharing(Duration::from_secs(30)),
        c.sharing(Duration::from_secs(30)),
    );
    assert!(a.find_project_by_name("shop").await.unwrap().is_some());
    assert!(b.find_project_by_name("shop").await.unwrap().is_some());
    let (x, y) = tokio::join!(a.list_environments(), b.list_environments());
    let (x, y) = (x.unwrap(), y.unwrap());
    assert!(!x.is_empty());
    assert_eq!(x, y);
    let counts = p.counts().await;
    assert_eq!(
        (reads(&counts, PROJECTS), reads(&counts, ENVIRONMENTS)),
        (1, 1)
    );

    // A reconcile that is not a drift check always reads.
    c.list_projects().await.unwrap();
    assert_eq!(reads(&p.counts().await, PROJECTS), 2);

    // A write through the connection (by any of its clients) forgets the shared lists: the
    // next check sees the new project.
    c.create_project(&project("books")).await.unwrap();
    assert!(a.find_project_by_name("books").await.unwrap().is_some());
    assert_eq!(reads(&p.counts().await, PROJECTS), 3);

    // A check with a window shorter than the list's age reads again.
    tokio::time::sleep(Duration::from_millis(60)).await;
    let impatient = c.sharing(Duration::from_millis(50));
    impatient.list_projects().await.unwrap();
    assert_eq!(reads(&p.counts().await, PROJECTS), 4);
}
