//! ApiSpec: an OpenAPI definition on Frends (versions, publish, deploy, passthrough), API7 Cloud (imported as an application) or Choreo (observed).

pub mod api7;
pub mod choreo;
pub mod document;
pub mod frends;
pub mod reconcile;

pub use reconcile::Reconciler;

/// Condition reasons of this kind (the shared ones are in `common::conditions::reason`).
pub mod reason {
    /// The declared OpenAPI document cannot be used as it is.
    pub const INVALID_DEFINITION: &str = "InvalidDefinition";
    /// The Choreo API to observe is not there (or not only one is).
    pub const API_NOT_FOUND: &str = "ApiNotFound";
}

/// Event reasons of this kind's platform writes (the object's create, adoption and re-create
/// are the engine's: `converge_engine::external::event`).
pub mod event {
    pub const UPDATED: &str = "Updated";
    pub const PUBLISHED: &str = "Published";
    /// Frends: a deployment requested (the platform answers "Deployment started", no more).
    pub const DEPLOYMENT_REQUESTED: &str = "DeploymentRequested";
    pub const UNDEPLOYED: &str = "Undeployed";
    pub const PASSTHROUGH: &str = "PassthroughChanged";
    /// API7: an API of the application created, updated or deleted.
    pub const API_CHANGED: &str = "ApiChanged";
}
