//! Components: stack instances in an environment.

use axum::body::Bytes;
use axum::extract::{Path, State as With};
use axum::http::HeaderMap;
use serde_json::{Map, Value};

use super::Sb;
use super::error::{ApiError, ApiResult, data, no_content};
use super::model::{Component, State};
use super::render;
use super::validate::{
    self, CLOUD_PROVIDERS, Fields, PathRule, Pattern, canonical_param, check_path, form_variables,
    org_param,
};

fn env_params<'a>(org: &'a str, p: &'a str, e: &'a str) -> [(&'static str, &'a str, PathRule); 3] {
    [
        org_param(org),
        canonical_param("project_canonical", p),
        canonical_param("environment_canonical", e),
    ]
}

/// The path of a component: organization, project, environment, component.
pub fn component_params<'a>(
    org: &'a str,
    p: &'a str,
    e: &'a str,
    c: &'a str,
) -> [(&'static str, &'a str, PathRule); 4] {
    [
        org_param(org),
        canonical_param("project_canonical", p),
        canonical_param("environment_canonical", e),
        canonical_param("component_canonical", c),
    ]
}

fn render_one(s: &State, org: &str, p: &str, e: &str, c: &str) -> Result<Value, ApiError> {
    let o = s.org(org)?;
    let project = o.project(p)?;
    let env = project.env(e)?;
    Ok(render::component(
        o,
        project,
        env,
        env.component(c)?,
        &s.stacks,
    ))
}

/// `GET .../projects/{p}/environments/{e}/components` (getComponents): `{"data": [...]}`.
pub async fn list_components(
    With(sb): With<Sb>,
    Path((org, p, e)): Path<(String, String, String)>,
) -> ApiResult {
    check_path(&env_params(&org, &p, &e))?;
    sb.read(|s| {
        let o = s.org(&org)?;
        let project = o.project(&p)?;
        let env = project.env(&e)?;
        let items: Vec<Value> = env
            .components
            .iter()
            .map(|c| render::component(o, project, env, c, &s.stacks))
            .collect();
        Ok(data(Value::Array(items)))
    })
}

/// `vars` (FormVariables) and `use_case`, as create and update read them.
fn vars_and_use_case(f: &mut Fields) -> (Option<Map<String, Value>>, Option<String>) {
    let use_case = f.string("use_case", true);
    f.canonical(
        "use_case",
        use_case.as_deref(),
        Pattern::ProjectCanonical,
        1,
        100,
    );
    let vars = f.object("vars", false);
    if let Some(v) = &vars {
        form_variables(f, "vars", v);
    }
    (vars, use_case)
}

/// The stack must exist and offer the use case (422 otherwise).
fn check_stack(s: &State, reference: &str, use_case: &str) -> Result<(), ApiError> {
    let stack = s.stack(reference).ok_or_else(|| {
        ApiError::invalid_one(format!(
            "service_catalog_ref in body: service catalog {reference:?} not found"
        ))
    })?;
    if stack.use_cases.iter().any(|u| u.use_case == use_case) {
        Ok(())
    } else {
        let known: Vec<&str> = stack
            .use_cases
            .iter()
            .map(|u| u.use_case.as_str())
            .collect();
        Err(ApiError::invalid_one(format!(
            "use_case in body should be one of [{}]",
            known.join(" ")
        )))
    }
}

/// `POST .../environments/{e}/components` (createComponent): `name`, `use_case` and
/// `service_catalog_ref` are required; the stack must exist and have the use case; the
/// canonical defaults to the name's slug.
pub async fn create_component(
    With(sb): With<Sb>,
    Path((org, p, e)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_path(&env_params(&org, &p, &e))?;
    let mut f = validate::body(&headers, &body)?;
    let name = f.string("name", true);
    f.length("name", name.as_deref(), 1, 0);
    let canonical = f.string("canonical", false);
    f.canonical(
        "canonical",
        canonical.as_deref(),
        Pattern::EnvCanonical,
        1,
        100,
    );
    let description = f.string("description", false);
    let stack_ref = f.string("service_catalog_ref", true);
    let cloud = f.string("cloud_provider_canonical", false);
    f.canonical(
        "cloud_provider_canonical",
        cloud.as_deref(),
        Pattern::Canonical,
        3,
        100,
    );
    if let Some(c) = &cloud
        && Pattern::Canonical.matches(c)
        && !CLOUD_PROVIDERS.iter().any(|(x, _)| x == c)
    {
        let known: Vec<&str> = CLOUD_PROVIDERS.iter().map(|(c, _)| *c).collect();
        f.violation(format!(
            "cloud_provider_canonical in body should be one of [{}]",
            known.join(" ")
        ));
    }
    let (vars, use_case) = vars_and_use_case(&mut f);
    let canonical = f.canonical_or_slug(canonical, name.as_deref(), Pattern::EnvCanonical, 100);
    f.finish()?;
    let (Some(name), Some(canonical), Some(stack_ref), Some(use_case)) =
        (name, canonical, stack_ref, use_case)
    else {
        return Err(ApiError::invalid_one("body in body is required"));
    };
    let now = sb.now();
    sb.write(|s| {
        s.org(&org)?.project(&p)?.env(&e)?;
        check_stack(s, &stack_ref, &use_case)?;
        let id = s.next_id("component");
        let env = s.org_mut(&org)?.project_mut(&p)?.env_mut(&e)?;
        if env.components.iter().any(|c| c.canonical == canonical) {
            return Err(ApiError::already_exists(format!(
                "component {canonical:?} already exists in environment {e:?}"
            )));
        }
        env.components.push(Component {
            id,
            canonical: canonical.clone(),
            name,
            description: description.unwrap_or_default(),
            use_case,
            stack_ref,
            cloud_provider: cloud,
            vars: vars.map(Value::Object),
            created_at: now,
            updated_at: now,
            pipelines: Vec::new(),
        });
        Ok(data(render_one(s, &org, &p, &e, &canonical)?))
    })
}

/// `GET .../components/{c}` (getComponent).
pub async fn get_component(
    With(sb): With<Sb>,
    Path((org, p, e, c)): Path<(String, String, String, String)>,
) -> ApiResult {
    check_path(&component_params(&org, &p, &e, &c))?;
    sb.read(|s| Ok(data(render_one(s, &org, &p, &e, &c)?)))
}

/// `GET .../components/{c}/config` (getComponentConfig): the form variables, `{}` when the
/// component has none.
pub async fn get_component_config(
    With(sb): With<Sb>,
    Path((org, p, e, c)): Path<(String, String, String, String)>,
) -> ApiResult {
    check_path(&component_params(&org, &p, &e, &c))?;
    sb.read(|s| {
        let component = s.org(&org)?.project(&p)?.env(&e)?.component(&c)?;
        Ok(data(
            component
                .vars
                .clone()
                .unwrap_or_else(|| Value::Object(Map::new())),
        ))
    })
}

/// `PUT .../components/{c}` (updateComponent): `name` and `use_case` are required (the use
/// case must be one of the stack's); a description not sent is cleared; `vars`, when sent,
/// replace the component's variables (left as they are otherwise). The canonical and the stack
/// cannot change (they are not part of the update).
pub async fn update_component(
    With(sb): With<Sb>,
    Path((org, p, e, c)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_path(&component_params(&org, &p, &e, &c))?;
    let mut f = validate::body(&headers, &body)?;
    let name = f.string("name", true);
    f.length("name", name.as_deref(), 1, 0);
    let description = f.string("description", false);
    let (vars, use_case) = vars_and_use_case(&mut f);
    f.finish()?;
    let (Some(name), Some(use_case)) = (name, use_case) else {
        return Err(ApiError::invalid_one("body in body is required"));
    };
    let now = sb.now();
    sb.write(|s| {
        let stack_ref = s
            .org(&org)?
            .project(&p)?
            .env(&e)?
            .component(&c)?
            .stack_ref
            .clone();
        check_stack(s, &stack_ref, &use_case)?;
        let component = s
            .org_mut(&org)?
            .project_mut(&p)?
            .env_mut(&e)?
            .component_mut(&c)?;
        component.name = name;
        component.description = description.unwrap_or_default();
        component.use_case = use_case;
        if let Some(v) = vars {
            component.vars = Some(Value::Object(v));
        }
        component.updated_at = now;
        Ok(data(render_one(s, &org, &p, &e, &c)?))
    })
}

/// `DELETE .../components/{c}` (deleteComponent), with its pipelines.
pub async fn delete_component(
    With(sb): With<Sb>,
    Path((org, p, e, c)): Path<(String, String, String, String)>,
) -> ApiResult {
    check_path(&component_params(&org, &p, &e, &c))?;
    sb.write(|s| {
        let env = s.org_mut(&org)?.project_mut(&p)?.env_mut(&e)?;
        let before = env.components.len();
        env.components.retain(|x| x.canonical != c);
        if env.components.len() == before {
            return Err(ApiError::not_found(format!("component {c:?} not found")));
        }
        Ok(no_content())
    })
}
