//! Log lines of workflow runs and steps. The sandbox runs no actions, so its log is what
//! OpsChain itself reports as a run moves: steps starting, waiting, being decided and
//! finishing, derived from the same view as the statuses (nothing is stored).

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State as Ext};
use serde_json::{Value, json};

use super::jsonapi::{ApiError, ApiResult, timestamp};
use super::model::{DecisionKind, RunStep, StepKind};
use super::progress;
use super::render::RunContext;
use super::{Sb, list_document};

fn line(c: &RunContext, step: &RunStep, n: u8, at: jiff::Timestamp, message: String) -> Value {
    json!({
        "id": stable_id(&step.id, n),
        "type": "log_line",
        "attributes": {
            "message": message,
            "category": "system",
            "logged_at": timestamp(at),
            "workflow_run_id": c.run.id,
            "workflow_step_id": step.id,
        },
    })
}

/// A UUID derived from the step and the event, so a line keeps its id from read to read.
fn stable_id(step: &str, n: u8) -> String {
    let hash = |seed: u64| {
        step.bytes()
            .chain([n])
            .fold(seed, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
    };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hash(0xcbf29ce484222325).to_be_bytes());
    bytes[8..].copy_from_slice(&hash(0x84222325cbf29ce4).to_be_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The lines of `step` and, when `descend`, of its descendants: starts before children,
/// decisions and finishes after them, so lines logged at the same instant read in order.
fn step_lines(c: &RunContext, step: &RunStep, descend: bool, out: &mut Vec<Value>) {
    let v = c.view.step(&step.id);
    if let Some(started) = v.started_at {
        let message = match &step.kind {
            StepKind::Stage { parallel } => format!(
                "Starting \"{}\" ({} children)",
                step.name,
                if *parallel { "parallel" } else { "sequential" }
            ),
            StepKind::Change { action, target, .. } => {
                format!("Running action \"{action}\" on {target}")
            }
            StepKind::Workflow { target, .. } => format!("Running workflow {target}"),
            StepKind::Wait {
                requires_approval_from: Some(approvers),
            } => format!("\"{}\" is waiting for approval from {approvers}", step.name),
            StepKind::Wait { .. } => format!("\"{}\" is waiting to be continued", step.name),
        };
        out.push(line(c, step, 0, started, message));
    }
    if descend {
        for child in c.run.steps.iter().filter(|s| step.children.contains(&s.id)) {
            step_lines(c, child, true, out);
        }
    }
    if let (Some(d), Some(finished)) = (&step.decision, v.finished_at) {
        let verb = match d.kind {
            DecisionKind::Approved => "Approved",
            DecisionKind::Rejected => "Rejected",
            DecisionKind::Continued => "Continued",
            DecisionKind::Cancelled => "Cancelled",
        };
        let note = d
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        out.push(line(
            c,
            step,
            1,
            finished,
            format!("{verb} by {}{note}", d.username),
        ));
    }
    if let Some(finished) = v.finished_at {
        let message = format!("\"{}\" finished: {}", step.name, v.status);
        out.push(line(c, step, 2, finished, message));
    }
}

fn meta() -> Value {
    json!({ "authorisations": { "update": true }, "partial_response": false })
}

/// Every line of the run, oldest first.
pub async fn run_log(Ext(sb): Ext<Sb>, Path(id): Path<String>, RawQuery(q): RawQuery) -> ApiResult {
    let items = sb.read(|s| {
        let run = s
            .runs
            .iter()
            .find(|r| r.id == id)
            .ok_or_else(|| ApiError::not_found("WorkflowRun"))?;
        let views = progress::views(&s.runs, sb.timing().step, sb.now());
        let c = super::runs::context(s, run, &views[&run.id]);
        let mut lines = Vec::new();
        step_lines(&c, run.root(), true, &mut lines);
        // Stable: lines logged at the same instant keep the tree order above.
        lines.sort_by(|a, b| {
            a["attributes"]["logged_at"]
                .as_str()
                .cmp(&b["attributes"]["logged_at"].as_str())
        });
        Ok::<_, ApiError>(lines)
    })?;
    Ok(list_document(items, q.as_deref(), meta()))
}

/// The lines of one step.
pub async fn step_log(
    Ext(sb): Ext<Sb>,
    Path(params): Path<HashMap<String, String>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let id = params.get("step").cloned().unwrap_or_default();
    let items = sb.read(|s| {
        let run = s
            .runs
            .iter()
            .find(|r| r.step(&id).is_some())
            .ok_or_else(|| ApiError::not_found("BaseWorkflowStep"))?;
        let views = progress::views(&s.runs, sb.timing().step, sb.now());
        let c = super::runs::context(s, run, &views[&run.id]);
        let mut lines = Vec::new();
        step_lines(&c, run.step(&id).expect("found above"), false, &mut lines);
        Ok::<_, ApiError>(lines)
    })?;
    Ok(list_document(items, q.as_deref(), meta()))
}
