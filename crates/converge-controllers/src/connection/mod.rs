//! PlatformConnection: the connection check (the credentials, one cheap authenticated call,
//! status and Events), and the finalizer that keeps a connection while objects still use it.
//! The clients built from connections live in the engine's registry (`converge_engine::connections`).

pub mod reconcile;

pub use reconcile::{IN_USE, KIND, guarded, reconcile};
