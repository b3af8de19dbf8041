//! Workflow runs over time, computed lazily from what was stored: when the run was created,
//! the step tree, the decisions people took (approve, reject, continue, cancel) and the
//! sandbox's step delay. Nothing is advanced by a background task, so a snapshot restored
//! after a restart carries on where it was.
//!
//! The lifecycle follows OpsChain's documentation: a run is `pending` for one step delay, then
//! `running`; a change (or child workflow) step is `queued` for one delay, `running` for one,
//! then `success` or `error`; a wait step is `waiting` until it is continued, approved or
//! rejected; stages run their children sequentially or in parallel. When a step fails
//! (`error`, `rejected`), steps still pending in a sequential stage become `aborted` and the
//! run ends in `error`. Cancelling turns every unfinished step `cancelled`. Only one run of a
//! workflow runs at a time: a later run stays `pending` until the earlier one has finished.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;

use super::model::{DecisionKind, Run, RunStep, StepKind};

/// A step as it stands at the time of the view.
#[derive(Clone, Debug)]
pub struct StepView {
    pub status: &'static str,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

/// A run as it stands at the time of the view.
#[derive(Clone, Debug)]
pub struct RunView {
    pub status: &'static str,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    /// Pending because an earlier run of the same workflow has not finished.
    pub blocked_by: Option<String>,
    pub steps: HashMap<String, StepView>,
    /// When the run is over (possibly later than now); `None` while a person must act.
    finish: Option<Timestamp>,
}

impl RunView {
    pub fn step(&self, id: &str) -> &StepView {
        &self.steps[id]
    }
}

/// Statuses in which a step or run can still change.
pub fn is_final(status: &str) -> bool {
    !matches!(status, "pending" | "queued" | "running" | "waiting")
}

/// Views of every run at `now`. Runs of one workflow are chained in creation order.
pub fn views(runs: &[Run], step: Duration, now: Timestamp) -> HashMap<String, RunView> {
    let mut out = HashMap::new();
    let mut previous: HashMap<&str, (String, Option<Timestamp>)> = HashMap::new();
    for run in runs {
        let earliest = after(run.created_at, step);
        let (start, blocked_by) = match previous.get(run.workflow_id.as_str()) {
            None => (Some(earliest), None),
            Some((prev_id, prev_finish)) => {
                let running = prev_finish.is_none_or(|f| f > now);
                (
                    prev_finish.map(|f| earliest.max(f)),
                    running.then(|| prev_id.clone()),
                )
            }
        };
        let view = view(run, start, blocked_by, step, now);
        previous.insert(&run.workflow_id, (run.id.clone(), view.finish));
        out.insert(run.id.clone(), view);
    }
    out
}

/// A run as it is created: it and every step `pending`.
pub fn fresh(run: &Run) -> RunView {
    let pending = |at| StepView {
        status: "pending",
        started_at: None,
        finished_at: None,
        updated_at: at,
    };
    RunView {
        status: "pending",
        started_at: None,
        finished_at: None,
        updated_at: run.created_at,
        blocked_by: None,
        steps: run
            .steps
            .iter()
            .map(|s| (s.id.clone(), pending(s.created_at)))
            .collect(),
        finish: None,
    }
}

/// The timeline of one node, independent of the time of the view.
#[derive(Clone, Copy, Default)]
struct Plan {
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    failed: bool,
    aborted_at: Option<Timestamp>,
}

struct Planner<'a> {
    run: &'a Run,
    index: HashMap<&'a str, &'a RunStep>,
    step: Duration,
    plans: HashMap<String, Plan>,
}

impl<'a> Planner<'a> {
    fn plan(&mut self, id: &str, start: Option<Timestamp>) -> (Option<Timestamp>, bool) {
        let node = self.index[id];
        let Some(start) = start else {
            self.plans.insert(id.to_string(), Plan::default());
            for child in &node.children {
                self.plan(child, None);
            }
            return (None, false);
        };
        let (start, end, failed) = match &node.kind {
            StepKind::Change { .. } | StepKind::Workflow { .. } => {
                let s = node.start_time.map_or(start, |t| t.max(start));
                (s, Some(after(after(s, self.step), self.step)), node.fails)
            }
            StepKind::Wait { .. } => match &node.decision {
                Some(d) if d.kind != DecisionKind::Cancelled => (
                    start,
                    Some(d.at.max(start)),
                    d.kind == DecisionKind::Rejected,
                ),
                _ => (start, None, false),
            },
            StepKind::Stage { parallel: false } => {
                let mut at = Some(start);
                let mut failure: Option<Timestamp> = None;
                for child in &node.children {
                    if let Some(f) = failure {
                        self.abort(child, f);
                        continue;
                    }
                    let (end, failed) = self.plan(child, at);
                    if failed {
                        failure = end;
                    }
                    at = end;
                }
                (start, at, failure.is_some())
            }
            StepKind::Stage { parallel: true } => {
                let mut end = Some(start);
                let mut failed = false;
                for child in &node.children {
                    let (child_end, child_failed) = self.plan(child, Some(start));
                    end = match (end, child_end) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                    failed |= child_failed;
                }
                (start, end, failed)
            }
        };
        self.plans.insert(
            id.to_string(),
            Plan {
                start: Some(start),
                end,
                failed,
                aborted_at: None,
            },
        );
        (end, failed)
    }

    fn abort(&mut self, id: &str, at: Timestamp) {
        self.plans.insert(
            id.to_string(),
            Plan {
                aborted_at: Some(at),
                ..Plan::default()
            },
        );
        let children = self.index[id].children.clone();
        for child in &children {
            self.abort(child, at);
        }
    }

    /// The step's status at `t`, with its start and finish if they happened by then.
    fn status(&self, node: &RunStep, t: Timestamp) -> StepView {
        let plan = self.plans[&node.id];
        let mut events = vec![node.created_at];
        events.extend(node.touched_at);
        let seen = |x: Option<Timestamp>| x.filter(|x| *x <= t);
        let (status, started, finished) = match plan.start.filter(|s| *s <= t) {
            None => match seen(plan.aborted_at) {
                Some(a) => ("aborted", None, Some(a)),
                None => ("pending", None, None),
            },
            Some(s) => {
                let finished = seen(plan.end);
                let status = match (&node.kind, finished) {
                    (StepKind::Change { .. } | StepKind::Workflow { .. }, None) => {
                        if t < after(s, self.step) {
                            "queued"
                        } else {
                            events.push(after(s, self.step));
                            "running"
                        }
                    }
                    (StepKind::Change { .. } | StepKind::Workflow { .. }, Some(_)) => {
                        events.push(after(s, self.step));
                        if plan.failed { "error" } else { "success" }
                    }
                    (StepKind::Wait { .. }, None) => "waiting",
                    (StepKind::Wait { .. }, Some(_)) => {
                        match node.decision.as_ref().map(|d| d.kind) {
                            Some(DecisionKind::Approved) => "approved",
                            Some(DecisionKind::Rejected) => "rejected",
                            _ => "continued",
                        }
                    }
                    (StepKind::Stage { .. }, None) => "running",
                    (StepKind::Stage { .. }, Some(_)) => {
                        if plan.failed {
                            "error"
                        } else {
                            "success"
                        }
                    }
                };
                (status, Some(s), finished)
            }
        };
        events.extend(started);
        events.extend(finished);
        StepView {
            status,
            started_at: started,
            finished_at: finished,
            updated_at: events
                .into_iter()
                .filter(|e| *e <= t)
                .max()
                .unwrap_or(node.created_at),
        }
    }
}

fn view(
    run: &Run,
    start: Option<Timestamp>,
    blocked_by: Option<String>,
    step: Duration,
    now: Timestamp,
) -> RunView {
    let mut planner = Planner {
        run,
        index: run.steps.iter().map(|s| (s.id.as_str(), s)).collect(),
        step,
        plans: HashMap::new(),
    };
    let root_id = planner.run.root().id.clone();
    let (root_end, _) = planner.plan(&root_id, start);
    let cancelled_at = run.cancelled.as_ref().map(|c| c.at);
    // Nothing moves after a cancellation: everything is seen as it stood then.
    let t = cancelled_at.map_or(now, |c| c.min(now));

    let mut steps = HashMap::new();
    let mut waiting = false;
    for node in &run.steps {
        let mut v = planner.status(node, t);
        if let Some(c) = cancelled_at.filter(|_| !is_final(v.status)) {
            v.status = "cancelled";
            v.finished_at = Some(c);
            v.updated_at = v.updated_at.max(c);
        }
        waiting |= v.status == "waiting";
        steps.insert(node.id.clone(), v);
    }
    let root = &steps[&root_id];
    let started = start.filter(|s| *s <= t);
    let status = if is_final(root.status) {
        root.status
    } else if cancelled_at.is_some() {
        "cancelled"
    } else if started.is_none() {
        "pending"
    } else if waiting {
        "waiting"
    } else {
        "running"
    };
    let finished = match status {
        "cancelled" => cancelled_at,
        s if is_final(s) => root.finished_at,
        _ => None,
    };
    let finish = match (cancelled_at, root_end) {
        (Some(c), Some(e)) => Some(c.min(e)),
        (Some(c), None) => Some(c),
        (None, e) => e,
    };
    let updated_at = steps
        .values()
        .map(|s| s.updated_at)
        .chain(started)
        .chain(finished)
        .chain([run.created_at])
        .max()
        .unwrap_or(run.created_at);
    RunView {
        status,
        started_at: started,
        finished_at: finished,
        updated_at,
        blocked_by: blocked_by.filter(|_| status == "pending"),
        steps,
        finish,
    }
}

/// `t + d`, saturating at the end of time.
pub fn after(t: Timestamp, d: Duration) -> Timestamp {
    t.saturating_add(d).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opschain::model::Decision;
    use serde_json::Value;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn node(id: &str, parent: Option<&str>, children: &[&str], kind: StepKind) -> RunStep {
        RunStep {
            id: id.into(),
            parent: parent.map(Into::into),
            children: children.iter().map(|c| c.to_string()).collect(),
            name: id.into(),
            kind,
            start_time: None,
            fails: false,
            skip_on_retry: false,
            lock_version: 0,
            notifications: Value::Null,
            created_at: t(0),
            touched_at: None,
            decision: None,
        }
    }

    fn change() -> StepKind {
        StepKind::Change {
            action: "deploy".into(),
            target: "/projects/p".into(),
            property_overrides: Value::Null,
            change_parent: None,
        }
    }

    fn run(steps: Vec<RunStep>) -> Run {
        Run {
            id: "r".into(),
            project_id: "p".into(),
            workflow_id: "w".into(),
            version_id: "v".into(),
            version: 1,
            created_by: "u".into(),
            created_at: t(0),
            metadata: Default::default(),
            property_overrides: Default::default(),
            cancelled: None,
            steps,
        }
    }

    fn approval_run() -> Run {
        run(vec![
            node(
                "root",
                None,
                &["a", "w", "b"],
                StepKind::Stage { parallel: false },
            ),
            node("a", Some("root"), &[], change()),
            node(
                "w",
                Some("root"),
                &[],
                StepKind::Wait {
                    requires_approval_from: Some("g".into()),
                },
            ),
            node("b", Some("root"), &[], change()),
        ])
    }

    fn at(r: &Run, s: i64) -> RunView {
        views(std::slice::from_ref(r), Duration::from_secs(1), t(s))
            .remove("r")
            .unwrap()
    }

    #[test]
    fn a_run_goes_pending_running_waiting_then_succeeds_after_approval() {
        let mut r = approval_run();
        let v = at(&r, 0);
        assert_eq!((v.status, v.step("a").status), ("pending", "pending"));
        let v = at(&r, 1);
        assert_eq!((v.status, v.step("a").status), ("running", "queued"));
        assert_eq!(at(&r, 2).step("a").status, "running");
        let v = at(&r, 3);
        assert_eq!(
            (v.status, v.step("a").status, v.step("w").status),
            ("waiting", "success", "waiting")
        );
        assert_eq!(at(&r, 100).status, "waiting");
        r.steps[2].decision = Some(Decision {
            kind: DecisionKind::Approved,
            at: t(10),
            username: "u".into(),
            message: None,
        });
        assert_eq!(at(&r, 10).step("b").status, "queued");
        let v = at(&r, 11);
        assert_eq!(
            (v.status, v.step("w").status, v.step("b").status),
            ("running", "approved", "running")
        );
        let v = at(&r, 12);
        assert_eq!((v.status, v.finished_at), ("success", Some(t(12))));
    }

    #[test]
    fn a_rejection_aborts_the_rest_and_the_run_ends_in_error() {
        let mut r = approval_run();
        r.steps[2].decision = Some(Decision {
            kind: DecisionKind::Rejected,
            at: t(5),
            username: "u".into(),
            message: None,
        });
        let v = at(&r, 6);
        assert_eq!(
            (v.status, v.step("w").status, v.step("b").status),
            ("error", "rejected", "aborted")
        );
    }

    #[test]
    fn a_failing_change_step_ends_the_run_in_error_and_aborts_what_follows() {
        let mut r = approval_run();
        r.steps[1].fails = true;
        let v = at(&r, 3);
        assert_eq!(
            (
                v.status,
                v.step("a").status,
                v.step("w").status,
                v.step("b").status
            ),
            ("error", "error", "aborted", "aborted")
        );
    }

    #[test]
    fn parallel_children_start_together_and_the_stage_waits_for_all() {
        let r = run(vec![
            node("root", None, &["s"], StepKind::Stage { parallel: false }),
            node(
                "s",
                Some("root"),
                &["a", "b"],
                StepKind::Stage { parallel: true },
            ),
            node("a", Some("s"), &[], change()),
            node("b", Some("s"), &[], change()),
        ]);
        let v = at(&r, 2);
        assert_eq!(
            (v.step("a").status, v.step("b").status, v.step("s").status),
            ("running", "running", "running")
        );
        assert_eq!(at(&r, 3).status, "success");
    }

    #[test]
    fn cancelling_turns_unfinished_steps_cancelled_and_freezes_the_run() {
        let mut r = approval_run();
        r.cancelled = Some(Decision {
            kind: DecisionKind::Cancelled,
            at: t(4),
            username: "u".into(),
            message: None,
        });
        let v = at(&r, 50);
        assert_eq!(
            (
                v.status,
                v.step("a").status,
                v.step("w").status,
                v.step("b").status
            ),
            ("cancelled", "success", "cancelled", "cancelled")
        );
        assert_eq!(v.finished_at, Some(t(4)));
    }

    #[test]
    fn a_second_run_of_the_same_workflow_waits_for_the_first() {
        let first = approval_run();
        let mut second = approval_run();
        second.id = "r2".into();
        second.created_at = t(1);
        let all = [first, second];
        let v = views(&all, Duration::from_secs(1), t(30));
        assert_eq!(v["r2"].status, "pending");
        assert_eq!(v["r2"].blocked_by.as_deref(), Some("r"));
    }

    #[test]
    fn instant_timing_reaches_the_first_wait_on_first_read() {
        let r = approval_run();
        let v = views(std::slice::from_ref(&r), Duration::ZERO, t(0))
            .remove("r")
            .unwrap();
        assert_eq!((v.status, v.step("a").status), ("waiting", "success"));
    }
}
