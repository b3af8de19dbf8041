//! Project timelines: Cycloid, OpsChain and Choreo.

use converge_api::component::Component;
use converge_api::project::Project;
use serde_json::{Value, json};

use crate::common::every_kind::PIPELINE;
use crate::common::timeline::platform::{choreo, cycloid, opschain};
use crate::common::timeline::*;

fn cycloid_project(canonical: &str, name: &str, environments: Value) -> Value {
    manifest(
        "Project",
        "shop",
        json!({"connectionRef": {"name": "cycloid"},
               "cycloid": {"canonical": canonical, "name": name,
                           "configRepositoryCanonical": "acme-config",
                           "environments": environments}}),
    )
}

/// Project "shop" on Cycloid (`canonical`) with environment staging, once Ready.
pub async fn cycloid_shop(t: &Timeline, canonical: &str) {
    t.apply(&cycloid_project(
        canonical,
        "Shop",
        json!([{"canonical": "staging"}]),
    ))
    .await;
    t.wait::<Project>("shop", "Ready", ready).await;
}

async fn cycloid_environments(canonical: &str) -> Vec<String> {
    let mut envs: Vec<String> = cycloid()
        .list_environments(canonical)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.canonical)
        .collect();
    envs.sort();
    envs
}

const P: &str = "project.converge.dev/shop";

/// Create; add an environment; add two more and rename; remove two; delete. Each environment
/// is its own Event, named with its project.
#[tokio::test]
async fn cycloid_project_timeline() {
    let mut t = Timeline::start("tl-project-cycloid", &["cycloid"]).await;
    let key = "tl-shop";

    // 1. Create, with one environment.
    t.apply(&cycloid_project(
        key,
        "Shop",
        json!([{"canonical": "staging"}]),
    ))
    .await;
    let p: Project = t.wait("shop", "Ready", ready).await;
    assert_conditions(&p, true, "Converged", &["\"tl-shop\" with 1 environment"]);
    assert_eq!(p.status.as_ref().unwrap().project_id.as_deref(), Some(key));
    t.expect_events(
        P,
        &[
            ("Normal", "Created", "created Cycloid project \"tl-shop\""),
            (
                "Normal",
                "Created",
                "created Cycloid environment \"staging\" in project \"tl-shop\"",
            ),
        ],
    )
    .await;
    assert_eq!(cycloid_environments(key).await, ["staging"]);

    // 2. Another environment: one Event that names it (not "Created (x3)").
    t.apply(&cycloid_project(
        key,
        "Shop",
        json!([{"canonical": "staging"}, {"canonical": "qa"}]),
    ))
    .await;
    let p: Project = t.wait("shop", "Ready", ready).await;
    assert_conditions(&p, true, "Converged", &["with 2 environment"]);
    t.expect_events(
        P,
        &[(
            "Normal",
            "Created",
            "created Cycloid environment \"qa\" in project \"tl-shop\"",
        )],
    )
    .await;
    assert_eq!(cycloid_environments(key).await, ["qa", "staging"]);

    // 3. A new name and two more environments: three Events, each naming its change.
    t.apply(&cycloid_project(
        key,
        "Shop 2",
        json!([{"canonical": "staging"}, {"canonical": "qa"}, {"canonical": "prod"},
               {"canonical": "perf", "name": "Performance"}]),
    ))
    .await;
    let p: Project = t.wait("shop", "Ready", ready).await;
    assert_eq!(p.status.as_ref().unwrap().environment_count, Some(4));
    t.expect_events(
        P,
        &[
            (
                "Normal",
                "Updated",
                "updated Cycloid project \"tl-shop\": name \"Shop\" → \"Shop 2\"",
            ),
            ("Normal", "Created", "created Cycloid environment \"prod\""),
            ("Normal", "Created", "created Cycloid environment \"perf\""),
        ],
    )
    .await;
    assert_eq!(
        cycloid().get_project(key).await.unwrap().unwrap().name,
        "Shop 2"
    );
    assert_eq!(
        cycloid_environments(key).await,
        ["perf", "prod", "qa", "staging"]
    );

    // 4. Two environments removed: two Events.
    t.apply(&cycloid_project(
        key,
        "Shop 2",
        json!([{"canonical": "staging"}, {"canonical": "prod"}]),
    ))
    .await;
    let p: Project = t.wait("shop", "Ready", ready).await;
    assert_conditions(&p, true, "Converged", &["with 2 environment"]);
    t.expect_events(
        P,
        &[
            (
                "Normal",
                "Deleted",
                "deleted Cycloid environment \"qa\" of project \"tl-shop\"",
            ),
            (
                "Normal",
                "Deleted",
                "deleted Cycloid environment \"perf\" of project \"tl-shop\"",
            ),
        ],
    )
    .await;
    assert_eq!(cycloid_environments(key).await, ["prod", "staging"]);

    // 5. Removal: the project goes from Cycloid.
    t.delete("project/shop").await;
    t.wait_gone::<Project>("shop").await;
    t.expect_events(
        P,
        &[("Normal", "Deleted", "deleted Cycloid project \"tl-shop\"")],
    )
    .await;
    assert!(cycloid().get_project(key).await.unwrap().is_none());
}

fn component_in(env_canonical: &str, canonical: &str) -> Value {
    manifest(
        "Component",
        "api",
        json!({"connectionRef": {"name": "cycloid"}, "projectRef": {"name": "shop"},
               "cycloid": {"canonical": canonical, "name": "API", "environment": env_canonical,
                   "stackRef": "cycloidio:stack-docker", "useCase": "default",
                   "pipelines": [{"name": format!("{canonical}-deploy"), "config": PIPELINE}]}}),
    )
}

/// An environment the spec drops while a declared Component lives in it is kept (not
/// deleted with the Component), says why, and goes once the Component is gone.
#[tokio::test]
async fn cycloid_environment_is_kept_while_a_declared_component_lives_in_it() {
    let mut t = Timeline::start("tl-project-kept", &["cycloid"]).await;
    let key = "tl-kept";
    let c = "component.converge.dev/api";

    // 1. A project with two environments and a Component in qa.
    t.apply(&cycloid_project(
        key,
        "Kept",
        json!([{"canonical": "staging"}, {"canonical": "qa"}]),
    ))
    .await;
    t.wait::<Project>("shop", "Ready", ready).await;
    t.apply(&component_in("qa", "tl-kept-api")).await;
    t.wait::<Component>("api", "Ready", ready).await;
    t.events(P).await;
    t.events(c).await;
    let at = converge_platforms::cycloid::ComponentPath::new(key, "qa", "tl-kept-api");
    assert!(cycloid().get_component(&at).await.unwrap().is_some());

    // 2. qa removed from the spec: kept, Reconciling with the reason, one Warning.
    t.apply(&cycloid_project(
        key,
        "Kept",
        json!([{"canonical": "staging"}]),
    ))
    .await;
    let p: Project = t
        .wait("shop", "keeping qa", |p: &Project| {
            ready_reason(p, "Progressing")
        })
        .await;
    assert_conditions(
        &p,
        false,
        "Progressing",
        &[
            "keeping Cycloid environment \"qa\"",
            "Component api still lives in it",
        ],
    );
    let kept = &p.status.as_ref().unwrap().environments;
    assert!(
        kept.iter()
            .any(|e| e.name == "qa" && e.kept.as_deref().is_some_and(|k| k.contains("api"))),
        "{kept:?}"
    );
    t.expect_events(
        P,
        &[(
            "Warning",
            "EnvironmentKept",
            "keeping Cycloid environment \"qa\" of project \"tl-kept\", which the spec no longer \
         declares: Component api still lives in it",
        )],
    )
    .await;
    assert_eq!(cycloid_environments(key).await, ["qa", "staging"]);
    assert!(
        cycloid().get_component(&at).await.unwrap().is_some(),
        "the Component's platform object was not deleted with the environment"
    );

    // 3. The Component is deleted: it deletes its platform object, then the environment goes.
    t.delete("component/api").await;
    t.wait_gone::<Component>("api").await;
    let p: Project = t.wait("shop", "Ready", ready).await;
    assert_conditions(&p, true, "Converged", &["with 1 environment"]);
    assert!(
        p.status
            .as_ref()
            .unwrap()
            .environments
            .iter()
            .all(|e| e.kept.is_none())
    );
    t.expect_events(
        P,
        &[(
            "Normal",
            "Deleted",
            "deleted Cycloid environment \"qa\" of project \"tl-kept\"",
        )],
    )
    .await;
    t.expect_events(
        c,
        &[(
            "Normal",
            "Deleted",
            "deleted Cycloid component tl-kept/qa/tl-kept-api",
        )],
    )
    .await;
    assert_eq!(cycloid_environments(key).await, ["staging"]);

    // 4. Removal.
    t.delete("project/shop").await;
    t.wait_gone::<Project>("shop").await;
    t.expect_events(
        P,
        &[("Normal", "Deleted", "deleted Cycloid project \"tl-kept\"")],
    )
    .await;
    assert!(cycloid().get_project(key).await.unwrap().is_none());
}

fn opschain_project(name: &str, environments: Value) -> Value {
    manifest(
        "Project",
        "bank",
        json!({"connectionRef": {"name": "opschain"},
               "opschain": {"code": "tl_bank", "name": name, "projectType": "Enterprise",
                            "environments": environments}}),
    )
}

/// Create; add an environment; rename one and add another; remove one (archived); delete
/// (archived).
#[tokio::test]
async fn opschain_project_timeline() {
    let mut t = Timeline::start("tl-project-opschain", &["opschain"]).await;
    let b = "project.converge.dev/bank";
    let oc = opschain();
    let live = |envs: Vec<converge_platforms::opschain::Environment>| -> Vec<String> {
        let mut v: Vec<String> = envs
            .into_iter()
            .filter(|e| !e.archived)
            .map(|e| format!("{}={}", e.code, e.name))
            .collect();
        v.sort();
        v
    };

    // 1. Create.
    t.apply(&opschain_project(
        "Bank",
        json!([{"code": "dev", "name": "Dev"}]),
    ))
    .await;
    let p: Project = t.wait("bank", "Ready", ready).await;
    assert_conditions(&p, true, "Converged", &["tl_bank"]);
    t.expect_events(
        b,
        &[
            ("Normal", "Created", "created OpsChain project \"tl_bank\""),
            ("Normal", "Created", "created OpsChain environment \"dev\""),
        ],
    )
    .await;
    assert_eq!(
        live(oc.list_environments("tl_bank").await.unwrap()),
        ["dev=Dev"]
    );

    // 2. Another environment.
    t.apply(&opschain_project(
        "Bank",
        json!([{"code": "dev", "name": "Dev"}, {"code": "prod", "name": "Prod"}]),
    ))
    .await;
    t.wait::<Project>("bank", "Ready", ready).await;
    t.expect_events(
        b,
        &[("Normal", "Created", "created OpsChain environment \"prod\"")],
    )
    .await;
    assert_eq!(
        live(oc.list_environments("tl_bank").await.unwrap()),
        ["dev=Dev", "prod=Prod"]
    );

    // 3. A renamed environment and a third one.
    t.apply(&opschain_project(
        "Bank",
        json!([{"code": "dev", "name": "Development"}, {"code": "prod", "name": "Prod"},
               {"code": "uat", "name": "UAT"}]),
    ))
    .await;
    t.wait::<Project>("bank", "Ready", ready).await;
    t.expect_events(b, &[
        (
            "Normal",
            "Updated",
            "updated OpsChain environment \"dev\" of project \"tl_bank\": name \"Dev\" → \"Development\"",
        ),
        ("Normal", "Created", "created OpsChain environment \"uat\""),
    ]).await;
    assert_eq!(
        live(oc.list_environments("tl_bank").await.unwrap()),
        ["dev=Development", "prod=Prod", "uat=UAT"]
    );

    // 4. One removed: archived.
    t.apply(&opschain_project(
        "Bank",
        json!([{"code": "dev", "name": "Development"}, {"code": "prod", "name": "Prod"}]),
    ))
    .await;
    let p: Project = t.wait("bank", "Ready", ready).await;
    assert_eq!(p.status.as_ref().unwrap().environments.len(), 2);
    t.expect_events(
        b,
        &[(
            "Normal",
            "Archived",
            "archived OpsChain environment \"uat\"",
        )],
    )
    .await;
    assert_eq!(
        live(oc.list_environments("tl_bank").await.unwrap()),
        ["dev=Development", "prod=Prod"]
    );

    // 5. Removal: OpsChain archives the project.
    t.delete("project/bank").await;
    t.wait_gone::<Project>("bank").await;
    t.expect_events(
        b,
        &[("Normal", "Deleted", "deleted OpsChain project \"tl_bank\"")],
    )
    .await;
    assert!(oc.get_project("tl_bank").await.unwrap().unwrap().archived);
}

/// Choreo projects cannot be updated or deleted: an edit is refused by the apiserver with a
/// message that says why, nothing changes, and deletion leaves the project with a Warning.
#[tokio::test]
async fn choreo_project_timeline() {
    let mut t = Timeline::start("tl-project-choreo", &["choreo"]).await;
    let s = "project.converge.dev/store";
    let spec = |name: &str, description: &str| {
        manifest(
            "Project",
            "store",
            json!({"connectionRef": {"name": "choreo"},
                   "choreo": {"name": name, "description": description}}),
        )
    };

    // 1. Create.
    t.apply(&spec("tl-store", "the store")).await;
    let p: Project = t.wait("store", "Ready", ready).await;
    assert_conditions(&p, true, "Converged", &["tl-store"]);
    let id = p.status.as_ref().unwrap().project_id.clone().unwrap();
    t.expect_events(
        s,
        &[("Normal", "Created", "created Choreo project \"tl-store\"")],
    )
    .await;
    let on_choreo = choreo()
        .find_project_by_name("tl-store")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(on_choreo.id, id);

    // 2. and 3. A new name, then a new description: refused at admission, nothing changes.
    for edit in [spec("tl-store-2", "the store"), spec("tl-store", "another")] {
        let refused = t.try_apply(&edit).await.unwrap_err();
        assert!(refused.contains("cannot change"), "{refused}");
        let p: Project = t.wait("store", "Ready", ready).await;
        assert_eq!(p.metadata.generation, Some(1));
        t.expect_events(s, &[]).await;
        assert!(
            choreo()
                .find_project_by_name("tl-store-2")
                .await
                .unwrap()
                .is_none()
        );
    }

    // 4. Removal: Choreo cannot delete a project, and says so.
    t.delete("project/store").await;
    t.wait_gone::<Project>("store").await;
    t.expect_events(
        s,
        &[(
            "Warning",
            "LeftInPlace",
            "Choreo has no operation to delete a project",
        )],
    )
    .await;
    assert!(
        choreo()
            .find_project_by_name("tl-store")
            .await
            .unwrap()
            .is_some()
    );
}
