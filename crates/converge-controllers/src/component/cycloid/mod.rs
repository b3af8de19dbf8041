//! A Component on Cycloid: observe the component, its pipelines and the job build, decide with
//! `plan`, write what differs, and send the completion event once.

pub mod plan;

use std::time::Duration;

use crate::component::reasons;
use converge_api::common::conditions::reason;
use converge_api::component::{
    BuildStatus, Component, ComponentStatus, CycloidBuild, CycloidComponent, PipelineStatus,
};
use converge_api::project::Project;
use converge_core::Platform;
use converge_engine::external::{self, Ensured, PlatformDelete, PlatformObject};
use converge_engine::{Cx, Failure, Phase};
use converge_platforms::cycloid::{
    self, Build, ComponentPath, CycloidClient, EventFilter, FormVariables, UpdateComponent,
};
use converge_platforms::{ClientError, PlatformClient};
use plan::{BuildStep, Desired, Observed, Outcome, PipelineAction};

/// How soon to look again while a job build runs.
pub const RECHECK: Duration = Duration::from_secs(2);
/// How soon to look again at a build held by a declared pause: only a spec change (which
/// reconciles at once) or drift moves it.
pub const PAUSED_RECHECK: Duration = Duration::from_secs(300);

fn client(cx: &Cx<Component>) -> Result<CycloidClient, Failure> {
    match &cx.client {
        PlatformClient::Cycloid(c) => Ok(c.clone()),
        _ => Err(Failure::stalled(
            reason::INVALID_SPEC,
            "the connection is not a Cycloid connection",
        )),
    }
}

/// The declared pipelines with their configuration read (from a ConfigMap if need be).
async fn desired(spec: &CycloidComponent, cx: &Cx<Component>) -> Result<Vec<Desired>, Failure> {
    let mut out = Vec::new();
    for p in &spec.pipelines {
        let config = match (&p.config, &p.config_from) {
            (Some(c), _) => c.clone(),
            (None, Some(r)) => cx.config_map_key(&r.name, &r.key).await?,
            (None, None) => String::new(),
        };
        out.push(Desired {
            name: p.name.clone(),
            config,
            vars: p.vars.clone(),
            paused: p.paused.unwrap_or(false),
        });
    }
    Ok(out)
}

/// The Cycloid component a Component declares, in its Project's environment: its canonical is
/// both key and id. It is read with its form variables when the spec declares some, so that
/// `plan` can compare them.
struct ComponentObject<'a> {
    spec: &'a CycloidComponent,
    client: &'a CycloidClient,
    at: &'a ComponentPath,
}

impl PlatformObject<Component> for ComponentObject<'_> {
    type Observed = (cycloid::Component, Option<FormVariables>);
    type Update = UpdateComponent;
    const PLATFORM: Platform = Platform::Cycloid;
    const WHAT: &'static str = "component";

    fn key(&self) -> &str {
        &self.spec.canonical
    }
    fn name(&self) -> String {
        self.at.to_string()
    }
    fn id((found, _): &Self::Observed) -> String {
        found.canonical.clone()
    }
    fn record(status: &mut ComponentStatus, id: String) {
        status.component_id = Some(id);
    }
    fn before_create(&self, status: &mut ComponentStatus) {
        status.pipelines.clear();
        status.build = None;
    }
    async fn observe(&self, _by_id: Option<&str>) -> Result<Option<Self::Observed>, Failure> {
        // The canonical is the id: there is nothing else to look a component up by.
        let Some(found) = self.client.get_component(self.at).await? else {
            return Ok(None);
        };
        let config = match &self.spec.vars {
            Some(_) => self.client.get_component_config(self.at).await?,
            None => None,
        };
        Ok(Some((found, config)))
    }
    async fn create(&self) -> Result<Self::Observed, Failure> {
        let created = self
            .client
            .create_component(
                &self.at.project,
                &self.at.environment,
                &plan::new_component(self.spec),
            )
            .await?;
        // The create sent the declared variables: they are what Cycloid now holds, so the
        // update that follows has nothing to write (None would read as "no variables yet").
        let config = self.spec.vars.clone();
        Ok((created, config))
    }
    fn refuse(&self, (found, _): &Self::Observed) -> Option<Failure> {
        plan::differs(self.spec, found).map(Failure::Stop)
    }
    fn plan(&self, (found, config): &Self::Observed) -> Option<(UpdateComponent, Vec<String>)> {
        plan::component_update(self.spec, found, config.as_ref())
    }
    async fn update(
        &self,
        _found: &Self::Observed,
        update: &UpdateComponent,
    ) -> Result<Option<Self::Observed>, Failure> {
        self.client.update_component(self.at, update).await?;
        Ok(None)
    }
}

pub async fn converge(
    obj: &Component,
    spec: &CycloidComponent,
    cx: &mut Cx<Component>,
) -> Result<Phase, Failure> {
    let client = client(cx)?;
    let project_name = &obj.spec.project_ref.name;
    let project = cx.ready::<Project>(project_name).await?;
    let project_status = project.status.unwrap_or_default();
    let Some(project_canonical) = project_status.project_id else {
        return Err(Failure::waiting(format!(
            "waiting for Project {project_name:?} to record its Cycloid canonical"
        )));
    };
    if !project_status
        .environments
        .iter()
        .any(|e| e.name == spec.environment && e.kept.is_none())
    {
        return Err(Failure::waiting(format!(
            "waiting for Project {project_name:?} to declare environment {:?}",
            spec.environment
        )));
    }
    if let Some(b) = &spec.build
        && !spec.pipelines.iter().any(|p| p.name == b.pipeline)
    {
        return Err(Failure::stalled(
            reason::INVALID_SPEC,
            format!(
                "build.pipeline {:?} is not one of the declared pipelines; declare it in \
                 pipelines",
                b.pipeline
            ),
        ));
    }
    let desired = desired(spec, cx).await?;
    cx.status.project_id = Some(project_canonical.clone());
    cx.status.environment = Some(spec.environment.clone());
    let at = ComponentPath::new(&project_canonical, &spec.environment, &spec.canonical);
    let mut held = Vec::new();

    let object = ComponentObject {
        spec,
        client: &client,
        at: &at,
    };
    let found = match external::ensure(obj, &object, cx).await? {
        Ensured::Found(found) => found,
        Ensured::Held(mut phase) => {
            if let Phase::Held { changes, .. } = &mut phase {
                changes.extend(
                    desired
                        .iter()
                        .map(|d| format!("create pipeline {:?}", d.name)),
                );
            }
            return Ok(phase);
        }
    };
    external::update(&object, &found, cx, &mut held).await?;

    let build_paused = converge_pipelines(&client, cx, &at, &desired, spec, &mut held).await?;

    let mut phase = None;
    if let Some(b) = &spec.build {
        phase = drive_build(&client, cx, &at, spec, b, build_paused, &mut held).await?;
    } else {
        cx.status.build = None;
        cx.status.pending_build = None;
    }
    if !cx.may_write() && !held.is_empty() {
        return Ok(cx.held(held));
    }
    Ok(phase.unwrap_or_else(|| {
        let build = cx
            .status
            .build
            .as_ref()
            .map(|b| format!("; build {} {}", b.id, b.status))
            .unwrap_or_default();
        Phase::converged(format!(
            "Cycloid component {at} with {} pipeline(s){build}",
            desired.len()
        ))
    }))
}

/// Makes the pipelines match; returns whether the build's pipeline is paused.
async fn converge_pipelines(
    client: &CycloidClient,
    cx: &mut Cx<Component>,
    at: &ComponentPath,
    desired: &[Desired],
    spec: &CycloidComponent,
    held: &mut Vec<String>,
) -> Result<bool, Failure> {
    let mut observed = Vec::new();
    for d in desired {
        let Some(pipeline) = client.get_pipeline(at, &d.name).await? else {
            observed.push(None);
            continue;
        };
        let config = client.get_pipeline_config(at, &d.name).await?;
        let vars = client
            .get_pipeline_variables(at, &d.name)
            .await?
            .map(|v| v.yaml_vars);
        observed.push(Some(Observed {
            pipeline,
            config,
            vars,
        }));
    }
    let recorded: Vec<String> = cx.status.pipelines.iter().map(|p| p.name.clone()).collect();
    let actions = plan::pipelines(desired, &observed, &recorded);
    let build_pipeline = spec.build.as_ref().map(|b| b.pipeline.as_str());

    if !cx.may_write() {
        held.extend(actions.iter().map(PipelineAction::describe));
        let mut statuses: Vec<PipelineStatus> = desired
            .iter()
            .zip(&observed)
            .filter_map(|(d, o)| {
                o.as_ref().map(|o| PipelineStatus {
                    name: d.name.clone(),
                    paused: o.pipeline.paused,
                })
            })
            .collect();
        // Pipelines still to delete stay recorded until they are.
        statuses.extend(
            cx.status
                .pipelines
                .iter()
                .filter(|p| !desired.iter().any(|d| d.name == p.name))
                .cloned(),
        );
        let paused = statuses
            .iter()
            .find(|p| Some(p.name.as_str()) == build_pipeline)
            .is_none_or(|p| p.paused);
        cx.status.pipelines = statuses;
        return Ok(paused);
    }

    for action in actions {
        let what = action.done(at);
        match action {
            PipelineAction::Create { body, unpause } => {
                client.create_pipeline(at, &body).await?;
                cx.did(reasons::PIPELINE_CREATED, what);
                // Record it at once: a crash before the next status write must not forget it.
                cx.status.pipelines.push(PipelineStatus {
                    name: body.pipeline_name.clone(),
                    paused: true,
                });
                cx.save().await?;
                if unpause {
                    client.unpause_pipeline(at, &body.pipeline_name).await?;
                    cx.did(
                        reasons::PIPELINE_UNPAUSED,
                        PipelineAction::Unpause(body.pipeline_name.clone()).done(at),
                    );
                }
            }
            PipelineAction::Update { name, body } => {
                client.update_pipeline(at, &name, &body).await?;
                cx.did(reasons::PIPELINE_UPDATED, what);
            }
            PipelineAction::Pause(name) => {
                client.pause_pipeline(at, &name).await?;
                cx.did(reasons::PIPELINE_PAUSED, what);
            }
            PipelineAction::Unpause(name) => {
                client.unpause_pipeline(at, &name).await?;
                cx.did(reasons::PIPELINE_UNPAUSED, what);
            }
            PipelineAction::Delete(name) => {
                match client.delete_pipeline(at, &name).await {
                    Err(e) if !e.is_not_found() => return Err(e.into()),
                    _ => {}
                }
                cx.did(reasons::PIPELINE_DELETED, what);
            }
        }
    }
    cx.status.pipelines = desired
        .iter()
        .map(|d| PipelineStatus {
            name: d.name.clone(),
            paused: d.paused,
        })
        .collect();
    Ok(desired
        .iter()
        .find(|d| Some(d.name.as_str()) == build_pipeline)
        .is_some_and(|d| d.paused))
}

fn record_build(cx: &mut Cx<Component>, spec: &CycloidBuild, build: &Build) {
    let id = build.id.to_string();
    let event_id = cx
        .status
        .build
        .as_ref()
        .filter(|b| b.id == id)
        .and_then(|b| b.event_id.clone());
    cx.status.build = Some(Box::new(BuildStatus {
        id,
        status: plan::status_name(build.status).to_string(),
        revision: spec.revision.clone(),
        trigger: spec.trigger.clone(),
        event_id,
    }));
    if cx.status.pending_build.as_deref() == Some(plan::build_key(spec).as_str()) {
        cx.status.pending_build = None;
    }
}

/// Starts a build of the declared job, recording the request first so a crash cannot start a
/// second one.
async fn trigger(
    client: &CycloidClient,
    cx: &mut Cx<Component>,
    at: &ComponentPath,
    spec: &CycloidBuild,
) -> Result<Build, Failure> {
    if client
        .get_job(at, &spec.pipeline, &spec.job)
        .await?
        .is_none()
    {
        return Err(Failure::stalled(
            reason::INVALID_SPEC,
            format!(
                "pipeline {:?} has no job {:?}; fix build.job or the pipeline's configuration",
                spec.pipeline, spec.job
            ),
        ));
    }
    cx.status.pending_build = Some(plan::build_key(spec));
    cx.save().await?;
    let build = client.trigger_build(at, &spec.pipeline, &spec.job).await?;
    cx.did(
        reasons::BUILD_STARTED,
        format!(
            "started build {} of job {:?} (revision {:?}{})",
            build.name,
            spec.job,
            spec.revision.as_deref().unwrap_or_default(),
            spec.trigger
                .as_deref()
                .map(|t| format!(", trigger {t:?}"))
                .unwrap_or_default()
        ),
    );
    record_build(cx, spec, &build);
    cx.save().await?;
    Ok(build)
}

/// Triggers, watches and reports the job build; `None` when it needs nothing more.
async fn drive_build(
    client: &CycloidClient,
    cx: &mut Cx<Component>,
    at: &ComponentPath,
    spec: &CycloidComponent,
    b: &CycloidBuild,
    paused: bool,
    held: &mut Vec<String>,
) -> Result<Option<Phase>, Failure> {
    let mut build = match plan::build(Some(b), &cx.status) {
        BuildStep::Nothing => return Ok(None),
        BuildStep::Watch(id) => client.get_build(at, &b.pipeline, &b.job, id).await?,
        BuildStep::Recover { after } => {
            let builds = client.list_builds(at, &b.pipeline, &b.job).await?;
            plan::recovered(&builds, after).cloned()
        }
        BuildStep::Trigger => None,
    };
    if build.is_none() {
        if !cx.may_write() {
            held.push(format!("trigger a build of job {:?}", b.job));
            return Ok(None);
        }
        build = Some(trigger(client, cx, at, b).await?);
    }
    let build = build.expect("set above");
    record_build(cx, b, &build);
    let status = plan::status_name(build.status);
    match plan::outcome(build.status, paused) {
        Outcome::Running => {
            return Ok(Some(Phase::progressing(
                format!("build {} of job {:?}: {status}", build.name, b.job),
                RECHECK,
            )));
        }
        Outcome::HeldByPause => {
            // Not Ready: the declared build has not run, and `kubectl wait` must not pass. The
            // pause is declared too, so nothing moves until the spec changes; look again at the
            // drift interval (an unpause on the platform is drift, paused again).
            return Ok(Some(Phase::progressing(
                format!(
                    "build {} of job {:?}{} is pending: pipeline {:?} is paused as declared \
                     (pipelines[].paused: true); it runs once the pipeline is unpaused",
                    build.name,
                    b.job,
                    b.revision
                        .as_deref()
                        .map(|r| format!(" (revision {r:?})"))
                        .unwrap_or_default(),
                    b.pipeline
                ),
                PAUSED_RECHECK,
            )));
        }
        Outcome::Succeeded | Outcome::Failed => {}
    }
    if let Some(event) = &spec.completion_event
        && cx
            .status
            .build
            .as_ref()
            .is_some_and(|s| s.event_id.is_none())
    {
        if cx.may_write() {
            let id = send_once(client, at, b, &build, event, cx).await?;
            if let Some(s) = cx.status.build.as_mut() {
                s.event_id = Some(id);
            }
        } else {
            held.push(format!("send the completion event of build {}", build.name));
        }
    }
    if plan::outcome(build.status, paused) == Outcome::Failed {
        return Err(Failure::stalled(
            reasons::BUILD_FAILED,
            format!(
                "build {} of job {:?} ended {status}; fix the pipeline and change build.trigger \
                 (or build.revision) to run it again",
                build.name, b.job
            ),
        ));
    }
    Ok(None)
}

/// Sends the completion event unless an earlier reconcile already did (a crash between the
/// send and the status write); returns its id.
async fn send_once(
    client: &CycloidClient,
    at: &ComponentPath,
    b: &CycloidBuild,
    build: &Build,
    spec: &converge_api::component::CycloidCompletionEvent,
    cx: &mut Cx<Component>,
) -> Result<String, Failure> {
    let now = jiff::Timestamp::now().as_millisecond().max(0) as u64;
    let since = build.end_time.or(build.start_time).unwrap_or(0) * 1000;
    let filter = EventFilter {
        begin: since.saturating_sub(60_000),
        end: now + 60_000,
        types: vec![],
        severities: vec![],
    };
    let events = client.list_events(&filter).await?;
    if let Some(e) = plan::sent_event(&events, at, build.id) {
        return Ok(e.id.to_string());
    }
    let event = plan::completion_event(spec, at, &b.pipeline, &b.job, build);
    let sent = client.send_event(&event).await?;
    cx.did(
        reasons::EVENT_SENT,
        format!(
            "sent Cycloid event {} for build {} of job {:?}{}",
            sent.id,
            build.name,
            b.job,
            b.revision
                .as_deref()
                .map(|r| format!(" (revision {r:?})"))
                .unwrap_or_default()
        ),
    );
    Ok(sent.id.to_string())
}

/// A Cycloid component to delete, with its pipelines: its canonical is its id, recorded or
/// the key of a create in flight.
struct Deletion<'a> {
    client: &'a CycloidClient,
    project: String,
    environment: String,
}

impl PlatformDelete<Component> for Deletion<'_> {
    async fn made_by(&self, canonical: &str) -> Result<Option<String>, Failure> {
        Ok(Some(canonical.to_string()))
    }
    async fn delete(&self, canonical: &str) -> Result<(), ClientError> {
        let at = ComponentPath::new(&self.project, &self.environment, canonical);
        self.client.delete_component(&at).await
    }
}

/// Deletes the component with its pipelines. Works from status alone.
pub async fn delete(cx: &mut Cx<Component>) -> Result<(), Failure> {
    let client = client(cx)?;
    let (Some(project), Some(environment)) =
        (cx.status.project_id.clone(), cx.status.environment.clone())
    else {
        return Ok(());
    };
    let deletion = Deletion {
        client: &client,
        project,
        environment,
    };
    external::delete(&deletion, cx).await
}
