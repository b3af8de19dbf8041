//! OpsChain's status codes and step types. OpsChain may add values, so each enum keeps an
//! unknown value as it was sent (`Other`) instead of failing to decode.

use std::fmt;

/// An enum decoded from an OpsChain string, with `as_str` and `Display` giving the string back.
macro_rules! platform_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
        #[serde(from = "String")]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )*
            /// A value this client does not know, as OpsChain sent it.
            Other(String),
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $( $text => $name::$variant, )*
                    _ => $name::Other(text),
                }
            }
        }

        impl $name {
            /// The value as OpsChain writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Other(text) => text,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

platform_enum! {
    /// A workflow run's `status_code`.
    RunStatus {
        Pending = "pending",
        Queued = "queued",
        Initializing = "initializing",
        Running = "running",
        /// A step waits for a person: to be continued, or approved or rejected.
        Waiting = "waiting",
        Success = "success",
        Error = "error",
        Failed = "failed",
        Cancelled = "cancelled",
        Aborted = "aborted",
    }
}

impl RunStatus {
    /// Whether the run is over. An unknown status counts as still under way, so a caller keeps
    /// watching rather than reporting an outcome it cannot name.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            RunStatus::Success
                | RunStatus::Error
                | RunStatus::Failed
                | RunStatus::Cancelled
                | RunStatus::Aborted
        )
    }
}

platform_enum! {
    /// A workflow step's `status_code`: the run statuses, plus how a wait step ended.
    StepStatus {
        Pending = "pending",
        Queued = "queued",
        Initializing = "initializing",
        Running = "running",
        /// Only a waiting step takes a decision (continue, approve, reject).
        Waiting = "waiting",
        Success = "success",
        Error = "error",
        Failed = "failed",
        Cancelled = "cancelled",
        Aborted = "aborted",
        Approved = "approved",
        Rejected = "rejected",
        Continued = "continued",
    }
}

impl StepStatus {
    /// Whether the step is over (an unknown status counts as still under way).
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            StepStatus::Pending
                | StepStatus::Queued
                | StepStatus::Initializing
                | StepStatus::Running
                | StepStatus::Waiting
                | StepStatus::Other(_)
        )
    }
}

platform_enum! {
    /// What a run step is, from its JSON:API `type`.
    StepKind {
        /// A stage grouping child steps (also the run's root step).
        Stage = "workflow_noop_step",
        /// An action run on a project, environment or asset.
        Change = "workflow_change_step",
        /// A wait for a person: continued, or approved or rejected when it names approvers.
        Wait = "workflow_wait_step",
        /// A child workflow.
        Workflow = "workflow_workflow_step",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_decode_and_new_ones_are_kept() {
        let statuses: Vec<RunStatus> =
            serde_json::from_str(r#"["waiting", "success", "paused"]"#).unwrap();
        assert_eq!(
            statuses,
            [
                RunStatus::Waiting,
                RunStatus::Success,
                RunStatus::Other("paused".into())
            ]
        );
        assert!(!statuses[0].is_final());
        assert!(statuses[1].is_final());
        assert!(!statuses[2].is_final());
        assert_eq!(statuses[2].to_string(), "paused");
        let step: StepStatus = serde_json::from_str(r#""approved""#).unwrap();
        assert!(step.is_final());
        assert_eq!(step.as_str(), "approved");
        let kind: StepKind = serde_json::from_str(r#""workflow_wait_step""#).unwrap();
        assert_eq!(kind, StepKind::Wait);
    }
}
