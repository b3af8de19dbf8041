//! What a PlatformConnection's status should say, from what was observed; no I/O.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::crd::{PlatformConnection, PlatformConnectionStatus};
use super::credentials::CredentialProblem;
use crate::clients::{ClientError, PlatformInfo};
use crate::common::conditions::{self, Desired, READY, RECONCILING, STALLED, reason};

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
    use crate::connection::crd::{Credentials, OpsChainConnection, PlatformConnectionSpec};

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
