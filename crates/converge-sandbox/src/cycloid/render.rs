//! Entities as the API returns them (the spec's `Project`, `Environment`, `Component`,
//! `Pipeline`, `Job`, `Build`, ... schemas). Times are Unix seconds, except event timestamps
//! (milliseconds).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::concourse;
use super::model::{
    Build, Component, ConfigRepository, Environment, Event, Job, Located, Organization, Pipeline,
    Project, Stack, Team, User,
};
use super::validate::CLOUD_PROVIDERS;
use crate::Timing;

/// Unix seconds.
pub fn secs(t: Timestamp) -> u64 {
    t.as_second().max(0) as u64
}

pub fn organization(o: &Organization) -> Value {
    json!({
        "id": o.id,
        "canonical": o.canonical,
        "name": o.name,
        "created_at": secs(o.created_at),
        "updated_at": secs(o.created_at),
        "admins": o.members.iter().map(|u| admin(o, u)).collect::<Vec<_>>(),
        "blocked": [],
        "can_children_create_appearance": false,
        "can_children_use_dedicated_authentication": false,
        "can_create_appearance": false,
        "can_use_dedicated_authentication": false,
        "ci_port": "443",
        "ci_team_name": o.canonical,
        "ci_url": "https://ci.sandbox.cycloid.invalid",
        "has_children": false,
        "is_root": true,
        "is_using_dedicated_authentication": false,
        "mfa_enabled": false,
        "quotas": false,
    })
}

/// A member as `Organization.admins` lists them (`MemberOrg`): the user and their role. The
/// sandbox's members are all organization admins.
fn admin(o: &Organization, u: &User) -> Value {
    let mut v = user(u);
    v["invitation_state"] = json!("accepted");
    v["role"] = json!({
        "id": 1,
        "canonical": "organization-admin",
        "name": "Organization Admin",
        "description": format!("Can do everything in {}", o.name),
        "default": false,
        "rules": [{ "id": 1, "action": "organization:**", "effect": "allow", "resources": [] }],
        "created_at": secs(o.created_at),
        "updated_at": secs(o.created_at),
    });
    v
}

pub fn user(u: &User) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "email": u.email,
        "given_name": u.given_name,
        "family_name": u.family_name,
        "locale": "en",
        "mfa_enabled": false,
        "created_at": secs(u.created_at),
        "updated_at": secs(u.created_at),
    })
}

pub fn team(t: &Team) -> Value {
    json!({
        "id": t.id,
        "canonical": t.canonical,
        "name": t.name,
        "created_at": secs(t.created_at),
        "updated_at": secs(t.created_at),
    })
}

pub fn config_repository(c: &ConfigRepository) -> Value {
    json!({
        "id": c.id,
        "canonical": c.canonical,
        "name": c.name,
        "url": c.url,
        "branch": c.branch,
        "default": c.default,
        "credential_canonical": c.credential_canonical,
        "created_at": secs(c.created_at),
        "updated_at": secs(c.updated_at),
    })
}

pub fn stack(s: &Stack) -> Value {
    json!({
        "id": s.id,
        "ref": s.reference(),
        "canonical": s.canonical,
        "organization_canonical": s.organization_canonical,
        "name": s.name,
        "author": s.author,
        "description": s.description,
        "keywords": s.keywords,
        "directory": ".",
        "version": "main",
        "visibility": "shared",
        "form_enabled": true,
        "quota_enabled": false,
        "latest": true,
        "trusted": true,
        "blueprint": false,
        "created_at": secs(s.created_at),
        "updated_at": secs(s.created_at),
    })
}

pub fn use_cases(s: &Stack) -> Vec<Value> {
    s.use_cases
        .iter()
        .map(|u| {
            let mut v =
                json!({ "use_case": u.use_case, "name": u.name, "description": u.description });
            if let Some(cp) = &u.cloud_provider {
                v["cloud_provider"] = json!(cp);
            }
            v
        })
        .collect()
}

pub fn cloud_provider(canonical: &str) -> Value {
    let name = CLOUD_PROVIDERS
        .iter()
        .find(|(c, _)| *c == canonical)
        .map_or(canonical, |(_, n)| n);
    json!({ "canonical": canonical, "name": name })
}

pub fn environment(e: &Environment) -> Value {
    json!({
        "id": e.id,
        "canonical": e.canonical,
        "name": e.name,
        "color": e.color,
        "created_at": secs(e.created_at),
        "updated_at": secs(e.updated_at),
    })
}

fn owner(o: &Organization, p: &Project) -> Option<Value> {
    let name = p.owner.as_deref()?;
    o.members.iter().find(|u| u.username == name).map(user)
}

/// The full `Project`, with its environments.
pub fn project(o: &Organization, p: &Project) -> Value {
    let mut v = project_simple(o, p);
    v["environments"] = json!(p.environments.iter().map(environment).collect::<Vec<_>>());
    if let Some(cr) = &p.config_repository_canonical {
        v["config_repository_canonical"] = json!(cr);
    }
    if let Some(t) = p
        .team
        .as_deref()
        .and_then(|t| o.teams.iter().find(|x| x.canonical == t))
    {
        v["team"] = team(t);
    }
    if let Some(cp) = &p.cloud_provider {
        v["cloud_provider"] = cloud_provider(cp);
    }
    v
}

/// `ProjectSimple`, as components embed it.
pub fn project_simple(o: &Organization, p: &Project) -> Value {
    let mut v = json!({
        "id": p.id,
        "canonical": p.canonical,
        "name": p.name,
        "description": p.description,
        "color": p.color,
        "icon": p.icon,
        "favorite": false,
        "created_at": secs(p.created_at),
        "updated_at": secs(p.updated_at),
    });
    if let Some(u) = owner(o, p) {
        v["owner"] = u;
    }
    v
}

pub fn component(
    o: &Organization,
    p: &Project,
    e: &Environment,
    c: &Component,
    stacks: &[Stack],
) -> Value {
    let mut v = json!({
        "id": c.id,
        "canonical": c.canonical,
        "name": c.name,
        "description": c.description,
        "use_case": c.use_case,
        "is_configured": c.vars.is_some(),
        "created_at": secs(c.created_at),
        "updated_at": secs(c.updated_at),
        "environment": environment(e),
        "project": project_simple(o, p),
        "service_catalog": stacks
            .iter()
            .find(|s| s.reference() == c.stack_ref)
            .map_or_else(|| json!({ "ref": c.stack_ref }), stack),
    });
    if let Some(cp) = &c.cloud_provider {
        v["cloud_provider"] = cloud_provider(cp);
    }
    v
}

/// Where a pipeline is and how time goes: what rendering pipelines, jobs and builds needs.
pub struct Ctx<'a> {
    pub org: &'a Organization,
    pub at: Located<'a>,
    pub stacks: &'a [Stack],
    pub timing: &'a Timing,
    pub now: Timestamp,
}

pub fn pipeline(ctx: &Ctx) -> Value {
    let p: &Pipeline = ctx.at.pipeline;
    let groups = p.config.get("groups").cloned().unwrap_or_else(|| json!([]));
    json!({
        "id": p.id,
        "name": p.name,
        "paused": p.paused,
        "public": false,
        "archived": false,
        "team_name": ctx.org.canonical,
        "created_at": secs(p.created_at),
        "updated_at": secs(p.updated_at),
        "groups": groups,
        "jobs": p.jobs.iter().map(|j| job(ctx, j)).collect::<Vec<_>>(),
        "project": project(ctx.org, ctx.at.project),
        "environment": environment(ctx.at.env),
        "component": component(ctx.org, ctx.at.project, ctx.at.env, ctx.at.component, ctx.stacks),
    })
}

pub fn job(ctx: &Ctx, j: &Job) -> Value {
    let p = ctx.at.pipeline;
    let groups: Vec<&str> = match p.config.get("groups") {
        Some(Value::Array(gs)) => gs
            .iter()
            .filter(|g| {
                g.get("jobs")
                    .and_then(Value::as_array)
                    .is_some_and(|js| js.iter().any(|x| x.as_str() == Some(j.name.as_str())))
            })
            .filter_map(|g| g.get("name").and_then(Value::as_str))
            .collect(),
        _ => Vec::new(),
    };
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    collect_io(j.config.get("plan"), &mut inputs, &mut outputs);
    let views: Vec<(&Build, concourse::View)> = j
        .builds
        .iter()
        .map(|b| (b, concourse::view(b, ctx.timing, ctx.now)))
        .collect();
    let mut v = json!({
        "id": j.id,
        "name": j.name,
        "pipeline_id": p.id,
        "pipeline_name": p.name,
        "team_name": ctx.org.canonical,
        "paused": j.paused,
        "disable_manual_trigger": j.disable_manual_trigger,
        "has_new_inputs": false,
        "groups": groups,
        "inputs": inputs,
        "outputs": outputs,
    });
    if let Some(first) = j.builds.first() {
        v["first_logged_build_id"] = json!(first.id);
    }
    if let Some((b, view)) = views.iter().rev().find(|(_, view)| view.is_final()) {
        v["finished_build"] = build_with(ctx, j, b, view);
    }
    if let Some((b, view)) = views.iter().find(|(_, view)| !view.is_final()) {
        v["next_build"] = build_with(ctx, j, b, view);
    }
    v
}

fn collect_io(plan: Option<&Value>, inputs: &mut Vec<Value>, outputs: &mut Vec<Value>) {
    let Some(Value::Array(steps)) = plan else {
        return;
    };
    for step in steps {
        if let Some(name) = step.get("get").and_then(Value::as_str) {
            let mut input = json!({
                "name": name,
                "resource": step.get("resource").and_then(Value::as_str).unwrap_or(name),
                "trigger": step.get("trigger").and_then(Value::as_bool).unwrap_or(false),
            });
            if let Some(passed) = step.get("passed") {
                input["passed"] = passed.clone();
            }
            inputs.push(input);
        }
        if let Some(name) = step.get("put").and_then(Value::as_str) {
            outputs.push(json!({
                "name": name,
                "resource": step.get("resource").and_then(Value::as_str).unwrap_or(name),
            }));
        }
        for container in ["do", "in_parallel", "aggregate"] {
            match step.get(container) {
                Some(inner @ Value::Array(_)) => collect_io(Some(inner), inputs, outputs),
                Some(Value::Object(inner)) => collect_io(inner.get("steps"), inputs, outputs),
                _ => {}
            }
        }
    }
}

pub fn build(ctx: &Ctx, j: &Job, b: &Build) -> Value {
    let view = concourse::view(b, ctx.timing, ctx.now);
    build_with(ctx, j, b, &view)
}

fn build_with(ctx: &Ctx, j: &Job, b: &Build, view: &concourse::View) -> Value {
    let p = ctx.at.pipeline;
    let mut v = json!({
        "id": b.id,
        "name": b.name,
        "status": view.status,
        "job_name": j.name,
        "pipeline_id": p.id,
        "pipeline_name": p.name,
        "team_name": ctx.org.canonical,
        "api_url": format!("/api/v1/builds/{}", b.id),
    });
    if let Some(t) = view.start {
        v["start_time"] = json!(secs(t));
    }
    if let Some(t) = view.end {
        v["end_time"] = json!(secs(t));
    }
    v
}

pub fn event(e: &Event) -> Value {
    let mut v = json!({
        "id": e.id,
        "type": e.kind,
        "title": e.title,
        "message": e.message,
        "severity": e.severity,
        "tags": e.tags.iter().map(|t| json!({ "key": t.key, "value": t.value })).collect::<Vec<_>>(),
        "timestamp": e.timestamp,
    });
    if let Some(icon) = &e.icon {
        v["icon"] = json!(icon);
    }
    if let Some(color) = &e.color {
        v["color"] = json!(color);
    }
    v
}
