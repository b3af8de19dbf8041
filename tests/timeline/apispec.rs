//! ApiSpec timelines: Frends (from a ConfigMap: versions, publish, deployments requested),
//! API7 (an application and one API per operation, changed in place) and Choreo (observed,
//! never written).

use converge_api::apispec::ApiSpec;
use serde_json::{Value, json};

use crate::common::converge::env;
use crate::common::timeline::platform::{api7, choreo, frends};
use crate::common::timeline::*;

const FRENDS_CREATED: &str = "created Frends API specification";
const FRENDS_UPDATED: &str = "wrote the definition to active version";
const FRENDS_REQUESTED: &str = "requested the deployment of version";

/// An OpenAPI 3 document with one GET per path.
pub fn openapi(title: &str, server: &str, paths: &[&str], description: &str) -> String {
    let mut doc = format!(
        "openapi: 3.0.1\ninfo:\n  title: {title}\n  version: 1.0.0\n  description: {description}\nservers:\n  - url: {server}\npaths:\n"
    );
    for p in paths {
        doc.push_str(&format!(
            "  {p}:\n    get:\n      responses:\n        \"200\":\n          description: ok\n"
        ));
    }
    doc
}

pub fn config_map(name: &str, key: &str, text: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
           "data": {key: text}})
}

const S: &str = "apispec.converge.dev/pets";

fn frends_spec(groups: &[i64]) -> Value {
    manifest(
        "ApiSpec",
        "pets",
        json!({"connectionRef": {"name": "frends"},
               "definition": {"configMapKeyRef": {"name": "pets-doc", "key": "openapi.yaml"}},
               "frends": {"basePath": "/api/tl-pets/v1",
                          "publish": {"changeDescription": "Published by Converge"},
                          "deployments": groups.iter().map(|g| json!({"agentGroupId": g})).collect::<Vec<_>>()}}),
    )
}

fn status(o: &ApiSpec) -> &converge_api::apispec::ApiSpecStatus {
    o.status.as_ref().unwrap()
}

/// Create (from a ConfigMap: created, published, deployed); the ConfigMap edited (a declared
/// change: a new version published and deployed, not drift); another agent group; removal.
#[tokio::test]
async fn frends_apispec_timeline() {
    let mut t = Timeline::start("tl-apispec-frends", &["frends"]).await;
    let base = "/api/tl-pets/v1";

    // 1. Create.
    t.apply(&config_map(
        "pets-doc",
        "openapi.yaml",
        &openapi("TL Pets", base, &["/pets"], "v1"),
    ))
    .await;
    t.apply(&frends_spec(&[2])).await;
    let o: ApiSpec = t
        .wait("pets", "deployed", |o: &ApiSpec| {
            ready(o) && status(o).deployments.len() == 1
        })
        .await;
    assert_conditions(&o, true, "Converged", &[]);
    let id: i64 = status(&o).api_id.as_deref().unwrap().parse().unwrap();
    assert_eq!(status(&o).published_version, Some(1));
    t.expect_events(
        S,
        &[
            ("Normal", "Created", FRENDS_CREATED),
            ("Normal", "Published", "published version 1"),
            (
                "Normal",
                "DeploymentRequested",
                &format!("{FRENDS_REQUESTED} 1 to agent group 2"),
            ),
        ],
    )
    .await;
    let on = frends().get_specification(id).await.unwrap();
    assert_eq!((on.name.as_str(), on.active_version), ("TL Pets", 2));

    // 2. The ConfigMap edited: the person changed the declared document. A new version is
    //    written, published and deployed; no DriftCorrected.
    t.apply(&config_map(
        "pets-doc",
        "openapi.yaml",
        &openapi("TL Pets", base, &["/pets", "/owners"], "v2"),
    ))
    .await;
    let o: ApiSpec = t
        .wait("pets", "version 2 deployed", |o: &ApiSpec| {
            ready(o)
                && status(o)
                    .deployments
                    .first()
                    .is_some_and(|d| d.version == 2)
        })
        .await;
    assert_eq!(status(&o).published_version, Some(2));
    assert!(status(&o).common.inputs_hash.is_some());
    t.expect_events(
        S,
        &[
            ("Normal", "Updated", FRENDS_UPDATED),
            ("Normal", "Published", "published version 2"),
            (
                "Normal",
                "DeploymentRequested",
                &format!("{FRENDS_REQUESTED} 2 to agent group 2"),
            ),
        ],
    )
    .await;
    let description = frends().get_specification(id).await.unwrap().description;
    assert!(
        description
            .as_deref()
            .is_some_and(|d| d.starts_with("v2\n\n[managed by Converge: ApiSpec")),
        "the document's description, then the marker Converge finds it by: {description:?}"
    );

    // 3. Another agent group (the default one, 1).
    t.apply(&frends_spec(&[2, 1])).await;
    let o: ApiSpec = t
        .wait("pets", "two groups", |o: &ApiSpec| {
            ready(o) && status(o).deployments.len() == 2
        })
        .await;
    assert!(
        status(&o)
            .deployments
            .iter()
            .any(|d| (d.agent_group_id, d.version) == (1, 2))
    );
    t.expect_events(
        S,
        &[(
            "Normal",
            "DeploymentRequested",
            &format!("{FRENDS_REQUESTED} 2 to agent group 1"),
        )],
    )
    .await;

    // 4. Removal.
    t.delete("apispec/pets").await;
    t.wait_gone::<ApiSpec>("pets").await;
    t.expect_events(
        S,
        &[(
            "Normal",
            "Deleted",
            &format!("deleted Frends API specification {id}"),
        )],
    )
    .await;
    assert!(frends().find_specification(id).await.unwrap().is_none());
}

fn api7_spec(doc: &str) -> Value {
    manifest(
        "ApiSpec",
        "pets",
        json!({"connectionRef": {"name": "api7"}, "definition": {"inline": doc},
               "api7": {}}),
    )
}

/// Create (an application and one API per operation); a changed document (an API added, the
/// application kept); another change (another API added, one removed); removal.
#[tokio::test]
async fn api7_apispec_timeline() {
    let mut t = Timeline::start("tl-apispec-api7", &["api7"]).await;
    let server = "https://pets.tl.test";
    let app_of = |o: &ApiSpec| status(o).api_id.clone().unwrap();
    let apis_of = |id: String| async move {
        let mut names: Vec<String> = api7()
            .list_apis(&id, &Default::default())
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.spec.name)
            .collect();
        names.sort();
        names
    };

    // 1. Create.
    t.apply(&api7_spec(&openapi(
        "TL API7 Pets",
        server,
        &["/pets"],
        "v1",
    )))
    .await;
    let mut o: ApiSpec = t.wait("pets", "Ready", ready).await;
    assert_conditions(&o, true, "Converged", &["TL API7 Pets"]);
    let id = app_of(&o);
    t.expect_events(
        S,
        &[
            (
                "Normal",
                "Created",
                &format!("created API7 application \"TL API7 Pets\" (id {id})"),
            ),
            (
                "Normal",
                "ApiChanged",
                "created API \"GET /pets\" (GET /pets) in API7 application \"TL API7 Pets\"",
            ),
        ],
    )
    .await;
    assert_eq!(
        api7().get_application(&id).await.unwrap().spec.name,
        "TL API7 Pets"
    );
    assert_eq!(apis_of(id.clone()).await, ["GET /pets"]);

    // 2. and 3. Changed documents: the same application, its APIs changed in place.
    for (step, paths, event, want) in [
        (
            2,
            &["/pets", "/owners"][..],
            (
                "ApiChanged",
                "created API \"GET /owners\" (GET /owners) in API7 application \"TL API7 Pets\"",
            ),
            &["GET /owners", "GET /pets"][..],
        ),
        (
            3,
            &["/pets", "/vets"][..],
            (
                "ApiChanged",
                "created API \"GET /vets\" (GET /vets) in API7 application \"TL API7 Pets\"",
            ),
            &["GET /pets", "GET /vets"][..],
        ),
    ] {
        let hash = status(&o).definition_hash.clone();
        t.apply(&api7_spec(&openapi(
            "TL API7 Pets",
            server,
            paths,
            &format!("v{step}"),
        )))
        .await;
        o = t
            .wait("pets", "the changed document", |o: &ApiSpec| {
                ready(o) && status(o).definition_hash != hash
            })
            .await;
        assert_eq!(app_of(&o), id, "step {step}: the application is kept");
        let mut expected = vec![("Normal", event.0, event.1)];
        if step == 3 {
            expected.push((
                "Normal",
                "ApiChanged",
                "deleted API \"GET /owners\" from API7 application \"TL API7 Pets\" (no longer in the definition)",
            ));
        }
        t.expect_events_including(S, &expected).await;
        assert_eq!(apis_of(id.clone()).await, want, "step {step}");
    }

    // 4. Removal.
    t.delete("apispec/pets").await;
    t.wait_gone::<ApiSpec>("pets").await;
    t.expect_events(
        S,
        &[(
            "Normal",
            "Deleted",
            &format!("deleted API7 application {id}"),
        )],
    )
    .await;
    assert!(api7().get_application(&id).await.is_err());
}

/// Observed only: create; another version; an API that does not exist (Stalled) and then
/// does; removal. Nothing is ever written to Choreo, and no Event claims a write.
#[tokio::test]
async fn choreo_apispec_timeline() {
    let mut t = Timeline::start("tl-apispec-choreo", &["choreo"]).await;
    let seed = |name: &str, version: &str, status: &str| {
        json!({"apis": [{"orgId": "acme", "name": name, "version": version,
                         "status": status, "visibility": "Organization"}]})
    };
    let http = reqwest::Client::new();
    let admin = format!("{}/_sandbox/seed", env().sandbox("choreo"));
    for (v, s) in [("v1", "Created"), ("v2", "Published")] {
        let r = http
            .post(&admin)
            .json(&seed("TL Ledger API", v, s))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let observe = |name: &str, version: &str| {
        manifest(
            "ApiSpec",
            "ledger",
            json!({"connectionRef": {"name": "choreo"},
                   "choreo": {"name": name, "version": version}}),
        )
    };
    let l = "apispec.converge.dev/ledger";
    let lifecycle = |o: &ApiSpec| status(o).lifecycle_status.clone().unwrap_or_default();

    // 1. Create: v1 observed.
    t.apply(&observe("TL Ledger API", "v1")).await;
    let o: ApiSpec = t.wait("ledger", "Ready", ready).await;
    assert_conditions(&o, true, "Converged", &["\"TL Ledger API\" v1", "Created"]);
    assert_eq!(lifecycle(&o), "Created");
    t.expect_events(l, &[]).await;

    // 2. v2: Published.
    t.apply(&observe("TL Ledger API", "v2")).await;
    let o: ApiSpec = t.wait("ledger", "Ready", ready).await;
    assert_conditions(
        &o,
        true,
        "Converged",
        &["\"TL Ledger API\" v2", "Published"],
    );
    t.expect_events(l, &[]).await;

    // 3. An API Choreo does not have: Stalled with a Warning; seeded on Choreo, it is observed.
    t.apply(&observe("TL Payroll API", "v1")).await;
    let o: ApiSpec = t
        .wait("ledger", "Stalled", |o: &ApiSpec| {
            ready_reason(o, "ApiNotFound")
        })
        .await;
    assert_conditions(
        &o,
        false,
        "ApiNotFound",
        &["Choreo has no API \"TL Payroll API\""],
    );
    t.expect_events(l, &[("Warning", "ApiNotFound", "TL Payroll API")])
        .await;
    let r = http
        .post(&admin)
        .json(&seed("TL Payroll API", "v1", "Published"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let o: ApiSpec = t.wait("ledger", "Ready", ready).await;
    assert_conditions(&o, true, "Converged", &["\"TL Payroll API\" v1"]);
    t.expect_events(l, &[]).await;
    let id = status(&o).api_id.clone().unwrap();

    // 4. Removal: nothing to delete on Choreo, and nothing claims otherwise.
    t.delete("apispec/ledger").await;
    t.wait_gone::<ApiSpec>("ledger").await;
    t.expect_events(l, &[]).await;
    assert!(choreo().get_api(&id).await.is_ok());
}
