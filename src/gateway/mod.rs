//! GatewayApplication: an API7 Cloud application, its APIs and a canary release driven step by step.

pub mod crd;
