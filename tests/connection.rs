//! The PlatformConnection reconciler on a real apiserver against the five sandboxes: Ready with
//! what the platform reports, Stalled with the platform's own message, a rotated or created
//! Secret picked up without a restart, and credentials in no status or Event.

mod common;

use std::time::Duration;

use common::converge::{credentials, env, namespace, put_secret};
use converge_api::connection::PlatformConnection;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, PostParams};

fn connection(name: &str, platform: &str, endpoint: &str, secret: &str) -> PlatformConnection {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
        "metadata": {"name": name},
        "spec": common::converge::connection_spec(platform, endpoint, secret)
    }))
    .unwrap()
}

fn condition(
    c: &PlatformConnection,
    type_: &str,
) -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    c.status
        .as_ref()
        .and_then(|s| s.common.condition(type_))
        .cloned()
}

/// Waits until the connection satisfies `done`; returns it.
async fn wait_until(
    api: &Api<PlatformConnection>,
    name: &str,
    what: &str,
    done: impl Fn(&PlatformConnection) -> bool,
) -> PlatformConnection {
    common::converge::wait_until(api, name, what, Duration::from_secs(30), done).await
}

/// Waits until the connection's condition `type_` has `status`.
async fn wait_for(
    api: &Api<PlatformConnection>,
    name: &str,
    type_: &str,
    status: &str,
) -> PlatformConnection {
    wait_until(api, name, &format!("{type_}={status}"), |c| {
        condition(c, type_).is_some_and(|c| c.status == status)
    })
    .await
}

#[tokio::test]
async fn every_platform_connects_and_reports_what_it_checked() {
    let env = env();
    let client = common::converge::client().await;
    let ns = "conn-ready";
    namespace(&client, ns).await;
    let api = Api::<PlatformConnection>::namespaced(client.clone(), ns);
    for (platform, _, endpoint) in &env.endpoints {
        put_secret(&client, ns, platform, credentials(platform)).await;
        api.create(
            &PostParams::default(),
            &connection(platform, platform, endpoint, platform),
        )
        .await
        .unwrap();
    }
    for (platform, _, _) in &env.endpoints {
        let c = wait_for(&api, platform, "Ready", "True").await;
        let status = c.status.unwrap();
        assert_eq!(status.platform.as_deref(), Some(*platform));
        assert_eq!(status.common.observed_generation, c.metadata.generation);
        assert!(
            status.common.condition("Stalled").is_none()
                && status.common.condition("Reconciling").is_none()
        );
        if *platform == "opschain" {
            assert!(
                status.platform_version.is_some(),
                "OpsChain reports its version"
            );
        }
    }
    let text = env.metrics.encode();
    assert!(
        text.contains(r#"converge_reconciles_total{kind="PlatformConnection",result="#),
        "{text}"
    );
    assert!(
        text.contains(r#"converge_queue_depth{kind="Project"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"platform="opschain",operation="getInfo""#)
            || text.contains(r#"platform="opschain""#),
        "{text}"
    );
}

#[tokio::test]
async fn a_wrong_token_stalls_with_the_platforms_message_and_a_rotation_recovers_it() {
    let env = env();
    let client = common::converge::client().await;
    let ns = "conn-rotate";
    namespace(&client, ns).await;
    let api = Api::<PlatformConnection>::namespaced(client.clone(), ns);
    let wrong = "wrong-token-for-the-redaction-check-8812";
    put_secret(&client, ns, "creds", serde_json::json!({"token": wrong})).await;
    let endpoint = env.endpoint("choreo");
    api.create(
        &PostParams::default(),
        &connection("choreo", "choreo", endpoint, "creds"),
    )
    .await
    .unwrap();

    let c = wait_for(&api, "choreo", "Stalled", "True").await;
    let stalled = c
        .status
        .as_ref()
        .unwrap()
        .common
        .condition("Stalled")
        .unwrap()
        .clone();
    assert_eq!(stalled.reason, "AuthenticationFailed");
    assert!(
        stalled.message.contains("Invalid Credentials"),
        "the platform's own words: {}",
        stalled.message
    );

    // The rotated Secret is picked up through the Secret watch: the periodic re-check is minutes away.
    put_secret(
        &client,
        ns,
        "creds",
        serde_json::json!({"token": "sandbox-choreo-token"}),
    )
    .await;
    let c = wait_for(&api, "choreo", "Ready", "True").await;
    assert!(
        c.status
            .as_ref()
            .unwrap()
            .common
            .condition("Stalled")
            .is_none()
    );

    let events = Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    let reasons: Vec<_> = events
        .items
        .iter()
        .filter_map(|e| e.reason.clone())
        .collect();
    assert!(
        reasons.contains(&"AuthenticationFailed".to_string())
            && reasons.contains(&"Connected".to_string()),
        "{reasons:?}"
    );
    let everything = format!(
        "{:?}{:?}",
        serde_json::to_string(&c).unwrap(),
        serde_json::to_string(&events.items).unwrap()
    );
    assert!(
        !everything.contains(wrong) && !everything.contains("sandbox-choreo-token"),
        "a credential reached status or an Event"
    );
    let logs = env.logs.text();
    assert!(
        logs.contains("choreo"),
        "the controller's debug logs were captured"
    );
    assert!(
        !logs.contains(wrong) && !logs.contains("sandbox-choreo-token"),
        "a credential reached the logs"
    );
}

#[tokio::test]
async fn a_missing_secret_stalls_until_it_is_created() {
    let env = env();
    let client = common::converge::client().await;
    let ns = "conn-missing";
    namespace(&client, ns).await;
    let api = Api::<PlatformConnection>::namespaced(client.clone(), ns);
    let endpoint = env.endpoint("opschain");
    api.create(
        &PostParams::default(),
        &connection("ops", "opschain", endpoint, "later"),
    )
    .await
    .unwrap();
    let c = wait_for(&api, "ops", "Stalled", "True").await;
    let stalled = c
        .status
        .unwrap()
        .common
        .condition("Stalled")
        .unwrap()
        .clone();
    assert_eq!(stalled.reason, "CredentialsMissing");
    assert_eq!(
        stalled.message,
        "Secret \"later\" does not exist in this namespace"
    );

    put_secret(
        &client,
        ns,
        "later",
        serde_json::json!({"username": "sandbox-user"}),
    )
    .await;
    let missing_key = "Secret \"later\" has no key \"password\"";
    wait_until(&api, "ops", "stalled on the missing key", |c| {
        condition(c, "Stalled").is_some_and(|s| s.message == missing_key)
    })
    .await;

    put_secret(&client, ns, "later", credentials("opschain")).await;
    wait_for(&api, "ops", "Ready", "True").await;
}
