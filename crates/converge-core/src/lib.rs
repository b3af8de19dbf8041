//! What every layer of Converge shares and that needs neither Kubernetes nor a network: the
//! platforms Converge drives, durations as people write them, JSON types as validators name
//! them. The sandboxes depend on this crate and on nothing else of Converge's.

#![forbid(unsafe_code)]

pub mod duration;
pub mod json;
pub mod platform;

pub use json::json_type;
pub use platform::Platform;
