//! The custom resources Converge serves, as Kubernetes stores them: each kind's spec and status,
//! the conditions and policies every kind shares, and the CRDs generated from the types.
//!
//! Only kube's derive, schemars and serde: anything that reads or writes these objects (the
//! engine, `converge local`, tests) depends on this crate, never the other way.

#![forbid(unsafe_code)]

pub mod apispec;
pub mod common;
pub mod component;
pub mod connection;
pub mod crds;
pub mod gateway;
pub mod kind;
pub mod kinds;
pub mod project;
pub mod workflow;
