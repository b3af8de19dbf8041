//! The decisions (pure) for a project on opschain: what to create or change, from what the
//! platform shows and what the spec declares. `mod.rs` observes and writes.

use converge_platforms::opschain::{Environment, NewEnvironment, NodeUpdate, Project};

use converge_api::project::{EnvironmentStatus, OpsChainEnvironment, OpsChainProject};

/// The project type used when the spec names none.
pub const DEFAULT_PROJECT_TYPE: &str = "Standard";

/// A PATCH that makes a node match (name, description when declared, not archived).
pub fn node_update(
    name: &str,
    description: Option<&String>,
    current_name: &str,
    current_description: Option<&str>,
    archived: bool,
) -> Option<(NodeUpdate, Vec<String>)> {
    let mut update = NodeUpdate::default();
    let mut changes = Vec::new();
    if name != current_name {
        changes.push(format!("name {current_name:?} → {name:?}"));
        update.name = Some(name.to_string());
    }
    if let Some(d) = description
        && Some(d.as_str()) != current_description
    {
        changes.push(format!("description → {d:?}"));
        update.description = Some(d.clone());
    }
    if archived {
        changes.push("bring back from the archive".into());
        update.archived = Some(false);
    }
    (!changes.is_empty()).then_some((update, changes))
}

/// The project's declared type cannot differ from the platform's: OpsChain never changes it.
pub fn type_mismatch(spec: &OpsChainProject, current: &Project) -> Option<String> {
    let want = spec.project_type.as_deref()?;
    (want != current.project_type).then(|| {
        format!(
            "OpsChain project {:?} is of type {:?}, but the spec declares {want:?}; a project type \
             cannot change: declare {:?} or use another code",
            current.code, current.project_type, current.project_type
        )
    })
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnvironmentPlan {
    pub create: Vec<NewEnvironment>,
    pub update: Vec<(String, NodeUpdate, Vec<String>)>,
    pub archive: Vec<String>,
}

impl EnvironmentPlan {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.archive.is_empty()
    }
    pub fn describe(&self) -> Vec<String> {
        let mut d: Vec<String> = self
            .create
            .iter()
            .map(|e| format!("create environment {:?}", e.code))
            .collect();
        d.extend(
            self.update
                .iter()
                .map(|(c, _, ch)| format!("update environment {c:?}: {}", ch.join(", "))),
        );
        d.extend(
            self.archive
                .iter()
                .map(|c| format!("archive environment {c:?}")),
        );
        d
    }
}

fn display_name(e: &OpsChainEnvironment) -> &str {
    e.name.as_deref().unwrap_or(&e.code)
}

/// Declared environments against the platform's; only environments status recorded as
/// Converge's are archived when no longer declared.
pub fn environment_plan(
    declared: &[OpsChainEnvironment],
    current: &[Environment],
    managed: &[EnvironmentStatus],
) -> EnvironmentPlan {
    let mut plan = EnvironmentPlan::default();
    for want in declared {
        match current.iter().find(|e| e.code == want.code) {
            None => plan.create.push(NewEnvironment {
                code: want.code.clone(),
                name: display_name(want).to_string(),
                description: want.description.clone(),
            }),
            Some(have) => {
                if let Some((u, ch)) = node_update(
                    display_name(want),
                    want.description.as_ref(),
                    &have.name,
                    have.description.as_deref(),
                    have.archived,
                ) {
                    plan.update.push((want.code.clone(), u, ch));
                }
            }
        }
    }
    for m in managed {
        let declared_still = declared.iter().any(|d| d.code == m.name);
        let live = current.iter().any(|e| e.code == m.name && !e.archived);
        if !declared_still && live {
            plan.archive.push(m.name.clone());
        }
    }
    plan
}

pub fn environment_status(
    declared: &[OpsChainEnvironment],
    current: &[Environment],
) -> Vec<EnvironmentStatus> {
    declared
        .iter()
        .map(|d| EnvironmentStatus {
            name: d.code.clone(),
            id: current
                .iter()
                .find(|e| e.code == d.code && !e.archived)
                .map(|e| e.id.clone()),
            kept: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(code: &str, name: &str, archived: bool) -> Environment {
        Environment {
            id: format!("id-{code}"),
            code: code.into(),
            name: name.into(),
            description: None,
            archived,
            created_by: None,
            properties_id: None,
        }
    }

    fn declared() -> Vec<OpsChainEnvironment> {
        serde_json::from_value(serde_json::json!([
            {"code": "dev"}, {"code": "prod", "name": "Production", "description": "live"}
        ]))
        .unwrap()
    }

    #[test]
    fn node_update_only_for_declared_differences() {
        assert_eq!(
            node_update("a", None, "a", Some("x"), false),
            None,
            "an undeclared description is not fought over"
        );
        let (u, ch) = node_update("b", Some(&"d".to_string()), "a", None, false).unwrap();
        assert_eq!(u.name.as_deref(), Some("b"));
        assert_eq!(u.description.as_deref(), Some("d"));
        assert_eq!(u.archived, None);
        assert_eq!(ch.len(), 2);
    }

    #[test]
    fn an_archived_node_that_is_declared_is_brought_back() {
        let (u, _) = node_update("a", None, "a", None, true).unwrap();
        assert_eq!(u.archived, Some(false));
    }

    #[test]
    fn a_project_type_cannot_change() {
        let spec: OpsChainProject = serde_json::from_value(
            serde_json::json!({"code": "shop", "name": "Shop", "projectType": "Enterprise"}),
        )
        .unwrap();
        let mut p = Project {
            id: "1".into(),
            code: "shop".into(),
            name: "Shop".into(),
            description: None,
            archived: false,
            project_type: "Standard".into(),
            created_by: None,
            properties_id: None,
        };
        assert!(type_mismatch(&spec, &p).unwrap().contains("cannot change"));
        p.project_type = "Enterprise".into();
        assert_eq!(type_mismatch(&spec, &p), None);
    }

    #[test]
    fn environments_created_updated_and_archived() {
        let plan = environment_plan(&declared(), &[], &[]);
        assert_eq!(plan.create.len(), 2);
        assert_eq!(plan.create[0].name, "dev");

        let current = vec![
            env("dev", "dev", false),
            env("prod", "Prod", false),
            env("old", "old", false),
            env("theirs", "t", false),
        ];
        let managed = vec![EnvironmentStatus {
            name: "old".into(),
            id: Some("id-old".into()),
            kept: None,
        }];
        let plan = environment_plan(&declared(), &current, &managed);
        assert!(plan.create.is_empty());
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].0, "prod");
        assert_eq!(
            plan.archive,
            vec!["old".to_string()],
            "someone else's environment stays"
        );
    }

    #[test]
    fn an_archived_declared_environment_is_brought_back_and_not_counted_meanwhile() {
        let mut prod = env("prod", "Production", true);
        prod.description = Some("live".into());
        let current = vec![env("dev", "dev", false), prod];
        let plan = environment_plan(&declared(), &current, &[]);
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].1.archived, Some(false));
        let s = environment_status(&declared(), &current);
        assert_eq!(s[1].id, None);
    }
}
