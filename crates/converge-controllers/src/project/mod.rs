//! Project: a project and its environments on Choreo, Cycloid or OpsChain.

mod choreo;
mod cycloid;
mod opschain;
pub mod reconcile;

pub use reconcile::Reconciler;

/// Condition and Event reasons of Projects (besides `common::conditions::reason`).
pub mod reason {
    /// An environment the spec no longer declares is kept because a declared Component still
    /// lives in it (Warning Event).
    pub const ENVIRONMENT_KEPT: &str = "EnvironmentKept";
}
