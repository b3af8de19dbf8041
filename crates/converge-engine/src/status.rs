//! Writing status: server-side apply of the whole status with Converge's field manager, and
//! only when it differs from what the object already shows.

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::FIELD_MANAGER;

/// Applies `status` when it differs from `current`; returns whether it wrote.
pub async fn apply<K, S>(
    api: &Api<K>,
    obj: &K,
    current: Option<&S>,
    status: &S,
) -> kube::Result<bool>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize + PartialEq,
{
    if current == Some(status) {
        return Ok(false);
    }
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(true)
}
