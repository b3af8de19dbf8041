//! Converge's six kinds: how each converges its platform object(s), on the engine's protocol.
//!
//! One module per kind; inside, one module per platform it runs on. `supervise` runs them all.

#![forbid(unsafe_code)]

pub mod apispec;
pub mod component;
pub mod connection;
pub mod gateway;
pub mod project;
mod supervise;
pub mod workflow;

pub use supervise::{run, supervise};
