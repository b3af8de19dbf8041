//! GatewayApplication: an API7 Cloud application, its APIs and a canary release driven step by step.

pub mod api7;
pub mod reconcile;

pub use reconcile::Reconciler;

/// Event reasons of this kind's platform writes.
/// (The application's create and adoption are the engine's: `converge_engine::external::event`.)
pub mod reason {
    pub const UPDATED: &str = "Updated";
    pub const API_CREATED: &str = "ApiCreated";
    pub const API_UPDATED: &str = "ApiUpdated";
    pub const API_DELETED: &str = "ApiDeleted";
    pub const CANARY_STARTED: &str = "CanaryStarted";
    pub const CANARY_ADVANCED: &str = "CanaryAdvanced";
    pub const CANARY_PROMOTED: &str = "CanaryPromoted";
    pub const CANARY_ABORTED: &str = "CanaryAborted";
    /// A check of the canary analysis: its values (a Warning when it failed).
    pub const CANARY_ANALYSIS: &str = "CanaryAnalysis";
    /// The metrics provider stopped answering usefully during an analysis.
    pub const CANARY_METRICS_UNAVAILABLE: &str = "CanaryMetricsUnavailable";
    /// The metrics provider answers again after a fault.
    pub const CANARY_RESUMED: &str = "CanaryResumed";
    /// Condition reason: the analysis aborted the release (Stalled until the spec changes).
    pub const CANARY_ANALYSIS_FAILED: &str = "CanaryAnalysisFailed";
    /// Condition reason: the canary holds its weight because metrics are unavailable.
    pub const CANARY_PAUSED: &str = "CanaryPaused";
}
