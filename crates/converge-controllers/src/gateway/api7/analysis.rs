//! Canary analysis (pure): when a check of the current step is due, which traffic it judges,
//! and what a measurement means for the release.
//!
//! During each step's pause a check runs every `interval` over the last `window` of traffic
//! (never from before the step began, when the weight was another). The step ends with the
//! first passing check at or after the end of its pause, so every step is judged at least once.
//! Every failed check counts toward `failureLimit`, which aborts the release. A provider that
//! does not answer (an error, throttling, a timeout, no data) is asked again within the step,
//! never counts as a pass, and after `faultTimeout` pauses the canary at its weight.
//!
//! What a check found is kept in `status.canary.analysis`, per step: a restarted controller
//! goes on with the step the platform's weight names and the checks status recorded for it.

use std::time::Duration;

use jiff::Timestamp;

use converge_api::gateway::{AnalysisStatus, CanaryAnalysis, CheckResult};

/// Check names, as status and Events spell them.
pub const REQUESTS: &str = "requests";
pub const FAILURE_RATE: &str = "failureRate";
pub const LATENCY: &str = "latency";

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_FAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// Durations beyond this are taken as this (a manifest may say 100000h).
const LONGEST: Duration = Duration::from_secs(7 * 24 * 3600);
/// A provider that failed is asked again after at most this long.
const FAULT_RETRY: Duration = Duration::from_secs(10);
const SHORTEST: Duration = Duration::from_secs(1);

/// The analysis block with its defaults applied and its values bounded.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub interval: Duration,
    pub window: Duration,
    pub max_failure_rate: Option<f64>,
    pub max_latency: Option<Duration>,
    /// 1..=100, for providers that have percentiles.
    pub percentile: u8,
    pub min_requests: f64,
    pub failure_limit: i32,
    pub fault_timeout: Duration,
}

fn duration(text: Option<&str>, default: Duration) -> Duration {
    // The CRD refuses more than a week; a longer one (from `converge local` before
    // validation existed, or a CRD not yet upgraded) is taken as a week.
    text.and_then(|t| converge_core::duration::parse(t).ok())
        .map(|d| d.min(LONGEST))
        .unwrap_or(default)
}

impl Settings {
    pub fn of(a: &CanaryAnalysis) -> Settings {
        let interval = duration(a.interval.as_deref(), DEFAULT_INTERVAL).max(SHORTEST);
        Settings {
            interval,
            window: duration(a.window.as_deref(), interval).max(SHORTEST),
            max_failure_rate: a
                .failure_rate
                .as_ref()
                .map(|f| f.max.clamp(0.0, 100.0))
                .filter(|m| m.is_finite()),
            max_latency: a.latency.as_ref().map(|l| duration(Some(&l.max), LONGEST)),
            percentile: a
                .latency
                .as_ref()
                .and_then(|l| l.percentile)
                .unwrap_or(99)
                .clamp(1, 100) as u8,
            min_requests: a.requests.as_ref().map_or(1, |r| r.min.max(0)) as f64,
            failure_limit: a.failure_limit.unwrap_or(1).max(1),
            fault_timeout: duration(a.fault_timeout.as_deref(), DEFAULT_FAULT_TIMEOUT),
        }
    }

    /// How long after a failed attempt the provider is asked again.
    pub fn fault_retry(&self) -> Duration {
        self.interval.min(FAULT_RETRY)
    }
}

/// What the provider reported for one window.
#[derive(Clone, Debug, PartialEq)]
pub struct Values {
    pub requests: f64,
    pub failures: f64,
    /// Milliseconds; None when not asked for, or when the provider had no figure.
    pub latency_ms: Option<f64>,
}

/// One attempt to measure a window.
#[derive(Clone, Debug, PartialEq)]
pub enum Measurement {
    Values(Values),
    /// The provider failed to answer usefully: its error, throttling, a timeout, no data.
    Fault(String),
}

/// A measurement of step `step`'s traffic up to `at`.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    pub step: usize,
    pub at: Timestamp,
    pub result: Measurement,
}

/// A check that is due: the traffic of `[start, end]`, at step `step` (0-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub step: usize,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window {
    pub fn seconds(&self) -> u64 {
        self.end
            .duration_since(self.start)
            .unsigned_abs()
            .as_secs()
            .max(1)
    }
}

/// What a measurement means for the release.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every check passed.
    Passed,
    /// A check failed; `aborts` once failureLimit failed checks are reached.
    Failed { check: CheckResult, aborts: bool },
    /// No usable answer; `paused` once the provider has failed for faultTimeout.
    Fault { message: String, paused: bool },
}

fn parse(t: Option<&str>) -> Option<Timestamp> {
    t.and_then(|t| t.parse().ok())
}

/// The analysis of step `step`: status's if it is of that step, else a fresh one (the failed
/// checks of the release carried over).
pub fn of_step(recorded: Option<&AnalysisStatus>, step: usize) -> AnalysisStatus {
    match recorded {
        Some(a) if a.step == step as i32 => a.clone(),
        Some(a) => AnalysisStatus {
            step: step as i32,
            failed_checks: a.failed_checks,
            results: a.results.clone(),
            ..Default::default()
        },
        None => AnalysisStatus {
            step: step as i32,
            ..Default::default()
        },
    }
}

/// Whether the provider has failed for faultTimeout: the canary is paused.
pub fn paused(s: &Settings, a: &AnalysisStatus) -> bool {
    match (
        parse(a.fault_since.as_deref()),
        parse(a.last_check_at.as_deref()),
    ) {
        (Some(since), Some(last)) => last.duration_since(since).unsigned_abs() >= s.fault_timeout,
        _ => false,
    }
}

/// When the next check of this step is due: an interval after the last one (or after the step
/// began), sooner after a provider fault.
pub fn next_check(s: &Settings, a: &AnalysisStatus, started: Timestamp) -> Timestamp {
    let gap = if a.fault_since.is_some() {
        s.fault_retry()
    } else {
        s.interval
    };
    let base = parse(a.last_check_at.as_deref())
        .filter(|t| *t >= started)
        .unwrap_or(started);
    add(base, gap)
}

pub(super) fn add(t: Timestamp, d: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// The window a check at `now` judges: the last `window`, from the step's start at the earliest.
pub fn window(s: &Settings, step: usize, started: Timestamp, now: Timestamp) -> Window {
    let back = jiff::SignedDuration::try_from(s.window).unwrap_or(jiff::SignedDuration::MAX);
    let start = now.checked_sub(back).unwrap_or(Timestamp::MIN).max(started);
    Window {
        step,
        start: start.min(now),
        end: now,
    }
}

/// Formats a number with at most two decimals and no trailing zeros.
fn number(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

fn ms(d: Duration) -> String {
    format!("{}ms", number(d.as_secs_f64() * 1000.0))
}

fn result(name: &str, value: String, threshold: String, passed: bool, m: &Measured) -> CheckResult {
    CheckResult {
        name: name.into(),
        value,
        threshold,
        passed,
        step: m.step as i32,
        measured_at: m.at.to_string(),
    }
}

/// The checks a set of values answers, in the order they are judged. Too few requests fails
/// the requests check and leaves the others unjudged (there is nothing to judge). Err when a
/// declared check has no figure although there was traffic (no data).
fn judge(s: &Settings, v: &Values, m: &Measured) -> Result<Vec<CheckResult>, String> {
    let mut out = vec![result(
        REQUESTS,
        number(v.requests.round()),
        format!("min {}", number(s.min_requests)),
        v.requests >= s.min_requests,
        m,
    )];
    if v.requests < s.min_requests || v.requests <= 0.0 {
        return Ok(out);
    }
    if let Some(max) = s.max_failure_rate {
        let rate = (v.failures / v.requests * 100.0).clamp(0.0, 100.0);
        out.push(result(
            FAILURE_RATE,
            format!("{}%", number(rate)),
            format!("max {}%", number(max)),
            rate <= max,
            m,
        ));
    }
    if let Some(max) = s.max_latency {
        let Some(latency) = v.latency_ms.filter(|l| l.is_finite() && *l >= 0.0) else {
            return Err("the provider reported no latency although there were requests".into());
        };
        out.push(result(
            LATENCY,
            format!("{}ms", number(latency)),
            format!("max {}", ms(max)),
            latency <= max.as_secs_f64() * 1000.0,
            m,
        ));
    }
    Ok(out)
}

/// Records a measurement in the step's analysis and says what it means.
pub fn record(s: &Settings, mut a: AnalysisStatus, m: &Measured) -> (AnalysisStatus, Outcome) {
    a.last_check_at = Some(m.at.to_string());
    let values = match &m.result {
        Measurement::Values(v) => judge(s, v, m),
        Measurement::Fault(e) => Err(e.clone()),
    };
    let results = match values {
        Ok(results) => results,
        Err(message) => {
            let since = parse(a.fault_since.as_deref()).unwrap_or(m.at);
            a.fault_since = Some(since.to_string());
            a.fault = Some(message.clone());
            let failing = m.at.duration_since(since).unsigned_abs();
            let paused = failing >= s.fault_timeout;
            return (a, Outcome::Fault { message, paused });
        }
    };
    a.fault_since = None;
    a.fault = None;
    a.checks = a.checks.saturating_add(1);
    for r in &results {
        match a.results.iter_mut().find(|x| x.name == r.name) {
            Some(x) => *x = r.clone(),
            None => a.results.push(r.clone()),
        }
    }
    match results.into_iter().find(|r| !r.passed) {
        None => (a, Outcome::Passed),
        Some(check) => {
            a.failed_checks = a.failed_checks.saturating_add(1);
            let aborts = a.failed_checks >= s.failure_limit;
            if aborts {
                a.failed = Some(check.clone());
            }
            (a, Outcome::Failed { check, aborts })
        }
    }
}

/// "failureRate 12.5% (max 5%)".
pub fn describe(r: &CheckResult) -> String {
    format!("{} {} ({})", r.name, r.value, r.threshold)
}

/// The step's latest results, one phrase: "requests 240 (min 20), failureRate 0.5% (max 5%)".
pub fn summary(a: &AnalysisStatus) -> String {
    a.results
        .iter()
        .filter(|r| r.step == a.step)
        .map(describe)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Measurements for the tests of this module and of `canary`.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    pub fn measured(
        step: usize,
        secs: i64,
        requests: f64,
        failures: f64,
        latency: Option<f64>,
    ) -> Measured {
        Measured {
            step,
            at: at(secs),
            result: Measurement::Values(Values {
                requests,
                failures,
                latency_ms: latency,
            }),
        }
    }

    pub fn fault(step: usize, secs: i64) -> Measured {
        Measured {
            step,
            at: at(secs),
            result: Measurement::Fault("HTTP 503 (service unavailable)".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{at, fault};
    use super::*;
    use serde_json::json;

    fn measured(step: usize, secs: i64, requests: f64, failures: f64, latency: f64) -> Measured {
        fixtures::measured(step, secs, requests, failures, Some(latency))
    }

    fn settings(extra: serde_json::Value) -> Settings {
        let mut a = json!({"provider": {"api7": {}}, "interval": "10s",
            "failureRate": {"max": 5}, "latency": {"max": "500ms"}, "requests": {"min": 20}});
        for (k, v) in extra.as_object().unwrap() {
            a[k] = v.clone();
        }
        Settings::of(&serde_json::from_value(a).unwrap())
    }

    #[test]
    fn defaults_and_bounds() {
        let s = Settings::of(
            &serde_json::from_value(json!({"provider": {"api7": {}}, "interval": "8760h"}))
                .unwrap(),
        );
        assert_eq!(s.interval, LONGEST);
        assert_eq!(s.window, LONGEST);
        assert_eq!(s.min_requests, 1.0, "an idle canary never passes");
        assert_eq!((s.failure_limit, s.percentile), (1, 99));
        assert_eq!(s.fault_timeout, Duration::from_secs(300));
        assert_eq!((s.max_failure_rate, s.max_latency), (None, None));
        let s = settings(json!({"interval": "0s", "window": "1m", "failureLimit": 3}));
        assert_eq!((s.interval, s.window), (SHORTEST, Duration::from_secs(60)));
        assert_eq!(s.failure_limit, 3);
    }

    #[test]
    fn healthy_values_pass_every_check() {
        let s = settings(json!({}));
        let (a, o) = record(&s, of_step(None, 0), &measured(0, 10, 200.0, 2.0, 120.0));
        assert_eq!(o, Outcome::Passed);
        assert_eq!(a.checks, 1);
        assert_eq!(
            summary(&a),
            "requests 200 (min 20), failureRate 1% (max 5%), latency 120ms (max 500ms)"
        );
        assert_eq!(a.last_check_at, Some(at(10).to_string()));
    }

    #[test]
    fn a_threshold_crossed_fails_and_the_limit_aborts() {
        let s = settings(json!({"failureLimit": 2}));
        let (a, o) = record(&s, of_step(None, 1), &measured(1, 10, 200.0, 25.0, 120.0));
        let Outcome::Failed { check, aborts } = o else {
            panic!("{o:?}")
        };
        assert!(!aborts);
        assert_eq!(describe(&check), "failureRate 12.5% (max 5%)");
        assert_eq!(check.step, 1);
        let (a, o) = record(&s, a, &measured(1, 20, 200.0, 0.0, 900.0));
        let Outcome::Failed { check, aborts } = o else {
            panic!("{o:?}")
        };
        assert!(aborts);
        assert_eq!(describe(&check), "latency 900ms (max 500ms)");
        assert_eq!(a.failed_checks, 2);
        assert_eq!(a.failed.as_ref(), Some(&check));
    }

    #[test]
    fn too_few_requests_fail_and_nothing_else_is_judged() {
        let s = settings(json!({}));
        let (a, o) = record(&s, of_step(None, 0), &measured(0, 10, 3.0, 3.0, 0.0));
        let Outcome::Failed { check, aborts } = o else {
            panic!("{o:?}")
        };
        assert!(aborts, "failureLimit defaults to 1");
        assert_eq!(describe(&check), "requests 3 (min 20)");
        assert_eq!(a.results.len(), 1);
        // No traffic at all, with no minimum declared: still not a pass.
        let s = Settings::of(
            &serde_json::from_value(json!({"provider": {"api7": {}}, "failureRate": {"max": 1}}))
                .unwrap(),
        );
        let (_, o) = record(&s, of_step(None, 0), &measured(0, 10, 0.0, 0.0, 0.0));
        assert!(matches!(o, Outcome::Failed { .. }), "{o:?}");
    }

    #[test]
    fn faults_are_never_a_pass_and_pause_after_the_timeout() {
        let s = settings(json!({"faultTimeout": "30s"}));
        let (a, o) = record(&s, of_step(None, 0), &fault(0, 10));
        assert_eq!(
            o,
            Outcome::Fault {
                message: "HTTP 503 (service unavailable)".into(),
                paused: false
            }
        );
        assert_eq!((a.checks, a.failed_checks), (0, 0));
        assert_eq!(a.fault_since, Some(at(10).to_string()));
        // Asked again sooner than the interval, counting from the attempt.
        assert_eq!(next_check(&s, &a, at(0)), at(20));
        let (a, o) = record(&s, a, &fault(0, 39));
        assert!(matches!(o, Outcome::Fault { paused: false, .. }));
        let (a, o) = record(&s, a, &fault(0, 40));
        assert!(matches!(o, Outcome::Fault { paused: true, .. }));
        // An answer ends the fault.
        let (a, o) = record(&s, a, &measured(0, 45, 100.0, 0.0, 10.0));
        assert_eq!(o, Outcome::Passed);
        assert_eq!((a.fault_since, a.fault), (None, None));
    }

    #[test]
    fn no_latency_figure_with_traffic_is_a_fault() {
        let s = settings(json!({}));
        let mut m = measured(0, 10, 100.0, 0.0, 0.0);
        m.result = Measurement::Values(Values {
            requests: 100.0,
            failures: 0.0,
            latency_ms: None,
        });
        let (_, o) = record(&s, of_step(None, 0), &m);
        assert!(matches!(o, Outcome::Fault { .. }), "{o:?}");
    }

    #[test]
    fn checks_are_due_an_interval_apart_from_the_steps_start() {
        let s = settings(json!({"window": "1m"}));
        let a = of_step(None, 0);
        assert_eq!(next_check(&s, &a, at(100)), at(110));
        let (a, _) = record(&s, a, &measured(0, 111, 100.0, 0.0, 1.0));
        assert_eq!(next_check(&s, &a, at(100)), at(121));
        // The window never reaches back before the step began.
        assert_eq!(window(&s, 0, at(100), at(111)).start, at(100));
        assert_eq!(window(&s, 0, at(100), at(200)).start, at(140));
        assert_eq!(window(&s, 0, at(100), at(111)).seconds(), 11);
    }

    #[test]
    fn a_new_step_starts_its_checks_afresh_and_keeps_the_failed_count() {
        let s = settings(json!({"failureLimit": 3}));
        let (a, _) = record(&s, of_step(None, 0), &measured(0, 10, 100.0, 50.0, 1.0));
        let (a, _) = record(&s, a, &measured(0, 20, 100.0, 0.0, 1.0));
        assert_eq!((a.checks, a.failed_checks), (2, 1));
        let next = of_step(Some(&a), 1);
        assert_eq!((next.step, next.checks, next.failed_checks), (1, 0, 1));
        assert_eq!(next.last_check_at, None);
        assert_eq!(of_step(Some(&a), 0), a);
    }
}
