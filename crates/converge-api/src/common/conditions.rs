//! Condition types and reasons (kstatus semantics), and the one function that changes them.
//!
//! kstatus reads `Ready`, `Reconciling` and `Stalled`: an object is Current when Ready is True and
//! neither abnormal-true condition is present, InProgress while Reconciling is True, and Failed
//! when Stalled is True. Flux, Argo CD and `kubectl wait --for=condition=Ready` all agree on that.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// Why a condition has its status. One place for every reason string, so Events, status and
/// tests spell them the same way.
pub mod reason {
    pub const CONVERGED: &str = "Converged";
    pub const PROGRESSING: &str = "Progressing";
    pub const CONNECTED: &str = "Connected";
    pub const WAITING_FOR_REFERENCE: &str = "WaitingForReference";
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const PLATFORM_ERROR: &str = "PlatformError";
    pub const PLATFORM_RETRYING: &str = "PlatformRetrying";
    pub const CONFLICT: &str = "AlreadyExistsNotAdopted";
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    pub const CREDENTIALS_MISSING: &str = "CredentialsMissing";
    pub const SUSPENDED: &str = "Suspended";
    pub const OBSERVED: &str = "Observed";
    pub const DELETING: &str = "Deleting";
    /// The platform refused one action to the connection's user (HTTP 403), although the
    /// connection's own check accepts its credentials.
    pub const FORBIDDEN: &str = "Forbidden";
}

/// observedGeneration and conditions: the part of status every kind shares.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommonStatus {
    /// The metadata.generation this status describes. Status is stale while it lags behind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling and Stalled, in the kstatus sense.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The natural key (name, canonical or code) of a platform create in flight. Written before
    /// the create call and cleared once the platform id is recorded, so a controller restarted
    /// in between recognises the object it created instead of creating a second one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_create: Option<String>,
    /// SHA-256 of the declared input this object read besides its spec (ConfigMap keys) at its
    /// last reconcile: when it changes, the writes that follow are a declared change, not
    /// drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_hash: Option<String>,
    /// The last `reconcile.converge.dev/requestedAt` annotation value handled: a reconcile
    /// with a fresh read of the platform ran after it was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

/// Setting this annotation to a new value (`date +%s`, say) asks for a reconcile now, with a
/// fresh read of the platform; status.lastHandledReconcileAt records it once done. As Flux's
/// `reconcile.fluxcd.io/requestedAt`.
pub const REQUESTED_AT: &str = "reconcile.converge.dev/requestedAt";

/// The requestedAt annotation's value when status has not handled it yet.
pub fn unhandled_request<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    status: Option<&CommonStatus>,
) -> Option<&'a str> {
    let requested = meta.annotations.as_ref()?.get(REQUESTED_AT)?;
    let handled = status.and_then(|s| s.last_handled_reconcile_at.as_deref());
    (handled != Some(requested.as_str())).then_some(requested.as_str())
}

impl CommonStatus {
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    pub fn is_true(&self, type_: &str) -> bool {
        self.condition(type_).is_some_and(|c| c.status == "True")
    }
}

/// What a condition should say; `set` turns it into a `Condition` with a transition time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired<'a> {
    pub type_: &'a str,
    pub status: bool,
    pub reason: &'a str,
    pub message: String,
}

/// Sets a condition, keeping `lastTransitionTime` when the status did not flip so that an
/// unchanged condition serializes identically and status is not rewritten for nothing.
/// Returns whether anything changed.
pub fn set(
    conditions: &mut Vec<Condition>,
    want: Desired<'_>,
    generation: Option<i64>,
    now: Time,
) -> bool {
    let status = if want.status { "True" } else { "False" };
    match conditions.iter_mut().find(|c| c.type_ == want.type_) {
        Some(c) => {
            let changed = c.status != status
                || c.reason != want.reason
                || c.message != want.message
                || c.observed_generation != generation;
            if c.status != status {
                c.last_transition_time = now;
            }
            c.status = status.to_string();
            c.reason = want.reason.to_string();
            c.message = want.message;
            c.observed_generation = generation;
            changed
        }
        None => {
            conditions.push(Condition {
                type_: want.type_.to_string(),
                status: status.to_string(),
                reason: want.reason.to_string(),
                message: want.message,
                observed_generation: generation,
                last_transition_time: now,
            });
            true
        }
    }
}

/// Removes a condition; kstatus prefers an absent abnormal-true condition to a False one.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    before != conditions.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    fn at(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap())
    }

    fn ready(status: bool, message: &str) -> Desired<'static> {
        Desired {
            type_: READY,
            status,
            reason: reason::CONVERGED,
            message: message.into(),
        }
    }

    #[test]
    fn adding_a_condition_is_a_change() {
        let mut c = vec![];
        assert!(set(&mut c, ready(true, "ok"), Some(1), at(10)));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].status, "True");
        assert_eq!(c[0].last_transition_time, at(10));
    }

    #[test]
    fn setting_the_same_condition_again_changes_nothing() {
        let mut c = vec![];
        set(&mut c, ready(true, "ok"), Some(1), at(10));
        let before = c.clone();
        assert!(!set(&mut c, ready(true, "ok"), Some(1), at(99)));
        assert_eq!(
            c, before,
            "the transition time must not move when nothing flipped"
        );
    }

    #[test]
    fn a_new_message_is_a_change_but_keeps_the_transition_time() {
        let mut c = vec![];
        set(&mut c, ready(false, "building"), Some(1), at(10));
        assert!(set(&mut c, ready(false, "deploying"), Some(1), at(20)));
        assert_eq!(c[0].message, "deploying");
        assert_eq!(c[0].last_transition_time, at(10));
    }

    #[test]
    fn a_flip_moves_the_transition_time() {
        let mut c = vec![];
        set(&mut c, ready(false, "building"), Some(1), at(10));
        assert!(set(&mut c, ready(true, "done"), Some(2), at(20)));
        assert_eq!(c[0].last_transition_time, at(20));
        assert_eq!(c[0].observed_generation, Some(2));
    }

    #[test]
    fn a_request_is_pending_until_status_records_its_value() {
        let mut meta = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta::default();
        let mut status = CommonStatus::default();
        assert_eq!(unhandled_request(&meta, Some(&status)), None);
        meta.annotations = Some([(REQUESTED_AT.to_string(), "1".to_string())].into());
        assert_eq!(unhandled_request(&meta, None), Some("1"));
        assert_eq!(unhandled_request(&meta, Some(&status)), Some("1"));
        status.last_handled_reconcile_at = Some("1".into());
        assert_eq!(unhandled_request(&meta, Some(&status)), None);
        meta.annotations = Some([(REQUESTED_AT.to_string(), "2".to_string())].into());
        assert_eq!(unhandled_request(&meta, Some(&status)), Some("2"));
    }

    #[test]
    fn remove_reports_whether_it_removed() {
        let mut c = vec![];
        set(&mut c, ready(true, "ok"), None, at(1));
        assert!(!remove(&mut c, STALLED));
        assert!(remove(&mut c, READY));
        assert!(c.is_empty());
    }
}
