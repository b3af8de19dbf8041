//! A Project on OpsChain: decisions (pure) and their execution.
//!
//! The code is the natural key; status records OpsChain's id. OpsChain never deletes: a DELETE
//! archives, and an archived project keeps its code. So an archived project or environment
//! that is still declared is brought back, and deletion archives.

use converge_api::common::conditions::reason;
use converge_engine::ownership::{self, Ownership};
use converge_engine::{Cx, Failure, Phase};
use converge_platforms::opschain::{
    Environment, NewEnvironment, NewProject, NodeUpdate, OpsChainClient, Project,
};

use converge_api::project::{
    EnvironmentStatus, OpsChainEnvironment, OpsChainProject, Project as Kind,
};

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

pub async fn converge(
    obj: &Kind,
    spec: &OpsChainProject,
    client: &OpsChainClient,
    cx: &mut Cx<Kind>,
) -> Result<Phase, Failure> {
    let key = spec.code.as_str();
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
                &p.id,
            ) {
                Ownership::Conflict if cx.may_write() => {
                    return Err(Failure::stalled(
                        reason::CONFLICT,
                        ownership::conflict_message("OpsChain", "project", key, &p.id),
                    ));
                }
                Ownership::Adopted if cx.may_write() && recorded.is_none() => {
                    cx.did("Adopted", format!("adopted OpsChain project {key:?}"));
                }
                _ => {}
            }
            p
        }
        None if !cx.may_write() => {
            return Ok(cx.held(vec![format!("create OpsChain project {key:?}")]));
        }
        None => {
            if let Some(id) = &obj.spec.management.external_id {
                return Err(Failure::stalled(
                    reason::INVALID_SPEC,
                    format!("spec.externalId {id:?}: OpsChain has no project {key:?} to adopt"),
                ));
            }
            cx.before_create(key).await?;
            let p = client
                .create_project(&NewProject {
                    code: spec.code.clone(),
                    name: spec.name.clone(),
                    description: spec.description.clone(),
                    project_type: spec
                        .project_type
                        .clone()
                        .unwrap_or_else(|| DEFAULT_PROJECT_TYPE.to_string()),
                })
                .await?;
            cx.status.project_id = Some(p.id.clone());
            cx.created().await?;
            cx.did("Created", format!("created OpsChain project {key:?}"));
            p
        }
    };
    if let Some(m) = type_mismatch(spec, &project) {
        return Err(Failure::stalled(reason::INVALID_SPEC, m));
    }
    cx.status.project_id = Some(project.id.clone());
    cx.status.common.pending_create = None;

    let mut held = Vec::new();
    if let Some((update, changes)) = node_update(
        &spec.name,
        spec.description.as_ref(),
        &project.name,
        project.description.as_deref(),
        project.archived,
    ) {
        if cx.may_write() {
            client.update_project(key, &update).await?;
            cx.did(
                "Updated",
                format!("updated OpsChain project {key:?}: {}", changes.join(", ")),
            );
        } else {
            held.extend(changes);
        }
    }

    let current = client.list_environments(key).await?;
    let plan = environment_plan(&spec.environments, &current, &cx.status.environments);
    if !cx.may_write() {
        held.extend(plan.describe());
        set_environments(cx, spec, &current);
        return Ok(cx.held(held));
    }
    for e in &plan.create {
        client.create_environment(key, e).await?;
        cx.did(
            "Created",
            format!(
                "created OpsChain environment {:?} in project {key:?}",
                e.code
            ),
        );
    }
    for (code, u, changes) in &plan.update {
        client.update_environment(key, code, u).await?;
        cx.did(
            "Updated",
            format!(
                "updated OpsChain environment {code:?} of project {key:?}: {}",
                changes.join(", ")
            ),
        );
    }
    for code in &plan.archive {
        match client.archive_environment(key, code).await {
            Err(e) if !e.is_not_found() => return Err(e.into()),
            _ => cx.did(
                "Archived",
                format!("archived OpsChain environment {code:?} of project {key:?}"),
            ),
        }
    }
    let current = if plan.is_empty() {
        current
    } else {
        client.list_environments(key).await?
    };
    set_environments(cx, spec, &current);
    Ok(Phase::converged(format!(
        "OpsChain project {key:?} with {} environment(s)",
        spec.environments.len()
    )))
}

fn set_environments(cx: &mut Cx<Kind>, spec: &OpsChainProject, current: &[Environment]) {
    let envs = environment_status(&spec.environments, current);
    cx.status.environment_count = Some(envs.iter().filter(|e| e.id.is_some()).count() as i32);
    cx.status.environments = envs;
}

/// Deletion archives (OpsChain's DELETE). It needs the code, which only the spec holds; the
/// schema makes it immutable, so the spec of a deleted object still names the right project.
pub async fn delete(
    spec: Option<&OpsChainProject>,
    client: &OpsChainClient,
    cx: &mut Cx<Kind>,
) -> Result<(), Failure> {
    let code = spec
        .map(|s| s.code.clone())
        .or_else(|| cx.status.common.pending_create.clone());
    let Some(code) = code else {
        cx.left_in_place("the OpsChain project code is unknown");
        return Ok(());
    };
    match client.archive_project(&code).await {
        Err(e) if !e.is_not_found() => Err(e.into()),
        _ => Ok(()),
    }
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
