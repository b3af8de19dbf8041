//! The shared client HTTP layer against a real sandbox over HTTP: budget, retries and
//! Retry-After, what is never retried, timeouts, credential rotation, metrics and redaction.

use std::time::{Duration, Instant};

use converge_platforms::{Auth, Call, ClientError, ClientMetrics, Http, HttpConfig};
use converge_sandbox::all::default_credentials;
use converge_sandbox::choreo::Choreo;
use converge_sandbox::ops::{Ops, OpsConfig};
use converge_sandbox::{Sandbox, Served, Timing, serve};

const TOKEN: &str = "sandbox-choreo-token";

async fn sandbox() -> (Sandbox<Choreo>, Served) {
    let ops = Ops::new(OpsConfig {
        accepted: default_credentials("choreo"),
        ..Default::default()
    });
    let sb = Sandbox::<Choreo>::new(ops, Timing::INSTANT, None);
    let served = serve(sb.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (sb, served)
}

fn message(_: u16, body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v["description"].as_str().map(String::from)
}

fn config(served: &Served) -> HttpConfig {
    let mut c = HttpConfig::new("choreo", format!("{}/api/v1", served.url()), message);
    c.min_retry_delay = Duration::from_millis(10);
    c.max_retry_delay = Duration::from_secs(3);
    c.requests_per_second = 1000;
    c.burst = 1000;
    c
}

fn client(served: &Served, token: &str) -> (Http, ClientMetrics) {
    let metrics = ClientMetrics::default();
    (
        Http::new(config(served), Auth::bearer(token), metrics.clone()).unwrap(),
        metrics,
    )
}

async fn faults(served: &Served, body: serde_json::Value) {
    let r = reqwest::Client::new()
        .put(format!("{}/_sandbox/faults", served.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

fn organizations() -> Call {
    Call::get("listOrganizations", "/organizations")
}

fn create_project() -> Call {
    Call::post("createProject", "/organizations/acme/projects")
        .json(&serde_json::json!({"name": "p"}))
}

#[tokio::test]
async fn a_read_is_retried_through_5xx_until_it_succeeds() {
    let (_, s) = sandbox().await;
    let (http, metrics) = client(&s, TOKEN);
    faults(&s, serde_json::json!({"failNext": 2})).await;
    let orgs: serde_json::Value = http.json(organizations()).await.unwrap();
    assert_eq!(orgs["list"][0]["id"], "acme");
    assert_eq!(metrics.count("choreo", "listOrganizations", "503"), 2);
    assert_eq!(metrics.count("choreo", "listOrganizations", "200"), 1);
}

#[tokio::test]
async fn a_create_is_never_resent_blindly() {
    let (sb, s) = sandbox().await;
    let (http, metrics) = client(&s, TOKEN);
    faults(&s, serde_json::json!({"failNext": 1})).await;
    let err = http.send(create_project()).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(
        err.is_retryable(),
        "the reconciler retries it after looking up first"
    );
    assert_eq!(metrics.count("choreo", "createProject", "503"), 1);
    assert_eq!(
        sb.ops()
            .counts()
            .get("POST /api/v1/organizations/{orgId}/projects"),
        Some(&1)
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (sb, s) = sandbox().await;
    let (http, metrics) = client(&s, TOKEN);
    sb.ops()
        .set_rate_limit(Some(converge_sandbox::ops::RateLimit {
            per_second: 1,
            burst: 1,
        }));
    http.send(organizations()).await.unwrap();
    let t = Instant::now();
    http.send(organizations()).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "retried before Retry-After: {:?}",
        t.elapsed()
    );
    assert_eq!(metrics.count("choreo", "listOrganizations", "429"), 1);
}

#[tokio::test]
async fn a_retry_after_beyond_the_ceiling_is_handed_to_the_caller() {
    let (_, s) = sandbox().await;
    let (http, metrics) = client(&s, TOKEN);
    faults(
        &s,
        serde_json::json!({"throttleRate": 1.0, "retryAfterSeconds": 30}),
    )
    .await;
    let t = Instant::now();
    let err = http.send(organizations()).await.unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "it waited instead of handing back: {:?}",
        t.elapsed()
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(err.metric_label(), "throttled");
    assert_eq!(metrics.count("choreo", "listOrganizations", "429"), 1);
}

#[tokio::test]
async fn the_budget_spaces_requests() {
    let (_, s) = sandbox().await;
    let mut c = config(&s);
    c.requests_per_second = 5;
    c.burst = 5;
    let http = Http::new(c, Auth::bearer(TOKEN), ClientMetrics::default()).unwrap();
    let t = Instant::now();
    // 5 from the full bucket, then 5 more at 5 per second: at least ~1 s.
    for _ in 0..10 {
        http.send(organizations()).await.unwrap();
    }
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn the_budget_is_shared_by_clones() {
    let (_, s) = sandbox().await;
    let mut c = config(&s);
    c.requests_per_second = 4;
    c.burst = 4;
    let http = Http::new(c, Auth::bearer(TOKEN), ClientMetrics::default()).unwrap();
    let t = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let h = http.clone();
            tokio::spawn(async move { h.send(organizations()).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn a_slow_platform_times_out_as_a_retryable_transport_error() {
    let (_, s) = sandbox().await;
    let mut c = config(&s);
    c.timeout = Duration::from_millis(200);
    c.max_retries = 1;
    let metrics = ClientMetrics::default();
    let http = Http::new(c, Auth::bearer(TOKEN), metrics.clone()).unwrap();
    faults(&s, serde_json::json!({"latencyMs": 1000})).await;
    let err = http.send(organizations()).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Transport { timeout: true, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(
        metrics.count("choreo", "listOrganizations", "timeout"),
        2,
        "one attempt and one retry"
    );
}

#[tokio::test]
async fn a_malformed_body_is_a_decode_error_and_a_read_is_tried_again() {
    let (_, s) = sandbox().await;
    let (http, metrics) = client(&s, TOKEN);
    faults(&s, serde_json::json!({"malformedRate": 1.0})).await;
    let err = http
        .json::<serde_json::Value>(organizations())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Decode { .. }), "{err:?}");
    assert_eq!(metrics.count("choreo", "listOrganizations", "200"), 2);
}

#[tokio::test]
async fn a_rotated_credential_is_used_from_the_next_request() {
    let (_, s) = sandbox().await;
    let (http, _) = client(&s, "stale-token-123");
    let err = http.send(organizations()).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(
        err.message().contains("Invalid Credentials"),
        "the platform's own message: {err}"
    );
    assert!(!err.is_retryable());
    http.set_auth(Auth::bearer(TOKEN));
    http.send(organizations()).await.unwrap();
}

#[tokio::test]
async fn no_error_or_debug_output_shows_the_credential() {
    let (_, s) = sandbox().await;
    let secret = "very-secret-token-4711";
    let (http, _) = client(&s, secret);
    let mut seen = vec![];
    seen.push(http.send(organizations()).await.unwrap_err());
    faults(&s, serde_json::json!({"latencyMs": 500})).await;
    let mut c = config(&s);
    c.timeout = Duration::from_millis(100);
    c.max_retries = 0;
    let slow = Http::new(c, Auth::bearer(secret), ClientMetrics::default()).unwrap();
    seen.push(slow.send(organizations()).await.unwrap_err());
    let unreachable = Http::new(
        HttpConfig::new("choreo", "http://127.0.0.1:9/api/v1", message),
        Auth::basic("user", secret),
        ClientMetrics::default(),
    )
    .unwrap();
    seen.push(
        unreachable
            .send(organizations().never_repeat())
            .await
            .unwrap_err(),
    );
    for e in &seen {
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains(secret), "credential in {text}");
        }
    }
    assert_eq!(format!("{:?}", Auth::bearer(secret)), "Bearer([redacted])");
    assert_eq!(
        Auth::bearer(secret).redact(&format!("echo {secret}!")),
        "echo [redacted]!"
    );
}

#[tokio::test]
async fn bad_configuration_is_refused_up_front() {
    let bad_url = Http::new(
        HttpConfig::new("choreo", "not a url", message),
        Auth::bearer(TOKEN),
        ClientMetrics::default(),
    );
    assert!(matches!(bad_url, Err(ClientError::Config { .. })));
    let mut c = HttpConfig::new("choreo", "https://example.test", message);
    c.ca_bundle_pem =
        Some(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".to_vec());
    let err = Http::new(c, Auth::bearer(TOKEN), ClientMetrics::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("CA bundle"), "{err}");
}

#[tokio::test]
async fn metrics_are_exported_with_their_names() {
    let (_, s) = sandbox().await;
    let (http, metrics) = client(&s, TOKEN);
    http.send(organizations()).await.unwrap();
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(text.contains(r#"converge_platform_requests_total{platform="choreo",operation="listOrganizations",status="200"} 1"#), "{text}");
    assert!(
        text.contains("converge_platform_request_duration_seconds_count"),
        "{text}"
    );
}
