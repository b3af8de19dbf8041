//! How platform failures show on an object: a platform that keeps answering 503 leaves it
//! Reconciling with the platform's message while it retries, and it converges once the platform
//! recovers; a refusal that needs a person (a 422) sets Stalled with the platform's own words.
//!
//! Its own test binary, because the faults it injects are sandbox-wide.

mod common;

use common::converge::*;
use converge_api::project::Project;
use kube::api::Api;
use serde_json::json;

async fn set_faults(platform: &str, faults: serde_json::Value) {
    let status = reqwest::Client::new()
        .put(format!("{}/_sandbox/faults", env().sandbox(platform)))
        .json(&faults)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
}

fn project(name: &str, code: &str, project_type: &str) -> serde_json::Value {
    json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Project", "metadata": {"name": name},
           "spec": {"connectionRef": {"name": "opschain"},
                    "opschain": {"code": code, "name": name, "projectType": project_type}}})
}

#[tokio::test]
async fn retryable_failures_keep_reconciling_and_terminal_ones_stall() {
    let client = client().await;
    let ns = "faults";
    namespace(&client, ns).await;
    connect(&client, ns, "opschain").await;
    let api = Api::<Project>::namespaced(client.clone(), ns);

    set_faults("opschain", json!({"errorRate": 1.0, "errorStatus": 503})).await;
    apply(&client, ns, project("flaky", "flaky_proj", "Enterprise")).await;
    let p = wait_reason(&api, "flaky", "Reconciling", "PlatformRetrying").await;
    let message = condition(&p, "Ready").unwrap().message;
    assert!(message.contains("503"), "{message}");
    assert!(condition(&p, "Stalled").is_none());
    assert!(
        events(&client, ns, "flaky")
            .await
            .iter()
            .any(|e| e.starts_with("PlatformRetrying:"))
    );

    set_faults("opschain", json!({})).await;
    let p = wait_ready(&api, "flaky").await;
    assert!(p.status.unwrap().project_id.is_some());

    // OpsChain refuses an unknown project type with 422: nothing to retry until the spec changes.
    apply(&client, ns, project("typo", "typo_proj", "Enterprize")).await;
    let p = wait_reason(&api, "typo", "Stalled", "PlatformError").await;
    let message = condition(&p, "Stalled").unwrap().message;
    assert!(
        message.contains("HTTP 422") && message.contains("Project type is not included"),
        "OpsChain's own words: {message}"
    );
    assert!(condition(&p, "Reconciling").is_none());
}
