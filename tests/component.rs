//! Component on a real apiserver against the Choreo and Cycloid sandboxes: create, build and
//! rollout, new revisions, drift made through the platforms' own APIs, deletion policies,
//! adoption, references, suspend and ObserveOnly, and a build request interrupted by a crash.

mod common;

use std::time::Duration;

use common::converge::*;
use converge_api::component::Component;
use converge_api::project::Project;
use converge_platforms::PlatformClient;
use converge_platforms::choreo::{
    BuildCreate, ChoreoClient, ComponentCreate, ComponentType, DeploymentCreate,
};
use converge_platforms::cycloid::{
    ComponentPath, CycloidClient, EventFilter, NewComponent, UpdateComponent,
};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

const DEVELOPMENT: &str = "415e10e6-c436-4f40-98c9-48b68e2eff7e";

fn object(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "converge.dev/v1alpha1", "kind": kind,
        "metadata": {"name": name}, "spec": spec,
    })
}

fn choreo_project(name: &str, choreo_name: &str) -> Value {
    object(
        "Project",
        name,
        json!({"connectionRef": {"name": "choreo"}, "deletionPolicy": "Orphan",
               "choreo": {"name": choreo_name}}),
    )
}

fn choreo_component(name: &str, project: &str, choreo: Value, extra: Value) -> Value {
    let mut spec = json!({
        "connectionRef": {"name": "choreo"}, "projectRef": {"name": project},
        "driftInterval": "5s", "choreo": choreo,
    });
    merge(&mut spec, extra);
    object("Component", name, spec)
}

fn cycloid_project(name: &str, canonical: &str) -> Value {
    object(
        "Project",
        name,
        json!({"connectionRef": {"name": "cycloid"}, "deletionPolicy": "Orphan",
               "cycloid": {"canonical": canonical, "name": canonical,
                           "configRepositoryCanonical": "acme-config",
                           "environments": [{"canonical": "staging"}]}}),
    )
}

const PIPELINE: &str = "jobs:\n  - name: deploy\n    plan:\n      - task: ((task))\n        config:\n          platform: linux\n          run: {path: /bin/true}\n";

fn cycloid_component(name: &str, project: &str, canonical: &str, extra: Value) -> Value {
    let mut spec = json!({
        "connectionRef": {"name": "cycloid"}, "projectRef": {"name": project},
        "driftInterval": "5s",
        "cycloid": {
            "canonical": canonical, "name": "Billing API", "environment": "staging",
            "stackRef": "cycloidio:stack-docker", "useCase": "default",
            "vars": {"app": {"image": {"tag": "1.0"}}},
            "pipelines": [{"name": format!("{canonical}-deploy"), "config": PIPELINE,
                           "vars": "task: deploy\n"}],
            "build": {"pipeline": format!("{canonical}-deploy"), "job": "deploy", "revision": "1.0"},
            "completionEvent": {"tags": {"team": "payments"}}
        }
    });
    merge(&mut spec, extra);
    object("Component", name, spec)
}

fn choreo() -> ChoreoClient {
    match env().platform_client("choreo") {
        PlatformClient::Choreo(c) => c,
        _ => unreachable!(),
    }
}

fn cycloid() -> CycloidClient {
    match env().platform_client("cycloid") {
        PlatformClient::Cycloid(c) => c,
        _ => unreachable!(),
    }
}

/// A Ready Project's platform id.
async fn project_id(client: &kube::Client, ns: &str, name: &str) -> String {
    let api = Api::<Project>::namespaced(client.clone(), ns);
    wait_ready(&api, name)
        .await
        .status
        .unwrap()
        .project_id
        .unwrap()
}

/// A component someone made on Choreo, not through Converge: its id.
async fn made_on_choreo(project: &str, name: &str) -> String {
    choreo()
        .create_component(
            project,
            &ComponentCreate {
                name: name.into(),
                type_: ComponentType::Service,
                description: None,
                repo_url: format!("https://github.com/acme/{name}"),
                branch: None,
                buildpack_id: None,
                sub_path: None,
            },
        )
        .await
        .unwrap()
        .id
}

/// How many components named `name` the Choreo project has.
async fn named_on_choreo(project: &str, name: &str) -> usize {
    choreo()
        .list_components(project)
        .await
        .unwrap()
        .iter()
        .filter(|c| c.name == name)
        .count()
}

fn status(c: &Component) -> converge_api::component::ComponentStatus {
    c.status.clone().unwrap()
}

/// Events of the Cycloid organization tagged with this component and build.
async fn cycloid_events(component: &str, build_id: &str) -> usize {
    let now = jiff::Timestamp::now().as_millisecond() as u64;
    cycloid()
        .list_events(&EventFilter {
            begin: 0,
            end: now + 60_000,
            types: vec![],
            severities: vec![],
        })
        .await
        .unwrap()
        .iter()
        .filter(|e| {
            e.tags
                .iter()
                .any(|t| t.key == "component" && t.value == component)
                && e.tags
                    .iter()
                    .any(|t| t.key == "build_id" && t.value == build_id)
        })
        .count()
}

#[tokio::test]
async fn choreo_component_builds_rolls_out_follows_revisions_corrects_drift_and_is_deleted() {
    let env = env();
    let client = client().await;
    let ns = "comp-choreo";
    namespace(&client, ns).await;
    connect(&client, ns, "choreo").await;
    apply(&client, ns, choreo_project("shop", "comp-shop")).await;
    let project = project_id(&client, ns, "shop").await;
    let api = Api::<Component>::namespaced(client.clone(), ns);
    let source = json!({
        "name": "orders", "type": "Service", "repoUrl": "https://github.com/acme/orders",
        "branch": "main", "revision": {"branch": "main", "commit": "4f2c9e1"},
        "deployments": [{"environment": "Development"}, {"environment": "Production"}]
    });
    apply(
        &client,
        ns,
        choreo_component("orders", "shop", source.clone(), json!({})),
    )
    .await;

    let c = wait_ready(&api, "orders").await;
    let s = status(&c);
    let id = s.component_id.clone().unwrap();
    let build = s.build.clone().unwrap();
    assert_eq!(build.status, "Success");
    assert_eq!(build.revision.as_deref(), Some("main@4f2c9e1"));
    assert_eq!(s.project_id.as_deref(), Some(project.as_str()));
    assert_eq!(s.deployments.len(), 2);
    for d in &s.deployments {
        assert_eq!(d.status.as_deref(), Some("Active"), "{d:?}");
        assert_eq!(d.build_id.as_deref(), Some(build.id.as_str()));
    }
    let ch = choreo();
    assert_eq!(
        ch.get_component(&project, &id).await.unwrap().name,
        "orders"
    );
    assert_eq!(ch.list_builds(&project, &id).await.unwrap().len(), 1);

    // A new revision builds it and rolls it out again.
    let mut next = source.clone();
    next["revision"]["commit"] = json!("abc1234");
    apply(
        &client,
        ns,
        choreo_component("orders", "shop", next, json!({})),
    )
    .await;
    let c = wait_until(
        &api,
        "orders",
        "rolled out abc1234",
        Duration::from_secs(60),
        |c| {
            is_ready(c)
                && c.status
                    .as_ref()
                    .and_then(|s| s.build.as_ref())
                    .and_then(|b| b.revision.as_deref())
                    == Some("main@abc1234")
        },
    )
    .await;
    let s = status(&c);
    let second = s.build.clone().unwrap();
    assert_ne!(second.id, build.id);
    assert!(
        s.deployments
            .iter()
            .all(|d| d.build_id.as_deref() == Some(second.id.as_str()))
    );
    assert_eq!(ch.list_builds(&project, &id).await.unwrap().len(), 2);

    // Someone deploys another build to Development by hand: corrected, with an Event.
    let by_hand = ch
        .create_build(
            &project,
            &id,
            &BuildCreate {
                branch: None,
                commit_hash: Some("9999999".into()),
            },
        )
        .await
        .unwrap();
    ch.create_deployment(
        &project,
        &id,
        &DeploymentCreate {
            build_id: by_hand.id.clone(),
            environment_id: DEVELOPMENT.into(),
        },
    )
    .await
    .unwrap();
    let drift = wait_event(&client, ns, "orders", "DriftCorrected").await;
    assert!(drift.contains("Development"), "{drift}");
    let live = ch
        .find_deployment(&project, &id, &second.id, DEVELOPMENT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.status.to_string(), "Active");

    // At rest, drift checks read but never write.
    wait_ready(&api, "orders").await;
    let writes = env.writes("choreo", &id).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        env.writes("choreo", &id).await,
        writes,
        "no write when nothing differs"
    );

    delete_and_wait(&api, "orders").await;
    assert!(
        ch.get_component(&project, &id)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// An externalId that names nothing on Choreo creates nothing: Stalled, saying so; one that
/// names a component of another name is not taken for this one; without it, the component is
/// created.
#[tokio::test]
async fn an_external_id_that_names_no_choreo_component_creates_nothing() {
    let client = client().await;
    let ns = "comp-choreo-extid";
    namespace(&client, ns).await;
    connect(&client, ns, "choreo").await;
    apply(&client, ns, choreo_project("shop", "comp-extid-shop")).await;
    let project = project_id(&client, ns, "shop").await;
    let other = made_on_choreo(&project, "other").await;
    let api = Api::<Component>::namespaced(client.clone(), ns);
    let source =
        json!({"name": "ghost", "type": "Service", "repoUrl": "https://github.com/acme/ghost"});
    let named = |name| named_on_choreo(&project, name);

    apply(
        &client,
        ns,
        choreo_component(
            "ghost",
            "shop",
            source.clone(),
            json!({"externalId": "no-such-id"}),
        ),
    )
    .await;
    let c = wait_reason(&api, "ghost", "Stalled", "InvalidSpec").await;
    assert_eq!(
        condition(&c, "Stalled").unwrap().message,
        "spec.externalId \"no-such-id\": Choreo has no component \"ghost\" to adopt"
    );
    assert_eq!(named("ghost").await, 0, "nothing created");

    apply(
        &client,
        ns,
        choreo_component(
            "ghost",
            "shop",
            source.clone(),
            json!({"externalId": other}),
        ),
    )
    .await;
    let c = wait_reason(&api, "ghost", "Stalled", "PlatformObjectDiffers").await;
    let message = condition(&c, "Stalled").unwrap().message;
    assert!(
        message.contains("name is \"other\", the spec says \"ghost\""),
        "{message}"
    );
    assert_eq!(status(&c).component_id, None, "not taken for this one");

    apply(
        &client,
        ns,
        choreo_component("ghost", "shop", source, json!({})),
    )
    .await;
    let c = wait_ready(&api, "ghost").await;
    let created = wait_event(&client, ns, "ghost", "Created").await;
    assert_eq!(
        created,
        format!(
            "Created: created Choreo component \"ghost\" (id {})",
            status(&c).component_id.clone().unwrap()
        )
    );
    assert_eq!(named("ghost").await, 1);
    assert_eq!(named("other").await, 1, "the other one is left alone");
    delete_and_wait(&api, "ghost").await;
    assert_eq!(named("ghost").await, 0, "deleted with its object");
}

#[tokio::test]
async fn an_existing_choreo_component_is_adopted_only_when_asked_and_orphan_keeps_it() {
    let client = client().await;
    let ns = "comp-choreo-adopt";
    namespace(&client, ns).await;
    connect(&client, ns, "choreo").await;
    apply(&client, ns, choreo_project("shop", "comp-adopt-shop")).await;
    let project = project_id(&client, ns, "shop").await;
    let ch = choreo();
    let existing = made_on_choreo(&project, "legacy").await;
    let api = Api::<Component>::namespaced(client.clone(), ns);
    let source = json!({"name": "legacy", "type": "Service", "repoUrl": "https://github.com/acme/legacy",
                        "revision": {"commit": "1234abc"}, "deployments": [{"environment": "Development"}]});
    apply(
        &client,
        ns,
        choreo_component("legacy", "shop", source.clone(), json!({})),
    )
    .await;
    let c = wait_reason(&api, "legacy", "Stalled", "AlreadyExistsNotAdopted").await;
    let message = condition(&c, "Stalled").unwrap().message;
    assert!(
        message.contains("adoptionPolicy: Adopt") && message.contains(&existing),
        "{message}"
    );
    assert!(
        ch.list_builds(&project, &existing)
            .await
            .unwrap()
            .is_empty(),
        "nothing built"
    );

    apply(
        &client,
        ns,
        choreo_component(
            "legacy",
            "shop",
            source,
            json!({"adoptionPolicy": "Adopt", "deletionPolicy": "Orphan"}),
        ),
    )
    .await;
    let c = wait_ready(&api, "legacy").await;
    assert_eq!(status(&c).component_id.as_deref(), Some(existing.as_str()));
    let adopted = wait_event(&client, ns, "legacy", "Adopted").await;
    assert_eq!(
        adopted,
        format!("Adopted: adopted Choreo component \"legacy\" (id {existing})")
    );
    assert_eq!(
        named_on_choreo(&project, "legacy").await,
        1,
        "no second component"
    );

    delete_and_wait(&api, "legacy").await;
    assert!(
        ch.get_component(&project, &existing).await.is_ok(),
        "Orphan leaves it"
    );
}

#[tokio::test]
async fn cycloid_component_runs_pipelines_builds_sends_events_corrects_drift_and_is_deleted() {
    let env = env();
    let client = client().await;
    let ns = "comp-cycloid";
    namespace(&client, ns).await;
    connect(&client, ns, "cycloid").await;
    apply(&client, ns, cycloid_project("billing", "comp-billing")).await;
    project_id(&client, ns, "billing").await;
    let api = Api::<Component>::namespaced(client.clone(), ns);
    apply(
        &client,
        ns,
        cycloid_component("api", "billing", "pay-api", json!({})),
    )
    .await;

    let c = wait_ready(&api, "api").await;
    let s = status(&c);
    assert_eq!(s.component_id.as_deref(), Some("pay-api"));
    assert_eq!(s.environment.as_deref(), Some("staging"));
    let build = s.build.clone().unwrap();
    assert_eq!(build.status, "succeeded");
    assert!(build.event_id.is_some());
    assert_eq!(s.pipelines.len(), 1);
    assert!(!s.pipelines[0].paused);
    let cy = cycloid();
    let at = ComponentPath::new("comp-billing", "staging", "pay-api");
    let vars = cy.get_component_config(&at).await.unwrap().unwrap();
    assert_eq!(vars["app"]["image"]["tag"], "1.0");
    let pipeline = cy
        .get_pipeline(&at, "pay-api-deploy")
        .await
        .unwrap()
        .unwrap();
    assert!(!pipeline.paused, "unpaused as declared");
    assert_eq!(cycloid_events("pay-api", &build.id).await, 1);

    // A new revision triggers a new build, and a new event; the pipeline is paused as declared.
    apply(
        &client,
        ns,
        cycloid_component(
            "api",
            "billing",
            "pay-api",
            json!({"cycloid": {"build": {"revision": "1.1"}}}),
        ),
    )
    .await;
    let c = wait_until(&api, "api", "built 1.1", Duration::from_secs(60), |c| {
        is_ready(c)
            && c.status
                .as_ref()
                .and_then(|s| s.build.as_ref())
                .is_some_and(|b| b.revision.as_deref() == Some("1.1") && b.event_id.is_some())
    })
    .await;
    let second = status(&c).build.unwrap();
    assert_ne!(second.id, build.id);
    assert_eq!(cycloid_events("pay-api", &second.id).await, 1);
    assert_eq!(
        cy.list_builds(&at, "pay-api-deploy", "deploy")
            .await
            .unwrap()
            .len(),
        2
    );

    // Drift through Cycloid's API: another name and other stack variables.
    cy.update_component(
        &at,
        &UpdateComponent {
            name: "Renamed by hand".into(),
            description: None,
            use_case: "default".into(),
            vars: Some(
                json!({"app": {"image": {"tag": "0.9"}}})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        },
    )
    .await
    .unwrap();
    // (A drift check may read the component between the two fields' reads: the event names
    // what that check saw, and the update restores both.)
    let drift = wait_event(&client, ns, "api", "DriftCorrected").await;
    assert!(drift.contains("updated Cycloid component"), "{drift}");
    wait_ready(&api, "api").await;
    let now = cy.get_component(&at).await.unwrap().unwrap();
    assert_eq!(now.name, "Billing API");
    assert_eq!(
        cy.get_component_config(&at).await.unwrap().unwrap()["app"]["image"]["tag"],
        "1.0"
    );

    // At rest: no write, no second build, no second event.
    wait_ready(&api, "api").await;
    let writes = env.writes("cycloid", "pay-api").await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        env.writes("cycloid", "pay-api").await,
        writes,
        "no write when nothing differs"
    );
    assert_eq!(cycloid_events("pay-api", &second.id).await, 1);

    // Pausing is declared like anything else.
    apply(
        &client,
        ns,
        cycloid_component(
            "api",
            "billing",
            "pay-api",
            json!({"cycloid": {"build": {"revision": "1.1"},
                   "pipelines": [{"name": "pay-api-deploy", "config": PIPELINE,
                                  "vars": "task: deploy\n", "paused": true}]}}),
        ),
    )
    .await;
    wait_until(&api, "api", "paused", Duration::from_secs(60), |c| {
        is_ready(c)
            && c.status
                .as_ref()
                .is_some_and(|s| s.pipelines.iter().all(|p| p.paused))
    })
    .await;
    assert!(
        cy.get_pipeline(&at, "pay-api-deploy")
            .await
            .unwrap()
            .unwrap()
            .paused
    );

    delete_and_wait(&api, "api").await;
    assert!(cy.get_component(&at).await.unwrap().is_none());
}

#[tokio::test]
async fn an_existing_cycloid_component_is_adopted_only_when_asked_and_orphan_keeps_it() {
    let client = client().await;
    let ns = "comp-cycloid-adopt";
    namespace(&client, ns).await;
    connect(&client, ns, "cycloid").await;
    apply(&client, ns, cycloid_project("billing", "comp-adopt")).await;
    project_id(&client, ns, "billing").await;
    let cy = cycloid();
    cy.create_component(
        "comp-adopt",
        "staging",
        &NewComponent {
            canonical: "legacy-api".into(),
            name: "Legacy".into(),
            description: None,
            service_catalog_ref: "cycloidio:stack-docker".into(),
            use_case: "default".into(),
            cloud_provider_canonical: None,
            vars: None,
        },
    )
    .await
    .unwrap();
    let api = Api::<Component>::namespaced(client.clone(), ns);
    apply(
        &client,
        ns,
        cycloid_component("legacy", "billing", "legacy-api", json!({})),
    )
    .await;
    let c = wait_reason(&api, "legacy", "Stalled", "AlreadyExistsNotAdopted").await;
    let message = condition(&c, "Stalled").unwrap().message;
    assert!(message.contains("adoptionPolicy: Adopt"), "{message}");
    let at = ComponentPath::new("comp-adopt", "staging", "legacy-api");
    assert!(
        cy.get_pipeline(&at, "legacy-api-deploy")
            .await
            .unwrap()
            .is_none(),
        "nothing written"
    );

    apply(
        &client,
        ns,
        cycloid_component(
            "legacy",
            "billing",
            "legacy-api",
            json!({"adoptionPolicy": "Adopt", "deletionPolicy": "Orphan"}),
        ),
    )
    .await;
    let c = wait_ready(&api, "legacy").await;
    assert_eq!(status(&c).component_id.as_deref(), Some("legacy-api"));
    assert_eq!(
        cy.list_components("comp-adopt", "staging")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        cy.get_component(&at).await.unwrap().unwrap().name,
        "Billing API"
    );

    delete_and_wait(&api, "legacy").await;
    assert!(
        cy.get_component(&at).await.unwrap().is_some(),
        "Orphan leaves it"
    );
}

#[tokio::test]
async fn a_component_waits_for_its_project_and_config_map_then_converges() {
    let client = client().await;
    let ns = "comp-refs";
    namespace(&client, ns).await;
    connect(&client, ns, "cycloid").await;
    let api = Api::<Component>::namespaced(client.clone(), ns);
    apply(
        &client,
        ns,
        cycloid_component(
            "api",
            "later",
            "refs-api",
            json!({"cycloid": {"pipelines": [{"name": "refs-api-deploy",
                   "configFrom": {"name": "pipelines", "key": "deploy.yml"}, "vars": "task: deploy\n"}]}}),
        ),
    )
    .await;
    let c = wait_reason(&api, "api", "Reconciling", "WaitingForReference").await;
    assert!(
        condition(&c, "Ready")
            .unwrap()
            .message
            .contains("Project \"later\"")
    );

    apply(&client, ns, cycloid_project("later", "comp-refs")).await;
    let c = wait_until(
        &api,
        "api",
        "waiting for the ConfigMap",
        Duration::from_secs(60),
        |c| condition(c, "Ready").is_some_and(|r| r.message.contains("ConfigMap")),
    )
    .await;
    assert_eq!(
        condition(&c, "Reconciling").unwrap().reason,
        "WaitingForReference"
    );

    apply(
        &client,
        ns,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "pipelines"},
               "data": {"deploy.yml": PIPELINE}}),
    )
    .await;
    let c = wait_ready(&api, "api").await;
    assert_eq!(status(&c).build.unwrap().status, "succeeded");
}

#[tokio::test]
async fn suspend_and_observe_only_make_no_platform_writes() {
    let env = env();
    let client = client().await;
    let ns = "comp-hold";
    namespace(&client, ns).await;
    connect(&client, ns, "choreo").await;
    apply(&client, ns, choreo_project("shop", "comp-hold-shop")).await;
    project_id(&client, ns, "shop").await;
    let api = Api::<Component>::namespaced(client.clone(), ns);
    let source = json!({"name": "held", "type": "Service", "repoUrl": "https://github.com/acme/held",
                        "revision": {"commit": "1111111"}, "deployments": [{"environment": "Development"}]});
    apply(
        &client,
        ns,
        choreo_component("held", "shop", source.clone(), json!({})),
    )
    .await;
    let c = wait_ready(&api, "held").await;
    let id = status(&c).component_id.unwrap();
    let writes = env.writes("choreo", &id).await;

    let mut next = source.clone();
    next["revision"]["commit"] = json!("2222222");
    apply(
        &client,
        ns,
        choreo_component("held", "shop", next.clone(), json!({"suspend": true})),
    )
    .await;
    let c = wait_reason(&api, "held", "Ready", "Suspended").await;
    let ready = condition(&c, "Ready").unwrap();
    assert_eq!(ready.status, "False");
    assert!(
        ready.message.contains("build revision 2222222"),
        "{}",
        ready.message
    );

    apply(
        &client,
        ns,
        choreo_component(
            "held",
            "shop",
            next.clone(),
            json!({"managementPolicy": "ObserveOnly"}),
        ),
    )
    .await;
    let c = wait_reason(&api, "held", "Ready", "Observed").await;
    assert!(condition(&c, "Ready").unwrap().message.contains("2222222"));
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(env.writes("choreo", &id).await, writes, "held: no write");

    apply(
        &client,
        ns,
        choreo_component("held", "shop", next, json!({})),
    )
    .await;
    let c = wait_until(
        &api,
        "held",
        "built 2222222",
        Duration::from_secs(60),
        |c| {
            is_ready(c)
                && c.status
                    .as_ref()
                    .and_then(|s| s.build.as_ref())
                    .and_then(|b| b.revision.as_deref())
                    == Some("2222222")
        },
    )
    .await;
    assert_eq!(status(&c).deployments[0].status.as_deref(), Some("Active"));
}

#[tokio::test]
async fn a_build_requested_before_a_crash_is_found_not_started_again() {
    let client = client().await;
    let ns = "comp-crash";
    namespace(&client, ns).await;
    connect(&client, ns, "cycloid").await;
    apply(&client, ns, cycloid_project("billing", "comp-crash")).await;
    project_id(&client, ns, "billing").await;
    let api = Api::<Component>::namespaced(client.clone(), ns);
    let without_build = json!({"cycloid": {"build": null, "completionEvent": null}});
    apply(
        &client,
        ns,
        cycloid_component("api", "billing", "crash-api", without_build),
    )
    .await;
    wait_ready(&api, "api").await;

    // Suspended, the controller writes nothing; then the state a crash leaves behind: the
    // build request recorded, the build started on Cycloid, its id never written.
    apply(
        &client,
        ns,
        cycloid_component("api", "billing", "crash-api", json!({"suspend": true})),
    )
    .await;
    wait_reason(&api, "api", "Ready", "Suspended").await;
    // Written as the controller writes status (server-side apply by its manager), whole.
    let mut written = serde_json::to_value(api.get("api").await.unwrap().status).unwrap();
    written["pendingBuild"] = json!("1.0|");
    api.patch_status(
        "api",
        &PatchParams::apply("converge").force(),
        &Patch::Apply(&json!({
            "apiVersion": "converge.dev/v1alpha1", "kind": "Component", "status": written
        })),
    )
    .await
    .unwrap();
    let at = ComponentPath::new("comp-crash", "staging", "crash-api");
    let started = cycloid()
        .trigger_build(&at, "crash-api-deploy", "deploy")
        .await
        .unwrap();

    apply(
        &client,
        ns,
        cycloid_component("api", "billing", "crash-api", json!({})),
    )
    .await;
    let c = wait_until(
        &api,
        "api",
        "Ready with the build",
        Duration::from_secs(60),
        |c| {
            is_ready(c)
                && c.status
                    .as_ref()
                    .and_then(|s| s.build.as_ref())
                    .is_some_and(|b| b.event_id.is_some())
        },
    )
    .await;
    let s = status(&c);
    assert_eq!(s.build.unwrap().id, started.id.to_string());
    assert_eq!(s.pending_build, None);
    assert_eq!(
        cycloid()
            .list_builds(&at, "crash-api-deploy", "deploy")
            .await
            .unwrap()
            .len(),
        1,
        "no second build"
    );
}

/// Every document of an example file, with its endpoint pointed at this binary's sandbox.
fn example(path: &str, platform: &str) -> Vec<Value> {
    let file =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join(path);
    let text = std::fs::read_to_string(&file).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            let mut v = <Value as serde::Deserialize>::deserialize(doc).unwrap();
            if v["kind"] == "PlatformConnection" {
                v["spec"]["endpoint"] = json!(env().endpoint(platform));
            }
            v
        })
        .collect()
}

#[tokio::test]
async fn the_component_examples_converge_against_the_sandboxes() {
    let client = client().await;
    let ns = "comp-examples";
    namespace(&client, ns).await;
    for platform in ["choreo", "cycloid"] {
        for file in ["connection", "project", "component"] {
            for doc in example(&format!("examples/{platform}/{file}.yaml"), platform) {
                apply(&client, ns, doc).await;
            }
        }
    }
    let api = Api::<Component>::namespaced(client.clone(), ns);
    let orders = wait_ready(&api, "orders-service").await;
    let s = status(&orders);
    assert_eq!(s.build.unwrap().status, "Success");
    assert!(
        s.deployments
            .iter()
            .all(|d| d.status.as_deref() == Some("Active"))
    );
    let billing = wait_ready(&api, "billing-api").await;
    let s = status(&billing);
    let build = s.build.unwrap();
    assert_eq!(build.status, "succeeded");
    assert!(build.event_id.is_some());
}

#[tokio::test]
async fn cycloid_suspend_and_observe_only_write_nothing_then_removed_pipelines_are_deleted() {
    let env = env();
    let client = client().await;
    let ns = "comp-cycloid-hold";
    namespace(&client, ns).await;
    connect(&client, ns, "cycloid").await;
    apply(&client, ns, cycloid_project("billing", "comp-hold")).await;
    project_id(&client, ns, "billing").await;
    let api = Api::<Component>::namespaced(client.clone(), ns);
    apply(
        &client,
        ns,
        cycloid_component("api", "billing", "held-api", json!({})),
    )
    .await;
    let first = status(&wait_ready(&api, "api").await).build.unwrap();
    let writes = env.writes("cycloid", "held-api").await;

    let changed = |extra: Value| {
        let mut spec = json!({"cycloid": {"build": {"revision": "2.0"},
            "pipelines": [{"name": "held-api-deploy", "config": PIPELINE,
                           "vars": "task: deploy\n", "paused": true}]}});
        merge(&mut spec, extra);
        cycloid_component("api", "billing", "held-api", spec)
    };
    apply(&client, ns, changed(json!({"suspend": true}))).await;
    let c = wait_reason(&api, "api", "Ready", "Suspended").await;
    let message = condition(&c, "Ready").unwrap().message;
    assert!(
        message.contains("pause pipeline") && message.contains("trigger a build"),
        "{message}"
    );
    apply(
        &client,
        ns,
        changed(json!({"managementPolicy": "ObserveOnly"})),
    )
    .await;
    wait_reason(&api, "api", "Ready", "Observed").await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        env.writes("cycloid", "held-api").await,
        writes,
        "held: no write"
    );
    let at = ComponentPath::new("comp-hold", "staging", "held-api");
    let cy = cycloid();
    assert_eq!(
        cy.list_builds(&at, "held-api-deploy", "deploy")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(cycloid_events("held-api", &first.id).await, 1);

    // Managed again, without pipelines or build: the pipeline Converge created is deleted.
    apply(
        &client,
        ns,
        cycloid_component(
            "api",
            "billing",
            "held-api",
            json!({"cycloid": {"pipelines": null, "build": null, "completionEvent": null}}),
        ),
    )
    .await;
    let c = wait_ready(&api, "api").await;
    assert!(status(&c).pipelines.is_empty());
    assert!(
        cy.get_pipeline(&at, "held-api-deploy")
            .await
            .unwrap()
            .is_none()
    );
    assert!(cy.get_component(&at).await.unwrap().is_some());
}
