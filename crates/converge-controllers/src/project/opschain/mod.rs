//! A Project on OpsChain: decisions (pure) and their execution.
//!
//! The code is the natural key; status records OpsChain's id. OpsChain never deletes: a DELETE
//! archives, and an archived project keeps its code. So an archived project or environment
//! that is still declared is brought back, and deletion archives.

pub mod plan;

use converge_api::common::conditions::reason;
use converge_engine::ownership::{self, Ownership};
use converge_engine::{Cx, Failure, Phase};
use converge_platforms::opschain::{Environment, NewProject, OpsChainClient};

use converge_api::project::{OpsChainProject, Project as Kind};

use plan::*;

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
