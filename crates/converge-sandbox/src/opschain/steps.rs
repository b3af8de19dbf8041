//! Workflow step definitions: validating them against the documented step shapes (change with
//! `target` or `targets`, wait with optional `requires_approval_from`, workflow, stage with
//! nested `children`), and turning a published version's steps into a run's step tree.
//!
//! Validation messages follow the JSON-schema validator wording OpsChain reports
//! (`object at `/steps/0` is missing required properties: action`); the exact text is the
//! sandbox's choice, the docs give none.

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::model::{RunStep, State, StepKind, new_id};

const STEP_TYPES: &str = r#"["change", "wait", "workflow", "stage"]"#;
const RUN_AS: &str = r#"["sequential", "parallel"]"#;

/// Problems with the shape of `steps`, one message each; empty when valid.
pub fn shape_errors(steps: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    match steps {
        Value::Array(items) => {
            for (i, step) in items.iter().enumerate() {
                check_step(step, &format!("/steps/{i}"), &mut errors);
            }
        }
        _ => errors.push("value at `/steps` is not an array".into()),
    }
    errors
}

/// The step's type, explicit or inferred as OpsChain infers it: `children` and `run_as` make a
/// stage, `target`/`targets` and `action` a change. Wait and workflow steps must say so.
fn step_type(step: &Map<String, Value>) -> Option<&str> {
    match step.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(_) => None,
        None if step.contains_key("children") && step.contains_key("run_as") => Some("stage"),
        None if (step.contains_key("target") || step.contains_key("targets"))
            && step.contains_key("action") =>
        {
            Some("change")
        }
        None => None,
    }
}

fn check_step(step: &Value, at: &str, errors: &mut Vec<String>) {
    let Value::Object(step) = step else {
        errors.push(format!("value at `{at}` is not an object"));
        return;
    };
    let Some(kind) = step_type(step) else {
        match step.get("type") {
            None => errors.push(format!(
                "object at `{at}` is missing required properties: type"
            )),
            Some(_) => errors.push(format!("value at `{at}/type` is not a string")),
        }
        return;
    };
    let (required, allowed): (&[&str], &[&str]) = match kind {
        "change" if step.contains_key("targets") => (
            &["targets", "action"],
            &[
                "type",
                "action",
                "targets",
                "template_versions",
                "run_as",
                "name",
                "start_time",
                "property_overrides",
                "notifications",
            ],
        ),
        "change" => (
            &["target", "action"],
            &[
                "type",
                "action",
                "target",
                "template_version",
                "name",
                "start_time",
                "property_overrides",
                "notifications",
            ],
        ),
        "wait" => (
            &[],
            &["type", "name", "requires_approval_from", "notifications"],
        ),
        "workflow" => (
            &["target"],
            &[
                "type",
                "target",
                "version",
                "name",
                "start_time",
                "run_as",
                "property_overrides",
                "notifications",
            ],
        ),
        "stage" => (
            &["run_as", "name", "children"],
            &["type", "run_as", "name", "children", "notifications"],
        ),
        _ => {
            errors.push(format!("value at `{at}/type` is not one of: {STEP_TYPES}"));
            return;
        }
    };
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|r| !step.contains_key(*r))
        .collect();
    if !missing.is_empty() {
        errors.push(format!(
            "object at `{at}` is missing required properties: {}",
            missing.join(", ")
        ));
    }
    for key in step.keys() {
        if !allowed.contains(&key.as_str()) {
            errors.push(format!(
                "object property at `{at}/{key}` is a disallowed additional property"
            ));
        }
    }
    for (key, value) in step {
        let here = format!("{at}/{key}");
        if key == "children" {
            match value {
                Value::Array(items) if !items.is_empty() => {
                    for (i, child) in items.iter().enumerate() {
                        check_step(child, &format!("{here}/{i}"), errors);
                    }
                }
                Value::Array(_) => errors.push(format!("array at `{here}` has fewer than 1 items")),
                _ => errors.push(format!("value at `{here}` is not an array")),
            }
        } else if let Some(problem) = value_problem(kind, key, value) {
            errors.push(format!("value at `{here}` {problem}"));
        }
    }
    let overrides_list = step.get("property_overrides").is_some_and(Value::is_array);
    if kind == "workflow" && step.contains_key("run_as") && !overrides_list {
        errors.push(format!(
            "object property at `{at}/run_as` is a disallowed additional property"
        ));
    }
}

/// What is wrong with the value of a step property, if anything.
fn value_problem(kind: &str, key: &str, value: &Value) -> Option<String> {
    let strings = |allow_null: bool| match value {
        Value::String(_) => true,
        Value::Array(items) => items
            .iter()
            .all(|i| i.is_string() || (allow_null && i.is_null())),
        _ => false,
    };
    let problem = match key {
        "name" | "action" | "target" | "requires_approval_from" if !value.is_string() => {
            "is not a string"
        }
        "template_version" if !(value.is_string() || value.is_null()) => "is not a string or null",
        "start_time" => match value {
            Value::Null => return None,
            Value::String(s) if s.parse::<Timestamp>().is_ok() => return None,
            Value::String(_) => "is not an ISO 8601 date-time",
            _ => "is not a string or null",
        },
        "run_as" if !matches!(value.as_str(), Some("sequential" | "parallel")) => {
            return Some(format!("is not one of: {RUN_AS}"));
        }
        "targets" if !strings(false) => "is not a string or an array of strings",
        "template_versions" if !strings(true) => "is not a string or an array of strings",
        "version" if !(value.is_u64() || value.is_null()) => "is not an integer or null",
        "property_overrides" => match (kind, value) {
            (_, Value::Object(_)) | ("change", Value::Null) => return None,
            ("workflow", Value::Array(items)) if items.iter().all(Value::is_object) => return None,
            _ => "is not an object",
        },
        "notifications" if !(value.is_object() || value.is_null()) => "is not an object",
        _ => return None,
    };
    Some(problem.to_string())
}

/// What the steps of a well-shaped definition refer to that does not exist: change targets
/// (projects, environments, assets) and child workflows with a published version. Messages
/// echo the spec's `The following asset(s) do not exist: ...`.
pub fn reference_errors(steps: &Value, state: &State) -> Vec<String> {
    let mut missing_nodes = Vec::new();
    let mut missing_workflows = Vec::new();
    let mut unpublished = Vec::new();
    walk(steps, &mut |step| match step_type(step) {
        Some("change") => {
            for target in targets(step) {
                if state.node_at(&target).is_none() {
                    missing_nodes.push(target);
                }
            }
        }
        Some("workflow") => {
            let target = step["target"].as_str().unwrap_or_default();
            match state.workflow_at(target) {
                None => missing_workflows.push(target.to_string()),
                Some(w) => {
                    let runnable = match step.get("version").and_then(Value::as_u64) {
                        Some(n) => w.version(n).is_some_and(|v| !v.draft && !v.archived),
                        None => w.latest_published().is_some(),
                    };
                    if !runnable {
                        unpublished.push(target.to_string());
                    }
                }
            }
        }
        _ => {}
    });
    let mut errors = Vec::new();
    if !missing_nodes.is_empty() {
        errors.push(format!(
            "The following node(s) do not exist: {}",
            missing_nodes.join(", ")
        ));
    }
    if !missing_workflows.is_empty() {
        errors.push(format!(
            "The following workflow(s) do not exist: {}",
            missing_workflows.join(", ")
        ));
    }
    if !unpublished.is_empty() {
        errors.push(format!(
            "The following workflow(s) have no published version to run: {}",
            unpublished.join(", ")
        ));
    }
    errors
}

fn walk(steps: &Value, f: &mut dyn FnMut(&Map<String, Value>)) {
    for step in steps.as_array().into_iter().flatten() {
        if let Value::Object(step) = step {
            f(step);
            if let Some(children) = step.get("children") {
                walk(children, f);
            }
        }
    }
}

fn targets(step: &Map<String, Value>) -> Vec<String> {
    match (step.get("target"), step.get("targets")) {
        (Some(Value::String(t)), _) => vec![t.clone()],
        (_, Some(Value::String(t))) => vec![t.clone()],
        (_, Some(Value::Array(ts))) => ts
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        _ => vec![],
    }
}

/// Builds a run's step tree from published steps; the root is a sequential stage named after
/// the workflow. `fails` says whether a step was marked to fail (`/_sandbox/failures`).
pub struct TreeBuilder<'a> {
    pub state: &'a State,
    pub now: Timestamp,
    pub fails: &'a dyn Fn(&[&str]) -> bool,
    pub steps: Vec<RunStep>,
}

impl TreeBuilder<'_> {
    pub fn build(mut self, workflow_name: &str, steps: &Value) -> Vec<RunStep> {
        let root = self.push(
            None,
            workflow_name.to_string(),
            StepKind::Stage { parallel: false },
            None,
        );
        for step in steps.as_array().into_iter().flatten() {
            if let Value::Object(step) = step {
                self.add(&root, step);
            }
        }
        self.steps
    }

    fn push(
        &mut self,
        parent: Option<&str>,
        name: String,
        kind: StepKind,
        step: Option<&Map<String, Value>>,
    ) -> String {
        let id = new_id();
        let fails = match &kind {
            StepKind::Change { action, target, .. } => (self.fails)(&[&name, action, target]),
            StepKind::Workflow { target, .. } => (self.fails)(&[&name, target]),
            _ => false,
        };
        let field = |key: &str| step.and_then(|s| s.get(key));
        self.steps.push(RunStep {
            id: id.clone(),
            parent: parent.map(String::from),
            children: vec![],
            name,
            kind,
            start_time: field("start_time")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok()),
            fails,
            skip_on_retry: false,
            lock_version: 1,
            notifications: field("notifications")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new())),
            created_at: self.now,
            touched_at: None,
            decision: None,
        });
        if let Some(parent) = parent {
            let parent = self
                .steps
                .iter_mut()
                .find(|s| s.id == parent)
                .expect("parent pushed first");
            parent.children.push(id.clone());
        }
        id
    }

    fn add(&mut self, parent: &str, step: &Map<String, Value>) {
        let text = |key: &str| step.get(key).and_then(Value::as_str).map(String::from);
        let parallel = text("run_as").as_deref() == Some("parallel");
        match step_type(step) {
            Some("change") => {
                let action = text("action").unwrap_or_default();
                let name = text("name").unwrap_or_else(|| action.clone());
                let overrides = step
                    .get("property_overrides")
                    .cloned()
                    .unwrap_or(Value::Null);
                let all = targets(step);
                if step.contains_key("targets") {
                    let stage =
                        self.push(Some(parent), name, StepKind::Stage { parallel }, Some(step));
                    for target in all {
                        let kind = self.change(&action, target, overrides.clone());
                        self.push(Some(&stage), action.clone(), kind, Some(step));
                    }
                } else if let Some(target) = all.into_iter().next() {
                    let kind = self.change(&action, target, overrides);
                    self.push(Some(parent), name, kind, Some(step));
                }
            }
            Some("wait") => {
                let approvers = text("requires_approval_from").filter(|a| !a.trim().is_empty());
                let default = if approvers.is_some() {
                    "Approval"
                } else {
                    "Wait"
                };
                let name = text("name").unwrap_or_else(|| default.into());
                self.push(
                    Some(parent),
                    name,
                    StepKind::Wait {
                        requires_approval_from: approvers,
                    },
                    Some(step),
                );
            }
            Some("workflow") => {
                let target = text("target").unwrap_or_default();
                let code = target.rsplit('/').next().unwrap_or_default().to_string();
                let name = text("name").unwrap_or_else(|| code.clone());
                let child = self.state.workflow_at(&target);
                let child_version_id = child.and_then(|w| {
                    match step.get("version").and_then(Value::as_u64) {
                        Some(n) => w.version(n),
                        None => w.latest_published(),
                    }
                    .map(|v| v.id.clone())
                });
                let kind = |overrides: Value| StepKind::Workflow {
                    target: target.clone(),
                    code: code.clone(),
                    child_version_id: child_version_id.clone(),
                    property_overrides: overrides,
                };
                match step.get("property_overrides") {
                    Some(Value::Array(each)) => {
                        let stage = self.push(
                            Some(parent),
                            name.clone(),
                            StepKind::Stage { parallel },
                            Some(step),
                        );
                        for overrides in each {
                            self.push(
                                Some(&stage),
                                name.clone(),
                                kind(overrides.clone()),
                                Some(step),
                            );
                        }
                    }
                    other => {
                        let overrides = other.cloned().unwrap_or(Value::Null);
                        self.push(Some(parent), name, kind(overrides), Some(step));
                    }
                }
            }
            Some("stage") => {
                let name = text("name").unwrap_or_default();
                let stage = self.push(Some(parent), name, StepKind::Stage { parallel }, Some(step));
                for child in step
                    .get("children")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Value::Object(child) = child {
                        self.add(&stage, child);
                    }
                }
            }
            _ => {}
        }
    }

    fn change(&self, action: &str, target: String, overrides: Value) -> StepKind {
        StepKind::Change {
            action: action.to_string(),
            change_parent: self.state.node_at(&target),
            target,
            property_overrides: overrides,
        }
    }
}

/// The YAML OpsChain shows as `source_yaml` when none was given: the steps under `steps:`.
pub fn source_yaml(steps: &Value) -> String {
    let mut doc = Map::new();
    doc.insert("steps".into(), steps.clone());
    let yaml = serde_yaml_ng::to_string(&Value::Object(doc)).unwrap_or_default();
    format!("---\n{yaml}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_documented_step_shapes_are_valid() {
        let steps = json!([
            {"type": "change", "name": "deploy", "target": "/projects/web/environments/dev", "action": "deploy"},
            {"type": "change", "targets": ["/projects/a", "/projects/b"], "action": "x", "run_as": "parallel"},
            {"type": "wait", "name": "approval", "requires_approval_from": "release-managers"},
            {"type": "wait"},
            {"type": "workflow", "target": "/projects/web/workflows/child", "version": 1},
            {"run_as": "parallel", "name": "stage", "children": [{"type": "wait"}, {"target": "/projects/a", "action": "y"}]}
        ]);
        assert_eq!(shape_errors(&steps), Vec::<String>::new());
    }

    #[test]
    fn each_problem_is_named_with_its_location() {
        let steps = json!([
            {"type": "change", "target": "/projects/web"},
            {"type": "wait", "requires_approval_from": 3, "colour": "red"},
            {"type": "stage", "run_as": "sideways", "name": "s", "children": []},
            {"type": "teleport"},
            "nope"
        ]);
        assert_eq!(
            shape_errors(&steps),
            vec![
                "object at `/steps/0` is missing required properties: action",
                "object property at `/steps/1/colour` is a disallowed additional property",
                "value at `/steps/1/requires_approval_from` is not a string",
                "array at `/steps/2/children` has fewer than 1 items",
                "value at `/steps/2/run_as` is not one of: [\"sequential\", \"parallel\"]",
                "value at `/steps/3/type` is not one of: [\"change\", \"wait\", \"workflow\", \"stage\"]",
                "value at `/steps/4` is not an object",
            ]
        );
        assert_eq!(
            shape_errors(&json!({})),
            vec!["value at `/steps` is not an array"]
        );
    }
}
