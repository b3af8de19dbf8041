//! A Project on OpsChain: decisions (pure) and their execution.
//!
//! The code is the natural key; status records OpsChain's id. OpsChain never deletes: a DELETE
//! archives, and an archived project keeps its code. So an archived project or environment
//! that is still declared is brought back, and deletion archives.

pub mod plan;

use converge_api::common::conditions::reason;
use converge_core::Platform;
use converge_engine::external::{self, Ensured, PlatformDelete, PlatformObject};
use converge_engine::{Cx, Failure, Phase};
use converge_platforms::ClientError;
use converge_platforms::opschain::{Environment, NewProject, NodeUpdate, OpsChainClient, Project};

use converge_api::project::{OpsChainProject, Project as Kind, ProjectStatus};

use plan::*;

/// The OpsChain project a Project declares: found and created by its code.
struct ProjectObject<'a> {
    spec: &'a OpsChainProject,
    client: &'a OpsChainClient,
}

impl PlatformObject<Kind> for ProjectObject<'_> {
    type Observed = Project;
    type Update = NodeUpdate;
    const PLATFORM: Platform = Platform::OpsChain;
    const WHAT: &'static str = "project";

    fn key(&self) -> &str {
        &self.spec.code
    }
    fn id(found: &Project) -> String {
        found.id.clone()
    }
    fn record(status: &mut ProjectStatus, id: String) {
        status.project_id = Some(id);
    }
    async fn observe(&self, _by_id: Option<&str>) -> Result<Option<Project>, Failure> {
        // The code is the key OpsChain looks projects up by.
        Ok(self.client.get_project(self.key()).await?)
    }
    async fn create(&self) -> Result<Project, Failure> {
        let spec = self.spec;
        Ok(self
            .client
            .create_project(&NewProject {
                code: spec.code.clone(),
                name: spec.name.clone(),
                description: spec.description.clone(),
                project_type: spec
                    .project_type
                    .clone()
                    .unwrap_or_else(|| DEFAULT_PROJECT_TYPE.to_string()),
            })
            .await?)
    }
    fn refuse(&self, found: &Project) -> Option<Failure> {
        type_mismatch(self.spec, found).map(|m| Failure::stalled(reason::INVALID_SPEC, m))
    }
    fn plan(&self, found: &Project) -> Option<(NodeUpdate, Vec<String>)> {
        node_update(
            &self.spec.name,
            self.spec.description.as_ref(),
            &found.name,
            found.description.as_deref(),
            found.archived,
        )
    }
    async fn update(
        &self,
        _found: &Project,
        update: &NodeUpdate,
    ) -> Result<Option<Project>, Failure> {
        self.client.update_project(self.key(), update).await?;
        Ok(None)
    }
}

pub async fn converge(
    obj: &Kind,
    spec: &OpsChainProject,
    client: &OpsChainClient,
    cx: &mut Cx<Kind>,
) -> Result<Phase, Failure> {
    let key = spec.code.as_str();
    let object = ProjectObject { spec, client };
    let project = match external::ensure(obj, &object, cx).await? {
        Ensured::Found(project) => project,
        Ensured::Held(phase) => return Ok(phase),
    };
    let mut held = Vec::new();
    external::update(&object, &project, cx, &mut held).await?;

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

/// An OpsChain project to archive (OpsChain's DELETE), which takes the code: the spec's, or
/// the key of a create in flight.
struct Deletion<'a> {
    client: &'a OpsChainClient,
    code: Option<&'a str>,
}

impl PlatformDelete<Kind> for Deletion<'_> {
    fn recorded(&self, status: &ProjectStatus) -> Option<String> {
        // Status records OpsChain's id; the code it was found by is the spec's, which the
        // schema makes immutable.
        status
            .project_id
            .as_ref()
            .and(self.code)
            .map(str::to_string)
    }
    async fn made_by(&self, code: &str) -> Result<Option<String>, Failure> {
        Ok(Some(code.to_string()))
    }
    async fn delete(&self, code: &str) -> Result<(), ClientError> {
        self.client.archive_project(code).await
    }
}

/// Deletion archives. It needs the code, which only the spec holds; the schema makes it
/// immutable, so the spec of a deleted object still names the right project.
pub async fn delete(
    spec: Option<&OpsChainProject>,
    client: &OpsChainClient,
    cx: &mut Cx<Kind>,
) -> Result<(), Failure> {
    let code = spec.map(|s| s.code.as_str());
    if code.is_none() && cx.status.common.pending_create.is_none() {
        cx.left_in_place("the OpsChain project code is unknown");
        return Ok(());
    }
    external::delete(&Deletion { client, code }, cx).await
}
