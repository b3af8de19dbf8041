//! The Cycloid sandbox over real HTTP: every route, the documented validation, the build state
//! machine, pagination, authentication, errors in Cycloid's envelope, and the admin surface.

use std::time::Duration;

use converge_sandbox::cycloid::Cycloid;
use converge_sandbox::{Ops, OpsConfig, Sandbox, Served, Timing};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const KEY: &str = "sandbox-cycloid-api-key";
const CYCLOID_JSON: &str = "application/vnd.cycloid.io.v1+json";
const ACME: &str = "/organizations/acme";
const COMPONENT: &str =
    "/organizations/acme/projects/billing/environments/staging/components/billing-api";

const PIPELINE_CONFIG: &str = "jobs:\n  - name: deploy\n    plan:\n      - task: deploy\n        params:\n          TAG: ((image_tag))\n";

struct Api {
    served: Served,
    client: reqwest::Client,
    /// The sandbox itself, to move its clock (`Sandbox::stop_clock`).
    sandbox: Sandbox<Cycloid>,
}

impl Api {
    async fn start(timing: Timing) -> Api {
        let ops = Ops::new(OpsConfig {
            accepted: converge_sandbox::all::default_credentials("cycloid"),
            ..Default::default()
        });
        let sandbox = Sandbox::<Cycloid>::new(ops, timing, None);
        let served = converge_sandbox::serve(sandbox.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Api {
            served,
            client: reqwest::Client::new(),
            sandbox,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.served.url())
    }

    /// An authenticated call with a JSON body in Cycloid's media type.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path)).bearer_auth(KEY);
        if let Some(b) = body {
            req = req.header("content-type", CYCLOID_JSON).body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    async fn admin(&self, method: Method, path: &str, body: Value) -> StatusCode {
        self.client
            .request(method, self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Project billing (staging, prod), component billing-api, pipeline billing-api-deploy.
    async fn example(&self) {
        let (s, _) = self
            .post(
                &format!("{ACME}/projects"),
                json!({"canonical": "billing", "name": "Billing", "description": "Invoicing and payments", "config_repository_canonical": "acme-config"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        for (c, n) in [("staging", "Staging"), ("prod", "Production")] {
            let (s, _) = self
                .post(
                    &format!("{ACME}/projects/billing/environments"),
                    json!({"canonical": c, "name": n, "color": "blue"}),
                )
                .await;
            assert_eq!(s, StatusCode::OK);
        }
        let (s, body) = self
            .post(
                &format!("{ACME}/projects/billing/environments/staging/components"),
                json!({
                    "canonical": "billing-api", "name": "Billing API", "use_case": "default",
                    "service_catalog_ref": "cycloidio:stack-docker",
                    "vars": {"app": {"image": {"repository": "registry.acme.test/billing-api", "tag": "1.4.2"}}},
                }),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let (s, body) = self
            .post(
                &format!("{COMPONENT}/pipelines"),
                json!({"pipeline_name": "billing-api-deploy", "passed_config": PIPELINE_CONFIG, "yaml_vars": "image_tag: \"1.4.2\"\n"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
}

fn error_codes(body: &Value) -> Vec<&str> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("not an error envelope: {body}"))
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect()
}

fn details(body: &Value) -> Vec<String> {
    body["errors"][0]["details"]
        .as_array()
        .map(|d| d.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

const PIPELINE: &str = "/organizations/acme/projects/billing/environments/staging/components/billing-api/pipelines/billing-api-deploy";

#[tokio::test]
async fn missing_or_wrong_credentials_are_401_in_the_envelope() {
    let api = Api::start(Timing::INSTANT).await;
    let none = api
        .client
        .get(api.url("/organizations/acme/projects"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let body: Value = none.json().await.unwrap();
    assert_eq!(
        body,
        json!({"errors": [{"code": "Unauthenticated", "message": "invalid credentials"}]})
    );
    let wrong = api
        .client
        .get(api.url("/organizations/acme/projects"))
        .bearer_auth("not-the-key")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let basic = api
        .client
        .get(api.url("/organizations/acme/projects"))
        .basic_auth("sandbox-cycloid-api-key", Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_codes(&basic.json().await.unwrap()),
        ["Unauthenticated"]
    );
}

#[tokio::test]
async fn unknown_paths_entities_and_methods_answer_in_the_envelope() {
    let api = Api::start(Timing::INSTANT).await;
    let (s, body) = api.get("/nowhere").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body["errors"][0]["code"], "NotFound");
    assert_eq!(body["errors"][0]["message"], "path /nowhere was not found");

    let (s, body) = api.get(&format!("{ACME}/projects/ghost")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"errors": [{"code": "NotFoundEntity", "message": "Entity not found", "details": ["project \"ghost\" not found"]}]})
    );
    let (s, body) = api.get("/organizations/globex/projects").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(details(&body), ["organization \"globex\" not found"]);

    let resp = api
        .client
        .delete(api.url(&format!("{ACME}/projects")))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "GET,HEAD,POST");
    assert_eq!(
        error_codes(&resp.json().await.unwrap()),
        ["MethodNotAllowed"]
    );

    // There is no list of a component's pipelines, only the create.
    let (s, _) = api.get(&format!("{COMPONENT}/pipelines")).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);

    // Path parameters follow their patterns.
    let (s, body) = api.get("/organizations/AC/projects").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        details(&body),
        ["organization_canonical in path should be at least 3 chars long"]
    );
    let (s, body) = api.get(&format!("{PIPELINE}/jobs/deploy/builds/abc")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(details(&body), ["build_id in path should match '^[0-9]+$'"]);
}

#[tokio::test]
async fn the_default_seed_has_what_the_examples_use() {
    let api = Api::start(Timing::INSTANT).await;
    let (s, body) = api.get("/organizations").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"][0]["canonical"], "acme");
    assert_eq!(body["data"][0]["admins"][0]["username"], "admin");
    assert_eq!(
        body["pagination"],
        json!({"index": 1, "size": 1000, "total": 1})
    );
    let (s, body) = api.get(ACME).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["name"], "Acme");

    let (_, body) = api.get(&format!("{ACME}/config_repositories")).await;
    assert_eq!(body["data"][0]["canonical"], "acme-config");
    assert_eq!(body["data"][0]["default"], true);

    let (s, body) = api
        .get(&format!("{ACME}/service_catalogs/cycloidio:stack-docker"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["ref"], "cycloidio:stack-docker");
    let (_, body) = api
        .get(&format!(
            "{ACME}/service_catalogs/cycloidio:stack-docker/use_cases"
        ))
        .await;
    assert_eq!(body["data"][0]["use_case"], "default");
    let (_, body) = api
        .get(&format!("{ACME}/service_catalogs?page_size=2"))
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["pagination"]["total"], 3);
    let (s, _) = api
        .get(&format!("{ACME}/service_catalogs/cycloidio:stack-nope"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api
        .get(&format!("{ACME}/service_catalogs/stack-docker"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn projects_are_created_listed_updated_and_deleted() {
    let api = Api::start(Timing::INSTANT).await;
    let (s, body) = api
        .post(
            &format!("{ACME}/projects"),
            json!({"canonical": "billing", "name": "Billing", "description": "Invoicing", "config_repository_canonical": "acme-config", "team_canonical": "platform", "color": "blue"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let p = &body["data"];
    assert_eq!(p["canonical"], "billing");
    assert_eq!(p["name"], "Billing");
    assert_eq!(p["description"], "Invoicing");
    assert_eq!(p["config_repository_canonical"], "acme-config");
    assert_eq!(p["color"], "blue");
    assert_eq!(p["icon"], "extension");
    assert_eq!(p["owner"]["username"], "admin");
    assert_eq!(p["team"]["canonical"], "platform");
    assert_eq!(p["environments"], json!([]));
    assert!(p["id"].as_u64().unwrap() >= 1);
    let updated_at = p["updated_at"].as_u64().unwrap();

    // The canonical is the natural key: a second one is a conflict.
    let (s, body) = api
        .post(
            &format!("{ACME}/projects"),
            json!({"canonical": "billing", "name": "Other", "config_repository_canonical": "acme-config"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(error_codes(&body), ["AlreadyExists"]);

    // Without a canonical, it comes from the name.
    let (s, body) = api
        .post(
            &format!("{ACME}/projects"),
            json!({"name": "Shop Front", "config_repository_canonical": "acme-config"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["canonical"], "shop-front");
    api.post(
        &format!("{ACME}/projects"),
        json!({"canonical": "data", "name": "Data", "config_repository_canonical": "acme-config"}),
    )
    .await;

    // Pages.
    let (_, page1) = api.get(&format!("{ACME}/projects?page_size=2")).await;
    let (_, page2) = api
        .get(&format!("{ACME}/projects?page_size=2&page_index=2"))
        .await;
    let names = |b: &Value| -> Vec<String> {
        b["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["canonical"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&page1), ["billing", "shop-front"]);
    assert_eq!(names(&page2), ["data"]);
    assert_eq!(
        page1["pagination"],
        json!({"index": 1, "size": 2, "total": 3})
    );
    assert_eq!(
        page2["pagination"],
        json!({"index": 2, "size": 2, "total": 3})
    );
    let (s, body) = api.get(&format!("{ACME}/projects?page_index=0")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        details(&body),
        ["page_index in query should be greater than or equal to 1"]
    );
    let (_, body) = api.get(&format!("{ACME}/projects?project_name=shop")).await;
    assert_eq!(names(&body), ["shop-front"]);
    let (_, body) = api
        .get(&format!("{ACME}/projects?order_by=name:desc"))
        .await;
    assert_eq!(names(&body), ["shop-front", "data", "billing"]);

    let (s, body) = api.get(&format!("{ACME}/projects/billing")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["name"], "Billing");

    // updated_at is required and must be the current one.
    let path = format!("{ACME}/projects/billing");
    let (s, body) = api
        .put(
            &path,
            json!({"name": "Billing", "config_repository_canonical": "acme-config"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(details(&body), ["updated_at in body is required"]);
    let (s, body) = api
        .put(&path, json!({"name": "Billing", "config_repository_canonical": "acme-config", "updated_at": updated_at - 1}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(error_codes(&body), ["Conflict"]);
    // The canonical never changes, and the config repository cannot be dropped.
    let (s, body) = api
        .put(&path, json!({"name": "B", "canonical": "other", "config_repository_canonical": "acme-config", "updated_at": updated_at}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        details(&body),
        ["canonical in body is a forbidden property"]
    );
    let (s, body) = api
        .put(&path, json!({"name": "B", "updated_at": updated_at}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        details(&body),
        ["config_repository_canonical in body is required"]
    );

    let (s, body) = api
        .put(&path, json!({"name": "Billing v2", "config_repository_canonical": "acme-config", "updated_at": updated_at, "cloud_provider": "aws"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["name"], "Billing v2");
    assert_eq!(
        body["data"]["description"], "",
        "optional fields not sent are cleared"
    );
    assert_eq!(body["data"]["cloud_provider"]["canonical"], "aws");
    assert_eq!(body["data"]["team"]["canonical"], "platform");

    let resp = api
        .client
        .delete(api.url(&path))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(resp.text().await.unwrap(), "");
    let (s, _) = api.get(&path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api.call(Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn project_bodies_are_validated_as_documented() {
    let api = Api::start(Timing::INSTANT).await;
    let path = format!("{ACME}/projects");
    let (s, body) = api.post(&path, json!({"description": 3})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_codes(&body), ["InvalidParameters"]);
    assert_eq!(
        details(&body),
        [
            "name in body is required",
            "description in body must be of type string: \"number\"",
            "config_repository_canonical in body is required",
        ]
    );
    let (_, body) = api
        .post(&path, json!({"canonical": "Bad_", "name": "", "config_repository_canonical": "ab", "color": "x".repeat(65), "extra": 1}))
        .await;
    assert_eq!(
        details(&body),
        [
            "extra in body is a forbidden property",
            r"canonical in body should match '(^[a-z0-9]+(([a-z0-9\-_]+)?[a-z0-9]+)?$)'",
            "name in body should be at least 1 chars long",
            "config_repository_canonical in body should be at least 3 chars long",
            "color in body should be at most 64 chars long",
        ]
    );
    let (_, body) = api
        .post(&path, json!({"canonical": "a".repeat(101), "name": "n", "config_repository_canonical": "acme-config"}))
        .await;
    assert_eq!(
        details(&body),
        ["canonical in body should be at most 100 chars long"]
    );
    let (s, body) = api
        .post(&path, json!({"name": "n", "config_repository_canonical": "nope-config", "owner": "ghost", "team_canonical": "nope-team"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        details(&body),
        [
            "config_repository_canonical in body: config repository \"nope-config\" not found",
            "owner in body: user \"ghost\" is not a member of the organization",
            "team_canonical in body: team \"nope-team\" not found",
        ]
    );

    // Media types.
    let send = |ct: &'static str, body: &'static str| {
        api.client
            .post(api.url(&path))
            .bearer_auth(KEY)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let resp = send("text/plain", "name=x").await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        error_codes(&resp.json().await.unwrap()),
        ["UnsupportedMediaType"]
    );
    let resp = send("application/json", "{not json").await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_codes(&resp.json().await.unwrap()), ["BadRequest"]);
    let resp = send("application/json", "").await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        details(&resp.json().await.unwrap()),
        ["body in body is required"]
    );
    let resp = send("application/json", "[1]").await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = send(
        "application/x-www-form-urlencoded",
        "canonical=from-form&name=From+form&config_repository_canonical=acme-config",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["name"], "From form");

    // A chunked body has no Content-Length: 411, without a body, as the spec shows.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(api.served.addr)
        .await
        .unwrap();
    let body = "{\"name\": \"x\"}";
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 411 "), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-length: 0\r\n"),
        "{response}"
    );
}

#[tokio::test]
async fn environments_belong_to_a_project() {
    let api = Api::start(Timing::INSTANT).await;
    api.post(
        &format!("{ACME}/projects"),
        json!({"canonical": "billing", "name": "Billing", "config_repository_canonical": "acme-config"}),
    )
    .await;
    let (_, project) = api.get(&format!("{ACME}/projects/billing")).await;
    let envs = format!("{ACME}/projects/billing/environments");
    let (s, body) = api
        .post(
            &envs,
            json!({"canonical": "staging", "name": "Staging", "color": "blue"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["canonical"], "staging");
    assert_eq!(body["data"]["color"], "blue");
    let (_, body) = api.post(&envs, json!({"name": "Prod EU"})).await;
    assert_eq!(body["data"]["canonical"], "prod-eu");
    assert_eq!(body["data"]["color"], "default");

    let (s, body) = api
        .post(&envs, json!({"canonical": "staging", "name": "Again"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(error_codes(&body), ["AlreadyExists"]);
    let (s, body) = api
        .post(&envs, json!({"canonical": "p", "name": "x".repeat(101)}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        details(&body),
        [
            r"canonical in body should match '^[\da-zA-Z]+(?:[\da-zA-Z\-._]+[\da-zA-Z]|[\da-zA-Z])$'",
            "name in body should be at most 100 chars long",
        ]
    );
    let (s, body) = api.post(&envs, json!({"canonical": "qa"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(details(&body), ["name in body is required"]);

    let (_, body) = api.get(&format!("{envs}?page_size=1&page_index=2")).await;
    assert_eq!(body["data"][0]["canonical"], "prod-eu");
    assert_eq!(
        body["pagination"],
        json!({"index": 2, "size": 1, "total": 2})
    );
    let (_, body) = api.get(&format!("{ACME}/projects/billing")).await;
    assert_eq!(body["data"]["environments"].as_array().unwrap().len(), 2);
    assert!(body["data"]["updated_at"].as_u64() >= project["data"]["updated_at"].as_u64());

    let (s, body) = api
        .put(&format!("{envs}/staging"), json!({"name": "Staging EU"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["name"], "Staging EU");
    assert_eq!(body["data"]["color"], "");
    let (_, body) = api.get(&format!("{envs}/staging")).await;
    assert_eq!(body["data"]["name"], "Staging EU");
    let (s, _) = api
        .call(Method::DELETE, &format!("{envs}/staging"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = api.get(&format!("{envs}/staging")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(details(&body), ["environment \"staging\" not found"]);
}

#[tokio::test]
async fn components_instantiate_a_stack_use_case() {
    let api = Api::start(Timing::INSTANT).await;
    api.example().await;
    let (s, body) = api.get(COMPONENT).await;
    assert_eq!(s, StatusCode::OK);
    let c = &body["data"];
    assert_eq!(c["canonical"], "billing-api");
    assert_eq!(c["name"], "Billing API");
    assert_eq!(c["use_case"], "default");
    assert_eq!(c["is_configured"], true);
    assert_eq!(c["service_catalog"]["ref"], "cycloidio:stack-docker");
    assert_eq!(c["environment"]["canonical"], "staging");
    assert_eq!(c["project"]["canonical"], "billing");
    let (_, body) = api.get(&format!("{COMPONENT}/config")).await;
    assert_eq!(body["data"]["app"]["image"]["tag"], "1.4.2");

    let components = format!("{ACME}/projects/billing/environments/staging/components");
    let (s, body) = api
        .post(&components, json!({"canonical": "billing-api", "name": "Again", "use_case": "default", "service_catalog_ref": "cycloidio:stack-docker"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(error_codes(&body), ["AlreadyExists"]);
    let (s, body) = api.post(&components, json!({"name": "Web"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        details(&body),
        [
            "service_catalog_ref in body is required",
            "use_case in body is required"
        ]
    );
    let (_, body) = api
        .post(&components, json!({"name": "Web", "use_case": "Default!", "service_catalog_ref": "cycloidio:stack-docker", "vars": {"app": "flat"}, "cloud_provider_canonical": "nimbus"}))
        .await;
    assert_eq!(
        details(&body),
        [
            "cloud_provider_canonical in body should be one of [aws google azurerm flexibleengine openstack]",
            r"use_case in body should match '(^[a-z0-9]+(([a-z0-9\-_]+)?[a-z0-9]+)?$)'",
            "vars.app in body must be of type object",
        ]
    );
    let (s, body) = api
        .post(&components, json!({"name": "Web", "use_case": "default", "service_catalog_ref": "cycloidio:stack-nope"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        details(&body),
        ["service_catalog_ref in body: service catalog \"cycloidio:stack-nope\" not found"]
    );
    let (_, body) = api
        .post(&components, json!({"name": "Web", "use_case": "prod", "service_catalog_ref": "cycloidio:stack-magento"}))
        .await;
    assert_eq!(
        details(&body),
        ["use_case in body should be one of [default high-availability]"]
    );
    let (s, body) = api
        .post(&components, json!({"name": "Web Shop", "use_case": "high-availability", "service_catalog_ref": "cycloidio:stack-magento", "cloud_provider_canonical": "aws"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["canonical"], "web-shop");
    assert_eq!(body["data"]["is_configured"], false);
    assert_eq!(body["data"]["cloud_provider"]["canonical"], "aws");

    let (_, body) = api.get(&components).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert!(body.get("pagination").is_none());
    let (_, body) = api.get(&format!("{ACME}/components")).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 2);

    // Updates need the name and use case; vars replace the old ones when sent.
    let (s, body) = api.put(COMPONENT, json!({"name": "Billing API"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(details(&body), ["use_case in body is required"]);
    let (s, body) = api
        .put(COMPONENT, json!({"name": "Billing", "use_case": "default", "vars": {"app": {"image": {"tag": "1.5.0"}}}}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["name"], "Billing");
    let (_, body) = api.get(&format!("{COMPONENT}/config")).await;
    assert_eq!(body["data"], json!({"app": {"image": {"tag": "1.5.0"}}}));

    let (s, _) = api.call(Method::DELETE, COMPONENT, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api.get(COMPONENT).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api.get(PIPELINE).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "the component's pipelines went with it"
    );
}

#[tokio::test]
async fn pipelines_carry_jobs_from_their_configuration() {
    let api = Api::start(Timing::INSTANT).await;
    api.example().await;
    let (s, body) = api.get(PIPELINE).await;
    assert_eq!(s, StatusCode::OK);
    let p = &body["data"];
    assert_eq!(p["name"], "billing-api-deploy");
    assert_eq!(p["paused"], true, "Concourse pipelines start paused");
    assert_eq!(p["team_name"], "acme");
    assert_eq!(p["jobs"][0]["name"], "deploy");
    assert_eq!(p["component"]["canonical"], "billing-api");
    assert_eq!(p["environment"]["canonical"], "staging");
    assert_eq!(p["project"]["canonical"], "billing");

    let (_, body) = api.get(&format!("{PIPELINE}/config")).await;
    let config: Value = serde_json::from_str(body["data"].as_str().unwrap()).unwrap();
    assert_eq!(config["jobs"][0]["plan"][0]["params"]["TAG"], "1.4.2");
    let (_, body) = api.get(&format!("{PIPELINE}/variables")).await;
    assert_eq!(
        body["data"],
        json!({"yaml_vars": "image_tag: \"1.4.2\"\n", "has_saved_yaml_vars": true})
    );

    // Names are unique in the organization, and follow their pattern; configurations parse.
    let pipelines = format!("{COMPONENT}/pipelines");
    let (s, body) = api
        .post(&pipelines, json!({"pipeline_name": "billing-api-deploy"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(error_codes(&body), ["AlreadyExists"]);
    let (s, body) = api
        .post(
            &pipelines,
            json!({"pipeline_name": "Bad", "passed_config": "jobs: [", "yaml_vars": "- a"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let d = details(&body);
    assert_eq!(
        d[0],
        r"pipeline_name in body should match '^[a-z0-9]+[a-z0-9\-._]+[a-z0-9]+$'"
    );
    assert_eq!(d[1], "yaml_vars in body: must be a YAML mapping");
    let (_, body) = api
        .post(
            &pipelines,
            json!({"pipeline_name": "other", "passed_config": "jobs: ["}),
        )
        .await;
    assert!(
        details(&body)[0].starts_with("passed_config in body: invalid YAML"),
        "{body}"
    );
    let (_, body) = api
        .post(&pipelines, json!({"pipeline_name": "other", "passed_config": "jobs:\n- name: a\n  plan:\n  - get: repo\n- name: a\n"}))
        .await;
    assert_eq!(
        details(&body),
        [
            "passed_config in body: jobs.a.plan[0].get(repo): unknown resource 'repo'",
            "passed_config in body: job 'a' is defined more than once",
        ]
    );
    let (s, body) = api
        .post(&pipelines, json!({"passed_config": "jobs: []"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(details(&body), ["pipeline_name in body is required"]);

    // Pause and unpause.
    let (s, _) = api
        .call(Method::PUT, &format!("{PIPELINE}/unpause"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, body) = api.get(PIPELINE).await;
    assert_eq!(body["data"]["paused"], false);
    let (s, _) = api
        .call(Method::PUT, &format!("{PIPELINE}/pause"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, body) = api.get(PIPELINE).await;
    assert_eq!(body["data"]["paused"], true);

    // Jobs.
    let (s, body) = api.get(&format!("{PIPELINE}/jobs")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"][0]["name"], "deploy");
    assert_eq!(body["data"][0]["pipeline_name"], "billing-api-deploy");
    assert_eq!(body["pagination"]["total"], 1);
    let (_, body) = api.get(&format!("{PIPELINE}/jobs/deploy")).await;
    assert_eq!(body["data"]["paused"], false);
    let (s, _) = api
        .call(Method::PUT, &format!("{PIPELINE}/jobs/deploy/pause"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, body) = api.get(&format!("{PIPELINE}/jobs/deploy")).await;
    assert_eq!(body["data"]["paused"], true);
    let (s, _) = api
        .call(
            Method::PUT,
            &format!("{PIPELINE}/jobs/deploy/unpause"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = api.get(&format!("{PIPELINE}/jobs/ghost")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(details(&body), ["job \"ghost\" not found"]);

    // An update keeps the jobs that keep their name, with their builds.
    api.call(Method::PUT, &format!("{PIPELINE}/unpause"), None)
        .await;
    let (_, build) = api
        .call(
            Method::POST,
            &format!("{PIPELINE}/jobs/deploy/builds"),
            None,
        )
        .await;
    let (s, body) = api
        .put(PIPELINE, json!({"passed_config": "jobs:\n- name: deploy\n  plan: [{task: deploy}]\n- name: smoke\n"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let jobs: Vec<&str> = body["data"]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(jobs, ["deploy", "smoke"]);
    assert_eq!(
        body["data"]["jobs"][0]["finished_build"]["id"],
        build["data"]["id"]
    );
    assert_eq!(body["data"]["paused"], false);
    let (s, body) = api.put(PIPELINE, json!({"yaml_vars": ""})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(details(&body), ["passed_config in body is required"]);

    // Lists of an environment, a project, an organization.
    let (_, body) = api
        .get(&format!(
            "{ACME}/projects/billing/environments/staging/pipelines"
        ))
        .await;
    assert_eq!(body["data"][0]["name"], "billing-api-deploy");
    assert_eq!(body["pagination"]["total"], 1);
    let (_, body) = api
        .get(&format!(
            "{ACME}/projects/billing/environments/prod/pipelines"
        ))
        .await;
    assert_eq!(body["pagination"]["total"], 0);
    let (_, body) = api.get(&format!("{ACME}/projects/billing/pipelines")).await;
    assert_eq!(body["pagination"]["total"], 1);
    let (_, body) = api
        .get(&format!("{ACME}/pipelines?statuses=succeeded"))
        .await;
    assert_eq!(body["pagination"]["total"], 1);
    let (_, body) = api.get(&format!("{ACME}/pipelines?statuses=paused")).await;
    assert_eq!(body["pagination"]["total"], 0);
    let (_, body) = api
        .get(&format!(
            "{ACME}/pipelines?concourse_pipeline_name=billing-api-deploy&project_canonical=billing"
        ))
        .await;
    assert_eq!(body["pagination"]["total"], 1);
    let (s, body) = api.get(&format!("{ACME}/pipelines?statuses=running")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        details(&body),
        [
            "statuses in query should be one of [aborted errored failed paused pending started succeeded]"
        ]
    );

    // Rename, then delete.
    let (s, _) = api
        .call(
            Method::PUT,
            &format!("{PIPELINE}/rename?pipeline_name=billing-deploy"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api.get(PIPELINE).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let renamed = format!("{COMPONENT}/pipelines/billing-deploy");
    let (s, body) = api.get(&renamed).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body["data"]["jobs"][0]["finished_build"]["pipeline_name"],
        "billing-deploy"
    );
    let (s, _) = api.call(Method::DELETE, &renamed, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api.get(&renamed).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// The status of a build once the sandbox's stopped clock moved `by`.
async fn status_after(api: &Api, build_path: &str, by: Duration) -> Value {
    api.sandbox.advance(by);
    api.get(build_path).await.1["data"].clone()
}

/// Builds move one state per step from when they are scheduled. The sandbox's clock stands
/// still and the test moves it, so each state is read while it lasts, however busy the machine.
#[tokio::test]
async fn builds_move_pending_started_succeeded_over_time() {
    let step = Duration::from_millis(200);
    let api = Api::start(Timing { step }).await;
    api.sandbox.stop_clock();
    api.example().await;
    let builds = format!("{PIPELINE}/jobs/deploy/builds");

    // The pipeline starts paused: the build waits, pending, until it is unpaused.
    let (s, body) = api.call(Method::POST, &builds, None).await;
    assert_eq!(s, StatusCode::OK);
    let b = &body["data"];
    assert_eq!(b["status"], "pending");
    assert_eq!(b["name"], "1");
    assert_eq!(b["job_name"], "deploy");
    assert_eq!(b["pipeline_name"], "billing-api-deploy");
    assert_eq!(b["team_name"], "acme");
    assert_eq!(b["api_url"], format!("/api/v1/builds/{}", b["id"]));
    let path = format!("{builds}/{}", b["id"]);
    assert_eq!(
        status_after(&api, &path, 2 * step).await["status"],
        "pending"
    );
    let (_, job) = api.get(&format!("{PIPELINE}/jobs/deploy")).await;
    assert_eq!(job["data"]["next_build"]["id"], b["id"]);

    api.call(Method::PUT, &format!("{PIPELINE}/unpause"), None)
        .await;
    let (_, body) = api.get(&path).await;
    assert_eq!(body["data"]["status"], "pending");
    let started = status_after(&api, &path, step).await;
    assert_eq!(started["status"], "started");
    assert!(started["start_time"].as_u64().is_some());
    assert!(started.get("end_time").is_none());
    let done = status_after(&api, &path, step).await;
    assert_eq!(done["status"], "succeeded");
    assert!(done["end_time"].as_u64() >= done["start_time"].as_u64());
    let (_, job) = api.get(&format!("{PIPELINE}/jobs/deploy")).await;
    assert_eq!(job["data"]["finished_build"]["status"], "succeeded");
    assert!(job["data"].get("next_build").is_none());

    // Aborting a running build ends it aborted; a finished one stays as it ended.
    let (_, body) = api.call(Method::POST, &builds, None).await;
    let second = format!("{builds}/{}", body["data"]["id"]);
    assert_eq!(status_after(&api, &second, step).await["status"], "started");
    let (s, _) = api
        .call(Method::PUT, &format!("{second}/abort"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        status_after(&api, &second, 2 * step).await["status"],
        "aborted"
    );
    let (s, _) = api.call(Method::PUT, &format!("{path}/abort"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, body) = api.get(&path).await;
    assert_eq!(body["data"]["status"], "succeeded");

    // A paused job holds its builds too.
    api.call(Method::PUT, &format!("{PIPELINE}/jobs/deploy/pause"), None)
        .await;
    let (_, body) = api.call(Method::POST, &builds, None).await;
    let third = format!("{builds}/{}", body["data"]["id"]);
    assert_eq!(
        status_after(&api, &third, 2 * step).await["status"],
        "pending"
    );
    api.call(
        Method::PUT,
        &format!("{PIPELINE}/jobs/deploy/unpause"),
        None,
    )
    .await;
    assert_eq!(
        status_after(&api, &third, 2 * step).await["status"],
        "succeeded"
    );
}

#[tokio::test]
async fn marked_failures_undefined_vars_and_manual_trigger_rules() {
    let api = Api::start(Timing::INSTANT).await;
    api.example().await;
    api.call(Method::PUT, &format!("{PIPELINE}/unpause"), None)
        .await;
    let builds = format!("{PIPELINE}/jobs/deploy/builds");
    let (_, body) = api.call(Method::POST, &builds, None).await;
    assert_eq!(
        body["data"]["status"], "succeeded",
        "instant timing ends builds at once"
    );

    assert_eq!(
        api.admin(
            Method::POST,
            "/_sandbox/failures",
            json!({"match": "billing-api-deploy"})
        )
        .await,
        StatusCode::NO_CONTENT
    );
    let (_, body) = api.call(Method::POST, &builds, None).await;
    assert_eq!(body["data"]["status"], "failed");
    let failed_id = body["data"]["id"].as_u64().unwrap();
    api.admin(Method::DELETE, "/_sandbox/failures", json!({}))
        .await;

    // Rerun of build 2: a new build "2.1".
    let (s, body) = api
        .call(Method::POST, &format!("{builds}/{failed_id}"), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["name"], "2.1");
    assert_eq!(body["data"]["status"], "succeeded");
    let (s, _) = api
        .call(Method::POST, &format!("{builds}/999999"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A variable nobody defined: the build errors.
    let other = format!("{ACME}/projects/billing/environments/prod/components");
    api.post(&other, json!({"canonical": "worker", "name": "Worker", "use_case": "default", "service_catalog_ref": "cycloidio:stack-docker"}))
        .await;
    let config = "jobs:\n- name: run\n  plan:\n  - task: run\n    params: {A: ((missing)), B: ((cred.key))}\n- name: locked\n  disable_manual_trigger: true\n";
    let (s, body) = api
        .post(
            &format!("{other}/worker/pipelines"),
            json!({"pipeline_name": "worker-run", "passed_config": config}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let worker = format!("{other}/worker/pipelines/worker-run");
    api.call(Method::PUT, &format!("{worker}/unpause"), None)
        .await;
    let (_, body) = api
        .call(Method::POST, &format!("{worker}/jobs/run/builds"), None)
        .await;
    assert_eq!(body["data"]["status"], "errored");
    let events = api
        .client
        .get(api.url(&format!("{worker}/builds/{}/events", body["data"]["id"])))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(events.contains("undefined vars: missing"), "{events}");

    let (s, body) = api
        .call(Method::POST, &format!("{worker}/jobs/locked/builds"), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(error_codes(&body), ["Conflict"]);
    let (_, body) = api.get(&format!("{ACME}/pipelines?statuses=errored")).await;
    assert_eq!(body["data"][0]["name"], "worker-run");
}

#[tokio::test]
async fn builds_page_the_concourse_way() {
    let api = Api::start(Timing::INSTANT).await;
    api.example().await;
    let builds = format!("{PIPELINE}/jobs/deploy/builds");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, body) = api.call(Method::POST, &builds, None).await;
        ids.push(body["data"]["id"].as_u64().unwrap());
    }
    let (s, body) = api.get(&format!("{builds}?concourse_page_limit=2")).await;
    assert_eq!(s, StatusCode::OK);
    let got: Vec<u64> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_u64().unwrap())
        .collect();
    assert_eq!(got, [ids[2], ids[1]]);
    assert_eq!(
        body["pagination_concourse"],
        json!({"next": {"limit": 2, "since": ids[1], "until": 0}, "previous": {"limit": 2, "since": 0, "until": 0}})
    );
    let (_, body) = api
        .get(&format!(
            "{builds}?concourse_page_limit=2&concourse_page_since={}",
            ids[1]
        ))
        .await;
    let got: Vec<u64> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_u64().unwrap())
        .collect();
    assert_eq!(got, [ids[0]]);
    assert_eq!(body["pagination_concourse"]["previous"]["until"], ids[0]);
    assert_eq!(body["pagination_concourse"]["next"]["since"], 0);
    let (_, body) = api
        .get(&format!(
            "{builds}?concourse_page_limit=1&concourse_page_until={}",
            ids[0]
        ))
        .await;
    assert_eq!(body["data"][0]["id"], ids[1]);
    let (_, body) = api.get(&builds).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 3);
    assert_eq!(body["data"][0]["name"], "3");
}

#[tokio::test]
async fn build_events_stream_until_the_build_ends() {
    let api = Api::start(Timing {
        step: Duration::from_millis(150),
    })
    .await;
    api.example().await;
    api.call(Method::PUT, &format!("{PIPELINE}/unpause"), None)
        .await;
    let (_, body) = api
        .call(
            Method::POST,
            &format!("{PIPELINE}/jobs/deploy/builds"),
            None,
        )
        .await;
    let id = body["data"]["id"].as_u64().unwrap();
    let events_url = api.url(&format!("{PIPELINE}/builds/{id}/events"));
    // Opened while pending: the stream stays open and sends events as the build moves.
    let resp = api
        .client
        .get(&events_url)
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    let data: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(data.first().unwrap()["data"]["status"], "started");
    let kinds: Vec<&str> = data.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "status",
            "initialize-task",
            "start-task",
            "log",
            "finish-task",
            "status"
        ]
    );
    assert_eq!(data[3]["data"]["payload"], "task deploy: ok\n");
    assert_eq!(data[5]["data"]["status"], "succeeded");
    assert!(text.ends_with("event: end\ndata\n\n"), "{text}");

    // Resuming after the fifth event sends only the rest.
    let resumed = api
        .client
        .get(&events_url)
        .bearer_auth(KEY)
        .header("last-event-id", "4")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(resumed.starts_with("id: 5\nevent: event\n"), "{resumed}");
    let (s, _) = api.get(&format!("{PIPELINE}/builds/424242/events")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn events_are_sent_and_listed_with_filters() {
    let api = Api::start(Timing::INSTANT).await;
    let events = format!("{ACME}/events");
    let before = jiff::Timestamp::now().as_millisecond();
    let (s, body) = api
        .post(&events, json!({"type": "Custom", "title": "Build succeeded", "message": "billing-api 1.4.2", "severity": "info", "tags": [{"key": "team", "value": "payments"}], "color": "green", "icon": "fa-check"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let e = &body["data"][0];
    assert_eq!(e["type"], "Custom");
    assert_eq!(e["title"], "Build succeeded");
    assert_eq!(e["severity"], "info");
    assert_eq!(e["tags"], json!([{"key": "team", "value": "payments"}]));
    assert_eq!(e["color"], "green");
    assert!(e["timestamp"].as_i64().unwrap() >= before);
    api.post(
        &events,
        json!({"type": "Cycloid", "title": "t", "message": "m", "severity": "err", "tags": []}),
    )
    .await;

    let (s, body) = api.post(&events, json!({"type": "Other", "severity": "debug", "title": "", "color": "#ff0000", "icon": "x"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        details(&body),
        [
            "type in body should be one of [Cycloid AWS Monitoring Custom]",
            "title in body should be at least 1 chars long",
            "message in body is required",
            "icon in body should be at least 3 chars long",
            "severity in body should be one of [info warn err crit]",
            "color in body should match '[a-z]+'",
            "tags in body is required",
        ]
    );
    let (_, body) = api
        .post(&events, json!({"type": "AWS", "title": "t", "message": "m", "severity": "warn", "color": "pink", "tags": [{"key": "k", "value": "a,b"}, {"key": "k"}]}))
        .await;
    assert_eq!(
        details(&body),
        [
            "color in body should be one of [aqua black blue fuchsia gray green lime maroon navy olive orange purple red silver teal white yellow]",
            r"tags.0.value in body should match '^(?:[\w\-+=.:/@ ]*)$'",
            "tags.1.value in body is required",
        ]
    );

    let (s, body) = api.get(&events).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        details(&body),
        ["begin in query is required", "end in query is required"]
    );
    let range = format!(
        "begin={}&end={}",
        before - 1000,
        jiff::Timestamp::now().as_millisecond() + 1000
    );
    let (_, body) = api.get(&format!("{events}?{range}")).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    let (_, body) = api
        .get(&format!("{events}?{range}&severity=err&severity=crit"))
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["type"], "Cycloid");
    let (_, body) = api
        .get(&format!("{events}?{range}&type=Custom&severity=err"))
        .await;
    assert_eq!(body["data"], json!([]));
    let (_, body) = api
        .get(&format!("{events}?begin=0&end={}", before - 1000))
        .await;
    assert_eq!(body["data"], json!([]));
    let (s, body) = api.get(&format!("{events}?{range}&type=Nope")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        details(&body),
        ["type in query should be one of [Cycloid AWS Monitoring Custom]"]
    );
}

#[tokio::test]
async fn config_repositories_are_managed() {
    let api = Api::start(Timing::INSTANT).await;
    let repos = format!("{ACME}/config_repositories");
    let new = json!({"name": "Infra config", "url": "https://github.com/acme/infra.git", "branch": "main", "default": true, "credential_canonical": "acme-git"});
    let (s, body) = api.post(&repos, new.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["canonical"], "infra-config");
    assert_eq!(body["data"]["default"], true);
    let (_, body) = api.get(&format!("{repos}/acme-config")).await;
    assert_eq!(body["data"]["default"], false, "one default at a time");
    let (_, body) = api.get(&format!("{repos}?default=true")).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["canonical"], "infra-config");
    let (s, body) = api.post(&repos, new).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(error_codes(&body), ["AlreadyExists"]);
    let (s, body) = api.post(&repos, json!({"name": "x", "url": "not a url", "default": "yes", "credential_canonical": "ab"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        details(&body),
        [
            r"url in body should match '^((/|~)[^/]*)+.(\.git)|(([\w\]+@[\w\.]+))(:(//)?)([\w\.@\:/\-~]+)(/)?'",
            "branch in body is required",
            "default in body must be of type boolean: \"string\"",
            "credential_canonical in body should be at least 3 chars long",
        ]
    );

    let (s, body) = api
        .put(&format!("{repos}/infra-config"), json!({"name": "Infra", "url": "git@github.com:acme/infra.git", "branch": "prod", "default": false, "credential_canonical": "acme-git"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["branch"], "prod");
    assert_eq!(body["data"]["canonical"], "infra-config");
    let (s, body) = api
        .put(&format!("{repos}/infra-config"), json!({"name": "Infra"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(details(&body).len(), 4);

    // A repository a project uses stays.
    api.post(
        &format!("{ACME}/projects"),
        json!({"name": "Billing", "config_repository_canonical": "acme-config"}),
    )
    .await;
    let (s, body) = api
        .call(Method::DELETE, &format!("{repos}/acme-config"), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        body["errors"][0]["message"],
        "config repository \"acme-config\" is used by the projects billing"
    );
    let (s, _) = api
        .call(Method::DELETE, &format!("{repos}/infra-config"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api.get(&format!("{repos}/infra-config")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn seed_adds_organizations_repositories_stacks_and_projects() {
    let api = Api::start(Timing::INSTANT).await;
    let seed = json!({
        "organizations": [{"canonical": "globex", "name": "Globex", "members": [{"username": "jane", "email": "jane@globex.test"}]}],
        "config_repositories": [{"organization": "globex", "canonical": "globex-config", "name": "Globex config", "url": "git@github.com:globex/config.git", "branch": "main", "default": true, "credential_canonical": "globex-git"}],
        "stacks": [{"ref": "globex:stack-web", "name": "Web", "use_cases": ["default", {"use_case": "prod", "name": "Production", "cloud_provider": "aws"}]}],
        "projects": [{"organization": "globex", "canonical": "legacy", "name": "Legacy", "config_repository_canonical": "globex-config", "environments": [{"canonical": "prod", "name": "Production", "color": "red"}]}],
    });
    assert_eq!(
        api.admin(Method::POST, "/_sandbox/seed", seed.clone())
            .await,
        StatusCode::NO_CONTENT
    );
    let (_, body) = api.get("/organizations/globex/projects/legacy").await;
    assert_eq!(body["data"]["owner"]["username"], "jane");
    assert_eq!(body["data"]["environments"][0]["canonical"], "prod");
    let (_, body) = api
        .get("/organizations/globex/service_catalogs/globex:stack-web/use_cases")
        .await;
    assert_eq!(
        body["data"][1],
        json!({"use_case": "prod", "name": "Production", "description": "", "cloud_provider": "aws"})
    );
    let (s, _) = api
        .post(
            "/organizations/globex/projects/legacy/environments/prod/components",
            json!({"name": "Web", "use_case": "prod", "service_catalog_ref": "globex:stack-web"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // Seeding is all or nothing.
    assert_eq!(
        api.admin(Method::POST, "/_sandbox/seed", seed).await,
        StatusCode::BAD_REQUEST
    );
    let bad = json!({"organizations": [{"canonical": "initech", "name": "Initech"}], "projects": [{"organization": "initech", "canonical": "p", "name": "P", "config_repository_canonical": "none"}]});
    let resp = api
        .client
        .post(api.url("/_sandbox/seed"))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "config repository \"none\" does not exist"
    );
    let (s, _) = api.get("/organizations/initech").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Reset brings back the defaults only.
    assert_eq!(
        api.admin(Method::POST, "/_sandbox/reset", json!({})).await,
        StatusCode::NO_CONTENT
    );
    let (s, _) = api.get("/organizations/globex").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api.get(ACME).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn throttling_and_injected_faults_use_the_envelope() {
    let api = Api::start(Timing::INSTANT).await;
    assert_eq!(
        api.admin(
            Method::PUT,
            "/_sandbox/rate-limit",
            json!({"perSecond": 1, "burst": 1})
        )
        .await,
        StatusCode::OK
    );
    let (s, _) = api.get(ACME).await;
    assert_eq!(s, StatusCode::OK);
    let resp = api
        .client
        .get(api.url(ACME))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "RetryOperation");
    assert_eq!(
        body["errors"][0]["message"],
        "rate limit exceeded for this credential"
    );
    assert_eq!(
        api.admin(Method::DELETE, "/_sandbox/rate-limit", json!({}))
            .await,
        StatusCode::NO_CONTENT
    );

    assert_eq!(
        api.admin(Method::PUT, "/_sandbox/faults", json!({"errorRate": 1.0}))
            .await,
        StatusCode::OK
    );
    let (s, body) = api.get(ACME).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({"errors": [{"code": "RetryOperation", "message": "service unavailable (injected)"}]})
    );
    api.admin(
        Method::PUT,
        "/_sandbox/faults",
        json!({"errorRate": 1.0, "errorStatus": 500}),
    )
    .await;
    let (s, body) = api.get(ACME).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["errors"][0]["code"], "Unexpected");
    api.admin(Method::PUT, "/_sandbox/faults", json!({})).await;
    let (s, _) = api.get(ACME).await;
    assert_eq!(s, StatusCode::OK);

    // Every call is counted per route.
    let counts: Value = api
        .client
        .get(api.url("/_sandbox/counts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["GET /organizations/{org}"], 5);
}

/// The spec's `api_key_query` scheme: the key as `?api_key=` when there is no header.
#[tokio::test]
async fn an_api_key_in_the_query_authenticates() {
    let api = Api::start(Timing::INSTANT).await;
    let with_key = api
        .client
        .get(api.url(&format!("{ACME}/projects?api_key={KEY}")))
        .send()
        .await
        .unwrap();
    assert_eq!(with_key.status(), StatusCode::OK);
    let wrong = api
        .client
        .get(api.url(&format!("{ACME}/projects?api_key=not-the-key")))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
}
