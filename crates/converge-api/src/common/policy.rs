//! The policies every managed kind shares: what deletion, management and adoption mean.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What happens on the platform when the Kubernetes object is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the platform object (treating "already gone" as success).
    #[default]
    Delete,
    /// Leave the platform object in place and only forget it.
    Orphan,
}

/// How much Converge may do on the platform.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, update, delete and drive the platform object.
    #[default]
    Manage,
    /// Only read the platform object and report it in status; never write.
    ObserveOnly,
}

/// What to do when the platform already holds an object with this object's natural key
/// (canonical, code or name) that Converge did not create.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AdoptionPolicy {
    /// Do not touch it: the object is Stalled with a reason that says how to adopt it.
    #[default]
    Never,
    /// Take it over and manage it from now on.
    Adopt,
}

/// Settings every managed kind shares. Flattened into each kind's spec.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Management {
    /// Delete (default) removes the platform object when this object is deleted; Orphan leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
    /// Manage (default) drives the platform; ObserveOnly only reads it and reports in status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<ManagementPolicy>,
    /// Never (default) refuses to take over an existing platform object that Converge did not
    /// create; Adopt takes it over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adoption_policy: Option<AdoptionPolicy>,
    /// The platform id of an existing object to adopt. Setting it adopts that object whatever
    /// adoptionPolicy says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub external_id: Option<String>,
    /// true stops every platform write until it is set back to false; status keeps being reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// How often the platform is re-read to detect and correct drift, as a duration such as
    /// "30s", "5m" or "1h" (default 10m, at most 168h). A random jitter of up to 10% is added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = crate::common::schema::week_duration("driftInterval"))]
    pub drift_interval: Option<String>,
}
