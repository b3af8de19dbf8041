//! The canary release as a state machine (pure).
//!
//! Its position lives on the platform, not in memory: the release's `percent` says which step
//! it is at (the step whose weight it carries), its `state` whether it is open, and the
//! application's default upstream version whether a finished release was promoted. Status adds
//! only what the platform cannot say: when the current step began (`stepStartedAt`) and
//! whether a finished release was aborted. A restarted controller therefore resumes at the same
//! step with the rest of its pause, and with status lost it still resumes, counting the pause
//! from the release's last update.
//!
//! Finishing is two writes, in an order that is safe to repeat after a crash: first the
//! application's default becomes the canary version (`promote`), then the release is finished.
//! A crash in between leaves an open release at its last step whose pause is over, so the next
//! reconcile finishes it again.

use std::time::Duration;

use jiff::Timestamp;

use super::crd::{Canary, CanaryStatus};
use crate::clients::api7::{CanaryRelease, CanaryReleaseSpec, CanaryState, CanaryType};

/// `status.canary.phase` values.
pub const PROGRESSING: &str = "Progressing";
pub const PAUSED: &str = "Paused";
pub const PROMOTED: &str = "Promoted";
pub const ABORTED: &str = "Aborted";

/// A step without a pause advances on the next look, but not in a tight loop.
const MIN_RECHECK: Duration = Duration::from_secs(1);

/// A write to the canary release.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    Create(CanaryReleaseSpec),
    Update {
        id: String,
        body: CanaryReleaseSpec,
        what: String,
    },
}

impl Write {
    pub fn describe(&self) -> String {
        match self {
            Write::Create(body) => format!(
                "start canary release {} at {}%",
                body.name,
                body.percent.unwrap_or_default()
            ),
            Write::Update { what, .. } => what.clone(),
        }
    }
}

/// What to do about the canary this reconcile.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The application must serve the canary version by default (promoted, or being promoted).
    pub promote: bool,
    pub write: Option<Write>,
    /// Status once `write` is done (a created release's id is filled in by the caller).
    pub status: CanaryStatus,
    /// Some while the release stays open: when to look again.
    pub recheck: Option<Duration>,
    /// Where the release is, for a person.
    pub message: String,
}

/// The status recorded for this release, if status describes it (same release name).
fn recorded<'a>(canary: &Canary, status: Option<&'a CanaryStatus>) -> Option<&'a CanaryStatus> {
    status.filter(|s| s.name.as_deref() == Some(canary.name.as_str()))
}

fn pause(canary: &Canary, step: usize) -> Duration {
    canary.steps[step]
        .pause
        .as_deref()
        .and_then(|p| crate::common::duration::parse(p).ok())
        .unwrap_or_default()
}

fn weight(canary: &Canary, step: usize) -> i32 {
    canary.steps[step].weight
}

fn body(canary: &Canary, state: CanaryState, percent: i32) -> CanaryReleaseSpec {
    CanaryReleaseSpec {
        name: canary.name.clone(),
        state,
        kind: CanaryType::Percent,
        canary_upstream_version: canary.upstream_version.clone(),
        percent: Some(percent.clamp(1, 100) as u8),
        expressions: vec![],
    }
}

fn status(
    canary: &Canary,
    id: Option<&str>,
    phase: &str,
    step: usize,
    weight: i32,
    started: Option<Timestamp>,
    state: Option<CanaryState>,
) -> CanaryStatus {
    CanaryStatus {
        name: Some(canary.name.clone()),
        id: id.map(str::to_string),
        phase: phase.to_string(),
        step: step as i32,
        weight,
        step_started_at: started.map(|t| t.to_string()),
        state: state.map(|s| s.to_string()),
    }
}

fn is_open(release: &CanaryRelease) -> bool {
    release.spec.state != CanaryState::Finished
}

/// The step the release is at: the one status names if the release carries its weight, else
/// the first step with the release's weight. None when its weight is no step's.
fn current_step(
    canary: &Canary,
    release: &CanaryRelease,
    rec: Option<&CanaryStatus>,
) -> Option<usize> {
    let percent = release.spec.percent.map(i32::from)?;
    let n = canary.steps.len();
    rec.map(|r| r.step)
        .and_then(|s| usize::try_from(s).ok())
        .filter(|s| *s < n && weight(canary, *s) == percent)
        .or_else(|| canary.steps.iter().position(|s| s.weight == percent))
}

/// When step `step` began: status's time if it recorded this step, else the release's last
/// update (the write that set its weight).
fn started_at(
    release: &CanaryRelease,
    rec: Option<&CanaryStatus>,
    step: usize,
) -> Option<Timestamp> {
    rec.filter(|r| r.step == step as i32)
        .and_then(|r| r.step_started_at.as_deref())
        .and_then(|t| t.parse().ok())
        .or(release.updated_at)
}

fn label(canary: &Canary, step: usize) -> String {
    format!(
        "step {}/{} ({}%)",
        step + 1,
        canary.steps.len(),
        weight(canary, step)
    )
}

/// Decides the next move of the release the spec declares, from the release as the platform
/// holds it (found by name) and status.
pub fn decide(
    canary: &Canary,
    release: Option<&CanaryRelease>,
    recorded_status: Option<&CanaryStatus>,
    now: Timestamp,
) -> Plan {
    let rec = recorded(canary, recorded_status);
    let last = canary.steps.len() - 1;
    let id = release
        .map(|r| r.id.as_str())
        .or(rec.and_then(|r| r.id.as_deref()));
    let done = |phase: &str, message: String| {
        let promoted = phase == PROMOTED;
        Plan {
            promote: promoted,
            write: None,
            status: status(
                canary,
                id,
                phase,
                if promoted {
                    last
                } else {
                    rec.map_or(0, |r| r.step.max(0) as usize)
                },
                if promoted { 100 } else { 0 },
                rec.and_then(|r| r.step_started_at.as_deref()?.parse().ok()),
                release.map(|r| r.spec.state.clone()),
            ),
            recheck: None,
            message,
        }
    };
    let aborted_msg = format!(
        "canary release {} aborted: traffic stays on the default version",
        canary.name
    );
    let promoted_msg = format!(
        "canary release {} finished: {} is the default version",
        canary.name, canary.upstream_version
    );

    if canary.abort == Some(true) {
        return match release {
            Some(r) if is_open(r) => {
                let mut plan = done(ABORTED, aborted_msg);
                let percent = r.spec.percent.map_or(weight(canary, 0), i32::from);
                plan.write = Some(Write::Update {
                    id: r.id.clone(),
                    body: body(canary, CanaryState::Finished, percent),
                    what: format!("abort canary release {}", canary.name),
                });
                plan.status.state = Some(CanaryState::Finished.to_string());
                plan
            }
            _ => done(ABORTED, aborted_msg),
        };
    }

    let Some(release) = release else {
        // A release that finished and was then removed from the platform is not run again.
        return match rec.map(|r| r.phase.as_str()) {
            Some(PROMOTED) => done(PROMOTED, promoted_msg),
            Some(ABORTED) => done(ABORTED, aborted_msg),
            _ => Plan {
                promote: false,
                write: Some(Write::Create(body(
                    canary,
                    CanaryState::InProgress,
                    weight(canary, 0),
                ))),
                status: status(
                    canary,
                    None,
                    PROGRESSING,
                    0,
                    weight(canary, 0),
                    Some(now),
                    Some(CanaryState::InProgress),
                ),
                recheck: Some(pause(canary, 0).max(MIN_RECHECK)),
                message: format!("canary release {} at {}", canary.name, label(canary, 0)),
            },
        };
    };

    if !is_open(release) {
        // Finished: aborted if status says so, otherwise promoted (or to be promoted).
        return if rec.is_some_and(|r| r.phase == ABORTED) {
            done(ABORTED, aborted_msg)
        } else {
            done(PROMOTED, promoted_msg)
        };
    }

    let advance = |step: usize, what: String| Plan {
        promote: false,
        write: Some(Write::Update {
            id: release.id.clone(),
            body: body(canary, CanaryState::InProgress, weight(canary, step)),
            what,
        }),
        status: status(
            canary,
            Some(&release.id),
            PROGRESSING,
            step,
            weight(canary, step),
            Some(now),
            Some(CanaryState::InProgress),
        ),
        recheck: Some(pause(canary, step).max(MIN_RECHECK)),
        message: format!("canary release {} at {}", canary.name, label(canary, step)),
    };

    let Some(step) = current_step(canary, release, rec) else {
        // Its weight is no step's (changed on the platform, or the steps changed): put it back
        // on the step it was at.
        let step = rec
            .and_then(|r| usize::try_from(r.step).ok())
            .filter(|s| *s <= last)
            .unwrap_or(0);
        return advance(
            step,
            format!(
                "set canary release {} to {}",
                canary.name,
                label(canary, step)
            ),
        );
    };
    let started = started_at(release, rec, step).unwrap_or(now);
    let elapsed = if now < started {
        Duration::ZERO
    } else {
        now.duration_since(started).unsigned_abs()
    };
    let hold = pause(canary, step);

    if elapsed < hold {
        let paused = release.spec.state != CanaryState::InProgress;
        return Plan {
            promote: false,
            write: paused.then(|| Write::Update {
                id: release.id.clone(),
                body: body(canary, CanaryState::InProgress, weight(canary, step)),
                what: format!("resume canary release {}", canary.name),
            }),
            status: status(
                canary,
                Some(&release.id),
                PROGRESSING,
                step,
                weight(canary, step),
                Some(started),
                Some(CanaryState::InProgress),
            ),
            recheck: Some((hold - elapsed).max(MIN_RECHECK)),
            message: format!(
                "canary release {} at {}, next step in {}s",
                canary.name,
                label(canary, step),
                (hold - elapsed).as_secs()
            ),
        };
    }
    if step < last {
        return advance(
            step + 1,
            format!(
                "advance canary release {} to {}",
                canary.name,
                label(canary, step + 1)
            ),
        );
    }
    let mut plan = done(PROMOTED, promoted_msg);
    plan.write = Some(Write::Update {
        id: release.id.clone(),
        body: body(
            canary,
            CanaryState::Finished,
            release.spec.percent.map_or(weight(canary, last), i32::from),
        ),
        what: format!(
            "finish canary release {}: {} becomes the default version",
            canary.name, canary.upstream_version
        ),
    });
    plan.status.state = Some(CanaryState::Finished.to_string());
    plan.status.step_started_at = Some(started.to_string());
    plan
}

/// The release as it is, for status while writes are held.
pub fn observed(
    canary: &Canary,
    release: Option<&CanaryRelease>,
    recorded_status: Option<&CanaryStatus>,
    app_default: &str,
) -> Option<CanaryStatus> {
    let release = release?;
    let rec = recorded(canary, recorded_status);
    let step = current_step(canary, release, rec).unwrap_or(0);
    let (phase, weight) = match &release.spec.state {
        CanaryState::Finished if app_default == canary.upstream_version => (PROMOTED, 100),
        CanaryState::Finished => (ABORTED, 0),
        CanaryState::InProgress => (PROGRESSING, release.spec.percent.map_or(0, i32::from)),
        _ => (PAUSED, release.spec.percent.map_or(0, i32::from)),
    };
    Some(status(
        canary,
        Some(&release.id),
        phase,
        step,
        weight,
        started_at(release, rec, step),
        Some(release.spec.state.clone()),
    ))
}

/// A release Converge started whose canary block was removed from the spec: it ends without
/// promotion (as an abort would), so it no longer holds its upstream version.
pub fn retire(release: &CanaryRelease) -> Option<Write> {
    is_open(release).then(|| {
        let mut body = release.spec.clone();
        body.state = CanaryState::Finished;
        Write::Update {
            id: release.id.clone(),
            what: format!(
                "end canary release {}, no longer declared",
                release.spec.name
            ),
            body,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::api7::EntityStatus;
    use serde_json::json;

    fn canary() -> Canary {
        serde_json::from_value(json!({
            "name": "v2-rollout",
            "upstreamVersion": "v2",
            "steps": [
                {"weight": 10, "pause": "30s"},
                {"weight": 50, "pause": "1m"},
                {"weight": 100}
            ]
        }))
        .unwrap()
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn release(state: CanaryState, percent: u8, updated: i64) -> CanaryRelease {
        CanaryRelease {
            id: "77".into(),
            app_id: "11".into(),
            status: EntityStatus::Normal,
            created_at: Some(at(0)),
            updated_at: Some(at(updated)),
            spec: body(&canary(), state, percent as i32),
        }
    }

    fn rec(phase: &str, step: i32, started: i64) -> CanaryStatus {
        status(
            &canary(),
            Some("77"),
            phase,
            step as usize,
            canary().steps[step as usize].weight,
            Some(at(started)),
            Some(CanaryState::InProgress),
        )
    }

    fn update(plan: &Plan) -> (&CanaryReleaseSpec, &str) {
        match &plan.write {
            Some(Write::Update { body, what, .. }) => (body, what.as_str()),
            other => panic!("expected an update, got {other:?}"),
        }
    }

    #[test]
    fn no_release_starts_at_the_first_step() {
        let plan = decide(&canary(), None, None, at(5));
        let Some(Write::Create(body)) = &plan.write else {
            panic!("{plan:?}")
        };
        assert_eq!(body.state, CanaryState::InProgress);
        assert_eq!(body.percent, Some(10));
        assert_eq!(body.canary_upstream_version, "v2");
        assert_eq!(plan.status.step, 0);
        assert_eq!(plan.status.weight, 10);
        assert_eq!(plan.status.step_started_at, Some(at(5).to_string()));
        assert_eq!(plan.recheck, Some(Duration::from_secs(30)));
        assert!(!plan.promote);
    }

    #[test]
    fn during_a_pause_nothing_is_written_and_the_recheck_is_the_rest_of_it() {
        let r = release(CanaryState::InProgress, 10, 0);
        let plan = decide(&canary(), Some(&r), Some(&rec(PROGRESSING, 0, 0)), at(20));
        assert_eq!(plan.write, None);
        assert_eq!(plan.recheck, Some(Duration::from_secs(10)));
        assert_eq!(plan.status, rec(PROGRESSING, 0, 0));
        assert!(plan.message.contains("step 1/3 (10%)"), "{}", plan.message);
    }

    #[test]
    fn an_elapsed_pause_advances_to_the_next_step() {
        let r = release(CanaryState::InProgress, 10, 0);
        let plan = decide(&canary(), Some(&r), Some(&rec(PROGRESSING, 0, 0)), at(31));
        let (body, what) = update(&plan);
        assert_eq!(body.percent, Some(50));
        assert_eq!(body.state, CanaryState::InProgress);
        assert!(what.contains("step 2/3 (50%)"), "{what}");
        assert_eq!(plan.status.step, 1);
        assert_eq!(plan.status.step_started_at, Some(at(31).to_string()));
        assert_eq!(plan.recheck, Some(Duration::from_secs(60)));
    }

    #[test]
    fn the_last_step_promotes_then_finishes() {
        let r = release(CanaryState::InProgress, 100, 100);
        let plan = decide(
            &canary(),
            Some(&r),
            Some(&rec(PROGRESSING, 2, 100)),
            at(100),
        );
        assert!(plan.promote, "the default becomes the canary version");
        let (body, _) = update(&plan);
        assert_eq!(body.state, CanaryState::Finished);
        assert_eq!(plan.status.phase, PROMOTED);
        assert_eq!(plan.status.weight, 100);
        assert_eq!(plan.recheck, None);
    }

    #[test]
    fn a_finished_release_is_promoted_and_not_restarted() {
        let r = release(CanaryState::Finished, 100, 100);
        let plan = decide(
            &canary(),
            Some(&r),
            Some(&rec(PROGRESSING, 2, 100)),
            at(500),
        );
        assert!(plan.promote);
        assert_eq!(plan.write, None);
        assert_eq!(plan.status.phase, PROMOTED);
        // Gone from the platform afterwards: still not run again.
        let plan = decide(&canary(), None, Some(&plan.status), at(600));
        assert_eq!(plan.write, None);
        assert!(plan.promote);
    }

    #[test]
    fn abort_finishes_an_open_release_without_promoting() {
        let mut c = canary();
        c.abort = Some(true);
        let r = release(CanaryState::InProgress, 50, 0);
        let plan = decide(&c, Some(&r), Some(&rec(PROGRESSING, 1, 0)), at(5));
        assert!(!plan.promote);
        let (body, what) = update(&plan);
        assert_eq!(body.state, CanaryState::Finished);
        assert!(what.starts_with("abort"));
        assert_eq!(plan.status.phase, ABORTED);
        assert_eq!(plan.status.weight, 0);
        assert_eq!(plan.recheck, None);
        // Once finished, nothing more; and un-aborting does not restart it.
        let finished = release(CanaryState::Finished, 50, 5);
        let again = decide(&c, Some(&finished), Some(&plan.status), at(9));
        assert_eq!(again.write, None);
        c.abort = None;
        let again = decide(&c, Some(&finished), Some(&plan.status), at(9));
        assert_eq!((again.write, again.promote), (None, false));
        assert_eq!(again.status.phase, ABORTED);
    }

    #[test]
    fn abort_before_the_release_exists_creates_nothing() {
        let mut c = canary();
        c.abort = Some(true);
        let plan = decide(&c, None, None, at(0));
        assert_eq!(plan.write, None);
        assert_eq!(plan.status.phase, ABORTED);
    }

    #[test]
    fn a_restart_resumes_from_the_platform_and_status() {
        // Status written at step 2 (50%) 40s ago; the platform holds 50%.
        let r = release(CanaryState::InProgress, 50, 60);
        let plan = decide(&canary(), Some(&r), Some(&rec(PROGRESSING, 1, 60)), at(100));
        assert_eq!(plan.write, None, "not restarted");
        assert_eq!(plan.status.step, 1);
        assert_eq!(plan.recheck, Some(Duration::from_secs(20)));
    }

    #[test]
    fn with_status_lost_the_step_comes_from_the_platforms_weight_and_update_time() {
        let r = release(CanaryState::InProgress, 50, 60);
        let plan = decide(&canary(), Some(&r), None, at(100));
        assert_eq!(plan.write, None);
        assert_eq!(plan.status.step, 1);
        assert_eq!(plan.status.step_started_at, Some(at(60).to_string()));
        assert_eq!(plan.recheck, Some(Duration::from_secs(20)));
        let plan = decide(&canary(), Some(&r), None, at(121));
        assert_eq!(update(&plan).0.percent, Some(100));
    }

    #[test]
    fn a_weight_changed_on_the_platform_is_put_back() {
        let r = release(CanaryState::InProgress, 33, 10);
        let plan = decide(&canary(), Some(&r), Some(&rec(PROGRESSING, 1, 0)), at(20));
        let (body, what) = update(&plan);
        assert_eq!(body.percent, Some(50));
        assert!(what.starts_with("set canary release"), "{what}");
        assert_eq!(plan.status.step, 1);
    }

    #[test]
    fn a_release_paused_on_the_platform_is_resumed() {
        let r = release(CanaryState::Paused, 10, 0);
        let plan = decide(&canary(), Some(&r), Some(&rec(PROGRESSING, 0, 0)), at(5));
        let (body, what) = update(&plan);
        assert_eq!(body.state, CanaryState::InProgress);
        assert_eq!(body.percent, Some(10));
        assert!(what.starts_with("resume"));
    }

    #[test]
    fn status_of_another_release_name_is_ignored() {
        let mut old = rec(PROGRESSING, 1, 0);
        old.name = Some("previous".into());
        old.phase = PROMOTED.into();
        let plan = decide(&canary(), None, Some(&old), at(0));
        assert!(matches!(plan.write, Some(Write::Create(_))));
    }

    #[test]
    fn steps_without_pause_follow_each_other() {
        let c: Canary = serde_json::from_value(json!({
            "name": "fast", "upstreamVersion": "v2",
            "steps": [{"weight": 20}, {"weight": 100}]
        }))
        .unwrap();
        let mut r = release(CanaryState::InProgress, 20, 0);
        r.spec.name = "fast".into();
        let plan = decide(&c, Some(&r), None, at(0));
        assert_eq!(update(&plan).0.percent, Some(100));
        assert_eq!(plan.recheck, Some(MIN_RECHECK));
    }

    #[test]
    fn observed_reports_the_platform_as_is() {
        let r = release(CanaryState::Paused, 50, 0);
        let s = observed(&canary(), Some(&r), None, "v1").unwrap();
        assert_eq!((s.phase.as_str(), s.step, s.weight), (PAUSED, 1, 50));
        let f = release(CanaryState::Finished, 100, 0);
        assert_eq!(
            observed(&canary(), Some(&f), None, "v2").unwrap().phase,
            PROMOTED
        );
        assert_eq!(
            observed(&canary(), Some(&f), None, "v1").unwrap().phase,
            ABORTED
        );
        assert_eq!(observed(&canary(), None, None, "v1"), None);
    }

    #[test]
    fn retiring_finishes_only_open_releases() {
        let open = release(CanaryState::InProgress, 10, 0);
        let Some(Write::Update { body, .. }) = retire(&open) else {
            panic!()
        };
        assert_eq!(body.state, CanaryState::Finished);
        assert_eq!(retire(&release(CanaryState::Finished, 10, 0)), None);
    }
}
