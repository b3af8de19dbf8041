//! The two 422 refusals a caller must tell apart from other errors, because the right reaction
//! is not to report a failure:
//!
//! - a decision on a step that is not waiting (`Cannot approve step because it is in the
//!   "approved" state`): the step was already decided, possibly by our own earlier attempt
//!   whose answer was lost, or is not waiting yet;
//! - a properties update made to a version that is no longer current (`Version mismatch, the
//!   properties are now at version 3 whilst...`): read again and reapply.
//!
//! They are recognised from the platform's message (the shared HTTP layer keeps the message,
//! not the body), with the wording the official spec records.

use super::jsonapi::source_note;
use super::status::StepStatus;
use crate::ClientError;

/// Why a continue, approve or reject failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StepActionError {
    /// 422: the step is not waiting. `status` is the state OpsChain named: `Approved`,
    /// `Rejected` or `Continued` when it was already decided (by a person, or by an earlier
    /// attempt of ours), `Pending`/`Running` when it is not waiting yet, `Cancelled`/`Aborted`
    /// when its run ended.
    #[error("{error}")]
    NotWaiting {
        status: StepStatus,
        error: ClientError,
    },
    /// Anything else: 403 for a caller who is not one of the step's approvers, 404 for an
    /// unknown step, 422 for approving a step that is continued instead (or the reverse),
    /// transport and server errors.
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl StepActionError {
    pub(super) fn classify(error: ClientError) -> Self {
        match not_waiting_status(&error) {
            Some(status) => StepActionError::NotWaiting { status, error },
            None => StepActionError::Client(error),
        }
    }

    /// The underlying error, whatever the kind.
    pub fn client_error(&self) -> &ClientError {
        match self {
            StepActionError::NotWaiting { error, .. } | StepActionError::Client(error) => error,
        }
    }
}

impl From<StepActionError> for ClientError {
    fn from(e: StepActionError) -> ClientError {
        match e {
            StepActionError::NotWaiting { error, .. } | StepActionError::Client(error) => error,
        }
    }
}

/// `... because it is in the "<state>" state`, on a 422.
fn not_waiting_status(error: &ClientError) -> Option<StepStatus> {
    if error.status() != Some(422) {
        return None;
    }
    let (_, rest) = error.message().split_once("because it is in the \"")?;
    let (state, _) = rest.split_once("\" state")?;
    Some(StepStatus::from(state.to_string()))
}

/// Why a versioned properties update failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PropertiesUpdateError {
    /// 422: the properties changed since the version the update was made to. `current` is the
    /// version OpsChain reported, when its message names it. Read them again and reapply.
    #[error("{error}")]
    VersionMismatch {
        current: Option<u64>,
        error: ClientError,
    },
    /// Anything else (404 for unknown properties, transport and server errors...).
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl PropertiesUpdateError {
    pub(super) fn classify(error: ClientError) -> Self {
        let on_version = error.status() == Some(422)
            && error
                .message()
                .contains(&source_note("/data/attributes/version"));
        if on_version {
            PropertiesUpdateError::VersionMismatch {
                current: current_version(error.message()),
                error,
            }
        } else {
            PropertiesUpdateError::Client(error)
        }
    }

    /// The underlying error, whatever the kind.
    pub fn client_error(&self) -> &ClientError {
        match self {
            PropertiesUpdateError::VersionMismatch { error, .. }
            | PropertiesUpdateError::Client(error) => error,
        }
    }
}

impl From<PropertiesUpdateError> for ClientError {
    fn from(e: PropertiesUpdateError) -> ClientError {
        match e {
            PropertiesUpdateError::VersionMismatch { error, .. }
            | PropertiesUpdateError::Client(error) => error,
        }
    }
}

/// `... are now at version <n> ...`.
fn current_version(message: &str) -> Option<u64> {
    let (_, rest) = message.split_once("now at version ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, message: &str) -> ClientError {
        ClientError::Status {
            platform: "opschain",
            operation: "op",
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    #[test]
    fn a_decision_on_a_step_that_is_not_waiting_is_recognised() {
        let refused = status(
            422,
            "Cannot approve step because it is in the \"approved\" state (at /data/attributes/base)",
        );
        match StepActionError::classify(refused) {
            StepActionError::NotWaiting { status, error } => {
                assert_eq!(status, StepStatus::Approved);
                assert_eq!(error.status(), Some(422));
            }
            other => panic!("{other:?}"),
        }
        let wrong_kind = status(
            422,
            "Cannot continue step because it requires approval (at /data/attributes/base)",
        );
        assert!(matches!(
            StepActionError::classify(wrong_kind),
            StepActionError::Client(_)
        ));
        let forbidden = status(403, "Cannot approve step because it is in the \"x\" state");
        assert!(matches!(
            StepActionError::classify(forbidden),
            StepActionError::Client(_)
        ));
    }

    #[test]
    fn a_version_mismatch_is_recognised() {
        let refused = status(
            422,
            "Version mismatch, the properties are now at version 12 whilst these modifications \
             were made to version 3. Please fetch the latest version of the properties and \
             reapply the edits. (at /data/attributes/version)",
        );
        match PropertiesUpdateError::classify(refused) {
            PropertiesUpdateError::VersionMismatch { current, .. } => {
                assert_eq!(current, Some(12))
            }
            other => panic!("{other:?}"),
        }
        let other = status(422, "Data must be a JSON object (at /data/attributes/data)");
        assert!(matches!(
            PropertiesUpdateError::classify(other),
            PropertiesUpdateError::Client(_)
        ));
    }
}
