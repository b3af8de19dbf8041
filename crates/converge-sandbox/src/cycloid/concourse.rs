//! The Concourse side of Cycloid pipelines: parsing `passed_config` with `yaml_vars`, the build
//! state machine, and the build event stream.
//!
//! Builds move `pending → started → succeeded | failed | errored`, one stage per `Timing`
//! step from the moment they can run (a build of a paused pipeline or job waits, pending, until
//! it is unpaused), or end `aborted` when aborted before finishing. The outcome is fixed when
//! the build is created: `failed` if the pipeline or job name matches a failure marked through
//! `POST /_sandbox/failures`, `errored` if the job's configuration uses a `((var))` that
//! `yaml_vars` does not define (names with a dot are credential references and count as
//! defined), `succeeded` otherwise.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use super::model::{Build, Job, Outcome};
use crate::Timing;

/// A job as the configuration declares it.
pub struct JobSpec {
    pub name: String,
    pub disable_manual_trigger: bool,
    pub config: Value,
}

/// A parsed pipeline configuration.
pub struct Parsed {
    /// The configuration with the variables interpolated.
    pub config: Value,
    pub jobs: Vec<JobSpec>,
}

/// Parses and checks a pipeline configuration as `fly set-pipeline` would: YAML, `jobs` with
/// unique names, plans made of steps, `get`/`put` steps naming declared resources. Errors are
/// worded for the 422 (`passed_config in body: ...`).
pub fn parse(passed_config: &str, yaml_vars: &str) -> Result<Parsed, Vec<String>> {
    let vars = match yaml_vars.trim() {
        "" => Map::new(),
        text => match serde_yaml_ng::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(Value::Null) => Map::new(),
            Ok(_) => return Err(vec!["yaml_vars in body: must be a YAML mapping".into()]),
            Err(e) => return Err(vec![format!("yaml_vars in body: invalid YAML: {e}")]),
        },
    };
    let config = match passed_config.trim() {
        "" => Value::Object(Map::new()),
        text => match serde_yaml_ng::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Value::Object(map),
            Ok(Value::Null) => Value::Object(Map::new()),
            Ok(_) => return Err(vec!["passed_config in body: must be a YAML mapping".into()]),
            Err(e) => return Err(vec![format!("passed_config in body: invalid YAML: {e}")]),
        },
    };
    let config = interpolate(config, &vars);

    let mut errors = Vec::new();
    let resources: Vec<String> = match config.get("resources") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_string))
            .collect(),
        Some(_) => {
            errors.push("passed_config in body: resources must be a list".into());
            Vec::new()
        }
    };
    let mut jobs: Vec<JobSpec> = Vec::new();
    match config.get("jobs") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, job) in items.iter().enumerate() {
                let Some(name) = job
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                else {
                    errors.push(format!("passed_config in body: jobs[{i}] has no name"));
                    continue;
                };
                if jobs.iter().any(|j| j.name == name) {
                    errors.push(format!(
                        "passed_config in body: job '{name}' is defined more than once"
                    ));
                    continue;
                }
                match job.get("plan") {
                    None | Some(Value::Null) => {}
                    Some(Value::Array(plan)) => {
                        check_steps(name, plan, &resources, &mut errors);
                    }
                    Some(_) => errors.push(format!(
                        "passed_config in body: jobs.{name}.plan must be a list of steps"
                    )),
                }
                jobs.push(JobSpec {
                    name: name.to_string(),
                    disable_manual_trigger: job
                        .get("disable_manual_trigger")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    config: job.clone(),
                });
            }
        }
        Some(_) => errors.push("passed_config in body: jobs must be a list".into()),
    }
    if errors.is_empty() {
        Ok(Parsed { config, jobs })
    } else {
        Err(errors)
    }
}

const STEP_KINDS: [&str; 6] = ["get", "put", "task", "set_pipeline", "load_var", "run"];
const CONTAINERS: [&str; 4] = ["do", "in_parallel", "aggregate", "try"];

fn check_steps(job: &str, steps: &[Value], resources: &[String], errors: &mut Vec<String>) {
    for (i, step) in steps.iter().enumerate() {
        let Value::Object(step) = step else {
            errors.push(format!(
                "passed_config in body: jobs.{job}.plan[{i}] must be a step"
            ));
            continue;
        };
        for kind in ["get", "put"] {
            if let Some(name) = step.get(kind).and_then(Value::as_str) {
                let resource = step.get("resource").and_then(Value::as_str).unwrap_or(name);
                if !resources.iter().any(|r| r == resource) {
                    errors.push(format!(
                        "passed_config in body: jobs.{job}.plan[{i}].{kind}({name}): unknown resource '{resource}'"
                    ));
                }
            }
        }
        let known = STEP_KINDS
            .iter()
            .chain(CONTAINERS.iter())
            .any(|k| step.contains_key(*k));
        if !known {
            errors.push(format!(
                "passed_config in body: jobs.{job}.plan[{i}] is not a known step"
            ));
        }
        for container in CONTAINERS {
            match step.get(container) {
                Some(Value::Array(inner)) => check_steps(job, inner, resources, errors),
                Some(Value::Object(inner)) => {
                    if let Some(Value::Array(inner)) = inner.get("steps") {
                        check_steps(job, inner, resources, errors);
                    } else {
                        check_steps(job, &[Value::Object(inner.clone())], resources, errors);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Replaces `((name))` in string values: a value that is only the placeholder takes the
/// variable's value (typed), a placeholder inside a string takes its text.
fn interpolate(value: Value, vars: &Map<String, Value>) -> Value {
    match value {
        Value::String(s) => {
            let trimmed = s.trim();
            if let Some(name) = trimmed
                .strip_prefix("((")
                .and_then(|r| r.strip_suffix("))"))
                .filter(|n| !n.contains("(("))
                && let Some(v) = vars.get(name.trim())
            {
                return v.clone();
            }
            Value::String(replace_placeholders(&s, |name| {
                vars.get(name).map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            }))
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| interpolate(v, vars)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, interpolate(v, vars)))
                .collect(),
        ),
        other => other,
    }
}

fn replace_placeholders(text: &str, mut lookup: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("((") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("))") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match lookup(after[..end].trim()) {
            Some(v) => out.push_str(&v),
            None => {
                out.push_str("((");
                out.push_str(&after[..end]);
                out.push_str("))");
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The `((vars))` a job still uses after interpolation, credential references aside.
pub fn undefined_vars(job_config: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                replace_placeholders(s, |name| {
                    if !name.contains('.') && !out.iter().any(|o| o == name) {
                        out.push(name.to_string());
                    }
                    None
                });
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(map) => map.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(job_config, &mut out);
    out
}

/// The steps of a job's plan, containers flattened: (kind, name).
pub fn steps(job_config: &Value) -> Vec<(String, String)> {
    fn walk(steps: &[Value], out: &mut Vec<(String, String)>) {
        for step in steps {
            let Value::Object(step) = step else { continue };
            for kind in STEP_KINDS {
                if let Some(name) = step.get(kind) {
                    let name = name
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| kind.to_string());
                    out.push((kind.to_string(), name));
                }
            }
            for container in CONTAINERS {
                match step.get(container) {
                    Some(Value::Array(inner)) => walk(inner, out),
                    Some(Value::Object(inner)) => match inner.get("steps") {
                        Some(Value::Array(inner)) => walk(inner, out),
                        _ => walk(&[Value::Object(inner.clone())], out),
                    },
                    _ => {}
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Some(Value::Array(plan)) = job_config.get("plan") {
        walk(plan, &mut out);
    }
    out
}

/// A build's state at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub status: &'static str,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
}

impl View {
    pub fn is_final(&self) -> bool {
        is_final(self.status)
    }
}

/// succeeded, failed, errored and aborted are final.
pub fn is_final(status: &str) -> bool {
    matches!(status, "succeeded" | "failed" | "errored" | "aborted")
}

fn after(t: Timestamp, step: std::time::Duration, n: u32) -> Timestamp {
    let d = SignedDuration::try_from(step * n).unwrap_or(SignedDuration::ZERO);
    t.checked_add(d).unwrap_or(t)
}

/// Where a build is at `now`.
pub fn view(build: &Build, timing: &Timing, now: Timestamp) -> View {
    let Some(scheduled) = build.scheduled_at else {
        return match build.aborted_at {
            Some(at) => View {
                status: "aborted",
                start: None,
                end: Some(at),
            },
            None => View {
                status: "pending",
                start: None,
                end: None,
            },
        };
    };
    let start = after(scheduled, timing.step, 1);
    let end = after(scheduled, timing.step, 2);
    if let Some(at) = build.aborted_at {
        let started = timing.stage(scheduled, at, 3) >= 1;
        return View {
            status: "aborted",
            start: started.then_some(start),
            end: Some(at),
        };
    }
    match timing.stage(scheduled, now, 3) {
        0 => View {
            status: "pending",
            start: None,
            end: None,
        },
        1 => View {
            status: "started",
            start: Some(start),
            end: None,
        },
        _ => View {
            status: match build.outcome {
                Outcome::Succeeded => "succeeded",
                Outcome::Failed => "failed",
                Outcome::Errored => "errored",
            },
            start: Some(start),
            end: Some(end),
        },
    }
}

/// The events of a build's stream as Concourse sends them (`{"event","version","data"}`), as
/// far as the build has got at `view`.
pub fn events(job: &Job, build: &Build, view: &View) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(start) = view.start.map(|t| t.as_second()) else {
        if view.status == "aborted" {
            out.push(status_event(
                "aborted",
                view.end.map_or(0, |t| t.as_second()),
            ));
        }
        return out;
    };
    out.push(status_event("started", start));
    if !view.is_final() {
        return out;
    }
    let end = view.end.map_or(start, |t| t.as_second());
    match view.status {
        "errored" => out.push(json!({
            "event": "error",
            "version": "4.1",
            "data": {
                "origin": { "id": "build" },
                "message": build.error.clone().unwrap_or_else(|| "errored".into()),
                "time": end,
            },
        })),
        "aborted" => out.push(log_event("build", "interrupted\n", end)),
        _ => {
            let steps = steps(&job.config);
            let failed = view.status == "failed";
            for (i, (kind, name)) in steps.iter().enumerate() {
                let origin = format!("step-{}", i + 1);
                let last = i + 1 == steps.len();
                let exit = if failed && last { 1 } else { 0 };
                let suffix = if matches!(kind.as_str(), "get" | "put" | "task") {
                    kind.as_str()
                } else {
                    "task"
                };
                out.push(json!({
                    "event": format!("initialize-{suffix}"),
                    "version": "1.0",
                    "data": { "origin": { "id": origin }, "time": start },
                }));
                out.push(json!({
                    "event": format!("start-{suffix}"),
                    "version": "1.0",
                    "data": { "origin": { "id": origin }, "time": start },
                }));
                let text = if exit == 0 {
                    format!("{kind} {name}: ok\n")
                } else {
                    format!("{kind} {name}: failed (marked to fail in the sandbox)\n")
                };
                out.push(log_event(&origin, &text, end));
                out.push(json!({
                    "event": format!("finish-{suffix}"),
                    "version": "1.0",
                    "data": { "origin": { "id": origin }, "time": end, "exit_status": exit },
                }));
            }
            if failed && steps.is_empty() {
                out.push(log_event(
                    "build",
                    "failed (marked to fail in the sandbox)\n",
                    end,
                ));
            }
        }
    }
    out.push(status_event(view.status, end));
    out
}

fn status_event(status: &str, time: i64) -> Value {
    json!({ "event": "status", "version": "1.0", "data": { "status": status, "time": time } })
}

fn log_event(origin: &str, payload: &str, time: i64) -> Value {
    json!({
        "event": "log",
        "version": "5.1",
        "data": { "origin": { "id": origin, "source": "stdout" }, "payload": payload, "time": time },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jobs_and_interpolates_vars() {
        let parsed = parse(
            "resources:\n- name: repo\n  type: git\njobs:\n- name: deploy\n  plan:\n  - get: repo\n  - task: run\n    params:\n      TAG: ((tag))\n      IMG: app:((tag))\n",
            "tag: \"1.4\"\n",
        )
        .unwrap();
        assert_eq!(parsed.jobs.len(), 1);
        assert_eq!(
            parsed.config["jobs"][0]["plan"][1]["params"]["TAG"],
            json!("1.4")
        );
        assert_eq!(
            parsed.config["jobs"][0]["plan"][1]["params"]["IMG"],
            json!("app:1.4")
        );
        assert_eq!(
            steps(&parsed.jobs[0].config),
            vec![("get".into(), "repo".into()), ("task".into(), "run".into())]
        );
    }

    #[test]
    fn rejects_duplicate_jobs_and_unknown_resources() {
        let errors = parse(
            "jobs:\n- name: a\n  plan:\n  - get: nope\n- name: a\n- plan: []\n",
            "",
        )
        .err()
        .unwrap();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("unknown resource 'nope'"));
        assert!(errors[1].contains("defined more than once"));
        assert!(errors[2].contains("jobs[2] has no name"));
    }

    #[test]
    fn undefined_vars_skip_credentials() {
        let job = json!({"plan": [{"task": "t", "params": {"A": "((x))", "B": "((cred.key))"}}]});
        assert_eq!(undefined_vars(&job), vec!["x".to_string()]);
    }
}
