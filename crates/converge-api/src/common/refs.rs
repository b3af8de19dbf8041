//! References from one object to another in the same namespace.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A reference to another Converge object in the same namespace, by name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct LocalRef {
    /// Name of the referenced object, in this object's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A key of a ConfigMap in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct ConfigMapKeyRef {
    /// Name of the ConfigMap, in this object's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the ConfigMap's `data`.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}
