//! The managed objects of a run, read generically: one dynamic Api per kind, and whether an
//! object is Ready for its current generation. Shared by the benchmark and the reliability tests.

use std::collections::HashMap;

use kube::api::Api;
use kube::core::{DynamicObject, GroupVersionKind};
use serde_json::json;

/// Every managed kind (PlatformConnection aside).
pub const KINDS: [&str; 5] = [
    "Project",
    "Component",
    "ApiSpec",
    "GatewayApplication",
    "Workflow",
];

/// An Api of each kind in `ns`, resolved by discovery.
pub async fn apis(
    client: &kube::Client,
    ns: &str,
) -> kube::Result<HashMap<&'static str, Api<DynamicObject>>> {
    let mut apis = HashMap::new();
    for kind in KINDS {
        let gvk = GroupVersionKind::gvk("converge.dev", "v1alpha1", kind);
        let (ar, _) = kube::discovery::pinned_kind(client, &gvk).await?;
        apis.insert(
            kind,
            Api::<DynamicObject>::namespaced_with(client.clone(), ns, &ar),
        );
    }
    Ok(apis)
}

/// Ready is True for the object's current generation.
pub fn is_ready(o: &DynamicObject) -> bool {
    let status = &o.data["status"];
    status["observedGeneration"] == json!(o.metadata.generation)
        && status["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Ready's message, to say what an object that is not Ready waits for.
pub fn ready_message(o: &DynamicObject) -> String {
    o.data["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["message"].as_str())
        .unwrap_or("no status yet")
        .to_string()
}
