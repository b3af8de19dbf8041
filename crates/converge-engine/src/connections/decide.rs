//! What a PlatformConnection's status should say, from what was observed; no I/O.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::credentials::CredentialProblem;
use converge_api::common::conditions::{self, Desired, READY, RECONCILING, STALLED, reason};
use converge_api::connection::{PlatformConnection, PlatformConnectionStatus, RequestBudgetStatus};
use converge_platforms::{ClientError, PlatformInfo};

/// How often a healthy connection is checked again (and a broken one retried without a change).
pub const RECHECK: Duration = Duration::from_secs(300);
/// First retry after a transient failure; the platform's Retry-After wins when it is longer.
pub const RETRY: Duration = Duration::from_secs(15);

/// The outcome of talking to the platform.
pub enum Observed<'a> {
    Credentials(&'a CredentialProblem),
    Invalid(&'a str),
    Checked(Result<&'a PlatformInfo, &'a ClientError>),
}

/// An Event to record because the connection's health changed.
#[derive(Debug, PartialEq, Eq)]
pub struct Transition {
    pub warning: bool,
    pub reason: &'static str,
    pub note: String,
}

pub struct Decision {
    pub status: PlatformConnectionStatus,
    pub requeue: Duration,
    pub event: Option<Transition>,
}

/// Calls a window of the budget needs before it is reported: fewer say little, and a check
/// right after a status write (which wakes this controller again) then changes nothing.
pub const BUDGET_WINDOW_CALLS: u64 = 100;

/// The budget's report for status and, when saturation begins, a Warning Event.
pub fn budget_report(
    previous: Option<&RequestBudgetStatus>,
    window: &converge_platforms::budget::Window,
    rate: u32,
    now: &jiff::Timestamp,
) -> (RequestBudgetStatus, Option<Transition>) {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let status = RequestBudgetStatus {
        saturated: window.saturated(),
        calls: i64::try_from(window.calls).unwrap_or(i64::MAX),
        waited_calls: i64::try_from(window.waited).unwrap_or(i64::MAX),
        average_wait_milliseconds: ms(window.average_wait()),
        max_wait_milliseconds: ms(window.max_wait),
        since: Some(window.since.to_string()),
        until: Some(now.to_string()),
    };
    let began = status.saturated && !previous.is_some_and(|p| p.saturated);
    let event = began.then(|| Transition {
        warning: true,
        reason: "RequestBudgetSaturated",
        note: format!(
            "calls waited {} ms on average (longest {} ms) for this connection's request budget \
             of {rate} request(s)/s: {} of {} calls waited since {}. First reconciles and spec \
             changes go before drift checks; raise spec.requestBudget.requestsPerSecond if the \
             platform allows more",
            status.average_wait_milliseconds,
            status.max_wait_milliseconds,
            status.waited_calls,
            status.calls,
            window.since,
        ),
    });
    (status, event)
}

pub fn decide(
    conn: &PlatformConnection,
    platform: &str,
    secret_version: Option<String>,
    observed: Observed<'_>,
    now: Time,
) -> Decision {
    let previous = conn.status.clone().unwrap_or_default();
    let mut status = previous.clone();
    status.platform = Some(platform.to_string());
    status.secret_resource_version = secret_version;
    let generation = conn.metadata.generation;
    let c = &mut status.common.conditions;

    let (ready, why, message, stalled, requeue) = match observed {
        Observed::Credentials(problem) => (
            false,
            reason::CREDENTIALS_MISSING,
            problem.to_string(),
            true,
            RECHECK,
        ),
        Observed::Invalid(message) => (
            false,
            reason::INVALID_SPEC,
            message.to_string(),
            true,
            RECHECK,
        ),
        Observed::Checked(Ok(info)) => {
            status.platform_version = info.version.clone();
            (
                true,
                reason::CONNECTED,
                format!(
                    "authenticated to {platform} at {}: {}",
                    conn.spec.endpoint, info.detail
                ),
                false,
                RECHECK,
            )
        }
        Observed::Checked(Err(e)) if e.is_retryable() => {
            let wait = e.retry_after().unwrap_or(RETRY).max(RETRY);
            (false, reason::PLATFORM_RETRYING, e.to_string(), false, wait)
        }
        Observed::Checked(Err(e)) if e.is_unauthorized() => (
            false,
            reason::AUTHENTICATION_FAILED,
            e.to_string(),
            true,
            RECHECK,
        ),
        Observed::Checked(Err(e)) => (false, reason::PLATFORM_ERROR, e.to_string(), true, RECHECK),
    };

    conditions::set(
        c,
        Desired {
            type_: READY,
            status: ready,
            reason: why,
            message: message.clone(),
        },
        generation,
        now.clone(),
    );
    if ready {
        conditions::remove(c, RECONCILING);
        conditions::remove(c, STALLED);
    } else if stalled {
        conditions::remove(c, RECONCILING);
        conditions::set(
            c,
            Desired {
                type_: STALLED,
                status: true,
                reason: why,
                message: message.clone(),
            },
            generation,
            now,
        );
    } else {
        conditions::remove(c, STALLED);
        conditions::set(
            c,
            Desired {
                type_: RECONCILING,
                status: true,
                reason: why,
                message: message.clone(),
            },
            generation,
            now,
        );
    }
    status.common.observed_generation = generation;
    // A requestedAt annotation is handled by this check, which always asks the platform.
    if let Some(request) = conditions::unhandled_request(&conn.metadata, Some(&previous.common)) {
        status.common.last_handled_reconcile_at = Some(request.to_string());
    }

    let was_ready = previous.common.is_true(READY);
    let had_reason = previous.common.condition(READY).map(|c| c.reason.clone());
    let event = if ready && !was_ready {
        Some(Transition {
            warning: false,
            reason: reason::CONNECTED,
            note: message,
        })
    } else if !ready && (was_ready || had_reason.as_deref() != Some(why)) {
        Some(Transition {
            warning: true,
            reason: why,
            note: message,
        })
    } else {
        None
    };
    Decision {
        status,
        requeue,
        event,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saturated_budget_is_reported_with_an_event_when_saturation_begins() {
        let window = converge_platforms::budget::Window {
            since: "2026-01-01T00:00:00Z".parse().unwrap(),
            calls: 1200,
            waited: 1100,
            total_wait: Duration::from_secs(600),
            max_wait: Duration::from_millis(2500),
        };
        let now: jiff::Timestamp = "2026-01-01T00:05:00Z".parse().unwrap();
        let (status, event) = budget_report(None, &window, 100, &now);
        assert!(status.saturated);
        assert_eq!(status.average_wait_milliseconds, 500);
        assert_eq!(status.max_wait_milliseconds, 2500);
        assert_eq!((status.calls, status.waited_calls), (1200, 1100));
        assert_eq!(status.until.as_deref(), Some("2026-01-01T00:05:00Z"));
        let event = event.unwrap();
        assert_eq!(event.reason, "RequestBudgetSaturated");
        assert!(event.note.contains("500 ms on average"), "{}", event.note);
        assert!(event.note.contains("100 request(s)/s"), "{}", event.note);
        // Still saturated: status moves on, no second Event.
        assert!(budget_report(Some(&status), &window, 100, &now).1.is_none());
        let calm = converge_platforms::budget::Window {
            waited: 0,
            total_wait: Duration::ZERO,
            max_wait: Duration::ZERO,
            ..window
        };
        let (after, event) = budget_report(Some(&status), &calm, 100, &now);
        assert!(!after.saturated && event.is_none());
    }
    use converge_api::connection::{Credentials, OpsChainConnection, PlatformConnectionSpec};

    fn conn(status: Option<PlatformConnectionStatus>) -> PlatformConnection {
        let mut c = PlatformConnection::new(
            "c",
            PlatformConnectionSpec {
                endpoint: "https://ops.example.test".into(),
                allow_insecure_http: None,
                credentials: Credentials {
                    secret_name: "s".into(),
                    type_: None,
                    token_key: None,
                    username_key: None,
                    password_key: None,
                },
                tls: None,
                request_budget: None,
                timeout_seconds: None,
                choreo: None,
                cycloid: None,
                frends: None,
                api7: None,
                opschain: Some(OpsChainConnection {}),
            },
        );
        c.metadata.generation = Some(3);
        c.status = status;
        c
    }

    fn t(s: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(s).unwrap())
    }

    fn info() -> PlatformInfo {
        PlatformInfo {
            version: Some("2025.1".into()),
            detail: "instance ok".into(),
        }
    }

    fn error(status: u16) -> ClientError {
        ClientError::Status {
            platform: "opschain",
            operation: "getInfo",
            status,
            message: "nope".into(),
            retry_after: None,
        }
    }

    #[test]
    fn a_successful_check_is_ready_with_the_version_and_an_event() {
        let i = info();
        let d = decide(
            &conn(None),
            "opschain",
            Some("7".into()),
            Observed::Checked(Ok(&i)),
            t(1),
        );
        assert!(d.status.common.is_true(READY));
        assert!(
            d.status.common.condition(STALLED).is_none()
                && d.status.common.condition(RECONCILING).is_none()
        );
        assert_eq!(d.status.platform_version.as_deref(), Some("2025.1"));
        assert_eq!(d.status.secret_resource_version.as_deref(), Some("7"));
        assert_eq!(d.status.common.observed_generation, Some(3));
        assert_eq!(d.requeue, RECHECK);
        assert!(matches!(d.event, Some(Transition { warning: false, .. })));
    }

    #[test]
    fn checking_again_with_the_same_result_changes_nothing_and_records_no_event() {
        let i = info();
        let first = decide(
            &conn(None),
            "opschain",
            Some("7".into()),
            Observed::Checked(Ok(&i)),
            t(1),
        );
        let again = decide(
            &conn(Some(first.status.clone())),
            "opschain",
            Some("7".into()),
            Observed::Checked(Ok(&i)),
            t(99),
        );
        assert_eq!(
            again.status, first.status,
            "no status write when nothing changed"
        );
        assert_eq!(again.event, None);
    }

    #[test]
    fn rejected_credentials_stall_with_the_platforms_message() {
        let e = error(401);
        let d = decide(
            &conn(None),
            "opschain",
            None,
            Observed::Checked(Err(&e)),
            t(1),
        );
        let stalled = d.status.common.condition(STALLED).unwrap();
        assert_eq!(stalled.reason, reason::AUTHENTICATION_FAILED);
        assert!(stalled.message.contains("nope"));
        assert!(!d.status.common.is_true(READY));
        assert!(d.event.unwrap().warning);
    }

    #[test]
    fn a_transient_failure_keeps_reconciling_and_waits_at_least_retry_after() {
        let e = ClientError::Status {
            platform: "opschain",
            operation: "getInfo",
            status: 429,
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(60)),
        };
        let d = decide(
            &conn(None),
            "opschain",
            None,
            Observed::Checked(Err(&e)),
            t(1),
        );
        assert!(d.status.common.is_true(RECONCILING));
        assert!(d.status.common.condition(STALLED).is_none());
        assert_eq!(d.requeue, Duration::from_secs(60));
    }

    #[test]
    fn a_missing_secret_stalls_and_recovery_clears_the_stall() {
        let p = CredentialProblem::SecretMissing("s".into());
        let broken = decide(
            &conn(None),
            "opschain",
            None,
            Observed::Credentials(&p),
            t(1),
        );
        assert_eq!(
            broken.status.common.condition(STALLED).unwrap().reason,
            reason::CREDENTIALS_MISSING
        );
        let i = info();
        let fixed = decide(
            &conn(Some(broken.status)),
            "opschain",
            Some("8".into()),
            Observed::Checked(Ok(&i)),
            t(2),
        );
        assert!(fixed.status.common.is_true(READY));
        assert!(fixed.status.common.condition(STALLED).is_none());
        assert!(matches!(
            fixed.event,
            Some(Transition { warning: false, .. })
        ));
    }
}
