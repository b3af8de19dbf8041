//! The decisions (pure) for a project on cycloid: what to create or change, from what the
//! platform shows and what the spec declares. `mod.rs` observes and writes.

use converge_platforms::cycloid::{
    Environment, NewEnvironment, NewProject, Project, UpdateEnvironment, UpdateProject,
};

use converge_api::project::{CycloidEnvironment, CycloidProject, EnvironmentStatus};

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
