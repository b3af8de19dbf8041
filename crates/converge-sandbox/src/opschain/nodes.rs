//! Projects, environments and assets (addressed by code), their versioned properties, the
//! server info and the user directory.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as Ext};
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};

use super::jsonapi::{self, ApiError, ApiResult, Invalid, Payload};
use super::model::{Asset, Environment, Project, Stamp, State, new_id, valid_code};
use super::progress::{self, is_final};
use super::{Sb, caller, list_document, render};

/// Codes appear in paths: OpsChain allows only lowercase letters, digits and underscores.
fn code_errors(code: Option<&str>, taken: bool) -> Vec<Invalid> {
    match code {
        None => vec![Invalid::new("code", "Code can't be blank")],
        Some(c) if c.trim().is_empty() => vec![Invalid::new("code", "Code can't be blank")],
        Some(c) if !valid_code(c) => {
            vec![Invalid::new(
                "code",
                "Code must only contain lowercase letters, numbers and underscores",
            )]
        }
        Some(_) if taken => vec![Invalid::new("code", "Code has already been taken")],
        Some(_) => vec![],
    }
}

fn name_errors(name: Option<&str>, taken: bool) -> Vec<Invalid> {
    match name {
        Some(n) if !n.trim().is_empty() => {
            if taken {
                vec![Invalid::new("name", "Name has already been taken")]
            } else {
                vec![]
            }
        }
        _ => vec![Invalid::new("name", "Name can't be blank")],
    }
}

fn check(failures: Vec<Invalid>) -> Result<(), ApiError> {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(failures))
    }
}

/// Name and description changes shared by every structure's PATCH.
struct Edit {
    name: Option<String>,
    description: Option<Option<String>>,
    archived: Option<bool>,
}

impl Edit {
    fn read(body: &[u8], extra: &[&str]) -> Result<Edit, ApiError> {
        let mut permitted = vec!["name", "description", "archived"];
        permitted.extend_from_slice(extra);
        let p = Payload::required(body, &permitted)?;
        let name = p.text("name")?;
        if p.has("name") && name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(ApiError::model("name", "Name can't be blank"));
        }
        let description = if p.has("description") {
            Some(p.text("description")?)
        } else {
            None
        };
        Ok(Edit {
            name,
            description,
            archived: p.flag("archived")?,
        })
    }
}

fn stamp(user: &str, now: jiff::Timestamp) -> Stamp {
    Stamp {
        created_by: user.to_string(),
        created_at: now,
        updated_at: now,
    }
}

pub fn find_project<'a>(state: &'a State, code: &str) -> Result<&'a Project, ApiError> {
    state
        .project(code)
        .ok_or_else(|| ApiError::not_found("Node"))
}

// ---------------------------------------------------------------------------------------------
// Projects

pub async fn list_projects(Ext(sb): Ext<Sb>, RawQuery(q): RawQuery) -> ApiResult {
    let items = sb.read(|s| s.projects.iter().map(|p| render::project(s, p)).collect());
    Ok(list_document(
        items,
        q.as_deref(),
        json!({ "authorisations": { "update": true } }),
    ))
}

pub async fn create_project(Ext(sb): Ext<Sb>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let p = Payload::required(&body, &["code", "name", "description", "project_type"])?;
    let code = p.text("code")?;
    let name = p.text("name")?;
    let description = p.text("description")?;
    let project_type = p.text("project_type")?;
    let now = sb.now();
    sb.write(|s| {
        let mut failures = code_errors(
            code.as_deref(),
            s.projects.iter().any(|x| Some(&x.code) == code.as_ref()),
        );
        failures.extend(name_errors(
            name.as_deref(),
            s.projects.iter().any(|x| Some(&x.name) == name.as_ref()),
        ));
        match project_type.as_deref() {
            None | Some("") => {
                failures.push(Invalid::new("project_type", "Project type can't be blank"))
            }
            Some(t) if s.project_type(t).is_none() => failures.push(Invalid::new(
                "project_type",
                "Project type is not included in the list",
            )),
            Some(_) => {}
        }
        check(failures)?;
        let code = code.unwrap_or_default();
        let user = caller(&headers, s);
        let properties_id = s.new_properties(format!("/api/projects/{code}"), "project", now);
        let project = Project {
            id: new_id(),
            code,
            name: name.unwrap_or_default(),
            description,
            project_type: project_type.unwrap_or_default(),
            archived: false,
            properties_id,
            stamp: stamp(&user, now),
        };
        let doc = render::project(s, &project);
        s.projects.push(project);
        Ok(jsonapi::document(
            StatusCode::CREATED,
            json!({ "data": doc }),
        ))
    })
}

pub async fn show_project(Ext(sb): Ext<Sb>, Path(code): Path<String>) -> ApiResult {
    sb.read(|s| {
        let p = find_project(s, &code)?;
        Ok(jsonapi::document(
            StatusCode::OK,
            json!({ "data": render::project(s, p), "included": [] }),
        ))
    })
}

pub async fn update_project(Ext(sb): Ext<Sb>, Path(code): Path<String>, body: Bytes) -> ApiResult {
    let edit = Edit::read(&body, &[])?;
    let now = sb.now();
    sb.write(|s| {
        let id = find_project(s, &code)?.id.clone();
        if let Some(name) = &edit.name
            && s.projects.iter().any(|x| &x.name == name && x.id != id)
        {
            return Err(ApiError::model("name", "Name has already been taken"));
        }
        let p = s
            .projects
            .iter_mut()
            .find(|p| p.id == id)
            .expect("found above");
        apply_edit(
            &edit,
            &mut p.name,
            &mut p.description,
            &mut p.archived,
            &mut p.stamp,
            now,
        );
        let p = s.project(&code).expect("still there");
        Ok(jsonapi::ok(render::project(s, p)))
    })
}

fn apply_edit(
    edit: &Edit,
    name: &mut String,
    description: &mut Option<String>,
    archived: &mut bool,
    stamp: &mut Stamp,
    now: jiff::Timestamp,
) {
    if let Some(n) = &edit.name {
        *name = n.clone();
    }
    if let Some(d) = &edit.description {
        *description = d.clone();
    }
    if let Some(a) = edit.archived {
        *archived = a;
    }
    stamp.updated_at = now;
}

/// Archives the project and everything it owns. OpsChain refuses while one of its activities
/// is still under way; the message is the sandbox's wording of that documented rule.
pub async fn archive_project(Ext(sb): Ext<Sb>, Path(code): Path<String>) -> ApiResult {
    let now = sb.now();
    let step = sb.timing().step;
    sb.write(|s| {
        let id = find_project(s, &code)?.id.clone();
        let views = progress::views(&s.runs, step, now);
        let busy = s
            .runs
            .iter()
            .any(|r| r.project_id == id && !is_final(views[&r.id].status));
        if busy {
            return Err(ApiError::model(
                "base",
                "A project cannot be archived while it has queued, running or waiting activities",
            ));
        }
        for p in s.projects.iter_mut().filter(|p| p.id == id) {
            p.archived = true;
            p.stamp.updated_at = now;
        }
        for e in s.environments.iter_mut().filter(|e| e.project_id == id) {
            e.archived = true;
            e.stamp.updated_at = now;
        }
        for a in s.assets.iter_mut().filter(|a| a.project_id == id) {
            a.archived = true;
            a.stamp.updated_at = now;
        }
        Ok(jsonapi::no_content())
    })
}

// ---------------------------------------------------------------------------------------------
// Environments

fn find_environment<'a>(
    s: &'a State,
    project: &str,
    code: &str,
) -> Result<(&'a Project, &'a Environment), ApiError> {
    let p = find_project(s, project)?;
    let e = s
        .environment(&p.id, code)
        .ok_or_else(|| ApiError::not_found("Node"))?;
    Ok((p, e))
}

pub async fn list_environments(
    Ext(sb): Ext<Sb>,
    Path(project): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let items = sb.read(|s| {
        let p = find_project(s, &project)?;
        Ok::<_, ApiError>(
            s.environments
                .iter()
                .filter(|e| e.project_id == p.id)
                .map(|e| render::environment(s, p, e))
                .collect(),
        )
    })?;
    Ok(list_document(
        items,
        q.as_deref(),
        json!({ "authorisations": { "update": true } }),
    ))
}

pub async fn create_environment(
    Ext(sb): Ext<Sb>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Payload::required(&body, &["code", "name", "description"])?;
    let code = p.text("code")?;
    let name = p.text("name")?;
    let description = p.text("description")?;
    let now = sb.now();
    sb.write(|s| {
        let project = find_project(s, &project)?.clone();
        let siblings: Vec<&Environment> = s
            .environments
            .iter()
            .filter(|e| e.project_id == project.id)
            .collect();
        let mut failures = code_errors(
            code.as_deref(),
            siblings.iter().any(|e| Some(&e.code) == code.as_ref()),
        );
        failures.extend(name_errors(
            name.as_deref(),
            siblings.iter().any(|e| Some(&e.name) == name.as_ref()),
        ));
        check(failures)?;
        let code = code.unwrap_or_default();
        let user = caller(&headers, s);
        let properties_id = s.new_properties(
            format!("/api/projects/{}/environments/{code}", project.code),
            "environment",
            now,
        );
        let env = Environment {
            id: new_id(),
            project_id: project.id.clone(),
            code,
            name: name.unwrap_or_default(),
            description,
            archived: false,
            properties_id,
            stamp: stamp(&user, now),
        };
        let doc = render::environment(s, &project, &env);
        s.environments.push(env);
        Ok(jsonapi::document(
            StatusCode::CREATED,
            json!({ "data": doc }),
        ))
    })
}

pub async fn show_environment(
    Ext(sb): Ext<Sb>,
    Path((project, code)): Path<(String, String)>,
) -> ApiResult {
    sb.read(|s| {
        let (p, e) = find_environment(s, &project, &code)?;
        Ok(jsonapi::document(
            StatusCode::OK,
            json!({ "data": render::environment(s, p, e), "included": [render::project(s, p)] }),
        ))
    })
}

pub async fn update_environment(
    Ext(sb): Ext<Sb>,
    Path((project, code)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let edit = Edit::read(&body, &[])?;
    let now = sb.now();
    sb.write(|s| {
        let (p, e) = find_environment(s, &project, &code)?;
        let (project_id, id) = (p.id.clone(), e.id.clone());
        if let Some(name) = &edit.name
            && s.environments
                .iter()
                .any(|x| x.project_id == project_id && &x.name == name && x.id != id)
        {
            return Err(ApiError::model("name", "Name has already been taken"));
        }
        let e = s
            .environments
            .iter_mut()
            .find(|e| e.id == id)
            .expect("found above");
        apply_edit(
            &edit,
            &mut e.name,
            &mut e.description,
            &mut e.archived,
            &mut e.stamp,
            now,
        );
        let (p, e) = find_environment(s, &project, &code)?;
        Ok(jsonapi::ok(render::environment(s, p, e)))
    })
}

pub async fn archive_environment(
    Ext(sb): Ext<Sb>,
    Path((project, code)): Path<(String, String)>,
) -> ApiResult {
    let now = sb.now();
    sb.write(|s| {
        let id = find_environment(s, &project, &code)?.1.id.clone();
        for e in s.environments.iter_mut().filter(|e| e.id == id) {
            e.archived = true;
            e.stamp.updated_at = now;
        }
        for a in s
            .assets
            .iter_mut()
            .filter(|a| a.environment_id.as_deref() == Some(&id))
        {
            a.archived = true;
            a.stamp.updated_at = now;
        }
        Ok(jsonapi::no_content())
    })
}

// ---------------------------------------------------------------------------------------------
// Assets, owned by a project or an environment

/// Where an asset lives: the project, and the environment when it is an environment's asset.
struct Owner {
    project: Project,
    environment: Option<Environment>,
}

impl Owner {
    fn find(s: &State, project: &str, environment: Option<&str>) -> Result<Owner, ApiError> {
        let p = find_project(s, project)?;
        let kind = s.project_type(&p.project_type);
        if !kind.is_some_and(|k| k.assets) {
            return Err(ApiError::unsupported_project_type(format!(
                "\"{}\" projects do not support assets",
                p.project_type
            )));
        }
        let environment = match environment {
            Some(code) => Some(
                s.environment(&p.id, code)
                    .ok_or_else(|| ApiError::not_found("Node"))?
                    .clone(),
            ),
            None => None,
        };
        Ok(Owner {
            project: p.clone(),
            environment,
        })
    }

    fn environment_id(&self) -> Option<&str> {
        self.environment.as_ref().map(|e| e.id.as_str())
    }

    fn render(&self, a: &Asset) -> Value {
        render::asset(&self.project, self.environment.as_ref(), a)
    }

    fn asset<'a>(&self, s: &'a State, code: &str) -> Result<&'a Asset, ApiError> {
        s.asset(&self.project.id, self.environment_id(), code)
            .ok_or_else(|| ApiError::not_found("Node"))
    }
}

async fn list_assets(sb: Sb, project: String, env: Option<String>, q: Option<String>) -> ApiResult {
    let items = sb.read(|s| {
        let owner = Owner::find(s, &project, env.as_deref())?;
        Ok::<_, ApiError>(
            s.assets
                .iter()
                .filter(|a| {
                    a.project_id == owner.project.id
                        && a.environment_id.as_deref() == owner.environment_id()
                })
                .map(|a| owner.render(a))
                .collect(),
        )
    })?;
    Ok(list_document(
        items,
        q.as_deref(),
        json!({ "authorisations": { "update": true } }),
    ))
}

async fn create_asset(
    sb: Sb,
    project: String,
    env: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Payload::required(
        &body,
        &[
            "code",
            "name",
            "description",
            "template_name",
            "template_version",
        ],
    )?;
    let code = p.text("code")?;
    let name = p.text("name")?;
    let description = p.text("description")?;
    let template_name = p.text("template_name")?;
    let template_version = p.text("template_version")?;
    let now = sb.now();
    sb.write(|s| {
        let owner = Owner::find(s, &project, env.as_deref())?;
        let taken = code.as_deref().is_some_and(|c| owner.asset(s, c).is_ok());
        let mut failures = code_errors(code.as_deref(), taken);
        failures.extend(name_errors(name.as_deref(), false));
        for (attribute, value) in [
            ("template_name", &template_name),
            ("template_version", &template_version),
        ] {
            if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                failures.push(Invalid::new(
                    attribute,
                    format!("{} can't be blank", jsonapi::humanize(attribute)),
                ));
            }
        }
        check(failures)?;
        let code = code.unwrap_or_default();
        let path = format!(
            "{}/assets/{code}",
            match &owner.environment {
                Some(e) => render::environment_path(&owner.project, e),
                None => render::project_path(&owner.project),
            }
        );
        let user = caller(&headers, s);
        let properties_id = s.new_properties(path, "asset", now);
        let asset = Asset {
            id: new_id(),
            project_id: owner.project.id.clone(),
            environment_id: owner.environment_id().map(String::from),
            code,
            name: name.unwrap_or_default(),
            description,
            template_name: template_name.unwrap_or_default(),
            template_version: template_version.unwrap_or_default(),
            archived: false,
            properties_id,
            stamp: stamp(&user, now),
        };
        let doc = owner.render(&asset);
        s.assets.push(asset);
        Ok(jsonapi::document(
            StatusCode::CREATED,
            json!({ "data": doc }),
        ))
    })
}

async fn show_asset(sb: Sb, project: String, env: Option<String>, code: String) -> ApiResult {
    sb.read(|s| {
        let owner = Owner::find(s, &project, env.as_deref())?;
        let a = owner.asset(s, &code)?;
        let mut included = vec![render::project(s, &owner.project)];
        included.extend(
            owner
                .environment
                .as_ref()
                .map(|e| render::environment(s, &owner.project, e)),
        );
        Ok(jsonapi::document(
            StatusCode::OK,
            json!({ "data": owner.render(a), "included": included }),
        ))
    })
}

async fn update_asset(
    sb: Sb,
    project: String,
    env: Option<String>,
    code: String,
    body: Bytes,
) -> ApiResult {
    let edit = Edit::read(&body, &["regenerate_actions"])?;
    let now = sb.now();
    sb.write(|s| {
        let owner = Owner::find(s, &project, env.as_deref())?;
        let id = owner.asset(s, &code)?.id.clone();
        let a = s
            .assets
            .iter_mut()
            .find(|a| a.id == id)
            .expect("found above");
        apply_edit(
            &edit,
            &mut a.name,
            &mut a.description,
            &mut a.archived,
            &mut a.stamp,
            now,
        );
        Ok(jsonapi::ok(owner.render(owner.asset(s, &code)?)))
    })
}

async fn archive_asset(sb: Sb, project: String, env: Option<String>, code: String) -> ApiResult {
    let now = sb.now();
    sb.write(|s| {
        let owner = Owner::find(s, &project, env.as_deref())?;
        let id = owner.asset(s, &code)?.id.clone();
        for a in s.assets.iter_mut().filter(|a| a.id == id) {
            a.archived = true;
            a.stamp.updated_at = now;
        }
        Ok(jsonapi::no_content())
    })
}

pub async fn list_project_assets(
    Ext(sb): Ext<Sb>,
    Path(project): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    list_assets(sb, project, None, q).await
}

pub async fn create_project_asset(
    Ext(sb): Ext<Sb>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    create_asset(sb, project, None, headers, body).await
}

pub async fn show_project_asset(
    Ext(sb): Ext<Sb>,
    Path((project, code)): Path<(String, String)>,
) -> ApiResult {
    show_asset(sb, project, None, code).await
}

pub async fn update_project_asset(
    Ext(sb): Ext<Sb>,
    Path((project, code)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    update_asset(sb, project, None, code, body).await
}

pub async fn archive_project_asset(
    Ext(sb): Ext<Sb>,
    Path((project, code)): Path<(String, String)>,
) -> ApiResult {
    archive_asset(sb, project, None, code).await
}

pub async fn list_environment_assets(
    Ext(sb): Ext<Sb>,
    Path((project, env)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    list_assets(sb, project, Some(env), q).await
}

pub async fn create_environment_asset(
    Ext(sb): Ext<Sb>,
    Path((project, env)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    create_asset(sb, project, Some(env), headers, body).await
}

pub async fn show_environment_asset(
    Ext(sb): Ext<Sb>,
    Path((project, env, code)): Path<(String, String, String)>,
) -> ApiResult {
    show_asset(sb, project, Some(env), code).await
}

pub async fn update_environment_asset(
    Ext(sb): Ext<Sb>,
    Path((project, env, code)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    update_asset(sb, project, Some(env), code, body).await
}

pub async fn archive_environment_asset(
    Ext(sb): Ext<Sb>,
    Path((project, env, code)): Path<(String, String, String)>,
) -> ApiResult {
    archive_asset(sb, project, Some(env), code).await
}

// ---------------------------------------------------------------------------------------------
// Properties

pub async fn show_properties(Ext(sb): Ext<Sb>, Path(id): Path<String>) -> ApiResult {
    sb.read(|s| {
        let p = s
            .properties
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| ApiError::not_found("Properties"))?;
        Ok(jsonapi::ok(render::properties(p)))
    })
}

/// With `version`: applied only if it is the current version (else 422, the spec's message).
/// Without: the "unsafe" update, always applied. Either way a new version is recorded.
pub async fn update_properties(Ext(sb): Ext<Sb>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let payload = Payload::required(&body, &["data", "version"])?;
    let data = match payload.attributes.get("data") {
        None => return Err(ApiError::missing_param("data")),
        Some(Value::Object(d)) => d.clone(),
        Some(_) => return Err(ApiError::model("data", "Data must be a JSON object")),
    };
    let expected = match payload.attributes.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| ApiError::model("version", "Version is not a number"))?,
        ),
    };
    let now = sb.now();
    sb.write(|s| {
        let p = s
            .properties
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| ApiError::not_found("Properties"))?;
        let current = p
            .versions
            .last()
            .expect("properties have a version")
            .version;
        if let Some(expected) = expected
            && expected != current
        {
            return Err(ApiError::model(
                "version",
                format!(
                    "Version mismatch, the properties are now at version {current} whilst these \
                     modifications were made to version {expected}. Please fetch the latest \
                     version of the properties and reapply the edits."
                ),
            ));
        }
        p.versions.push(super::model::PropertiesVersion {
            id: new_id(),
            version: current + 1,
            data,
            created_at: now,
        });
        Ok(jsonapi::ok(render::properties(p)))
    })
}

pub async fn list_properties_versions(
    Ext(sb): Ext<Sb>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let items = sb.read(|s| {
        let p = s
            .properties
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(ApiError::record_not_found)?;
        Ok::<_, ApiError>(
            p.versions
                .iter()
                .rev()
                .map(|v| render::properties_version(p, v))
                .collect(),
        )
    })?;
    Ok(list_document(items, q.as_deref(), Value::Null))
}

pub async fn show_properties_version(
    Ext(sb): Ext<Sb>,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult {
    sb.read(|s| {
        let p = s
            .properties
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(ApiError::record_not_found)?;
        let v = version
            .parse::<u64>()
            .ok()
            .and_then(|n| p.versions.iter().find(|v| v.version == n))
            .ok_or_else(ApiError::record_not_found)?;
        Ok(jsonapi::ok(render::properties_version(p, v)))
    })
}

/// A node's bookmarks: always none, as the sandbox does not create bookmarks. Served so the
/// `bookmarks` link every node carries answers.
pub async fn bookmarks(Ext(sb): Ext<Sb>, uri: Uri, RawQuery(q): RawQuery) -> ApiResult {
    let node = uri
        .path()
        .strip_prefix("/api")
        .and_then(|p| p.strip_suffix("/bookmarks"))
        .unwrap_or_default();
    sb.read(|s| s.node_at(node).ok_or_else(|| ApiError::not_found("Node")))?;
    Ok(list_document(
        vec![],
        q.as_deref(),
        json!({ "authorisations": { "update": true } }),
    ))
}

// ---------------------------------------------------------------------------------------------
// Info and users

pub async fn info(Ext(sb): Ext<Sb>) -> ApiResult {
    Ok(sb.read(|s| jsonapi::ok(render::info(&s.info))))
}

pub async fn users(Ext(sb): Ext<Sb>, RawQuery(q): RawQuery) -> ApiResult {
    let items = sb.read(|s| s.users.iter().map(render::user).collect());
    Ok(list_document(items, q.as_deref(), Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_documented_rule() {
        assert!(code_errors(Some("web_2"), false).is_empty());
        assert_eq!(code_errors(Some("Web-2"), false).len(), 1);
        assert_eq!(code_errors(Some(""), false).len(), 1);
        assert_eq!(code_errors(Some("web"), true).len(), 1);
    }
}
