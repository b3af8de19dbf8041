//! The Frends API management sandbox over real HTTP: every route, its validation, the publish
//! and deploy state machines, paging, authentication, seed data and the shared fault layers.

use std::time::{Duration, Instant};

use converge_sandbox::frends::Frends;
use converge_sandbox::{Ops, OpsConfig, Sandbox, Served, Timing, serve};
use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde_json::{Value, json};

const TOKEN: &str = "sandbox-frends-token";
const SPECS: &str = "/api/v1/api-management/api-specifications";

struct Api {
    served: Served,
    http: reqwest::Client,
}

async fn start(timing: Timing) -> Api {
    let sandbox = Sandbox::<Frends>::new(
        Ops::new(OpsConfig {
            accepted: converge_sandbox::all::default_credentials("frends"),
            ..Default::default()
        }),
        timing,
        None,
    );
    let served = serve(sandbox, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    Api {
        served,
        http: reqwest::Client::new(),
    }
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.served.url())
    }

    fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.anonymous(method, path).bearer_auth(TOKEN)
    }

    async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await.unwrap()
    }

    async fn data(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json::<Value>().await.unwrap()["data"].clone()
    }

    /// Creates a specification from a document (sent as a JSON string).
    async fn create(&self, document: &str) -> Response {
        self.req(Method::POST, SPECS)
            .json(&document)
            .send()
            .await
            .unwrap()
    }

    async fn create_id(&self, document: &str) -> i64 {
        let r = self.create(document).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<Value>().await.unwrap()["data"]["id"]
            .as_i64()
            .unwrap()
    }

    async fn publish(&self, id: i64, change: &str) {
        let r = self
            .req(Method::POST, &format!("{SPECS}/{id}/publish"))
            .json(&json!({ "changeDescription": change }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    async fn deploy(&self, id: i64, version: i32, group: i64) -> Response {
        self.req(
            Method::POST,
            &format!("{SPECS}/{id}/{version}/deploy/{group}"),
        )
        .send()
        .await
        .unwrap()
    }

    /// The sandbox's inspection of what the platform does not report (admin surface):
    /// `/_sandbox/frends/specifications/{rest}`.
    async fn inspect(&self, rest: &str) -> Value {
        let r = self
            .anonymous(
                Method::GET,
                &format!("/_sandbox/frends/specifications/{rest}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "inspect {rest}");
        r.json().await.unwrap()
    }

    async fn admin(&self, method: Method, path: &str, body: Value) -> StatusCode {
        self.anonymous(method, &format!("/_sandbox/{path}"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
    }
}

/// Asserts a problem+json error with this status and returns its body.
async fn problem(r: Response, status: StatusCode) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    let title = body["title"].as_str().unwrap();
    assert!(
        title == status.canonical_reason().unwrap()
            || (status == StatusCode::BAD_REQUEST
                && title == "One or more validation errors occurred."),
        "{title}"
    );
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("https://tools.ietf.org/html/rfc")
    );
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

fn openapi3(title: &str, server: &str) -> String {
    format!(
        "openapi: 3.0.1\ninfo:\n  title: {title}\n  version: 1.0.0\nservers:\n  - url: {server}\npaths:\n  /pets:\n    get:\n      responses:\n        200:\n          description: ok\n  /pets/{{petId}}:\n    get:\n      responses:\n        200:\n          description: ok\n    delete:\n      responses:\n        204:\n          description: gone\n"
    )
}

fn swagger2(title: &str, base: &str) -> String {
    json!({
        "swagger": "2.0",
        "info": { "title": title, "version": "2", "description": "Orders of the shop" },
        "basePath": base,
        "paths": { "/orders": { "post": { "responses": { "201": { "description": "created" } } } } }
    })
    .to_string()
}

#[tokio::test]
async fn requests_without_a_valid_bearer_token_get_a_401_problem() {
    let api = start(Timing::INSTANT).await;
    for request in [
        api.anonymous(Method::GET, SPECS),
        api.anonymous(Method::GET, SPECS).bearer_auth("wrong-token"),
        api.anonymous(Method::GET, SPECS)
            .header(header::AUTHORIZATION, TOKEN),
        api.anonymous(Method::GET, SPECS)
            .basic_auth("user", Some(TOKEN)),
    ] {
        let r = request.send().await.unwrap();
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let body = problem(r, StatusCode::UNAUTHORIZED).await;
        assert_eq!(body["title"], "Unauthorized");
        assert!(!body.to_string().contains("wrong-token"));
    }
    assert_eq!(api.get(SPECS).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn create_get_list_and_get_a_version_of_an_openapi3_yaml_specification() {
    let api = start(Timing::INSTANT).await;
    let doc = openapi3("Petstore", "/api/petstore/v1");
    let r = api.create(&doc).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    // Create answers exactly DtoApiSpecification.
    assert_eq!(
        body,
        json!({ "data": { "id": 1, "name": "Petstore", "activeVersion": 1, "description": null } })
    );

    // Every read answers exactly the documented shape too.
    let documented =
        json!({ "id": 1, "name": "Petstore", "activeVersion": 1, "description": null });
    assert_eq!(api.data(&format!("{SPECS}/1")).await, documented);
    assert_eq!(api.data(&format!("{SPECS}/1/1")).await, documented);

    // What the documented shape cannot show is on the sandbox's inspection only.
    let spec = api.inspect("1").await;
    assert_eq!(spec["basePath"], "/api/petstore/v1");
    assert_eq!(spec["publishedVersion"], Value::Null);
    assert_eq!(spec["deployments"], json!([]));
    let version = api.inspect("1/1").await;
    assert_eq!(version["id"], 1);
    assert_eq!(version["version"], 1);
    assert_eq!(version["isPublished"], false);
    assert_eq!(version["specification"], doc);

    let list: Value = api.get(SPECS).await.json().await.unwrap();
    assert_eq!(list["data"], json!([documented]));
    assert_eq!(list["paging"]["totalCount"], 1);
    assert_eq!(list["paging"]["currentPage"], 1);
    assert_eq!(list["paging"]["pageSize"], 30);
    assert_eq!(list["paging"]["nextPage"], Value::Null);
}

#[tokio::test]
async fn an_openapi2_json_specification_takes_its_base_path_and_description() {
    let api = start(Timing::INSTANT).await;
    let r = api.create(&swagger2("Orders", "/api/orders/")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let data = r.json::<Value>().await.unwrap()["data"].clone();
    assert_eq!(data["description"], "Orders of the shop");
    let spec = api.inspect(&data["id"].to_string()).await;
    assert_eq!(spec["basePath"], "/api/orders");
}

#[tokio::test]
async fn create_refuses_bodies_and_documents_frends_cannot_use() {
    let api = start(Timing::INSTANT).await;
    let text_plain = api
        .req(Method::POST, SPECS)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(openapi3("A", "/a"))
        .send()
        .await
        .unwrap();
    problem(text_plain, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    let object = api
        .req(Method::POST, SPECS)
        .json(&json!({ "openapi": "3.0.1" }))
        .send()
        .await
        .unwrap();
    let body = problem(object, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["title"], "One or more validation errors occurred.");
    assert!(
        body["errors"]["$"][0]
            .as_str()
            .unwrap()
            .contains("JSON string")
    );

    let empty = api
        .req(Method::POST, SPECS)
        .header(header::CONTENT_TYPE, "application/json")
        .send()
        .await
        .unwrap();
    problem(empty, StatusCode::BAD_REQUEST).await;

    for (document, expected) in [
        ("not: [valid", "neither valid JSON nor YAML"),
        ("just text", "must be an OpenAPI document"),
        (
            "info: {title: A, version: '1'}\npaths: {}",
            "'swagger' (2.0) or 'openapi' (3.x)",
        ),
        (
            "openapi: 3.0.1\ninfo: {version: '1'}\nservers: [{url: /a}]\npaths: {}",
            "info.title",
        ),
        (
            "openapi: 3.0.1\ninfo: {title: A, version: '1'}\npaths: {}",
            "servers[0].url",
        ),
        (
            "openapi: 3.0.1\ninfo: {title: A, version: '1'}\nservers: [{url: a/b}]\npaths: {}",
            "must be absolute",
        ),
        (
            "{\"swagger\":\"2.0\",\"info\":{\"title\":\"A\",\"version\":\"1\"},\"paths\":{}}",
            "basePath",
        ),
        (
            "openapi: 3.0.1\ninfo: {title: A, version: '1'}\nservers: [{url: /a}]",
            "'paths'",
        ),
    ] {
        let body = problem(api.create(document).await, StatusCode::BAD_REQUEST).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(expected), "{document:?}: {detail}");
        assert_eq!(body["errors"]["specification"][0], detail);
        assert_eq!(body["instance"], SPECS);
    }
    let list: Value = api.get(SPECS).await.json().await.unwrap();
    assert_eq!(list["paging"]["totalCount"], 0);
}

#[tokio::test]
async fn a_second_specification_on_a_base_path_in_use_is_a_conflict() {
    let api = start(Timing::INSTANT).await;
    let id = api
        .create_id(&openapi3("Petstore", "/api/petstore/v1"))
        .await;
    for (document, kind) in [
        (openapi3("Other", "/api/petstore/v1"), "same path"),
        (
            openapi3("Other", "https://api.acme.test/API/Petstore/v1/"),
            "absolute URL, other case",
        ),
        (swagger2("Other", "/api/petstore/v1"), "OpenAPI 2"),
    ] {
        let body = problem(api.create(&document).await, StatusCode::CONFLICT).await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .starts_with("A path is already used in an existing API"),
            "{kind}"
        );
    }
    // Once deleted permanently, the path is free again.
    let r = api
        .req(Method::DELETE, &format!("{SPECS}/{id}/agent-group/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        api.create_id(&openapi3("Again", "/api/petstore/v1")).await,
        id + 1
    );
}

#[tokio::test]
async fn update_changes_the_active_version_but_never_the_base_path() {
    let api = start(Timing::INSTANT).await;
    let id = api
        .create_id(&openapi3("Petstore", "/api/petstore/v1"))
        .await;
    let renamed = openapi3("Petstore Plus", "/api/petstore/v1");
    let r = api
        .req(Method::PUT, &format!("{SPECS}/{id}"))
        .json(&renamed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "");
    let spec = api.data(&format!("{SPECS}/{id}")).await;
    assert_eq!(spec["name"], "Petstore Plus");
    assert_eq!(spec["activeVersion"], 1);
    assert_eq!(
        api.inspect(&format!("{id}/1")).await["specification"],
        renamed
    );

    let moved = api
        .req(Method::PUT, &format!("{SPECS}/{id}"))
        .json(&openapi3("Petstore", "/api/petstore/v2"))
        .send()
        .await
        .unwrap();
    let body = problem(moved, StatusCode::BAD_REQUEST).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be modified")
    );
    assert!(body["errors"]["basePath"].is_array());
    assert_eq!(
        api.inspect(&format!("{id}")).await["basePath"],
        "/api/petstore/v1"
    );

    let missing = api
        .req(Method::PUT, &format!("{SPECS}/999"))
        .json(&renamed)
        .send()
        .await
        .unwrap();
    let body = problem(missing, StatusCode::NOT_FOUND).await;
    assert_eq!(body["instance"], format!("{SPECS}/999"));

    let body = problem(
        api.get(&format!("{SPECS}/abc")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(body["errors"]["id"][0], "The value 'abc' is not valid.");
}

#[tokio::test]
async fn publish_locks_the_active_version_and_creates_a_new_one() {
    let api = start(Timing::INSTANT).await;
    let id = api
        .create_id(&openapi3("Petstore", "/api/petstore/v1"))
        .await;
    let r = api
        .req(Method::POST, &format!("{SPECS}/{id}/publish"))
        .json(&json!({ "changeDescription": "First release" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "");

    let spec = api.inspect(&format!("{id}")).await;
    assert_eq!(
        (
            spec["activeVersion"].clone(),
            spec["publishedVersion"].clone()
        ),
        (json!(2), json!(1))
    );
    let v1 = api.inspect(&format!("{id}/1")).await;
    assert_eq!(v1["isPublished"], true);
    assert_eq!(v1["changeDescription"], "First release");
    assert_eq!(v1["activeVersion"], 2);
    assert_eq!(api.inspect(&format!("{id}/2")).await["isPublished"], false);

    // The body is optional; property names bind regardless of case.
    let r = api
        .req(Method::POST, &format!("{SPECS}/{id}/publish"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = api
        .req(Method::POST, &format!("{SPECS}/{id}/publish"))
        .json(&json!({ "ChangeDescription": "Third" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        api.inspect(&format!("{id}/2")).await["changeDescription"],
        Value::Null
    );
    assert_eq!(api.inspect(&format!("{id}/2")).await["isPublished"], true);
    assert_eq!(
        api.inspect(&format!("{id}/3")).await["changeDescription"],
        "Third"
    );
    assert_eq!(api.data(&format!("{SPECS}/{id}")).await["activeVersion"], 4);

    problem(
        api.get(&format!("{SPECS}/{id}/9")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let r = api
        .req(Method::POST, &format!("{SPECS}/77/publish"))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::NOT_FOUND).await;
    let r = api
        .req(Method::POST, &format!("{SPECS}/{id}/publish"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body("release")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}

#[tokio::test]
async fn only_published_versions_deploy_and_a_deployment_progresses_over_time() {
    // A step long enough that a busy machine still sees the deployment in progress.
    let api = start(Timing {
        step: Duration::from_secs(3),
    })
    .await;
    let id = api
        .create_id(&openapi3("Petstore", "/api/petstore/v1"))
        .await;

    let body = problem(api.deploy(id, 1, 2).await, StatusCode::CONFLICT).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("only published versions can be deployed")
    );
    api.publish(id, "First release").await;
    problem(api.deploy(id, 1, 99).await, StatusCode::NOT_FOUND).await;
    problem(api.deploy(id, 7, 2).await, StatusCode::NOT_FOUND).await;
    problem(api.deploy(id, 2, 2).await, StatusCode::CONFLICT).await;

    let r = api.deploy(id, 1, 2).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "");
    assert_eq!(
        api.inspect(&format!("{id}")).await["deployments"],
        json!([{ "agentGroupId": 2, "version": 1, "status": "Deploying" }])
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while api.inspect(&format!("{id}")).await["deployments"][0]["status"] != "Deployed" {
        assert!(Instant::now() < deadline, "the deployment never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Deploying what is already deployed changes nothing.
    assert_eq!(api.deploy(id, 1, 2).await.status(), StatusCode::OK);
    assert_eq!(
        api.inspect(&format!("{id}/1")).await["deployments"],
        json!([{ "agentGroupId": 2, "version": 1, "status": "Deployed" }])
    );
    assert_eq!(
        api.inspect(&format!("{id}/2")).await["deployments"],
        json!([])
    );
}

#[tokio::test]
async fn a_deployment_marked_to_fail_ends_failed() {
    let api = start(Timing::INSTANT).await;
    let id = api
        .create_id(&openapi3("Petstore", "/api/petstore/v1"))
        .await;
    assert_eq!(
        api.admin(
            Method::POST,
            "failures",
            json!({ "match": "broken release" })
        )
        .await,
        StatusCode::NO_CONTENT
    );
    api.publish(id, "a broken release").await;
    assert_eq!(api.deploy(id, 1, 2).await.status(), StatusCode::OK);
    assert_eq!(
        api.inspect(&format!("{id}")).await["deployments"][0]["status"],
        "Failed"
    );
    // Deploying again once the failure is cleared succeeds.
    assert_eq!(
        api.admin(Method::DELETE, "failures", json!({})).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.deploy(id, 1, 2).await.status(), StatusCode::OK);
    assert_eq!(
        api.inspect(&format!("{id}")).await["deployments"][0]["status"],
        "Deployed"
    );
    // Marking an agent group by name fails deployments there.
    api.admin(Method::POST, "failures", json!({ "match": "Default" }))
        .await;
    assert_eq!(api.deploy(id, 1, 1).await.status(), StatusCode::OK);
    let deployments = api.inspect(&format!("{id}")).await["deployments"].clone();
    assert_eq!(
        deployments,
        json!([
            { "agentGroupId": 1, "version": 1, "status": "Failed" },
            { "agentGroupId": 2, "version": 1, "status": "Deployed" }
        ])
    );
}

#[tokio::test]
async fn deleting_from_the_default_agent_group_comes_last_and_is_permanent() {
    let api = start(Timing::INSTANT).await;
    let id = api
        .create_id(&openapi3("Petstore", "/api/petstore/v1"))
        .await;
    api.publish(id, "First release").await;
    assert_eq!(api.deploy(id, 1, 2).await.status(), StatusCode::OK);
    let delete = |group: i64| {
        api.req(Method::DELETE, &format!("{SPECS}/{id}/agent-group/{group}"))
            .send()
    };

    let body = problem(delete(1).await.unwrap(), StatusCode::CONFLICT).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("all other Agent groups (still in: 2)")
    );
    assert_eq!(delete(2).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(
        api.inspect(&format!("{id}")).await["deployments"],
        json!([])
    );
    problem(delete(2).await.unwrap(), StatusCode::NOT_FOUND).await;
    problem(delete(99).await.unwrap(), StatusCode::NOT_FOUND).await;

    let r = delete(1).await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.text().await.unwrap(), "");
    let body = problem(
        api.get(&format!("{SPECS}/{id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        body["detail"],
        format!("API specification {id} was not found.")
    );
    problem(delete(1).await.unwrap(), StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn passthrough_configurations_of_a_version() {
    let api = start(Timing::INSTANT).await;
    let id = api
        .create_id(&openapi3("Petstore", "/api/petstore/v1"))
        .await;
    let path = format!("{SPECS}/{id}/1/api-passthrough");
    let post = |body: Value| api.req(Method::POST, &path).json(&body).send();

    let default = json!({
        "isDefault": true,
        "path": "/ignored",
        "corsEnabled": true,
        "allowedOrigins": ["https://shop.acme.test"],
        "targetUrl": { "server": "https://petstore-backend.acme.test", "basePath": "/v1" },
        "headers": [{ "action": "Add", "name": "X-Forwarded-By", "value": "frends" }]
    });
    let r = post(default.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.text().await.unwrap(), "");
    let list = api.data(&path).await;
    let first = &list[0];
    assert_eq!(first["id"], 1);
    assert_eq!(first["apiVersionId"], 1);
    assert_eq!(first["isDefault"], true);
    assert_eq!(first["path"], Value::Null);
    assert_eq!(first["method"], Value::Null);
    assert_eq!(first["corsEnabled"], true);
    assert_eq!(first["allowedOrigins"], json!(["https://shop.acme.test"]));
    assert_eq!(
        first["targetUrl"],
        json!({ "server": "https://petstore-backend.acme.test", "basePath": "/v1", "operationPath": null, "query": null })
    );
    assert_eq!(
        first["headers"],
        json!([{ "action": "Add", "name": "X-Forwarded-By", "value": "frends" }])
    );
    let modifier = first["modifier"].as_str().unwrap();
    assert!(
        modifier.starts_with("bearer:") && !modifier.contains(TOKEN),
        "{modifier}"
    );
    let modified = first["modified"].as_str().unwrap();
    assert!(
        modified.parse::<jiff::Timestamp>().is_ok() && modified.len() == 24,
        "{modified}"
    );

    problem(post(default).await.unwrap(), StatusCode::CONFLICT).await;
    let one = json!({
        "path": "/pets/{petId}", "method": "delete",
        "targetUrl": { "server": "http://pets.internal", "operationPath": "/pets/{petId}", "query": "soft=true" },
        "headers": [{ "action": "remove", "name": "Cookie" }]
    });
    assert_eq!(
        post(one.clone()).await.unwrap().status(),
        StatusCode::CREATED
    );
    problem(post(one).await.unwrap(), StatusCode::CONFLICT).await;
    let list = api.data(&path).await;
    assert_eq!(list[1]["method"], "DELETE");
    assert_eq!(list[1]["headers"][0]["action"], "Remove");

    let target = json!({ "server": "https://b.test" });
    for (body, field) in [
        (json!({ "method": "GET", "targetUrl": target }), "path"),
        (json!({ "path": "/pets", "targetUrl": target }), "method"),
        (
            json!({ "path": "/pets", "method": "FETCH", "targetUrl": target }),
            "method",
        ),
        (
            json!({ "path": "/cats", "method": "GET", "targetUrl": target }),
            "path",
        ),
        (
            json!({ "path": "/pets", "method": "POST", "targetUrl": target }),
            "method",
        ),
        (
            json!({ "isDefault": false, "path": "/pets", "method": "GET" }),
            "targetUrl",
        ),
        (
            json!({ "path": "/pets", "method": "GET", "targetUrl": { "server": "ftp://b" } }),
            "targetUrl.server",
        ),
        (
            json!({ "path": "/pets", "method": "GET", "targetUrl": target, "headers": [{ "action": "Append", "name": "A", "value": "1" }] }),
            "headers[0].action",
        ),
        (
            json!({ "path": "/pets", "method": "GET", "targetUrl": target, "headers": [{ "action": "Add", "name": "A" }] }),
            "headers[0].value",
        ),
        (
            json!({ "path": "/pets", "method": "GET", "targetUrl": target, "allowedOrigins": [""] }),
            "allowedOrigins[0]",
        ),
        (
            json!({ "path": "/pets", "method": "GET", "corsEnabled": "yes", "targetUrl": target }),
            "$",
        ),
    ] {
        let b = problem(post(body.clone()).await.unwrap(), StatusCode::BAD_REQUEST).await;
        assert!(b["errors"][field].is_array(), "{body}: {b}");
    }

    let edit = format!("{path}/1");
    let r = api
        .req(Method::PUT, &edit)
        .json(&json!({ "CorsEnabled": false, "targetUrl": { "server": "https://new.test" }, "isDefault": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let updated = r.json::<Value>().await.unwrap()["data"].clone();
    assert_eq!(updated["id"], 1);
    assert_eq!(updated["isDefault"], true, "isDefault is not editable");
    assert_eq!(updated["corsEnabled"], false);
    assert_eq!(updated["headers"], json!([]));
    assert_eq!(updated["targetUrl"]["server"], "https://new.test");
    let r = api
        .req(Method::PUT, &format!("{path}/99"))
        .json(&json!({ "targetUrl": target }))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::NOT_FOUND).await;

    // Publishing locks version 1; version 2 starts with copies under new ids.
    api.publish(id, "First release").await;
    problem(
        post(json!({ "path": "/pets", "method": "GET", "targetUrl": target }))
            .await
            .unwrap(),
        StatusCode::CONFLICT,
    )
    .await;
    let r = api
        .req(Method::PUT, &edit)
        .json(&json!({ "targetUrl": target }))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::CONFLICT).await;
    problem(
        api.req(Method::DELETE, &edit).send().await.unwrap(),
        StatusCode::CONFLICT,
    )
    .await;
    let v2 = api.data(&format!("{SPECS}/{id}/2/api-passthrough")).await;
    assert_eq!(v2.as_array().unwrap().len(), 2);
    assert_eq!(
        (v2[0]["id"].clone(), v2[1]["id"].clone()),
        (json!(3), json!(4))
    );
    assert_eq!(v2[0]["apiVersionId"], 2);
    assert_eq!(v2[0]["targetUrl"]["server"], "https://new.test");

    let r = api
        .req(Method::DELETE, &format!("{SPECS}/{id}/2/api-passthrough/4"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = api
        .req(Method::DELETE, &format!("{SPECS}/{id}/2/api-passthrough/4"))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::NOT_FOUND).await;
    assert_eq!(
        api.data(&format!("{SPECS}/{id}/2/api-passthrough"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    problem(
        api.get(&format!("{SPECS}/{id}/5/api-passthrough")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn the_list_pages_with_links() {
    let api = start(Timing::INSTANT).await;
    for i in 0..5 {
        api.create_id(&openapi3(&format!("Api {i}"), &format!("/api/{i}")))
            .await;
    }
    let page: Value = api
        .get(&format!("{SPECS}?PageSize=2"))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Api 0", "Api 1"]);
    let base = api.url(SPECS);
    assert_eq!(
        page["paging"],
        json!({
            "currentPage": 1, "pageSize": 2, "totalCount": 5,
            "firstPage": format!("{base}?PageNumber=1&PageSize=2"),
            "lastPage": format!("{base}?PageNumber=3&PageSize=2"),
            "nextPage": format!("{base}?PageNumber=2&PageSize=2"),
            "previousPage": null
        })
    );
    // The links work as they are.
    let last: Value = api
        .http
        .get(page["paging"]["lastPage"].as_str().unwrap())
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(last["data"].as_array().unwrap().len(), 1);
    assert_eq!(last["data"][0]["name"], "Api 4");
    assert_eq!(last["paging"]["nextPage"], Value::Null);
    assert_eq!(
        last["paging"]["previousPage"],
        format!("{base}?PageNumber=2&PageSize=2")
    );

    let clamped: Value = api
        .get(&format!("{SPECS}?PageSize=500"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(clamped["paging"]["pageSize"], 200);
    assert_eq!(clamped["data"].as_array().unwrap().len(), 5);
    let aspnet: Value = api
        .get(&format!(
            "{SPECS}?pagingQuery.pageNumber=2&pagingQuery.pageSize=4"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(aspnet["data"][0]["name"], "Api 4");
    let beyond: Value = api
        .get(&format!("{SPECS}?PageNumber=9"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(beyond["data"], json!([]));
    let body = problem(
        api.get(&format!("{SPECS}?PageNumber=0")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(body["errors"]["PageNumber"].is_array());
    let body = problem(
        api.get(&format!("{SPECS}?PageSize=many")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(body["errors"]["PageSize"].is_array());
}

#[tokio::test]
async fn import_takes_a_multipart_file_and_is_slow() {
    let api = start(Timing {
        step: Duration::from_millis(300),
    })
    .await;
    let file = |doc: String| {
        reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::text(doc).file_name("openapi.yaml"),
        )
    };
    let import = format!("{SPECS}/import");
    let started = Instant::now();
    let r = api
        .req(Method::POST, &import)
        .multipart(file(openapi3("Imported", "/api/imported")))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({ "data": { "id": 1, "name": "Imported", "activeVersion": 1, "description": null } })
    );

    let r = api
        .req(Method::POST, &import)
        .multipart(file(openapi3("Again", "/api/imported")))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::CONFLICT).await;
    let r = api
        .req(Method::POST, &import)
        .multipart(reqwest::multipart::Form::new().text("other", "x"))
        .send()
        .await
        .unwrap();
    let body = problem(r, StatusCode::BAD_REQUEST).await;
    assert!(body["errors"]["file"].is_array());
    let r = api
        .req(Method::POST, &import)
        .multipart(file(
            "swagger: '2.0'\ninfo: {title: X, version: '1'}\npaths: {}".into(),
        ))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::BAD_REQUEST).await;
    let r = api
        .req(Method::POST, &import)
        .json(&openapi3("Json", "/api/json"))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}

#[tokio::test]
async fn unknown_paths_methods_and_the_process_template() {
    let api = start(Timing::INSTANT).await;
    let body = problem(api.get("/api/v1/nothing-here").await, StatusCode::NOT_FOUND).await;
    assert_eq!(body["instance"], "/api/v1/nothing-here");
    assert!(body["traceId"].as_str().unwrap().starts_with("00-"));

    let r = api.req(Method::DELETE, SPECS).send().await.unwrap();
    assert_eq!(r.headers()[header::ALLOW], "GET,HEAD,POST");
    problem(r, StatusCode::METHOD_NOT_ALLOWED).await;

    let template = |id: i64, v: i32| {
        api.req(Method::POST, &format!("{SPECS}/{id}/{v}/processTemplate"))
            .json(&json!({ "path": "/pets", "operation": "GET" }))
            .send()
    };
    problem(template(1, 1).await.unwrap(), StatusCode::NOT_FOUND).await;
    let id = api
        .create_id(&openapi3("Petstore", "/api/petstore/v1"))
        .await;
    problem(template(id, 1).await.unwrap(), StatusCode::NOT_IMPLEMENTED).await;
}

#[tokio::test]
async fn seed_adds_agent_groups_and_specifications_all_or_nothing() {
    let api = start(Timing::INSTANT).await;
    let seed = json!({
        "agentGroups": [{ "id": 3, "name": "Staging" }],
        "apiSpecifications": [{
            "id": 40,
            "specification": openapi3("Seeded", "/api/seeded"),
            "passthrough": [{ "isDefault": true, "targetUrl": { "server": "https://seeded.internal" } }],
            "publish": ["First release"],
            "deployments": [{ "agentGroupId": 3, "version": 1 }]
        }]
    });
    assert_eq!(
        api.admin(Method::POST, "seed", seed).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.data(&format!("{SPECS}/40")).await["activeVersion"], 2);
    let spec = api.inspect("40").await;
    assert_eq!(spec["publishedVersion"], 1);
    assert_eq!(
        spec["deployments"],
        json!([{ "agentGroupId": 3, "version": 1, "status": "Deployed" }])
    );
    assert_eq!(
        api.data(&format!("{SPECS}/40/2/api-passthrough")).await[0]["modifier"],
        "seed"
    );
    // Ids continue after a pinned one.
    assert_eq!(api.create_id(&openapi3("Next", "/api/next")).await, 41);

    // A bad specification refuses the whole seed: agent group 4 is not added.
    let bad = json!({
        "agentGroups": [{ "id": 4, "name": "Test" }],
        "apiSpecifications": [{ "specification": openapi3("Clash", "/api/seeded") }]
    });
    assert_eq!(
        api.admin(Method::POST, "seed", bad).await,
        StatusCode::BAD_REQUEST
    );
    problem(api.deploy(40, 1, 4).await, StatusCode::NOT_FOUND).await;
    assert_eq!(
        api.admin(Method::POST, "seed", json!({ "agentGroup": [] }))
            .await,
        StatusCode::BAD_REQUEST
    );

    // Reset goes back to the default seed: agent groups 1 and 2, no specifications.
    assert_eq!(
        api.admin(Method::POST, "reset", json!({})).await,
        StatusCode::NO_CONTENT
    );
    problem(api.get(&format!("{SPECS}/40")).await, StatusCode::NOT_FOUND).await;
    let state: Value = api
        .anonymous(Method::GET, "/_sandbox/state")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["agentGroups"]["1"]["isDefault"], true);
    assert_eq!(state["agentGroups"]["2"]["name"], "Production");
}

#[tokio::test]
async fn the_example_apispec_converges_against_a_fresh_sandbox() {
    use serde::Deserialize;
    let api = start(Timing::INSTANT).await;
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("../../examples/frends/apispec.yaml"),
    )
    .unwrap();
    let docs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .collect();
    let openapi = docs[0]["data"]["openapi.yaml"].as_str().unwrap();
    let frends = &docs[1]["spec"]["frends"];

    let id = api.create_id(openapi).await;
    assert_eq!(
        api.inspect(&format!("{id}")).await["basePath"],
        frends["basePath"]
    );
    let r = api
        .req(Method::POST, &format!("{SPECS}/{id}/1/api-passthrough"))
        .json(&frends["passthrough"][0])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    api.publish(id, frends["publish"]["changeDescription"].as_str().unwrap())
        .await;
    let group = frends["deployments"][0]["agentGroupId"].as_i64().unwrap();
    assert_eq!(api.deploy(id, 1, group).await.status(), StatusCode::OK);
    assert_eq!(
        api.inspect(&format!("{id}")).await["deployments"],
        json!([{ "agentGroupId": group, "version": 1, "status": "Deployed" }])
    );
}

#[tokio::test]
async fn rate_limits_and_injected_faults_answer_in_problem_json() {
    let api = start(Timing::INSTANT).await;
    assert_eq!(
        api.admin(
            Method::PUT,
            "rate-limit",
            json!({ "perSecond": 1, "burst": 1 })
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(api.get(SPECS).await.status(), StatusCode::OK);
    let r = api.get(SPECS).await;
    assert!(
        r.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let body = problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(body["title"], "Too Many Requests");
    api.admin(Method::DELETE, "rate-limit", json!({})).await;

    assert_eq!(
        api.admin(Method::PUT, "faults", json!({ "errorRate": 1.0 }))
            .await,
        StatusCode::OK
    );
    let body = problem(api.get(SPECS).await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["title"], "Service Unavailable");
    api.admin(Method::PUT, "faults", json!({})).await;
    assert_eq!(api.get(SPECS).await.status(), StatusCode::OK);
}
