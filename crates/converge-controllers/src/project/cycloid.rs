//! A Project on Cycloid: decisions (pure) and their execution.
//!
//! The canonical is the natural key and the platform id. Environments are managed inside the
//! project: missing ones are created, declared fields corrected, and an environment Converge
//! recorded in status but no longer declared is deleted. Environments someone else added to the
//! project are left alone.

use converge_platforms::cycloid::{
    CycloidClient, Environment, NewEnvironment, NewProject, Project, UpdateEnvironment,
    UpdateProject,
};
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use converge_api::common::conditions::reason as common;
use converge_api::component::Component;
use converge_engine::ownership::{self, Ownership};
use converge_engine::{Cx, Failure, Phase};

use super::reason;
use converge_api::project::{
    CycloidEnvironment, CycloidProject, EnvironmentStatus, Project as Kind,
};

/// The update that makes `current` match what `spec` declares, with a description of each
/// change; None when nothing declared differs. Fields the spec leaves out keep the platform's
/// value (the update is a full replacement, so it starts from the current project).
pub fn project_update(
    spec: &CycloidProject,
    current: &Project,
) -> Option<(UpdateProject, Vec<String>)> {
    let mut update = UpdateProject::from_current(current);
    let mut changes = Vec::new();
    if spec.name != current.name {
        changes.push(format!("name {:?} → {:?}", current.name, spec.name));
        update.name = spec.name.clone();
    }
    let mut optional =
        |field: &str, want: &Option<String>, have: &str, slot: &mut Option<String>| {
            if let Some(w) = want
                && w != have
            {
                changes.push(format!("{field} {have:?} → {w:?}"));
                *slot = Some(w.clone());
            }
        };
    optional(
        "description",
        &spec.description,
        &current.description,
        &mut update.description,
    );
    optional("color", &spec.color, &current.color, &mut update.color);
    optional("icon", &spec.icon, &current.icon, &mut update.icon);
    let owner = current
        .owner
        .as_ref()
        .map(|u| u.username.as_str())
        .unwrap_or("");
    optional("owner", &spec.owner, owner, &mut update.owner);
    let repo = current.config_repository_canonical.as_deref().unwrap_or("");
    if spec.config_repository_canonical != repo {
        changes.push(format!(
            "configRepositoryCanonical {repo:?} → {:?}",
            spec.config_repository_canonical
        ));
        update.config_repository_canonical = Some(spec.config_repository_canonical.clone());
    }
    (!changes.is_empty()).then_some((update, changes))
}

pub fn new_project(spec: &CycloidProject) -> NewProject {
    NewProject {
        canonical: spec.canonical.clone(),
        name: spec.name.clone(),
        description: spec.description.clone(),
        owner: spec.owner.clone(),
        config_repository_canonical: spec.config_repository_canonical.clone(),
        team_canonical: spec.team_canonical.clone(),
        color: spec.color.clone(),
        icon: spec.icon.clone(),
    }
}

/// What to do with the project's environments.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnvironmentPlan {
    pub create: Vec<NewEnvironment>,
    pub update: Vec<(String, UpdateEnvironment)>,
    pub delete: Vec<String>,
}

impl EnvironmentPlan {
    pub fn describe(&self) -> Vec<String> {
        let mut d: Vec<String> = self
            .create
            .iter()
            .map(|e| format!("create environment {:?}", e.canonical))
            .collect();
        d.extend(
            self.update
                .iter()
                .map(|(c, _)| format!("update environment {c:?}")),
        );
        d.extend(
            self.delete
                .iter()
                .map(|c| format!("delete environment {c:?}")),
        );
        d
    }
}

fn display_name(e: &CycloidEnvironment) -> String {
    e.name.clone().unwrap_or_else(|| e.canonical.clone())
}

/// Compares declared environments with the platform's. `managed` are the environments status
/// recorded as Converge's: only those are deleted when no longer declared.
pub fn environment_plan(
    declared: &[CycloidEnvironment],
    current: &[Environment],
    managed: &[EnvironmentStatus],
) -> EnvironmentPlan {
    let mut plan = EnvironmentPlan::default();
    for want in declared {
        match current.iter().find(|e| e.canonical == want.canonical) {
            None => plan.create.push(NewEnvironment {
                canonical: want.canonical.clone(),
                name: display_name(want),
                color: want.color.clone(),
            }),
            Some(have) => {
                let name = display_name(want);
                let name_differs = have.name.as_deref() != Some(name.as_str());
                let color_differs = want.color.as_ref().is_some_and(|c| *c != have.color);
                if name_differs || color_differs {
                    // A color not sent is cleared, so an undeclared one keeps the platform's.
                    let color = want
                        .color
                        .clone()
                        .or_else(|| (!have.color.is_empty()).then(|| have.color.clone()));
                    plan.update
                        .push((want.canonical.clone(), UpdateEnvironment { name, color }));
                }
            }
        }
    }
    for m in managed {
        let declared_still = declared.iter().any(|d| d.canonical == m.name);
        let exists = current.iter().any(|e| e.canonical == m.name);
        if !declared_still && exists {
            plan.delete.push(m.name.clone());
        }
    }
    plan
}

/// The environments to record in status: the declared ones, with their platform ids.
pub fn environment_status(
    declared: &[CycloidEnvironment],
    current: &[Environment],
) -> Vec<EnvironmentStatus> {
    declared
        .iter()
        .map(|d| EnvironmentStatus {
            name: d.canonical.clone(),
            id: current
                .iter()
                .find(|e| e.canonical == d.canonical)
                .map(|e| e.canonical.clone()),
            kept: None,
        })
        .collect()
}

/// Why an environment the spec no longer declares is kept: the declared Components that
/// still live in it. None when nothing does, so it may go.
pub fn kept_because(environment: &str, project: &str, components: &[String]) -> Option<String> {
    const NAMED: usize = 3;
    let (first, rest) = components.split_at(components.len().min(NAMED));
    let mut named = first.join(", ");
    if !rest.is_empty() {
        named.push_str(&format!(" and {} more", rest.len()));
    }
    let verb = match components.len() {
        0 => return None,
        1 => "still lives",
        _ => "still live",
    };
    Some(format!(
        "keeping Cycloid environment {environment:?} of project {project:?}, which the spec no \
         longer declares: {named} {verb} in it; the environment is deleted once no declared \
         Component does (or declare it again to keep it)"
    ))
}

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

pub async fn converge(
    obj: &Kind,
    spec: &CycloidProject,
    client: &CycloidClient,
    cx: &mut Cx<Kind>,
) -> Result<Phase, Failure> {
    let key = spec.canonical.as_str();
    let found = client.get_project(key).await?;
    let recorded = cx.status.project_id.clone();
    let pending = cx.status.common.pending_create.clone();
    let project = match found {
        Some(p) => {
            match ownership::of(
                &obj.spec.management,
                recorded.as_deref(),
                pending.as_deref(),
                key,
                &p.canonical,
            ) {
                Ownership::Conflict if cx.may_write() => {
                    return Err(Failure::stalled(
                        common::CONFLICT,
                        ownership::conflict_message("Cycloid", "project", key, &p.canonical),
                    ));
                }
                Ownership::Adopted if cx.may_write() && recorded.is_none() => {
                    cx.did("Adopted", format!("adopted Cycloid project {key:?}"));
                }
                _ => {}
            }
            p
        }
        None if !cx.may_write() => {
            return Ok(cx.held(vec![format!("create Cycloid project {key:?}")]));
        }
        None => {
            if let Some(id) = &obj.spec.management.external_id {
                return Err(Failure::stalled(
                    common::INVALID_SPEC,
                    format!("spec.externalId {id:?}: Cycloid has no project {key:?} to adopt"),
                ));
            }
            cx.before_create(key).await?;
            let p = client.create_project(&new_project(spec)).await?;
            cx.status.project_id = Some(p.canonical.clone());
            cx.created().await?;
            cx.did("Created", format!("created Cycloid project {key:?}"));
            p
        }
    };
    cx.status.project_id = Some(project.canonical.clone());
    cx.status.common.pending_create = None;

    let mut held = Vec::new();
    if let Some((update, changes)) = project_update(spec, &project) {
        if cx.may_write() {
            client.update_project(key, &update).await?;
            cx.did(
                "Updated",
                format!("updated Cycloid project {key:?}: {}", changes.join(", ")),
            );
        } else {
            held.extend(changes);
        }
    }

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

pub async fn delete(client: &CycloidClient, cx: &mut Cx<Kind>) -> Result<(), Failure> {
    let canonical = cx
        .status
        .project_id
        .clone()
        .or_else(|| cx.status.common.pending_create.clone());
    if let Some(c) = canonical {
        match client.delete_project(&c).await {
            Err(e) if !e.is_not_found() => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use converge_platforms::cycloid::User;

    fn spec() -> CycloidProject {
        serde_json::from_value(serde_json::json!({
            "canonical": "shop", "name": "Shop", "configRepositoryCanonical": "acme-config",
            "environments": [{"canonical": "staging"}, {"canonical": "prod", "name": "Production", "color": "red"}]
        }))
        .unwrap()
    }

    fn project() -> Project {
        Project {
            id: 1,
            canonical: "shop".into(),
            name: "Shop".into(),
            description: "".into(),
            color: "blue".into(),
            icon: "".into(),
            config_repository_canonical: Some("acme-config".into()),
            owner: Some(User {
                id: 1,
                username: "admin".into(),
                email: None,
            }),
            team: None,
            cloud_provider: None,
            environments: vec![],
            created_at: 1,
            updated_at: 5,
        }
    }

    fn env(canonical: &str, name: &str, color: &str) -> Environment {
        Environment {
            id: 1,
            canonical: canonical.into(),
            name: Some(name.into()),
            color: color.into(),
            created_at: 1,
            updated_at: 1,
        }
    }

    #[test]
    fn nothing_declared_differs_means_no_update() {
        assert_eq!(project_update(&spec(), &project()), None);
    }

    #[test]
    fn undeclared_fields_keep_the_platform_values() {
        let mut s = spec();
        s.name = "Shop 2".into();
        let (u, changes) = project_update(&s, &project()).unwrap();
        assert_eq!(u.name, "Shop 2");
        assert_eq!(
            u.color.as_deref(),
            Some("blue"),
            "color is not declared: kept"
        );
        assert_eq!(u.owner.as_deref(), Some("admin"));
        assert_eq!(
            u.updated_at, 5,
            "the update is based on the project as read"
        );
        assert_eq!(changes.len(), 1);
    }

    #[test]
    fn declared_optional_fields_are_corrected() {
        let mut s = spec();
        s.color = Some("green".into());
        s.description = Some("the shop".into());
        s.config_repository_canonical = "other-config".into();
        let (u, changes) = project_update(&s, &project()).unwrap();
        assert_eq!(u.color.as_deref(), Some("green"));
        assert_eq!(u.description.as_deref(), Some("the shop"));
        assert_eq!(
            u.config_repository_canonical.as_deref(),
            Some("other-config")
        );
        assert_eq!(changes.len(), 3);
    }

    #[test]
    fn missing_environments_are_created_with_defaults() {
        let plan = environment_plan(&spec().environments, &[], &[]);
        assert_eq!(plan.create.len(), 2);
        assert_eq!(
            plan.create[0].name, "staging",
            "the name defaults to the canonical"
        );
        assert_eq!(plan.create[1].color.as_deref(), Some("red"));
        assert!(plan.update.is_empty() && plan.delete.is_empty());
    }

    #[test]
    fn matching_environments_need_nothing_and_drift_is_corrected() {
        let current = vec![
            env("staging", "staging", "grey"),
            env("prod", "Production", "red"),
        ];
        assert_eq!(
            environment_plan(&spec().environments, &current, &[]),
            EnvironmentPlan::default()
        );
        let drifted = vec![
            env("staging", "staging", "grey"),
            env("prod", "Prod!", "red"),
        ];
        let plan = environment_plan(&spec().environments, &drifted, &[]);
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].0, "prod");
        assert_eq!(plan.update[0].1.name, "Production");
    }

    #[test]
    fn an_undeclared_color_is_sent_back_unchanged() {
        let current = vec![
            env("staging", "old", "grey"),
            env("prod", "Production", "red"),
        ];
        let plan = environment_plan(&spec().environments, &current, &[]);
        assert_eq!(plan.update[0].1.color.as_deref(), Some("grey"));
    }

    #[test]
    fn only_environments_converge_recorded_are_deleted() {
        let current = vec![
            env("staging", "staging", ""),
            env("prod", "Production", "red"),
            env("qa", "qa", ""),
            env("someone-elses", "x", ""),
        ];
        let managed = vec![
            EnvironmentStatus {
                name: "qa".into(),
                id: Some("qa".into()),
                kept: None,
            },
            EnvironmentStatus {
                name: "gone".into(),
                id: Some("gone".into()),
                kept: None,
            },
        ];
        let plan = environment_plan(&spec().environments, &current, &managed);
        assert_eq!(plan.delete, vec!["qa".to_string()]);
        assert_eq!(
            plan.describe(),
            vec!["delete environment \"qa\"".to_string()]
        );
    }

    #[test]
    fn an_environment_is_kept_while_a_declared_component_lives_in_it() {
        assert_eq!(kept_because("qa", "shop", &[]), None);
        let one = kept_because("qa", "shop", &["Component api".into()]).unwrap();
        assert!(one.contains("Component api still lives in it"), "{one}");
        let many: Vec<String> = (0..5).map(|i| format!("Component c{i}")).collect();
        let many = kept_because("qa", "shop", &many).unwrap();
        assert!(many.contains("c2 and 2 more still live in it"), "{many}");
    }

    #[test]
    fn status_lists_declared_environments_with_their_ids() {
        let current = vec![env("staging", "staging", "")];
        let s = environment_status(&spec().environments, &current);
        assert_eq!(s[0].id.as_deref(), Some("staging"));
        assert_eq!(s[1].id, None);
    }
}
