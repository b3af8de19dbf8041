//! A Project on WSO2 Choreo. Choreo offers create and list for projects, no update and no
//! delete: the name is the natural key, the spec's fields are immutable (CEL), and deletion
//! leaves the project on Choreo. Status lists the organization's environments, which the
//! project's components deploy to.

pub mod plan;

use converge_api::common::conditions::reason;
use converge_core::Platform;
use converge_engine::external::{self, Ensured, PlatformObject};
use converge_engine::{Cx, Failure, Phase};
use converge_platforms::choreo::{ChoreoClient, Project, ProjectCreate};

use converge_api::project::{ChoreoProject, Project as Kind, ProjectStatus};

use plan::*;

/// The Choreo project a Project declares: found by its recorded or external id, else by name.
/// Choreo has no update and no delete for projects.
struct ProjectObject<'a> {
    spec: &'a ChoreoProject,
    client: &'a ChoreoClient,
}

impl PlatformObject<Kind> for ProjectObject<'_> {
    type Observed = Project;
    type Update = ();
    const PLATFORM: Platform = Platform::Choreo;
    const WHAT: &'static str = "project";

    fn key(&self) -> &str {
        &self.spec.name
    }
    fn id(found: &Project) -> String {
        found.id.clone()
    }
    fn record(status: &mut ProjectStatus, id: String) {
        status.project_id = Some(id);
    }
    async fn observe(&self, by_id: Option<&str>) -> Result<Option<Project>, Failure> {
        let projects = self.client.list_projects().await?;
        let key = self.key();
        Ok(select(&projects, key, by_id)
            .or_else(|| select(&projects, key, None))
            .cloned())
    }
    async fn create(&self) -> Result<Project, Failure> {
        Ok(self
            .client
            .create_project(&ProjectCreate {
                name: self.spec.name.clone(),
                description: self.spec.description.clone(),
            })
            .await?)
    }
    fn refuse(&self, found: &Project) -> Option<Failure> {
        let key = self.key();
        (found.name != key).then(|| {
            Failure::stalled(
                reason::INVALID_SPEC,
                format!(
                    "Choreo project {} is named {:?}, not {key:?}; Choreo cannot rename \
                     projects: declare its name or remove spec.externalId",
                    found.id, found.name
                ),
            )
        })
    }
    fn vanished(&self, recorded_id: &str) -> Option<Failure> {
        // Choreo has no delete: a recorded project that vanished was removed by a person.
        Some(Failure::stalled(
            reason::PLATFORM_ERROR,
            format!(
                "Choreo project {:?} (id {recorded_id}) no longer exists; delete and re-create \
                 this Project to create it again",
                self.key()
            ),
        ))
    }
}

pub async fn converge(
    obj: &Kind,
    spec: &ChoreoProject,
    client: &ChoreoClient,
    cx: &mut Cx<Kind>,
) -> Result<Phase, Failure> {
    let key = spec.name.as_str();
    let object = ProjectObject { spec, client };
    if let Ensured::Held(phase) = external::ensure(obj, &object, cx).await? {
        return Ok(phase);
    }
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
