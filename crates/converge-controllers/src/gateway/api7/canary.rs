//! The canary release as a state machine (pure).
//!
//! Its position lives on the platform, not in memory: the release's `percent` says which step
//! it is at (the step whose weight it carries), its `state` whether it is open, and the
//! application's default upstream version whether a finished release was promoted. Status adds
//! only what the platform cannot say: when the current step began (`stepStartedAt`), the
//! analysis of the step (see `analysis`), a decision to promote or abort, and which run of the
//! release it is (`retry`). A restarted controller therefore resumes at the same step with the
//! rest of its pause, and with status lost it still resumes, counting the pause from the
//! release's last update.
//!
//! A decision that takes more than one write (promoting: the application's default, then the
//! release finished; aborting on a failed analysis: the release finished) is recorded in status
//! first (`Plan::save_first`). A crash between its writes leaves an open release whose status
//! says Promoted or Aborted, and the next reconcile completes that decision instead of judging
//! the step again.
//!
//! Running an aborted release again is explicit: a new `spec.canary.retry`. Release names are
//! unique in an application and a finished release cannot change, so the finished release is
//! replaced: status first records the new run without a release id, then the old release is
//! deleted and the new one created. A finished release found while status records a run with
//! no id yet is the previous run's (a new release is never created finished), so a crash
//! anywhere in between ends the replacement rather than repeating or losing it.

use std::time::Duration;

use jiff::Timestamp;

use crate::gateway::api7::analysis::{self, Measured, Outcome, Settings, Window};
use crate::gateway::reason;
use converge_api::gateway::{AnalysisStatus, Canary, CanaryStatus};
use converge_engine::cx::Note;
use converge_platforms::api7::{CanaryRelease, CanaryReleaseSpec, CanaryState, CanaryType};

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
    Create {
        body: CanaryReleaseSpec,
        what: String,
    },
    Update {
        id: String,
        body: CanaryReleaseSpec,
        what: String,
    },
    /// Deletes the finished release `old` (of an earlier run), then creates `body`.
    Replace {
        old: String,
        body: CanaryReleaseSpec,
        what: String,
    },
}

impl Write {
    pub fn describe(&self) -> String {
        match self {
            Write::Create { what, .. }
            | Write::Update { what, .. }
            | Write::Replace { what, .. } => what.clone(),
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
    /// Write `status` before `write` (and before promoting): a decision that must survive a
    /// crash between its writes, or a replacement under way.
    pub save_first: bool,
    /// Some while the release stays open: when to look again.
    pub recheck: Option<Duration>,
    /// Not Ready until a person acts: the condition reason (the message says why).
    pub stalled: Option<&'static str>,
    /// Where the release is and what happens next, for a person (also `status.message`).
    pub message: String,
    /// Events that are not platform writes: check results, provider faults.
    pub notes: Vec<Note>,
}

/// What the decision is made from.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub canary: &'a Canary,
    /// The release spec.canary names, as the platform holds it (found by name).
    pub release: Option<&'a CanaryRelease>,
    /// status.canary as last written.
    pub recorded: Option<&'a CanaryStatus>,
    /// The application's default upstream version on the platform.
    pub app_default: &'a str,
    /// A check made this reconcile (see [`due`]).
    pub measured: Option<&'a Measured>,
    pub now: Timestamp,
}

/// The status recorded for this release, if status describes it (same release name).
fn recorded<'a>(canary: &Canary, status: Option<&'a CanaryStatus>) -> Option<&'a CanaryStatus> {
    status.filter(|s| s.name.as_deref() == Some(canary.name.as_str()))
}

fn pause(canary: &Canary, step: usize) -> Duration {
    canary.steps[step]
        .pause
        .as_deref()
        .and_then(|p| converge_core::duration::parse(p).ok())
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

fn until(now: Timestamp, then: Timestamp) -> Duration {
    if then <= now {
        Duration::ZERO
    } else {
        then.duration_since(now).unsigned_abs()
    }
}

/// The run of the release status describes, and the one the spec asks for.
fn retry_of(canary: &Canary) -> i32 {
    canary.retry.unwrap_or(0)
}

fn rec_retry(rec: &CanaryStatus) -> i32 {
    rec.retry.unwrap_or(0)
}

/// A release whose run status records as started with no release yet: the platform's finished
/// release of that name is the previous run's, waiting to be replaced.
fn replacing(rec: Option<&CanaryStatus>, release: &CanaryRelease) -> bool {
    rec.is_some_and(|r| r.phase == PROGRESSING && r.id.is_none()) && !is_open(release)
}

/// Where an open release is in its steps, the analysis it needs and when the next check is due.
struct Position {
    step: usize,
    started: Timestamp,
    hold: Duration,
}

fn position(
    canary: &Canary,
    release: &CanaryRelease,
    rec: Option<&CanaryStatus>,
    now: Timestamp,
) -> Option<Position> {
    let step = current_step(canary, release, rec)?;
    Some(Position {
        step,
        started: started_at(release, rec, step).unwrap_or(now),
        hold: pause(canary, step),
    })
}

/// A decision taken earlier and recorded before its writes (save-first), still to complete on
/// this release.
fn pending_decision<'a>(
    rec: Option<&'a CanaryStatus>,
    release: &CanaryRelease,
) -> Option<&'a CanaryStatus> {
    rec.filter(|r| r.phase == PROMOTED || r.phase == ABORTED)
        .filter(|r| r.id.as_deref().is_none_or(|id| id == release.id))
}

/// The check of the current step that is due now, if any: what the engine should measure
/// before calling [`decide`].
pub fn due(
    canary: &Canary,
    release: Option<&CanaryRelease>,
    recorded_status: Option<&CanaryStatus>,
    now: Timestamp,
) -> Option<Window> {
    let analysis = canary.analysis.as_ref()?;
    let release = release?;
    let rec = recorded(canary, recorded_status);
    if canary.abort == Some(true)
        || release.spec.state != CanaryState::InProgress
        || pending_decision(rec, release).is_some()
        || rec.is_some_and(|r| r.retry.unwrap_or(0) != retry_of(canary) && r.phase == ABORTED)
    {
        return None;
    }
    let p = position(canary, release, rec, now)?;
    let settings = Settings::of(analysis);
    let a = analysis::of_step(rec.and_then(|r| r.analysis.as_ref()), p.step);
    (now >= analysis::next_check(&settings, &a, p.started))
        .then(|| analysis::window(&settings, p.step, p.started, now))
}

/// Decides the next move of the release the spec declares.
pub fn decide(input: Input) -> Plan {
    Decision::new(input).decide()
}

struct Decision<'a> {
    canary: &'a Canary,
    release: Option<&'a CanaryRelease>,
    rec: Option<&'a CanaryStatus>,
    app_default: &'a str,
    measured: Option<&'a Measured>,
    now: Timestamp,
}

impl<'a> Decision<'a> {
    fn new(i: Input<'a>) -> Self {
        Decision {
            canary: i.canary,
            release: i.release,
            rec: recorded(i.canary, i.recorded),
            app_default: i.app_default,
            measured: i.measured,
            now: i.now,
        }
    }

    fn last(&self) -> usize {
        self.canary.steps.len() - 1
    }

    fn stable(&self) -> &str {
        if self.app_default == self.canary.upstream_version {
            "the default version"
        } else {
            self.app_default
        }
    }

    /// A status of this release: phase, step, weight; the rest from what status recorded.
    fn status(&self, phase: &str, step: usize, weight: i32) -> CanaryStatus {
        let rec = self.rec;
        CanaryStatus {
            name: Some(self.canary.name.clone()),
            id: self
                .release
                .map(|r| r.id.clone())
                .or(rec.and_then(|r| r.id.clone())),
            phase: phase.to_string(),
            step: step as i32,
            weight,
            step_started_at: rec.and_then(|r| r.step_started_at.clone()),
            state: self.release.map(|r| r.spec.state.to_string()),
            retry: Some(retry_of(self.canary)),
            message: None,
            analysis: rec.and_then(|r| r.analysis.clone()),
        }
    }

    fn plan(&self, status: CanaryStatus, message: String) -> Plan {
        let mut status = status;
        status.message = Some(message.clone());
        Plan {
            promote: status.phase == PROMOTED,
            write: None,
            status,
            save_first: false,
            recheck: None,
            stalled: None,
            message,
            notes: Vec::new(),
        }
    }

    fn rec_step(&self) -> usize {
        self.rec
            .and_then(|r| usize::try_from(r.step).ok())
            .filter(|s| *s <= self.last())
            .unwrap_or(0)
    }

    fn promoted(&self) -> Plan {
        let mut status = self.status(PROMOTED, self.last(), 100);
        status.retry = Some(retry_of(self.canary));
        let mut message = format!(
            "canary release {} promoted: {} is the default version",
            self.canary.name, self.canary.upstream_version
        );
        if self
            .rec
            .is_some_and(|r| rec_retry(r) != retry_of(self.canary))
        {
            message.push_str("; spec.canary.retry changes nothing once a release is promoted");
        }
        self.plan(status, message)
    }

    /// How to run an aborted release again, given what the spec says now.
    fn how_to_rerun(&self, retry: i32) -> String {
        let asked = retry_of(self.canary);
        if self.canary.abort == Some(true) && asked != retry {
            format!(
                "It runs again from its first step once abort is removed (spec.canary.retry is \
                 {asked})"
            )
        } else if self.canary.abort == Some(true) {
            format!(
                "To run it again, remove abort and change spec.canary.retry (now {retry}), or \
                 declare a canary with a new name"
            )
        } else {
            format!(
                "It does not run again by itself (abort: false does not restart it): change \
                 spec.canary.retry (now {retry}) to run it again from its first step, or declare \
                 a canary with a new name"
            )
        }
    }

    /// The release stays aborted: by the spec, by its analysis, or found so on the platform.
    fn aborted(&self) -> Plan {
        // An aborted run keeps the retry it ran for, so that a new one is seen.
        let run = self.rec.map_or(retry_of(self.canary), rec_retry);
        let step = self.rec_step();
        let mut status = self.status(ABORTED, step, 0);
        status.retry = Some(run);
        let failed = self
            .rec
            .and_then(|r| r.analysis.as_ref())
            .and_then(|a| a.failed.clone());
        let cause = match &failed {
            Some(f) => format!(
                "aborted at {} by its analysis: {}",
                label(
                    self.canary,
                    usize::try_from(f.step).unwrap_or(step).min(self.last())
                ),
                analysis::describe(f)
            ),
            None if self.rec.is_some() => format!("aborted at {}", label(self.canary, step)),
            None => "aborted".to_string(),
        };
        let message = format!(
            "canary release {} {cause}; traffic is on {}. {}",
            self.canary.name,
            self.stable(),
            self.how_to_rerun(run)
        );
        let mut plan = self.plan(status, message);
        if failed.is_some() && self.canary.abort != Some(true) {
            plan.stalled = Some(reason::CANARY_ANALYSIS_FAILED);
        }
        plan
    }

    /// Starts the release (or runs it again) at its first step.
    fn start(&self, replace: Option<&str>) -> Plan {
        let again = replace.is_some() || self.rec.is_some_and(|r| r.phase == ABORTED);
        let w = weight(self.canary, 0);
        let retry = retry_of(self.canary);
        let mut status = self.status(PROGRESSING, 0, w);
        status.id = None;
        status.state = Some(CanaryState::InProgress.to_string());
        status.step_started_at = Some(self.now.to_string());
        status.analysis = None;
        let again = if again {
            format!(" again (retry {retry})")
        } else {
            String::new()
        };
        let what = format!(
            "start canary release {}{again} at {}, sending traffic to {}",
            self.canary.name,
            label(self.canary, 0),
            self.canary.upstream_version
        );
        let body = body(self.canary, CanaryState::InProgress, w);
        let message = format!(
            "canary release {} at {}",
            self.canary.name,
            label(self.canary, 0)
        );
        let mut plan = self.plan(status, message);
        plan.recheck = Some(self.first_look(0));
        plan.write = Some(match replace {
            Some(old) => {
                // Recorded first: the finished release of the earlier run is recognised as
                // such after a crash (see the module doc).
                plan.save_first = true;
                Write::Replace {
                    old: old.to_string(),
                    what: format!("{what}, replacing finished release {old}"),
                    body,
                }
            }
            None => Write::Create { body, what },
        });
        plan
    }

    /// When to look at a step that just began.
    fn first_look(&self, step: usize) -> Duration {
        let wait = match &self.canary.analysis {
            Some(a) => Settings::of(a).interval,
            None => pause(self.canary, step),
        };
        wait.max(MIN_RECHECK)
    }

    fn decide(&self) -> Plan {
        let canary = self.canary;
        if canary.abort == Some(true) {
            return match self.release {
                Some(r) if is_open(r) => self.abort_write(r, None),
                _ => self.aborted(),
            };
        }
        let rerun = self
            .rec
            .is_some_and(|r| r.phase == ABORTED && rec_retry(r) != retry_of(canary));
        let Some(release) = self.release else {
            // A release that finished and was then removed from the platform is not run again
            // (unless asked to).
            return match self.rec.map(|r| r.phase.as_str()) {
                Some(ABORTED) if rerun => self.start(None),
                Some(PROMOTED) => self.promoted(),
                Some(ABORTED) => self.aborted(),
                _ => self.start(None),
            };
        };
        if replacing(self.rec, release) || (rerun && !is_open(release)) {
            return self.start(Some(&release.id));
        }
        if is_open(release)
            && let Some(d) = pending_decision(self.rec, release)
        {
            return if d.phase == PROMOTED {
                self.finish(release)
            } else {
                self.abort_write(release, None)
            };
        }
        if !is_open(release) {
            return match self.rec.map(|r| r.phase.as_str()) {
                Some(ABORTED) => self.aborted(),
                Some(PROMOTED) => self.promoted(),
                // Status lost: a release finished without its version becoming the default
                // was aborted (promotion changes the default before it finishes the release).
                _ if self.app_default == canary.upstream_version => self.promoted(),
                _ => self.aborted(),
            };
        }
        self.run(release)
    }

    /// Finishes an open release without promoting: traffic back on the default version.
    /// `failed` names the check that failed, for an abort decided by the analysis now.
    fn abort_write(&self, release: &CanaryRelease, analysis: Option<AnalysisStatus>) -> Plan {
        let percent = release
            .spec
            .percent
            .map_or(weight(self.canary, 0), i32::from);
        let step = current_step(self.canary, release, self.rec).unwrap_or_else(|| self.rec_step());
        let by_analysis = analysis.is_some();
        let mut status = self.status(ABORTED, step, 0);
        status.retry = Some(self.rec.map_or(retry_of(self.canary), rec_retry));
        if let Some(a) = analysis {
            status.analysis = Some(a);
        }
        status.state = Some(CanaryState::Finished.to_string());
        let failed = status.analysis.as_ref().and_then(|a| a.failed.clone());
        let why = match (&failed, self.canary.abort == Some(true)) {
            (_, true) => "as spec.canary.abort asks".to_string(),
            (Some(f), false) => format!("because {}", analysis::describe(f)),
            (None, false) => "as decided earlier".to_string(),
        };
        let what = format!(
            "abort canary release {} at {} {why}: traffic goes back to {}",
            self.canary.name,
            label(self.canary, step),
            self.stable()
        );
        // The message a person reads afterwards is the aborted one.
        let mut after = Decision {
            rec: Some(&status),
            ..*self
        }
        .aborted();
        after.write = Some(Write::Update {
            id: release.id.clone(),
            body: body(self.canary, CanaryState::Finished, percent),
            what,
        });
        after.save_first = by_analysis;
        after.status.state = Some(CanaryState::Finished.to_string());
        after
    }

    /// Promotes: the application's default becomes the canary version, then the release
    /// finishes. Recorded first, so a crash in between completes it.
    fn finish(&self, release: &CanaryRelease) -> Plan {
        let mut plan = self.promoted();
        plan.status.step_started_at = self.rec.and_then(|r| r.step_started_at.clone());
        if let Some(a) = self.rec.and_then(|r| r.analysis.clone()) {
            plan.status.analysis = Some(a);
        }
        plan.status.state = Some(CanaryState::Finished.to_string());
        plan.save_first = true;
        plan.write = Some(Write::Update {
            id: release.id.clone(),
            body: body(
                self.canary,
                CanaryState::Finished,
                release
                    .spec
                    .percent
                    .map_or(weight(self.canary, self.last()), i32::from),
            ),
            what: format!(
                "promote canary release {} after {}: {} becomes the default version",
                self.canary.name,
                label(self.canary, self.last()),
                self.canary.upstream_version
            ),
        });
        plan
    }

    /// Moves an open release to step `step` (a new step, or the step it should be at).
    fn set_step(&self, release: &CanaryRelease, step: usize, what: String) -> Plan {
        let w = weight(self.canary, step);
        let mut status = self.status(PROGRESSING, step, w);
        status.step_started_at = Some(self.now.to_string());
        status.state = Some(CanaryState::InProgress.to_string());
        let message = format!(
            "canary release {} at {}",
            self.canary.name,
            label(self.canary, step)
        );
        let mut plan = self.plan(status, message);
        plan.write = Some(Write::Update {
            id: release.id.clone(),
            body: body(self.canary, CanaryState::InProgress, w),
            what,
        });
        plan.recheck = Some(self.first_look(step));
        plan
    }

    /// An open release with no decision pending: hold, check, advance or finish.
    fn run(&self, release: &CanaryRelease) -> Plan {
        let canary = self.canary;
        let Some(p) = position(canary, release, self.rec, self.now) else {
            // Its weight is no step's (changed on the platform, or the steps changed): put it
            // back on the step it was at.
            let step = self.rec_step();
            return self.set_step(
                release,
                step,
                format!(
                    "set canary release {} back to {}",
                    canary.name,
                    label(canary, step)
                ),
            );
        };
        if release.spec.state != CanaryState::InProgress {
            // Paused on the platform: resume it where it is (the pause goes on counting).
            let mut plan = self.hold(&p, None, Vec::new());
            plan.write = Some(Write::Update {
                id: release.id.clone(),
                body: body(canary, CanaryState::InProgress, weight(canary, p.step)),
                what: format!(
                    "resume canary release {} at {}",
                    canary.name,
                    label(canary, p.step)
                ),
            });
            return plan;
        }
        let pause_over = self.now >= analysis::add(p.started, p.hold);
        let Some(a) = &canary.analysis else {
            return if pause_over {
                self.step_done(release, p.step, None)
            } else {
                self.hold(&p, None, Vec::new())
            };
        };
        self.judge(release, &p, &Settings::of(a))
    }

    /// The step's pause (and analysis) is over: the next step, or promotion after the last.
    fn step_done(&self, release: &CanaryRelease, step: usize, passed: Option<&str>) -> Plan {
        let after = passed
            .map(|s| format!(" after its checks passed ({s})"))
            .unwrap_or_default();
        if step < self.last() {
            return self.set_step(
                release,
                step + 1,
                format!(
                    "advance canary release {} to {}{after}",
                    self.canary.name,
                    label(self.canary, step + 1)
                ),
            );
        }
        let mut plan = self.finish(release);
        if let Some(Write::Update { what, .. }) = &mut plan.write {
            what.push_str(&after);
        }
        plan
    }

    /// Holds the step: nothing to write, look again at `recheck` (or when the pause ends).
    fn hold(
        &self,
        p: &Position,
        analysis: Option<(AnalysisStatus, String, Duration)>,
        notes: Vec<Note>,
    ) -> Plan {
        let canary = self.canary;
        let mut status = self.status(PROGRESSING, p.step, weight(canary, p.step));
        status.step_started_at = Some(p.started.to_string());
        status.state = Some(CanaryState::InProgress.to_string());
        let (message, recheck) = match analysis {
            Some((a, said, recheck)) => {
                status.analysis = Some(a);
                (
                    format!(
                        "canary release {} at {}: {said}",
                        canary.name,
                        label(canary, p.step)
                    ),
                    recheck,
                )
            }
            None => {
                let left = until(self.now, analysis::add(p.started, p.hold));
                (
                    format!(
                        "canary release {} at {}, next step in {}s",
                        canary.name,
                        label(canary, p.step),
                        left.as_secs()
                    ),
                    left,
                )
            }
        };
        let mut plan = self.plan(status, message);
        plan.recheck = Some(recheck.max(MIN_RECHECK));
        plan.notes = notes;
        plan
    }

    /// A step under analysis: records this reconcile's check, if one was made, and decides.
    fn judge(&self, release: &CanaryRelease, p: &Position, s: &Settings) -> Plan {
        let canary = self.canary;
        let here = label(canary, p.step);
        let before = analysis::of_step(self.rec.and_then(|r| r.analysis.as_ref()), p.step);
        let measured = self.measured.filter(|m| m.step == p.step);
        let Some(m) = measured else {
            let next = analysis::next_check(s, &before, p.started);
            let wait = until(self.now, next);
            if let Some(f) = before
                .fault
                .clone()
                .filter(|_| analysis::paused(s, &before))
            {
                // Paused, between two attempts: still paused.
                return self.paused(p, before, &f, s, wait, Vec::new());
            }
            let said = match &before.fault {
                Some(f) => format!("metrics unavailable: {f}; asking again"),
                None if before.checks == 0 => "first check".to_string(),
                None => format!(
                    "check {} passed ({}); next check",
                    before.checks,
                    analysis::summary(&before)
                ),
            };
            let said = format!("{said} in {}s", wait.as_secs());
            return self.hold(p, Some((before, said, wait)), Vec::new());
        };
        let was_faulty = before.fault_since.is_some();
        let (a, outcome) = analysis::record(s, before, m);
        let pause_end = analysis::add(p.started, p.hold);
        let next = until(self.now, analysis::next_check(s, &a, p.started));
        let mut notes = Vec::new();
        if was_faulty && !matches!(outcome, Outcome::Fault { .. }) {
            notes.push(self.resumed());
        }
        let note = |warning: bool, reason: &'static str, message: String| Note {
            warning,
            reason,
            message,
        };
        match outcome {
            Outcome::Passed => {
                let summary = analysis::summary(&a);
                notes.push(note(
                    false,
                    reason::CANARY_ANALYSIS,
                    format!(
                        "canary release {} at {here}: check {} passed: {summary}",
                        canary.name, a.checks
                    ),
                ));
                if m.at >= pause_end {
                    let mut plan = self.step_done(release, p.step, Some(&summary));
                    // The checks of the step just judged stay visible until the next one.
                    plan.status.analysis = Some(a);
                    plan.notes = notes;
                    return plan;
                }
                let said = format!(
                    "check {} passed ({summary}); next check in {}s",
                    a.checks,
                    next.as_secs()
                );
                self.hold(p, Some((a, said, next)), notes)
            }
            Outcome::Failed { check, aborts } => {
                notes.push(note(
                    true,
                    reason::CANARY_ANALYSIS,
                    format!(
                        "canary release {} at {here}: check {} failed: {} ({} of {} failed checks allowed)",
                        canary.name,
                        a.checks,
                        analysis::describe(&check),
                        a.failed_checks,
                        s.failure_limit
                    ),
                ));
                if aborts {
                    let mut plan = self.abort_write(release, Some(a));
                    plan.notes = notes;
                    return plan;
                }
                let said = format!(
                    "check {} failed: {} ({} of {} failed checks allowed); next check in {}s",
                    a.checks,
                    analysis::describe(&check),
                    a.failed_checks,
                    s.failure_limit,
                    next.as_secs()
                );
                self.hold(p, Some((a, said, next)), notes)
            }
            Outcome::Fault { message, paused } => {
                if !was_faulty {
                    notes.push(note(
                        true,
                        reason::CANARY_METRICS_UNAVAILABLE,
                        format!(
                            "canary release {} at {here}: metrics unavailable: {message}; asking again within the step (the canary pauses after {}s of this)",
                            canary.name,
                            s.fault_timeout.as_secs()
                        ),
                    ));
                }
                if paused {
                    return self.paused(p, a, &message, s, next, notes);
                }
                let said = format!(
                    "metrics unavailable: {message}; asking again in {}s",
                    next.as_secs()
                );
                self.hold(p, Some((a, said, next)), notes)
            }
        }
    }

    /// Paused at the step's weight because the metrics have been unavailable for
    /// faultTimeout: Stalled, and asked again at `recheck`.
    fn paused(
        &self,
        p: &Position,
        a: AnalysisStatus,
        fault: &str,
        s: &Settings,
        recheck: Duration,
        notes: Vec<Note>,
    ) -> Plan {
        let canary = self.canary;
        let mut plan = self.hold(p, Some((a, String::new(), recheck)), notes);
        plan.status.phase = PAUSED.to_string();
        plan.message = format!(
            "canary release {} paused at {}: metrics unavailable for over {}s: {fault}. \
             It stays at {}% and resumes when the provider answers (asked every {}s); \
             set abort: true to roll back",
            canary.name,
            label(canary, p.step),
            s.fault_timeout.as_secs(),
            weight(canary, p.step),
            s.fault_retry().as_secs()
        );
        plan.status.message = Some(plan.message.clone());
        plan.stalled = Some(reason::CANARY_PAUSED);
        plan
    }

    fn resumed(&self) -> Note {
        Note {
            warning: false,
            reason: reason::CANARY_RESUMED,
            message: format!(
                "canary release {}: metrics are available again; the analysis goes on",
                self.canary.name
            ),
        }
    }
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
    Some(CanaryStatus {
        name: Some(canary.name.clone()),
        id: Some(release.id.clone()),
        phase: phase.to_string(),
        step: step as i32,
        weight,
        step_started_at: started_at(release, rec, step).map(|t| t.to_string()),
        state: Some(release.spec.state.to_string()),
        retry: rec.and_then(|r| r.retry),
        message: None,
        analysis: rec.and_then(|r| r.analysis.clone()),
    })
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
                "end canary release {} at {}%, no longer declared: traffic goes back to the default version",
                release.spec.name,
                release.spec.percent.unwrap_or(0)
            ),
            body,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::api7::analysis::fixtures::{at, fault};
    use converge_platforms::api7::EntityStatus;
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

    /// The canary with an analysis: a check every 10s, 5% failures and 20 requests at most.
    fn analysed(extra: serde_json::Value) -> Canary {
        let mut a = json!({"provider": {"api7": {}}, "interval": "10s",
            "failureRate": {"max": 5}, "requests": {"min": 20}});
        for (k, v) in extra.as_object().unwrap() {
            a[k] = v.clone();
        }
        let mut c = canary();
        c.analysis = Some(serde_json::from_value(a).unwrap());
        c
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
        CanaryStatus {
            name: Some("v2-rollout".into()),
            id: Some("77".into()),
            phase: phase.into(),
            step,
            weight: canary().steps[step as usize].weight,
            step_started_at: Some(at(started).to_string()),
            state: Some("in_progress".into()),
            retry: Some(0),
            message: None,
            analysis: None,
        }
    }

    /// Decides with the application still on v1.
    fn run(c: &Canary, r: Option<&CanaryRelease>, s: Option<&CanaryStatus>, now: i64) -> Plan {
        decide_with(c, r, s, None, now)
    }

    fn decide_with(
        c: &Canary,
        r: Option<&CanaryRelease>,
        s: Option<&CanaryStatus>,
        m: Option<&Measured>,
        now: i64,
    ) -> Plan {
        decide(Input {
            canary: c,
            release: r,
            recorded: s,
            app_default: "v1",
            measured: m,
            now: at(now),
        })
    }

    fn update(plan: &Plan) -> (&CanaryReleaseSpec, &str) {
        match &plan.write {
            Some(Write::Update { body, what, .. }) => (body, what.as_str()),
            other => panic!("expected an update, got {other:?}"),
        }
    }

    fn measured(step: usize, secs: i64, requests: f64, failures: f64) -> Measured {
        crate::gateway::api7::analysis::fixtures::measured(step, secs, requests, failures, None)
    }

    #[test]
    fn no_release_starts_at_the_first_step() {
        let plan = run(&canary(), None, None, 5);
        let Some(Write::Create { body, what }) = &plan.write else {
            panic!("{plan:?}")
        };
        assert_eq!(body.state, CanaryState::InProgress);
        assert_eq!(body.percent, Some(10));
        assert_eq!(body.canary_upstream_version, "v2");
        assert_eq!(
            what,
            "start canary release v2-rollout at step 1/3 (10%), sending traffic to v2"
        );
        assert_eq!(plan.status.step, 0);
        assert_eq!(plan.status.weight, 10);
        assert_eq!(plan.status.step_started_at, Some(at(5).to_string()));
        assert_eq!(plan.recheck, Some(Duration::from_secs(30)));
        assert!(!plan.promote);
    }

    #[test]
    fn during_a_pause_nothing_is_written_and_the_recheck_is_the_rest_of_it() {
        let r = release(CanaryState::InProgress, 10, 0);
        let plan = run(&canary(), Some(&r), Some(&rec(PROGRESSING, 0, 0)), 20);
        assert_eq!(plan.write, None);
        assert_eq!(plan.recheck, Some(Duration::from_secs(10)));
        assert_eq!((plan.status.step, plan.status.weight), (0, 10));
        assert_eq!(plan.status.step_started_at, Some(at(0).to_string()));
        assert!(plan.message.contains("step 1/3 (10%)"), "{}", plan.message);
        assert_eq!(plan.status.message.as_deref(), Some(plan.message.as_str()));
    }

    #[test]
    fn an_elapsed_pause_advances_to_the_next_step() {
        let r = release(CanaryState::InProgress, 10, 0);
        let plan = run(&canary(), Some(&r), Some(&rec(PROGRESSING, 0, 0)), 31);
        let (body, what) = update(&plan);
        assert_eq!(body.percent, Some(50));
        assert_eq!(body.state, CanaryState::InProgress);
        assert_eq!(what, "advance canary release v2-rollout to step 2/3 (50%)");
        assert_eq!(plan.status.step, 1);
        assert_eq!(plan.status.step_started_at, Some(at(31).to_string()));
        assert_eq!(plan.recheck, Some(Duration::from_secs(60)));
        assert!(
            !plan.save_first,
            "an advance is resumed from the platform's weight"
        );
    }

    #[test]
    fn the_last_step_is_recorded_promoted_before_it_promotes_then_finishes() {
        let r = release(CanaryState::InProgress, 100, 100);
        let plan = run(&canary(), Some(&r), Some(&rec(PROGRESSING, 2, 100)), 100);
        assert!(plan.promote, "the default becomes the canary version");
        assert!(plan.save_first);
        let (body, what) = update(&plan);
        assert_eq!(body.state, CanaryState::Finished);
        assert!(what.starts_with("promote canary release v2-rollout after step 3/3 (100%)"));
        assert_eq!(plan.status.phase, PROMOTED);
        assert_eq!(plan.status.weight, 100);
        assert_eq!(plan.recheck, None);
        // A crash after the record: the open release is finished, not judged again.
        let again = run(&canary(), Some(&r), Some(&plan.status), 101);
        assert!(again.promote);
        assert_eq!(update(&again).0.state, CanaryState::Finished);
    }

    #[test]
    fn a_finished_release_stays_as_it_ended_and_is_not_restarted() {
        let r = release(CanaryState::Finished, 100, 100);
        let plan = run(&canary(), Some(&r), Some(&rec(PROMOTED, 2, 100)), 500);
        assert!(plan.promote);
        assert_eq!(plan.write, None);
        assert_eq!(plan.status.phase, PROMOTED);
        // Gone from the platform afterwards: still not run again.
        let plan = run(&canary(), None, Some(&plan.status), 600);
        assert_eq!(plan.write, None);
        assert!(plan.promote);
        // With status lost, the application's default tells how it ended.
        let promoted = decide(Input {
            canary: &canary(),
            release: Some(&r),
            recorded: None,
            app_default: "v2",
            measured: None,
            now: at(600),
        });
        assert_eq!(
            (promoted.status.phase.as_str(), promoted.promote),
            (PROMOTED, true)
        );
        let aborted = run(&canary(), Some(&r), None, 600);
        assert_eq!(
            (aborted.status.phase.as_str(), aborted.promote),
            (ABORTED, false)
        );
        assert_eq!(aborted.write, None);
    }

    #[test]
    fn abort_finishes_an_open_release_and_rearming_says_how_to_run_it_again() {
        let mut c = canary();
        c.abort = Some(true);
        let r = release(CanaryState::InProgress, 50, 0);
        let plan = run(&c, Some(&r), Some(&rec(PROGRESSING, 1, 0)), 5);
        assert!(!plan.promote);
        let (body, what) = update(&plan);
        assert_eq!(body.state, CanaryState::Finished);
        assert_eq!(
            what,
            "abort canary release v2-rollout at step 2/3 (50%) as spec.canary.abort asks: traffic goes back to v1"
        );
        assert_eq!(plan.status.phase, ABORTED);
        assert_eq!((plan.status.step, plan.status.weight), (1, 0));
        assert_eq!(plan.recheck, None);
        assert_eq!(
            plan.stalled, None,
            "an abort the spec asks for is what it declares"
        );
        assert!(
            plan.message
                .contains("remove abort and change spec.canary.retry (now 0)"),
            "{}",
            plan.message
        );
        // Once finished, nothing more; un-aborting does not restart it, and says so.
        let finished = release(CanaryState::Finished, 50, 5);
        let again = run(&c, Some(&finished), Some(&plan.status), 9);
        assert_eq!(again.write, None);
        c.abort = None;
        let again = run(&c, Some(&finished), Some(&plan.status), 9);
        assert_eq!((again.write, again.promote), (None, false));
        assert_eq!(again.status.phase, ABORTED);
        assert_eq!(
            again.message,
            "canary release v2-rollout aborted at step 2/3 (50%); traffic is on v1. It does not run \
             again by itself (abort: false does not restart it): change spec.canary.retry (now 0) to \
             run it again from its first step, or declare a canary with a new name"
        );
    }

    #[test]
    fn a_retry_asked_while_abort_is_declared_waits_for_abort_to_go() {
        let mut c = canary();
        c.abort = Some(true);
        c.retry = Some(1);
        let finished = release(CanaryState::Finished, 50, 5);
        let mut aborted = rec(ABORTED, 1, 0);
        aborted.retry = Some(0);
        let plan = run(&c, Some(&finished), Some(&aborted), 9);
        assert_eq!(plan.write, None);
        assert!(
            plan.message.ends_with(
                "It runs again from its first step once abort is removed (spec.canary.retry is 1)"
            ),
            "{}",
            plan.message
        );
        c.abort = None;
        let plan = run(&c, Some(&finished), Some(&plan.status), 10);
        assert!(
            matches!(plan.write, Some(Write::Replace { .. })),
            "{plan:?}"
        );
    }

    #[test]
    fn abort_before_the_release_exists_creates_nothing() {
        let mut c = canary();
        c.abort = Some(true);
        let plan = run(&c, None, None, 0);
        assert_eq!(plan.write, None);
        assert_eq!(plan.status.phase, ABORTED);
    }

    #[test]
    fn a_restart_resumes_from_the_platform_and_status() {
        // Status written at step 2 (50%) 40s ago; the platform holds 50%.
        let r = release(CanaryState::InProgress, 50, 60);
        let plan = run(&canary(), Some(&r), Some(&rec(PROGRESSING, 1, 60)), 100);
        assert_eq!(plan.write, None, "not restarted");
        assert_eq!(plan.status.step, 1);
        assert_eq!(plan.recheck, Some(Duration::from_secs(20)));
    }

    #[test]
    fn with_status_lost_the_step_comes_from_the_platforms_weight_and_update_time() {
        let r = release(CanaryState::InProgress, 50, 60);
        let plan = run(&canary(), Some(&r), None, 100);
        assert_eq!(plan.write, None);
        assert_eq!(plan.status.step, 1);
        assert_eq!(plan.status.step_started_at, Some(at(60).to_string()));
        assert_eq!(plan.recheck, Some(Duration::from_secs(20)));
        let plan = run(&canary(), Some(&r), None, 121);
        assert_eq!(update(&plan).0.percent, Some(100));
    }

    #[test]
    fn a_weight_changed_on_the_platform_is_put_back() {
        let r = release(CanaryState::InProgress, 33, 10);
        let plan = run(&canary(), Some(&r), Some(&rec(PROGRESSING, 1, 0)), 20);
        let (body, what) = update(&plan);
        assert_eq!(body.percent, Some(50));
        assert!(
            what.starts_with("set canary release v2-rollout back to"),
            "{what}"
        );
        assert_eq!(plan.status.step, 1);
    }

    #[test]
    fn a_release_paused_on_the_platform_is_resumed() {
        let r = release(CanaryState::Paused, 10, 0);
        let plan = run(&canary(), Some(&r), Some(&rec(PROGRESSING, 0, 0)), 5);
        let (body, what) = update(&plan);
        assert_eq!(body.state, CanaryState::InProgress);
        assert_eq!(body.percent, Some(10));
        assert!(what.starts_with("resume"));
    }

    #[test]
    fn status_of_another_release_name_is_ignored() {
        let mut old = rec(PROMOTED, 1, 0);
        old.name = Some("previous".into());
        let plan = run(&canary(), None, Some(&old), 0);
        assert!(matches!(plan.write, Some(Write::Create { .. })));
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
        let plan = run(&c, Some(&r), None, 0);
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

    // The analysis.

    #[test]
    fn a_check_is_due_every_interval_over_the_steps_traffic_only() {
        let c = analysed(json!({"window": "1m"}));
        let r = release(CanaryState::InProgress, 10, 100);
        let s = rec(PROGRESSING, 0, 100);
        assert_eq!(due(&c, Some(&r), Some(&s), at(109)), None);
        let w = due(&c, Some(&r), Some(&s), at(110)).unwrap();
        assert_eq!((w.step, w.start, w.end), (0, at(100), at(110)));
        // Not without an analysis, nor for a release that is not running.
        assert_eq!(due(&canary(), Some(&r), Some(&s), at(500)), None);
        let paused = release(CanaryState::Paused, 10, 100);
        assert_eq!(due(&c, Some(&paused), Some(&s), at(500)), None);
        let mut aborting = c.clone();
        aborting.abort = Some(true);
        assert_eq!(due(&aborting, Some(&r), Some(&s), at(500)), None);
    }

    #[test]
    fn before_the_first_check_the_step_waits_for_it() {
        let c = analysed(json!({}));
        let r = release(CanaryState::InProgress, 10, 0);
        let plan = run(&c, Some(&r), Some(&rec(PROGRESSING, 0, 0)), 4);
        assert_eq!(plan.write, None);
        assert_eq!(plan.recheck, Some(Duration::from_secs(6)));
        assert_eq!(
            plan.message,
            "canary release v2-rollout at step 1/3 (10%): first check in 6s"
        );
    }

    #[test]
    fn a_passing_check_within_the_pause_is_recorded_and_the_step_goes_on() {
        let c = analysed(json!({}));
        let r = release(CanaryState::InProgress, 10, 0);
        let m = measured(0, 10, 200.0, 2.0);
        let plan = decide_with(&c, Some(&r), Some(&rec(PROGRESSING, 0, 0)), Some(&m), 10);
        assert_eq!(plan.write, None, "the 30s pause is not over");
        let a = plan.status.analysis.as_ref().unwrap();
        assert_eq!((a.step, a.checks, a.failed_checks), (0, 1, 0));
        assert_eq!(a.results.len(), 2);
        assert_eq!(plan.notes.len(), 1);
        assert_eq!(plan.notes[0].reason, reason::CANARY_ANALYSIS);
        assert_eq!(
            plan.notes[0].message,
            "canary release v2-rollout at step 1/3 (10%): check 1 passed: requests 200 (min 20), failureRate 1% (max 5%)"
        );
        assert_eq!(plan.recheck, Some(Duration::from_secs(10)));
        // A check made for another step counts for nothing here.
        let other = measured(1, 10, 200.0, 2.0);
        let plan = decide_with(
            &c,
            Some(&r),
            Some(&rec(PROGRESSING, 0, 0)),
            Some(&other),
            10,
        );
        assert_eq!(plan.status.analysis.as_ref().map(|a| a.checks), Some(0));
    }

    #[test]
    fn the_first_passing_check_after_the_pause_advances() {
        let c = analysed(json!({}));
        let r = release(CanaryState::InProgress, 10, 0);
        let m = measured(0, 30, 200.0, 0.0);
        let plan = decide_with(&c, Some(&r), Some(&rec(PROGRESSING, 0, 0)), Some(&m), 30);
        let (body, what) = update(&plan);
        assert_eq!(body.percent, Some(50));
        assert_eq!(
            what,
            "advance canary release v2-rollout to step 2/3 (50%) after its checks passed (requests 200 (min 20), failureRate 0% (max 5%))"
        );
        assert_eq!(plan.status.step, 1);
        assert_eq!(
            plan.recheck,
            Some(Duration::from_secs(10)),
            "the next step's first check"
        );
        // The next step's checks count afresh.
        assert_eq!(
            due(
                &c,
                Some(&release(CanaryState::InProgress, 50, 30)),
                Some(&plan.status),
                at(39)
            ),
            None
        );
    }

    #[test]
    fn a_failed_check_aborts_with_the_check_value_and_threshold_recorded_first() {
        let c = analysed(json!({}));
        let r = release(CanaryState::InProgress, 50, 0);
        let m = measured(1, 10, 200.0, 25.0);
        let plan = decide_with(&c, Some(&r), Some(&rec(PROGRESSING, 1, 0)), Some(&m), 10);
        let (body, what) = update(&plan);
        assert_eq!(body.state, CanaryState::Finished);
        assert_eq!(
            what,
            "abort canary release v2-rollout at step 2/3 (50%) because failureRate 12.5% (max 5%): traffic goes back to v1"
        );
        assert!(
            plan.save_first,
            "an abort decided by the analysis survives a crash"
        );
        assert!(!plan.promote);
        assert_eq!(plan.stalled, Some(reason::CANARY_ANALYSIS_FAILED));
        assert_eq!(
            (
                plan.status.phase.as_str(),
                plan.status.step,
                plan.status.weight
            ),
            (ABORTED, 1, 0)
        );
        let failed = plan
            .status
            .analysis
            .as_ref()
            .and_then(|a| a.failed.as_ref())
            .unwrap();
        assert_eq!(
            (
                failed.name.as_str(),
                failed.value.as_str(),
                failed.threshold.as_str()
            ),
            ("failureRate", "12.5%", "max 5%")
        );
        assert_eq!(
            plan.message,
            "canary release v2-rollout aborted at step 2/3 (50%) by its analysis: failureRate 12.5% (max 5%); \
             traffic is on v1. It does not run again by itself (abort: false does not restart it): change \
             spec.canary.retry (now 0) to run it again from its first step, or declare a canary with a new name"
        );
        assert!(
            plan.notes
                .iter()
                .any(|n| n.warning && n.message.contains("check 1 failed"))
        );
        // Crash after the record: the next reconcile finishes the release, judging nothing.
        assert_eq!(due(&c, Some(&r), Some(&plan.status), at(100)), None);
        let again = run(&c, Some(&r), Some(&plan.status), 11);
        assert_eq!(update(&again).0.state, CanaryState::Finished);
        assert!(!again.promote);
        // Finished: it stays aborted, Stalled, with nothing more written.
        let finished = release(CanaryState::Finished, 50, 11);
        let after = run(&c, Some(&finished), Some(&plan.status), 300);
        assert_eq!(after.write, None);
        assert_eq!(after.stalled, Some(reason::CANARY_ANALYSIS_FAILED));
        // Declaring the abort acknowledges it: Ready again.
        let mut ack = c.clone();
        ack.abort = Some(true);
        assert_eq!(
            run(&ack, Some(&finished), Some(&plan.status), 300).stalled,
            None
        );
    }

    #[test]
    fn failed_checks_below_the_limit_hold_the_step() {
        let c = analysed(json!({"failureLimit": 2}));
        let r = release(CanaryState::InProgress, 10, 0);
        let m = measured(0, 30, 200.0, 40.0);
        let plan = decide_with(&c, Some(&r), Some(&rec(PROGRESSING, 0, 0)), Some(&m), 30);
        assert_eq!(plan.write, None, "a failing step does not advance");
        assert!(
            plan.message.contains(
                "check 1 failed: failureRate 20% (max 5%) (1 of 2 failed checks allowed)"
            ),
            "{}",
            plan.message
        );
        let m = measured(0, 40, 200.0, 0.0);
        let plan = decide_with(&c, Some(&r), Some(&plan.status), Some(&m), 40);
        assert_eq!(
            update(&plan).0.percent,
            Some(50),
            "a passing check after the pause advances"
        );
        assert_eq!(plan.status.analysis.unwrap().failed_checks, 1);
    }

    #[test]
    fn an_idle_canary_is_not_promoted() {
        let c = analysed(json!({}));
        let r = release(CanaryState::InProgress, 10, 0);
        let m = measured(0, 30, 0.0, 0.0);
        let plan = decide_with(&c, Some(&r), Some(&rec(PROGRESSING, 0, 0)), Some(&m), 30);
        assert_eq!(update(&plan).0.state, CanaryState::Finished);
        assert!(!plan.promote);
        assert!(
            plan.message
                .contains("by its analysis: requests 0 (min 20)"),
            "{}",
            plan.message
        );
    }

    #[test]
    fn provider_faults_are_retried_never_pass_and_pause_the_canary_after_the_timeout() {
        let c = analysed(json!({"faultTimeout": "1m"}));
        let r = release(CanaryState::InProgress, 10, 0);
        let plan = decide_with(
            &c,
            Some(&r),
            Some(&rec(PROGRESSING, 0, 0)),
            Some(&fault(0, 30)),
            30,
        );
        assert_eq!(plan.write, None, "a fault after the pause is not a pass");
        assert_eq!(plan.stalled, None);
        assert_eq!(plan.recheck, Some(Duration::from_secs(10)));
        assert_eq!(plan.notes.len(), 1);
        assert_eq!(plan.notes[0].reason, reason::CANARY_METRICS_UNAVAILABLE);
        assert!(
            plan.message.contains("metrics unavailable: HTTP 503"),
            "{}",
            plan.message
        );
        // Asked again within the step: one Event for the run of faults.
        let plan = decide_with(&c, Some(&r), Some(&plan.status), Some(&fault(0, 40)), 40);
        assert!(plan.notes.is_empty());
        let plan = decide_with(&c, Some(&r), Some(&plan.status), Some(&fault(0, 90)), 90);
        assert_eq!(plan.write, None, "never promoted on faults");
        assert_eq!(plan.stalled, Some(reason::CANARY_PAUSED));
        assert_eq!(plan.status.phase, PAUSED);
        assert_eq!(plan.status.weight, 10, "the canary keeps its weight");
        assert!(plan.message.starts_with("canary release v2-rollout paused at step 1/3 (10%): metrics unavailable for over 60s"), "{}", plan.message);
        // Between two attempts it stays paused.
        let between = run(&c, Some(&r), Some(&plan.status), 95);
        assert_eq!(between.stalled, Some(reason::CANARY_PAUSED));
        assert_eq!(between.status.phase, PAUSED);
        assert_eq!(between.write, None);
        // The provider answers again: the analysis goes on, and advances.
        let plan = decide_with(
            &c,
            Some(&r),
            Some(&plan.status),
            Some(&measured(0, 100, 100.0, 0.0)),
            100,
        );
        assert_eq!(update(&plan).0.percent, Some(50));
        assert!(
            plan.notes
                .iter()
                .any(|n| n.reason == reason::CANARY_RESUMED)
        );
    }

    #[test]
    fn the_last_step_is_judged_before_promotion() {
        let c = analysed(json!({}));
        let r = release(CanaryState::InProgress, 100, 0);
        let plan = run(&c, Some(&r), Some(&rec(PROGRESSING, 2, 0)), 5);
        assert_eq!(plan.write, None, "no pause, but a check is still owed");
        let plan = decide_with(
            &c,
            Some(&r),
            Some(&rec(PROGRESSING, 2, 0)),
            Some(&measured(2, 10, 500.0, 1.0)),
            10,
        );
        assert!(plan.promote && plan.save_first);
        assert_eq!(update(&plan).0.state, CanaryState::Finished);
        assert_eq!(plan.status.analysis.unwrap().results[0].step, 2);
    }

    fn aborted_by_analysis() -> CanaryStatus {
        let c = analysed(json!({}));
        let r = release(CanaryState::InProgress, 50, 0);
        let plan = decide_with(
            &c,
            Some(&r),
            Some(&rec(PROGRESSING, 1, 0)),
            Some(&measured(1, 10, 200.0, 50.0)),
            10,
        );
        plan.status
    }

    #[test]
    fn a_new_retry_replaces_the_aborted_release_and_starts_afresh() {
        let mut c = analysed(json!({}));
        c.retry = Some(1);
        let finished = release(CanaryState::Finished, 50, 11);
        let plan = run(&c, Some(&finished), Some(&aborted_by_analysis()), 100);
        let Some(Write::Replace { old, body, what }) = &plan.write else {
            panic!("{plan:?}")
        };
        assert_eq!(old, "77");
        assert_eq!(
            (body.percent, &body.state),
            (Some(10), &CanaryState::InProgress)
        );
        assert_eq!(
            what,
            "start canary release v2-rollout again (retry 1) at step 1/3 (10%), sending traffic to v2, replacing finished release 77"
        );
        assert!(plan.save_first);
        assert_eq!(plan.stalled, None);
        let s = &plan.status;
        assert_eq!(
            (s.phase.as_str(), s.step, s.retry, s.id.as_deref()),
            (PROGRESSING, 0, Some(1), None)
        );
        assert_eq!(s.analysis, None, "a new run's analysis starts empty");
        // A crash after the record and before (or after) the delete: the finished release is
        // the previous run's, replaced again; once the new one exists it is simply run.
        let again = run(&c, Some(&finished), Some(&plan.status), 101);
        assert!(matches!(again.write, Some(Write::Replace { .. })));
        let mut fresh = release(CanaryState::InProgress, 10, 101);
        fresh.id = "79".into();
        let adopted = run(&c, Some(&fresh), Some(&plan.status), 102);
        assert_eq!(adopted.write, None);
        assert_eq!(adopted.status.id.as_deref(), Some("79"));
        // An aborted release gone from the platform is created again.
        let plan = run(&c, None, Some(&aborted_by_analysis()), 100);
        assert!(
            matches!(&plan.write, Some(Write::Create { what, .. }) if what.contains("again (retry 1)"))
        );
    }

    #[test]
    fn a_retry_changed_while_running_or_after_promotion_does_nothing() {
        let mut c = canary();
        c.retry = Some(3);
        let r = release(CanaryState::InProgress, 10, 0);
        let plan = run(&c, Some(&r), Some(&rec(PROGRESSING, 0, 0)), 5);
        assert_eq!(plan.write, None);
        assert_eq!(
            plan.status.retry,
            Some(3),
            "seen: a later abort does not rerun for it"
        );
        let done = release(CanaryState::Finished, 100, 0);
        let plan = run(&c, Some(&done), Some(&rec(PROMOTED, 2, 0)), 5);
        assert_eq!(plan.write, None);
        assert!(
            plan.message.contains("spec.canary.retry changes nothing"),
            "{}",
            plan.message
        );
    }
}
