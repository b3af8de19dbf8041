//! PlatformConnection: where a platform is and how to authenticate to it; the clients built
//! from it are shared by every other kind's reconciler.

pub mod crd;
pub mod credentials;
pub mod decide;
pub mod reconcile;
pub mod registry;
