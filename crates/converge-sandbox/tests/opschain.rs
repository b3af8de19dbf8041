//! The OpsChain sandbox over real HTTP: JSON:API envelopes and media types, authentication,
//! projects/environments/assets by code, versioned properties, workflows and versions, runs
//! that wait for approval, fail, get cancelled and queue behind each other, seed data, and the
//! shared layers' 429/5xx in OpsChain's error envelope.

use std::time::{Duration, Instant};

use converge_sandbox::all::default_credentials;
use converge_sandbox::opschain::OpsChain;
use converge_sandbox::{Credential, Ops, OpsConfig, Sandbox, Served, Timing, serve};
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const MEDIA: &str = "application/vnd.api+json";

struct Api {
    base: String,
    http: reqwest::Client,
    user: (String, String),
    _served: Served,
}

struct Reply {
    status: StatusCode,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

impl Reply {
    fn data(&self) -> &Value {
        &self.body["data"]
    }

    fn attr(&self, name: &str) -> &Value {
        &self.body["data"]["attributes"][name]
    }

    /// The first error object, asserting the envelope.
    fn error(&self) -> &Value {
        let errors = self.body["errors"].as_array().expect("an errors array");
        assert!(!errors.is_empty(), "{}", self.body);
        &errors[0]
    }
}

impl Api {
    async fn start(timing: Timing) -> Api {
        Self::start_with(timing, vec![]).await
    }

    async fn start_with(timing: Timing, extra: Vec<Credential>) -> Api {
        let mut accepted = default_credentials("opschain");
        accepted.extend(extra);
        let ops = Ops::new(OpsConfig {
            accepted,
            ..Default::default()
        });
        let served = serve(
            Sandbox::<OpsChain>::new(ops, timing, None),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        Api {
            base: served.url(),
            http: reqwest::Client::new(),
            user: ("sandbox-user".into(), "sandbox-password".into()),
            _served: served,
        }
    }

    fn as_user(&mut self, user: &str, password: &str) {
        self.user = (user.into(), password.into());
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.user.0, Some(&self.user.1));
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, MEDIA).body(body.to_string());
        }
        Self::reply(request.send().await.unwrap()).await
    }

    async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}"))
        };
        Reply {
            status,
            body,
            headers,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    async fn admin(&self, method: Method, path: &str, body: Value) -> StatusCode {
        self.http
            .request(method, format!("{}/_sandbox/{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn project(&self, code: &str, project_type: &str) -> Reply {
        let r = self
            .post(
                "/api/projects",
                attrs(json!({"code": code, "name": format!("{code} project"), "description": "d", "project_type": project_type})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r
    }

    async fn environment(&self, project: &str, code: &str) {
        let r = self
            .post(
                &format!("/api/projects/{project}/environments"),
                attrs(json!({"code": code, "name": format!("{code} env"), "description": null})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }

    /// An Enterprise project `web` with `dev` and `prod`, and a published workflow.
    async fn release_workflow(&self, code: &str, steps: Value) -> Reply {
        if self.get("/api/projects/web").await.status == StatusCode::NOT_FOUND {
            self.project("web", "Enterprise").await;
            self.environment("web", "dev").await;
            self.environment("web", "prod").await;
        }
        let r = self
            .post(
                "/api/projects/web/workflows",
                attrs(json!({"code": code, "name": format!("{code} workflow"), "steps": steps, "draft": false})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r
    }

    async fn run(&self, workflow: &str) -> Reply {
        let r = self
            .post(
                &format!("/api/projects/web/workflows/{workflow}/runs"),
                attrs(json!({"metadata": {"token": "release-42"}, "property_overrides": {}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r
    }

    /// Polls a run until its status is `status` (or fails after 5 s).
    async fn wait_for(&self, run: &str, status: &str) -> Reply {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let r = self.get(&format!("/api/workflow_runs/{run}")).await;
            if r.attr("status_code") == status {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "run never reached {status}: {}",
                r.body
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn attrs(attributes: Value) -> Value {
    json!({ "data": { "attributes": attributes } })
}

/// The included step of a run document with this name.
fn step<'a>(run: &'a Reply, name: &str) -> &'a Value {
    run.body["included"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] != "workflow_version" && i["attributes"]["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {}", run.body))
}

fn statuses(run: &Reply) -> Vec<(String, String)> {
    run.body["included"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] != "workflow_version")
        .map(|i| {
            (
                i["attributes"]["name"].as_str().unwrap().to_string(),
                i["attributes"]["status_code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn example_steps() -> Value {
    json!([
        {"type": "change", "name": "deploy to dev", "target": "/projects/web/environments/dev", "action": "deploy"},
        {"type": "wait", "name": "production approval", "requires_approval_from": "release-managers"},
        {"type": "change", "name": "deploy to prod", "target": "/projects/web/environments/prod", "action": "deploy"}
    ])
}

fn timed() -> Timing {
    Timing {
        step: Duration::from_millis(150),
    }
}

#[tokio::test]
async fn authentication_is_basic_or_bearer_and_refusals_use_the_jsonapi_envelope() {
    let api = Api::start(Timing::INSTANT).await;
    let url = format!("{}/api/info", api.base);

    let none = Api::reply(api.http.get(&url).send().await.unwrap()).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.headers[CONTENT_TYPE], MEDIA);
    assert_eq!(none.headers[WWW_AUTHENTICATE], "Basic realm=\"OpsChain\"");
    assert_eq!(none.error()["status"], 401);
    assert_eq!(none.error()["title"], "Unauthorized");

    let wrong = api
        .http
        .get(&url)
        .basic_auth("sandbox-user", Some("nope"))
        .send()
        .await
        .unwrap();
    let wrong = Api::reply(wrong).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.error()["detail"], "invalid credentials");
    let wrong_token = api.http.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong_token.status(), StatusCode::UNAUTHORIZED);

    let bearer = api
        .http
        .get(&url)
        .bearer_auth("sandbox-opschain-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    let info = api.get("/api/info").await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.headers[CONTENT_TYPE], MEDIA);
    assert_eq!(info.data()["type"], "info");
    assert_eq!(info.attr("version"), "2025-04-25");
    assert_eq!(info.attr("api_version"), "7.1.5.1");
    assert_eq!(info.attr("ldap_available?"), true);
}

#[tokio::test]
async fn media_types_unknown_paths_and_body_errors() {
    let api = Api::start(Timing::INSTANT).await;
    let as_json = api
        .http
        .post(format!("{}/api/projects", api.base))
        .basic_auth("sandbox-user", Some("sandbox-password"))
        .json(&attrs(
            json!({"code": "web", "name": "Web", "project_type": "Standard"}),
        ))
        .send()
        .await
        .unwrap();
    let as_json = Api::reply(as_json).await;
    assert_eq!(as_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(as_json.error()["status"], 415);
    assert_eq!(
        api.get("/api/projects").await.body["data"],
        json!([]),
        "nothing was created"
    );

    let with_params = api
        .http
        .post(format!("{}/api/projects", api.base))
        .basic_auth("sandbox-user", Some("sandbox-password"))
        .header(CONTENT_TYPE, "application/vnd.api+json; charset=utf-8")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(with_params.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let accept = api
        .http
        .get(format!("{}/api/projects", api.base))
        .basic_auth("sandbox-user", Some("sandbox-password"))
        .header(ACCEPT, "application/vnd.api+json; version=2")
        .send()
        .await
        .unwrap();
    assert_eq!(accept.status(), StatusCode::NOT_ACCEPTABLE);

    let unknown = api.get("/api/nothing/here").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.headers[CONTENT_TYPE], MEDIA);
    assert_eq!(
        unknown.error()["title"],
        "Action Controller - Routing Error"
    );
    assert_eq!(
        unknown.error()["meta"]["message"],
        "No route matches [GET] \"/api/nothing/here\""
    );
    let wrong_method = api
        .call(Method::PUT, "/api/projects", Some(json!({})))
        .await;
    assert_eq!(wrong_method.status, StatusCode::NOT_FOUND);
    assert_eq!(
        wrong_method.error()["meta"]["message"],
        "No route matches [PUT] \"/api/projects\""
    );

    let missing = api.get("/api/projects/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.body,
        json!({"errors": [{"status": 404, "title": "Active Record - Record Not Found", "meta": {"message": "Couldn't find Node"}}]})
    );

    let no_data = api.post("/api/projects", json!({"nothing": 1})).await;
    assert_eq!(no_data.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        no_data.error()["title"],
        "Action Controller - Parameter Missing"
    );
    assert_eq!(
        no_data.error()["meta"]["message"],
        "param is missing or the value is empty: data"
    );
    let not_json = api
        .call(Method::POST, "/api/projects", Some(json!("x")))
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    let broken = api
        .http
        .post(format!("{}/api/projects", api.base))
        .basic_auth("sandbox-user", Some("sandbox-password"))
        .header(CONTENT_TYPE, MEDIA)
        .body("{\"data\": ")
        .send()
        .await
        .unwrap();
    let broken = Api::reply(broken).await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        broken.error()["title"],
        "Action Dispatch - Parameter Parse Error"
    );
    let extra = api
        .post(
            "/api/projects",
            attrs(json!({"code": "web", "name": "Web", "project_type": "Standard", "invalid": 1})),
        )
        .await;
    assert_eq!(extra.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        extra.error()["meta"]["message"],
        "found unpermitted parameter: :invalid"
    );
}

#[tokio::test]
async fn projects_are_created_read_filtered_updated_and_archived_by_code() {
    let api = Api::start(Timing::INSTANT).await;
    let created = api.project("web", "Standard").await;
    assert_eq!(created.data()["type"], "project");
    assert_eq!(created.attr("code"), "web");
    assert_eq!(created.attr("project_type"), "Standard");
    assert_eq!(created.attr("archived"), false);
    assert_eq!(created.attr("created_by"), "sandbox-user");
    assert_eq!(created.data()["links"]["self"], "/api/projects/web");
    assert_eq!(created.data()["meta"]["can_have_workflows"], false);
    assert!(created.data()["links"].get("workflows").is_none());
    let id = created.data()["id"].as_str().unwrap().to_string();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    let enterprise = api.project("ops", "Enterprise").await;
    assert_eq!(enterprise.data()["meta"]["can_have_workflows"], true);
    assert_eq!(
        enterprise.data()["links"]["workflows"],
        "/api/projects/ops/workflows"
    );

    let shown = api.get("/api/projects/web").await;
    assert_eq!(shown.data()["id"], id.as_str());
    assert_eq!(shown.body["included"], json!([]));
    let all = api.get("/api/projects").await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        all.body["meta"],
        json!({"authorisations": {"update": true}})
    );
    let filtered = api.get("/api/projects?filter%5Bcode_eq%5D=ops").await;
    let codes: Vec<&Value> = filtered.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["attributes"]["code"])
        .collect();
    assert_eq!(codes, [&json!("ops")]);
    let sorted = api.get("/api/projects?filter[sorts]=code+asc").await;
    assert_eq!(sorted.body["data"][0]["attributes"]["code"], "ops");

    let updated = api
        .patch(
            "/api/projects/web",
            attrs(json!({"name": "Web platform", "description": "Public web estate"})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.attr("name"), "Web platform");
    assert_eq!(updated.attr("description"), "Public web estate");
    let immutable = api
        .patch("/api/projects/web", attrs(json!({"code": "web2"})))
        .await;
    assert_eq!(immutable.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        immutable.error()["meta"]["message"],
        "found unpermitted parameter: :code"
    );

    let archived = api.delete("/api/projects/web").await;
    assert_eq!(archived.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get("/api/projects/web").await.attr("archived"), true);
    let active = api.get("/api/projects?filter[archived_eq]=false").await;
    assert_eq!(active.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.delete("/api/projects/nope").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn project_validation_follows_the_documented_rules() {
    let api = Api::start(Timing::INSTANT).await;
    api.project("web", "Standard").await;
    let duplicate = api
        .post("/api/projects", attrs(json!({"code": "web", "name": "Other", "description": null, "project_type": "Standard"})))
        .await;
    assert_eq!(duplicate.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        duplicate.body,
        json!({"errors": [{"status": 422, "code": "model error", "title": "Code has already been taken", "source": {"pointer": "/data/attributes/code"}}]})
    );
    let same_name = api
        .post("/api/projects", attrs(json!({"code": "web2", "name": "web project", "description": null, "project_type": "Standard"})))
        .await;
    assert_eq!(same_name.error()["title"], "Name has already been taken");

    let invalid = api
        .post(
            "/api/projects",
            attrs(json!({"code": "Web-2", "name": "", "project_type": "Premium"})),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let titles: Vec<&Value> = invalid.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["title"])
        .collect();
    assert_eq!(
        titles,
        [
            &json!("Code must only contain lowercase letters, numbers and underscores"),
            &json!("Name can't be blank"),
            &json!("Project type is not included in the list"),
        ]
    );
    let no_type = api
        .post("/api/projects", attrs(json!({"code": "x", "name": "X"})))
        .await;
    assert_eq!(no_type.error()["title"], "Project type can't be blank");
    assert_eq!(
        no_type.error()["source"]["pointer"],
        "/data/attributes/project_type"
    );
    let blank_name = api
        .patch("/api/projects/web", attrs(json!({"name": " "})))
        .await;
    assert_eq!(blank_name.error()["title"], "Name can't be blank");
}

#[tokio::test]
async fn environments_and_assets_live_under_their_project() {
    let api = Api::start(Timing::INSTANT).await;
    api.project("web", "Standard").await;
    api.environment("web", "dev").await;
    let env = api.get("/api/projects/web/environments/dev").await;
    assert_eq!(env.data()["type"], "environment");
    assert_eq!(env.attr("name"), "dev env");
    assert_eq!(env.data()["links"]["parent"], "/api/projects/web");
    assert_eq!(env.body["included"][0]["attributes"]["code"], "web");
    let duplicate = api
        .post(
            "/api/projects/web/environments",
            attrs(json!({"code": "dev", "name": "Another"})),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(duplicate.error()["title"], "Code has already been taken");
    let listed = api
        .get("/api/projects/web/environments?filter[name_cont]=DEV")
        .await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    let renamed = api
        .patch(
            "/api/projects/web/environments/dev",
            attrs(json!({"name": "Development"})),
        )
        .await;
    assert_eq!(renamed.attr("name"), "Development");
    let project = api.get("/api/projects/web").await;
    assert_eq!(
        project.data()["relationships"]["children"]["data"][0]["type"],
        "environment"
    );
    let bookmarks = project.data()["links"]["bookmarks"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(api.get(&bookmarks).await.body["data"], json!([]));
    assert_eq!(
        api.get("/api/projects/web/environments/qa/bookmarks")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/api/projects/nope/environments").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/api/projects/web/environments/nope").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.delete("/api/projects/web/environments/dev")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get("/api/projects/web/environments/dev")
            .await
            .attr("archived"),
        true
    );

    // Standard projects hold only environments.
    let refused = api.get("/api/projects/web/assets").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.error()["title"], "Unsupported project type");
    assert_eq!(
        refused.error()["detail"],
        "\"Standard\" projects do not support assets"
    );

    api.project("ops", "Enterprise").await;
    api.environment("ops", "dev").await;
    let asset = json!({"code": "prj_soa", "name": "Project asset", "description": "d", "template_name": "Oracle SOA template", "template_version": "2023_Q4_2"});
    let created = api
        .post("/api/projects/ops/assets", attrs(asset.clone()))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.data()["type"], "asset");
    assert_eq!(
        created.data()["links"]["self"],
        "/api/projects/ops/assets/prj_soa"
    );
    let in_env = api
        .post(
            "/api/projects/ops/environments/dev/assets",
            attrs(asset.clone()),
        )
        .await;
    assert_eq!(
        in_env.status,
        StatusCode::CREATED,
        "the same code in another parent"
    );
    assert_eq!(
        in_env.data()["links"]["self"],
        "/api/projects/ops/environments/dev/assets/prj_soa"
    );
    let again = api.post("/api/projects/ops/assets", attrs(asset)).await;
    assert_eq!(again.error()["title"], "Code has already been taken");
    let incomplete = api
        .post(
            "/api/projects/ops/assets",
            attrs(json!({"code": "x", "name": "X"})),
        )
        .await;
    let titles: Vec<&Value> = incomplete.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["title"])
        .collect();
    assert_eq!(
        titles,
        [
            &json!("Template name can't be blank"),
            &json!("Template version can't be blank")
        ]
    );
    let shown = api
        .get("/api/projects/ops/environments/dev/assets/prj_soa")
        .await;
    assert_eq!(shown.attr("name"), "Project asset");
    assert_eq!(shown.body["included"].as_array().unwrap().len(), 2);
    let updated = api
        .patch(
            "/api/projects/ops/assets/prj_soa",
            attrs(json!({"description": null})),
        )
        .await;
    assert_eq!(updated.attr("description"), &Value::Null);
    assert_eq!(
        api.get("/api/projects/ops/assets").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.delete("/api/projects/ops/assets/prj_soa").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get("/api/projects/ops/assets/prj_soa")
            .await
            .attr("archived"),
        true
    );
    assert_eq!(
        api.get("/api/projects/ops/environments/dev/assets/prj_soa")
            .await
            .attr("archived"),
        false
    );
}

#[tokio::test]
async fn properties_are_versioned_with_optimistic_concurrency() {
    let api = Api::start(Timing::INSTANT).await;
    let project = api.project("web", "Standard").await;
    let link = project.data()["relationships"]["properties"]["links"]["related"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = api.get(&link).await;
    assert_eq!(shown.data()["type"], "properties");
    assert_eq!(shown.attr("version"), 1);
    assert_eq!(shown.attr("data"), &json!({}));
    assert_eq!(
        shown.data()["relationships"]["owner"]["links"]["owner"],
        "/api/projects/web"
    );

    let updated = api
        .patch(
            &link,
            attrs(json!({"data": {"db": {"host": "a"}}, "version": 1})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.attr("version"), 2);
    assert_eq!(updated.attr("data"), &json!({"db": {"host": "a"}}));
    assert_eq!(
        updated.data()["links"]["current_version"],
        format!("{link}/versions/2")
    );

    let stale = api
        .patch(
            &link,
            attrs(json!({"data": {"db": {"host": "b"}}, "version": 1})),
        )
        .await;
    assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        stale.error()["title"],
        "Version mismatch, the properties are now at version 2 whilst these modifications were made to version 1. Please fetch the latest version of the properties and reapply the edits."
    );
    assert_eq!(
        stale.error()["source"]["pointer"],
        "/data/attributes/version"
    );
    assert_eq!(
        api.get(&link).await.attr("version"),
        2,
        "the stale write changed nothing"
    );

    let unsafe_write = api.patch(&link, attrs(json!({"data": {"x": 1}}))).await;
    assert_eq!(unsafe_write.attr("version"), 3);
    let no_attributes = api.patch(&link, json!({"data": {}})).await;
    assert_eq!(no_attributes.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        no_attributes.error()["meta"]["message"],
        "param is missing or the value is empty: data"
    );

    let versions = api.get(&format!("{link}/versions")).await;
    let numbers: Vec<&Value> = versions.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["attributes"]["version"])
        .collect();
    assert_eq!(numbers, [&json!(3), &json!(2), &json!(1)]);
    let first = api.get(&format!("{link}/versions/2")).await;
    assert_eq!(first.data()["type"], "properties_version");
    assert_eq!(first.attr("data"), &json!({"db": {"host": "a"}}));
    assert_eq!(first.attr("owner_type"), "project");
    assert_eq!(
        api.get(&format!("{link}/versions/9")).await.status,
        StatusCode::NOT_FOUND
    );
    let missing = api.get("/api/properties/nope").await;
    assert_eq!(
        missing.error()["meta"]["message"],
        "Couldn't find Properties"
    );
}

#[tokio::test]
async fn workflows_need_an_enterprise_project_and_validate_steps_when_published() {
    let api = Api::start(Timing::INSTANT).await;
    api.project("std", "Standard").await;
    let refused = api
        .post(
            "/api/projects/std/workflows",
            attrs(json!({"code": "w", "name": "W", "steps": []})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        refused.body,
        json!({"errors": [{"status": 422, "title": "Unsupported project type", "detail": "\"Standard\" projects do not support workflows"}]})
    );
    assert_eq!(
        api.get("/api/projects/std/workflows").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        api.get("/api/projects/nope/workflows").await.status,
        StatusCode::NOT_FOUND
    );

    api.project("web", "Enterprise").await;
    api.environment("web", "dev").await;
    let bad_steps = json!([
        {"type": "change", "target": "/projects/web/environments/dev"},
        {"type": "wait", "requires_approval_from": "ops", "colour": "red"},
        {"type": "stage", "name": "s", "run_as": "sideways", "children": [{"type": "wait"}]}
    ]);
    // A draft is stored without validation...
    let draft = api
        .post(
            "/api/projects/web/workflows",
            attrs(json!({"code": "draft_one", "name": "Draft", "steps": bad_steps})),
        )
        .await;
    assert_eq!(draft.status, StatusCode::CREATED);
    assert_eq!(draft.attr("draft"), true);
    assert_eq!(draft.attr("latest_version"), 1);
    assert_eq!(draft.attr("latest_published_version"), &Value::Null);
    // ...unless validation is asked for, and publishing always validates.
    for body in [
        json!({"data": {"attributes": {"code": "v", "name": "V", "steps": bad_steps}}, "meta": {"validate_flag": true}}),
        attrs(json!({"code": "v", "name": "V", "steps": bad_steps, "draft": false})),
    ] {
        let r = api.post("/api/projects/web/workflows", body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let titles: Vec<&Value> = r.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["title"])
            .collect();
        assert_eq!(
            titles,
            [
                &json!("object at `/steps/0` is missing required properties: action"),
                &json!("object property at `/steps/1/colour` is a disallowed additional property"),
                &json!("value at `/steps/2/run_as` is not one of: [\"sequential\", \"parallel\"]"),
            ]
        );
        assert_eq!(r.error()["source"]["pointer"], "/data/attributes/steps");
    }
    let missing_target = api
        .post(
            "/api/projects/web/workflows",
            attrs(json!({"code": "v", "name": "V", "draft": false, "steps": [{"type": "change", "target": "/projects/web/environments/qa", "action": "deploy"}]})),
        )
        .await;
    assert_eq!(
        missing_target.error()["title"],
        "The following node(s) do not exist: /projects/web/environments/qa"
    );
    let not_array = api
        .post(
            "/api/projects/web/workflows",
            attrs(json!({"code": "v", "name": "V", "steps": {}})),
        )
        .await;
    assert_eq!(
        not_array.error()["title"],
        "value at `/steps` is not an array"
    );
    let incomplete = api
        .post(
            "/api/projects/web/workflows",
            attrs(json!({"code": "Bad code"})),
        )
        .await;
    let titles: Vec<&Value> = incomplete.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["title"])
        .collect();
    assert_eq!(
        titles,
        [
            &json!("Code must only contain lowercase letters, numbers and underscores"),
            &json!("Name can't be blank"),
            &json!("Steps can't be blank"),
        ]
    );
    let duplicate = api
        .post(
            "/api/projects/web/workflows",
            attrs(json!({"code": "draft_one", "name": "Again", "steps": []})),
        )
        .await;
    assert_eq!(duplicate.error()["title"], "Code has already been taken");
    let unknown = api.get("/api/projects/web/workflows/nope").await;
    assert_eq!(unknown.error()["meta"]["message"], "Couldn't find Workflow");
}

#[tokio::test]
async fn workflow_versions_are_drafted_published_and_deleted() {
    let api = Api::start(Timing::INSTANT).await;
    api.project("web", "Enterprise").await;
    api.environment("web", "dev").await;
    let steps_v1 =
        json!([{"type": "change", "target": "/projects/web/environments/dev", "action": "deploy"}]);
    let created = api
        .post("/api/projects/web/workflows", attrs(json!({"code": "release", "name": "Release", "description": "d", "steps": steps_v1})))
        .await;
    assert_eq!(created.attr("draft"), true);
    assert!(
        created
            .attr("source_yaml")
            .as_str()
            .unwrap()
            .starts_with("---\nsteps:\n- action: deploy\n")
    );
    assert_eq!(
        created.data()["links"]["latest_version"],
        "/api/projects/web/workflows/release/versions/1"
    );
    assert_eq!(
        created.data()["links"]["latest_published_version"],
        Value::Null
    );

    let run_draft = api
        .post(
            "/api/projects/web/workflows/release/runs",
            attrs(json!({"metadata": {}})),
        )
        .await;
    assert_eq!(run_draft.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        run_draft.error()["title"],
        "Only published workflow versions can be run"
    );

    let published = api
        .patch(
            "/api/projects/web/workflows/release/versions/1",
            attrs(json!({"name": "Release", "steps": steps_v1, "draft": false})),
        )
        .await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.body);
    assert_eq!(published.data()["type"], "workflow_version");
    assert_eq!(published.attr("draft"), false);
    assert_eq!(published.attr("version"), 1);

    let locked = api
        .patch(
            "/api/projects/web/workflows/release/versions/1",
            attrs(json!({"name": "Release", "steps": []})),
        )
        .await;
    assert_eq!(locked.status, StatusCode::UNPROCESSABLE_ENTITY);
    let steps_v2 = json!([{"type": "wait", "name": "hold"}]);
    let v2 = api
        .patch(
            "/api/projects/web/workflows/release/versions/1",
            json!({"data": {"attributes": {"name": "Release", "steps": steps_v2}}, "meta": {"create_new_version": true}}),
        )
        .await;
    assert_eq!(v2.attr("version"), 2);
    assert_eq!(v2.attr("draft"), true);
    assert_eq!(v2.attr("steps"), &steps_v2);
    let workflow = api.get("/api/projects/web/workflows/release").await;
    assert_eq!(workflow.attr("latest_version"), 2);
    assert_eq!(workflow.attr("latest_published_version"), 1);
    assert_eq!(workflow.attr("draft"), true);
    assert_eq!(workflow.attr("steps"), &steps_v2);
    assert_eq!(
        workflow.data()["relationships"]["versions"]["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let versions = api
        .get("/api/projects/web/workflows/release/versions")
        .await;
    let numbers: Vec<&Value> = versions.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["attributes"]["version"])
        .collect();
    assert_eq!(numbers, [&json!(2), &json!(1)]);
    let v1 = api
        .get("/api/projects/web/workflows/release/versions/1")
        .await;
    assert_eq!(v1.attr("steps"), &steps_v1);
    assert_eq!(
        v1.data()["links"]["workflow"],
        "/api/projects/web/workflows/release"
    );
    let no_version = api
        .get("/api/projects/web/workflows/release/versions/7")
        .await;
    assert_eq!(
        no_version.error()["meta"]["message"],
        "Couldn't find WorkflowVersion"
    );

    // Updating the workflow as the rendered reference shows: name, description and new steps.
    let steps_v3 = json!([{"type": "wait", "name": "hold longer"}]);
    let updated = api
        .patch(
            "/api/projects/web/workflows/release",
            attrs(
                json!({"name": "New name", "description": "new", "steps": steps_v3, "draft": true}),
            ),
        )
        .await;
    assert_eq!(updated.attr("name"), "New name");
    assert_eq!(
        updated.attr("latest_version"),
        2,
        "the latest draft was rewritten"
    );
    assert_eq!(updated.attr("steps"), &steps_v3);

    let dropped = api
        .call(
            Method::DELETE,
            "/api/projects/web/workflows/release/versions",
            None,
        )
        .await;
    assert_eq!(dropped.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(dropped.attr("latest_version"), 1);
    assert_eq!(dropped.attr("draft"), false);
    let last = api
        .delete("/api/projects/web/workflows/release/versions/1")
        .await;
    assert_eq!(
        last.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "one version stays"
    );

    let archived = api
        .patch(
            "/api/projects/web/workflows/release",
            attrs(json!({"archived": true})),
        )
        .await;
    assert_eq!(archived.attr("archived"), true);
    let run_archived = api
        .post(
            "/api/projects/web/workflows/release/runs",
            attrs(json!({"metadata": {}})),
        )
        .await;
    assert_eq!(
        run_archived.error()["title"],
        "The \"release\" workflow is archived and cannot be run"
    );
    assert_eq!(
        api.delete("/api/projects/web/workflows/release")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get("/api/projects/web/workflows/release").await.status,
        StatusCode::NOT_FOUND,
        "never ran: deleted"
    );
}

#[tokio::test]
async fn a_run_moves_through_pending_running_and_waiting_until_approved() {
    let api = Api::start(timed()).await;
    let workflow = api.release_workflow("web_release", example_steps()).await;
    assert_eq!(workflow.attr("latest_published_version"), 1);

    let started = api.run("web_release").await;
    assert_eq!(started.data()["type"], "workflow_run");
    assert_eq!(started.attr("status_code"), "pending");
    assert_eq!(started.attr("metadata"), &json!({"token": "release-42"}));
    assert_eq!(started.attr("created_by"), "sandbox-user");
    assert_eq!(started.attr("project_name"), "web project");
    assert_eq!(started.attr("step_tree")["type"], "workflow_noop_step");
    assert_eq!(
        started.attr("step_tree")["children"][1]["name"],
        "production approval"
    );
    assert_eq!(started.body["included"][0]["type"], "workflow_version");
    let run = started.data()["id"].as_str().unwrap().to_string();
    let self_link = format!("/api/projects/web/workflows/web_release/runs/{run}");
    assert_eq!(started.data()["links"]["self"], self_link.as_str());

    let running = api.wait_for(&run, "running").await;
    assert!(running.attr("started_at").is_string());
    let waiting = api.wait_for(&run, "waiting").await;
    assert_eq!(
        statuses(&waiting),
        [
            ("web_release workflow".into(), "running".into()),
            ("deploy to dev".into(), "success".into()),
            ("production approval".into(), "waiting".into()),
            ("deploy to prod".into(), "pending".into()),
        ]
    );
    let wait = step(&waiting, "production approval");
    let wait_id = wait["id"].as_str().unwrap().to_string();
    assert_eq!(wait["type"], "workflow_wait_step");
    assert_eq!(
        wait["attributes"]["requires_approval_from"],
        "release-managers"
    );
    assert_eq!(
        wait["links"]["approve"],
        format!("/api/workflow_steps/{wait_id}/approve")
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        api.get(&self_link).await.attr("status_code"),
        "waiting",
        "it waits for a person"
    );

    let waiting_steps = api
        .get("/api/workflow_steps?filter[status_code_eq]=waiting")
        .await;
    assert_eq!(waiting_steps.body["data"][0]["id"], wait_id.as_str());
    let by_token = api
        .get("/api/workflow_runs?filter[metadata_text_cont]=release-42")
        .await;
    assert_eq!(by_token.body["data"][0]["id"], run.as_str());
    let waiting_runs = api
        .get("/api/workflow_runs?filter[status_code_eq]=waiting")
        .await;
    assert_eq!(waiting_runs.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(waiting_runs.body["included"][0]["type"], "workflow_version");
    assert_eq!(
        api.get("/api/projects/web/workflow_runs").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.get("/api/projects/web/workflows/web_release/versions/1/runs")
            .await
            .body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let by_step = api.get(&format!("{self_link}/steps")).await;
    assert_eq!(by_step.body["data"].as_array().unwrap().len(), 4);
    let deploy = step(&waiting, "deploy to dev")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let not_waiting = api
        .post(&format!("/api/workflow_steps/{deploy}/approve"), json!({}))
        .await;
    assert_eq!(not_waiting.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        not_waiting.body,
        json!({"errors": [{"status": 422, "code": "model error", "title": "Cannot approve step because it is in the \"success\" state", "source": {"pointer": "/data/attributes/base"}}]})
    );
    let continued = api
        .post(
            &format!("/api/workflow_steps/{wait_id}/continue"),
            json!({}),
        )
        .await;
    assert_eq!(
        continued.error()["title"],
        "Cannot continue step because it requires approval"
    );

    let approved = api
        .post(
            &format!("{self_link}/steps/{wait_id}/approve"),
            attrs(json!({"message": "As per CR 7"})),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.attr("status_code"), "approved");
    assert_eq!(
        approved.attr("approved_by"),
        &json!([{"username": "sandbox-user", "message": "As per CR 7"}])
    );
    assert_eq!(approved.attr("lock_version"), 2);
    let twice = api
        .post(&format!("/api/workflow_steps/{wait_id}/approve"), json!({}))
        .await;
    assert_eq!(
        twice.error()["title"],
        "Cannot approve step because it is in the \"approved\" state"
    );

    let done = api.wait_for(&run, "success").await;
    assert!(done.attr("finished_at").is_string());
    assert_eq!(
        step(&done, "deploy to prod")["attributes"]["status_code"],
        "success"
    );
    let log = api
        .get(done.data()["links"]["log_lines"].as_str().unwrap())
        .await;
    let messages: Vec<&str> = log.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["attributes"]["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.contains(&"Running action \"deploy\" on /projects/web/environments/dev"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"Approved by sandbox-user: As per CR 7"),
        "{messages:?}"
    );
    assert_eq!(
        messages.last(),
        Some(&"\"web_release workflow\" finished: success")
    );
    let again = api
        .get(&format!("/api/workflow_runs/{run}/log_lines"))
        .await;
    assert_eq!(
        again.body["data"][0]["id"], log.body["data"][0]["id"],
        "log line ids are stable"
    );
    let step_log = api
        .get(&format!("/api/workflow_steps/{wait_id}/log_lines"))
        .await;
    assert_eq!(step_log.body["data"].as_array().unwrap().len(), 3);
    // `/api/steps` are the steps of changes (the docs' "Show step"), not of workflow runs.
    assert_eq!(
        api.get(&format!("/api/steps/{wait_id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/api/workflow_steps/nope").await.error()["meta"]["message"],
        "Couldn't find BaseWorkflowStep"
    );
}

#[tokio::test]
async fn rejection_failure_and_cancellation_end_runs_as_documented() {
    let api = Api::start(Timing::INSTANT).await;
    api.release_workflow("web_release", example_steps()).await;

    // Rejected: the approval step is rejected, what follows is aborted, the run ends in error.
    let run = api.run("web_release").await.data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let waiting = api.wait_for(&run, "waiting").await;
    let wait = step(&waiting, "production approval")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rejected = api
        .post(
            &format!("/api/workflow_steps/{wait}/reject"),
            attrs(json!({"message": "Failed UAT"})),
        )
        .await;
    assert_eq!(rejected.attr("status_code"), "rejected");
    assert_eq!(
        rejected.attr("rejected_by"),
        &json!([{"username": "sandbox-user", "message": "Failed UAT"}])
    );
    let ended = api.wait_for(&run, "error").await;
    assert_eq!(
        step(&ended, "deploy to prod")["attributes"]["status_code"],
        "aborted"
    );

    // Forced failure of a change step through the admin surface.
    assert_eq!(
        api.admin(Method::POST, "failures", json!({"match": "deploy to dev"}))
            .await,
        StatusCode::NO_CONTENT
    );
    let run = api.run("web_release").await.data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let failed = api.wait_for(&run, "error").await;
    assert_eq!(
        statuses(&failed),
        [
            ("web_release workflow".into(), "error".into()),
            ("deploy to dev".into(), "error".into()),
            ("production approval".into(), "aborted".into()),
            ("deploy to prod".into(), "aborted".into()),
        ]
    );
    assert_eq!(
        api.admin(Method::DELETE, "failures", json!({})).await,
        StatusCode::NO_CONTENT
    );

    // Cancelled while waiting: unfinished steps are cancelled; cancelling again changes nothing.
    let run = api.run("web_release").await.data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.wait_for(&run, "waiting").await;
    assert_eq!(
        api.delete(&format!("/api/workflow_runs/{run}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let cancelled = api.wait_for(&run, "cancelled").await;
    assert_eq!(cancelled.attr("cancelled_by"), "sandbox-user");
    assert_eq!(
        step(&cancelled, "deploy to dev")["attributes"]["status_code"],
        "success"
    );
    assert_eq!(
        step(&cancelled, "production approval")["attributes"]["status_code"],
        "cancelled"
    );
    let nested = format!("/api/projects/web/workflows/web_release/runs/{run}");
    assert_eq!(api.delete(&nested).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&nested).await.attr("status_code"), "cancelled");
    assert_eq!(
        api.get("/api/workflow_runs/nope").await.error()["meta"]["message"],
        "Couldn't find WorkflowRun"
    );

    // A project with an activity under way cannot be archived.
    let run = api.run("web_release").await.data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.wait_for(&run, "waiting").await;
    let busy = api.delete("/api/projects/web").await;
    assert_eq!(busy.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A workflow that ran is archived, not deleted.
    assert_eq!(
        api.delete("/api/projects/web/workflows/web_release")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get("/api/projects/web/workflows/web_release")
            .await
            .attr("archived"),
        true
    );
}

#[tokio::test]
async fn wait_steps_stages_and_queued_runs() {
    let api = Api::start(timed()).await;
    let steps = json!([
        {"name": "both", "run_as": "parallel", "children": [
            {"type": "change", "target": "/projects/web/environments/dev", "action": "deploy"},
            {"type": "change", "targets": ["/projects/web/environments/dev", "/projects/web/environments/prod"], "action": "smoke", "run_as": "sequential"}
        ]},
        {"type": "wait"}
    ]);
    api.release_workflow("staged", steps).await;
    let first = api.run("staged").await.data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = api.run("staged").await.data()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let running = api.wait_for(&first, "running").await;
    assert_eq!(
        step(&running, "both")["attributes"]["child_execution_strategy"],
        "parallel"
    );
    let waiting = api.wait_for(&first, "waiting").await;
    assert_eq!(
        step(&waiting, "deploy")["attributes"]["status_code"],
        "success"
    );
    let queued = api.get(&format!("/api/workflow_runs/{second}")).await;
    assert_eq!(
        queued.attr("status_code"),
        "pending",
        "one run of a workflow at a time"
    );
    assert_eq!(
        queued.data()["meta"]["blocked_by_same_workflow_running"],
        true
    );
    assert_eq!(
        queued.data()["meta"]["blocked_by_queue"],
        json!([first.clone()])
    );

    let wait = step(&waiting, "Wait");
    assert!(wait["links"].get("approve").is_none());
    let wait_id = wait["id"].as_str().unwrap().to_string();
    let approve = api
        .post(&format!("/api/workflow_steps/{wait_id}/approve"), json!({}))
        .await;
    assert_eq!(
        approve.error()["title"],
        "Cannot approve step because it does not require approval"
    );
    // Skipping on retry is for change steps: the documented answer is a change step.
    let deploy_id = step(&waiting, "deploy")["id"].as_str().unwrap().to_string();
    let flagged = api
        .patch(
            &format!("/api/workflow_steps/{deploy_id}"),
            attrs(json!({"skip_on_retry": true})),
        )
        .await;
    assert_eq!(flagged.data()["type"], "workflow_change_step");
    assert_eq!(flagged.attr("skip_on_retry"), true);
    assert_eq!(flagged.attr("lock_version"), 2);
    let continued = api
        .post(
            &format!("/api/workflow_steps/{wait_id}/continue"),
            json!(null),
        )
        .await;
    assert_eq!(continued.attr("status_code"), "continued");
    assert_eq!(
        continued.attr("continued_by"),
        &json!([{"username": "sandbox-user", "message": null}])
    );
    api.wait_for(&first, "success").await;
    api.wait_for(&second, "running").await;
}

#[tokio::test]
async fn only_named_approvers_may_approve() {
    let mut api = Api::start_with(Timing::INSTANT, vec![Credential::basic("bob", "pw")]).await;
    api.release_workflow("web_release", example_steps()).await;
    let run = api.run("web_release").await.data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let waiting = api.wait_for(&run, "waiting").await;
    let wait = step(&waiting, "production approval")["id"]
        .as_str()
        .unwrap()
        .to_string();

    api.as_user("bob", "pw");
    let refused = api
        .post(&format!("/api/workflow_steps/{wait}/approve"), json!({}))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.body,
        json!({"errors": [{"status": 422, "code": "model error", "title": "You are not permitted to approve this step", "source": {"pointer": "/data/attributes/base"}}]})
    );
    let seeded = api
        .admin(
            Method::POST,
            "seed",
            json!({"users": [{"username": "bob", "groups": ["release-managers"]}]}),
        )
        .await;
    assert_eq!(seeded, StatusCode::NO_CONTENT);
    let approved = api
        .post(&format!("/api/workflow_steps/{wait}/approve"), json!({}))
        .await;
    assert_eq!(approved.attr("approved_by")[0]["username"], "bob");
}

#[tokio::test]
async fn runs_can_be_started_through_the_global_endpoint() {
    let api = Api::start(Timing::INSTANT).await;
    api.release_workflow(
        "web_release",
        json!([{"type": "change", "target": "/projects/web", "action": "ping"}]),
    )
    .await;
    let missing = api
        .post(
            "/api/workflow_runs",
            attrs(json!({"project_code": "web", "workflow_code": "assets", "version": "1"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        missing.error()["title"],
        "The \"assets\" workflow does not exist in the \"web\" project"
    );
    let started = api
        .post(
            "/api/workflow_runs",
            attrs(json!({"project_code": "web", "workflow_code": "web_release", "version": "1"})),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED);
    let run = started.data()["id"].as_str().unwrap().to_string();
    let done = api.wait_for(&run, "success").await;
    assert_eq!(
        done.data()["relationships"]["workflow_version"]["data"]["type"],
        "workflow_version"
    );
    let unknown_version = api
        .post(
            "/api/projects/web/workflows/web_release/runs",
            attrs(json!({"version": 4})),
        )
        .await;
    assert_eq!(unknown_version.status, StatusCode::NOT_FOUND);
    let unpermitted = api
        .post(
            "/api/projects/web/workflows/web_release/runs",
            attrs(json!({"colour": 1})),
        )
        .await;
    assert_eq!(unpermitted.status, StatusCode::BAD_REQUEST);
    let users = api.get("/api/users").await;
    assert_eq!(
        users.body["data"][0]["attributes"]["username"],
        "sandbox-user"
    );
    assert_eq!(
        users.body["data"][0]["attributes"]["groupnames"],
        json!(["release-managers"])
    );
}

#[tokio::test]
async fn seed_adds_project_types_projects_and_workflows() {
    let api = Api::start(Timing::INSTANT).await;
    let seed = json!({
        "info": {"version": "2025-11-12", "runner_image": "r", "db_version": "17.2", "api_version": "7.2", "ldap_available?": false},
        "project_types": ["Premium"],
        "projects": [{
            "code": "shop", "name": "Shop", "description": null, "project_type": "Premium",
            "properties": {"region": "eu"},
            "environments": [{"code": "dev", "name": "Development", "description": null}],
            "assets": [{"code": "site", "name": "Site", "environment": "dev", "template_name": "t", "template_version": "v1"}]
        }],
        "workflows": [{"project": "shop", "code": "nightly", "name": "Nightly", "description": null,
                       "steps": [{"type": "change", "target": "/projects/shop/environments/dev/assets/site", "action": "backup"}]}]
    });
    assert_eq!(
        api.admin(Method::POST, "seed", seed).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.get("/api/info").await.attr("version"), "2025-11-12");
    let project = api.get("/api/projects/shop").await;
    assert_eq!(project.attr("project_type"), "Premium");
    let properties = project.data()["relationships"]["properties"]["links"]["related"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        api.get(&properties).await.attr("data"),
        &json!({"region": "eu"})
    );
    assert_eq!(
        api.get("/api/projects/shop/environments/dev/assets/site")
            .await
            .attr("name"),
        "Site"
    );
    let workflow = api.get("/api/projects/shop/workflows/nightly").await;
    assert_eq!(workflow.attr("latest_published_version"), 1);
    let run = api
        .post(
            "/api/projects/shop/workflows/nightly/runs",
            attrs(json!({"metadata": {}})),
        )
        .await;
    assert_eq!(run.status, StatusCode::CREATED);
    let created = api
        .post(
            "/api/projects",
            attrs(json!({"code": "p2", "name": "P2", "project_type": "Premium"})),
        )
        .await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "a seeded project type is accepted"
    );

    let bad = api
        .admin(
            Method::POST,
            "seed",
            json!({"projects": [{"code": "Bad", "name": "x", "project_type": "Standard"}]}),
        )
        .await;
    assert_eq!(bad, StatusCode::BAD_REQUEST);
    let partial = json!({"project_types": ["Other"], "projects": [{"code": "x", "name": "x", "project_type": "Nope"}]});
    assert_eq!(
        api.admin(Method::POST, "seed", partial).await,
        StatusCode::BAD_REQUEST
    );
    let other = api
        .post(
            "/api/projects",
            attrs(json!({"code": "p3", "name": "P3", "project_type": "Other"})),
        )
        .await;
    assert_eq!(
        other.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a refused seed adds nothing"
    );
    assert_eq!(
        api.admin(Method::POST, "reset", json!({})).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get("/api/projects/shop").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn rate_limits_and_injected_faults_use_the_opschain_envelope() {
    let api = Api::start(Timing::INSTANT).await;
    assert_eq!(
        api.admin(
            Method::PUT,
            "rate-limit",
            json!({"perSecond": 1, "burst": 1})
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(api.get("/api/info").await.status, StatusCode::OK);
    let limited = api.get("/api/info").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers[CONTENT_TYPE], MEDIA);
    assert!(
        limited.headers[RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(limited.error()["status"], 429);
    assert_eq!(limited.error()["title"], "Too Many Requests");
    assert_eq!(
        api.admin(Method::DELETE, "rate-limit", json!({})).await,
        StatusCode::NO_CONTENT
    );

    assert_eq!(
        api.admin(Method::PUT, "faults", json!({"errorRate": 1.0}))
            .await,
        StatusCode::OK
    );
    let fault = api
        .post(
            "/api/projects",
            attrs(json!({"code": "web", "name": "Web", "project_type": "Standard"})),
        )
        .await;
    assert_eq!(fault.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(fault.headers[CONTENT_TYPE], MEDIA);
    assert_eq!(fault.error()["status"], 503);
    assert_eq!(fault.error()["title"], "Service Unavailable");
    assert_eq!(
        api.admin(Method::PUT, "faults", json!({})).await,
        StatusCode::OK
    );
    assert_eq!(
        api.get("/api/projects/web").await.status,
        StatusCode::NOT_FOUND,
        "the faulted create did nothing"
    );
}
