//! A Component on WSO2 Choreo: observe the component, its builds and deployments, decide with
//! `plan`, and make the one write the decision calls for.

pub mod plan;

use std::time::Duration;

use crate::component::reasons;
use converge_api::common::conditions::reason;
use converge_api::component::{BuildStatus, ChoreoComponent, Component, ComponentStatus};
use converge_api::project::Project;
use converge_core::Platform;
use converge_engine::external::{self, Ensured, PlatformDelete, PlatformObject};
use converge_engine::{Cx, Failure, Phase};
use converge_platforms::choreo::{self, Build, ChoreoClient, DeploymentCreate};
use converge_platforms::{ClientError, PlatformClient};
use plan::{BuildStep, Next, Outcome};

/// How soon to look again while Choreo builds or deploys.
pub const RECHECK: Duration = Duration::from_secs(1);

fn client(cx: &Cx<Component>) -> Result<ChoreoClient, Failure> {
    match &cx.client {
        PlatformClient::Choreo(c) => Ok(c.clone()),
        _ => Err(Failure::stalled(
            reason::INVALID_SPEC,
            "the connection is not a Choreo connection",
        )),
    }
}

/// The Choreo component a Component declares, in its Project's Choreo project: found by its
/// recorded or external id, else by name. Choreo cannot update a component, so one whose
/// source differs from the spec stalls ([`plan::differs`]).
struct ComponentObject<'a> {
    spec: &'a ChoreoComponent,
    client: &'a ChoreoClient,
    project_id: &'a str,
}

impl PlatformObject<Component> for ComponentObject<'_> {
    type Observed = choreo::Component;
    type Update = ();
    const PLATFORM: Platform = Platform::Choreo;
    const WHAT: &'static str = "component";

    fn key(&self) -> &str {
        &self.spec.name
    }
    fn id(found: &choreo::Component) -> String {
        found.id.clone()
    }
    fn record(status: &mut ComponentStatus, id: String) {
        status.component_id = Some(id);
    }
    fn before_create(&self, status: &mut ComponentStatus) {
        // A new component has no builds or deployments yet.
        status.build = None;
        status.pending_build = None;
        status.deployments.clear();
    }
    async fn observe(&self, by_id: Option<&str>) -> Result<Option<choreo::Component>, Failure> {
        let components = self.client.list_components(self.project_id).await?;
        let by_id = by_id.and_then(|id| components.iter().find(|c| c.id == id));
        Ok(by_id
            .or_else(|| components.iter().find(|c| c.name == self.spec.name))
            .cloned())
    }
    async fn create(&self) -> Result<choreo::Component, Failure> {
        Ok(self
            .client
            .create_component(self.project_id, &plan::create_body(self.spec))
            .await?)
    }
    fn refuse(&self, found: &choreo::Component) -> Option<Failure> {
        plan::differs(self.spec, found).map(Failure::Stop)
    }
}

pub async fn converge(
    obj: &Component,
    spec: &ChoreoComponent,
    cx: &mut Cx<Component>,
) -> Result<Phase, Failure> {
    let client = client(cx)?;
    let project_name = &obj.spec.project_ref.name;
    let project = cx.ready::<Project>(project_name).await?;
    let project_id = project.status.and_then(|s| s.project_id).ok_or_else(|| {
        Failure::waiting(format!(
            "waiting for Project {project_name:?} to record its Choreo id"
        ))
    })?;
    cx.status.project_id = Some(project_id.clone());

    let object = ComponentObject {
        spec,
        client: &client,
        project_id: &project_id,
    };
    let component_id = match external::ensure(obj, &object, cx).await? {
        Ensured::Found(found) => found.id,
        Ensured::Held(phase) => return Ok(phase),
    };

    let key = spec
        .revision
        .as_ref()
        .map(plan::revision_key)
        .unwrap_or_default();
    // A drift check of a component whose declared revision built: a finished build never
    // changes, so only the deployments are looked at.
    let settled = cx
        .at_rest()
        .then(|| plan::settled_build(spec.revision.as_ref(), &cx.status))
        .flatten();
    let build_id = match settled {
        Some(id) => id,
        None => {
            let builds = client.list_builds(&project_id, &component_id).await?;
            let build = match plan::build(spec.revision.as_ref(), &cx.status, &builds) {
                BuildStep::Nothing => {
                    cx.status.build = None;
                    cx.status.pending_build = None;
                    cx.status.deployments.clear();
                    return Ok(Phase::converged(format!(
                        "Choreo component {:?} exists; no revision is declared, so nothing is built",
                        spec.name
                    )));
                }
                BuildStep::Watch(build) => build,
                BuildStep::Trigger { key, body } => {
                    if !cx.may_write() {
                        return Ok(cx.held(vec![format!("build revision {key}")]));
                    }
                    cx.status.pending_build = Some(key.clone());
                    cx.save().await?;
                    let build = client
                        .create_build(&project_id, &component_id, &body)
                        .await?;
                    cx.did(
                        reasons::BUILD_STARTED,
                        format!("started build {} of revision {key}", build.id),
                    );
                    record_build(cx, &build, &key);
                    cx.save().await?;
                    build
                }
            };
            record_build(cx, &build, &key);
            match plan::outcome(&build) {
                Outcome::Running => {
                    return Ok(Phase::progressing(
                        format!(
                            "building revision {key} (build {}: {})",
                            build.id, build.status
                        ),
                        RECHECK,
                    ));
                }
                Outcome::Failed => {
                    return Err(Failure::stalled(
                        reasons::BUILD_FAILED,
                        format!(
                            "build {} of revision {key} ended {}; fix the source and declare a new \
                             revision",
                            build.id, build.status
                        ),
                    ));
                }
                Outcome::Succeeded => {}
            }
            build.id
        }
    };
    if spec.deployments.is_empty() {
        cx.status.deployments.clear();
        return Ok(Phase::converged(format!(
            "revision {key} built (build {}); no environment declared",
            build_id
        )));
    }

    let environments = client.list_environments().await?;
    let deployments = client.list_deployments(&project_id, &component_id).await?;
    let rollout = plan::rollout(&spec.deployments, &environments, &deployments, &build_id);
    cx.status.deployments = rollout.statuses;
    match rollout.next {
        Next::Done => Ok(Phase::converged(format!(
            "revision {key} (build {}) is live in {}",
            build_id,
            spec.deployments
                .iter()
                .map(|d| d.environment.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        Next::Wait(message) => Ok(Phase::progressing(message, RECHECK)),
        Next::Stalled { reason, message } => Err(Failure::stalled(reason, message)),
        Next::Deploy {
            environment,
            environment_id,
        } => {
            if !cx.may_write() {
                return Ok(cx.held(vec![format!("deploy build {build_id} to {environment}")]));
            }
            let body = DeploymentCreate {
                build_id: build_id.clone(),
                environment_id,
            };
            let deployment = client
                .create_deployment(&project_id, &component_id, &body)
                .await?;
            cx.did(
                reasons::DEPLOYED,
                format!(
                    "deployed build {} of revision {key} to {environment} (deployment {})",
                    build_id, deployment.id
                ),
            );
            if let Some(s) = cx
                .status
                .deployments
                .iter_mut()
                .find(|s| s.environment == environment)
            {
                s.id = Some(deployment.id.clone());
                s.build_id = Some(deployment.build_id.clone());
                s.status = Some(deployment.status.to_string());
            }
            Ok(Phase::progressing(
                format!("deploying build {} to {environment}", build_id),
                RECHECK,
            ))
        }
    }
}

fn record_build(cx: &mut Cx<Component>, build: &Build, key: &str) {
    cx.status.build = Some(Box::new(BuildStatus {
        id: build.id.clone(),
        status: build.status.to_string(),
        revision: Some(key.to_string()),
        trigger: None,
        event_id: None,
    }));
    if cx.status.pending_build.as_deref() == Some(key) {
        cx.status.pending_build = None;
    }
}

/// A Choreo component to delete, with its builds and deployments: by the recorded id, else
/// by the name a create in flight used.
struct Deletion<'a> {
    client: &'a ChoreoClient,
    project_id: &'a str,
}

impl PlatformDelete<Component> for Deletion<'_> {
    async fn made_by(&self, name: &str) -> Result<Option<String>, Failure> {
        let found = self
            .client
            .find_component_by_name(self.project_id, name)
            .await?;
        Ok(found.map(|c| c.id))
    }
    async fn delete(&self, id: &str) -> Result<(), ClientError> {
        self.client.delete_component(self.project_id, id).await
    }
}

/// Deletes the component (with its builds and deployments). Works from status alone.
pub async fn delete(cx: &mut Cx<Component>) -> Result<(), Failure> {
    let client = client(cx)?;
    let Some(project_id) = cx.status.project_id.clone() else {
        return Ok(());
    };
    let deletion = Deletion {
        client: &client,
        project_id: &project_id,
    };
    external::delete(&deletion, cx).await
}
