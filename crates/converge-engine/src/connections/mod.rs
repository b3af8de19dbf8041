//! What the engine keeps per PlatformConnection: the client built from its spec (shared by every
//! kind's reconciler), its credentials, and the decision its status reports.

pub mod credentials;
pub mod decide;
pub mod registry;
pub mod settings;
