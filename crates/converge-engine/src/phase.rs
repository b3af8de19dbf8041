//! Where a reconcile left an object, and the kstatus conditions that say so (pure).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use converge_api::common::conditions::{
    self, CommonStatus, Desired, READY, RECONCILING, STALLED, reason,
};

/// The outcome of one reconcile, as a person (and kstatus) should read it.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// The platform matches the spec.
    Converged { message: String },
    /// Work is under way on the platform (a build, a rollout, a canary pause): look again after
    /// `recheck`.
    Progressing { message: String, recheck: Duration },
    /// Another object this one needs is not Ready yet; its watch wakes this one up.
    Waiting { message: String },
    /// A retryable platform failure (network, 5xx, 429): retried with backoff.
    Retrying { message: String },
    /// Nothing will change without a person: a conflict, an invalid spec, a terminal platform
    /// error. `reason` is one of `conditions::reason`.
    Stalled {
        reason: &'static str,
        message: String,
    },
    /// Changes are needed but writes are held by `suspend` or ObserveOnly; `changes` describes
    /// them. Empty means the platform matches.
    Held { by: Hold, changes: Vec<String> },
}

/// What holds writes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    Suspended,
    ObserveOnly,
}

impl Phase {
    pub fn converged(message: impl Into<String>) -> Phase {
        Phase::Converged {
            message: message.into(),
        }
    }
    pub fn progressing(message: impl Into<String>, recheck: Duration) -> Phase {
        Phase::Progressing {
            message: message.into(),
            recheck,
        }
    }
    pub fn waiting(message: impl Into<String>) -> Phase {
        Phase::Waiting {
            message: message.into(),
        }
    }
    pub fn stalled(reason: &'static str, message: impl Into<String>) -> Phase {
        Phase::Stalled {
            reason,
            message: message.into(),
        }
    }

    /// What the phase says, as a line (a held phase: its changes).
    pub fn message(&self) -> String {
        match self {
            Phase::Converged { message }
            | Phase::Progressing { message, .. }
            | Phase::Waiting { message }
            | Phase::Retrying { message }
            | Phase::Stalled { message, .. } => message.clone(),
            Phase::Held { changes, .. } => changes.join("; "),
        }
    }

    /// Ready is True.
    pub fn is_ready(&self) -> bool {
        matches!(self, Phase::Converged { .. })
            || matches!(self, Phase::Held { changes, .. } if changes.is_empty())
    }
}

/// The changes a held object's Ready message lists: the inverse of the message `apply` writes
/// for `Phase::Held`, for `converge plan`. None for any other message.
pub fn held_changes(message: &str) -> Option<Vec<String>> {
    let rest = message
        .strip_prefix("ObserveOnly: ")
        .or_else(|| message.strip_prefix("suspended: "))?;
    if rest == "the platform matches the spec" {
        return Some(Vec::new());
    }
    let (count, list) = rest.split_once(" change(s) not made: ")?;
    let count: usize = count.parse().ok()?;
    let parts: Vec<String> = list.split("; ").map(str::to_string).collect();
    // A change that itself contains "; " would split wrongly: keep the list whole then.
    Some(if parts.len() == count {
        parts
    } else {
        vec![list.to_string()]
    })
}

/// Sets Ready, Reconciling and Stalled for `phase`, and observedGeneration. kstatus reads an
/// absent Reconciling or Stalled as "not so", so the one that does not apply is removed rather
/// than set False. Returns whether anything changed.
pub fn apply(status: &mut CommonStatus, phase: &Phase, generation: Option<i64>, now: Time) -> bool {
    let (ready, ready_reason, message, reconciling, stalled): (
        bool,
        &str,
        String,
        Option<&str>,
        Option<&str>,
    ) = match phase {
        Phase::Converged { message } => (true, reason::CONVERGED, message.clone(), None, None),
        Phase::Progressing { message, .. } => (
            false,
            reason::PROGRESSING,
            message.clone(),
            Some(reason::PROGRESSING),
            None,
        ),
        Phase::Waiting { message } => (
            false,
            reason::WAITING_FOR_REFERENCE,
            message.clone(),
            Some(reason::WAITING_FOR_REFERENCE),
            None,
        ),
        Phase::Retrying { message } => (
            false,
            reason::PLATFORM_RETRYING,
            message.clone(),
            Some(reason::PLATFORM_RETRYING),
            None,
        ),
        Phase::Stalled { reason, message } => (false, reason, message.clone(), None, Some(reason)),
        Phase::Held { by, changes } => {
            let (r, what) = match by {
                Hold::Suspended => (reason::SUSPENDED, "suspended"),
                Hold::ObserveOnly => (reason::OBSERVED, "ObserveOnly"),
            };
            let message = if changes.is_empty() {
                format!("{what}: the platform matches the spec")
            } else {
                format!(
                    "{what}: {} change(s) not made: {}",
                    changes.len(),
                    changes.join("; ")
                )
            };
            (changes.is_empty(), r, message, None, None)
        }
    };
    let mut changed = status.observed_generation != generation;
    status.observed_generation = generation;
    let conds = &mut status.conditions;
    changed |= conditions::set(
        conds,
        Desired {
            type_: READY,
            status: ready,
            reason: ready_reason,
            message: message.clone(),
        },
        generation,
        now.clone(),
    );
    changed |= match reconciling {
        Some(r) => conditions::set(
            conds,
            Desired {
                type_: RECONCILING,
                status: true,
                reason: r,
                message: message.clone(),
            },
            generation,
            now.clone(),
        ),
        None => conditions::remove(conds, RECONCILING),
    };
    changed |= match stalled {
        Some(r) => conditions::set(
            conds,
            Desired {
                type_: STALLED,
                status: true,
                reason: r,
                message,
            },
            generation,
            now,
        ),
        None => conditions::remove(conds, STALLED),
    };
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap())
    }

    fn types(s: &CommonStatus) -> Vec<(String, String, String)> {
        let mut v: Vec<_> = s
            .conditions
            .iter()
            .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone()))
            .collect();
        v.sort();
        v
    }

    fn t(a: &str, b: &str, c: &str) -> (String, String, String) {
        (a.into(), b.into(), c.into())
    }

    #[test]
    fn converged_is_ready_with_no_abnormal_condition() {
        let mut s = CommonStatus::default();
        apply(
            &mut s,
            &Phase::progressing("building", Duration::from_secs(2)),
            Some(1),
            at(1),
        );
        assert!(apply(&mut s, &Phase::converged("done"), Some(1), at(2)));
        assert_eq!(types(&s), vec![t("Ready", "True", "Converged")]);
        assert_eq!(s.observed_generation, Some(1));
    }

    #[test]
    fn progressing_waiting_and_retrying_are_reconciling() {
        for (phase, r) in [
            (
                Phase::progressing("building", Duration::from_secs(2)),
                reason::PROGRESSING,
            ),
            (Phase::waiting("Project x"), reason::WAITING_FOR_REFERENCE),
            (
                Phase::Retrying {
                    message: "503".into(),
                },
                reason::PLATFORM_RETRYING,
            ),
        ] {
            let mut s = CommonStatus::default();
            apply(
                &mut s,
                &Phase::stalled(reason::CONFLICT, "x"),
                Some(1),
                at(1),
            );
            apply(&mut s, &phase, Some(2), at(2));
            assert_eq!(
                types(&s),
                vec![t("Ready", "False", r), t("Reconciling", "True", r)],
                "{phase:?}"
            );
        }
    }

    #[test]
    fn stalled_says_why_and_is_not_reconciling() {
        let mut s = CommonStatus::default();
        apply(&mut s, &Phase::waiting("x"), Some(1), at(1));
        apply(
            &mut s,
            &Phase::stalled(reason::CONFLICT, "adopt it"),
            Some(1),
            at(2),
        );
        assert_eq!(
            types(&s),
            vec![
                t("Ready", "False", reason::CONFLICT),
                t("Stalled", "True", reason::CONFLICT)
            ]
        );
        assert_eq!(s.conditions[0].message, "adopt it");
    }

    #[test]
    fn held_is_ready_only_when_nothing_differs() {
        let mut s = CommonStatus::default();
        let phase = Phase::Held {
            by: Hold::Suspended,
            changes: vec!["update name".into()],
        };
        apply(&mut s, &phase, Some(1), at(1));
        assert_eq!(types(&s), vec![t("Ready", "False", reason::SUSPENDED)]);
        assert!(s.conditions[0].message.contains("update name"));
        assert!(!phase.is_ready());
        let phase = Phase::Held {
            by: Hold::ObserveOnly,
            changes: vec![],
        };
        apply(&mut s, &phase, Some(1), at(2));
        assert_eq!(types(&s), vec![t("Ready", "True", reason::OBSERVED)]);
        assert!(phase.is_ready());
        assert_eq!(held_changes(&s.conditions[0].message), Some(vec![]));
        let phase = Phase::Held {
            by: Hold::ObserveOnly,
            changes: vec!["create project \"a\"".into(), "set x; y".into()],
        };
        apply(&mut s, &phase, Some(1), at(3));
        assert_eq!(
            held_changes(&s.conditions[0].message),
            Some(vec!["create project \"a\"; set x; y".to_string()])
        );
        let phase = Phase::Held {
            by: Hold::ObserveOnly,
            changes: vec!["create project \"a\"".into(), "add environment dev".into()],
        };
        apply(&mut s, &phase, Some(1), at(4));
        assert_eq!(
            held_changes(&s.conditions[0].message).unwrap(),
            vec!["create project \"a\"", "add environment dev"]
        );
        assert_eq!(held_changes("the platform matches"), None);
    }

    #[test]
    fn the_same_phase_twice_changes_nothing() {
        let mut s = CommonStatus::default();
        assert!(apply(&mut s, &Phase::converged("ok"), Some(3), at(1)));
        assert!(!apply(&mut s, &Phase::converged("ok"), Some(3), at(9)));
        assert!(
            apply(&mut s, &Phase::converged("ok"), Some(4), at(9)),
            "a new generation is a change"
        );
    }
}
