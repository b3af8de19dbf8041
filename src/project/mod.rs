//! Project: a project and its environments on Choreo, Cycloid or OpsChain.

pub mod crd;
