//! GatewayApplication timeline on API7: create; the application deleted on API7 and created
//! again; a canary held at its first step (a one-hour
//! pause holds it, no race); that canary aborted; a second canary run to the end; removal.
//!
//! Helper C changes canaries (analysis, re-arming, running one again): this timeline checks
//! today's behaviour by Event reason and the release's name in each message, so that every
//! canary's Events are seen to name their own release (c-a, then c-b).

use converge_api::gateway::GatewayApplication;
use serde_json::{Value, json};

use crate::common::timeline::platform::api7;
use crate::common::timeline::*;

fn app(canary: Option<Value>) -> Value {
    let mut spec = json!({
        "connectionRef": {"name": "api7"},
        "name": "tl-checkout",
        "hosts": ["checkout.tl.test"],
        "pathPrefix": "/checkout",
        "upstreams": [
            {"version": "v1", "targets": [{"host": "v1.internal", "port": 8080}]},
            {"version": "v2", "targets": [{"host": "v2.internal", "port": 8080}]},
            {"version": "v3", "targets": [{"host": "v3.internal", "port": 8080}]}
        ],
        "defaultUpstreamVersion": "v1",
        "apis": [
            {"name": "list", "methods": ["GET"], "paths": [{"path": "/items"}]},
            {"name": "create", "methods": ["POST"], "paths": [{"path": "/items", "pathType": "Exact"}]}
        ]
    });
    if let Some(c) = canary {
        spec["canary"] = c;
    }
    manifest("GatewayApplication", "checkout", spec)
}

/// Canary c-a to v2: 20% held by a one-hour pause, then 100%; `abort` as given.
fn canary_a(abort: bool) -> Value {
    json!({"name": "c-a", "upstreamVersion": "v2", "abort": abort,
           "steps": [{"weight": 20, "pause": "1h"}, {"weight": 100}]})
}

const G: &str = "gatewayapplication.converge.dev/checkout";

/// The application's default upstream version on API7.
async fn default_version(id: &str) -> String {
    api7()
        .get_application(id)
        .await
        .unwrap()
        .spec
        .default_upstream_version
}

fn canary_of(g: &GatewayApplication) -> converge_api::gateway::CanaryStatus {
    g.status.as_ref().unwrap().canary.clone().unwrap()
}

#[tokio::test]
async fn api7_gateway_application_timeline() {
    let mut t = Timeline::start("tl-gateway-api7", &["api7"]).await;
    let p = api7();

    // 1. Create: the application and its two APIs.
    t.apply(&app(None)).await;
    let g: GatewayApplication = t.wait("checkout", "Ready", ready).await;
    assert_conditions(&g, true, "Converged", &["with 2 API(s)"]);
    let id = g.status.as_ref().unwrap().application_id.clone().unwrap();
    t.expect_events(
        G,
        &[
            (
                "Normal",
                "Created",
                "created API7 application \"tl-checkout\"",
            ),
            ("Normal", "ApiCreated", "created API list"),
            ("Normal", "ApiCreated", "created API create"),
        ],
    )
    .await;
    assert_eq!(default_version(&id).await, "v1");

    // 1b. Someone deletes the application on API7; a requested reconcile finds it gone and
    // creates it again, with a Warning that says why another create follows.
    p.delete_application(&id, true).await.unwrap();
    let ns = t.ns.clone();
    t.kubectl(
        &[
            "annotate",
            "-n",
            &ns,
            "--overwrite",
            "gatewayapplication/checkout",
            "reconcile.converge.dev/requestedAt=2026-01-01T00:00:00Z",
        ],
        None,
    )
    .await;
    let g: GatewayApplication = t
        .wait("checkout", "created again", |g: &GatewayApplication| {
            ready(g)
                && g.status
                    .as_ref()
                    .and_then(|s| s.application_id.as_deref())
                    .is_some_and(|now| now != id)
        })
        .await;
    let gone = id;
    let id = g.status.as_ref().unwrap().application_id.clone().unwrap();
    t.expect_events(
        G,
        &[
            (
                "Warning",
                "Recreating",
                &format!("API7 application \"tl-checkout\" (id {gone}) is gone; creating it again"),
            ),
            (
                "Normal",
                "Created",
                &format!("created API7 application \"tl-checkout\" (id {id})"),
            ),
            ("Normal", "ApiCreated", "created API list"),
            ("Normal", "ApiCreated", "created API create"),
            // The spec did not change: what the platform lost is drift, and said so.
            (
                "Warning",
                "DriftCorrected",
                &format!(
                    "corrected: created API7 application \"tl-checkout\" (id {id}); created API list"
                ),
            ),
        ],
    )
    .await;
    assert!(
        p.get_application(&gone).await.is_err(),
        "the old one stays gone"
    );
    assert_eq!(default_version(&id).await, "v1");
    assert_eq!(
        g.status.as_ref().unwrap().apis.len(),
        2,
        "both APIs recorded again"
    );

    // 2. Canary c-a to v2: started at 20%, held there by its one-hour pause.
    t.apply(&app(Some(canary_a(false)))).await;
    let g: GatewayApplication = t
        .wait("checkout", "canary c-a at 20%", |g: &GatewayApplication| {
            ready_reason(g, "Progressing")
                && g.status.as_ref().unwrap().canary.as_ref().is_some_and(|c| {
                    c.name.as_deref() == Some("c-a") && c.weight == 20 && c.id.is_some()
                })
        })
        .await;
    assert_conditions(
        &g,
        false,
        "Progressing",
        &["canary release c-a at step 1/2 (20%)"],
    );
    t.expect_events(
        G,
        &[(
            "Normal",
            "CanaryStarted",
            "start canary release c-a at step 1/2 (20%), sending traffic to v2",
        )],
    )
    .await;
    let release = p
        .find_canary_release_by_name(&id, "c-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(release.spec.percent, Some(20));

    // 3. c-a aborted: back to the default version; the Events name c-a.
    t.apply(&app(Some(canary_a(true)))).await;
    let g: GatewayApplication = t
        .wait("checkout", "c-a aborted", |g: &GatewayApplication| {
            ready(g) && canary_of(g).phase == "Aborted"
        })
        .await;
    assert_eq!(canary_of(&g).weight, 0);
    t.expect_events(
        G,
        &[(
            "Normal",
            "CanaryAborted",
            "abort canary release c-a at step 1/2 (20%) as spec.canary.abort asks: traffic goes back to v1",
        )],
    )
    .await;
    assert_eq!(default_version(&id).await, "v1");

    // 4. Canary c-b to v3, one step without a pause: run to the end; every Event names c-b.
    t.apply(&app(Some(json!({"name": "c-b", "upstreamVersion": "v3",
        "steps": [{"weight": 50}]}))))
        .await;
    let g: GatewayApplication = t
        .wait("checkout", "c-b promoted", |g: &GatewayApplication| {
            ready(g)
                && canary_of(g).name.as_deref() == Some("c-b")
                && canary_of(g).phase == "Promoted"
        })
        .await;
    assert_conditions(
        &g,
        true,
        "Converged",
        &["canary release c-b promoted: v3 is the default version"],
    );
    let rows = t
        .expect_events_including(
            G,
            &[
                (
                    "Normal",
                    "CanaryStarted",
                    "start canary release c-b at step 1/1 (50%), sending traffic to v3",
                ),
                (
                    "Normal",
                    "CanaryPromoted",
                    "promote canary release c-b after step 1/1 (50%): v3 becomes the default version",
                ),
            ],
        )
        .await;
    assert!(
        rows.iter().all(|r| !r.message.contains("c-a")),
        "an Event of the second canary names the first: {rows:#?}"
    );
    assert_eq!(default_version(&id).await, "v3");

    // 5. Removal.
    t.delete("gatewayapplication/checkout").await;
    t.wait_gone::<GatewayApplication>("checkout").await;
    t.expect_events(
        G,
        &[(
            "Normal",
            "Deleted",
            &format!("deleted API7 application \"tl-checkout\" (id {id})"),
        )],
    )
    .await;
    assert!(p.get_application(&id).await.is_err());
}
