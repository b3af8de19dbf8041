//! Project on a real apiserver against the Cycloid, OpsChain and Choreo sandboxes: create,
//! update, drift, deletion policies, adoption, references, suspend and ObserveOnly, and a create
//! interrupted before its status write.

mod common;

use std::time::Duration;

use common::converge::*;
use converge_api::project::Project;
use converge_platforms::PlatformClient;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

fn project(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "converge.dev/v1alpha1", "kind": "Project",
        "metadata": {"name": name}, "spec": spec,
    })
}

fn cycloid(name: &str, canonical: &str, extra: Value) -> Value {
    let mut spec = json!({
        "connectionRef": {"name": "cycloid"}, "driftInterval": "5s",
        "cycloid": {
            "canonical": canonical, "name": "Shop", "configRepositoryCanonical": "acme-config",
            "environments": [{"canonical": "staging"}, {"canonical": "prod", "name": "Production"}]
        }
    });
    merge(&mut spec, extra);
    project(name, spec)
}

fn cycloid_client() -> converge_platforms::cycloid::CycloidClient {
    match env().platform_client("cycloid") {
        PlatformClient::Cycloid(c) => c,
        _ => unreachable!(),
    }
}

fn opschain_client() -> converge_platforms::opschain::OpsChainClient {
    match env().platform_client("opschain") {
        PlatformClient::OpsChain(c) => c,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn cycloid_project_converges_follows_updates_corrects_drift_and_is_deleted() {
    let env = env();
    let client = client().await;
    let ns = "proj-cycloid";
    namespace(&client, ns).await;
    connect(&client, ns, "cycloid").await;
    let api = Api::<Project>::namespaced(client.clone(), ns);
    apply(&client, ns, cycloid("shop", "shop-life", json!({}))).await;

    let p = wait_ready(&api, "shop").await;
    let status = p.status.unwrap();
    assert_eq!(status.project_id.as_deref(), Some("shop-life"));
    assert_eq!(status.environment_count, Some(2));
    assert_eq!(status.common.pending_create, None);
    let cy = cycloid_client();
    let on_platform = cy.get_project("shop-life").await.unwrap().unwrap();
    assert_eq!(on_platform.name, "Shop");
    let envs = cy.list_environments("shop-life").await.unwrap();
    assert_eq!(envs.len(), 2);
    assert!(
        envs.iter()
            .any(|e| e.canonical == "prod" && e.name.as_deref() == Some("Production"))
    );

    // Update: a new name, one environment removed, one added.
    apply(
        &client,
        ns,
        cycloid(
            "shop",
            "shop-life",
            json!({"cycloid": {"name": "Shop 2", "environments": [{"canonical": "staging"}, {"canonical": "qa"}]}}),
        ),
    )
    .await;
    wait_ready(&api, "shop").await;
    assert_eq!(
        cy.get_project("shop-life").await.unwrap().unwrap().name,
        "Shop 2"
    );
    let mut canonicals: Vec<_> = cy
        .list_environments("shop-life")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.canonical)
        .collect();
    canonicals.sort();
    assert_eq!(canonicals, ["qa", "staging"]);

    // Drift made by someone else on Cycloid is corrected, with an Event.
    let current = cy.get_project("shop-life").await.unwrap().unwrap();
    let mut update = converge_platforms::cycloid::UpdateProject::from_current(&current);
    update.name = "Renamed by hand".into();
    cy.update_project("shop-life", &update).await.unwrap();
    let drift = wait_event(&client, ns, "shop", "DriftCorrected").await;
    assert!(drift.contains("Renamed by hand"), "{drift}");
    assert_eq!(
        cy.get_project("shop-life").await.unwrap().unwrap().name,
        "Shop 2"
    );

    // At rest, drift checks read but never write.
    let writes = env.writes("cycloid", "shop-life").await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(env.writes("cycloid", "shop-life").await, writes);

    delete_and_wait(&api, "shop").await;
    assert!(cy.get_project("shop-life").await.unwrap().is_none());
    assert!(
        events(&client, ns, "shop")
            .await
            .iter()
            .any(|e| e.starts_with("Deleted:"))
    );
}

#[tokio::test]
async fn opschain_project_converges_and_orphan_leaves_it() {
    let client = client().await;
    let ns = "proj-opschain";
    namespace(&client, ns).await;
    connect(&client, ns, "opschain").await;
    let api = Api::<Project>::namespaced(client.clone(), ns);
    let spec = |name: &str| {
        project(
            "bank",
            json!({
                "connectionRef": {"name": "opschain"}, "driftInterval": "5s",
                "deletionPolicy": "Orphan",
                "opschain": {"code": "bank_orphan", "name": name, "projectType": "Enterprise",
                    "environments": [{"code": "dev"}, {"code": "prod", "name": "Production", "description": "live"}]}
            }),
        )
    };
    apply(&client, ns, spec("Bank")).await;
    let p = wait_ready(&api, "bank").await;
    let status = p.status.unwrap();
    let oc = opschain_client();
    let on_platform = oc.get_project("bank_orphan").await.unwrap().unwrap();
    assert_eq!(status.project_id.as_deref(), Some(on_platform.id.as_str()));
    assert_eq!(on_platform.project_type, "Enterprise");
    let envs = oc.list_environments("bank_orphan").await.unwrap();
    let prod = envs.iter().find(|e| e.code == "prod").unwrap();
    assert_eq!(prod.description.as_deref(), Some("live"));
    assert_eq!(
        status
            .environments
            .iter()
            .find(|e| e.name == "prod")
            .unwrap()
            .id
            .as_deref(),
        Some(prod.id.as_str())
    );

    apply(&client, ns, spec("Bank 2")).await;
    wait_ready(&api, "bank").await;
    assert_eq!(
        oc.get_project("bank_orphan").await.unwrap().unwrap().name,
        "Bank 2"
    );

    // An environment archived by hand is declared, so it comes back.
    oc.archive_environment("bank_orphan", "dev").await.unwrap();
    wait_event(&client, ns, "bank", "DriftCorrected").await;
    let dev = oc
        .get_environment("bank_orphan", "dev")
        .await
        .unwrap()
        .unwrap();
    assert!(!dev.archived);

    delete_and_wait(&api, "bank").await;
    let kept = oc.get_project("bank_orphan").await.unwrap().unwrap();
    assert!(
        !kept.archived,
        "deletionPolicy Orphan leaves the project as it was"
    );
    assert!(
        events(&client, ns, "bank")
            .await
            .iter()
            .any(|e| e.starts_with("Orphaned:"))
    );
}

#[tokio::test]
async fn an_existing_project_is_adopted_only_when_the_spec_says_so() {
    let env = env();
    let client = client().await;
    let ns = "proj-adopt";
    namespace(&client, ns).await;
    connect(&client, ns, "cycloid").await;
    let api = Api::<Project>::namespaced(client.clone(), ns);
    let cy = cycloid_client();
    cy.create_project(&converge_platforms::cycloid::NewProject {
        canonical: "theirs".into(),
        name: "Theirs".into(),
        description: None,
        owner: None,
        config_repository_canonical: "acme-config".into(),
        team_canonical: None,
        color: None,
        icon: None,
    })
    .await
    .unwrap();
    // Other tests write projects in parallel: count only writes under this canonical and
    // refused creates (a create of "theirs" would be answered 409).
    let writes_before = env.writes("cycloid", "/projects/theirs").await;
    let refused_before = refused_project_creates(env).await;

    apply(&client, ns, cycloid("theirs", "theirs", json!({}))).await;
    let p = wait_reason(&api, "theirs", "Stalled", "AlreadyExistsNotAdopted").await;
    let message = condition(&p, "Stalled").unwrap().message;
    assert!(
        message.contains("adoptionPolicy: Adopt") && message.contains("externalId"),
        "{message}"
    );
    assert_eq!(
        (
            env.writes("cycloid", "/projects/theirs").await,
            refused_project_creates(env).await
        ),
        (writes_before, refused_before),
        "nothing is written to a project Converge does not own"
    );

    apply(
        &client,
        ns,
        cycloid("theirs", "theirs", json!({"adoptionPolicy": "Adopt"})),
    )
    .await;
    let p = wait_ready(&api, "theirs").await;
    assert_eq!(p.status.unwrap().project_id.as_deref(), Some("theirs"));
    assert_eq!(
        cy.get_project("theirs").await.unwrap().unwrap().name,
        "Shop"
    );
    assert_eq!(
        cy.list_projects()
            .await
            .unwrap()
            .iter()
            .filter(|p| p.canonical == "theirs")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_project_waits_for_its_connection_then_converges() {
    let client = client().await;
    let ns = "proj-waits";
    namespace(&client, ns).await;
    let api = Api::<Project>::namespaced(client.clone(), ns);
    apply(
        &client,
        ns,
        project(
            "later",
            json!({"connectionRef": {"name": "opschain"},
                   "opschain": {"code": "later_proj", "name": "Later", "projectType": "Enterprise"}}),
        ),
    )
    .await;
    let p = wait_reason(&api, "later", "Reconciling", "WaitingForReference").await;
    assert!(
        condition(&p, "Ready")
            .unwrap()
            .message
            .contains("PlatformConnection \"opschain\""),
    );
    connect(&client, ns, "opschain").await;
    let p = wait_ready(&api, "later").await;
    assert!(p.status.unwrap().project_id.is_some());
}

#[tokio::test]
async fn suspend_and_observe_only_write_nothing_but_report() {
    let env = env();
    let client = client().await;
    let ns = "proj-hold";
    namespace(&client, ns).await;
    connect(&client, ns, "cycloid").await;
    let api = Api::<Project>::namespaced(client.clone(), ns);
    apply(&client, ns, cycloid("held", "held-proj", json!({}))).await;
    wait_ready(&api, "held").await;
    let writes = env.writes("cycloid", "held-proj").await;

    apply(
        &client,
        ns,
        cycloid(
            "held",
            "held-proj",
            json!({"suspend": true, "cycloid": {"name": "Not yet"}}),
        ),
    )
    .await;
    let p = wait_reason(&api, "held", "Ready", "Suspended").await;
    let ready = condition(&p, "Ready").unwrap();
    assert_eq!(ready.status, "False");
    assert!(ready.message.contains("Not yet"), "{}", ready.message);

    apply(
        &client,
        ns,
        cycloid(
            "held",
            "held-proj",
            json!({"suspend": false, "managementPolicy": "ObserveOnly", "cycloid": {"name": "Not yet"}}),
        ),
    )
    .await;
    let p = wait_reason(&api, "held", "Ready", "Observed").await;
    assert!(condition(&p, "Ready").unwrap().message.contains("Not yet"));
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        env.writes("cycloid", "held-proj").await,
        writes,
        "held: no write"
    );
    assert_eq!(
        cycloid_client()
            .get_project("held-proj")
            .await
            .unwrap()
            .unwrap()
            .name,
        "Shop"
    );

    apply(
        &client,
        ns,
        cycloid(
            "held",
            "held-proj",
            json!({"managementPolicy": "Manage", "cycloid": {"name": "Not yet"}}),
        ),
    )
    .await;
    wait_ready(&api, "held").await;
    assert_eq!(
        cycloid_client()
            .get_project("held-proj")
            .await
            .unwrap()
            .unwrap()
            .name,
        "Not yet"
    );
}

/// Cycloid project creates the sandbox refused as duplicates (409).
async fn refused_project_creates(env: &Env) -> usize {
    let calls: Vec<Value> = reqwest::get(format!("{}/_sandbox/calls", env.sandbox("cycloid")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    calls
        .iter()
        .filter(|c| {
            c["method"] == "POST"
                && c["path"].as_str().is_some_and(|p| p.ends_with("/projects"))
                && c["status"] == 409
        })
        .count()
}

#[tokio::test]
async fn a_create_interrupted_before_its_status_write_is_recognised_not_duplicated() {
    let env = env();
    let client = client().await;
    let ns = "proj-crash";
    namespace(&client, ns).await;
    connect(&client, ns, "cycloid").await;
    let api = Api::<Project>::namespaced(client.clone(), ns);
    // Suspended, the controller writes nothing; then the state a crash leaves behind: the
    // pending create recorded, the project created on Cycloid, its id never written.
    apply(
        &client,
        ns,
        cycloid("crash", "crash-proj", json!({"suspend": true})),
    )
    .await;
    wait_reason(&api, "crash", "Ready", "Suspended").await;
    // Written as the controller writes status: server-side apply by the "converge" manager.
    api.patch_status(
        "crash",
        &PatchParams::apply("converge").force(),
        &Patch::Apply(&json!({
            "apiVersion": "converge.dev/v1alpha1", "kind": "Project",
            "status": {"pendingCreate": "crash-proj"}
        })),
    )
    .await
    .unwrap();
    cycloid_client()
        .create_project(&converge_platforms::cycloid::NewProject {
            canonical: "crash-proj".into(),
            name: "Shop".into(),
            description: None,
            owner: None,
            config_repository_canonical: "acme-config".into(),
            team_canonical: None,
            color: None,
            icon: None,
        })
        .await
        .unwrap();
    // Other tests of this binary create Cycloid projects meanwhile, so count only this one's:
    // writes under its canonical, and refused creates (crash-proj exists: a second create of
    // it would be answered 409).
    let ours = env.writes("cycloid", "crash-proj").await;
    let refused = refused_project_creates(env).await;

    apply(
        &client,
        ns,
        cycloid("crash", "crash-proj", json!({"suspend": false})),
    )
    .await;
    let p = wait_ready(&api, "crash").await;
    let status = p.status.unwrap();
    assert_eq!(status.project_id.as_deref(), Some("crash-proj"));
    assert_eq!(status.common.pending_create, None);
    assert!(
        !events(&client, ns, "crash")
            .await
            .iter()
            .any(|e| e.starts_with("Adopted:")),
        "its own project is not an adoption"
    );
    // Environments were created, the project was not created again.
    assert_eq!(
        env.writes("cycloid", "crash-proj").await - ours,
        2,
        "only the two environments were created"
    );
    assert_eq!(
        refused_project_creates(env).await,
        refused,
        "the project was not created again"
    );
}

#[tokio::test]
async fn choreo_project_is_created_and_left_on_choreo_when_deleted() {
    let client = client().await;
    let ns = "proj-choreo";
    namespace(&client, ns).await;
    connect(&client, ns, "choreo").await;
    let api = Api::<Project>::namespaced(client.clone(), ns);
    apply(
        &client,
        ns,
        project(
            "web",
            json!({"connectionRef": {"name": "choreo"}, "choreo": {"name": "Web Shop", "description": "storefront"}}),
        ),
    )
    .await;
    let p = wait_ready(&api, "web").await;
    let status = p.status.unwrap();
    let PlatformClient::Choreo(ch) = env().platform_client("choreo") else {
        unreachable!()
    };
    let on_choreo = ch.find_project_by_name("Web Shop").await.unwrap().unwrap();
    assert_eq!(status.project_id.as_deref(), Some(on_choreo.id.as_str()));
    let names: Vec<_> = status
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["Development", "Staging", "Production"]);

    delete_and_wait(&api, "web").await;
    assert!(ch.find_project_by_name("Web Shop").await.unwrap().is_some());
    assert!(
        events(&client, ns, "web")
            .await
            .iter()
            .any(|e| e.starts_with("LeftInPlace:") && e.contains("no operation to delete")),
    );
}

#[tokio::test]
async fn opschain_and_choreo_projects_are_adopted_only_when_asked_and_opschain_delete_archives() {
    let client = client().await;
    let ns = "proj-adopt-more";
    namespace(&client, ns).await;
    connect(&client, ns, "opschain").await;
    connect(&client, ns, "choreo").await;
    let api = Api::<Project>::namespaced(client.clone(), ns);

    // OpsChain: someone else's project with our code.
    let oc = opschain_client();
    let theirs = oc
        .create_project(&converge_platforms::opschain::NewProject {
            code: "ops_theirs".into(),
            name: "Ops Theirs".into(),
            description: None,
            project_type: "Enterprise".into(),
        })
        .await
        .unwrap();
    let spec = |extra: Value| {
        let mut spec = json!({"connectionRef": {"name": "opschain"},
            "opschain": {"code": "ops_theirs", "name": "Ops Theirs", "projectType": "Enterprise"}});
        merge(&mut spec, extra);
        project("ops", spec)
    };
    apply(&client, ns, spec(json!({}))).await;
    let p = wait_reason(&api, "ops", "Stalled", "AlreadyExistsNotAdopted").await;
    assert!(
        condition(&p, "Stalled")
            .unwrap()
            .message
            .contains(&theirs.id)
    );
    apply(&client, ns, spec(json!({"externalId": theirs.id}))).await;
    let p = wait_ready(&api, "ops").await;
    assert_eq!(p.status.unwrap().project_id, Some(theirs.id.clone()));
    // deletionPolicy Delete: OpsChain's delete archives.
    delete_and_wait(&api, "ops").await;
    assert!(
        oc.get_project("ops_theirs")
            .await
            .unwrap()
            .unwrap()
            .archived
    );

    // Choreo: someone else's project with our name.
    let PlatformClient::Choreo(ch) = env().platform_client("choreo") else {
        unreachable!()
    };
    let existing = ch
        .create_project(&converge_platforms::choreo::ProjectCreate {
            name: "Their Web".into(),
            description: None,
        })
        .await
        .unwrap();
    let choreo = |extra: Value| {
        let mut spec =
            json!({"connectionRef": {"name": "choreo"}, "choreo": {"name": "Their Web"}});
        merge(&mut spec, extra);
        project("web", spec)
    };
    apply(&client, ns, choreo(json!({}))).await;
    wait_reason(&api, "web", "Stalled", "AlreadyExistsNotAdopted").await;
    apply(&client, ns, choreo(json!({"adoptionPolicy": "Adopt"}))).await;
    let p = wait_ready(&api, "web").await;
    assert_eq!(p.status.unwrap().project_id, Some(existing.id));
    let named = ch.list_projects().await.unwrap();
    assert_eq!(named.iter().filter(|p| p.name == "Their Web").count(), 1);
}
