//! The documented operations under `/api/v1`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::Choreo;
use super::error::ApiError;
use super::model::{
    Build, BuildStatus, Clock, Component, ComponentType, Deployment, Project, timestamp,
};
use super::validate::{Fields, JsonObject, is_commit_hash};
use crate::Sandbox;

type Shared = State<Sandbox<Choreo>>;
type Result<T> = std::result::Result<T, ApiError>;

fn clock(sb: &Sandbox<Choreo>) -> Clock {
    Clock {
        timing: *sb.timing(),
        now: sb.now(),
        holds: sb.ops().holds(),
    }
}

/// `{"list": [...]}`, the envelope of every list.
#[derive(Serialize)]
struct List<T> {
    list: Vec<T>,
}

/// The APIs list adds `pagination`.
#[derive(Serialize)]
struct Page<T> {
    list: Vec<T>,
    pagination: Pagination,
}

#[derive(Serialize)]
struct Pagination {
    total: usize,
    limit: usize,
    offset: usize,
}

fn list<T: Serialize>(list: Vec<T>) -> Response {
    Json(List { list }).into_response()
}

fn created<T: Serialize>(item: T) -> Response {
    (StatusCode::CREATED, Json(item)).into_response()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub async fn list_organizations(State(sb): Shared) -> Response {
    sb.read(|s| list(s.organizations.iter().collect()))
}

pub async fn list_environments(State(sb): Shared, Path(org): Path<String>) -> Result<Response> {
    sb.read(|s| {
        let org = s.org(&org)?;
        Ok(list(
            s.environments
                .iter()
                .filter(|e| e.org_id == org.id)
                .collect(),
        ))
    })
}

pub async fn list_projects(State(sb): Shared, Path(org): Path<String>) -> Result<Response> {
    sb.read(|s| {
        let org = s.org(&org)?;
        Ok(list(
            s.projects.iter().filter(|p| p.org_id == org.id).collect(),
        ))
    })
}

/// `ProjectCreate`: `name` required, `description` optional. Names are unique (exactly, case
/// included) in the organization: a second one is a 409.
pub async fn create_project(
    State(sb): Shared,
    Path(org): Path<String>,
    body: JsonObject,
) -> Result<Response> {
    let mut f = Fields::new(body);
    let name = f.required("name");
    let description = f.text("description");
    // The organization is checked first: a 404 says more than a 400 about a wrong URL.
    sb.read(|s| s.org(&org).map(|_| ()))?;
    f.finish()?;
    let name = name.unwrap_or_default();
    let now = timestamp(sb.now());
    sb.write(|s| {
        let org = s.org(&org)?.clone();
        if s.projects
            .iter()
            .any(|p| p.org_id == org.id && p.name == name)
        {
            return Err(ApiError::conflict(format!(
                "a project named \"{name}\" already exists in organization {}",
                org.handle
            )));
        }
        let project = Project {
            id: new_id(),
            name,
            description,
            org_id: org.id,
            created_at: now,
        };
        s.projects.push(project.clone());
        Ok(created(project))
    })
}

pub async fn list_components(
    State(sb): Shared,
    Path((org, project)): Path<(String, String)>,
) -> Result<Response> {
    let clock = clock(&sb);
    sb.read(|s| {
        let org = s.org(&org)?;
        let project = s.project(org, &project)?;
        Ok(list(
            s.components
                .iter()
                .filter(|c| c.project_id == project.id)
                .map(|c| s.component_view(c, &clock))
                .collect(),
        ))
    })
}

/// `ComponentCreate`: `name`, `type` (one of eight) and `repoUrl` required; `branch` defaults
/// to `main`. Names are unique (exactly) in the project: a second one is a 409.
pub async fn create_component(
    State(sb): Shared,
    Path((org, project)): Path<(String, String)>,
    body: JsonObject,
) -> Result<Response> {
    let mut f = Fields::new(body);
    let name = f.required("name");
    let type_ = f.required_enum("type", &ComponentType::ALL);
    let repo_url = f.required("repoUrl");
    let description = f.text("description");
    let branch = f.optional("branch");
    let buildpack_id = f.optional("buildpackId");
    let sub_path = f.optional("subPath");
    sb.read(|s| s.project(s.org(&org)?, &project).map(|_| ()))?;
    f.finish()?;
    let (Some(name), Some(type_), Some(repo_url)) = (name, type_, repo_url) else {
        return Err(ApiError::bad_request("name, type and repoUrl are required"));
    };
    let now = timestamp(sb.now());
    let clock = clock(&sb);
    sb.write(|s| {
        let org = s.org(&org)?.clone();
        let project = s.project(&org, &project)?.clone();
        if s.components
            .iter()
            .any(|c| c.project_id == project.id && c.name == name)
        {
            return Err(ApiError::conflict(format!(
                "a component named \"{name}\" already exists in project {}",
                project.name
            )));
        }
        let component = Component {
            id: new_id(),
            name,
            type_,
            description,
            repo_url,
            branch: branch.unwrap_or_else(|| "main".to_string()),
            buildpack_id,
            sub_path,
            project_id: project.id,
            org_id: org.id,
            created_at: now,
        };
        let response = created(s.component_view(&component, &clock));
        s.components.push(component);
        Ok(response)
    })
}

pub async fn get_component(
    State(sb): Shared,
    Path((org, project, component)): Path<(String, String, String)>,
) -> Result<Response> {
    let clock = clock(&sb);
    sb.read(|s| {
        let c = s.component(&org, &project, &component)?;
        Ok(Json(s.component_view(c, &clock)).into_response())
    })
}

/// Deletes the component with its builds and deployments.
pub async fn delete_component(
    State(sb): Shared,
    Path((org, project, component)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    sb.write(|s| {
        let id = s.component(&org, &project, &component)?.id.clone();
        s.components.retain(|c| c.id != id);
        s.builds.retain(|b| b.component_id != id);
        s.deployments.retain(|d| d.component_id != id);
        Ok(StatusCode::NO_CONTENT)
    })
}

/// Newest first.
pub async fn list_builds(
    State(sb): Shared,
    Path((org, project, component)): Path<(String, String, String)>,
) -> Result<Response> {
    let clock = clock(&sb);
    sb.read(|s| {
        let c = s.component(&org, &project, &component)?;
        Ok(list(
            s.builds
                .iter()
                .rev()
                .filter(|b| b.component_id == c.id)
                .map(|b| b.view(&clock))
                .collect(),
        ))
    })
}

/// `BuildCreate`: `branch` (default: the component's) and `commitHash` (default: the branch's
/// head, which the sandbox derives from the repository and branch), both optional, in a body
/// that is required (`{}` will do). The build fails when an admin failure pattern matches its
/// commit, its branch or the component's name at the time it is triggered.
pub async fn create_build(
    State(sb): Shared,
    Path((org, project, component)): Path<(String, String, String)>,
    body: JsonObject,
) -> Result<Response> {
    let mut f = Fields::new(body);
    let branch = f.optional("branch");
    let commit = f.optional("commitHash");
    if let Some(c) = &commit {
        f.check(is_commit_hash(c), || {
            "commitHash must be a git commit hash of 7 to 40 hexadecimal digits".to_string()
        });
    }
    sb.read(|s| s.component(&org, &project, &component).map(|_| ()))?;
    f.finish()?;
    let now = timestamp(sb.now());
    let clock = clock(&sb);
    sb.write(|s| {
        let c = s.component(&org, &project, &component)?.clone();
        let branch = branch.unwrap_or_else(|| c.branch.clone());
        let commit_hash = commit.unwrap_or_else(|| branch_head(&c.repo_url, &branch));
        let fails = [commit_hash.as_str(), branch.as_str(), c.name.as_str()]
            .iter()
            .any(|text| sb.should_fail(text));
        let build = Build {
            id: new_id(),
            component_id: c.id,
            branch,
            commit_hash,
            created_at: now,
            fails,
        };
        let response = created(build.view(&clock));
        s.builds.push(build);
        Ok(response)
    })
}

/// A stable stand-in for the head commit of a branch: 40 hex digits derived from the
/// repository and branch, so building a branch twice builds the same commit.
fn branch_head(repo_url: &str, branch: &str) -> String {
    let mut hash = String::with_capacity(40);
    for round in 0u64..3 {
        let h = format!("{repo_url}#{branch}")
            .bytes()
            .fold(0xcbf29ce484222325u64 ^ round, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100000001b3)
            });
        hash.push_str(&format!("{h:016x}"));
    }
    hash.truncate(40);
    hash
}

/// Newest first.
pub async fn list_deployments(
    State(sb): Shared,
    Path((org, project, component)): Path<(String, String, String)>,
) -> Result<Response> {
    let clock = clock(&sb);
    sb.read(|s| {
        let c = s.component(&org, &project, &component)?;
        Ok(list(
            (0..s.deployments.len())
                .rev()
                .filter(|&i| s.deployments[i].component_id == c.id)
                .map(|i| s.deployment_view(i, &clock))
                .collect(),
        ))
    })
}

/// `DeploymentCreate`: `buildId` (a build of this component) and `environmentId` (an
/// environment of the organization, by id) are required. Only a build whose status is Success
/// can be promoted; anything else is a 400, the only client error the spec lists for it. The
/// deployment fails when an admin failure pattern matches `<component name>/<environment name>`
/// or the environment id.
pub async fn create_deployment(
    State(sb): Shared,
    Path((org, project, component)): Path<(String, String, String)>,
    body: JsonObject,
) -> Result<Response> {
    let mut f = Fields::new(body);
    let build_id = f.required("buildId");
    let environment_id = f.required("environmentId");
    sb.read(|s| s.component(&org, &project, &component).map(|_| ()))?;
    f.finish()?;
    let (Some(build_id), Some(environment_id)) = (build_id, environment_id) else {
        return Err(ApiError::bad_request(
            "buildId and environmentId are required",
        ));
    };
    let now = timestamp(sb.now());
    let clock = clock(&sb);
    sb.write(|s| {
        let c = s.component(&org, &project, &component)?.clone();
        let Some(build) = s
            .builds
            .iter()
            .find(|b| b.id == build_id && b.component_id == c.id)
        else {
            return Err(ApiError::bad_request(format!(
                "build {build_id} not found for component {}",
                c.name
            )));
        };
        let Some(environment) = s
            .environments
            .iter()
            .find(|e| e.id == environment_id && e.org_id == c.org_id)
        else {
            return Err(ApiError::bad_request(format!(
                "environment {environment_id} not found in the organization"
            )));
        };
        let status = build.status(&clock);
        if status != BuildStatus::Success {
            return Err(ApiError::bad_request(format!(
                "build {build_id} cannot be deployed: its status is {status:?}, only a build whose status is Success can be promoted"
            )));
        }
        let fails = sb.should_fail(&format!("{}/{}", c.name, environment.name))
            || sb.should_fail(&environment.id);
        let environment_id = environment.id.clone();
        s.deployments.push(Deployment {
            id: new_id(),
            component_id: c.id,
            build_id,
            environment_id,
            created_at: now,
            fails,
        });
        Ok(created(s.deployment_view(s.deployments.len() - 1, &clock)))
    })
}

/// The one paged list: `limit` (default 25, at least 1) and `offset` (default 0).
pub async fn list_apis(
    State(sb): Shared,
    Path(org): Path<String>,
    query: std::result::Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = paging(&query, "limit", 25, 1)?;
    let offset = paging(&query, "offset", 0, 0)?;
    sb.read(|s| {
        let org = s.org(&org)?;
        let all: Vec<_> = s
            .apis
            .iter()
            .filter(|a| a.org_id == org.id)
            .map(|a| &a.api)
            .collect();
        let total = all.len();
        let page: Vec<_> = all.into_iter().skip(offset).take(limit).collect();
        Ok(Json(Page {
            list: page,
            pagination: Pagination {
                total,
                limit,
                offset,
            },
        })
        .into_response())
    })
}

fn paging(
    query: &HashMap<String, String>,
    name: &str,
    default: usize,
    min: usize,
) -> Result<usize> {
    let Some(raw) = query.get(name) else {
        return Ok(default);
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "{name} must be an integer of at least {min}"
        ))),
    }
}

pub async fn get_api(
    State(sb): Shared,
    Path((org, api)): Path<(String, String)>,
) -> Result<Response> {
    sb.read(|s| {
        let org = s.org(&org)?;
        s.apis
            .iter()
            .find(|a| a.org_id == org.id && a.api.id == api)
            .map(|a| Json(&a.api).into_response())
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "API {api} not found in organization {}",
                    org.handle
                ))
            })
    })
}
