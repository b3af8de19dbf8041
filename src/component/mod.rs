//! Component: a deployable unit on Choreo (source, builds, deployments) or Cycloid (stack, pipelines, job builds).

pub mod crd;
