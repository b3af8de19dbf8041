//! PlatformConnection: where a platform is and how to authenticate to it.

pub mod crd;
