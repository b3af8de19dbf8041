//! The data a fresh OpsChain sandbox starts with, and seed data added through
//! `POST /_sandbox/seed`.

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::model::{
    Asset, Environment, Info, Project, ProjectType, Stamp, State, User, Workflow, WorkflowVersion,
    new_id, valid_code,
};
use super::steps;

/// Who seeded records were created by: OpsChain's default administrator.
const SEEDER: &str = "opschain";

/// A fresh instance: the Standard and Enterprise project types, the reference's server info,
/// and the user the example credentials log in as (`sandbox-user`, also the user API tokens
/// act as), member of `release-managers` so it may approve the example workflow's approval
/// step. No projects: the examples create theirs.
pub fn defaults(state: &mut State) {
    state.info = Info::default();
    state.project_types = vec![
        ProjectType {
            name: "Standard".into(),
            workflows: false,
            assets: false,
        },
        ProjectType {
            name: "Enterprise".into(),
            workflows: true,
            assets: true,
        },
    ];
    state.bearer_user = "sandbox-user".into();
    state.users = vec![User {
        id: new_id(),
        username: "sandbox-user".into(),
        groups: vec!["release-managers".into()],
        created_at: Timestamp::now(),
    }];
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Seed {
    info: Option<Info>,
    bearer_user: Option<String>,
    #[serde(default)]
    project_types: Vec<SeedProjectType>,
    #[serde(default)]
    users: Vec<SeedUser>,
    #[serde(default)]
    projects: Vec<SeedProject>,
    #[serde(default)]
    workflows: Vec<SeedWorkflow>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SeedProjectType {
    /// A type with everything Enterprise has.
    Name(String),
    Full {
        name: String,
        #[serde(default = "yes")]
        workflows: bool,
        #[serde(default = "yes")]
        assets: bool,
    },
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedUser {
    username: String,
    #[serde(default)]
    groups: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedProject {
    code: String,
    name: String,
    description: Option<String>,
    project_type: String,
    #[serde(default)]
    archived: bool,
    properties: Option<Map<String, Value>>,
    #[serde(default)]
    environments: Vec<SeedEnvironment>,
    #[serde(default)]
    assets: Vec<SeedAsset>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedEnvironment {
    code: String,
    name: String,
    description: Option<String>,
    properties: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedAsset {
    code: String,
    name: String,
    description: Option<String>,
    /// The code of the environment that owns it; the project when absent.
    environment: Option<String>,
    template_name: String,
    template_version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedWorkflow {
    project: String,
    code: String,
    name: String,
    description: Option<String>,
    steps: Value,
    /// Seeded workflows are published unless `draft: true`.
    #[serde(default)]
    draft: bool,
}

/// Adds seed data, all or nothing. The JSON it takes (every key optional):
///
/// ```json
/// {
///   "info": {"version": "2025-04-25", "runner_image": "limepoint/opschain-runner:2025-04-25",
///            "db_version": "17.2", "api_version": "7.1.5.1", "ldap_available?": true},
///   "bearer_user": "sandbox-user",
///   "project_types": ["Custom", {"name": "Lite", "workflows": false, "assets": true}],
///   "users": [{"username": "ana", "groups": ["release-managers"]}],
///   "projects": [{"code": "web", "name": "Web", "description": null, "project_type": "Enterprise",
///                 "archived": false, "properties": {"any": "json"},
///                 "environments": [{"code": "dev", "name": "Development", "properties": {}}],
///                 "assets": [{"code": "site", "name": "Site", "environment": "dev",
///                             "template_name": "Web template", "template_version": "v1"}]}],
///   "workflows": [{"project": "web", "code": "release", "name": "Release",
///                  "steps": [{"type": "wait", "name": "go"}], "draft": false}]
/// }
/// ```
///
/// Info replaces the current info; project types and users are added or replaced by name; a
/// project or workflow whose code is taken is an error. A published (non-draft) workflow's
/// steps are validated as publishing through the API validates them.
pub fn apply(state: &mut State, seed: Value) -> Result<(), String> {
    let seed: Seed = serde_json::from_value(seed).map_err(|e| format!("invalid seed: {e}"))?;
    let mut next = state.clone();
    add(&mut next, seed)?;
    *state = next;
    Ok(())
}

fn add(s: &mut State, seed: Seed) -> Result<(), String> {
    let now = Timestamp::now();
    let stamp = || Stamp {
        created_by: SEEDER.into(),
        created_at: now,
        updated_at: now,
    };
    if let Some(info) = seed.info {
        s.info = info;
    }
    if let Some(user) = seed.bearer_user {
        s.bearer_user = user;
    }
    for t in seed.project_types {
        let t = match t {
            SeedProjectType::Name(name) => ProjectType {
                name,
                workflows: true,
                assets: true,
            },
            SeedProjectType::Full {
                name,
                workflows,
                assets,
            } => ProjectType {
                name,
                workflows,
                assets,
            },
        };
        s.project_types.retain(|x| x.name != t.name);
        s.project_types.push(t);
    }
    for u in seed.users {
        s.users.retain(|x| x.username != u.username);
        s.users.push(User {
            id: new_id(),
            username: u.username,
            groups: u.groups,
            created_at: now,
        });
    }
    for p in seed.projects {
        check_code(&p.code)?;
        if s.project(&p.code).is_some() {
            return Err(format!("project {} already exists", p.code));
        }
        let kind = s.project_type(&p.project_type).cloned().ok_or_else(|| {
            format!(
                "project {}: unknown project type {}",
                p.code, p.project_type
            )
        })?;
        let base = format!("/api/projects/{}", p.code);
        let properties_id = seeded_properties(s, base.clone(), "project", p.properties, now);
        let project = Project {
            id: new_id(),
            code: p.code.clone(),
            name: p.name,
            description: p.description,
            project_type: p.project_type,
            archived: p.archived,
            properties_id,
            stamp: stamp(),
        };
        let project_id = project.id.clone();
        s.projects.push(project);
        for e in p.environments {
            check_code(&e.code)?;
            if s.environment(&project_id, &e.code).is_some() {
                return Err(format!(
                    "environment {} is listed twice in project {}",
                    e.code, p.code
                ));
            }
            let path = format!("{base}/environments/{}", e.code);
            let properties_id = seeded_properties(s, path, "environment", e.properties, now);
            s.environments.push(Environment {
                id: new_id(),
                project_id: project_id.clone(),
                code: e.code,
                name: e.name,
                description: e.description,
                archived: false,
                properties_id,
                stamp: stamp(),
            });
        }
        if !p.assets.is_empty() && !kind.assets {
            return Err(format!(
                "project {}: {} projects have no assets",
                p.code, kind.name
            ));
        }
        for a in p.assets {
            check_code(&a.code)?;
            let environment_id = match &a.environment {
                Some(code) => Some(
                    s.environment(&project_id, code)
                        .ok_or_else(|| format!("asset {}: no environment {code}", a.code))?
                        .id
                        .clone(),
                ),
                None => None,
            };
            if s.asset(&project_id, environment_id.as_deref(), &a.code)
                .is_some()
            {
                return Err(format!(
                    "asset {} is listed twice in project {}",
                    a.code, p.code
                ));
            }
            let path = match &a.environment {
                Some(e) => format!("{base}/environments/{e}/assets/{}", a.code),
                None => format!("{base}/assets/{}", a.code),
            };
            let properties_id = seeded_properties(s, path, "asset", None, now);
            s.assets.push(Asset {
                id: new_id(),
                project_id: project_id.clone(),
                environment_id,
                code: a.code,
                name: a.name,
                description: a.description,
                template_name: a.template_name,
                template_version: a.template_version,
                archived: false,
                properties_id,
                stamp: stamp(),
            });
        }
    }
    for w in seed.workflows {
        check_code(&w.code)?;
        let project = s
            .project(&w.project)
            .ok_or_else(|| format!("workflow {}: no project {}", w.code, w.project))?;
        if !s
            .project_type(&project.project_type)
            .is_some_and(|t| t.workflows)
        {
            return Err(format!(
                "workflow {}: {} projects do not support workflows",
                w.code, project.project_type
            ));
        }
        if s.workflow(&project.id, &w.code).is_some() {
            return Err(format!(
                "workflow {} already exists in project {}",
                w.code, w.project
            ));
        }
        let mut errors = steps::shape_errors(&w.steps);
        if errors.is_empty() && !w.draft {
            errors = steps::reference_errors(&w.steps, s);
        }
        if !errors.is_empty() && (!w.draft || !w.steps.is_array()) {
            return Err(format!("workflow {}: {}", w.code, errors.join("; ")));
        }
        let project_id = project.id.clone();
        s.workflows.push(Workflow {
            id: new_id(),
            project_id,
            code: w.code,
            name: w.name,
            description: w.description,
            archived: false,
            notifications: Value::Object(Map::new()),
            next_version: 2,
            versions: vec![WorkflowVersion {
                id: new_id(),
                version: 1,
                source_yaml: steps::source_yaml(&w.steps),
                steps: w.steps,
                draft: w.draft,
                archived: false,
                stamp: stamp(),
            }],
            stamp: stamp(),
        });
    }
    Ok(())
}

fn check_code(code: &str) -> Result<(), String> {
    if valid_code(code) {
        Ok(())
    } else {
        Err(format!(
            "code {code:?} must only contain lowercase letters, numbers and underscores"
        ))
    }
}

fn seeded_properties(
    s: &mut State,
    owner_path: String,
    owner_type: &str,
    data: Option<Map<String, Value>>,
    now: Timestamp,
) -> String {
    let id = s.new_properties(owner_path, owner_type, now);
    if let Some(data) = data
        && let Some(p) = s.properties.iter_mut().find(|p| p.id == id)
    {
        p.versions[0].data = data;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seeded() -> State {
        let mut s = State::default();
        defaults(&mut s);
        apply(
            &mut s,
            json!({
                "projects": [{"code": "web", "name": "Web", "project_type": "Enterprise",
                              "environments": [{"code": "dev", "name": "Dev"}]}],
                "workflows": [{"project": "web", "code": "go", "name": "Go",
                               "steps": [{"type": "change", "target": "/projects/web/environments/dev", "action": "x"}]}]
            }),
        )
        .unwrap();
        s
    }

    #[test]
    fn a_seeded_state_survives_a_snapshot() {
        let state = serde_json::to_value(seeded()).unwrap();
        let restored: State = serde_json::from_value(state.clone()).unwrap();
        assert_eq!(serde_json::to_value(restored).unwrap(), state);
    }

    #[test]
    fn a_refused_seed_changes_nothing() {
        let mut s = seeded();
        let before = serde_json::to_value(&s).unwrap();
        let refused = apply(
            &mut s,
            json!({"users": [{"username": "ana"}], "workflows": [{"project": "web", "code": "go", "name": "Again", "steps": []}]}),
        );
        assert_eq!(
            refused.unwrap_err(),
            "workflow go already exists in project web"
        );
        assert_eq!(serde_json::to_value(&s).unwrap(), before);
        assert!(
            apply(&mut s, json!({"colour": "red"}))
                .unwrap_err()
                .contains("unknown field")
        );
    }
}
