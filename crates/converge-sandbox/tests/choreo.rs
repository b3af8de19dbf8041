//! The Choreo sandbox over real HTTP: every route, the documented validation, the build and
//! deployment state machines, pagination of the APIs list, authentication, seed data and the
//! shared layers (429, injected 5xx) in Choreo's error envelope.

use std::time::Duration;

use converge_sandbox::choreo::Choreo;
use converge_sandbox::snapshot::SnapshotFile;
use converge_sandbox::{Ops, OpsConfig, Sandbox, Served, Timing, serve};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "sandbox-choreo-token";
const DEVELOPMENT: &str = "415e10e6-c436-4f40-98c9-48b68e2eff7e";
const PRODUCTION: &str = "190a31fd-8886-4dac-b55d-8c0fc0f14f4a";
const ORDERS_API: &str = "98ccd059-1dd5-4bb1-ba62-3ecb9577bcc3";

struct TestClient {
    served: Served,
    http: reqwest::Client,
    /// The sandbox itself, to move its clock (`Sandbox::stop_clock`).
    sandbox: Sandbox<Choreo>,
}

async fn start(timing: Timing) -> TestClient {
    start_with(timing, None).await
}

async fn start_with(timing: Timing, snapshot: Option<SnapshotFile>) -> TestClient {
    let ops = Ops::new(OpsConfig {
        accepted: converge_sandbox::all::default_credentials("choreo"),
        ..Default::default()
    });
    let sandbox = Sandbox::<Choreo>::new(ops, timing, snapshot);
    let served = serve(sandbox.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    TestClient {
        served,
        http: reqwest::Client::new(),
        sandbox,
    }
}

/// The step of the state machine tests. Their sandbox's clock stands still and is moved by
/// the test, so each state is read while it lasts, however busy the machine.
const STEP: Duration = Duration::from_millis(250);

/// A sandbox whose states last `STEP`, on a stopped clock.
async fn start_stepped() -> TestClient {
    let c = start(Timing { step: STEP }).await;
    c.sandbox.stop_clock();
    c
}

impl TestClient {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.served.url())
    }

    fn admin(&self, path: &str) -> String {
        format!("{}/_sandbox{path}", self.served.url())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.get(self.url(path)).bearer_auth(TOKEN))
            .await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            self.http
                .post(self.url(path))
                .bearer_auth(TOKEN)
                .json(&body),
        )
        .await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.delete(self.url(path)).bearer_auth(TOKEN))
            .await
    }

    async fn admin_send(&self, method: reqwest::Method, path: &str, body: Value) -> StatusCode {
        self.http
            .request(method, self.admin(path))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn fail_matching(&self, pattern: &str) {
        let status = self
            .admin_send(
                reqwest::Method::POST,
                "/failures",
                json!({ "match": pattern }),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }

    async fn project(&self, name: &str) -> String {
        let (status, body) = self
            .post("/organizations/acme/projects", json!({ "name": name }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// Creates a project and a Service component in it; returns the component's path.
    async fn component(&self, project: &str, name: &str) -> String {
        let project_id = self.project(project).await;
        let (status, body) = self
            .post(
                &format!("/organizations/acme/projects/{project_id}/components"),
                json!({ "name": name, "type": "Service", "repoUrl": format!("https://github.com/acme/{name}") }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        format!(
            "/organizations/acme/projects/{project_id}/components/{}",
            body["id"].as_str().unwrap()
        )
    }

    async fn build(&self, component: &str, body: Value) -> Value {
        let (status, build) = self.post(&format!("{component}/builds"), body).await;
        assert_eq!(status, StatusCode::CREATED, "{build}");
        build
    }

    async fn deploy(
        &self,
        component: &str,
        build: &Value,
        environment: &str,
    ) -> (StatusCode, Value) {
        self.post(
            &format!("{component}/deployments"),
            json!({ "buildId": build["id"], "environmentId": environment }),
        )
        .await
    }

    async fn deployments(&self, component: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("{component}/deployments")).await;
        assert_eq!(status, StatusCode::OK);
        body["list"].as_array().unwrap().clone()
    }
}

fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, says: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["code"], expected.as_u16(), "{body}");
    assert_eq!(
        body["message"],
        expected.canonical_reason().unwrap(),
        "{body}"
    );
    let description = body["description"].as_str().unwrap();
    assert!(
        description.contains(says),
        "{description:?} does not say {says:?}"
    );
    assert_eq!(body.as_object().unwrap().len(), 3, "{body}");
}

fn is_uuid(s: &Value) -> bool {
    s.as_str()
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .is_some()
}

#[tokio::test]
async fn missing_wrong_and_basic_credentials_get_401_with_a_bearer_challenge() {
    let c = start(Timing::INSTANT).await;
    let url = c.url("/organizations");
    for (request, says, challenge) in [
        (
            c.http.get(&url),
            "Missing Credentials",
            "Bearer realm=\"choreo\"",
        ),
        (
            c.http.get(&url).bearer_auth("not-the-token"),
            "Invalid Credentials",
            "Bearer realm=\"choreo\", error=\"invalid_token\"",
        ),
        (
            c.http.get(&url).basic_auth("sandbox-user", Some(TOKEN)),
            "Invalid Credentials",
            "Bearer realm=\"choreo\", error=\"invalid_token\"",
        ),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.headers()["www-authenticate"], challenge);
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_error(status, &body, StatusCode::UNAUTHORIZED, says);
        assert!(!body.to_string().contains("not-the-token"));
    }
    // A write without credentials changes nothing.
    let response = c
        .http
        .post(c.url("/organizations/acme/projects"))
        .json(&json!({ "name": "sneaky" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (_, projects) = c.get("/organizations/acme/projects").await;
    assert_eq!(projects, json!({ "list": [] }));
}

#[tokio::test]
async fn default_seed_has_acme_its_environments_and_the_orders_api() {
    let c = start(Timing::INSTANT).await;
    let (status, orgs) = c.get("/organizations").await;
    assert_eq!(status, StatusCode::OK);
    let orgs = orgs["list"].as_array().unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0]["id"], "acme");
    assert_eq!(orgs[0]["handle"], "acme");
    assert_eq!(orgs[0]["name"], "Acme");
    assert!(orgs[0]["createdAt"].as_str().unwrap().ends_with('Z'));

    let (status, envs) = c.get("/organizations/acme/environments").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        envs,
        json!({ "list": [
            { "id": DEVELOPMENT, "name": "Development", "type": "Development", "isDefault": true, "orgId": "acme" },
            { "id": "e4d5cbd7-6bb2-4814-8a21-0dce99d19a54", "name": "Staging", "type": "Staging", "isDefault": false, "orgId": "acme" },
            { "id": PRODUCTION, "name": "Production", "type": "Production", "isDefault": false, "orgId": "acme" },
        ]})
    );

    let (status, apis) = c.get("/organizations/acme/apis").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        apis["pagination"],
        json!({ "total": 1, "limit": 25, "offset": 0 })
    );
    let api = &apis["list"][0];
    assert_eq!(api["id"], ORDERS_API);
    assert_eq!(api["name"], "Orders API");
    assert_eq!(api["version"], "v1");
    assert_eq!(api["context"], "/orders");
    assert_eq!(api["type"], "REST");
    assert_eq!(api["status"], "Published");
    assert_eq!(api["visibility"], "Public");

    let (status, one) = c
        .get(&format!("/organizations/acme/apis/{ORDERS_API}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&one, api);
    let (status, body) = c.get("/organizations/acme/apis/no-such-api").await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "API no-such-api not found",
    );
}

#[tokio::test]
async fn unknown_organization_project_component_and_path_are_404_in_the_envelope() {
    let c = start(Timing::INSTANT).await;
    for path in [
        "/organizations/globex/projects",
        "/organizations/globex/environments",
        "/organizations/globex/apis",
        &format!("/organizations/globex/apis/{ORDERS_API}"),
    ] {
        let (status, body) = c.get(path).await;
        assert_error(
            status,
            &body,
            StatusCode::NOT_FOUND,
            "organization globex not found",
        );
    }
    let (status, body) = c
        .post("/organizations/globex/projects", json!({ "name": "x" }))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "organization globex not found",
    );

    let (status, body) = c.get("/organizations/acme/projects/p1/components").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "project p1 not found");

    let project = c.project("storefront").await;
    let base = format!("/organizations/acme/projects/{project}/components/c1");
    for path in [
        base.clone(),
        format!("{base}/builds"),
        format!("{base}/deployments"),
    ] {
        let (status, body) = c.get(&path).await;
        assert_error(
            status,
            &body,
            StatusCode::NOT_FOUND,
            "component c1 not found",
        );
    }
    let (status, body) = c.post(&format!("{base}/builds"), json!({})).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "component c1 not found",
    );
    let (status, body) = c.delete(&base).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "component c1 not found",
    );

    let (status, body) = c.get("/organizations/acme/nothing-here").await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "no resource at /api/v1/organizations/acme/nothing-here",
    );
}

#[tokio::test]
async fn undocumented_methods_are_405_with_allow_and_the_envelope() {
    let c = start(Timing::INSTANT).await;
    for (method, path, allow) in [
        (
            reqwest::Method::PUT,
            "/organizations/acme/projects",
            "GET,HEAD,POST",
        ),
        (reqwest::Method::POST, "/organizations", "GET,HEAD"),
        (
            reqwest::Method::DELETE,
            "/organizations/acme/environments",
            "GET,HEAD",
        ),
        (
            reqwest::Method::PATCH,
            "/organizations/acme/projects/p/components/c",
            "GET,HEAD,DELETE",
        ),
    ] {
        let response = c
            .http
            .request(method.clone(), c.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_error(
            status,
            &body,
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("{method} is not supported"),
        );
    }
}

#[tokio::test]
async fn projects_are_created_listed_and_unique_by_name_per_organization() {
    let c = start(Timing::INSTANT).await;
    let (status, project) = c
        .post(
            "/organizations/acme/projects",
            json!({ "name": "storefront", "description": "Customer-facing storefront services" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(is_uuid(&project["id"]), "{project}");
    assert_eq!(project["name"], "storefront");
    assert_eq!(
        project["description"],
        "Customer-facing storefront services"
    );
    assert_eq!(project["orgId"], "acme");
    assert!(
        project["createdAt"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );

    let (_, plain) = c
        .post("/organizations/acme/projects", json!({ "name": "plain" }))
        .await;
    assert!(plain.get("description").is_none(), "{plain}");

    let (status, list) = c.get("/organizations/acme/projects").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!({ "list": [project, plain] }));

    let (status, body) = c
        .post(
            "/organizations/acme/projects",
            json!({ "name": "storefront" }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "a project named \"storefront\" already exists in organization acme",
    );
    // Names are compared exactly.
    let (status, _) = c
        .post(
            "/organizations/acme/projects",
            json!({ "name": "Storefront" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, list) = c.get("/organizations/acme/projects").await;
    assert_eq!(list["list"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn project_bodies_are_validated() {
    let c = start(Timing::INSTANT).await;
    let path = "/organizations/acme/projects";
    for (body, says) in [
        (json!({}), "name is required"),
        (json!({ "name": null }), "name is required"),
        (json!({ "name": "  " }), "name must not be empty"),
        (json!({ "name": 7 }), "name must be a string"),
        (
            json!({ "name": "x", "description": ["no"] }),
            "description must be a string",
        ),
        (json!(["name"]), "the request body must be a JSON object"),
    ] {
        let (status, response) = c.post(path, body).await;
        assert_error(status, &response, StatusCode::BAD_REQUEST, says);
    }
    let raw = |body: &'static str, content_type: Option<&'static str>| {
        let mut r = c.http.post(c.url(path)).bearer_auth(TOKEN).body(body);
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        r
    };
    let (status, body) = c.send(raw("", Some("application/json"))).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "a JSON request body is required",
    );
    let (status, body) = c.send(raw("{\"name\":", Some("application/json"))).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "not valid JSON");
    let (status, body) = c
        .send(raw("name=x", Some("application/x-www-form-urlencoded")))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type: application/json",
    );
    let (status, _) = c
        .send(raw(
            "{\"name\":\"charset\"}",
            Some("application/json; charset=utf-8"),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, list) = c.get(path).await;
    assert_eq!(list["list"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn components_are_created_read_listed_and_deleted() {
    let c = start(Timing::INSTANT).await;
    let project = c.project("storefront").await;
    let components = format!("/organizations/acme/projects/{project}/components");
    let (status, component) = c
        .post(
            &components,
            json!({
                "name": "orders-service",
                "type": "Service",
                "description": "Order intake REST service",
                "repoUrl": "https://github.com/acme/orders-service",
                "subPath": "services/orders",
                "buildpackId": "java-17",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{component}");
    let id = component["id"].as_str().unwrap().to_string();
    assert!(is_uuid(&component["id"]));
    assert_eq!(
        component,
        json!({
            "id": id,
            "name": "orders-service",
            "type": "Service",
            "description": "Order intake REST service",
            "repoUrl": "https://github.com/acme/orders-service",
            "branch": "main",
            "buildpackId": "java-17",
            "projectId": project,
            "orgId": "acme",
            "status": "Inactive",
            "createdAt": component["createdAt"],
        })
    );

    // Every documented type is accepted, with an explicit branch.
    for (i, kind) in [
        "REST API Proxy",
        "GraphQL API Proxy",
        "Web Application",
        "Scheduled Job",
        "Manual Trigger",
        "Event Handler",
        "Webhook",
    ]
    .iter()
    .enumerate()
    {
        let (status, body) = c
            .post(
                &components,
                json!({ "name": format!("c{i}"), "type": kind, "repoUrl": "https://github.com/acme/x", "branch": "develop" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["type"], *kind);
        assert_eq!(body["branch"], "develop");
    }

    let (status, one) = c.get(&format!("{components}/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one, component);
    let (_, list) = c.get(&components).await;
    let list = list["list"].as_array().unwrap();
    assert_eq!(list.len(), 8);
    assert_eq!(list[0], component);

    // The same name in another project is fine; in this one it is a conflict.
    let other = c.project("backoffice").await;
    let (status, _) = c
        .post(
            &format!("/organizations/acme/projects/{other}/components"),
            json!({ "name": "orders-service", "type": "Service", "repoUrl": "https://github.com/acme/orders-service" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = c
        .post(
            &components,
            json!({ "name": "orders-service", "type": "Webhook", "repoUrl": "https://github.com/acme/other" }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "a component named \"orders-service\" already exists in project storefront",
    );
    // A component is only found under its own project.
    let (status, body) = c
        .get(&format!(
            "/organizations/acme/projects/{other}/components/{id}"
        ))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        &format!("component {id} not found"),
    );

    let (status, body) = c.delete(&format!("{components}/{id}")).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, _) = c.get(&format!("{components}/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = c.delete(&format!("{components}/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = c.get(&components).await;
    assert_eq!(list["list"].as_array().unwrap().len(), 7);
    // The name is free again.
    let (status, _) = c
        .post(
            &components,
            json!({ "name": "orders-service", "type": "Service", "repoUrl": "https://github.com/acme/orders-service" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn component_bodies_are_validated() {
    let c = start(Timing::INSTANT).await;
    let project = c.project("storefront").await;
    let components = format!("/organizations/acme/projects/{project}/components");
    let ok = json!({ "name": "a", "type": "Service", "repoUrl": "https://github.com/acme/a" });
    let with = |key: &str, value: Value| {
        let mut body = ok.clone();
        body[key] = value;
        body
    };
    let (status, body) = c.post(&components, json!({})).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "name is required; type is required; repoUrl is required",
    );
    for (body, says) in [
        (
            with("type", json!("Microservice")),
            "type must be one of: Service, REST API Proxy, GraphQL API Proxy, Web Application, Scheduled Job, Manual Trigger, Event Handler, Webhook",
        ),
        (with("type", json!("service")), "type must be one of"),
        (with("repoUrl", json!("")), "repoUrl must not be empty"),
        (with("repoUrl", json!(42)), "repoUrl must be a string"),
        (with("branch", json!("")), "branch must not be empty"),
        (
            with("buildpackId", json!(true)),
            "buildpackId must be a string",
        ),
        (with("subPath", json!({})), "subPath must be a string"),
    ] {
        let (status, response) = c.post(&components, body).await;
        assert_error(status, &response, StatusCode::BAD_REQUEST, says);
    }
    let (_, list) = c.get(&components).await;
    assert_eq!(list, json!({ "list": [] }));
    // An unknown project wins over a bad body.
    let (status, body) = c
        .post("/organizations/acme/projects/nope/components", json!({}))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "project nope not found",
    );
}

#[tokio::test]
async fn builds_default_to_the_component_branch_and_are_listed_newest_first() {
    let c = start(Timing::INSTANT).await;
    let component = c.component("storefront", "orders-service").await;
    let component_id = component.rsplit('/').next().unwrap();

    let first = c.build(&component, json!({})).await;
    assert!(is_uuid(&first["id"]));
    assert_eq!(first["componentId"], component_id);
    assert_eq!(first["status"], "Success");
    assert_eq!(first["branch"], "main");
    let head = first["commitHash"].as_str().unwrap();
    assert_eq!(head.len(), 40);
    assert!(head.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(first["completedAt"], first["createdAt"]);

    // The same branch builds the same head; another branch another one.
    let again = c.build(&component, json!({ "branch": "main" })).await;
    assert_eq!(again["commitHash"], head);
    let feature = c.build(&component, json!({ "branch": "feature/x" })).await;
    assert_eq!(feature["branch"], "feature/x");
    assert_ne!(feature["commitHash"], head);
    let pinned = c
        .build(
            &component,
            json!({ "branch": "main", "commitHash": "4f2c9e1" }),
        )
        .await;
    assert_eq!(pinned["commitHash"], "4f2c9e1");

    let (status, list) = c.get(&format!("{component}/builds")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!({ "list": [pinned, feature, again, first] }));

    for (body, says) in [
        (
            json!({ "commitHash": "not-a-commit" }),
            "commitHash must be a git commit hash of 7 to 40 hexadecimal digits",
        ),
        (
            json!({ "commitHash": "abc12" }),
            "commitHash must be a git commit hash",
        ),
        (json!({ "branch": 3 }), "branch must be a string"),
        (json!({ "branch": "" }), "branch must not be empty"),
    ] {
        let (status, response) = c.post(&format!("{component}/builds"), body).await;
        assert_error(status, &response, StatusCode::BAD_REQUEST, says);
    }
    // The body is required (an empty object will do).
    let (status, body) = c
        .send(
            c.http
                .post(c.url(&format!("{component}/builds")))
                .bearer_auth(TOKEN),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "a JSON request body is required",
    );
    let (_, list) = c.get(&format!("{component}/builds")).await;
    assert_eq!(list["list"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_build_goes_pending_in_progress_success_and_only_then_deploys() {
    let c = start_stepped().await;
    let component = c.component("storefront", "orders-service").await;
    let build = c
        .build(&component, json!({ "commitHash": "4f2c9e1" }))
        .await;
    assert_eq!(build["status"], "Pending");
    assert!(build.get("completedAt").is_none());

    let (status, body) = c.deploy(&component, &build, DEVELOPMENT).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "cannot be deployed: its status is Pending",
    );

    c.sandbox.advance(STEP + STEP / 5);
    let (_, list) = c.get(&format!("{component}/builds")).await;
    assert_eq!(list["list"][0]["status"], "InProgress");
    assert!(list["list"][0].get("completedAt").is_none());
    let (status, body) = c.deploy(&component, &build, DEVELOPMENT).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "its status is InProgress",
    );

    c.sandbox.advance(STEP);
    let (_, list) = c.get(&format!("{component}/builds")).await;
    let done = &list["list"][0];
    assert_eq!(done["status"], "Success");
    let created: jiff::Timestamp = done["createdAt"].as_str().unwrap().parse().unwrap();
    let completed: jiff::Timestamp = done["completedAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        completed.duration_since(created).as_millis(),
        2 * STEP.as_millis() as i128
    );

    // The deployment is Pending for a step, then Active, and the component becomes Active.
    let (status, deployment) = c.deploy(&component, &build, DEVELOPMENT).await;
    assert_eq!(status, StatusCode::CREATED, "{deployment}");
    assert!(is_uuid(&deployment["id"]));
    assert_eq!(deployment["status"], "Pending");
    assert_eq!(deployment["buildId"], build["id"]);
    assert_eq!(deployment["environmentId"], DEVELOPMENT);
    assert_eq!(
        deployment["componentId"],
        component.rsplit('/').next().unwrap()
    );
    let (_, before) = c.get(&component).await;
    assert_eq!(before["status"], "Inactive");

    c.sandbox.advance(STEP + STEP / 5);
    let deployments = c.deployments(&component).await;
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0]["id"], deployment["id"]);
    assert_eq!(deployments[0]["status"], "Active");
    let (_, after) = c.get(&component).await;
    assert_eq!(after["status"], "Active");
}

#[tokio::test]
async fn a_newer_live_deployment_makes_the_previous_one_in_that_environment_inactive() {
    let c = start_stepped().await;
    let component = c.component("storefront", "orders-service").await;
    let v1 = c
        .build(&component, json!({ "commitHash": "1111111" }))
        .await;
    let v2 = c
        .build(&component, json!({ "commitHash": "2222222" }))
        .await;
    c.sandbox.advance(2 * STEP + STEP / 5);

    let (_, dev1) = c.deploy(&component, &v1, DEVELOPMENT).await;
    let (_, prod1) = c.deploy(&component, &v1, PRODUCTION).await;
    c.sandbox.advance(STEP + STEP / 5);

    let (status, dev2) = c.deploy(&component, &v2, DEVELOPMENT).await;
    assert_eq!(status, StatusCode::CREATED);
    // While the new one is Pending, the old one keeps serving.
    let statuses = |list: &[Value]| -> Vec<(String, String)> {
        list.iter()
            .map(|d| {
                (
                    d["id"].as_str().unwrap().to_string(),
                    d["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let id = |d: &Value| d["id"].as_str().unwrap().to_string();
    assert_eq!(
        statuses(&c.deployments(&component).await),
        vec![
            (id(&dev2), "Pending".into()),
            (id(&prod1), "Active".into()),
            (id(&dev1), "Active".into()),
        ]
    );
    c.sandbox.advance(STEP + STEP / 5);
    assert_eq!(
        statuses(&c.deployments(&component).await),
        vec![
            (id(&dev2), "Active".into()),
            (id(&prod1), "Active".into()),
            (id(&dev1), "Inactive".into()),
        ]
    );
}

#[tokio::test]
async fn deployment_bodies_are_validated() {
    let c = start(Timing::INSTANT).await;
    let component = c.component("storefront", "orders-service").await;
    let other = c.component("backoffice", "ledger").await;
    let build = c.build(&component, json!({})).await;
    let foreign = c.build(&other, json!({})).await;
    let path = format!("{component}/deployments");

    let (status, body) = c.post(&path, json!({})).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "buildId is required; environmentId is required",
    );
    let (status, body) = c.post(&path, json!({ "buildId": build["id"] })).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "environmentId is required",
    );
    let (status, body) = c
        .post(
            &path,
            json!({ "buildId": "b-unknown", "environmentId": DEVELOPMENT }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "build b-unknown not found for component orders-service",
    );
    let (status, body) = c.deploy(&component, &foreign, DEVELOPMENT).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "not found for component orders-service",
    );
    // Environments are addressed by id, as the environments list gives them.
    let (status, body) = c.deploy(&component, &build, "Development").await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "environment Development not found",
    );
    assert!(c.deployments(&component).await.is_empty());

    let (status, body) = c
        .post(
            &format!("{component}-gone/deployments"),
            json!({ "buildId": build["id"], "environmentId": DEVELOPMENT }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn failure_patterns_fail_builds_and_deployments_and_failed_builds_do_not_deploy() {
    let c = start(Timing::INSTANT).await;
    let component = c.component("storefront", "orders-service").await;
    let flaky = c.component("backoffice", "flaky-worker").await;
    c.fail_matching("deadbee").await;
    c.fail_matching("broken-branch").await;
    c.fail_matching("flaky").await;
    c.fail_matching("orders-service/Production").await;

    let by_commit = c
        .build(&component, json!({ "commitHash": "deadbeef01" }))
        .await;
    assert_eq!(by_commit["status"], "Failed");
    assert!(by_commit["completedAt"].is_string());
    let by_branch = c
        .build(&component, json!({ "branch": "broken-branch" }))
        .await;
    assert_eq!(by_branch["status"], "Failed");
    let by_component = c.build(&flaky, json!({})).await;
    assert_eq!(by_component["status"], "Failed");
    let good = c
        .build(&component, json!({ "commitHash": "c0ffee1" }))
        .await;
    assert_eq!(good["status"], "Success");

    let (status, body) = c.deploy(&component, &by_commit, DEVELOPMENT).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "its status is Failed",
    );

    let (_, dev) = c.deploy(&component, &good, DEVELOPMENT).await;
    assert_eq!(dev["status"], "Active");
    let (_, prod) = c.deploy(&component, &good, PRODUCTION).await;
    assert_eq!(prod["status"], "Failed");
    // A failed deployment does not replace the live one.
    let (_, again) = c.deploy(&component, &good, DEVELOPMENT).await;
    assert_eq!(again["status"], "Active");
    let list = c.deployments(&component).await;
    let statuses: Vec<&str> = list.iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["Active", "Failed", "Inactive"]);

    // Cleared patterns no longer fail anything.
    let status = c
        .admin_send(reqwest::Method::DELETE, "/failures", Value::Null)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let fixed = c.build(&flaky, json!({})).await;
    assert_eq!(fixed["status"], "Success");
}

#[tokio::test]
async fn deleting_a_component_removes_its_builds_and_deployments() {
    let c = start(Timing::INSTANT).await;
    let component = c.component("storefront", "orders-service").await;
    let build = c.build(&component, json!({})).await;
    let (status, _) = c.deploy(&component, &build, DEVELOPMENT).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = c.delete(&component).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let state: Value = c
        .http
        .get(c.admin("/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["components"], json!([]));
    assert_eq!(state["builds"], json!([]));
    assert_eq!(state["deployments"], json!([]));
    assert_eq!(state["projects"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_apis_list_pages_with_limit_and_offset() {
    let c = start(Timing::INSTANT).await;
    let apis: Vec<Value> = (1..=30)
        .map(|i| json!({ "orgId": "acme", "name": format!("API {i:02}"), "version": "v1" }))
        .collect();
    let status = c
        .admin_send(reqwest::Method::POST, "/seed", json!({ "apis": apis }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, first) = c.get("/organizations/acme/apis").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        first["pagination"],
        json!({ "total": 31, "limit": 25, "offset": 0 })
    );
    let names = |page: &Value| -> Vec<String> {
        page["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect()
    };
    let first_names = names(&first);
    assert_eq!(first_names.len(), 25);
    assert_eq!(first_names[0], "Orders API");
    assert_eq!(first_names[24], "API 24");

    let (_, second) = c.get("/organizations/acme/apis?offset=25").await;
    assert_eq!(
        second["pagination"],
        json!({ "total": 31, "limit": 25, "offset": 25 })
    );
    assert_eq!(
        names(&second),
        ["API 25", "API 26", "API 27", "API 28", "API 29", "API 30"]
    );

    let (_, middle) = c.get("/organizations/acme/apis?limit=3&offset=10").await;
    assert_eq!(
        middle["pagination"],
        json!({ "total": 31, "limit": 3, "offset": 10 })
    );
    assert_eq!(names(&middle), ["API 10", "API 11", "API 12"]);

    let (_, beyond) = c.get("/organizations/acme/apis?offset=40").await;
    assert_eq!(beyond["list"], json!([]));
    assert_eq!(beyond["pagination"]["total"], 31);

    for (query, says) in [
        ("limit=0", "limit must be an integer of at least 1"),
        ("limit=ten", "limit must be an integer of at least 1"),
        ("offset=-1", "offset must be an integer of at least 0"),
    ] {
        let (status, body) = c.get(&format!("/organizations/acme/apis?{query}")).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, says);
    }
    // Seeded defaults: context from the name, REST, Created, Public.
    let (_, page) = c.get("/organizations/acme/apis?limit=1&offset=1").await;
    let api = &page["list"][0];
    assert!(is_uuid(&api["id"]));
    assert_eq!(api["context"], "/api-01");
    assert_eq!(
        (&api["type"], &api["status"], &api["visibility"]),
        (&json!("REST"), &json!("Created"), &json!("Public"))
    );
}

#[tokio::test]
async fn seed_adds_organizations_environments_projects_and_apis_whole_or_not_at_all() {
    let c = start(Timing::INSTANT).await;
    let seed = json!({
        "organizations": [{ "id": "0b7a4f8e-1d2c-4e5f-8a9b-0c1d2e3f4a5b", "name": "Globex Corp", "handle": "globex" }],
        "environments": [{ "orgId": "globex", "id": "env-qa", "name": "QA", "type": "Staging", "isDefault": true }],
        "projects": [{ "orgId": "globex", "name": "billing", "description": "Billing" }],
        "apis": [{ "orgId": "globex", "name": "Billing API", "version": "v2", "context": "/billing",
                   "type": "GraphQL", "status": "Deprecated", "visibility": "Organization", "componentId": "cmp-1" }],
    });
    let status = c.admin_send(reqwest::Method::POST, "/seed", seed).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (_, orgs) = c.get("/organizations").await;
    assert_eq!(
        orgs["list"][1]["id"],
        "0b7a4f8e-1d2c-4e5f-8a9b-0c1d2e3f4a5b"
    );
    assert_eq!(orgs["list"][1]["handle"], "globex");
    assert_eq!(orgs["list"][1]["name"], "Globex Corp");
    // An organization is addressed by id or handle; objects carry its id.
    for org in ["globex", "0b7a4f8e-1d2c-4e5f-8a9b-0c1d2e3f4a5b"] {
        let (_, envs) = c.get(&format!("/organizations/{org}/environments")).await;
        assert_eq!(
            envs,
            json!({ "list": [{ "id": "env-qa", "name": "QA", "type": "Staging", "isDefault": true,
                               "orgId": "0b7a4f8e-1d2c-4e5f-8a9b-0c1d2e3f4a5b" }] })
        );
    }
    let (_, projects) = c.get("/organizations/globex/projects").await;
    assert_eq!(projects["list"][0]["name"], "billing");
    assert!(is_uuid(&projects["list"][0]["id"]));
    let (_, apis) = c.get("/organizations/globex/apis").await;
    let api = &apis["list"][0];
    assert_eq!(api["name"], "Billing API");
    assert_eq!(api["type"], "GraphQL");
    assert_eq!(api["status"], "Deprecated");
    assert_eq!(api["visibility"], "Organization");
    assert_eq!(api["componentId"], "cmp-1");
    let (_, acme_apis) = c.get("/organizations/acme/apis").await;
    assert_eq!(acme_apis["pagination"]["total"], 1);
    // A seeded project name is taken for the API too.
    let (status, _) = c
        .post(
            "/organizations/globex/projects",
            json!({ "name": "billing" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    for bad in [
        json!({ "environments": [{ "orgId": "initech", "name": "QA", "type": "Staging" }] }),
        json!({ "environments": [{ "orgId": "acme", "name": "Production", "type": "Production" }] }),
        json!({ "environments": [{ "orgId": "acme", "name": "Perf", "type": "Performance" }] }),
        json!({ "organizations": [{ "name": "Acme" }] }),
        json!({ "apis": [{ "orgId": "acme", "name": "Orders API", "version": "v1" }] }),
        json!({ "widgets": [] }),
        // The first part is fine, the second is not: nothing is applied.
        json!({ "organizations": [{ "name": "Initech" }],
                "apis": [{ "orgId": "initech", "name": "", "version": "v1" }] }),
    ] {
        let response = c
            .http
            .post(c.admin("/seed"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }
    let (_, orgs) = c.get("/organizations").await;
    assert_eq!(orgs["list"].as_array().unwrap().len(), 2);
    let (_, envs) = c.get("/organizations/acme/environments").await;
    assert_eq!(envs["list"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn reset_restores_the_default_seed_with_the_same_ids() {
    let c = start(Timing::INSTANT).await;
    c.component("storefront", "orders-service").await;
    let status = c
        .admin_send(reqwest::Method::POST, "/reset", Value::Null)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, projects) = c.get("/organizations/acme/projects").await;
    assert_eq!(projects, json!({ "list": [] }));
    let (_, envs) = c.get("/organizations/acme/environments").await;
    assert_eq!(envs["list"][0]["id"], DEVELOPMENT);
    let (status, _) = c
        .get(&format!("/organizations/acme/apis/{ORDERS_API}"))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn state_survives_a_restart_through_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sandbox.json");
    let (component, build_id) = {
        let c = start_with(
            Timing::INSTANT,
            Some(SnapshotFile::open(file.clone()).unwrap()),
        )
        .await;
        let component = c.component("storefront", "orders-service").await;
        let build = c
            .build(&component, json!({ "commitHash": "4f2c9e1" }))
            .await;
        let (status, _) = c.deploy(&component, &build, PRODUCTION).await;
        assert_eq!(status, StatusCode::CREATED);
        (component, build["id"].clone())
    };
    let c = start_with(Timing::INSTANT, Some(SnapshotFile::open(file).unwrap())).await;
    let (status, restored) = c.get(&component).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(restored["name"], "orders-service");
    assert_eq!(restored["status"], "Active");
    let (_, builds) = c.get(&format!("{component}/builds")).await;
    assert_eq!(builds["list"][0]["id"], build_id);
    assert_eq!(builds["list"][0]["status"], "Success");
    let deployments = c.deployments(&component).await;
    assert_eq!(deployments[0]["environmentId"], PRODUCTION);
}

#[tokio::test]
async fn rate_limits_and_injected_faults_answer_in_the_choreo_envelope() {
    let c = start(Timing::INSTANT).await;
    let status = c
        .admin_send(
            reqwest::Method::PUT,
            "/rate-limit",
            json!({ "perSecond": 1, "burst": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = c.get("/organizations").await;
    assert_eq!(status, StatusCode::OK);
    let response = c
        .http
        .get(c.url("/organizations"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "rate limit exceeded",
    );
    let status = c
        .admin_send(reqwest::Method::DELETE, "/rate-limit", Value::Null)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let status = c
        .admin_send(reqwest::Method::PUT, "/faults", json!({ "errorRate": 1.0 }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = c
        .post(
            "/organizations/acme/projects",
            json!({ "name": "during-outage" }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "service unavailable",
    );
    let status = c
        .admin_send(
            reqwest::Method::PUT,
            "/faults",
            json!({ "errorRate": 1.0, "errorStatus": 500 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = c.get("/organizations").await;
    assert_error(
        status,
        &body,
        StatusCode::INTERNAL_SERVER_ERROR,
        "service unavailable",
    );

    let status = c
        .admin_send(reqwest::Method::PUT, "/faults", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    // The injected errors changed nothing.
    let (status, projects) = c.get("/organizations/acme/projects").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(projects, json!({ "list": [] }));

    let counts: Value = c
        .http
        .get(c.admin("/counts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["POST /api/v1/organizations/{orgId}/projects"], 1);
    assert_eq!(counts["GET /api/v1/organizations"], 3);
}

/// `/_sandbox/holds` keeps the builds of a commit InProgress, whatever the step delay, until
/// released; other builds are not held.
#[tokio::test]
async fn a_held_build_stays_in_progress_until_released() {
    let c = start(Timing::INSTANT).await;
    let component = c.component("storefront", "orders-service").await;
    let hold = json!({"match": "abcd123"});
    assert_eq!(
        c.admin_send(reqwest::Method::POST, "/holds", hold).await,
        StatusCode::NO_CONTENT
    );
    let held = c
        .build(&component, json!({ "commitHash": "abcd1234" }))
        .await;
    let free = c
        .build(&component, json!({ "commitHash": "1234abc" }))
        .await;
    assert_eq!(held["status"], "InProgress");
    assert_eq!(free["status"], "Success");
    let (_, list) = c.get(&format!("{component}/builds")).await;
    let status_of = |b: &Value| {
        list["list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == b["id"])
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of(&held), "InProgress");
    let (status, body) = c.deploy(&component, &held, DEVELOPMENT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    assert_eq!(
        c.admin_send(reqwest::Method::DELETE, "/holds?match=abcd123", json!({}))
            .await,
        StatusCode::NO_CONTENT
    );
    let (_, list) = c.get(&format!("{component}/builds")).await;
    let released = list["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == held["id"])
        .unwrap()
        .clone();
    assert_eq!(released["status"], "Success");
}
