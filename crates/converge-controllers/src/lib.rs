//! Converge's six kinds: how each converges its platform object(s), on the engine's protocol.
//!
//! One module per kind; inside, one module per platform it runs on. `supervise` runs them all.
//! `api7_application` is what the two kinds that make an API7 application share.

#![forbid(unsafe_code)]

mod api7_application;
pub mod apispec;
pub mod component;
pub mod connection;
pub mod gateway;
pub mod project;
mod supervise;
pub mod workflow;

pub use supervise::{run, supervise};

/// The reconciler of each kind in the registry (`converge_api::for_each_kind!`): `supervise`
/// runs one controller per registered kind, so a kind registered without a reconciler does
/// not compile.
pub trait Reconciled: converge_engine::Kind {
    type Reconciler: converge_engine::Reconciler<Kind = Self>;
}
