//! The machinery every sandbox shares, over real HTTP: authentication, the per-credential rate
//! limit, injected faults, the call log and counts, the admin surface and snapshots. A toy
//! platform defined here keeps these tests independent of any real platform's rules.

use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use converge_sandbox::ops::{Credential, Ops, OpsConfig};
use converge_sandbox::{Platform, Sandbox, Served, Timing, serve};
use serde::{Deserialize, Serialize};

struct Toy;

#[derive(Default, Serialize, Deserialize)]
struct ToyState {
    items: Vec<String>,
}

impl Platform for Toy {
    const NAME: &'static str = "toy";
    type State = ToyState;

    fn routes() -> Router<Sandbox<Self>> {
        Router::new().route("/items", get(list).post(add))
    }

    fn error(status: StatusCode, message: &str) -> Response {
        (status, Json(serde_json::json!({ "toyError": message }))).into_response()
    }

    fn default_seed(state: &mut ToyState) {
        state.items.push("seeded".into());
    }

    fn seed(state: &mut ToyState, seed: serde_json::Value) -> Result<(), String> {
        let items: Vec<String> =
            serde_json::from_value(seed["items"].clone()).map_err(|e| e.to_string())?;
        state.items.extend(items);
        Ok(())
    }
}

async fn list(State(sb): State<Sandbox<Toy>>) -> Response {
    sb.read(|s| Json(s.items.clone()).into_response())
}

async fn add(State(sb): State<Sandbox<Toy>>, body: String) -> Response {
    sb.write(|s| s.items.push(body));
    StatusCode::CREATED.into_response()
}

const TOKEN: &str = "toy-secret-token";

async fn start(
    snapshot: Option<converge_sandbox::snapshot::SnapshotFile>,
) -> (Sandbox<Toy>, Served) {
    let ops = Ops::new(OpsConfig {
        accepted: vec![Credential::bearer(TOKEN), Credential::basic("ann", "pw")],
        ..Default::default()
    });
    let sandbox = Sandbox::<Toy>::new(ops, Timing::INSTANT, snapshot);
    let served = serve(sandbox.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (sandbox, served)
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn requests_without_valid_credentials_get_the_platforms_401() {
    let (_, s) = start(None).await;
    let none = http()
        .get(format!("{}/items", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.json::<serde_json::Value>().await.unwrap()["toyError"],
        "authentication required"
    );
    let wrong = http()
        .get(format!("{}/items", s.url()))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let basic = http()
        .get(format!("{}/items", s.url()))
        .basic_auth("ann", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    let ok = http()
        .get(format!("{}/items", s.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.json::<Vec<String>>().await.unwrap(), vec!["seeded"]);
}

#[tokio::test]
async fn the_rate_limit_is_per_credential_and_answers_429_with_retry_after() {
    let (sb, s) = start(None).await;
    sb.ops()
        .set_rate_limit(Some(converge_sandbox::ops::RateLimit {
            per_second: 1,
            burst: 2,
        }));
    let get = |auth: (&'static str, &'static str)| {
        let url = format!("{}/items", s.url());
        async move {
            http()
                .get(url)
                .basic_auth(auth.0, Some(auth.1))
                .send()
                .await
                .unwrap()
        }
    };
    let bearer = || {
        http()
            .get(format!("{}/items", s.url()))
            .bearer_auth(TOKEN)
            .send()
    };
    assert_eq!(bearer().await.unwrap().status(), 200);
    assert_eq!(bearer().await.unwrap().status(), 200);
    let limited = bearer().await.unwrap();
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(
        limited.json::<serde_json::Value>().await.unwrap()["toyError"],
        "rate limit exceeded for this credential"
    );
    // Another credential has its own bucket.
    assert_eq!(get(("ann", "pw")).await.status(), 200);
    // After Retry-After the bucket has a token again.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(bearer().await.unwrap().status(), 200);
}

#[tokio::test]
async fn injected_errors_and_throttling_use_the_platform_envelope_and_change_nothing() {
    let (sb, s) = start(None).await;
    let put = |body: serde_json::Value| {
        http()
            .put(format!("{}/_sandbox/faults", s.url()))
            .json(&body)
            .send()
    };
    assert_eq!(
        put(serde_json::json!({"errorRate": 1.0, "errorStatus": 502}))
            .await
            .unwrap()
            .status(),
        200
    );
    let r = http()
        .post(format!("{}/items", s.url()))
        .bearer_auth(TOKEN)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["toyError"],
        "service unavailable (injected)"
    );
    assert_eq!(
        sb.read(|s| s.items.len()),
        1,
        "an injected 5xx must not apply the request"
    );

    put(serde_json::json!({"throttleRate": 1.0, "retryAfterSeconds": 7}))
        .await
        .unwrap();
    let r = http()
        .get(format!("{}/items", s.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");

    let bad = put(serde_json::json!({"errorRate": 2.0})).await.unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn resets_and_malformed_bodies_happen_after_the_change_took_effect() {
    let (sb, s) = start(None).await;
    http()
        .put(format!("{}/_sandbox/faults", s.url()))
        .json(&serde_json::json!({"resetRate": 1.0}))
        .send()
        .await
        .unwrap();
    let r = http()
        .post(format!("{}/items", s.url()))
        .bearer_auth(TOKEN)
        .body("kept")
        .send()
        .await;
    let outcome = match r {
        Err(e) => e.to_string(),
        Ok(resp) => match resp.bytes().await {
            Err(e) => e.to_string(),
            Ok(b) => panic!("the response arrived whole: {b:?}"),
        },
    };
    assert!(!outcome.is_empty());
    assert!(
        sb.read(|s| s.items.contains(&"kept".to_string())),
        "the change behind a reset must have happened"
    );

    http()
        .put(format!("{}/_sandbox/faults", s.url()))
        .json(&serde_json::json!({"malformedRate": 1.0}))
        .send()
        .await
        .unwrap();
    let r = http()
        .get(format!("{}/items", s.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.json::<serde_json::Value>().await.is_err(),
        "the body must not parse"
    );
}

#[tokio::test]
async fn latency_is_added_to_every_request() {
    let (_, s) = start(None).await;
    http()
        .put(format!("{}/_sandbox/faults", s.url()))
        .json(&serde_json::json!({"latencyMs": 300}))
        .send()
        .await
        .unwrap();
    let t = Instant::now();
    http()
        .get(format!("{}/items", s.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn the_call_log_counts_per_route_and_hides_secrets() {
    let (_, s) = start(None).await;
    for _ in 0..3 {
        http()
            .get(format!("{}/items", s.url()))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
    }
    http()
        .post(format!("{}/items", s.url()))
        .basic_auth("ann", Some("pw"))
        .body("x")
        .send()
        .await
        .unwrap();
    http()
        .get(format!("{}/items", s.url()))
        .send()
        .await
        .unwrap();

    let counts: serde_json::Value = http()
        .get(format!("{}/_sandbox/counts", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["GET /items"], 4);
    assert_eq!(counts["POST /items"], 1);
    let calls = http()
        .get(format!("{}/_sandbox/calls?limit=2", s.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !calls.contains(TOKEN) && !calls.contains("\"pw\""),
        "the call log leaks a secret: {calls}"
    );
    let calls: Vec<serde_json::Value> = serde_json::from_str(&calls).unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["caller"], "basic:ann");
    assert_eq!(calls[0]["status"], 201);
    assert_eq!(calls[1]["status"], 401);
    assert_eq!(calls[1]["caller"], serde_json::Value::Null);

    assert_eq!(
        http()
            .delete(format!("{}/_sandbox/calls", s.url()))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let counts: serde_json::Value = http()
        .get(format!("{}/_sandbox/counts", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts, serde_json::json!({}));
}

#[tokio::test]
async fn state_can_be_dumped_seeded_and_reset() {
    let (_, s) = start(None).await;
    let seed = http()
        .post(format!("{}/_sandbox/seed", s.url()))
        .json(&serde_json::json!({"items": ["a", "b"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(seed.status(), 204);
    let bad = http()
        .post(format!("{}/_sandbox/seed", s.url()))
        .json(&serde_json::json!({"items": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let state: serde_json::Value = http()
        .get(format!("{}/_sandbox/state", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state, serde_json::json!({"items": ["seeded", "a", "b"]}));
    http()
        .post(format!("{}/_sandbox/reset", s.url()))
        .send()
        .await
        .unwrap();
    let state: serde_json::Value = http()
        .get(format!("{}/_sandbox/state", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state, serde_json::json!({"items": ["seeded"]}));
}

#[tokio::test]
async fn failures_are_marked_by_pattern_and_cleared() {
    let (sb, s) = start(None).await;
    let r = http()
        .post(format!("{}/_sandbox/failures", s.url()))
        .json(&serde_json::json!({"match": "deadbeef"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(sb.should_fail("build of commit deadbeef1234"));
    assert!(!sb.should_fail("build of commit cafe"));
    http()
        .delete(format!("{}/_sandbox/failures", s.url()))
        .send()
        .await
        .unwrap();
    assert!(!sb.should_fail("build of commit deadbeef1234"));
}

#[tokio::test]
async fn a_snapshot_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox.json");
    {
        let file = converge_sandbox::snapshot::SnapshotFile::open(path.clone()).unwrap();
        let (_, s) = start(Some(file)).await;
        http()
            .post(format!("{}/items", s.url()))
            .bearer_auth(TOKEN)
            .body("persisted")
            .send()
            .await
            .unwrap();
    }
    let file = converge_sandbox::snapshot::SnapshotFile::open(path.clone()).unwrap();
    let (sb, _) = start(Some(file)).await;
    assert_eq!(sb.read(|s| s.items.clone()), vec!["seeded", "persisted"]);

    std::fs::write(&path, "not json").unwrap();
    let err = converge_sandbox::snapshot::SnapshotFile::open(path)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not a sandbox snapshot"), "{err}");
}

#[tokio::test]
async fn fail_next_fails_exactly_that_many_requests() {
    let (_, s) = start(None).await;
    http()
        .put(format!("{}/_sandbox/faults", s.url()))
        .json(&serde_json::json!({"failNext": 2}))
        .send()
        .await
        .unwrap();
    let status = || async {
        http()
            .get(format!("{}/items", s.url()))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(status().await, 503);
    assert_eq!(status().await, 503);
    assert_eq!(status().await, 200);
    let faults: serde_json::Value = http()
        .get(format!("{}/_sandbox/faults", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["failNext"], 0);
}
