//! Pipelines of a component, their jobs, and the pipeline lists of an environment, a project
//! and an organization.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as With};
use axum::http::HeaderMap;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::Sb;
use super::components::component_params;
use super::concourse;
use super::error::{ApiError, ApiResult, data, no_content, page};
use super::model::{Job, Located, Organization, Pipeline, State};
use super::query::Query;
use super::render::{self, Ctx};
use super::validate::{self, PathRule, Pattern, canonical_param, check_path, org_param};
use crate::Timing;

/// The path of a pipeline.
pub struct Keys {
    pub org: String,
    pub p: String,
    pub e: String,
    pub c: String,
    pub pl: String,
}

impl Keys {
    pub fn new((org, p, e, c, pl): (String, String, String, String, String)) -> Self {
        Keys { org, p, e, c, pl }
    }

    /// Checks the path parameters (422 when one breaks its pattern).
    pub fn check(&self) -> Result<(), ApiError> {
        let [o, p, e, c] = component_params(&self.org, &self.p, &self.e, &self.c);
        check_path(&[o, p, e, c, pipeline_param("inpath_pipeline_name", &self.pl)])
    }

    /// The pipeline and where it lives.
    pub fn locate<'a>(&self, s: &'a State) -> Result<(&'a Organization, Located<'a>), ApiError> {
        let org = s.org(&self.org)?;
        let project = org.project(&self.p)?;
        let env = project.env(&self.e)?;
        let component = env.component(&self.c)?;
        let pipeline = component.pipeline(&self.pl)?;
        Ok((
            org,
            Located {
                project,
                env,
                component,
                pipeline,
            },
        ))
    }

    pub fn pipeline_mut<'a>(&self, s: &'a mut State) -> Result<&'a mut Pipeline, ApiError> {
        s.org_mut(&self.org)?
            .project_mut(&self.p)?
            .env_mut(&self.e)?
            .component_mut(&self.c)?
            .pipeline_mut(&self.pl)
    }
}

/// A pipeline name in a path.
pub fn pipeline_param<'a>(name: &'static str, value: &'a str) -> (&'static str, &'a str, PathRule) {
    (
        name,
        value,
        PathRule::Pattern(Pattern::PipelineName, 1, 100),
    )
}

/// A job name in a path.
pub fn job_param(value: &str) -> (&'static str, &str, PathRule) {
    ("job_name", value, PathRule::Length(1, 150))
}

/// Renders with the context of a located pipeline.
pub fn ctx<'a>(
    s: &'a State,
    org: &'a Organization,
    at: Located<'a>,
    timing: &'a Timing,
    now: Timestamp,
) -> Ctx<'a> {
    Ctx {
        org,
        at,
        stacks: &s.stacks,
        timing,
        now,
    }
}

fn render_pipeline(sb: &Sb, s: &State, keys: &Keys) -> Result<Value, ApiError> {
    let (org, at) = keys.locate(s)?;
    Ok(render::pipeline(&ctx(s, org, at, sb.timing(), sb.now())))
}

/// New jobs from a configuration, keeping the id, pause state and builds of jobs that keep
/// their name.
fn jobs_from(s: &mut State, specs: Vec<concourse::JobSpec>, mut old: Vec<Job>) -> Vec<Job> {
    specs
        .into_iter()
        .map(|spec| match old.iter().position(|j| j.name == spec.name) {
            Some(i) => {
                let mut job = old.swap_remove(i);
                job.config = spec.config;
                job.disable_manual_trigger = spec.disable_manual_trigger;
                job
            }
            None => Job {
                id: s.next_id("job"),
                name: spec.name,
                paused: false,
                disable_manual_trigger: spec.disable_manual_trigger,
                config: spec.config,
                build_count: 0,
                builds: Vec::new(),
            },
        })
        .collect()
}

/// `POST .../components/{c}/pipelines` (createPipeline): `pipeline_name` is required and
/// unique in the organization (the Concourse team); `passed_config` is checked as
/// `fly set-pipeline` would. As in Concourse, a new pipeline starts paused.
pub async fn create_pipeline(
    With(sb): With<Sb>,
    Path((org, p, e, c)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_path(&component_params(&org, &p, &e, &c))?;
    let mut f = validate::body(&headers, &body)?;
    let name = f.string("pipeline_name", true);
    f.canonical(
        "pipeline_name",
        name.as_deref(),
        Pattern::PipelineName,
        3,
        100,
    );
    let passed_config = f.string("passed_config", false).unwrap_or_default();
    let yaml_vars = f.string("yaml_vars", false).unwrap_or_default();
    f.boolean("check_credentials", false);
    let parsed = concourse::parse(&passed_config, &yaml_vars);
    if let Err(errors) = &parsed {
        errors.iter().for_each(|e| f.violation(e.clone()));
    }
    f.finish()?;
    let (Some(name), Ok(parsed)) = (name, parsed) else {
        return Err(ApiError::invalid_one("body in body is required"));
    };
    let now = sb.now();
    let keys = Keys {
        org,
        p,
        e,
        c,
        pl: name.clone(),
    };
    sb.write(|s| {
        let o = s.org(&keys.org)?;
        o.project(&keys.p)?.env(&keys.e)?.component(&keys.c)?;
        if o.pipeline_name_taken(&name) {
            return Err(ApiError::already_exists(format!(
                "pipeline {name:?} already exists in organization {:?}",
                keys.org
            )));
        }
        let id = s.next_id("pipeline");
        let jobs = jobs_from(s, parsed.jobs, Vec::new());
        let component = s
            .org_mut(&keys.org)?
            .project_mut(&keys.p)?
            .env_mut(&keys.e)?
            .component_mut(&keys.c)?;
        component.pipelines.push(Pipeline {
            id,
            name,
            passed_config,
            yaml_vars,
            config: parsed.config,
            paused: true,
            created_at: now,
            updated_at: now,
            jobs,
        });
        Ok(data(render_pipeline(&sb, s, &keys)?))
    })
}

/// `GET .../pipelines/{pl}` (getPipeline).
pub async fn get_pipeline(
    With(sb): With<Sb>,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult {
    let keys = Keys::new(path);
    keys.check()?;
    sb.read(|s| Ok(data(render_pipeline(&sb, s, &keys)?)))
}

/// `PUT .../pipelines/{pl}` (updatePipeline): `passed_config` is required; jobs that keep
/// their name keep their builds; the pause state does not change.
pub async fn update_pipeline(
    With(sb): With<Sb>,
    Path(path): Path<(String, String, String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let keys = Keys::new(path);
    keys.check()?;
    let mut f = validate::body(&headers, &body)?;
    let passed_config = f.string("passed_config", true);
    let yaml_vars = f.string("yaml_vars", false).unwrap_or_default();
    f.boolean("check_credentials", false);
    let parsed = passed_config
        .as_deref()
        .map(|config| concourse::parse(config, &yaml_vars));
    if let Some(Err(errors)) = &parsed {
        errors.iter().for_each(|e| f.violation(e.clone()));
    }
    f.finish()?;
    let (Some(passed_config), Some(Ok(parsed))) = (passed_config, parsed) else {
        return Err(ApiError::invalid_one("body in body is required"));
    };
    let now = sb.now();
    sb.write(|s| {
        let old = std::mem::take(&mut keys.pipeline_mut(s)?.jobs);
        let jobs = jobs_from(s, parsed.jobs, old);
        let pipeline = keys.pipeline_mut(s)?;
        pipeline.passed_config = passed_config;
        pipeline.yaml_vars = yaml_vars;
        pipeline.config = parsed.config;
        pipeline.jobs = jobs;
        pipeline.updated_at = now;
        Ok(data(render_pipeline(&sb, s, &keys)?))
    })
}

/// `DELETE .../pipelines/{pl}` (deletePipeline), with its jobs and builds.
pub async fn delete_pipeline(
    With(sb): With<Sb>,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult {
    let keys = Keys::new(path);
    keys.check()?;
    sb.write(|s| {
        let component = s
            .org_mut(&keys.org)?
            .project_mut(&keys.p)?
            .env_mut(&keys.e)?
            .component_mut(&keys.c)?;
        let before = component.pipelines.len();
        component.pipelines.retain(|x| x.name != keys.pl);
        if component.pipelines.len() == before {
            return Err(ApiError::not_found(format!(
                "pipeline {:?} not found",
                keys.pl
            )));
        }
        Ok(no_content())
    })
}

/// `GET .../pipelines/{pl}/config` (getPipelineConfig): the interpolated configuration as a
/// JSON string, as the docs' sample shows.
pub async fn get_pipeline_config(
    With(sb): With<Sb>,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult {
    let keys = Keys::new(path);
    keys.check()?;
    sb.read(|s| {
        let (_, at) = keys.locate(s)?;
        Ok(data(Value::String(at.pipeline.config.to_string())))
    })
}

/// `GET .../pipelines/{pl}/variables` (getPipelineVariables).
pub async fn get_pipeline_variables(
    With(sb): With<Sb>,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult {
    let keys = Keys::new(path);
    keys.check()?;
    sb.read(|s| {
        let (_, at) = keys.locate(s)?;
        Ok(data(json!({
            "yaml_vars": at.pipeline.yaml_vars,
            "has_saved_yaml_vars": !at.pipeline.yaml_vars.is_empty(),
        })))
    })
}

/// Builds waiting for their pipeline or job to be unpaused can run from now on.
fn release_waiting(pipeline: &mut Pipeline, now: Timestamp) {
    if pipeline.paused {
        return;
    }
    for job in pipeline.jobs.iter_mut().filter(|j| !j.paused) {
        for build in &mut job.builds {
            if build.scheduled_at.is_none() && build.aborted_at.is_none() {
                build.scheduled_at = Some(now);
            }
        }
    }
}

async fn set_pipeline_paused(sb: Sb, keys: Keys, paused: bool) -> ApiResult {
    keys.check()?;
    let now = sb.now();
    sb.write(|s| {
        let pipeline = keys.pipeline_mut(s)?;
        pipeline.paused = paused;
        release_waiting(pipeline, now);
        Ok(no_content())
    })
}

/// `PUT .../pipelines/{pl}/pause` (pausePipeline): 204.
pub async fn pause_pipeline(
    With(sb): With<Sb>,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult {
    set_pipeline_paused(sb, Keys::new(path), true).await
}

/// `PUT .../pipelines/{pl}/unpause` (unpausePipeline): 204; pending builds start.
pub async fn unpause_pipeline(
    With(sb): With<Sb>,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult {
    set_pipeline_paused(sb, Keys::new(path), false).await
}

/// `PUT .../pipelines/{pl}/rename?pipeline_name=new` (renamePipeline): 204.
pub async fn rename_pipeline(
    With(sb): With<Sb>,
    Path(path): Path<(String, String, String, String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let keys = Keys::new(path);
    keys.check()?;
    let q = Query::parse(raw.as_deref());
    let Some(new_name) = q.get("pipeline_name").map(str::to_string) else {
        return Err(ApiError::invalid_one("pipeline_name in query is required"));
    };
    check_path(&[pipeline_param("pipeline_name", &new_name)]).map_err(|e| {
        ApiError::invalid(
            e.details
                .iter()
                .map(|d| d.replace(" in path ", " in query "))
                .collect(),
        )
    })?;
    let now = sb.now();
    sb.write(|s| {
        keys.locate(s)?;
        if new_name != keys.pl && s.org(&keys.org)?.pipeline_name_taken(&new_name) {
            return Err(ApiError::already_exists(format!(
                "pipeline {new_name:?} already exists in organization {:?}",
                keys.org
            )));
        }
        let pipeline = keys.pipeline_mut(s)?;
        pipeline.name = new_name;
        pipeline.updated_at = now;
        Ok(no_content())
    })
}

/// `GET .../pipelines/{pl}/jobs` (getJobs), paginated.
pub async fn list_jobs(
    With(sb): With<Sb>,
    Path(path): Path<(String, String, String, String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let keys = Keys::new(path);
    keys.check()?;
    let mut q = Query::parse(raw.as_deref());
    let pg = q.page();
    q.finish()?;
    let items = sb.read(|s| {
        let (org, at) = keys.locate(s)?;
        let c = ctx(s, org, at, sb.timing(), sb.now());
        Ok::<Vec<Value>, ApiError>(
            at.pipeline
                .jobs
                .iter()
                .map(|j| render::job(&c, j))
                .collect(),
        )
    })?;
    let (items, pagination) = pg.slice(items);
    Ok(page(items, pagination))
}

/// `GET .../jobs/{job}` (getJob).
pub async fn get_job(
    With(sb): With<Sb>,
    Path((org, p, e, c, pl, job)): Path<(String, String, String, String, String, String)>,
) -> ApiResult {
    let keys = Keys { org, p, e, c, pl };
    keys.check()?;
    check_path(&[job_param(&job)])?;
    sb.read(|s| {
        let (org, at) = keys.locate(s)?;
        let j = at.pipeline.job(&job)?;
        Ok(data(render::job(
            &ctx(s, org, at, sb.timing(), sb.now()),
            j,
        )))
    })
}

async fn set_job_paused(sb: Sb, keys: Keys, job: String, paused: bool) -> ApiResult {
    keys.check()?;
    check_path(&[job_param(&job)])?;
    let now = sb.now();
    sb.write(|s| {
        let pipeline = keys.pipeline_mut(s)?;
        pipeline.job_mut(&job)?.paused = paused;
        release_waiting(pipeline, now);
        Ok(no_content())
    })
}

/// `PUT .../jobs/{job}/pause` (pauseJob): 204.
pub async fn pause_job(
    With(sb): With<Sb>,
    Path((org, p, e, c, pl, job)): Path<(String, String, String, String, String, String)>,
) -> ApiResult {
    set_job_paused(sb, Keys { org, p, e, c, pl }, job, true).await
}

/// `PUT .../jobs/{job}/unpause` (unpauseJob): 204; the job's pending builds start.
pub async fn unpause_job(
    With(sb): With<Sb>,
    Path((org, p, e, c, pl, job)): Path<(String, String, String, String, String, String)>,
) -> ApiResult {
    set_job_paused(sb, Keys { org, p, e, c, pl }, job, false).await
}

/// Every pipeline of the organization that `keep` accepts, rendered.
fn pipelines_where(
    sb: &Sb,
    s: &State,
    org: &str,
    keep: impl Fn(&Located) -> bool,
) -> Result<Vec<Value>, ApiError> {
    let o = s.org(org)?;
    let now = sb.now();
    Ok(o.pipelines()
        .filter(|at| keep(at))
        .map(|at| render::pipeline(&ctx(s, o, at, sb.timing(), now)))
        .collect())
}

/// `GET /organizations/{org}/projects/{p}/environments/{e}/pipelines` (getEnvironmentPipelines).
pub async fn list_environment_pipelines(
    With(sb): With<Sb>,
    Path((org, p, e)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_path(&[
        org_param(&org),
        canonical_param("project_canonical", &p),
        canonical_param("environment_canonical", &e),
    ])?;
    let mut q = Query::parse(raw.as_deref());
    let pg = q.page();
    q.finish()?;
    let items = sb.read(|s| {
        s.org(&org)?.project(&p)?.env(&e)?;
        pipelines_where(&sb, s, &org, |at| {
            at.project.canonical == p && at.env.canonical == e
        })
    })?;
    let (items, pagination) = pg.slice(items);
    Ok(page(items, pagination))
}

/// `GET /organizations/{org}/projects/{p}/pipelines` (getProjectPipelines).
pub async fn list_project_pipelines(
    With(sb): With<Sb>,
    Path((org, p)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_path(&[org_param(&org), canonical_param("project_canonical", &p)])?;
    let mut q = Query::parse(raw.as_deref());
    let pg = q.page();
    q.finish()?;
    let items = sb.read(|s| {
        s.org(&org)?.project(&p)?;
        pipelines_where(&sb, s, &org, |at| at.project.canonical == p)
    })?;
    let (items, pagination) = pg.slice(items);
    Ok(page(items, pagination))
}

const STATUSES: [&str; 7] = [
    "aborted",
    "errored",
    "failed",
    "paused",
    "pending",
    "started",
    "succeeded",
];

/// `GET /organizations/{org}/pipelines` (getPipelines), filtered by `concourse_pipeline_name`,
/// `project_canonical`, `environment_canonical` (each may repeat) and `statuses` (`paused`
/// matches paused pipelines, a build status matches pipelines where a job's latest build has
/// it).
pub async fn list_organization_pipelines(
    With(sb): With<Sb>,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_path(&[org_param(&org)])?;
    let mut q = Query::parse(raw.as_deref());
    let pg = q.page();
    let names: Vec<String> = q
        .all("concourse_pipeline_name")
        .into_iter()
        .map(str::to_string)
        .collect();
    let projects: Vec<String> = q
        .all("project_canonical")
        .into_iter()
        .map(str::to_string)
        .collect();
    let envs: Vec<String> = q
        .all("environment_canonical")
        .into_iter()
        .map(str::to_string)
        .collect();
    let statuses = q.enum_list("statuses", &STATUSES);
    q.finish()?;
    let timing = *sb.timing();
    let now = sb.now();
    let items = sb.read(|s| {
        pipelines_where(&sb, s, &org, |at| {
            (names.is_empty() || names.contains(&at.pipeline.name))
                && (projects.is_empty() || projects.contains(&at.project.canonical))
                && (envs.is_empty() || envs.contains(&at.env.canonical))
                && (statuses.is_empty()
                    || statuses.iter().any(|st| {
                        if st == "paused" {
                            return at.pipeline.paused;
                        }
                        at.pipeline.jobs.iter().any(|j| {
                            j.builds
                                .last()
                                .is_some_and(|b| concourse::view(b, &timing, now).status == st)
                        })
                    }))
        })
    })?;
    let (items, pagination) = pg.slice(items);
    Ok(page(items, pagination))
}
