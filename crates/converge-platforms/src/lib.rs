//! Typed async clients of the five platform APIs, one module per platform, over one shared HTTP
//! layer (`http`): request budget, timeouts, retries, error classification, metrics and secret
//! redaction live there once.

#![forbid(unsafe_code)]

pub mod api7;
pub mod auth;
pub mod budget;
pub mod choreo;
pub mod cycloid;
pub mod decoders;
pub mod error;
pub mod frends;
pub mod http;
pub mod metrics;
pub mod opschain;
pub mod prometheus;
pub mod shared_reads;

pub use auth::{Auth, Secret};
pub use converge_core::Platform;
pub use error::ClientError;
pub use http::{Call, Http, HttpConfig, Response};
pub use metrics::ClientMetrics;
pub mod platform;

pub use platform::{PlatformClient, PlatformInfo, Scope, Settings};
