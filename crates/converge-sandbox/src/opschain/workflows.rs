//! Workflows and their versions. A version is a draft until published (`draft: false`), and
//! only published versions run. Publishing (or `validate_flag`) validates the steps against the
//! documented shapes and checks that what they target exists.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as Ext};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use super::jsonapi::{self, ApiError, ApiResult, Invalid, Payload};
use super::model::{Project, Stamp, State, Workflow, WorkflowVersion, new_id, valid_code};
use super::{Sb, caller, list_document, render, steps};

/// The project of a workflow route: 404 when unknown, 422 when its type has no workflows.
pub fn workflow_project<'a>(s: &'a State, code: &str) -> Result<&'a Project, ApiError> {
    let p = s.project(code).ok_or_else(ApiError::record_not_found)?;
    if !s.project_type(&p.project_type).is_some_and(|t| t.workflows) {
        return Err(ApiError::unsupported_project_type(format!(
            "\"{}\" projects do not support workflows",
            p.project_type
        )));
    }
    Ok(p)
}

pub fn find_workflow<'a>(
    s: &'a State,
    project: &str,
    code: &str,
) -> Result<(&'a Project, &'a Workflow), ApiError> {
    let p = workflow_project(s, project)?;
    let w = s
        .workflow(&p.id, code)
        .ok_or_else(|| ApiError::not_found("Workflow"))?;
    Ok((p, w))
}

fn find_version<'a>(w: &'a Workflow, version: &str) -> Result<&'a WorkflowVersion, ApiError> {
    version
        .parse::<u64>()
        .ok()
        .and_then(|n| w.version(n))
        .ok_or_else(|| ApiError::not_found("WorkflowVersion"))
}

/// Checks steps: always that they are an array; when validating (publishing, or
/// `validate_flag`), their shapes and the nodes and workflows they target.
fn check_steps(s: &State, steps: &Value, validate: bool) -> Result<(), ApiError> {
    let mut errors = steps::shape_errors(steps);
    if !validate {
        errors.retain(|e| e == "value at `/steps` is not an array");
    } else if errors.is_empty() {
        errors = steps::reference_errors(steps, s);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            errors
                .into_iter()
                .map(|e| Invalid::new("steps", e))
                .collect(),
        ))
    }
}

/// What a create or update says about a version's content.
struct Definition {
    steps: Option<Value>,
    source_yaml: Option<String>,
    draft: Option<bool>,
    validate: bool,
}

impl Definition {
    fn read(p: &Payload) -> Result<Definition, ApiError> {
        let draft = p.flag("draft")?;
        let flag = p.meta_flag("validate_flag")?.or(p.meta_flag("validate")?);
        Ok(Definition {
            steps: p.attributes.get("steps").filter(|s| !s.is_null()).cloned(),
            source_yaml: p.text("source_yaml")?,
            draft,
            validate: flag.unwrap_or(false) || draft == Some(false),
        })
    }

    fn version(
        &self,
        number: u64,
        steps: Value,
        user: &str,
        now: jiff::Timestamp,
    ) -> WorkflowVersion {
        WorkflowVersion {
            id: new_id(),
            version: number,
            source_yaml: self
                .source_yaml
                .clone()
                .unwrap_or_else(|| steps::source_yaml(&steps)),
            steps,
            draft: self.draft.unwrap_or(true),
            archived: false,
            stamp: Stamp {
                created_by: user.to_string(),
                created_at: now,
                updated_at: now,
            },
        }
    }
}

const WORKFLOW_ATTRIBUTES: [&str; 11] = [
    "code",
    "name",
    "description",
    "steps",
    "draft",
    "archived",
    "source_yaml",
    "notifications",
    "validate_flag",
    "resolve_properties",
    "property_overrides",
];

fn notifications(p: &Payload) -> Result<Option<Value>, ApiError> {
    Ok(p.object("notifications")?.map(Value::Object))
}

pub async fn list(
    Ext(sb): Ext<Sb>,
    Path(project): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let items = sb.read(|s| {
        let p = workflow_project(s, &project)?;
        Ok::<_, ApiError>(
            s.workflows
                .iter()
                .filter(|w| w.project_id == p.id)
                .map(|w| render::workflow(p, w))
                .collect(),
        )
    })?;
    Ok(list_doc(items, q))
}

fn list_doc(items: Vec<Value>, q: Option<String>) -> axum::response::Response {
    list_document(
        items,
        q.as_deref(),
        json!({ "authorisations": { "update": true }, "partial_response": false }),
    )
}

pub async fn create(
    Ext(sb): Ext<Sb>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Payload::required(&body, &WORKFLOW_ATTRIBUTES)?;
    let code = p.text("code")?;
    let name = p.text("name")?;
    let description = p.text("description")?;
    let archived = p.flag("archived")?.unwrap_or(false);
    let notifications = notifications(&p)?;
    let definition = Definition::read(&p)?;
    let now = sb.now();
    sb.write(|s| {
        let project = workflow_project(s, &project)?.clone();
        let mut failures = Vec::new();
        match code.as_deref() {
            None | Some("") => failures.push(Invalid::new("code", "Code can't be blank")),
            Some(c) if !valid_code(c) => failures.push(Invalid::new(
                "code",
                "Code must only contain lowercase letters, numbers and underscores",
            )),
            Some(c) if s.workflow(&project.id, c).is_some() => {
                failures.push(Invalid::new("code", "Code has already been taken"))
            }
            Some(_) => {}
        }
        if name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            failures.push(Invalid::new("name", "Name can't be blank"));
        }
        if definition.steps.is_none() {
            failures.push(Invalid::new("steps", "Steps can't be blank"));
        }
        if !failures.is_empty() {
            return Err(ApiError::invalid(failures));
        }
        let steps = definition.steps.clone().unwrap_or_default();
        check_steps(s, &steps, definition.validate)?;
        let user = caller(&headers, s);
        let workflow = Workflow {
            id: new_id(),
            project_id: project.id.clone(),
            code: code.unwrap_or_default(),
            name: name.unwrap_or_default(),
            description,
            archived,
            notifications: notifications.unwrap_or_else(|| Value::Object(Map::new())),
            next_version: 2,
            versions: vec![definition.version(1, steps, &user, now)],
            stamp: Stamp {
                created_by: user.clone(),
                created_at: now,
                updated_at: now,
            },
        };
        let doc = render::workflow(&project, &workflow);
        s.workflows.push(workflow);
        Ok(jsonapi::document(
            StatusCode::CREATED,
            json!({ "data": doc }),
        ))
    })
}

pub async fn show(Ext(sb): Ext<Sb>, Path((project, code)): Path<(String, String)>) -> ApiResult {
    sb.read(|s| {
        let (p, w) = find_workflow(s, &project, &code)?;
        Ok(jsonapi::ok(render::workflow(p, w)))
    })
}

fn workflow_mut<'a>(s: &'a mut State, id: &str) -> &'a mut Workflow {
    s.workflows
        .iter_mut()
        .find(|w| w.id == id)
        .expect("workflow found before")
}

/// Name, description, archived and notifications; with `steps` (as the rendered reference's
/// example sends) the latest draft is rewritten, or a new version added after a published one;
/// `draft: false` publishes.
pub async fn update(
    Ext(sb): Ext<Sb>,
    Path((project, code)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Payload::required(
        &body,
        &[
            "name",
            "description",
            "archived",
            "notifications",
            "steps",
            "draft",
            "source_yaml",
            "validate_flag",
        ],
    )?;
    let name = p.text("name")?;
    if p.has("name") && name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(ApiError::model("name", "Name can't be blank"));
    }
    let description = if p.has("description") {
        Some(p.text("description")?)
    } else {
        None
    };
    let archived = p.flag("archived")?;
    let notifications = notifications(&p)?;
    let definition = Definition::read(&p)?;
    let now = sb.now();
    sb.write(|s| {
        let (_, w) = find_workflow(s, &project, &code)?;
        let id = w.id.clone();
        let latest = w.latest().cloned();
        let user = caller(&headers, s);
        let publishing_latest = definition.steps.is_none()
            && definition.draft == Some(false)
            && latest.as_ref().is_some_and(|v| v.draft);
        if let Some(steps) = &definition.steps {
            check_steps(s, steps, definition.validate)?;
        } else if publishing_latest {
            check_steps(s, &latest.as_ref().expect("checked").steps, true)?;
        }
        let w = workflow_mut(s, &id);
        if let Some(n) = name {
            w.name = n;
        }
        if let Some(d) = description {
            w.description = d;
        }
        if let Some(a) = archived {
            w.archived = a;
        }
        if let Some(n) = notifications {
            w.notifications = n;
        }
        if let Some(steps) = definition.steps.clone() {
            match w
                .versions
                .iter_mut()
                .find(|v| Some(v.version) == latest.as_ref().map(|l| l.version))
            {
                Some(v) if v.draft => rewrite(v, &definition, steps, now),
                _ => {
                    let number = w.next_version;
                    w.next_version += 1;
                    w.versions
                        .push(definition.version(number, steps, &user, now));
                }
            }
        } else if publishing_latest {
            let latest = latest.expect("checked").version;
            if let Some(v) = w.versions.iter_mut().find(|v| v.version == latest) {
                v.draft = false;
                v.stamp.updated_at = now;
            }
        }
        w.stamp.updated_at = now;
        let (p, w) = find_workflow(s, &project, &code)?;
        Ok(jsonapi::ok(render::workflow(p, w)))
    })
}

fn rewrite(v: &mut WorkflowVersion, definition: &Definition, steps: Value, now: jiff::Timestamp) {
    v.source_yaml = definition
        .source_yaml
        .clone()
        .unwrap_or_else(|| steps::source_yaml(&steps));
    v.steps = steps;
    if let Some(d) = definition.draft {
        v.draft = v.draft && d;
    }
    v.stamp.updated_at = now;
}

/// Deleted if it never ran; otherwise archived, and its drafts and unused versions deleted.
pub async fn delete(Ext(sb): Ext<Sb>, Path((project, code)): Path<(String, String)>) -> ApiResult {
    let now = sb.now();
    sb.write(|s| {
        let id = find_workflow(s, &project, &code)?.1.id.clone();
        let used: Vec<String> = s
            .runs
            .iter()
            .filter(|r| r.workflow_id == id)
            .map(|r| r.version_id.clone())
            .collect();
        if used.is_empty() {
            s.workflows.retain(|w| w.id != id);
        } else {
            let w = workflow_mut(s, &id);
            w.archived = true;
            w.versions.retain(|v| used.contains(&v.id));
            w.stamp.updated_at = now;
        }
        Ok(jsonapi::no_content())
    })
}

pub async fn list_versions(
    Ext(sb): Ext<Sb>,
    Path((project, code)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let items = sb.read(|s| {
        let (p, w) = find_workflow(s, &project, &code)?;
        let mut versions: Vec<&WorkflowVersion> = w.versions.iter().collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.version));
        Ok::<_, ApiError>(
            versions
                .into_iter()
                .map(|v| render::workflow_version(p, w, v))
                .collect(),
        )
    })?;
    Ok(list_document(
        items,
        q.as_deref(),
        json!({ "authorisations": { "update": true } }),
    ))
}

/// Deletes every draft version; the docs say an error is raised when the workflow has no
/// published version (the message is the sandbox's). Answers 206 with the workflow, as the
/// spec does.
pub async fn delete_drafts(
    Ext(sb): Ext<Sb>,
    Path((project, code)): Path<(String, String)>,
) -> ApiResult {
    let now = sb.now();
    sb.write(|s| {
        let (_, w) = find_workflow(s, &project, &code)?;
        if w.versions.iter().all(|v| v.draft) {
            return Err(ApiError::model(
                "base",
                "Draft versions cannot be deleted while the workflow has no published version",
            ));
        }
        let id = w.id.clone();
        let w = workflow_mut(s, &id);
        w.versions.retain(|v| !v.draft);
        w.stamp.updated_at = now;
        let (p, w) = find_workflow(s, &project, &code)?;
        Ok(jsonapi::document(
            StatusCode::PARTIAL_CONTENT,
            json!({ "data": render::workflow(p, w) }),
        ))
    })
}

pub async fn show_version(
    Ext(sb): Ext<Sb>,
    Path((project, code, version)): Path<(String, String, String)>,
) -> ApiResult {
    sb.read(|s| {
        let (p, w) = find_workflow(s, &project, &code)?;
        let v = find_version(w, &version)?;
        Ok(jsonapi::ok(render::workflow_version(p, w, v)))
    })
}

/// Rewrites a draft version's steps (publishing it with `draft: false`), or, with
/// `meta.create_new_version`, adds a new version. A published version cannot be rewritten: the
/// sandbox answers 422 (the docs do not say what OpsChain answers).
pub async fn update_version(
    Ext(sb): Ext<Sb>,
    Path((project, code, version)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Payload::required(
        &body,
        &[
            "name",
            "steps",
            "draft",
            "description",
            "archived",
            "source_yaml",
            "validate_flag",
        ],
    )?;
    let name = p.text("name")?;
    if p.has("name") && name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(ApiError::model("name", "Name can't be blank"));
    }
    let description = if p.has("description") {
        Some(p.text("description")?)
    } else {
        None
    };
    let archived = p.flag("archived")?;
    let new_version = p.meta_flag("create_new_version")?.unwrap_or(false);
    let definition = Definition::read(&p)?;
    let Some(steps) = definition.steps.clone() else {
        return Err(ApiError::model("steps", "Steps can't be blank"));
    };
    let now = sb.now();
    sb.write(|s| {
        let (_, w) = find_workflow(s, &project, &code)?;
        let target = find_version(w, &version)?;
        if !new_version && !target.draft {
            return Err(ApiError::model(
                "base",
                "Published workflow versions cannot be changed; set meta.create_new_version to add a new version",
            ));
        }
        let (id, number) = (w.id.clone(), target.version);
        check_steps(s, &steps, definition.validate)?;
        let user = caller(&headers, s);
        let w = workflow_mut(s, &id);
        if let Some(n) = name {
            w.name = n;
        }
        if let Some(d) = description {
            w.description = d;
        }
        let number = if new_version {
            let n = w.next_version;
            w.next_version += 1;
            w.versions.push(definition.version(n, steps, &user, now));
            n
        } else {
            let v = w
                .versions
                .iter_mut()
                .find(|v| v.version == number)
                .expect("found above");
            rewrite(v, &definition, steps, now);
            number
        };
        if let Some(a) = archived
            && let Some(v) = w.versions.iter_mut().find(|v| v.version == number)
        {
            v.archived = a;
        }
        w.stamp.updated_at = now;
        let (p, w) = find_workflow(s, &project, &code)?;
        let v = w.version(number).expect("just written");
        Ok(jsonapi::ok(render::workflow_version(p, w, v)))
    })
}

/// Deleted if it never ran, archived otherwise. The last remaining version stays (422): the
/// docs keep at least one version when deleting drafts, and a workflow without versions has
/// nothing to show.
pub async fn delete_version(
    Ext(sb): Ext<Sb>,
    Path((project, code, version)): Path<(String, String, String)>,
) -> ApiResult {
    let now = sb.now();
    sb.write(|s| {
        let (_, w) = find_workflow(s, &project, &code)?;
        let v = find_version(w, &version)?;
        let (id, version_id, number) = (w.id.clone(), v.id.clone(), v.version);
        let ran = s.runs.iter().any(|r| r.version_id == version_id);
        let w = workflow_mut(s, &id);
        if ran {
            if let Some(v) = w.versions.iter_mut().find(|v| v.version == number) {
                v.archived = true;
                v.stamp.updated_at = now;
            }
        } else {
            if w.versions.len() == 1 {
                return Err(ApiError::model(
                    "base",
                    "A workflow must keep at least one version",
                ));
            }
            w.versions.retain(|v| v.version != number);
        }
        w.stamp.updated_at = now;
        Ok(jsonapi::no_content())
    })
}
