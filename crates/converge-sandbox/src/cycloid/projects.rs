//! Projects and their environments.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as With};
use axum::http::HeaderMap;
use serde_json::Value;

use super::Sb;
use super::error::{ApiError, ApiResult, data, no_content, page};
use super::model::{Environment, Organization, Project};
use super::query::Query;
use super::render;
use super::validate::{self, CLOUD_PROVIDERS, Pattern, canonical_param, check_path, org_param};

/// What a project gets for `color` and `icon` when none is given.
const DEFAULT_COLOR: &str = "default";
const DEFAULT_ICON: &str = "extension";

/// `GET /organizations/{org}/projects` (getProjects), filtered by `project_name` and
/// `project_description` (substrings, any case), `project_config_repository_canonical`,
/// `environment_canonical` (projects having it), `member_id` (owner), and ordered by `order_by`
/// (`name`, `canonical`, `created_at` or `id`, `:asc` or `:desc`).
pub async fn list_projects(
    With(sb): With<Sb>,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_path(&[org_param(&org)])?;
    let mut q = Query::parse(raw.as_deref());
    let pg = q.page();
    let name = q.get("project_name").map(str::to_lowercase);
    let description = q.get("project_description").map(str::to_lowercase);
    let repo = q
        .get("project_config_repository_canonical")
        .map(str::to_string);
    let env = q.get("environment_canonical").map(str::to_string);
    let member = q.uint("member_id", false);
    let order = q.get("order_by").map(str::to_string);
    let order = match order
        .as_deref()
        .map(|o| o.split_once(':').unwrap_or((o, "asc")))
    {
        None => None,
        Some((field, dir @ ("asc" | "desc")))
            if matches!(field, "name" | "canonical" | "created_at" | "id") =>
        {
            Some((field.to_string(), dir == "desc"))
        }
        Some(_) => {
            q.violation("order_by in query should be one of name, canonical, created_at, id with :asc or :desc");
            None
        }
    };
    q.finish()?;
    let items = sb.read(|s| {
        let o = s.org(&org)?;
        let member_name = member.map(|id| {
            o.members
                .iter()
                .find(|u| u.id == id)
                .map(|u| u.username.clone())
        });
        let mut projects: Vec<&Project> = o
            .projects
            .iter()
            .filter(|p| {
                name.as_ref()
                    .is_none_or(|n| p.name.to_lowercase().contains(n.as_str()))
            })
            .filter(|p| {
                description
                    .as_ref()
                    .is_none_or(|d| p.description.to_lowercase().contains(d.as_str()))
            })
            .filter(|p| {
                repo.as_ref()
                    .is_none_or(|r| p.config_repository_canonical.as_ref() == Some(r))
            })
            .filter(|p| {
                env.as_ref()
                    .is_none_or(|e| p.environments.iter().any(|x| &x.canonical == e))
            })
            .filter(|p| {
                member_name
                    .as_ref()
                    .is_none_or(|m| m.is_some() && p.owner == *m)
            })
            .collect();
        if let Some((field, desc)) = &order {
            projects.sort_by(|a, b| {
                let ord = match field.as_str() {
                    "name" => a.name.cmp(&b.name),
                    "canonical" => a.canonical.cmp(&b.canonical),
                    "created_at" => a.created_at.cmp(&b.created_at),
                    _ => a.id.cmp(&b.id),
                };
                if *desc { ord.reverse() } else { ord }
            });
        }
        Ok::<Vec<Value>, ApiError>(
            projects
                .into_iter()
                .map(|p| render::project(o, p))
                .collect(),
        )
    })?;
    let (items, pagination) = pg.slice(items);
    Ok(page(items, pagination))
}

const NEW_PROJECT_FIELDS: [&str; 8] = [
    "canonical",
    "name",
    "description",
    "owner",
    "config_repository_canonical",
    "team_canonical",
    "color",
    "icon",
];

/// Checks what a project body refers to: the config repository, the owner, the team.
fn check_references(
    o: &Organization,
    repo: Option<&str>,
    owner: Option<&str>,
    team: Option<&str>,
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if let Some(r) = repo
        && o.config_repository(r).is_none()
    {
        errors.push(format!(
            "config_repository_canonical in body: config repository {r:?} not found"
        ));
    }
    if let Some(u) = owner
        && !o.members.iter().any(|m| m.username == u)
    {
        errors.push(format!(
            "owner in body: user {u:?} is not a member of the organization"
        ));
    }
    if let Some(t) = team
        && !o.teams.iter().any(|x| x.canonical == t)
    {
        errors.push(format!("team_canonical in body: team {t:?} not found"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(errors))
    }
}

/// `POST /organizations/{org}/projects` (createProject). `name` and
/// `config_repository_canonical` are required; the canonical defaults to the name's slug; the
/// owner defaults to the organization's first member; unknown properties are refused
/// (`additionalProperties: false`).
pub async fn create_project(
    With(sb): With<Sb>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_path(&[org_param(&org)])?;
    let mut f = validate::body(&headers, &body)?;
    f.forbid_others(&NEW_PROJECT_FIELDS);
    let canonical = f.string("canonical", false);
    f.canonical(
        "canonical",
        canonical.as_deref(),
        Pattern::ProjectCanonical,
        1,
        100,
    );
    let name = f.string("name", true);
    f.length("name", name.as_deref(), 1, 0);
    let description = f.string("description", false);
    let owner = f.string("owner", false).filter(|o| !o.is_empty());
    let repo = f.string("config_repository_canonical", true);
    f.canonical(
        "config_repository_canonical",
        repo.as_deref(),
        Pattern::Canonical,
        3,
        100,
    );
    let team = f.string("team_canonical", false);
    f.canonical(
        "team_canonical",
        team.as_deref(),
        Pattern::Canonical,
        3,
        100,
    );
    let color = f.string("color", false);
    f.length("color", color.as_deref(), 0, 64);
    let icon = f.string("icon", false);
    f.length("icon", icon.as_deref(), 0, 64);
    let canonical = f.canonical_or_slug(canonical, name.as_deref(), Pattern::ProjectCanonical, 100);
    f.finish()?;
    let (Some(canonical), Some(name), Some(repo)) = (canonical, name, repo) else {
        return Err(ApiError::invalid_one("body in body is required"));
    };
    let now = sb.now();
    sb.write(|s| {
        let id = s.next_id("project");
        let o = s.org_mut(&org)?;
        check_references(o, Some(&repo), owner.as_deref(), team.as_deref())?;
        if o.projects.iter().any(|p| p.canonical == canonical) {
            return Err(ApiError::already_exists(format!(
                "project {canonical:?} already exists"
            )));
        }
        let owner = owner.or_else(|| o.members.first().map(|u| u.username.clone()));
        o.projects.push(Project {
            id,
            canonical,
            name,
            description: description.unwrap_or_default(),
            color: color.unwrap_or_else(|| DEFAULT_COLOR.into()),
            icon: icon.unwrap_or_else(|| DEFAULT_ICON.into()),
            owner,
            team,
            config_repository_canonical: Some(repo),
            cloud_provider: None,
            created_at: now,
            updated_at: now,
            environments: Vec::new(),
        });
        let o = &*o;
        Ok(data(render::project(
            o,
            o.projects.last().expect("just pushed"),
        )))
    })
}

fn project_params<'a>(
    org: &'a str,
    p: &'a str,
) -> [(&'static str, &'a str, validate::PathRule); 2] {
    [org_param(org), canonical_param("project_canonical", p)]
}

/// `GET /organizations/{org}/projects/{p}` (getProject).
pub async fn get_project(With(sb): With<Sb>, Path((org, p)): Path<(String, String)>) -> ApiResult {
    check_path(&project_params(&org, &p))?;
    sb.read(|s| {
        let o = s.org(&org)?;
        Ok(data(render::project(o, o.project(&p)?)))
    })
}

const UPDATE_PROJECT_FIELDS: [&str; 8] = [
    "name",
    "description",
    "owner",
    "cloud_provider",
    "config_repository_canonical",
    "updated_at",
    "color",
    "icon",
];

/// `PUT /organizations/{org}/projects/{p}` (updateProject).
///
/// As the docs say: optional fields not sent are cleared; `updated_at` (Unix seconds) is
/// required and must be the project's current `updated_at`, else 409 `Conflict` (someone
/// changed it since it was read); `config_repository_canonical` cannot be dropped from a
/// project that has one, and a different one moves the project to it. The canonical and the
/// team cannot change (forbidden properties). Creating or deleting an environment also moves
/// the project's `updated_at`, since the docs tie the check to the environments.
pub async fn update_project(
    With(sb): With<Sb>,
    Path((org, p)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_path(&project_params(&org, &p))?;
    let mut f = validate::body(&headers, &body)?;
    f.forbid_others(&UPDATE_PROJECT_FIELDS);
    let name = f.string("name", true);
    f.length("name", name.as_deref(), 1, 0);
    let description = f.string("description", false);
    let owner = f.string("owner", false).filter(|o| !o.is_empty());
    let cloud = f.string("cloud_provider", false);
    let providers: Vec<&str> = CLOUD_PROVIDERS.iter().map(|(c, _)| *c).collect();
    f.one_of("cloud_provider", cloud.as_deref(), &providers);
    let repo = f.string("config_repository_canonical", false);
    f.canonical(
        "config_repository_canonical",
        repo.as_deref(),
        Pattern::Canonical,
        3,
        100,
    );
    let updated_at = f.uint("updated_at", true);
    let color = f.string("color", false);
    f.length("color", color.as_deref(), 0, 64);
    let icon = f.string("icon", false);
    f.length("icon", icon.as_deref(), 0, 64);
    f.finish()?;
    let (Some(name), Some(updated_at)) = (name, updated_at) else {
        return Err(ApiError::invalid_one("body in body is required"));
    };
    let now = sb.now();
    sb.write(|s| {
        let o = s.org_mut(&org)?;
        let current = o.project(&p)?;
        if current.config_repository_canonical.is_some() && repo.is_none() {
            return Err(ApiError::invalid_one(
                "config_repository_canonical in body is required",
            ));
        }
        check_references(o, repo.as_deref(), owner.as_deref(), None)?;
        let project = o.project_mut(&p)?;
        let current_updated = render::secs(project.updated_at);
        if updated_at != current_updated {
            return Err(ApiError::conflict(format!(
                "the project was updated at {current_updated}, after the updated_at {updated_at} sent: read it again"
            )));
        }
        project.name = name;
        project.description = description.unwrap_or_default();
        project.owner = owner;
        project.cloud_provider = cloud;
        if repo.is_some() {
            project.config_repository_canonical = repo;
        }
        project.color = color.unwrap_or_default();
        project.icon = icon.unwrap_or_default();
        project.updated_at = now;
        let o = &*o;
        Ok(data(render::project(o, o.project(&p)?)))
    })
}

/// `DELETE /organizations/{org}/projects/{p}` (deleteProject), with its environments,
/// components and pipelines.
pub async fn delete_project(
    With(sb): With<Sb>,
    Path((org, p)): Path<(String, String)>,
) -> ApiResult {
    check_path(&project_params(&org, &p))?;
    sb.write(|s| {
        let o = s.org_mut(&org)?;
        let before = o.projects.len();
        o.projects.retain(|x| x.canonical != p);
        if o.projects.len() == before {
            return Err(ApiError::not_found(format!("project {p:?} not found")));
        }
        Ok(no_content())
    })
}

/// `GET /organizations/{org}/projects/{p}/environments` (getProjectEnvironments).
pub async fn list_environments(
    With(sb): With<Sb>,
    Path((org, p)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_path(&project_params(&org, &p))?;
    let mut q = Query::parse(raw.as_deref());
    let pg = q.page();
    q.finish()?;
    let items = sb.read(|s| {
        Ok::<Vec<Value>, ApiError>(
            s.org(&org)?
                .project(&p)?
                .environments
                .iter()
                .map(render::environment)
                .collect(),
        )
    })?;
    let (items, pagination) = pg.slice(items);
    Ok(page(items, pagination))
}

/// `POST /organizations/{org}/projects/{p}/environments` (createEnvironment): `name`
/// (1..100) is required; the canonical defaults to the name's slug.
pub async fn create_environment(
    With(sb): With<Sb>,
    Path((org, p)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_path(&project_params(&org, &p))?;
    let mut f = validate::body(&headers, &body)?;
    let canonical = f.string("canonical", false);
    f.canonical(
        "canonical",
        canonical.as_deref(),
        Pattern::EnvCanonical,
        1,
        100,
    );
    let name = f.string("name", true);
    f.length("name", name.as_deref(), 1, 100);
    let color = f.string("color", false);
    f.length("color", color.as_deref(), 0, 64);
    let canonical = f.canonical_or_slug(canonical, name.as_deref(), Pattern::EnvCanonical, 100);
    f.finish()?;
    let (Some(canonical), Some(name)) = (canonical, name) else {
        return Err(ApiError::invalid_one("body in body is required"));
    };
    let now = sb.now();
    sb.write(|s| {
        let id = s.next_id("environment");
        let project = s.org_mut(&org)?.project_mut(&p)?;
        if project
            .environments
            .iter()
            .any(|e| e.canonical == canonical)
        {
            return Err(ApiError::already_exists(format!(
                "environment {canonical:?} already exists in project {p:?}"
            )));
        }
        let env = Environment {
            id,
            canonical,
            name,
            color: color.unwrap_or_else(|| DEFAULT_COLOR.into()),
            created_at: now,
            updated_at: now,
            components: Vec::new(),
        };
        let out = render::environment(&env);
        project.environments.push(env);
        project.updated_at = now;
        Ok(data(out))
    })
}

fn env_params<'a>(
    org: &'a str,
    p: &'a str,
    e: &'a str,
) -> [(&'static str, &'a str, validate::PathRule); 3] {
    [
        org_param(org),
        canonical_param("project_canonical", p),
        canonical_param("environment_canonical", e),
    ]
}

/// `GET /organizations/{org}/projects/{p}/environments/{e}` (getEnvironment).
pub async fn get_environment(
    With(sb): With<Sb>,
    Path((org, p, e)): Path<(String, String, String)>,
) -> ApiResult {
    check_path(&env_params(&org, &p, &e))?;
    sb.read(|s| {
        Ok(data(render::environment(
            s.org(&org)?.project(&p)?.env(&e)?,
        )))
    })
}

/// `PUT /organizations/{org}/projects/{p}/environments/{e}` (updateEnvironment): `name` is
/// required; a color not sent is cleared, as project updates do.
pub async fn update_environment(
    With(sb): With<Sb>,
    Path((org, p, e)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_path(&env_params(&org, &p, &e))?;
    let mut f = validate::body(&headers, &body)?;
    let name = f.string("name", true);
    f.length("name", name.as_deref(), 1, 100);
    let color = f.string("color", false);
    f.length("color", color.as_deref(), 0, 64);
    f.finish()?;
    let Some(name) = name else {
        return Err(ApiError::invalid_one("body in body is required"));
    };
    let now = sb.now();
    sb.write(|s| {
        let project = s.org_mut(&org)?.project_mut(&p)?;
        let env = project.env_mut(&e)?;
        env.name = name;
        env.color = color.unwrap_or_default();
        env.updated_at = now;
        let out = render::environment(env);
        project.updated_at = now;
        Ok(data(out))
    })
}

/// `DELETE /organizations/{org}/projects/{p}/environments/{e}` (deleteEnvironment), with its
/// components and pipelines.
pub async fn delete_environment(
    With(sb): With<Sb>,
    Path((org, p, e)): Path<(String, String, String)>,
) -> ApiResult {
    check_path(&env_params(&org, &p, &e))?;
    let now = sb.now();
    sb.write(|s| {
        let project = s.org_mut(&org)?.project_mut(&p)?;
        let before = project.environments.len();
        project.environments.retain(|x| x.canonical != e);
        if project.environments.len() == before {
            return Err(ApiError::not_found(format!("environment {e:?} not found")));
        }
        project.updated_at = now;
        Ok(no_content())
    })
}
