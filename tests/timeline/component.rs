//! Component timelines: Choreo (revisions built and rolled out per environment) and Cycloid
//! (job builds per revision, a declared pause).

use converge_api::component::Component;
use converge_api::project::Project;
use converge_platforms::cycloid::ComponentPath;
use serde_json::{Value, json};

use super::project::cycloid_shop;
use crate::common::every_kind::PIPELINE;
use crate::common::timeline::platform::{choreo, cycloid};
use crate::common::timeline::*;

const C: &str = "component.converge.dev/orders";

fn choreo_component(commit: &str, environments: &[&str]) -> Value {
    manifest(
        "Component",
        "orders",
        json!({"connectionRef": {"name": "choreo"}, "projectRef": {"name": "shop"},
               "choreo": {"name": "tl-orders", "type": "Service",
                          "repoUrl": "https://github.com/acme/orders", "branch": "main",
                          "revision": {"branch": "main", "commit": commit},
                          "deployments": environments.iter()
                              .map(|e| json!({"environment": e})).collect::<Vec<_>>()}}),
    )
}

/// Create (build, deploy to Development); a new revision; a third revision held building,
/// then rolled out to two environments; removal. Each build and each deployment is its own
/// Event naming its revision and environment.
#[tokio::test]
async fn choreo_component_timeline() {
    let mut t = Timeline::start("tl-component-choreo", &["choreo"]).await;
    t.apply(&manifest(
        "Project",
        "shop",
        json!({"connectionRef": {"name": "choreo"}, "deletionPolicy": "Orphan",
               "choreo": {"name": "tl-component-shop"}}),
    ))
    .await;
    let p: Project = t.wait("shop", "Ready", ready).await;
    let project = p.status.unwrap().project_id.unwrap();

    // 1. Create: built and deployed to Development.
    t.apply(&choreo_component("aaaa111", &["Development"]))
        .await;
    let c: Component = t.wait("orders", "Ready", ready).await;
    assert_conditions(
        &c,
        true,
        "Converged",
        &["revision main@aaaa111", "is live in Development"],
    );
    let id = c.status.as_ref().unwrap().component_id.clone().unwrap();
    t.expect_events(
        C,
        &[
            (
                "Normal",
                "Created",
                "created Choreo component \"tl-orders\"",
            ),
            ("Normal", "BuildStarted", "of revision main@aaaa111"),
            (
                "Normal",
                "Deployed",
                "of revision main@aaaa111 to Development",
            ),
        ],
    )
    .await;
    let builds = choreo().list_builds(&project, &id).await.unwrap();
    assert_eq!(builds.len(), 1);
    assert_eq!(builds[0].commit_hash, "aaaa111");

    // 2. A new revision: one build, one deployment, both naming bbbb222.
    t.apply(&choreo_component("bbbb222", &["Development"]))
        .await;
    let c: Component = t.wait("orders", "Ready", ready).await;
    assert_conditions(&c, true, "Converged", &["revision main@bbbb222"]);
    t.expect_events(
        C,
        &[
            ("Normal", "BuildStarted", "of revision main@bbbb222"),
            (
                "Normal",
                "Deployed",
                "of revision main@bbbb222 to Development",
            ),
        ],
    )
    .await;
    let build = c.status.as_ref().unwrap().build.clone().unwrap();
    let live = choreo().list_deployments(&project, &id).await.unwrap();
    assert!(
        live.iter()
            .any(|d| d.build_id == build.id && d.status.to_string() == "Active"),
        "{live:?}"
    );

    // 3. A third revision and Production: the build is held InProgress by the sandbox, so
    //    the object is seen converging (not Ready) while it lasts; then both rollouts.
    sandbox_admin("choreo", "POST", "holds", "cccc333").await;
    t.apply(&choreo_component("cccc333", &["Development", "Production"]))
        .await;
    let c: Component = t
        .wait("orders", "building", |c: &Component| {
            ready_reason(c, "Progressing")
                && condition_message(c).contains("building revision main@cccc333")
        })
        .await;
    assert_conditions(
        &c,
        false,
        "Progressing",
        &["building revision main@cccc333"],
    );
    t.expect_events(C, &[("Normal", "BuildStarted", "of revision main@cccc333")])
        .await;
    let builds = choreo().list_builds(&project, &id).await.unwrap();
    let held = builds.iter().find(|b| b.commit_hash == "cccc333").unwrap();
    assert_eq!(held.status.to_string(), "InProgress");
    sandbox_admin("choreo", "DELETE", "holds", "cccc333").await;
    let c: Component = t.wait("orders", "Ready", ready).await;
    assert_conditions(
        &c,
        true,
        "Converged",
        &[
            "revision main@cccc333",
            "is live in Development, Production",
        ],
    );
    t.expect_events(
        C,
        &[
            (
                "Normal",
                "Deployed",
                "of revision main@cccc333 to Development",
            ),
            (
                "Normal",
                "Deployed",
                "of revision main@cccc333 to Production",
            ),
        ],
    )
    .await;

    // 4. Removal.
    t.delete("component/orders").await;
    t.wait_gone::<Component>("orders").await;
    t.expect_events(
        C,
        &[(
            "Normal",
            "Deleted",
            &format!("deleted Choreo component \"tl-orders\" (id {id})"),
        )],
    )
    .await;
    assert!(
        choreo()
            .find_component_by_name(&project, "tl-orders")
            .await
            .unwrap()
            .is_none()
    );
}

fn cycloid_component(revision: &str, paused: bool) -> Value {
    manifest(
        "Component",
        "api",
        json!({"connectionRef": {"name": "cycloid"}, "projectRef": {"name": "shop"},
               "cycloid": {"canonical": "tl-api", "name": "API", "environment": "staging",
                   "stackRef": "cycloidio:stack-docker", "useCase": "default",
                   "vars": {"app": {"image": {"tag": revision}}},
                   "pipelines": [{"name": "tl-api-deploy", "config": PIPELINE, "paused": paused}],
                   "build": {"pipeline": "tl-api-deploy", "job": "deploy", "revision": revision},
                   "completionEvent": {"tags": {"team": "payments"}}}}),
    )
}

/// Create (pipeline, build of 1.0); 1.1; 1.2 with the pipeline paused (the build waits and the
/// Component is not Ready); unpaused (it runs); removal. Each revision is also the image tag in
/// the stack variables: created with the component, updated with each new revision.
#[tokio::test]
async fn cycloid_component_timeline() {
    let mut t = Timeline::start("tl-component-cycloid", &["cycloid"]).await;
    let a = "component.converge.dev/api";
    cycloid_shop(&t, "tl-comp-shop").await;
    let at = ComponentPath::new("tl-comp-shop", "staging", "tl-api");
    let build_of = |c: &Component| c.status.as_ref().unwrap().build.clone().unwrap();

    // 1. Create: the component, its pipeline, and a build of 1.0 with its Cycloid event.
    t.apply(&cycloid_component("1.0", false)).await;
    let c: Component = t
        .wait("api", "Ready", |c: &Component| {
            ready(c) && c.status.as_ref().unwrap().build.is_some()
        })
        .await;
    assert_conditions(&c, true, "Converged", &["build", "succeeded"]);
    let b1 = build_of(&c);
    t.expect_events(
        a,
        &[
            ("Normal", "Created", "created Cycloid component"),
            (
                "Normal",
                "PipelineCreated",
                "created pipeline \"tl-api-deploy\" of component tl-comp-shop/staging/tl-api",
            ),
            (
                "Normal",
                "PipelineUnpaused",
                "unpaused pipeline \"tl-api-deploy\"",
            ),
            ("Normal", "BuildStarted", "(revision \"1.0\")"),
            (
                "Normal",
                "CycloidEventSent",
                &format!("for build {}", build_name(&b1.id, &at).await),
            ),
        ],
    )
    .await;
    assert_eq!(builds(&at).await, 1);
    assert_eq!(image_tag(&at).await, "1.0", "created with its variables");

    // 2. A new revision: the variables updated, one build and one event, naming 1.1.
    t.apply(&cycloid_component("1.1", false)).await;
    let c: Component = t
        .wait("api", "built 1.1", |c: &Component| {
            ready(c) && build_of(c).revision.as_deref() == Some("1.1")
        })
        .await;
    let b2 = build_of(&c);
    assert_ne!(b2.id, b1.id);
    t.expect_events(
        a,
        &[
            (
                "Normal",
                "Updated",
                "updated Cycloid component tl-comp-shop/staging/tl-api: stack variables",
            ),
            ("Normal", "BuildStarted", "(revision \"1.1\")"),
            (
                "Normal",
                "CycloidEventSent",
                &format!("for build {}", build_name(&b2.id, &at).await),
            ),
        ],
    )
    .await;
    assert_eq!(image_tag(&at).await, "1.1");

    // 3. 1.2 with the pipeline paused: the build is triggered and waits; not Ready, so
    //    `kubectl wait` does not pass.
    t.apply(&cycloid_component("1.2", true)).await;
    let c: Component = t
        .wait("api", "held by the pause", |c: &Component| {
            ready_reason(c, "Progressing") && build_of(c).revision.as_deref() == Some("1.2")
        })
        .await;
    assert_conditions(
        &c,
        false,
        "Progressing",
        &[
            "(revision \"1.2\") is pending",
            "pipeline \"tl-api-deploy\" is paused as declared",
        ],
    );
    let b3 = build_of(&c);
    assert_eq!(b3.status, "pending");
    t.expect_events(
        a,
        &[
            (
                "Normal",
                "Updated",
                "updated Cycloid component tl-comp-shop/staging/tl-api: stack variables",
            ),
            (
                "Normal",
                "PipelinePaused",
                "paused pipeline \"tl-api-deploy\"",
            ),
            ("Normal", "BuildStarted", "(revision \"1.2\")"),
        ],
    )
    .await;
    let waited = t
        .try_kubectl(&[
            "wait",
            "-n",
            &t.ns,
            "--for=condition=Ready",
            "--timeout=2s",
            "component/api",
        ])
        .await;
    assert!(waited.is_err(), "kubectl wait passed on a pending build");
    assert!(
        cycloid()
            .get_pipeline(&at, "tl-api-deploy")
            .await
            .unwrap()
            .unwrap()
            .paused
    );

    // 4. Unpaused: the build runs and its event is sent.
    t.apply(&cycloid_component("1.2", false)).await;
    let c: Component = t
        .wait("api", "built 1.2", |c: &Component| {
            ready(c) && build_of(c).status == "succeeded"
        })
        .await;
    assert_eq!(build_of(&c).id, b3.id, "the same build ran, no second one");
    t.expect_events(
        a,
        &[
            (
                "Normal",
                "PipelineUnpaused",
                "unpaused pipeline \"tl-api-deploy\"",
            ),
            (
                "Normal",
                "CycloidEventSent",
                &format!("for build {}", build_name(&b3.id, &at).await),
            ),
        ],
    )
    .await;
    assert_eq!(builds(&at).await, 3);
    assert_eq!(image_tag(&at).await, "1.2", "unchanged by the unpause");

    // 5. Removal.
    t.delete("component/api").await;
    t.wait_gone::<Component>("api").await;
    t.expect_events(
        a,
        &[(
            "Normal",
            "Deleted",
            "deleted Cycloid component tl-comp-shop/staging/tl-api",
        )],
    )
    .await;
    assert!(cycloid().get_component(&at).await.unwrap().is_none());
}

/// The image tag in the stack variables of component `at`, as Cycloid holds them.
async fn image_tag(at: &ComponentPath) -> String {
    let config = cycloid()
        .get_component_config(at)
        .await
        .unwrap()
        .expect("the component exists");
    config["app"]["image"]["tag"]
        .as_str()
        .unwrap_or_else(|| panic!("no app.image.tag in {config:?}"))
        .to_string()
}

/// How many builds the job of component `at` has on Cycloid.
async fn builds(at: &ComponentPath) -> usize {
    cycloid()
        .list_builds(at, "tl-api-deploy", "deploy")
        .await
        .unwrap()
        .len()
}

/// The name Cycloid gives build `id` (what the Events say).
async fn build_name(id: &str, at: &ComponentPath) -> String {
    let id: u64 = id.parse().unwrap();
    cycloid()
        .get_build(at, "tl-api-deploy", "deploy", id)
        .await
        .unwrap()
        .unwrap()
        .name
}

fn condition_message(c: &Component) -> String {
    crate::common::converge::condition(c, "Ready")
        .map(|r| r.message)
        .unwrap_or_default()
}

fn config_from_component() -> Value {
    manifest(
        "Component",
        "web",
        json!({"connectionRef": {"name": "cycloid"}, "projectRef": {"name": "shop"},
               "driftInterval": "5s",
               "cycloid": {"canonical": "tl-web", "name": "Web", "environment": "staging",
                   "stackRef": "cycloidio:stack-docker", "useCase": "default",
                   "pipelines": [{"name": "tl-web-deploy",
                                  "configFrom": {"name": "web-pipeline", "key": "pipeline.yml"}}]}}),
    )
}

/// A pipeline whose config is a ConfigMap key: editing the ConfigMap is a change the person
/// declared (PipelineUpdated, no DriftCorrected), while a pipeline paused by hand on Cycloid
/// is drift (DriftCorrected).
#[tokio::test]
async fn cycloid_config_map_edit_is_declared_not_drift() {
    let mut t = Timeline::start("tl-component-config-map", &["cycloid"]).await;
    let w = "component.converge.dev/web";
    cycloid_shop(&t, "tl-cm-shop").await;
    let at = ComponentPath::new("tl-cm-shop", "staging", "tl-web");
    let cm = |config: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-pipeline"},
               "data": {"pipeline.yml": config}})
    };

    // 1. Create.
    t.apply(&cm(PIPELINE)).await;
    t.apply(&config_from_component()).await;
    let c: Component = t.wait("web", "Ready", ready).await;
    let hash = c.status.as_ref().unwrap().common.inputs_hash.clone();
    assert!(hash.is_some(), "the ConfigMap read is recorded");
    t.expect_events(
        w,
        &[
            (
                "Normal",
                "Created",
                "created Cycloid component tl-cm-shop/staging/tl-web",
            ),
            (
                "Normal",
                "PipelineCreated",
                "created pipeline \"tl-web-deploy\"",
            ),
            (
                "Normal",
                "PipelineUnpaused",
                "unpaused pipeline \"tl-web-deploy\"",
            ),
        ],
    )
    .await;

    // 2. The ConfigMap edited: the pipeline is updated as declared, and no drift is claimed.
    let edited = PIPELINE.replace("/bin/true", "/bin/date");
    t.apply(&cm(&edited)).await;
    let c: Component = t
        .wait("web", "updated", |c: &Component| {
            ready(c) && c.status.as_ref().unwrap().common.inputs_hash != hash
        })
        .await;
    assert_conditions(&c, true, "Converged", &[]);
    t.expect_events(
        w,
        &[(
            "Normal",
            "PipelineUpdated",
            "updated pipeline \"tl-web-deploy\" of component tl-cm-shop/staging/tl-web",
        )],
    )
    .await;
    let config = cycloid()
        .get_pipeline_config(&at, "tl-web-deploy")
        .await
        .unwrap();
    assert!(format!("{config:?}").contains("/bin/date"), "{config:?}");

    // 3. Paused by hand on Cycloid: that is drift, corrected at the next drift check.
    cycloid()
        .pause_pipeline(&at, "tl-web-deploy")
        .await
        .unwrap();
    t.expect_events(
        w,
        &[
            (
                "Normal",
                "PipelineUnpaused",
                "unpaused pipeline \"tl-web-deploy\"",
            ),
            (
                "Warning",
                "DriftCorrected",
                "unpaused pipeline \"tl-web-deploy\"",
            ),
        ],
    )
    .await;
    assert!(
        !cycloid()
            .get_pipeline(&at, "tl-web-deploy")
            .await
            .unwrap()
            .unwrap()
            .paused
    );

    // 4. Removal.
    t.delete("component/web").await;
    t.wait_gone::<Component>("web").await;
    t.expect_events(
        w,
        &[(
            "Normal",
            "Deleted",
            "deleted Cycloid component tl-cm-shop/staging/tl-web",
        )],
    )
    .await;
    assert!(cycloid().get_component(&at).await.unwrap().is_none());
}
