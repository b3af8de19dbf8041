//! JSON:API resource objects, shaped like the spec's schemas: attributes, relationships,
//! links and meta for projects, environments, assets, properties, workflows, versions, runs
//! and run steps. Optional relationships and links the sandbox has no resource for (settings,
//! templates, changes, MintModels...) are left out, so every link it renders answers.

use serde_json::{Value, json};

use super::jsonapi::timestamp;
use super::model::{
    Asset, Environment, Info, Project, Properties, PropertiesVersion, Run, RunStep, State,
    StepKind, User, Workflow, WorkflowVersion,
};
use super::progress::RunView;

fn rw() -> Value {
    json!({ "read": true, "update": true })
}

fn properties_relationship(id: &str) -> Value {
    json!({
        "data": { "id": id, "type": "properties" },
        "links": { "related": format!("/api/properties/{id}") },
    })
}

fn reference(id: &str, kind: &str) -> Value {
    json!({ "id": id, "type": kind })
}

pub fn project_path(p: &Project) -> String {
    format!("/api/projects/{}", p.code)
}

pub fn environment_path(p: &Project, e: &Environment) -> String {
    format!("/api/projects/{}/environments/{}", p.code, e.code)
}

pub fn asset_path(p: &Project, e: Option<&Environment>, a: &Asset) -> String {
    match e {
        Some(e) => format!("{}/assets/{}", environment_path(p, e), a.code),
        None => format!("{}/assets/{}", project_path(p), a.code),
    }
}

pub fn project(state: &State, p: &Project) -> Value {
    let kind = state.project_type(&p.project_type);
    let workflows = kind.is_some_and(|k| k.workflows);
    let assets = kind.is_some_and(|k| k.assets);
    let base = project_path(p);
    let mut children: Vec<Value> = state
        .environments
        .iter()
        .filter(|e| e.project_id == p.id)
        .map(|e| reference(&e.id, "environment"))
        .collect();
    children.extend(
        state
            .assets
            .iter()
            .filter(|a| a.project_id == p.id && a.environment_id.is_none())
            .map(|a| reference(&a.id, "asset")),
    );
    let mut links = json!({
        "self": base,
        "bookmarks": format!("{base}/bookmarks"),
        "environments": format!("{base}/environments"),
    });
    let mut authorisations = json!({
        "properties": rw(),
        "changes": { "read": true, "execute": workflows },
        "environments": rw(),
        "secrets": { "settings": false, "properties": false, "mintmodel": false },
        "self": { "update": true },
    });
    if assets {
        links["assets"] = json!(format!("{base}/assets"));
        authorisations["assets"] = rw();
    }
    if workflows {
        links["workflows"] = json!(format!("{base}/workflows"));
        links["workflow_runs"] = json!(format!("{base}/workflow_runs"));
        authorisations["workflows"] = rw();
        authorisations["workflow_runs"] = json!({ "read": true, "execute": true });
    }
    let mut child_node_types = vec!["environment"];
    if assets {
        child_node_types.push("asset");
    }
    json!({
        "id": p.id,
        "type": "project",
        "attributes": {
            "code": p.code,
            "name": p.name,
            "description": p.description,
            "archived": p.archived,
            "created_by": p.stamp.created_by,
            "project_type": p.project_type,
        },
        "relationships": {
            "properties": properties_relationship(&p.properties_id),
            "parents": { "data": [] },
            "children": { "data": children },
            "bookmarks": { "data": [] },
        },
        "links": links,
        "meta": {
            "can_have_changes": workflows,
            "can_have_children": true,
            "can_have_properties": true,
            "can_have_settings": true,
            "can_have_templates": assets,
            "requires_template": false,
            "child_node_types": child_node_types,
            "can_have_workflows": workflows,
            "authorisations": authorisations,
        },
    })
}

pub fn environment(state: &State, p: &Project, e: &Environment) -> Value {
    let base = environment_path(p, e);
    let children: Vec<Value> = state
        .assets
        .iter()
        .filter(|a| a.environment_id.as_deref() == Some(e.id.as_str()))
        .map(|a| reference(&a.id, "asset"))
        .collect();
    json!({
        "id": e.id,
        "type": "environment",
        "attributes": {
            "code": e.code,
            "name": e.name,
            "description": e.description,
            "archived": e.archived,
            "created_by": e.stamp.created_by,
        },
        "relationships": {
            "properties": properties_relationship(&e.properties_id),
            "parents": { "data": [reference(&p.id, "project")] },
            "project": {
                "data": reference(&p.id, "project"),
                "links": { "related": project_path(p) },
            },
            "children": { "data": children },
            "bookmarks": { "data": [] },
        },
        "links": {
            "self": base,
            "bookmarks": format!("{base}/bookmarks"),
            "parent": project_path(p),
            "assets": format!("{base}/assets"),
        },
        "meta": {
            "can_have_changes": true,
            "can_have_children": true,
            "can_have_properties": true,
            "can_have_settings": true,
            "can_have_templates": false,
            "requires_template": false,
            "child_node_types": ["asset"],
            "can_have_workflows": false,
            "authorisations": {
                "properties": rw(),
                "changes": { "read": true, "execute": true },
                "assets": rw(),
                "secrets": { "settings": false, "properties": false, "mintmodel": false },
                "self": { "update": true },
            },
        },
    })
}

pub fn asset(p: &Project, e: Option<&Environment>, a: &Asset) -> Value {
    let mut parents = vec![reference(&p.id, "project")];
    parents.extend(e.map(|e| reference(&e.id, "environment")));
    let parent = match e {
        Some(e) => environment_path(p, e),
        None => project_path(p),
    };
    json!({
        "id": a.id,
        "type": "asset",
        "attributes": {
            "code": a.code,
            "name": a.name,
            "description": a.description,
            "archived": a.archived,
            "created_by": a.stamp.created_by,
            "actions": [],
            "mintmodel_valid": true,
            "erb_file_content": null,
            "generating_actions": false,
        },
        "relationships": {
            "properties": properties_relationship(&a.properties_id),
            "parents": { "data": parents },
            "project": {
                "data": reference(&p.id, "project"),
                "links": { "related": project_path(p) },
            },
            "bookmarks": { "data": [] },
        },
        "links": {
            "self": asset_path(p, e, a),
            "bookmarks": format!("{}/bookmarks", asset_path(p, e, a)),
            "parent": parent,
        },
        "meta": {
            "can_have_changes": true,
            "can_have_children": false,
            "can_have_properties": true,
            "can_have_settings": true,
            "can_have_templates": false,
            "requires_template": true,
            "child_node_types": [],
            "can_have_workflows": false,
            "authorisations": {
                "properties": rw(),
                "changes": { "read": true, "execute": true },
                "secrets": { "settings": false, "properties": false, "mintmodel": false },
                "self": { "update": true },
            },
        },
    })
}

pub fn properties(p: &Properties) -> Value {
    let current = p.versions.last().expect("properties have a version");
    let base = format!("/api/properties/{}", p.id);
    json!({
        "id": p.id,
        "type": "properties",
        "attributes": {
            "data": current.data,
            "version": current.version,
            "created_at": timestamp(current.created_at),
        },
        "relationships": { "owner": { "links": { "owner": p.owner_path } } },
        "links": {
            "self": base,
            "current_version": format!("{base}/versions/{}", current.version),
            "versions": format!("{base}/versions"),
        },
    })
}

pub fn properties_version(p: &Properties, v: &PropertiesVersion) -> Value {
    let base = format!("/api/properties/{}", p.id);
    json!({
        "id": v.id,
        "type": "properties_version",
        "attributes": {
            "data": v.data,
            "version": v.version,
            "created_at": timestamp(v.created_at),
            "owner_type": p.owner_type,
        },
        "relationships": {
            "properties": {
                "data": reference(&p.id, "properties"),
                "links": { "related": base },
            },
        },
        "links": {
            "versions": format!("{base}/versions"),
            "owner": p.owner_path,
            "self": format!("{base}/versions/{}", v.version),
        },
        "meta": {},
    })
}

pub fn workflow_path(p: &Project, w: &Workflow) -> String {
    format!("/api/projects/{}/workflows/{}", p.code, w.code)
}

pub fn workflow(p: &Project, w: &Workflow) -> Value {
    let base = workflow_path(p, w);
    let latest = w.latest();
    let published = w.latest_published();
    let mut links = json!({
        "self": base,
        "runs": format!("{base}/runs"),
        "project": project_path(p),
        "versions": format!("{base}/versions"),
    });
    links["latest_version"] = json!(latest.map(|v| format!("{base}/versions/{}", v.version)));
    links["latest_published_version"] =
        json!(published.map(|v| format!("{base}/versions/{}", v.version)));
    json!({
        "id": w.id,
        "type": "workflow",
        "attributes": {
            "code": w.code,
            "name": w.name,
            "description": w.description,
            "draft": latest.is_none_or(|v| v.draft),
            "archived": w.archived,
            "created_by": w.stamp.created_by,
            "created_at": timestamp(w.stamp.created_at),
            "updated_at": timestamp(w.stamp.updated_at),
            "source_yaml": latest.map(|v| v.source_yaml.as_str()),
            "steps": latest.map_or(json!([]), |v| v.steps.clone()),
            "resolved_steps": [],
            "sample_properties": {},
            "latest_version": latest.map(|v| v.version),
            "notifications": w.notifications,
            "latest_published_version": published.map(|v| v.version),
        },
        "relationships": {
            "parent": {
                "data": reference(&p.id, "project"),
                "links": { "related": project_path(p) },
            },
            "versions": {
                "data": w.versions.iter().map(|v| reference(&v.id, "workflow_version")).collect::<Vec<_>>(),
            },
        },
        "links": links,
    })
}

pub fn workflow_version(p: &Project, w: &Workflow, v: &WorkflowVersion) -> Value {
    let base = workflow_path(p, w);
    json!({
        "id": v.id,
        "type": "workflow_version",
        "attributes": {
            "code": w.code,
            "name": w.name,
            "description": w.description,
            "draft": v.draft,
            "archived": v.archived,
            "created_by": v.stamp.created_by,
            "created_at": timestamp(v.stamp.created_at),
            "updated_at": timestamp(v.stamp.updated_at),
            "source_yaml": v.source_yaml,
            "steps": v.steps,
            "resolved_steps": [],
            "sample_properties": {},
            "version": v.version,
        },
        "relationships": {
            "parent": {
                "data": reference(&p.id, "project"),
                "links": { "related": project_path(p) },
            },
        },
        "links": {
            "self": format!("{base}/versions/{}", v.version),
            "runs": format!("{base}/versions/{}/runs", v.version),
            "project": project_path(p),
            "workflow": base,
        },
    })
}

/// Where a run lives: its project and workflow (both kept even when archived).
pub struct RunContext<'a> {
    pub project: &'a Project,
    pub workflow: &'a Workflow,
    pub run: &'a Run,
    pub view: &'a RunView,
}

impl RunContext<'_> {
    fn path(&self) -> String {
        format!(
            "{}/runs/{}",
            workflow_path(self.project, self.workflow),
            self.run.id
        )
    }

    fn tree(&self, step: &RunStep) -> Value {
        let mut node = json!({ "id": step.id, "name": step.name, "type": step.kind.type_name() });
        match &step.kind {
            StepKind::Stage { parallel } => {
                node["children"] = self
                    .run
                    .steps
                    .iter()
                    .filter(|s| step.children.contains(&s.id))
                    .map(|s| self.tree(s))
                    .collect();
                node["child_execution_strategy"] = json!(strategy(*parallel));
            }
            StepKind::Change { action, target, .. } => {
                node["action"] = json!(action);
                node["target"] = json!(target);
            }
            StepKind::Workflow { target, .. } => node["target"] = json!(target),
            StepKind::Wait { .. } => {}
        }
        node
    }

    pub fn run(&self) -> Value {
        let v = self.view;
        json!({
            "id": self.run.id,
            "type": "workflow_run",
            "attributes": {
                "step_tree": self.tree(self.run.root()),
                "scheduled": false,
                "metadata": self.run.metadata,
                "created_by": self.run.created_by,
                "cancelled_by": self.run.cancelled.as_ref().map(|c| c.username.as_str()),
                "status_code": v.status,
                "created_at": timestamp(self.run.created_at),
                "started_at": v.started_at.map(timestamp),
                "finished_at": v.finished_at.map(timestamp),
                "updated_at": timestamp(v.updated_at),
                "project_name": self.project.name,
            },
            "relationships": {
                "workflow_version": { "data": reference(&self.run.version_id, "workflow_version") },
                "workflow": { "data": reference(&self.workflow.id, "workflow") },
                "parent_workflow_step": { "data": null },
                "root_step": { "data": reference(&self.run.root().id, "workflow_noop_step") },
                "steps": {
                    "data": self.run.steps.iter().map(|s| reference(&s.id, s.kind.type_name())).collect::<Vec<_>>(),
                },
            },
            "links": {
                "parent": project_path(self.project),
                "self": self.path(),
                "log_lines": format!("/api/workflow_runs/{}/log_lines", self.run.id),
            },
            "meta": {
                "parallel_workflows_allowed": false,
                "blocked_by_same_workflow_running": v.blocked_by.is_some(),
                "blocked_by_queue": v.blocked_by.iter().collect::<Vec<_>>(),
            },
        })
    }

    /// The workflow version the run uses, for `included`.
    pub fn version(&self) -> Option<Value> {
        let version = self
            .workflow
            .versions
            .iter()
            .find(|v| v.id == self.run.version_id)?;
        Some(workflow_version(self.project, self.workflow, version))
    }

    pub fn step(&self, step: &RunStep) -> Value {
        let v = self.view.step(&step.id);
        let run_path = self.path();
        let self_path = format!("{run_path}/steps/{}", step.id);
        let parent = match &step.parent {
            Some(parent) => format!("{run_path}/steps/{parent}"),
            None => run_path.clone(),
        };
        let mut attributes = json!({
            "lock_version": step.lock_version,
            "created_by": self.run.created_by,
            "name": step.name,
            "skip_on_retry": step.skip_on_retry,
            "notifications": step.notifications,
            "status_code": v.status,
            "created_at": timestamp(step.created_at),
            "started_at": v.started_at.map(timestamp),
            "finished_at": v.finished_at.map(timestamp),
            "updated_at": timestamp(v.updated_at),
        });
        let mut relationships = json!({
            "workflow_run": { "data": reference(&self.run.id, "workflow_run") },
            "children": {
                "data": self.run.steps.iter()
                    .filter(|s| step.children.contains(&s.id))
                    .map(|s| reference(&s.id, s.kind.type_name()))
                    .collect::<Vec<_>>(),
            },
        });
        let mut links = json!({
            "self": self_path,
            "log_lines": format!("/api/workflow_steps/{}/log_lines", step.id),
            "parent": parent,
            "workflow_run": run_path,
        });
        match &step.kind {
            StepKind::Stage { parallel } => {
                attributes["child_execution_strategy"] = json!(strategy(*parallel));
            }
            StepKind::Change {
                action,
                property_overrides,
                change_parent,
                ..
            } => {
                attributes["action"] = json!(action);
                attributes["property_overrides"] = match property_overrides {
                    Value::Null => json!({}),
                    other => other.clone(),
                };
                relationships["change"] = json!({ "data": null });
                if let Some((id, kind)) = change_parent {
                    relationships["change_parent"] = json!({ "data": reference(id, kind) });
                }
            }
            StepKind::Wait {
                requires_approval_from,
            } => {
                let by = |kind| {
                    step.decision
                        .iter()
                        .filter(|d| d.kind == kind)
                        .map(|d| json!({ "username": d.username, "message": d.message }))
                        .collect::<Vec<_>>()
                };
                use super::model::DecisionKind::{Approved, Continued, Rejected};
                attributes["approved_by"] = json!(by(Approved));
                attributes["rejected_by"] = json!(by(Rejected));
                attributes["continued_by"] = json!(by(Continued));
                attributes["requires_approval_from"] = json!(requires_approval_from);
                if v.status == "waiting" {
                    let api = format!("/api/workflow_steps/{}", step.id);
                    if requires_approval_from.is_some() {
                        links["approve"] = json!(format!("{api}/approve"));
                        links["reject"] = json!(format!("{api}/reject"));
                    } else {
                        links["continue"] = json!(format!("{api}/continue"));
                    }
                }
            }
            StepKind::Workflow {
                code,
                child_version_id,
                ..
            } => {
                attributes["code"] = json!(code);
                if let Some(id) = child_version_id {
                    relationships["child_workflow_version"] =
                        json!({ "data": reference(id, "workflow_version") });
                }
                relationships["child_workflow_run"] = json!({ "data": null });
            }
        }
        json!({
            "id": step.id,
            "type": step.kind.type_name(),
            "attributes": attributes,
            "relationships": relationships,
            "links": links,
        })
    }
}

fn strategy(parallel: bool) -> &'static str {
    if parallel { "parallel" } else { "sequential" }
}

pub fn user(u: &User) -> Value {
    json!({
        "id": u.id,
        "type": "user",
        "attributes": {
            "username": u.username,
            "groupnames": u.groups,
            "auth_provider": "ldap",
            "created_at": timestamp(u.created_at),
            "updated_at": timestamp(u.created_at),
        },
    })
}

pub fn info(i: &Info) -> Value {
    json!({
        "id": "0",
        "type": "info",
        "attributes": {
            "version": i.version,
            "runner_image": i.runner_image,
            "db_version": i.db_version,
            "api_version": i.api_version,
            "ldap_available?": i.ldap_available,
            "banners": [],
            "instance_info": {},
            "licence_info": {
                "licence_issuer": "LimePoint Pty Ltd",
                "licence_issuer_contact": "support@limepoint.com",
                "licence_version": "1",
                "customer_identifier": "Converge sandbox",
                "start_date": null,
                "end_date": null,
            },
        },
        "links": { "self": "/api/info" },
        "meta": { "authorisations": { "secrets": { "global_decrypt": false, "global_encrypt": false } } },
    })
}
