//! Workflow: an OpsChain workflow with versions, runs and approvals, or a Cycloid pipeline job build.

pub mod cycloid;
pub mod opschain;
pub mod reconcile;

pub use reconcile::Reconciler;
pub mod runs;
pub mod steps;

/// Condition and Event reasons of this kind.
pub mod reason {
    /// The last run ended without success (Stalled until a later run succeeds).
    pub const RUN_FAILED: &str = "RunFailed";
    /// The last run ended because an approval step was rejected (by the approval policy or a
    /// person), as the platform records it.
    pub const RUN_REJECTED: &str = "RunRejected";
    /// A run is due but the workflow has no published version to run.
    pub const NOT_PUBLISHED: &str = "NotPublished";
    /// A run waits for a person to decide a step (Event).
    pub const WAITING_FOR_APPROVAL: &str = "WaitingForApproval";
}
