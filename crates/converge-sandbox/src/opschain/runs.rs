//! Workflow runs and their steps: starting a run of a published version, following it,
//! cancelling it, and continuing, approving or rejecting its waiting steps. Statuses come from
//! [`progress`](super::progress).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as Ext};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::jsonapi::{self, ApiError, ApiResult, Payload};
use super::model::{Decision, DecisionKind, Run, State, StepKind, new_id};
use super::progress::{self, RunView, is_final};
use super::render::RunContext;
use super::workflows::{find_workflow, workflow_project};
use super::{Sb, caller, filter, steps};

/// Every run's view at the current time.
fn views(sb: &Sb, s: &State) -> HashMap<String, RunView> {
    progress::views(&s.runs, sb.timing().step, sb.now())
}

pub(super) fn context<'a>(s: &'a State, run: &'a Run, view: &'a RunView) -> RunContext<'a> {
    RunContext {
        project: s
            .project_by_id(&run.project_id)
            .expect("runs keep their project"),
        workflow: s
            .workflow_by_id(&run.workflow_id)
            .expect("workflows that ran are kept"),
        run,
        view,
    }
}

/// `{"data": run, "included": [version, steps...]}`.
fn run_document(c: &RunContext, status: StatusCode) -> Response {
    let mut included: Vec<Value> = c.version().into_iter().collect();
    included.extend(c.run.steps.iter().map(|step| c.step(step)));
    jsonapi::document(status, json!({ "data": c.run(), "included": included }))
}

/// A list of runs, filtered, with the versions they use under `included`.
fn runs_document(sb: &Sb, s: &State, keep: impl Fn(&Run) -> bool, q: Option<String>) -> Response {
    let views = views(sb, s);
    let contexts: Vec<RunContext> = s
        .runs
        .iter()
        .filter(|r| keep(r))
        .map(|r| context(s, r, &views[&r.id]))
        .collect();
    let data =
        filter::Query::parse(q.as_deref()).apply(contexts.iter().map(RunContext::run).collect());
    let mut included: Vec<Value> = Vec::new();
    for c in &contexts {
        if data.iter().any(|d| d["id"] == json!(c.run.id))
            && let Some(v) = c.version()
            && !included.iter().any(|i| i["id"] == v["id"])
        {
            included.push(v);
        }
    }
    jsonapi::document(
        StatusCode::OK,
        json!({
            "data": data,
            "included": included,
            "meta": { "authorisations": { "update": true }, "partial_response": false },
        }),
    )
}

pub async fn list_runs(Ext(sb): Ext<Sb>, RawQuery(q): RawQuery) -> ApiResult {
    Ok(sb.read(|s| runs_document(&sb, s, |_| true, q)))
}

pub async fn list_project_runs(
    Ext(sb): Ext<Sb>,
    Path(project): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    sb.read(|s| {
        let id = workflow_project(s, &project)?.id.clone();
        Ok(runs_document(&sb, s, |r| r.project_id == id, q))
    })
}

pub async fn list_workflow_runs(
    Ext(sb): Ext<Sb>,
    Path((project, workflow)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    sb.read(|s| {
        let id = find_workflow(s, &project, &workflow)?.1.id.clone();
        Ok(runs_document(&sb, s, |r| r.workflow_id == id, q))
    })
}

pub async fn list_version_runs(
    Ext(sb): Ext<Sb>,
    Path((project, workflow, version)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    sb.read(|s| {
        let (_, w) = find_workflow(s, &project, &workflow)?;
        let v = version
            .parse::<u64>()
            .ok()
            .and_then(|n| w.version(n))
            .ok_or_else(|| ApiError::not_found("WorkflowVersion"))?;
        let id = v.id.clone();
        Ok(runs_document(&sb, s, |r| r.version_id == id, q))
    })
}

/// What a run request carries besides the workflow it names.
struct RunRequest {
    version: Option<String>,
    metadata: Map<String, Value>,
    property_overrides: Map<String, Value>,
}

impl RunRequest {
    fn read(p: &Payload) -> Result<RunRequest, ApiError> {
        Ok(RunRequest {
            version: p.text("version")?,
            metadata: p.object("metadata")?.unwrap_or_default(),
            property_overrides: p.object("property_overrides")?.unwrap_or_default(),
        })
    }
}

const RUN_ATTRIBUTES: [&str; 5] = [
    "project_code",
    "workflow_code",
    "version",
    "property_overrides",
    "metadata",
];

/// Starts a run of a published version (the latest published one unless `version` says).
/// Refusals the docs describe without wording are 422 model errors in the sandbox's words.
fn start(
    sb: &Sb,
    s: &mut State,
    project: &str,
    workflow: &str,
    request: RunRequest,
    user: String,
) -> ApiResult {
    let (p, w) = find_workflow(s, project, workflow)?;
    if p.archived {
        return Err(ApiError::model(
            "base",
            format!(
                "The \"{}\" project is archived: workflows in it cannot be run",
                p.code
            ),
        ));
    }
    if w.archived {
        return Err(ApiError::model(
            "base",
            format!("The \"{}\" workflow is archived and cannot be run", w.code),
        ));
    }
    let version = match &request.version {
        None => w.latest_published(),
        Some(v) => Some(
            v.parse::<u64>()
                .ok()
                .and_then(|n| w.version(n))
                .ok_or_else(|| ApiError::not_found("WorkflowVersion"))?,
        ),
    };
    let Some(version) = version.filter(|v| !v.draft && !v.archived) else {
        return Err(ApiError::model(
            "version",
            "Only published workflow versions can be run",
        ));
    };
    let now = sb.now();
    let fails = |texts: &[&str]| texts.iter().any(|t| sb.should_fail(t));
    let tree = steps::TreeBuilder {
        state: s,
        now,
        fails: &fails,
        steps: Vec::new(),
    }
    .build(&w.name, &version.steps);
    let run = Run {
        id: new_id(),
        project_id: p.id.clone(),
        workflow_id: w.id.clone(),
        version_id: version.id.clone(),
        version: version.version,
        created_by: user,
        created_at: now,
        metadata: request.metadata,
        property_overrides: request.property_overrides,
        cancelled: None,
        steps: tree,
    };
    // The response shows the run as created (pending), as the docs' example does, whatever
    // the step delay; reads show it moving.
    let view = progress::fresh(&run);
    let response = run_document(&context(s, &run, &view), StatusCode::CREATED);
    s.runs.push(run);
    Ok(response)
}

pub async fn create_workflow_run(
    Ext(sb): Ext<Sb>,
    Path((project, workflow)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Payload::required(&body, &RUN_ATTRIBUTES)?;
    let request = RunRequest::read(&p)?;
    sb.write(|s| {
        let p = workflow_project(s, &project)?;
        if s.workflow(&p.id, &workflow).is_none() {
            return Err(ApiError::record_not_found());
        }
        let user = caller(&headers, s);
        start(&sb, s, &project, &workflow, request, user)
    })
}

/// `POST /api/workflow_runs` names the project and workflow in the body.
pub async fn create_run(Ext(sb): Ext<Sb>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let p = Payload::required(&body, &RUN_ATTRIBUTES)?;
    let project = p.text("project_code")?.unwrap_or_default();
    let workflow = p.text("workflow_code")?.unwrap_or_default();
    let request = RunRequest::read(&p)?;
    sb.write(|s| {
        let missing = || {
            ApiError::model(
                "base",
                format!("The \"{workflow}\" workflow does not exist in the \"{project}\" project"),
            )
        };
        let Some(p) = s.project(&project) else {
            return Err(missing());
        };
        workflow_project(s, &p.code)?;
        if s.workflow(&p.id, &workflow).is_none() {
            return Err(missing());
        }
        let user = caller(&headers, s);
        start(&sb, s, &project, &workflow, request, user)
    })
}

fn find_run<'a>(s: &'a State, id: &str) -> Result<&'a Run, ApiError> {
    s.runs
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::not_found("WorkflowRun"))
}

/// A run reached through its project and workflow: all three must match.
fn find_nested_run<'a>(
    s: &'a State,
    project: &str,
    workflow: &str,
    run: &str,
) -> Result<&'a Run, ApiError> {
    let (_, w) = find_workflow(s, project, workflow)?;
    s.runs
        .iter()
        .find(|r| r.id == run && r.workflow_id == w.id)
        .ok_or_else(|| ApiError::not_found("WorkflowRun"))
}

pub async fn show_run(Ext(sb): Ext<Sb>, Path(id): Path<String>) -> ApiResult {
    sb.read(|s| {
        let run = find_run(s, &id)?;
        let views = views(&sb, s);
        Ok(run_document(
            &context(s, run, &views[&run.id]),
            StatusCode::OK,
        ))
    })
}

pub async fn show_nested_run(
    Ext(sb): Ext<Sb>,
    Path((project, workflow, id)): Path<(String, String, String)>,
) -> ApiResult {
    sb.read(|s| {
        let run = find_nested_run(s, &project, &workflow, &id)?;
        let views = views(&sb, s);
        Ok(run_document(
            &context(s, run, &views[&run.id]),
            StatusCode::OK,
        ))
    })
}

/// Cancels an unfinished run (204). A finished run is left as it is, also with 204: the docs
/// give cancel no error but "not found".
fn cancel(sb: &Sb, s: &mut State, id: &str, user: String) -> ApiResult {
    let views = views(sb, s);
    let now = sb.now();
    let run = s
        .runs
        .iter_mut()
        .find(|r| r.id == id)
        .expect("found by caller");
    if !is_final(views[id].status) {
        run.cancelled = Some(Decision {
            kind: DecisionKind::Cancelled,
            at: now,
            username: user,
            message: None,
        });
    }
    Ok(jsonapi::no_content())
}

pub async fn cancel_run(Ext(sb): Ext<Sb>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult {
    sb.write(|s| {
        find_run(s, &id)?;
        let user = caller(&headers, s);
        cancel(&sb, s, &id, user)
    })
}

pub async fn cancel_nested_run(
    Ext(sb): Ext<Sb>,
    Path((project, workflow, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    sb.write(|s| {
        find_nested_run(s, &project, &workflow, &id)?;
        let user = caller(&headers, s);
        cancel(&sb, s, &id, user)
    })
}

// ---------------------------------------------------------------------------------------------
// Steps, under /api/workflow_steps, /api/steps and the run-specific path

/// The run a run-specific step route names (its project, workflow and run must match), or
/// `None` for the global step routes.
fn run_scope(s: &State, params: &HashMap<String, String>) -> Result<Option<usize>, ApiError> {
    match (
        params.get("project"),
        params.get("workflow"),
        params.get("run"),
    ) {
        (Some(p), Some(w), Some(r)) => {
            let run = find_nested_run(s, p, w, r)?;
            Ok(s.runs.iter().position(|x| x.id == run.id))
        }
        _ => Ok(None),
    }
}

/// The (run, step) indices of the step a route names. `/api/steps/...` reports a missing step
/// as `Step`, the workflow step routes as `BaseWorkflowStep`, as the spec does.
fn locate(
    s: &State,
    uri: &Uri,
    params: &HashMap<String, String>,
) -> Result<(usize, usize), ApiError> {
    let model = if uri.path().starts_with("/api/steps") {
        "Step"
    } else {
        "BaseWorkflowStep"
    };
    let scope = run_scope(s, params)?;
    let step = params.get("step").map(String::as_str).unwrap_or_default();
    s.runs
        .iter()
        .enumerate()
        .filter(|(ri, _)| scope.is_none_or(|only| only == *ri))
        .find_map(|(ri, r)| r.steps.iter().position(|x| x.id == step).map(|si| (ri, si)))
        .ok_or_else(|| ApiError::not_found(model))
}

pub async fn list_steps(
    Ext(sb): Ext<Sb>,
    Path(params): Path<HashMap<String, String>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    sb.read(|s| {
        let scope = run_scope(s, &params)?;
        let views = views(&sb, s);
        let items: Vec<Value> = s
            .runs
            .iter()
            .enumerate()
            .filter(|(i, _)| scope.is_none_or(|only| only == *i))
            .flat_map(|(_, run)| {
                let c = context(s, run, &views[&run.id]);
                run.steps
                    .iter()
                    .map(|step| c.step(step))
                    .collect::<Vec<_>>()
            })
            .collect();
        let items = filter::Query::parse(q.as_deref()).apply(items);
        Ok(jsonapi::document(StatusCode::OK, json!({ "data": items })))
    })
}

pub async fn show_step(
    Ext(sb): Ext<Sb>,
    uri: Uri,
    Path(params): Path<HashMap<String, String>>,
) -> ApiResult {
    sb.read(|s| step_document(&sb, s, &uri, &params))
}

fn step_document(sb: &Sb, s: &State, uri: &Uri, params: &HashMap<String, String>) -> ApiResult {
    let (ri, si) = locate(s, uri, params)?;
    let run = &s.runs[ri];
    let views = views(sb, s);
    let c = context(s, run, &views[&run.id]);
    Ok(jsonapi::ok(c.step(&run.steps[si])))
}

/// Flags a step to be skipped on retry, the only change the API allows.
pub async fn update_step(
    Ext(sb): Ext<Sb>,
    uri: Uri,
    Path(params): Path<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult {
    let p = Payload::required(&body, &["skip_on_retry"])?;
    let skip = p.flag("skip_on_retry")?;
    let now = sb.now();
    sb.write(|s| {
        let (ri, si) = locate(s, &uri, &params)?;
        let step = &mut s.runs[ri].steps[si];
        if let Some(skip) = skip {
            step.skip_on_retry = skip;
        }
        step.lock_version += 1;
        step.touched_at = Some(now);
        step_document(&sb, s, &uri, &params)
    })
}

pub async fn continue_step(
    Ext(sb): Ext<Sb>,
    uri: Uri,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    decide(sb, uri, params, headers, body, DecisionKind::Continued).await
}

pub async fn approve_step(
    Ext(sb): Ext<Sb>,
    uri: Uri,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    decide(sb, uri, params, headers, body, DecisionKind::Approved).await
}

pub async fn reject_step(
    Ext(sb): Ext<Sb>,
    uri: Uri,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    decide(sb, uri, params, headers, body, DecisionKind::Rejected).await
}

/// Continue, approve or reject a step. Only a `waiting` step takes a decision (else 422 with
/// the spec's `Cannot approve step because it is in the "running" state`); approval steps are
/// approved or rejected, plain wait steps continued. Approvers must be named in
/// `requires_approval_from`, directly or through an LDAP group (else 403, as the spec).
async fn decide(
    sb: Sb,
    uri: Uri,
    params: HashMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
    kind: DecisionKind,
) -> ApiResult {
    let p = Payload::optional(&body, &["message"])?;
    let message = p.text("message")?;
    let verb = match kind {
        DecisionKind::Approved => "approve",
        DecisionKind::Rejected => "reject",
        _ => "continue",
    };
    let now = sb.now();
    sb.write(|s| {
        let (ri, si) = locate(s, &uri, &params)?;
        let views = views(&sb, s);
        let run = &s.runs[ri];
        let step = &run.steps[si];
        let status = views[&run.id].step(&step.id).status;
        let (
            StepKind::Wait {
                requires_approval_from,
            },
            "waiting",
        ) = (&step.kind, status)
        else {
            return Err(ApiError::model(
                "base",
                format!("Cannot {verb} step because it is in the \"{status}\" state"),
            ));
        };
        match (kind, requires_approval_from) {
            (DecisionKind::Continued, Some(_)) => {
                return Err(ApiError::model(
                    "base",
                    "Cannot continue step because it requires approval",
                ));
            }
            (DecisionKind::Approved | DecisionKind::Rejected, None) => {
                return Err(ApiError::model(
                    "base",
                    format!("Cannot {verb} step because it does not require approval"),
                ));
            }
            _ => {}
        }
        let user = caller(&headers, s);
        if let Some(approvers) = requires_approval_from
            && !permitted(s, &user, approvers)
        {
            return Err(ApiError::not_permitted(format!(
                "You are not permitted to {verb} this step"
            )));
        }
        let step = &mut s.runs[ri].steps[si];
        step.decision = Some(Decision {
            kind,
            at: now,
            username: user,
            message,
        });
        step.lock_version += 1;
        step.touched_at = Some(now);
        step_document(&sb, s, &uri, &params)
    })
}

/// Whether `user` is one of the comma-separated users and LDAP groups in `approvers`.
fn permitted(s: &State, user: &str, approvers: &str) -> bool {
    let groups = s
        .user(user)
        .map(|u| u.groups.as_slice())
        .unwrap_or_default();
    approvers
        .split(',')
        .map(str::trim)
        .any(|a| a.eq_ignore_ascii_case(user) || groups.iter().any(|g| g.eq_ignore_ascii_case(a)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opschain::model::User;

    #[test]
    fn approvers_are_users_or_their_groups() {
        let mut s = State::default();
        s.users.push(User {
            id: new_id(),
            username: "ana".into(),
            groups: vec!["release-managers".into()],
            created_at: jiff::Timestamp::UNIX_EPOCH,
        });
        assert!(permitted(&s, "ana", "bob, Release-Managers"));
        assert!(permitted(&s, "bob", "ops,bob"));
        assert!(!permitted(&s, "bob", "release-managers"));
    }
}
