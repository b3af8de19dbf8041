//! A Project on Cycloid: decisions (pure) and their execution.
//!
//! The canonical is the natural key and the platform id. Environments are managed inside the
//! project: missing ones are created, declared fields corrected, and an environment Converge
//! recorded in status but no longer declared is deleted. Environments someone else added to the
//! project are left alone.

pub mod plan;

use converge_platforms::ClientError;
use converge_platforms::cycloid::{CycloidClient, Environment, Project, UpdateProject};
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use converge_api::component::Component;
use converge_core::Platform;
use converge_engine::external::{self, Ensured, PlatformDelete, PlatformObject};
use converge_engine::{Cx, Failure, Phase};

use crate::project::reason;
use converge_api::project::{CycloidProject, EnvironmentStatus, Project as Kind, ProjectStatus};

use plan::*;

/// The Components declared in this namespace that live in `environment` of the Project named
/// `project` (not yet released by Converge), as "Component name".
async fn living_in(
    cx: &Cx<Kind>,
    project: &str,
    environment: &str,
) -> Result<Vec<String>, Failure> {
    let components: Vec<Component> = match cx.ctx.stores.list::<Component>(&cx.namespace) {
        Some(cached) => cached.iter().map(|c| (**c).clone()).collect(),
        None => {
            Api::<Component>::namespaced(cx.ctx.client.clone(), &cx.namespace)
                .list(&ListParams::default())
                .await?
                .items
        }
    };
    let mut names: Vec<String> = components
        .iter()
        .filter(|c| {
            c.spec.project_ref.name == project
                && c.spec
                    .cycloid
                    .as_ref()
                    .is_some_and(|y| y.environment == environment)
                && !converge_engine::dependents::released(*c)
        })
        .map(|c| format!("Component {}", c.name_any()))
        .collect();
    names.sort();
    Ok(names)
}

/// The Cycloid project a Project declares: its canonical is both key and id.
struct ProjectObject<'a> {
    spec: &'a CycloidProject,
    client: &'a CycloidClient,
}

impl PlatformObject<Kind> for ProjectObject<'_> {
    type Observed = Project;
    type Update = UpdateProject;
    const PLATFORM: Platform = Platform::Cycloid;
    const WHAT: &'static str = "project";

    fn key(&self) -> &str {
        &self.spec.canonical
    }
    fn id(found: &Project) -> String {
        found.canonical.clone()
    }
    fn record(status: &mut ProjectStatus, id: String) {
        status.project_id = Some(id);
    }
    async fn observe(&self, _by_id: Option<&str>) -> Result<Option<Project>, Failure> {
        // The canonical is the id: there is nothing else to look a project up by.
        Ok(self.client.get_project(self.key()).await?)
    }
    async fn create(&self) -> Result<Project, Failure> {
        Ok(self.client.create_project(&new_project(self.spec)).await?)
    }
    fn plan(&self, found: &Project) -> Option<(UpdateProject, Vec<String>)> {
        project_update(self.spec, found)
    }
    async fn update(
        &self,
        _found: &Project,
        update: &UpdateProject,
    ) -> Result<Option<Project>, Failure> {
        self.client.update_project(self.key(), update).await?;
        Ok(None)
    }
}

pub async fn converge(
    obj: &Kind,
    spec: &CycloidProject,
    client: &CycloidClient,
    cx: &mut Cx<Kind>,
) -> Result<Phase, Failure> {
    let key = spec.canonical.as_str();
    let object = ProjectObject { spec, client };
    let project = match external::ensure(obj, &object, cx).await? {
        Ensured::Found(project) => project,
        Ensured::Held(phase) => return Ok(phase),
    };
    let mut held = Vec::new();
    external::update(&object, &project, cx, &mut held).await?;

    // The project read above carries its environments: one read per drift check, not two.
    let current = project.environments.clone();
    let plan = environment_plan(&spec.environments, &current, &cx.status.environments);
    if !cx.may_write() {
        held.extend(plan.describe());
        set_environments(cx, spec, &current);
        return Ok(cx.held(held));
    }
    for e in &plan.create {
        // Environment creates are not resent by the client; a crash after one is found by
        // canonical on the next pass, since the project is ours.
        client.create_environment(key, e).await?;
        cx.did(
            "Created",
            format!(
                "created Cycloid environment {:?} in project {key:?}",
                e.canonical
            ),
        );
    }
    for (canonical, u) in &plan.update {
        client.update_environment(key, canonical, u).await?;
        cx.did(
            "Updated",
            format!(
                "updated Cycloid environment {canonical:?} of project {key:?}: name {:?}{}",
                u.name,
                u.color
                    .as_deref()
                    .map(|c| format!(", color {c:?}"))
                    .unwrap_or_default()
            ),
        );
    }
    let mut kept = Vec::new();
    for canonical in &plan.delete {
        // Deleting an environment deletes what lives in it: never while a declared Component
        // does (it would go with it). It goes once they are gone; their deletion wakes us.
        let living = living_in(cx, &obj.name_any(), canonical).await?;
        if let Some(why) = kept_because(canonical, key, &living) {
            kept.push(EnvironmentStatus {
                name: canonical.clone(),
                id: Some(canonical.clone()),
                kept: Some(why),
            });
            continue;
        }
        match client.delete_environment(key, canonical).await {
            Err(e) if !e.is_not_found() => return Err(e.into()),
            _ => cx.did(
                "Deleted",
                format!("deleted Cycloid environment {canonical:?} of project {key:?}"),
            ),
        }
    }
    for k in &kept {
        let news = !cx
            .status
            .environments
            .iter()
            .any(|e| e.name == k.name && e.kept == k.kept);
        if news && let Some(why) = &k.kept {
            cx.warn(reason::ENVIRONMENT_KEPT, why.clone());
        }
    }
    let current =
        if plan.create.is_empty() && plan.update.is_empty() && kept.len() == plan.delete.len() {
            current
        } else {
            client.list_environments(key).await?
        };
    set_environments(cx, spec, &current);
    cx.status.environments.extend(kept.iter().cloned());
    if let Some(first) = kept.first().and_then(|k| k.kept.clone()) {
        return Ok(Phase::progressing(first, KEPT_RECHECK));
    }
    Ok(Phase::converged(format!(
        "Cycloid project {key:?} with {} environment(s)",
        spec.environments.len()
    )))
}

/// How soon a project keeping an environment looks again if no Component's change wakes it.
pub const KEPT_RECHECK: std::time::Duration = std::time::Duration::from_secs(60);

fn set_environments(cx: &mut Cx<Kind>, spec: &CycloidProject, current: &[Environment]) {
    let envs = environment_status(&spec.environments, current);
    cx.status.environment_count = Some(envs.iter().filter(|e| e.id.is_some()).count() as i32);
    cx.status.environments = envs;
}

/// A Cycloid project to delete: its canonical is its id, recorded or the key of a create in
/// flight.
struct Deletion<'a> {
    client: &'a CycloidClient,
}

impl PlatformDelete<Kind> for Deletion<'_> {
    async fn made_by(&self, canonical: &str) -> Result<Option<String>, Failure> {
        Ok(Some(canonical.to_string()))
    }
    async fn delete(&self, canonical: &str) -> Result<(), ClientError> {
        self.client.delete_project(canonical).await
    }
}

pub async fn delete(client: &CycloidClient, cx: &mut Cx<Kind>) -> Result<(), Failure> {
    external::delete(&Deletion { client }, cx).await
}
