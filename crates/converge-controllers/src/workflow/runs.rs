//! When a run is due, and what the latest run means for the object (pure; both platforms).
//!
//! A run starts for a run token the object has not run yet, and for the latest cron time
//! passed since the last scheduled run (or since the object was created): however many times
//! were missed while the controller was down, one catch-up run at most. Each run carries a
//! marker (trigger and value) so a controller that crashed after starting it finds it again
//! instead of starting it twice.

use std::time::Duration;

use croner::Cron;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use converge_api::workflow::{RunPolicy, RunStatus, RunsOnDelete, Workflow, WorkflowStatus};
use converge_engine::{Failure, Phase};

/// How many runs status keeps unless run.historyLimit says otherwise.
pub const DEFAULT_HISTORY: usize = 5;
/// How often a run under way is looked at again.
pub const RUN_RECHECK: Duration = Duration::from_secs(3);
/// How often a run waiting for a person is looked at again.
pub const APPROVAL_RECHECK: Duration = Duration::from_secs(20);
/// How long a deletion with run.onDelete: Wait waits for runs unless onDeleteTimeout says.
pub const DEFAULT_ON_DELETE_TIMEOUT: Duration = Duration::from_secs(600);

/// What started a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A run token the object had not run yet.
    Token(String),
    /// A cron time (RFC 3339).
    Schedule(String),
}

impl Trigger {
    /// "token" or "schedule": the `trigger` of the run in status.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Token(_) => "token",
            Trigger::Schedule(_) => "schedule",
        }
    }

    /// Unique for this object: what the run is tagged with and looked up by.
    pub fn marker(&self) -> String {
        match self {
            Trigger::Token(t) | Trigger::Schedule(t) => format!("{}:{t}", self.kind()),
        }
    }

    /// For Events and held changes.
    pub fn describe(&self) -> String {
        match self {
            Trigger::Token(t) => format!("run token {t:?}"),
            Trigger::Schedule(t) => format!("schedule time {t}"),
        }
    }

    /// Records in status that this trigger has had its run.
    pub fn record(&self, status: &mut WorkflowStatus) {
        match self {
            Trigger::Token(t) => status.last_run_token = Some(t.clone()),
            Trigger::Schedule(t) => status.last_scheduled_time = Some(t.clone()),
        }
    }
}

/// The runs due now, and when the schedule fires next.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Due {
    pub triggers: Vec<Trigger>,
    pub next_fire: Option<Duration>,
}

/// The cron schedule, parsed (five fields, UTC, or @daily and friends).
pub fn parse(schedule: &str) -> Result<Cron, String> {
    schedule
        .parse::<Cron>()
        .map_err(|e| format!("run.schedule {schedule:?} is not a cron schedule: {e}"))
}

/// The runs `policy` asks for at `now`, given what status says already ran and when the
/// object was created. An invalid schedule is an error for a person to fix.
pub fn due(
    policy: Option<&RunPolicy>,
    status: &WorkflowStatus,
    created: Timestamp,
    now: Timestamp,
) -> Result<Due, String> {
    let mut out = Due::default();
    let Some(policy) = policy else {
        return Ok(out);
    };
    if let Some(token) = &policy.token
        && status.last_run_token.as_deref() != Some(token)
    {
        out.triggers.push(Trigger::Token(token.clone()));
    }
    if let Some(schedule) = &policy.schedule {
        let cron = parse(schedule)?;
        let since = status
            .last_scheduled_time
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .unwrap_or(created);
        let now_z = now.to_zoned(TimeZone::UTC);
        if let Ok(latest) = cron.find_previous_occurrence(&now_z, true)
            && latest.timestamp() > since
        {
            out.triggers
                .push(Trigger::Schedule(latest.timestamp().to_string()));
        }
        if let Ok(next) = cron.find_next_occurrence(&now_z, false) {
            let secs = next.timestamp().as_second() - now.as_second();
            out.next_fire = Some(Duration::from_secs(secs.max(1) as u64));
        }
    }
    Ok(out)
}

/// How many runs status keeps.
pub fn history_limit(policy: Option<&RunPolicy>) -> usize {
    policy
        .and_then(|p| p.history_limit)
        .map_or(DEFAULT_HISTORY, |n| n.max(1) as usize)
}

/// Nothing about the runs can move: no trigger is due and every recorded run has finished.
pub fn settled(due: &Due, recorded: &[RunStatus]) -> bool {
    due.triggers.is_empty() && recorded.iter().all(|r| is_final(&r.status))
}

/// Whether a run status (either platform's spelling) is over.
pub fn is_final(status: &str) -> bool {
    matches!(
        status,
        "success" | "succeeded" | "error" | "errored" | "failed" | "cancelled" | "aborted"
    )
}

pub fn succeeded(status: &str) -> bool {
    matches!(status, "success" | "succeeded")
}

/// How long a deletion waits for runs under way before cancelling them: zero for Cancel.
pub fn on_delete_timeout(policy: Option<&RunPolicy>) -> Duration {
    match policy.and_then(|p| p.on_delete).unwrap_or_default() {
        RunsOnDelete::Cancel => Duration::ZERO,
        RunsOnDelete::Wait => policy
            .and_then(|p| p.on_delete_timeout.as_deref())
            .and_then(|t| converge_core::duration::parse(t).ok())
            .unwrap_or(DEFAULT_ON_DELETE_TIMEOUT),
    }
}

/// The policy a run was cancelled under, for the Event.
pub fn on_delete_label(policy: Option<&RunPolicy>) -> String {
    match policy.and_then(|p| p.on_delete).unwrap_or_default() {
        RunsOnDelete::Cancel => "run.onDelete: Cancel".into(),
        RunsOnDelete::Wait => format!(
            "run.onDelete: Wait, and onDeleteTimeout {} has passed",
            humanize(on_delete_timeout(policy))
        ),
    }
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// Whether a deletion may cancel the runs `under_way` (id, state) now: with run.onDelete:
/// Wait it waits, up to onDeleteTimeout from the deletion, and says so.
pub fn resolve_on_delete(
    wf: &Workflow,
    under_way: &[(String, String)],
    path: &str,
) -> Result<(), Failure> {
    if under_way.is_empty() {
        return Ok(());
    }
    let timeout = on_delete_timeout(wf.spec.run.as_ref());
    let since = wf
        .metadata
        .deletion_timestamp
        .as_ref()
        .map(|t| t.0)
        .unwrap_or_else(jiff::Timestamp::now);
    let waited = jiff::Timestamp::now()
        .duration_since(since)
        .unsigned_abs()
        .min(timeout);
    if waited >= timeout {
        return Ok(());
    }
    let runs = under_way
        .iter()
        .map(|(id, state)| format!("{id} ({state})"))
        .collect::<Vec<_>>()
        .join(", ");
    // An absolute time, so the message (and status) stays the same while it waits.
    let deadline = jiff::SignedDuration::try_from(timeout)
        .ok()
        .and_then(|t| since.checked_add(t).ok())
        .map(|d| d.round(jiff::Unit::Second).unwrap_or(d).to_string())
        .unwrap_or_default();
    Err(Failure::waiting(format!(
        "waiting for run(s) {runs} of {path} to end before deleting the workflow \
         (run.onDelete: Wait); still under way at {deadline} (onDeleteTimeout {}), they are \
         cancelled; set run.onDelete: Cancel to cancel them now",
        humanize(timeout)
    )))
}

/// Where the latest run leaves the object, the definition being in sync: under way →
/// Progressing (a person's approval looked at less often); failed → Stalled until a new run
/// succeeds; succeeded or none → Converged.
pub fn phase(latest: Option<&RunStatus>, in_sync: &str) -> Phase {
    let Some(run) = latest else {
        return Phase::converged(in_sync);
    };
    if let Some(step) = &run.waiting_step {
        return Phase::progressing(
            format!("run {} is waiting for approval of step {step}", run.id),
            APPROVAL_RECHECK,
        );
    }
    if !is_final(&run.status) {
        return Phase::progressing(format!("run {} is {}", run.id, run.status), RUN_RECHECK);
    }
    if succeeded(&run.status) {
        return Phase::converged(format!("{in_sync}; run {} succeeded", run.id));
    }
    match run.message.as_deref() {
        Some(why) if why.contains("rejected by spec.opschain.approval") => Phase::stalled(
            super::reason::RUN_REJECTED,
            format!(
                "run {} ended {}: {why}, as declared; to run it again, change \
                 spec.opschain.approval and run.token",
                run.id, run.status
            ),
        ),
        Some(why) if why.contains(" was rejected") => Phase::stalled(
            super::reason::RUN_REJECTED,
            format!(
                "run {} ended {}: {why}; change run.token to run it again",
                run.id, run.status
            ),
        ),
        Some(why) => Phase::stalled(
            super::reason::RUN_FAILED,
            format!(
                "run {} ended {}: {why}; fix the cause, then change run.token to run again",
                run.id, run.status
            ),
        ),
        None => Phase::stalled(
            super::reason::RUN_FAILED,
            format!(
                "run {} ended {}; fix the cause, then change run.token to run again",
                run.id, run.status
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn policy(token: Option<&str>, schedule: Option<&str>) -> RunPolicy {
        RunPolicy {
            token: token.map(str::to_string),
            schedule: schedule.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn no_policy_no_run() {
        let d = due(
            None,
            &WorkflowStatus::default(),
            at("2026-01-01T00:00:00Z"),
            at("2026-02-01T00:00:00Z"),
        );
        assert_eq!(d.unwrap(), Due::default());
    }

    #[test]
    fn a_new_token_runs_once() {
        let p = policy(Some("r1"), None);
        let created = at("2026-01-01T00:00:00Z");
        let mut status = WorkflowStatus::default();
        let d = due(Some(&p), &status, created, created).unwrap();
        assert_eq!(d.triggers, vec![Trigger::Token("r1".into())]);
        d.triggers[0].record(&mut status);
        assert!(
            due(Some(&p), &status, created, created)
                .unwrap()
                .triggers
                .is_empty()
        );
        let p = policy(Some("r2"), None);
        assert_eq!(
            due(Some(&p), &status, created, created).unwrap().triggers,
            vec![Trigger::Token("r2".into())]
        );
    }

    #[test]
    fn the_schedule_runs_once_per_time_and_catches_up_at_most_once() {
        let p = policy(None, Some("0 3 * * *"));
        let created = at("2026-01-01T12:00:00Z");
        let mut status = WorkflowStatus::default();
        let d = due(Some(&p), &status, created, at("2026-01-01T13:00:00Z")).unwrap();
        assert!(d.triggers.is_empty(), "nothing fired since creation");
        assert_eq!(d.next_fire, Some(Duration::from_secs(14 * 3600)));
        // Down for three days: one run, for the latest time missed.
        let d = due(Some(&p), &status, created, at("2026-01-04T05:00:00Z")).unwrap();
        assert_eq!(
            d.triggers,
            vec![Trigger::Schedule("2026-01-04T03:00:00Z".into())]
        );
        d.triggers[0].record(&mut status);
        assert_eq!(
            status.last_scheduled_time.as_deref(),
            Some("2026-01-04T03:00:00Z")
        );
        let d = due(Some(&p), &status, created, at("2026-01-04T05:00:00Z")).unwrap();
        assert!(d.triggers.is_empty());
    }

    #[test]
    fn aliases_work_and_nonsense_is_refused() {
        assert!(parse("@hourly").is_ok());
        assert!(parse("0 3 * * 1").is_ok());
        let e = parse("every monday").unwrap_err();
        assert!(e.contains("run.schedule"), "{e}");
    }

    #[test]
    fn markers_name_the_trigger() {
        assert_eq!(Trigger::Token("r1".into()).marker(), "token:r1");
        assert_eq!(
            Trigger::Schedule("2026-01-04T03:00:00Z".into()).marker(),
            "schedule:2026-01-04T03:00:00Z"
        );
    }

    fn run(status: &str, waiting: Option<&str>) -> RunStatus {
        RunStatus {
            id: "r".into(),
            status: status.into(),
            waiting_step: waiting.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn runs_are_settled_when_none_is_due_and_all_finished() {
        let idle = Due {
            triggers: vec![],
            next_fire: None,
        };
        assert!(settled(&idle, &[]));
        assert!(settled(&idle, &[run("success", None), run("failed", None)]));
        assert!(!settled(
            &idle,
            &[run("success", None), run("running", None)]
        ));
        assert!(!settled(&idle, &[run("waiting", Some("approve"))]));
        let due = Due {
            triggers: vec![Trigger::Token("t2".into())],
            next_fire: None,
        };
        assert!(!settled(&due, &[run("success", None)]));
    }

    #[test]
    fn the_latest_run_decides_the_phase() {
        assert!(matches!(phase(None, "ok"), Phase::Converged { .. }));
        assert!(matches!(
            phase(Some(&run("running", None)), "ok"),
            Phase::Progressing { recheck, .. } if recheck == RUN_RECHECK
        ));
        match phase(Some(&run("waiting", Some("gate (from ops)"))), "ok") {
            Phase::Progressing { message, recheck } => {
                assert!(message.contains("waiting for approval of step gate"));
                assert_eq!(recheck, APPROVAL_RECHECK);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            phase(Some(&run("succeeded", None)), "ok"),
            Phase::Converged { .. }
        ));
        assert!(matches!(
            phase(Some(&run("error", None)), "ok"),
            Phase::Stalled { reason, .. } if reason == crate::workflow::reason::RUN_FAILED
        ));
        assert!(matches!(
            phase(Some(&run("paused", None)), "ok"),
            Phase::Progressing { .. }
        ));
    }

    #[test]
    fn a_rejected_run_says_who_rejected_it() {
        let mut r = run("error", None);
        r.message =
            Some("step \"gate\" was rejected by spec.opschain.approval (action: Reject)".into());
        match phase(Some(&r), "ok") {
            Phase::Stalled { reason, message } => {
                assert_eq!(reason, crate::workflow::reason::RUN_REJECTED);
                assert!(message.contains("as declared"), "{message}");
                assert!(!message.contains("fix the cause"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        r.message = Some("step \"gate\" was rejected by ana (\"not today\")".into());
        assert!(matches!(
            phase(Some(&r), "ok"),
            Phase::Stalled { reason, message } if reason == crate::workflow::reason::RUN_REJECTED
                && message.contains("ana")
        ));
    }

    #[test]
    fn a_deletion_cancels_at_once_or_waits_up_to_the_timeout() {
        assert_eq!(on_delete_timeout(None), Duration::ZERO);
        let mut p = policy(None, None);
        p.on_delete = Some(RunsOnDelete::Wait);
        assert_eq!(on_delete_timeout(Some(&p)), DEFAULT_ON_DELETE_TIMEOUT);
        p.on_delete_timeout = Some("90s".into());
        assert_eq!(on_delete_timeout(Some(&p)), Duration::from_secs(90));
        assert!(on_delete_label(Some(&p)).contains("1m30s"));
        let wf = |run: RunPolicy, deleted_secs_ago: i64| -> Workflow {
            let mut w: Workflow = serde_json::from_value(serde_json::json!({
                "apiVersion": "converge.dev/v1alpha1", "kind": "Workflow",
                "metadata": {"name": "w"},
                "spec": {"connectionRef": {"name": "c"}, "projectRef": {"name": "p"},
                         "opschain": {"code": "w", "name": "W", "steps": [{"type": "wait"}]}}
            }))
            .unwrap();
            w.spec.run = Some(run);
            w.metadata.deletion_timestamp =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::now()
                        - k8s_openapi::jiff::SignedDuration::from_secs(deleted_secs_ago),
                ));
            w
        };
        let busy = vec![("r1".to_string(), "waiting".to_string())];
        match resolve_on_delete(&wf(p.clone(), 10), &busy, "web/release") {
            Err(Failure::Stop(Phase::Waiting { message })) => {
                assert!(message.contains("r1 (waiting)"), "{message}");
                assert!(message.contains("(onDeleteTimeout 1m30s)"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(resolve_on_delete(&wf(p.clone(), 100), &busy, "web/release").is_ok());
        assert!(resolve_on_delete(&wf(p, 10), &[], "web/release").is_ok());
        assert!(resolve_on_delete(&wf(policy(None, None), 0), &busy, "web/release").is_ok());
    }

    #[test]
    fn history_defaults_to_five() {
        assert_eq!(history_limit(None), 5);
        let mut p = policy(None, None);
        p.history_limit = Some(2);
        assert_eq!(history_limit(Some(&p)), 2);
    }
}
