//! Job builds: list, trigger, rerun, abort, and the build's event stream.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State as With};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::Sb;
use super::concourse;
use super::error::{ApiError, ApiResult, data, no_content};
use super::model::{Build, Job, Outcome, State};
use super::pipelines::{Keys, ctx, job_param};
use super::query::Query;
use super::render;
use super::validate::{PathRule, Pattern, check_path};

type JobPath = (String, String, String, String, String, String);
type BuildPath = (String, String, String, String, String, String, String);

fn build_param(value: &str) -> (&'static str, &str, PathRule) {
    ("build_id", value, PathRule::Pattern(Pattern::Digits, 1, 20))
}

fn split_job((org, p, e, c, pl, job): JobPath) -> (Keys, String) {
    (Keys { org, p, e, c, pl }, job)
}

fn split_build((org, p, e, c, pl, job, id): BuildPath) -> (Keys, String, u64) {
    (
        Keys { org, p, e, c, pl },
        job,
        id.parse().unwrap_or(u64::MAX),
    )
}

fn check_build_path(path: &BuildPath) -> Result<(), ApiError> {
    check_path(&[job_param(&path.5), build_param(&path.6)])
}

fn find_build(job: &Job, id: u64) -> Result<&Build, ApiError> {
    job.builds
        .iter()
        .find(|b| b.id == id)
        .ok_or_else(|| ApiError::not_found(format!("build {id} not found")))
}

/// `GET .../jobs/{job}/builds` (getBuilds): newest first, paged the Concourse way:
/// `concourse_page_since=N` gives the builds older than build N, `concourse_page_until=N`
/// the ones newer than N, `concourse_page_limit` (default 10) how many. `pagination_concourse`
/// gives the `next` (older) and `previous` (newer) pages; a page that does not exist is all
/// zeros.
pub async fn list_builds(
    With(sb): With<Sb>,
    Path(path): Path<JobPath>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let (keys, job) = split_job(path);
    keys.check()?;
    check_path(&[job_param(&job)])?;
    let mut q = Query::parse(raw.as_deref());
    let since = q.uint("concourse_page_since", false).unwrap_or(0);
    let until = q.uint("concourse_page_until", false).unwrap_or(0);
    let limit = q.uint("concourse_page_limit", false).unwrap_or(10);
    if limit == 0 {
        q.violation("concourse_page_limit in query should be greater than or equal to 1");
    }
    q.finish()?;
    sb.read(|s| {
        let (org, at) = keys.locate(s)?;
        let j = at.pipeline.job(&job)?;
        let c = ctx(s, org, at, sb.timing(), sb.now());
        let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut newest_first: Vec<&Build> = j.builds.iter().collect();
        newest_first.sort_by_key(|b| std::cmp::Reverse(b.id));
        let page: Vec<&Build> = if since > 0 {
            newest_first
                .into_iter()
                .filter(|b| b.id < since)
                .take(limit_usize)
                .collect()
        } else if until > 0 {
            let mut newer: Vec<&Build> =
                newest_first.into_iter().filter(|b| b.id > until).collect();
            let skip = newer.len().saturating_sub(limit_usize);
            newer.drain(..skip);
            newer
        } else {
            newest_first.into_iter().take(limit_usize).collect()
        };
        let zero = json!({ "limit": limit, "since": 0, "until": 0 });
        let next = match page.last() {
            Some(last) if j.builds.iter().any(|b| b.id < last.id) => {
                json!({ "limit": limit, "since": last.id, "until": 0 })
            }
            _ => zero.clone(),
        };
        let previous = match page.first() {
            Some(first) if j.builds.iter().any(|b| b.id > first.id) => {
                json!({ "limit": limit, "since": 0, "until": first.id })
            }
            _ => zero,
        };
        let items: Vec<Value> = page.into_iter().map(|b| render::build(&c, j, b)).collect();
        Ok(Json(json!({
            "data": items,
            "pagination_concourse": { "next": next, "previous": previous },
        }))
        .into_response())
    })
}

/// A new build of `job`, named `name`, with its outcome decided now.
fn new_build(
    s: &mut State,
    sb: &Sb,
    keys: &Keys,
    job: &str,
    name: Option<String>,
    now: Timestamp,
) -> Result<u64, ApiError> {
    let id = s.next_id("build");
    let pipeline = keys.pipeline_mut(s)?;
    let pipeline_paused = pipeline.paused;
    let pipeline_name = pipeline.name.clone();
    let j = pipeline.job_mut(job)?;
    let undefined = concourse::undefined_vars(&j.config);
    let (outcome, error) = if !undefined.is_empty() {
        (
            Outcome::Errored,
            Some(format!("undefined vars: {}", undefined.join(", "))),
        )
    } else if sb.should_fail(&pipeline_name)
        || sb.should_fail(&j.name)
        || sb.should_fail(&format!("{pipeline_name}/{}", j.name))
    {
        (Outcome::Failed, None)
    } else {
        (Outcome::Succeeded, None)
    };
    let name = name.unwrap_or_else(|| {
        j.build_count += 1;
        j.build_count.to_string()
    });
    j.builds.push(Build {
        id,
        name,
        created_at: now,
        scheduled_at: (!pipeline_paused && !j.paused).then_some(now),
        outcome,
        error,
        aborted_at: None,
    });
    Ok(id)
}

fn render_build(sb: &Sb, s: &State, keys: &Keys, job: &str, id: u64) -> ApiResult {
    let (org, at) = keys.locate(s)?;
    let j = at.pipeline.job(job)?;
    let b = find_build(j, id)?;
    Ok(data(render::build(
        &ctx(s, org, at, sb.timing(), sb.now()),
        j,
        b,
    )))
}

/// `POST .../jobs/{job}/builds` (createBuild, no body): the new build. It waits, pending,
/// while the pipeline or the job is paused. A job with `disable_manual_trigger` answers 409.
pub async fn create_build(With(sb): With<Sb>, Path(path): Path<JobPath>) -> ApiResult {
    let (keys, job) = split_job(path);
    keys.check()?;
    check_path(&[job_param(&job)])?;
    let now = sb.now();
    sb.write(|s| {
        let (_, at) = keys.locate(s)?;
        if at.pipeline.job(&job)?.disable_manual_trigger {
            return Err(ApiError::conflict(format!(
                "manual triggering is disabled for job {job:?}"
            )));
        }
        let id = new_build(s, &sb, &keys, &job, None, now)?;
        render_build(&sb, s, &keys, &job, id)
    })
}

/// `GET .../jobs/{job}/builds/{id}` (getBuild).
pub async fn get_build(With(sb): With<Sb>, Path(path): Path<BuildPath>) -> ApiResult {
    check_build_path(&path)?;
    let (keys, job, id) = split_build(path);
    keys.check()?;
    sb.read(|s| render_build(&sb, s, &keys, &job, id))
}

/// `POST .../jobs/{job}/builds/{id}` (rerunBuild): a new build named `N.M`, the M-th rerun
/// of build N.
pub async fn rerun_build(With(sb): With<Sb>, Path(path): Path<BuildPath>) -> ApiResult {
    check_build_path(&path)?;
    let (keys, job, id) = split_build(path);
    keys.check()?;
    let now = sb.now();
    sb.write(|s| {
        let (_, at) = keys.locate(s)?;
        let j = at.pipeline.job(&job)?;
        let original = find_build(j, id)?;
        let base = original
            .name
            .split('.')
            .next()
            .unwrap_or(&original.name)
            .to_string();
        let reruns = j
            .builds
            .iter()
            .filter(|b| b.name.split_once('.').is_some_and(|(n, _)| n == base))
            .count();
        let name = format!("{base}.{}", reruns + 1);
        let new_id = new_build(s, &sb, &keys, &job, Some(name), now)?;
        render_build(&sb, s, &keys, &job, new_id)
    })
}

/// `PUT .../jobs/{job}/builds/{id}/abort` (abortBuild): 204. A build that has already
/// finished stays as it ended.
pub async fn abort_build(With(sb): With<Sb>, Path(path): Path<BuildPath>) -> ApiResult {
    check_build_path(&path)?;
    let (keys, job, id) = split_build(path);
    keys.check()?;
    let now = sb.now();
    let timing = *sb.timing();
    sb.write(|s| {
        let build = keys
            .pipeline_mut(s)?
            .job_mut(&job)?
            .builds
            .iter_mut()
            .find(|b| b.id == id)
            .ok_or_else(|| ApiError::not_found(format!("build {id} not found")))?;
        if !concourse::view(build, &timing, now).is_final() {
            build.aborted_at = Some(now);
        }
        Ok(no_content())
    })
}

/// The events of a build so far, and whether it has finished.
fn snapshot(sb: &Sb, keys: &Keys, id: u64) -> Result<(Vec<Value>, bool), ApiError> {
    sb.read(|s| {
        let (_, at) = keys.locate(s)?;
        for job in &at.pipeline.jobs {
            if let Some(build) = job.builds.iter().find(|b| b.id == id) {
                let view = concourse::view(build, sb.timing(), sb.now());
                return Ok((concourse::events(job, build, &view), view.is_final()));
            }
        }
        Err(ApiError::not_found(format!("build {id} not found")))
    })
}

fn sse(id: usize, event: &Value) -> String {
    format!("id: {id}\nevent: event\ndata: {event}\n\n")
}

/// `GET .../pipelines/{pl}/builds/{id}/events` (getBuildEvents): a `text/event-stream` of
/// Concourse build events (`status`, `initialize-*`, `start-*`, `log`, `finish-*`, `error`),
/// sent as the build progresses and closed with an `end` event once it has finished.
/// `Last-Event-ID` resumes after an event.
pub async fn build_events(
    With(sb): With<Sb>,
    Path((org, p, e, c, pl, build_id)): Path<(String, String, String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let keys = Keys { org, p, e, c, pl };
    keys.check()?;
    check_path(&[build_param(&build_id)])?;
    let id: u64 = build_id.parse().unwrap_or(u64::MAX);
    let first_unsent = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(0, |last| last + 1);
    snapshot(&sb, &keys, id)?;
    let poll = (sb.timing().step / 4).max(Duration::from_millis(50));
    let stream = futures::stream::unfold(
        (sb, keys, first_unsent, false),
        move |(sb, keys, sent, done)| async move {
            if done {
                return None;
            }
            loop {
                let Ok((events, finished)) = snapshot(&sb, &keys, id) else {
                    let end = format!("id: {sent}\nevent: end\ndata\n\n");
                    return Some((Ok::<_, std::io::Error>(end), (sb, keys, sent, true)));
                };
                if events.len() > sent {
                    let chunk: String = events
                        .iter()
                        .enumerate()
                        .skip(sent)
                        .map(|(i, ev)| sse(i, ev))
                        .collect();
                    let total = events.len();
                    return Some((Ok(chunk), (sb, keys, total, false)));
                }
                if finished {
                    let end = format!("id: {sent}\nevent: end\ndata\n\n");
                    return Some((Ok(end), (sb, keys, sent, true)));
                }
                tokio::time::sleep(poll).await;
            }
        },
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
