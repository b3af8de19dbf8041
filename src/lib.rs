//! The `converge` binary: its command line and the controller process (`converge run`: leader
//! election, health, shutdown). Everything it runs lives in the workspace's crates (README,
//! "Layout"); nothing depends on this one.

#![forbid(unsafe_code)]

pub mod cli;
pub mod controller;
pub mod logging;
