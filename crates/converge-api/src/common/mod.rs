//! Types and helpers shared by every kind: references, policies, conditions and status.

pub mod conditions;
pub mod policy;
pub mod refs;
pub mod schema;

/// The API group every Converge kind belongs to.
pub const GROUP: &str = "converge.dev";
/// The one served and stored version.
pub const VERSION: &str = "v1alpha1";
/// `kubectl get converge` lists every kind through this category.
pub const CATEGORY: &str = "converge";
