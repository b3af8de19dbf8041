//! Converge: a Kubernetes controller that makes delivery platforms match what is declared.
//!
//! One module per kind (`project/`, `component/`, ...), each with its `crd.rs`; `common/` holds
//! what the kinds share; `controller/` is the process that runs them.

pub mod apispec;
pub mod bench;
pub mod cli;
pub mod clients;
pub mod common;
pub mod component;
pub mod connection;
pub mod controller;
pub mod crds;
pub mod engine;
pub mod gateway;
pub mod local;
pub mod logging;
pub mod manifests;
pub mod project;
pub mod sandbox;
pub mod validation;
pub mod version;
pub mod workflow;
