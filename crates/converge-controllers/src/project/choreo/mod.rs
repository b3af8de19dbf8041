//! A Project on WSO2 Choreo. Choreo offers create and list for projects, no update and no
//! delete: the name is the natural key, the spec's fields are immutable (CEL), and deletion
//! leaves the project on Choreo. Status lists the organization's environments, which the
//! project's components deploy to.

pub mod plan;

use converge_api::common::conditions::reason;
use converge_engine::ownership::{self, Ownership};
use converge_engine::{Cx, Failure, Phase};
use converge_platforms::choreo::{ChoreoClient, ProjectCreate};

use converge_api::project::{ChoreoProject, Project as Kind};

use plan::*;

pub async fn converge(
    obj: &Kind,
    spec: &ChoreoProject,
    client: &ChoreoClient,
    cx: &mut Cx<Kind>,
) -> Result<Phase, Failure> {
    let key = spec.name.as_str();
    let projects = client.list_projects().await?;
    let recorded = cx.status.project_id.clone();
    let pending = cx.status.common.pending_create.clone();
    let external = obj.spec.management.external_id.clone();
    let by_id = recorded.as_deref().or(external.as_deref());
    let found = select(&projects, key, by_id).or_else(|| select(&projects, key, None));
    let project = match found {
        Some(p) => {
            if p.name != key {
                return Err(Failure::stalled(
                    reason::INVALID_SPEC,
                    format!(
                        "Choreo project {} is named {:?}, not {key:?}; Choreo cannot rename \
                         projects: declare its name or remove spec.externalId",
                        p.id, p.name
                    ),
                ));
            }
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
                        ownership::conflict_message("Choreo", "project", key, &p.id),
                    ));
                }
                Ownership::Adopted if cx.may_write() && recorded.is_none() => {
                    cx.did("Adopted", format!("adopted Choreo project {key:?}"));
                }
                _ => {}
            }
            p.clone()
        }
        None if recorded.is_some() && cx.may_write() => {
            // Choreo has no delete: a recorded project that vanished was removed by a person.
            return Err(Failure::stalled(
                reason::PLATFORM_ERROR,
                format!(
                    "Choreo project {key:?} (id {}) no longer exists; delete and re-create this \
                     Project to create it again",
                    recorded.unwrap_or_default()
                ),
            ));
        }
        None if !cx.may_write() => {
            return Ok(cx.held(vec![format!("create Choreo project {key:?}")]));
        }
        None => {
            if let Some(id) = external {
                return Err(Failure::stalled(
                    reason::INVALID_SPEC,
                    format!("spec.externalId {id:?}: Choreo has no such project to adopt"),
                ));
            }
            cx.before_create(key).await?;
            let p = client
                .create_project(&ProjectCreate {
                    name: spec.name.clone(),
                    description: spec.description.clone(),
                })
                .await?;
            cx.status.project_id = Some(p.id.clone());
            cx.created().await?;
            cx.did("Created", format!("created Choreo project {key:?}"));
            p
        }
    };
    cx.status.project_id = Some(project.id.clone());
    cx.status.common.pending_create = None;
    let environments = client.list_environments().await?;
    cx.status.environments = environment_status(&environments);
    cx.status.environment_count = Some(environments.len() as i32);
    Ok(match cx.hold {
        Some(_) => cx.held(vec![]),
        None => Phase::converged(format!(
            "Choreo project {key:?}; {} environment(s) in the organization",
            environments.len()
        )),
    })
}
