//! GatewayApplication: an API7 Cloud application, its APIs and a canary release driven step by step.

pub mod apis;
pub mod application;
pub mod canary;
pub mod crd;
pub mod plan;
pub mod reconcile;

/// Event reasons of this kind's platform writes.
pub mod reason {
    pub const CREATED: &str = "Created";
    pub const UPDATED: &str = "Updated";
    pub const API_CREATED: &str = "ApiCreated";
    pub const API_UPDATED: &str = "ApiUpdated";
    pub const API_DELETED: &str = "ApiDeleted";
    pub const CANARY_STARTED: &str = "CanaryStarted";
    pub const CANARY_ADVANCED: &str = "CanaryAdvanced";
    pub const CANARY_PROMOTED: &str = "CanaryPromoted";
    pub const CANARY_ABORTED: &str = "CanaryAborted";
}
