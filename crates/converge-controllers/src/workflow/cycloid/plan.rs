//! Cycloid decisions (pure): builds of the declared job as the workflow's runs.
//!
//! A Cycloid build carries no marker of who started it, so a trigger is made crash-safe on the
//! Kubernetes side: right before the call, status records the trigger and the newest build id
//! seen (`pendingRun: run:<marker>@after:<id>`; not `pendingCreate`, which the engine clears
//! once an id is known, also after a failed call that may have reached Cycloid). A controller restarted after the call finds
//! the first build newer than that id and takes it as the trigger's run instead of building
//! again.

use crate::workflow::runs::Trigger;
use converge_api::workflow::RunStatus;
use converge_platforms::cycloid::{Build, ComponentPath};

/// The pending record written before a trigger.
pub fn pending(trigger: &Trigger, newest_before: u64) -> String {
    format!("run:{}@after:{newest_before}", trigger.marker())
}

/// The trigger and the build id of a pending record, if it is one.
pub fn parse_pending(pending: &str) -> Option<(Trigger, u64)> {
    let rest = pending.strip_prefix("run:")?;
    let (marker, after) = rest.rsplit_once("@after:")?;
    let after = after.parse().ok()?;
    let trigger = match marker.split_once(':')? {
        ("token", t) => Trigger::Token(t.to_string()),
        ("schedule", t) => Trigger::Schedule(t.to_string()),
        _ => return None,
    };
    Some((trigger, after))
}

/// The newest build id of the job (0 when it never built).
pub fn newest(builds: &[Build]) -> u64 {
    builds.iter().map(|b| b.id).max().unwrap_or(0)
}

/// The build a trigger recorded with `after` started: the first one newer than it.
pub fn started_after(builds: &[Build], after: u64) -> Option<&Build> {
    builds.iter().filter(|b| b.id > after).min_by_key(|b| b.id)
}

/// A build as status shows it.
pub fn run_status(build: &Build, trigger: Option<&str>) -> RunStatus {
    RunStatus {
        id: build.id.to_string(),
        // Concourse's states are the variants' names in lowercase.
        status: format!("{:?}", build.status).to_lowercase(),
        trigger: trigger.map(str::to_string),
        waiting_step: None,
        started_at: build
            .start_time
            .and_then(|s| jiff::Timestamp::from_second(s as i64).ok())
            .map(|t| t.to_string()),
        message: None,
    }
}

/// Status's runs refreshed from the job's builds (newest first, at most `limit`): ours only,
/// the newly started one first. A build no longer listed keeps what status last showed.
pub fn history(
    previous: &[RunStatus],
    started: Vec<RunStatus>,
    builds: &[Build],
    limit: usize,
) -> Vec<RunStatus> {
    let mut out = started;
    for old in previous {
        if out.iter().any(|r| r.id == old.id) {
            continue;
        }
        let fresh = builds
            .iter()
            .find(|b| b.id.to_string() == old.id)
            .map(|b| run_status(b, old.trigger.as_deref()));
        out.push(fresh.unwrap_or_else(|| old.clone()));
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.id.parse::<u64>().unwrap_or(0)));
    out.truncate(limit);
    out
}

/// `project/environment/component/pipeline/job`, recorded for deletion.
pub fn path(at: &ComponentPath, pipeline: &str, job: &str) -> String {
    format!("{at}/{pipeline}/{job}")
}

/// The component, pipeline and job of a recorded path.
pub fn parse_path(path: &str) -> Option<(ComponentPath, String, String)> {
    let parts: Vec<&str> = path.split('/').collect();
    let [p, e, c, pl, job] = parts.as_slice() else {
        return None;
    };
    Some((
        ComponentPath::new(*p, *e, *c),
        pl.to_string(),
        job.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn build(id: u64, status: &str) -> Build {
        serde_json::from_value(json!({
            "id": id, "name": id.to_string(), "status": status, "api_url": "/x",
            "team_name": "acme", "start_time": 1_767_225_600u64,
        }))
        .unwrap()
    }

    #[test]
    fn a_pending_trigger_round_trips() {
        let t = Trigger::Token("2026-11-24".into());
        let p = pending(&t, 17);
        assert_eq!(p, "run:token:2026-11-24@after:17");
        assert_eq!(parse_pending(&p), Some((t, 17)));
        let s = Trigger::Schedule("2026-01-04T03:00:00Z".into());
        assert_eq!(parse_pending(&pending(&s, 0)), Some((s, 0)));
        assert_eq!(
            parse_pending("billing/x"),
            None,
            "a create key is not a run"
        );
    }

    #[test]
    fn after_a_crash_the_build_started_is_found() {
        let builds = vec![
            build(21, "started"),
            build(20, "pending"),
            build(17, "succeeded"),
        ];
        assert_eq!(newest(&builds), 21);
        assert_eq!(started_after(&builds, 17).unwrap().id, 20);
        assert!(
            started_after(&builds, 21).is_none(),
            "the trigger never reached Cycloid"
        );
        assert_eq!(newest(&[]), 0);
    }

    #[test]
    fn history_keeps_ours_refreshed_newest_first() {
        let previous = vec![
            RunStatus {
                id: "17".into(),
                status: "started".into(),
                trigger: Some("token".into()),
                ..Default::default()
            },
            RunStatus {
                id: "5".into(),
                status: "failed".into(),
                ..Default::default()
            },
        ];
        let builds = vec![
            build(22, "pending"),
            build(18, "succeeded"),
            build(17, "succeeded"),
        ];
        let started = vec![run_status(&builds[0], Some("schedule"))];
        let h = history(&previous, started, &builds, 2);
        assert_eq!(h.len(), 2);
        assert_eq!((h[0].id.as_str(), h[0].status.as_str()), ("22", "pending"));
        assert_eq!(
            (h[1].id.as_str(), h[1].status.as_str()),
            ("17", "succeeded")
        );
        assert_eq!(h[1].trigger.as_deref(), Some("token"));
        assert!(h[0].started_at.is_some());
        let h = history(&previous, vec![], &[], 5);
        assert_eq!(
            h[1].status, "failed",
            "a build no longer listed keeps its last status"
        );
    }

    #[test]
    fn the_recorded_path_round_trips() {
        let at = ComponentPath::new("billing", "staging", "billing-api");
        let p = path(&at, "billing-api-deploy", "deploy");
        assert_eq!(p, "billing/staging/billing-api/billing-api-deploy/deploy");
        assert_eq!(
            parse_path(&p),
            Some((at, "billing-api-deploy".into(), "deploy".into()))
        );
        assert_eq!(parse_path("a/b"), None);
    }
}
