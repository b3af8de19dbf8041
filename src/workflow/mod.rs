//! Workflow: an OpsChain workflow with versions, runs and approvals, or a Cycloid pipeline job build.

pub mod crd;
