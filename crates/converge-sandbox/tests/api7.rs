//! The API7 Cloud sandbox over real HTTP: envelope, ids, routes, validation, conflicts, the
//! cluster header, canary releases, the OpenAPI import, certificates, time-based states, seed
//! data, and the shared layers (auth, rate limit, faults) answering in API7's envelope.

use std::time::Duration;

use converge_sandbox::api7::Api7;
use converge_sandbox::{Ops, OpsConfig, Sandbox, Served, Timing, serve};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "sandbox-api7-token";
const CLUSTER: &str = "2001";
const HEADER: &str = "X-API7-Cloud-Gateway-Cluster-ID";

/// A certificate for checkout.acme.test and *.shop.acme.test (self-signed, P-256, made with
/// openssl for these tests), and its key.
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

struct Api {
    served: Served,
    http: reqwest::Client,
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn payload(&self) -> &Value {
        &self.body["payload"]
    }

    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    fn code(&self) -> i64 {
        self.body["status"]["code"].as_i64().unwrap_or(-1)
    }

    /// Asserts an error answer: HTTP status, envelope code, and a piece of the message.
    #[track_caller]
    fn expect_error(&self, status: u16, code: i64, needle: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.code(), code, "body: {}", self.body);
        assert!(
            self.error().contains(needle),
            "error {:?} should contain {needle:?}",
            self.error()
        );
        assert!(
            self.body.get("payload").is_none(),
            "errors carry no payload"
        );
    }

    #[track_caller]
    fn expect_ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.body);
        assert_eq!(self.body["status"], json!({"code": 0, "message": "OK"}));
        assert!(self.body.get("error").is_none());
        self.payload()
    }
}

async fn start(timing: Timing) -> Api {
    let ops = Ops::new(OpsConfig {
        accepted: converge_sandbox::all::default_credentials("api7"),
        ..Default::default()
    });
    let served = serve(
        Sandbox::<Api7>::new(ops, timing, None),
        "127.0.0.1:0".parse().unwrap(),
    )
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

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        cluster: Option<&str>,
        token: Option<&str>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(c) = cluster {
            req = req.header(HEADER, c);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A call in cluster 2001 (header sent, as the SDK does).
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send(method, path, body, Some(CLUSTER), Some(TOKEN))
            .await
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    async fn admin(&self, method: Method, path: &str, body: Value) -> StatusCode {
        self.http
            .request(method, self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn create_app(&self, body: Value) -> Value {
        self.post("/api/v1/clusters/2001/apps", body)
            .await
            .expect_ok()
            .clone()
    }
}

/// The application of examples/api7/gateway.yaml, as a client sends it.
fn checkout() -> Value {
    json!({
        "name": "checkout",
        "description": "Checkout API gateway",
        "hosts": ["checkout.acme.test"],
        "path_prefix": "/checkout",
        "protocols": ["HTTPS"],
        "upstreams": [
            {"version": "v1", "upstream": {"scheme": "http", "lb_type": "roundrobin",
                "targets": [{"host": "checkout-v1.internal", "port": 8080}]}},
            {"version": "v2", "upstream": {"scheme": "http",
                "targets": [{"host": "checkout-v2.internal", "port": 8080}]}}
        ],
        "default_upstream_version": "v1",
        "labels": ["payments"],
        "plugins": {"cors": {"allow_origins": "https://shop.acme.test"}},
        "active": 0
    })
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("ids are strings").to_string()
}

fn ids(list: &Value) -> Vec<String> {
    list["list"].as_array().unwrap().iter().map(id_of).collect()
}

#[tokio::test]
async fn seeded_user_organization_and_cluster_match_the_examples() {
    let api = start(Timing::INSTANT).await;
    let me = api.get("/api/v1/user/me").await;
    assert_eq!(me.expect_ok()["org_ids"], json!(["1001"]));
    assert_eq!(me.payload()["email"], "sandbox@api7.test");

    let org = api.get("/api/v1/orgs/1001").await;
    assert_eq!(org.expect_ok()["id"], "1001");
    assert_eq!(org.payload()["name"], "sandbox");

    let clusters = api.get("/api/v1/orgs/1001/clusters").await;
    let list = clusters.expect_ok();
    assert_eq!(list["count"], 1);
    assert_eq!(list["list"][0]["id"], "2001");
    assert_eq!(list["list"][0]["org_id"], "1001");
    assert_eq!(list["list"][0]["status"], 3);

    let cluster = api.get("/api/v1/clusters/2001").await;
    assert_eq!(cluster.expect_ok()["name"], "default");
    assert_eq!(cluster.payload()["config_version"], 1);

    api.get("/api/v1/orgs/999")
        .await
        .expect_error(404, 4, "organization 999 not found");
    api.get("/api/v1/orgs/0123").await.expect_error(
        400,
        2,
        "org_id in path should match '^[1-9][0-9]*$'",
    );
    api.send(
        Method::GET,
        "/api/v1/clusters/2002",
        None,
        None,
        Some(TOKEN),
    )
    .await
    .expect_error(404, 4, "cluster 2002 not found");
}

#[tokio::test]
async fn missing_wrong_or_basic_credentials_get_401_in_the_envelope() {
    let api = start(Timing::INSTANT).await;
    let none = api
        .send(Method::GET, "/api/v1/user/me", None, None, None)
        .await;
    none.expect_error(401, 6, "Bearer access token is required");
    assert_eq!(none.body["status"]["message"], "unauthorized");

    let wrong = api
        .send(
            Method::GET,
            "/api/v1/user/me",
            None,
            None,
            Some("not-the-token"),
        )
        .await;
    wrong.expect_error(401, 6, "invalid or expired access token");
    assert!(!wrong.body.to_string().contains("not-the-token"));

    let basic = api
        .http
        .get(api.url("/api/v1/user/me"))
        .basic_auth("sandbox-user", Some("sandbox-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    let body: Value = basic.json().await.unwrap();
    assert_eq!(body["error"], "only Bearer access tokens are accepted");
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405_in_the_envelope() {
    let api = start(Timing::INSTANT).await;
    api.get("/api/v1/nowhere").await.expect_error(
        404,
        4,
        "no API7 Cloud endpoint at /api/v1/nowhere",
    );
    let r = api.delete("/api/v1/user/me").await;
    r.expect_error(405, 8, "DELETE is not allowed on /api/v1/user/me");
    assert!(r.headers["allow"].to_str().unwrap().contains("GET"));
    api.call(
        Method::POST,
        "/api/v1/apps/1/canary_releases/2",
        Some(json!({})),
    )
    .await
    .expect_error(405, 8, "POST is not allowed");
}

#[tokio::test]
async fn applications_are_created_read_listed_replaced_patched_and_deleted() {
    let api = start(Timing::INSTANT).await;
    let app = api.create_app(checkout()).await;
    let id = id_of(&app);
    let n: u64 = id.parse().unwrap();
    assert!(
        n > (1u64 << 53),
        "ids are beyond f64's exact integers: {id}"
    );
    assert_ne!((n as f64) as u64, n, "an f64 cannot hold {id}");
    assert_eq!(app["cluster_id"], "2001");
    assert_eq!(app["name"], "checkout");
    assert_eq!(app["status"], 50);
    assert_eq!(app["active"], 0);
    assert_eq!(app["protocols"], json!(["HTTPS"]));
    assert_eq!(app["default_upstream_version"], "v1");
    assert_eq!(app["canary_release_id"], json!([]));
    assert_eq!(app["canary_upstream_version_list"], json!([]));
    assert_eq!(app["available_cert_ids"], json!([]));
    // Defaults filled into the upstreams.
    assert_eq!(app["upstreams"][1]["upstream"]["lb_type"], "roundrobin");
    assert_eq!(app["upstreams"][0]["upstream"]["targets"][0]["weight"], 100);
    assert!(app["created_at"].as_str().unwrap().ends_with('Z'));

    // Defaults when optional fields are absent.
    let minimal = api
        .create_app(json!({
            "name": "minimal", "hosts": ["m.test"], "path_prefix": "/",
            "upstreams": [{"upstream": {"targets": [{"host": "m", "port": 80}]}}],
            "protocol": "HTTPS"
        }))
        .await;
    assert_eq!(minimal["default_upstream_version"], "default");
    assert_eq!(minimal["upstreams"][0]["version"], "default");
    assert_eq!(minimal["upstreams"][0]["upstream"]["scheme"], "http");
    assert_eq!(minimal["protocols"], json!(["HTTPS"]));
    assert_eq!(minimal["description"], "");
    assert_eq!(minimal["labels"], json!([]));

    let got = api.get(&format!("/api/v1/clusters/2001/apps/{id}")).await;
    assert_eq!(got.expect_ok()["hosts"], json!(["checkout.acme.test"]));

    // Filters.
    let by_search = api.get("/api/v1/clusters/2001/apps?search=CHECK").await;
    assert_eq!(ids(by_search.expect_ok()), vec![id.clone()]);
    let by_label = api.get("/api/v1/clusters/2001/apps?labels=payments").await;
    assert_eq!(ids(by_label.expect_ok()), vec![id.clone()]);
    let by_name = api
        .get("/api/v1/clusters/2001/apps?order_by=name&direction=asc")
        .await;
    let names: Vec<&str> = by_name.expect_ok()["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["checkout", "minimal"]);

    // PUT replaces the whole object; management fields in the body are ignored.
    let mut body = got.payload().clone();
    body["description"] = json!("renamed");
    body["labels"] = json!(["payments", "eu"]);
    body["status"] = json!(100);
    let put = api
        .put(&format!("/api/v1/clusters/2001/apps/{id}"), body)
        .await;
    assert_eq!(put.expect_ok()["description"], "renamed");
    assert_eq!(put.payload()["labels"], json!(["payments", "eu"]));
    assert_eq!(put.payload()["status"], 50);
    assert_eq!(put.payload()["id"], id.as_str());

    // PATCH {"active": 1} unpublishes (what the SDK's Unpublish sends).
    let patched = api
        .patch(
            &format!("/api/v1/clusters/2001/apps/{id}"),
            json!({"active": 1}),
        )
        .await;
    assert_eq!(patched.expect_ok()["active"], 1);
    assert_eq!(patched.payload()["description"], "renamed");
    let unpublished = api.get("/api/v1/clusters/2001/apps?active=1").await;
    assert_eq!(ids(unpublished.expect_ok()), vec![id.clone()]);
    let published = api.get("/api/v1/clusters/2001/apps?active=0").await;
    assert_eq!(published.expect_ok()["count"], 1);
    api.get("/api/v1/clusters/2001/apps?active=2")
        .await
        .expect_error(400, 2, "active in query should be one of [-1 0 1]");

    let deleted = api
        .delete(&format!("/api/v1/clusters/2001/apps/{id}"))
        .await;
    deleted.expect_ok();
    assert!(deleted.body.get("payload").is_none());
    api.get(&format!("/api/v1/clusters/2001/apps/{id}"))
        .await
        .expect_error(404, 4, &format!("application {id} not found"));
    api.delete("/api/v1/clusters/2001/apps").await.expect_ok();
    assert_eq!(
        api.get("/api/v1/clusters/2001/apps").await.expect_ok()["count"],
        0
    );
}

#[tokio::test]
async fn application_bodies_are_validated_as_documented() {
    let api = start(Timing::INSTANT).await;
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut b = checkout();
        edit(&mut b);
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("name");
            }),
            "name in body is required",
        ),
        (
            with(&|b| b["name"] = json!("")),
            "name in body should be at least 1 chars long",
        ),
        (
            with(&|b| b["name"] = json!("n".repeat(65))),
            "name in body should be at most 64 chars long",
        ),
        (
            with(&|b| b["description"] = json!("d".repeat(257))),
            "description in body should be at most 256 chars long",
        ),
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("hosts");
            }),
            "hosts in body is required",
        ),
        (
            with(&|b| b["hosts"] = json!([])),
            "hosts in body should have at least 1 items",
        ),
        (
            with(&|b| b["hosts"] = json!(["a.test", "a.test"])),
            "hosts in body shouldn't contain duplicates",
        ),
        (
            with(&|b| b["path_prefix"] = json!("checkout")),
            "path_prefix in body should match '^/'",
        ),
        (
            with(&|b| b["path_prefix"] = json!(format!("/{}", "p".repeat(4096)))),
            "path_prefix in body should be at most 4096 chars long",
        ),
        (
            with(&|b| b["protocols"] = json!([])),
            "protocols in body should have at least 1 items",
        ),
        (
            with(&|b| b["protocols"] = json!(["HTTP", "HTTPS", "HTTP"])),
            "protocols in body should have at most 2 items",
        ),
        (
            with(&|b| b["protocols"] = json!(["HTTP", "HTTP"])),
            "protocols in body shouldn't contain duplicates",
        ),
        (
            with(&|b| b["protocols"] = json!(["FTP"])),
            "protocols.0 in body should be one of [HTTP HTTPS]",
        ),
        (
            with(&|b| b["protocol"] = json!("GOPHER")),
            "protocol in body should be one of [HTTP HTTPS]",
        ),
        (
            with(&|b| b["upstreams"] = json!([])),
            "upstreams in body should have at least 1 items",
        ),
        (
            with(&|b| {
                b["upstreams"] = json!((0..11).map(|i| json!({"version": format!("v{i}"), "upstream": {"targets": [{"host": "h", "port": 1}]}})).collect::<Vec<_>>())
            }),
            "upstreams in body should have at most 10 items",
        ),
        (
            with(&|b| b["upstreams"][1]["version"] = json!("v1")),
            "upstreams.1.version in body should be unique",
        ),
        (
            with(&|b| b["upstreams"][0]["upstream"]["targets"] = json!([])),
            "upstreams.0.upstream.targets in body is required",
        ),
        (
            with(&|b| b["upstreams"][0]["upstream"]["targets"][0]["port"] = json!(0)),
            "upstreams.0.upstream.targets.0.port in body should be greater than or equal to 1",
        ),
        (
            with(&|b| b["upstreams"][0]["upstream"]["targets"][0]["port"] = json!(70000)),
            "upstreams.0.upstream.targets.0.port in body should be less than or equal to 65535",
        ),
        (
            with(&|b| b["upstreams"][0]["upstream"]["scheme"] = json!("ftp")),
            "upstreams.0.upstream.scheme in body should be one of [http https]",
        ),
        (
            with(&|b| b["upstreams"][0]["upstream"]["lb_type"] = json!("random")),
            "upstreams.0.upstream.lb_type in body should be one of [roundrobin consistent_hash ewma least_conn]",
        ),
        (
            with(&|b| b["default_upstream_version"] = json!("v".repeat(65))),
            "default_upstream_version in body should be at most 64 chars long",
        ),
        (
            with(&|b| b["default_upstream_version"] = json!("v3")),
            "default_upstream_version in body should be one of the upstream versions [v1 v2]",
        ),
        (
            with(&|b| b["labels"] = json!((0..33).map(|i| format!("l{i}")).collect::<Vec<_>>())),
            "labels in body should have at most 32 items",
        ),
        (
            with(&|b| b["labels"] = json!(["l".repeat(33)])),
            "labels.0 in body should be at most 32 chars long",
        ),
        (
            with(&|b| b["labels"] = json!(["bad label"])),
            "labels.0 in body should match '^[0-9a-zA-Z-_]+$'",
        ),
        (
            with(&|b| b["labels"] = json!(["a", "a"])),
            "labels in body shouldn't contain duplicates",
        ),
        (
            with(&|b| b["active"] = json!(2)),
            "active in body should be one of [0 1]",
        ),
        (
            with(&|b| b["active"] = json!(true)),
            "active in body must be of type integer: \"boolean\"",
        ),
        (
            with(&|b| b["plugins"] = json!("cors")),
            "plugins in body must be of type object: \"string\"",
        ),
    ];
    for (body, needle) in cases {
        api.post("/api/v1/clusters/2001/apps", body)
            .await
            .expect_error(400, 2, needle);
    }
    // Several failures come back together.
    let many = api
        .post(
            "/api/v1/clusters/2001/apps",
            json!({"name": "", "path_prefix": "x"}),
        )
        .await;
    many.expect_error(400, 2, "validation failure list:\n");
    for needle in [
        "name in body should be at least 1 chars long",
        "hosts in body is required",
        "path_prefix in body should match '^/'",
        "upstreams in body is required",
    ] {
        assert!(many.error().contains(needle), "{}", many.error());
    }
    // Malformed bodies.
    let raw = api
        .http
        .post(api.url("/api/v1/clusters/2001/apps"))
        .bearer_auth(TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let body: Value = raw.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("request body is not valid JSON")
    );
    api.post("/api/v1/clusters/2001/apps", json!([1]))
        .await
        .expect_error(400, 2, "request body must be a JSON object, not array");
    api.call(Method::POST, "/api/v1/clusters/2001/apps", None)
        .await
        .expect_error(400, 2, "request body is required");
    // Nothing was created by any of these.
    assert_eq!(
        api.get("/api/v1/clusters/2001/apps").await.expect_ok()["count"],
        0
    );
}

#[tokio::test]
async fn duplicate_names_conflict_with_409() {
    let api = start(Timing::INSTANT).await;
    let first = api.create_app(checkout()).await;
    api.post("/api/v1/clusters/2001/apps", checkout())
        .await
        .expect_error(
            409,
            3,
            "application name \"checkout\" already exists in cluster 2001",
        );
    let r = api.post("/api/v1/clusters/2001/apps", checkout()).await;
    assert_eq!(r.body["status"]["message"], "already exists");

    // Renaming another application onto a taken name conflicts too.
    let mut other = checkout();
    other["name"] = json!("other");
    let other = api.create_app(other).await;
    api.patch(
        &format!("/api/v1/clusters/2001/apps/{}", id_of(&other)),
        json!({"name": "checkout"}),
    )
    .await
    .expect_error(409, 3, &id_of(&first));

    let apis = format!("/api/v1/apps/{}/apis", id_of(&first));
    let api_body = json!({"name": "get-order", "paths": [{"path": "/orders/"}]});
    api.post(&apis, api_body.clone()).await.expect_ok();
    api.post(&apis, api_body)
        .await
        .expect_error(409, 3, "API name \"get-order\" already exists");

    let consumer = json!({"name": "jack"});
    api.post("/api/v1/clusters/2001/consumers", consumer.clone())
        .await
        .expect_ok();
    api.post("/api/v1/clusters/2001/consumers", consumer)
        .await
        .expect_error(409, 3, "consumer name \"jack\" already exists");
}

#[tokio::test]
async fn apis_need_the_cluster_header_and_follow_their_application() {
    let api = start(Timing::INSTANT).await;
    let app = api.create_app(checkout()).await;
    let app_id = id_of(&app);
    let base = format!("/api/v1/apps/{app_id}/apis");

    // The header names the cluster of /apps/... calls.
    api.send(Method::GET, &base, None, None, Some(TOKEN))
        .await
        .expect_error(400, 2, "X-API7-Cloud-Gateway-Cluster-ID header is required");
    api.send(Method::GET, &base, None, Some("abc"), Some(TOKEN))
        .await
        .expect_error(400, 2, "in header should match");
    api.send(Method::GET, &base, None, Some("2002"), Some(TOKEN))
        .await
        .expect_error(404, 4, "cluster 2002 not found");
    api.send(
        Method::GET,
        "/api/v1/clusters/2001/apps",
        None,
        Some("2003"),
        Some(TOKEN),
    )
    .await
    .expect_error(
        400,
        2,
        "header names cluster 2003 but the path names cluster 2001",
    );
    // Without the header a cluster path still works: the path names the cluster.
    api.send(
        Method::GET,
        "/api/v1/clusters/2001/apps",
        None,
        None,
        Some(TOKEN),
    )
    .await
    .expect_ok();
    api.get("/api/v1/apps/12345/apis")
        .await
        .expect_error(404, 4, "application 12345 not found");

    let created = api
        .post(
            &base,
            json!({
                "name": "create-order", "methods": ["POST"], "strip_path_prefix": true,
                "paths": [{"path": "/orders", "path_type": "Exact"}], "labels": ["orders"]
            }),
        )
        .await;
    let created = created.expect_ok().clone();
    let api_id = id_of(&created);
    assert_eq!(created["app_id"], app_id.as_str());
    assert_eq!(created["type"], "Rest");
    assert_eq!(created["active"], 0);
    assert_eq!(created["strip_path_prefix"], true);
    assert_eq!(
        created["paths"],
        json!([{"path": "/orders", "path_type": "Exact"}])
    );
    let second = api
        .post(
            &base,
            json!({"name": "get-order", "paths": [{"path": "/orders/"}]}),
        )
        .await;
    assert_eq!(second.expect_ok()["paths"][0]["path_type"], "Prefix");
    assert_eq!(second.payload()["methods"], json!([]));

    let list = api.get(&format!("{base}?labels=orders")).await;
    assert_eq!(ids(list.expect_ok()), vec![api_id.clone()]);
    assert_eq!(api.get(&base).await.expect_ok()["count"], 2);

    let one = format!("{base}/{api_id}");
    let mut body = api.get(&one).await.expect_ok().clone();
    body["methods"] = json!(["POST", "PUT"]);
    body["type"] = json!("WebSocket");
    let put = api.put(&one, body).await;
    assert_eq!(put.expect_ok()["methods"], json!(["POST", "PUT"]));
    assert_eq!(put.payload()["type"], "WebSocket");
    let patched = api.patch(&one, json!({"active": 1})).await;
    assert_eq!(patched.expect_ok()["active"], 1);
    assert_eq!(patched.payload()["methods"], json!(["POST", "PUT"]));

    // Validation.
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"paths": [{"path": "/x"}]}),
            "name in body is required",
        ),
        (
            json!({"name": "n".repeat(65), "paths": [{"path": "/x"}]}),
            "name in body should be at most 64 chars long",
        ),
        (json!({"name": "a"}), "paths in body is required"),
        (
            json!({"name": "a", "paths": []}),
            "paths in body should have at least 1 items",
        ),
        (
            json!({"name": "a", "paths": (0..65).map(|i| json!({"path": format!("/{i}")})).collect::<Vec<_>>()}),
            "paths in body should have at most 64 items",
        ),
        (
            json!({"name": "a", "paths": [{"path": "x"}]}),
            "paths.0.path in body should match '^/'",
        ),
        (
            json!({"name": "a", "paths": [{"path": "/x", "path_type": "Regex"}]}),
            "paths.0.path_type in body should be one of [Prefix Exact]",
        ),
        (
            json!({"name": "a", "paths": [{"path": "/x"}], "type": "GraphQL"}),
            "type in body should be one of [Rest WebSocket]",
        ),
        (
            json!({"name": "a", "paths": [{"path": "/x"}], "methods": ["FETCH"]}),
            "methods.0 in body should be one of [GET POST PUT DELETE PATCH HEAD OPTIONS CONNECT TRACE]",
        ),
        (
            json!({"name": "a", "paths": [{"path": "/x"}], "description": "d".repeat(257)}),
            "description in body should be at most 256 chars long",
        ),
        (
            json!({"name": "a", "paths": [{"path": "/x"}], "active": 3}),
            "active in body should be one of [0 1]",
        ),
        (
            json!({"name": "a", "paths": [{"path": "/x"}], "fine_grained_route_control": {"enabled": true, "logical_relationship": "Some"}}),
            "fine_grained_route_control.logical_relationship in body should be one of [All Any]",
        ),
        (
            json!({"name": "a", "paths": [{"path": "/x"}], "fine_grained_route_control": {"expressions": [{"subject": "body", "operator": "equal"}]}}),
            "fine_grained_route_control.expressions.0.subject in body should be one of [header query cookie path variable]",
        ),
    ];
    for (body, needle) in cases {
        api.post(&base, body).await.expect_error(400, 2, needle);
    }

    // An application with APIs is only deleted with cascade=true, and takes its APIs along.
    let app_path = format!("/api/v1/clusters/2001/apps/{app_id}");
    api.delete(&app_path)
        .await
        .expect_error(400, 2, "still has 2 API(s)");
    api.delete(&one).await.expect_ok();
    api.get(&one).await.expect_error(404, 4, "API");
    api.delete(&format!("{app_path}?cascade=yes"))
        .await
        .expect_error(400, 2, "cascade in query must be of type boolean");
    api.delete(&format!("{app_path}?cascade=true"))
        .await
        .expect_ok();
    api.get(&base).await.expect_error(404, 4, "application");

    // Delete all APIs of an application.
    let app2 = id_of(&api.create_app(checkout()).await);
    let base2 = format!("/api/v1/apps/{app2}/apis");
    api.post(&base2, json!({"name": "a", "paths": [{"path": "/a"}]}))
        .await
        .expect_ok();
    api.delete(&base2).await.expect_ok();
    assert_eq!(api.get(&base2).await.expect_ok()["count"], 0);
}

#[tokio::test]
async fn canary_releases_start_step_pause_and_finish() {
    let api = start(Timing::INSTANT).await;
    let app = api.create_app(checkout()).await;
    let app_path = format!("/api/v1/clusters/2001/apps/{}", id_of(&app));
    let base = format!("/api/v1/apps/{}/canary_releases", id_of(&app));
    let release = |state: &str, percent: i64| {
        json!({"name": "checkout-v2", "state": state, "type": "percent",
               "canary_upstream_version": "v2", "percent": percent})
    };

    // Validation.
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"type": "percent", "canary_upstream_version": "v2", "percent": 10}),
            "name in body is required",
        ),
        (
            json!({"name": "c", "canary_upstream_version": "v2", "percent": 10}),
            "type in body is required",
        ),
        (
            json!({"name": "c", "type": "weighted", "canary_upstream_version": "v2"}),
            "type in body should be one of [percent rule]",
        ),
        (
            json!({"name": "c", "type": "percent", "percent": 10}),
            "canary_upstream_version in body is required",
        ),
        (
            json!({"name": "c", "type": "percent", "canary_upstream_version": "v2", "percent": 0}),
            "percent in body should be greater than or equal to 1",
        ),
        (
            json!({"name": "c", "type": "percent", "canary_upstream_version": "v2", "percent": 101}),
            "percent in body should be less than or equal to 100",
        ),
        (
            json!({"name": "c", "type": "percent", "canary_upstream_version": "v2"}),
            "percent in body is required for a percent canary release",
        ),
        (
            json!({"name": "c", "type": "rule", "canary_upstream_version": "v2"}),
            "expressions in body is required for a rule canary release",
        ),
        (
            json!({"name": "c", "type": "percent", "canary_upstream_version": "v9", "percent": 5}),
            "should be one of the application's upstream versions [v1 v2]",
        ),
        (
            json!({"name": "c", "type": "percent", "canary_upstream_version": "v1", "percent": 5}),
            "is the application's default_upstream_version",
        ),
        (
            json!({"name": "c", "state": "done", "type": "percent", "canary_upstream_version": "v2", "percent": 5}),
            "state in body should be one of [paused in_progress finished]",
        ),
        (
            release("finished", 10),
            "cannot be created in state finished",
        ),
    ];
    for (body, needle) in cases {
        api.post(&base, body).await.expect_error(400, 2, needle);
    }

    // Created without a state: paused. The app lists the version, not the release id.
    let mut body = release("", 10);
    body.as_object_mut().unwrap().remove("state");
    let created = api.post(&base, body).await.expect_ok().clone();
    let id = id_of(&created);
    assert_eq!(created["state"], "paused");
    assert_eq!(created["app_id"], id_of(&app).as_str());
    let app_now = api.get(&app_path).await.expect_ok().clone();
    assert_eq!(app_now["canary_upstream_version_list"], json!(["v2"]));
    assert_eq!(app_now["canary_release_id"], json!([]));

    // One open release per version.
    let mut rival = release("paused", 5);
    rival["name"] = json!("rival");
    api.post(&base, rival)
        .await
        .expect_error(409, 3, "already has an open canary release");
    api.post(&base, release("paused", 5)).await.expect_error(
        409,
        3,
        "canary release name \"checkout-v2\" already exists",
    );

    // Start (PUT of the whole object, as the SDK's StartCanaryRelease does).
    let one = format!("{base}/{id}");
    let mut whole = created.clone();
    whole["state"] = json!("in_progress");
    let started = api.put(&one, whole).await;
    assert_eq!(started.expect_ok()["state"], "in_progress");
    let app_now = api.get(&app_path).await.expect_ok().clone();
    assert_eq!(app_now["canary_release_id"], json!([id.clone()]));
    assert_eq!(app_now["canary_upstream_version_list"], json!(["v2"]));

    // Next step, then pause, then resume.
    assert_eq!(
        api.put(&one, release("in_progress", 50)).await.expect_ok()["percent"],
        50
    );
    assert_eq!(
        api.put(&one, release("paused", 50)).await.expect_ok()["state"],
        "paused"
    );
    assert_eq!(
        api.get(&app_path).await.expect_ok()["canary_release_id"],
        json!([])
    );
    api.put(&one, release("in_progress", 100)).await.expect_ok();

    // The application cannot drop the version an open release uses.
    let mut app_body = checkout();
    app_body["upstreams"].as_array_mut().unwrap().pop();
    api.put(&app_path, app_body).await.expect_error(
        400,
        2,
        "upstream version \"v2\" is used by canary release",
    );

    // Promote, then finish: the version may now be the default.
    api.patch(&app_path, json!({"default_upstream_version": "v2"}))
        .await
        .expect_ok();
    let finished = api.put(&one, release("finished", 100)).await;
    assert_eq!(finished.expect_ok()["state"], "finished");
    let app_now = api.get(&app_path).await.expect_ok().clone();
    assert_eq!(app_now["canary_release_id"], json!([]));
    assert_eq!(app_now["canary_upstream_version_list"], json!([]));
    // A retried finish is harmless; anything else on a finished release is refused.
    api.put(&one, release("finished", 100)).await.expect_ok();
    api.put(&one, release("in_progress", 100))
        .await
        .expect_error(400, 2, "is finished and cannot be changed");

    // A rule release, created in progress, listed and deleted.
    api.patch(&app_path, json!({"default_upstream_version": "v1"}))
        .await
        .expect_ok();
    let rule = api
        .post(
            &base,
            json!({"name": "beta-users", "state": "in_progress", "type": "rule",
                   "canary_upstream_version": "v2",
                   "expressions": [{"subject": "header", "name": "x-beta", "operator": "equal", "value": "1"}]}),
        )
        .await;
    let rule_id = id_of(rule.expect_ok());
    let list = api
        .get(&format!("{base}?order_by=created_at&direction=ASC"))
        .await;
    assert_eq!(ids(list.expect_ok()), vec![id.clone(), rule_id.clone()]);
    assert_eq!(
        api.get(&app_path).await.expect_ok()["canary_release_id"],
        json!([rule_id.clone()])
    );
    api.delete(&format!("{base}/{rule_id}")).await.expect_ok();
    api.get(&format!("{base}/{rule_id}"))
        .await
        .expect_error(404, 4, "canary release");
}

#[tokio::test]
async fn lists_page_count_and_order() {
    let api = start(Timing::INSTANT).await;
    for i in 0..25 {
        api.post(
            "/api/v1/clusters/2001/consumers",
            json!({"name": format!("consumer_{i:02}"), "labels": [if i % 2 == 0 { "even" } else { "odd" }]}),
        )
        .await
        .expect_ok();
    }
    let mut seen = Vec::new();
    for (page, size) in [(1, 10), (2, 10), (3, 5)] {
        let r = api
            .get(&format!("/api/v1/clusters/2001/consumers?page={page}&page_size=10&order_by=name&direction=ASC"))
            .await;
        let list = r.expect_ok();
        assert_eq!(list["count"], 25);
        assert_eq!(list["list"].as_array().unwrap().len(), size);
        seen.extend(
            list["list"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string()),
        );
    }
    let expected: Vec<String> = (0..25).map(|i| format!("consumer_{i:02}")).collect();
    assert_eq!(seen, expected);
    let past = api.get("/api/v1/clusters/2001/consumers?page=4").await;
    assert_eq!(past.expect_ok()["list"], json!([]));
    assert_eq!(past.payload()["count"], 25);

    // Default: 10 per page, newest first.
    let default = api.get("/api/v1/clusters/2001/consumers").await;
    assert_eq!(default.expect_ok()["list"].as_array().unwrap().len(), 10);
    assert_eq!(default.payload()["list"][0]["name"], "consumer_24");

    let even = api
        .get("/api/v1/clusters/2001/consumers?labels=even&page_size=100")
        .await;
    assert_eq!(even.expect_ok()["count"], 13);

    api.get("/api/v1/clusters/2001/consumers?page=0")
        .await
        .expect_error(400, 2, "page in query should be greater than or equal to 1");
    api.get("/api/v1/clusters/2001/consumers?page_size=ten")
        .await
        .expect_error(400, 2, "page_size in query must be of type int64");
    api.get("/api/v1/clusters/2001/consumers?order_by=id")
        .await
        .expect_error(
            400,
            2,
            "order_by in query should be one of [created_at updated_at name]",
        );
    api.get("/api/v1/clusters/2001/consumers?direction=up")
        .await
        .expect_error(400, 2, "direction in query should be one of [ASC DESC]");
}

#[tokio::test]
async fn consumers_are_validated_and_managed() {
    let api = start(Timing::INSTANT).await;
    let base = "/api/v1/clusters/2001/consumers";
    for (body, needle) in [
        (json!({}), "name in body is required"),
        (
            json!({"name": "jack smith"}),
            "name in body should match '^[a-zA-Z0-9_]+$'",
        ),
        (
            json!({"name": "j".repeat(101)}),
            "name in body should be at most 100 chars long",
        ),
        (
            json!({"name": "jack", "description": "d".repeat(257)}),
            "description in body should be at most 256 chars long",
        ),
        (
            json!({"name": "jack", "credentials": "key"}),
            "credentials in body must be of type object",
        ),
    ] {
        api.post(base, body).await.expect_error(400, 2, needle);
    }
    let jack = api
        .post(base, json!({"name": "jack", "credentials": {"key_auth": {"key": "k"}}, "credentials_extra": 1}))
        .await;
    let id = id_of(jack.expect_ok());
    assert_eq!(jack.payload()["cluster_id"], "2001");
    let one = format!("{base}/{id}");
    let put = api
        .put(
            &one,
            json!({"name": "jack", "description": "most important", "credentials": null}),
        )
        .await;
    assert_eq!(put.expect_ok()["description"], "most important");
    assert_eq!(put.payload()["credentials"], Value::Null);
    let patched = api.patch(&one, json!({"labels": ["vip"]})).await;
    assert_eq!(patched.expect_ok()["labels"], json!(["vip"]));
    assert_eq!(patched.payload()["description"], "most important");
    api.get(&one).await.expect_ok();
    api.delete(&one).await.expect_ok();
    api.get(&one).await.expect_error(404, 4, "consumer");
}

#[tokio::test]
async fn certificates_answer_their_details_never_the_key() {
    let api = start(Timing::INSTANT).await;
    let base = "/api/v1/clusters/2001/certificates";
    let created = api
        .post(
            base,
            json!({"certificate": CERT, "private_key": KEY, "labels": ["shop"]}),
        )
        .await;
    let cert = created.expect_ok().clone();
    let id = id_of(&cert);
    assert_eq!(cert["type"], "Server");
    assert_eq!(
        cert["snis"],
        json!(["checkout.acme.test", "*.shop.acme.test"])
    );
    assert_eq!(cert["subject"], "CN=checkout.acme.test,O=Acme,C=US");
    assert_eq!(cert["issuer"], "CN=checkout.acme.test,O=Acme,C=US");
    assert_eq!(cert["serial_number"], "1234567890123456789012");
    assert_eq!(cert["signature_algorithm"], "ECDSA-SHA256");
    assert_eq!(cert["not_before"], "2026-11-24T01:30:22Z");
    assert_eq!(cert["not_after"], "2036-11-21T01:30:22Z");
    let text = created.body.to_string();
    assert!(!text.contains("PRIVATE KEY") && !text.contains("BEGIN CERTIFICATE"));

    // An application on a covered host lists the certificate.
    let app = api.create_app(checkout()).await;
    assert_eq!(app["available_cert_ids"], json!([id.clone()]));
    let mut wild = checkout();
    wild["name"] = json!("wild");
    wild["hosts"] = json!(["eu.shop.acme.test"]);
    assert_eq!(
        api.create_app(wild).await["available_cert_ids"],
        json!([id.clone()])
    );

    // PUT answers the details under "Metadata", as API7 Cloud does.
    let one = format!("{base}/{id}");
    let put = api
        .put(
            &one,
            json!({"certificate": CERT, "private_key": KEY, "type": "Client"}),
        )
        .await;
    assert_eq!(
        put.expect_ok()["Metadata"]["serial_number"],
        "1234567890123456789012"
    );
    assert_eq!(put.payload()["type"], "Client");
    assert!(put.payload().get("snis").is_none());
    let got = api.get(&one).await;
    assert_eq!(got.expect_ok()["snis"][0], "checkout.acme.test");

    let search = api.get(&format!("{base}?search=shop.acme")).await;
    assert_eq!(ids(search.expect_ok()), vec![id.clone()]);

    // A Client certificate can secure an upstream, and is then kept.
    let mut secured = checkout();
    secured["name"] = json!("secured");
    secured["upstreams"][0]["upstream"]["client_cert_id"] = json!(id.clone());
    let secured = api.create_app(secured).await;
    api.delete(&one).await.expect_error(
        400,
        2,
        &format!("is used by application {}", id_of(&secured)),
    );
    let mut bad_ref = checkout();
    bad_ref["name"] = json!("bad-ref");
    bad_ref["upstreams"][0]["upstream"]["client_cert_id"] = json!("999999");
    api.post("/api/v1/clusters/2001/apps", bad_ref)
        .await
        .expect_error(400, 2, "certificate 999999 not found in cluster 2001");

    for (body, needle) in [
        (
            json!({"private_key": KEY}),
            "certificate in body is required",
        ),
        (
            json!({"certificate": "short", "private_key": KEY}),
            "certificate in body should be at least 128 chars long",
        ),
        (
            json!({"certificate": "x".repeat(200), "private_key": KEY}),
            "certificate in body is not a valid certificate",
        ),
        (
            json!({"certificate": CERT, "private_key": CERT}),
            "private_key in body is not a valid private key",
        ),
        (
            json!({"certificate": CERT, "private_key": KEY, "type": "Both"}),
            "type in body should be one of [Server Client]",
        ),
        (
            json!({"certificate": CERT, "private_key": KEY, "ca_certificate": "c".repeat(65537)}),
            "ca_certificate in body should be at most 65536 chars long",
        ),
    ] {
        api.post(base, body).await.expect_error(400, 2, needle);
    }
    // The key never shows up in an error either.
    let bad_key = api
        .post(base, json!({"certificate": CERT, "private_key": format!("{}{}", "k".repeat(150), "secret-material")}))
        .await;
    assert!(!bad_key.error().contains("secret-material"));
}

#[tokio::test]
async fn openapi_documents_import_as_applications_with_apis() {
    let api = start(Timing::INSTANT).await;
    let doc = "openapi: 3.0.1
info:
  title: inventory
  version: 1.0.0
servers:
  - url: http://inventory.internal:8080
paths:
  /items:
    get:
      operationId: listItems
      responses:
        200:
          description: Items in stock
  /items/{id}:
    get:
      summary: One item
      responses:
        \"200\":
          description: An item
    delete:
      responses:
        \"204\":
          description: Gone
";
    let r = api
        .post(
            "/api/v1/clusters/2001/apps/openapi",
            json!({"openapi": doc}),
        )
        .await;
    r.expect_ok();
    assert!(
        r.body.get("payload").is_none(),
        "the import answers without a payload"
    );

    let found = api.get("/api/v1/clusters/2001/apps?search=inventory").await;
    let list = found.expect_ok();
    assert_eq!(list["count"], 1);
    let app = &list["list"][0];
    assert_eq!(app["name"], "inventory");
    assert_eq!(app["path_prefix"], "/");
    assert_eq!(app["hosts"], json!(["*"]));
    assert_eq!(app["active"], 0);
    assert_eq!(
        app["upstreams"][0]["upstream"]["targets"][0],
        json!({"host": "inventory.internal", "port": 8080, "weight": 100})
    );
    let apis = api
        .get(&format!(
            "/api/v1/apps/{}/apis?order_by=name&direction=ASC",
            id_of(app)
        ))
        .await;
    let apis = apis.expect_ok()["list"].as_array().unwrap().clone();
    let summary: Vec<(String, Value, Value)> = apis
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["methods"].clone(),
                a["paths"][0].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "DELETE /items/{id}".into(),
                json!(["DELETE"]),
                json!({"path": "/items/", "path_type": "Prefix"})
            ),
            (
                "GET /items/{id}".into(),
                json!(["GET"]),
                json!({"path": "/items/", "path_type": "Prefix"})
            ),
            (
                "listItems".into(),
                json!(["GET"]),
                json!({"path": "/items", "path_type": "Exact"})
            ),
        ]
    );

    // Importing the same title again conflicts; broken documents are refused.
    api.post(
        "/api/v1/clusters/2001/apps/openapi",
        json!({"openapi": doc}),
    )
    .await
    .expect_error(409, 3, "application name \"inventory\" already exists");
    api.post("/api/v1/clusters/2001/apps/openapi", json!({}))
        .await
        .expect_error(400, 2, "openapi in body is required");
    api.post(
        "/api/v1/clusters/2001/apps/openapi",
        json!({"openapi": "a: [b"}),
    )
    .await
    .expect_error(400, 2, "openapi in body is not valid JSON or YAML");
    api.post(
        "/api/v1/clusters/2001/apps/openapi",
        json!({"openapi": "{\"hello\": 1}"}),
    )
    .await
    .expect_error(400, 2, "not an OpenAPI 3.x or Swagger 2.0 document");
    api.post(
        "/api/v1/clusters/2001/apps/openapi",
        json!({"openapi": "{\"openapi\": \"3.0.0\", \"info\": {\"title\": \"t\"}, \"paths\": {}}"}),
    )
    .await
    .expect_error(400, 2, "names no server");
    // Swagger 2.0 in JSON, with a base path.
    let swagger = json!({"swagger": "2.0", "info": {"title": "legacy"}, "host": "legacy.internal",
        "basePath": "/v1", "schemes": ["https"], "paths": {"/ping": {"get": {}}}})
    .to_string();
    api.post(
        "/api/v1/clusters/2001/apps/openapi",
        json!({"openapi": swagger}),
    )
    .await
    .expect_ok();
    let legacy = api.get("/api/v1/clusters/2001/apps?search=legacy").await;
    let legacy = &legacy.expect_ok()["list"][0];
    assert_eq!(legacy["path_prefix"], "/v1");
    assert_eq!(legacy["upstreams"][0]["upstream"]["scheme"], "https");
    assert_eq!(
        legacy["upstreams"][0]["upstream"]["targets"][0]["port"],
        443
    );
}

#[tokio::test]
async fn clusters_and_entities_move_through_their_states_over_time() {
    let step = Duration::from_millis(200);
    let api = start(Timing { step }).await;
    assert_eq!(
        api.admin(
            Method::POST,
            "/_sandbox/failures",
            json!({"match": "doomed"})
        )
        .await,
        StatusCode::NO_CONTENT
    );
    let edge = api
        .post("/api/v1/orgs/1001/clusters", json!({"name": "edge"}))
        .await;
    let edge_id = id_of(edge.expect_ok());
    assert_eq!(edge.payload()["status"], 1, "pending");
    let doomed = api
        .post("/api/v1/orgs/1001/clusters", json!({"name": "doomed-eu"}))
        .await;
    let doomed_id = id_of(doomed.expect_ok());
    api.post("/api/v1/orgs/1001/clusters", json!({"name": "edge"}))
        .await
        .expect_error(409, 3, "cluster \"edge\" already exists");

    // Applications: Uninitialized (0) right after a write, Normal (50) one step later; a name
    // marked to fail never gets there.
    let app = api.create_app(checkout()).await;
    assert_eq!(app["status"], 0);
    let mut doomed_app = checkout();
    doomed_app["name"] = json!("doomed-app");
    let doomed_app = api.create_app(doomed_app).await;

    // Writes into a cluster that is not normal yet are refused.
    let mut elsewhere = checkout();
    elsewhere["name"] = json!("elsewhere");
    api.send(
        Method::POST,
        &format!("/api/v1/clusters/{edge_id}/apps"),
        Some(elsewhere.clone()),
        None,
        Some(TOKEN),
    )
    .await
    .expect_error(400, 2, "is not ready: its status is 1 (pending)");

    tokio::time::sleep(step + Duration::from_millis(40)).await;
    assert_eq!(api.cluster_status(&edge_id).await, 2, "creating");
    let app_path = format!("/api/v1/clusters/2001/apps/{}", id_of(&app));
    assert_eq!(api.get(&app_path).await.expect_ok()["status"], 50);
    let doomed_path = format!("/api/v1/clusters/2001/apps/{}", id_of(&doomed_app));
    assert_eq!(api.get(&doomed_path).await.expect_ok()["status"], 0);

    tokio::time::sleep(step).await;
    assert_eq!(api.cluster_status(&edge_id).await, 3, "normal");
    assert_eq!(api.cluster_status(&doomed_id).await, 4, "create failed");
    api.send(
        Method::POST,
        &format!("/api/v1/clusters/{edge_id}/apps"),
        Some(elsewhere.clone()),
        None,
        Some(TOKEN),
    )
    .await
    .expect_ok();
    api.send(
        Method::POST,
        &format!("/api/v1/clusters/{doomed_id}/apps"),
        Some(elsewhere),
        None,
        Some(TOKEN),
    )
    .await
    .expect_error(400, 2, "its status is 4 (create failed)");
    assert_eq!(api.get(&doomed_path).await.expect_ok()["status"], 0);

    // An update restarts delivery.
    let patched = api.patch(&app_path, json!({"description": "again"})).await;
    assert_eq!(patched.expect_ok()["status"], 0);
}

impl Api {
    /// A cluster's `status` (asked without the header: the path names the cluster).
    async fn cluster_status(&self, id: &str) -> i64 {
        let r = self
            .send(
                Method::GET,
                &format!("/api/v1/clusters/{id}"),
                None,
                None,
                Some(TOKEN),
            )
            .await;
        r.expect_ok()["status"].as_i64().unwrap()
    }
}

#[tokio::test]
async fn cluster_settings_and_plugins_are_patched() {
    let api = start(Timing::INSTANT).await;
    let r = api
        .patch(
            "/api/v1/clusters/2001/config",
            json!({"client_settings": {"client_real_ip": {"enabled": true}}}),
        )
        .await;
    r.expect_ok();
    assert!(r.body.get("payload").is_none());
    let r = api
        .patch(
            "/api/v1/clusters/2001/plugins",
            json!({"acl": {"allow": ["10.0.0.0/8"]}}),
        )
        .await;
    r.expect_ok();
    let cluster = api.get("/api/v1/clusters/2001").await;
    let c = cluster.expect_ok();
    assert_eq!(
        c["settings"]["client_settings"],
        json!({"client_real_ip": {"enabled": true}})
    );
    assert_eq!(
        c["settings"]["observability_settings"]["metrics"]["enabled"],
        true
    );
    assert_eq!(c["policies"], json!({"acl": {"allow": ["10.0.0.0/8"]}}));
    assert_eq!(c["config_version"], 3);
    api.patch("/api/v1/clusters/2001/plugins", json!({"acl": null}))
        .await
        .expect_ok();
    assert_eq!(
        api.get("/api/v1/clusters/2001").await.expect_ok()["policies"],
        json!({})
    );
    api.patch(
        "/api/v1/clusters/2001/config",
        json!({"client_settings": 5}),
    )
    .await
    .expect_error(400, 2, "client_settings in body must be of type object");
}

#[tokio::test]
async fn seed_adds_organizations_clusters_and_applications() {
    let api = start(Timing::INSTANT).await;
    let seed = json!({
        "organizations": [{"id": "1002", "name": "platform"}],
        "clusters": [{"id": "2002", "org_id": "1002", "name": "staging"}],
        "applications": [{"cluster_id": "2002", "name": "legacy", "hosts": ["legacy.test"],
            "path_prefix": "/legacy",
            "upstreams": [{"version": "default", "upstream": {"targets": [{"host": "10.0.0.7", "port": 80}]}}]}]
    });
    assert_eq!(
        api.admin(Method::POST, "/_sandbox/seed", seed).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get("/api/v1/orgs/1002").await.expect_ok()["name"],
        "platform"
    );
    let me = api.get("/api/v1/user/me").await;
    assert_eq!(me.expect_ok()["org_ids"], json!(["1001", "1002"]));
    let clusters = api.get("/api/v1/orgs/1002/clusters").await;
    assert_eq!(ids(clusters.expect_ok()), vec!["2002".to_string()]);
    let apps = api
        .send(
            Method::GET,
            "/api/v1/clusters/2002/apps",
            None,
            Some("2002"),
            Some(TOKEN),
        )
        .await;
    assert_eq!(apps.expect_ok()["list"][0]["name"], "legacy");

    // Bad seeds are refused whole.
    for bad in [
        json!({"organizations": [{"id": "1003", "name": "ok"}], "clusters": [{"org_id": "4040", "name": "x"}]}),
        json!({"organizations": [{"id": "1001", "name": "again"}]}),
        json!({"organizations": [{"name": "has space"}]}),
        json!({"applications": [{"name": "incomplete"}]}),
        json!({"widgets": []}),
    ] {
        assert_eq!(
            api.admin(Method::POST, "/_sandbox/seed", bad).await,
            StatusCode::BAD_REQUEST
        );
    }
    api.get("/api/v1/orgs/1003")
        .await
        .expect_error(404, 4, "organization 1003");
}

#[tokio::test]
async fn rate_limits_and_injected_faults_answer_in_the_envelope() {
    let api = start(Timing::INSTANT).await;
    assert_eq!(
        api.admin(
            Method::PUT,
            "/_sandbox/rate-limit",
            json!({"perSecond": 1, "burst": 1})
        )
        .await,
        StatusCode::OK
    );
    api.get("/api/v1/user/me").await.expect_ok();
    let limited = api.get("/api/v1/user/me").await;
    limited.expect_error(429, 7, "rate limit exceeded");
    assert_eq!(limited.body["status"]["message"], "too many requests");
    assert!(limited.headers.contains_key("retry-after"));
    api.http
        .delete(api.url("/_sandbox/rate-limit"))
        .send()
        .await
        .unwrap();

    assert_eq!(
        api.admin(Method::PUT, "/_sandbox/faults", json!({"errorRate": 1.0}))
            .await,
        StatusCode::OK
    );
    let failed = api.post("/api/v1/clusters/2001/apps", checkout()).await;
    failed.expect_error(503, 9, "service unavailable (injected)");
    assert_eq!(
        api.admin(
            Method::PUT,
            "/_sandbox/faults",
            json!({"errorRate": 1.0, "errorStatus": 500})
        )
        .await,
        StatusCode::OK
    );
    api.get("/api/v1/user/me")
        .await
        .expect_error(500, 1, "injected");
    api.admin(Method::PUT, "/_sandbox/faults", json!({})).await;
    // The failed create changed nothing.
    assert_eq!(
        api.get("/api/v1/clusters/2001/apps").await.expect_ok()["count"],
        0
    );
}
