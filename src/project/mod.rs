//! Project: a project and its environments on Choreo, Cycloid or OpsChain.

mod choreo;
pub mod crd;
mod cycloid;
mod opschain;
pub mod reconcile;
