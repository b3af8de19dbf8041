//! Component: a deployable unit on Choreo (source, builds, deployments) or Cycloid (stack, pipelines, job builds).

pub mod choreo;
pub mod cycloid;
pub mod reconcile;

pub use reconcile::Reconciler;

/// Condition and Event reasons of Components (besides `common::conditions::reason`).
pub mod reasons {
    /// The platform object differs in a way the platform cannot update.
    pub const PLATFORM_OBJECT_DIFFERS: &str = "PlatformObjectDiffers";
    /// The build of the declared revision or trigger failed.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// A Choreo deployment of the build failed.
    pub const DEPLOYMENT_FAILED: &str = "DeploymentFailed";

    // Events for platform writes (the component's own create, adoption and update are the
    // engine's: `converge_engine::external::event`).
    pub const BUILD_STARTED: &str = "BuildStarted";
    pub const DEPLOYED: &str = "Deployed";
    pub const PIPELINE_CREATED: &str = "PipelineCreated";
    pub const PIPELINE_UPDATED: &str = "PipelineUpdated";
    pub const PIPELINE_PAUSED: &str = "PipelinePaused";
    pub const PIPELINE_UNPAUSED: &str = "PipelineUnpaused";
    pub const PIPELINE_DELETED: &str = "PipelineDeleted";
    pub const EVENT_SENT: &str = "CycloidEventSent";
}
