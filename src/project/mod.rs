//! Project: a project and its environments on Choreo, Cycloid or OpsChain.

mod choreo;
pub mod crd;
mod cycloid;
mod opschain;
pub mod reconcile;

/// Condition and Event reasons of Projects (besides `common::conditions::reason`).
pub mod reason {
    /// An environment the spec no longer declares is kept because a declared Component still
    /// lives in it (Warning Event).
    pub const ENVIRONMENT_KEPT: &str = "EnvironmentKept";
}
