//! Cycloid: observe the declared job and its builds, apply the decisions of `cycloid.rs`.

pub mod plan;

use crate::workflow::runs::{self, Due};
use converge_api::common::conditions::reason as common;
use converge_api::component::Component;
use converge_api::project::Project;
use converge_api::workflow::{CycloidJob, Workflow};
use converge_engine::{Cx, Failure, Phase};
use converge_platforms::PlatformClient;
use converge_platforms::cycloid::{ComponentPath, CycloidClient};

fn client(cx: &Cx<Workflow>) -> Result<CycloidClient, Failure> {
    match &cx.client {
        PlatformClient::Cycloid(c) => Ok(c.clone()),
        other => Err(Failure::stalled(
            common::INVALID_SPEC,
            format!(
                "spec.cycloid needs a Cycloid connection, not {}",
                other.platform()
            ),
        )),
    }
}

/// Where the component of the job is, once its Project and Component are Ready.
async fn component_path(
    wf: &Workflow,
    job: &CycloidJob,
    cx: &Cx<Workflow>,
) -> Result<ComponentPath, Failure> {
    let not = |what: &str, name: &str| {
        Failure::stalled(
            common::INVALID_SPEC,
            format!("{what} {name:?} is not a Cycloid one; name one with spec.cycloid"),
        )
    };
    let project_name = &wf.spec.project_ref.name;
    let project: Project = cx.ready(project_name).await?;
    let project = project
        .spec
        .cycloid
        .ok_or_else(|| not("projectRef", project_name))?;
    let component_name = &job.component_ref.name;
    let component: Component = cx.ready(component_name).await?;
    let component = component
        .spec
        .cycloid
        .ok_or_else(|| not("cycloid.componentRef", component_name))?;
    Ok(ComponentPath::new(
        project.canonical,
        component.environment,
        component.canonical,
    ))
}

pub async fn converge(
    wf: &Workflow,
    spec: &CycloidJob,
    now: jiff::Timestamp,
    created: jiff::Timestamp,
    cx: &mut Cx<Workflow>,
) -> Result<Phase, Failure> {
    let client = client(cx)?;
    let at = component_path(wf, spec, cx).await?;
    let path = plan::path(&at, &spec.pipeline, &spec.job);
    let Some(job) = client.get_job(&at, &spec.pipeline, &spec.job).await? else {
        return Err(Failure::stalled(
            common::INVALID_SPEC,
            format!(
                "Cycloid pipeline {:?} of component {at} has no job {:?}; check \
                 spec.cycloid.pipeline and job against the Component's pipeline",
                spec.pipeline, spec.job
            ),
        ));
    };
    cx.status.workflow_id = Some(job.id.to_string());
    cx.status.platform_path = Some(path.clone());
    let mut builds = client.list_builds(&at, &spec.pipeline, &spec.job).await?;

    let mut started = Vec::new();
    if let Some((trigger, after)) = cx
        .status
        .pending_run
        .as_deref()
        .and_then(plan::parse_pending)
    {
        // A trigger was in flight when the controller stopped: its build, if Cycloid made one,
        // is the first one after the newest seen before it.
        if let Some(b) = plan::started_after(&builds, after) {
            trigger.record(&mut cx.status);
            started.push(plan::run_status(b, Some(trigger.kind())));
        }
        cx.status.pending_run = None;
    }

    let due: Due = runs::due(wf.spec.run.as_ref(), &cx.status, created, now)
        .map_err(|e| Failure::stalled(common::INVALID_SPEC, e))?;
    if let Some(n) = due.next_fire {
        cx.wake_within(n);
    }
    let limit = runs::history_limit(wf.spec.run.as_ref());
    let mut held = Vec::new();
    for trigger in &due.triggers {
        if !cx.may_write() {
            held.push(format!("build job {path} for {}", trigger.describe()));
            continue;
        }
        if job.disable_manual_trigger {
            return Err(Failure::stalled(
                common::INVALID_SPEC,
                format!(
                    "Cycloid job {path} has disable_manual_trigger set, so Converge cannot \
                     build it; remove spec.run or allow manual triggers in the pipeline"
                ),
            ));
        }
        cx.status.pending_run = Some(plan::pending(trigger, plan::newest(&builds)));
        cx.save().await?;
        let build = client.trigger_build(&at, &spec.pipeline, &spec.job).await?;
        trigger.record(&mut cx.status);
        started.push(plan::run_status(&build, Some(trigger.kind())));
        cx.status.runs = plan::history(&cx.status.runs, started.clone(), &builds, limit);
        cx.status.last_run = cx.status.runs.first().cloned();
        builds.insert(0, build.clone());
        cx.status.pending_run = None;
        cx.save().await?;
        cx.did(
            "BuildStarted",
            format!(
                "started build {} of job {path} for {}",
                build.name,
                trigger.describe()
            ),
        );
    }
    cx.status.runs = plan::history(&cx.status.runs, started, &builds, limit);
    cx.status.last_run = cx.status.runs.first().cloned();

    if !cx.may_write() {
        return Ok(cx.held(held));
    }
    Ok(runs::phase(
        cx.status.last_run.as_ref(),
        &format!("Cycloid job {path} (id {})", job.id),
    ))
}

/// Resolves the builds this workflow started that are still under way (run.onDelete: aborted
/// at once, or after waiting for them). The job belongs to the Component's pipeline, so it
/// stays.
pub async fn delete(wf: &Workflow, cx: &mut Cx<Workflow>) -> Result<(), Failure> {
    let client = client(cx)?;
    let Some((at, pipeline, job)) = cx
        .status
        .platform_path
        .as_deref()
        .and_then(plan::parse_path)
    else {
        return Ok(());
    };
    let path = format!("{at}/{pipeline}/{job}");
    let mut under_way = Vec::new();
    for id in cx
        .status
        .runs
        .iter()
        .filter(|r| !runs::is_final(&r.status))
        .filter_map(|r| r.id.parse::<u64>().ok())
    {
        // Status may be behind: only a build still under way now is waited for or aborted.
        match client.get_build(&at, &pipeline, &job, id).await {
            Err(e) if e.is_not_found() => {}
            Ok(None) => {}
            Ok(Some(b)) => {
                let state = plan::run_status(&b, None).status;
                if !runs::is_final(&state) {
                    under_way.push((b.name.clone(), id, state));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    let listed: Vec<(String, String)> = under_way
        .iter()
        .map(|(name, _, state)| (format!("build {name}"), state.clone()))
        .collect();
    runs::resolve_on_delete(wf, &listed, &path)?;
    for (name, id, state) in under_way {
        match client.abort_build(&at, &pipeline, &job, id).await {
            Err(e) if e.is_not_found() => continue,
            other => other?,
        }
        cx.did(
            "BuildAborted",
            format!(
                "aborted build {name} ({state}) of job {path}: the Workflow is being deleted ({})",
                runs::on_delete_label(wf.spec.run.as_ref())
            ),
        );
    }
    cx.nothing_deleted(format!(
        "job {path} belongs to the Component's pipeline and stays"
    ));
    Ok(())
}
