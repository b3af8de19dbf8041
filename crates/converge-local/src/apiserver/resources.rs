//! The resource types the embedded apiserver serves: Converge's kinds and the few built-in ones
//! the controller reads or writes (Secrets, ConfigMaps, Namespaces, Events).

use kube::CustomResourceExt;

use converge_api::apispec::ApiSpec;
use converge_api::component::Component;
use converge_api::connection::PlatformConnection;
use converge_api::gateway::GatewayApplication;
use converge_api::project::Project;
use converge_api::workflow::Workflow;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceType {
    /// "" for the core group.
    pub group: String,
    pub version: String,
    pub plural: String,
    pub kind: String,
    pub namespaced: bool,
    /// Writes to the main resource leave `status` alone and `/status` writes only `status`;
    /// `metadata.generation` counts spec changes.
    pub status_subresource: bool,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Every type served.
pub fn all() -> Vec<ResourceType> {
    let builtin =
        |group: &str, version: &str, plural: &str, kind: &str, namespaced: bool| ResourceType {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            kind: kind.into(),
            namespaced,
            status_subresource: false,
        };
    let mut types = vec![
        builtin("", "v1", "secrets", "Secret", true),
        builtin("", "v1", "configmaps", "ConfigMap", true),
        builtin("", "v1", "namespaces", "Namespace", false),
        builtin("", "v1", "events", "Event", true),
        builtin("events.k8s.io", "v1", "events", "Event", true),
    ];
    for crd in [
        PlatformConnection::crd(),
        Project::crd(),
        Component::crd(),
        ApiSpec::crd(),
        GatewayApplication::crd(),
        Workflow::crd(),
    ] {
        for version in &crd.spec.versions {
            types.push(ResourceType {
                group: crd.spec.group.clone(),
                version: version.name.clone(),
                plural: crd.spec.names.plural.clone(),
                kind: crd.spec.names.kind.clone(),
                namespaced: crd.spec.scope == "Namespaced",
                status_subresource: version
                    .subresources
                    .as_ref()
                    .is_some_and(|s| s.status.is_some()),
            });
        }
    }
    types
}

/// The type at `group`/`version`/`plural`.
pub fn find<'a>(
    types: &'a [ResourceType],
    group: &str,
    version: &str,
    plural: &str,
) -> Option<&'a ResourceType> {
    types
        .iter()
        .find(|t| t.group == group && t.version == version && t.plural == plural)
}

/// The type of an object with this apiVersion and kind.
pub fn of_kind<'a>(
    types: &'a [ResourceType],
    api_version: &str,
    kind: &str,
) -> Option<&'a ResourceType> {
    types
        .iter()
        .find(|t| t.api_version() == api_version && t.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_every_converge_kind_with_its_status_subresource() {
        let types = all();
        for kind in [
            "PlatformConnection",
            "Project",
            "Component",
            "ApiSpec",
            "GatewayApplication",
            "Workflow",
        ] {
            let t = of_kind(&types, "converge.dev/v1alpha1", kind).unwrap();
            assert!(t.namespaced && t.status_subresource, "{kind}");
        }
        let secrets = find(&types, "", "v1", "secrets").unwrap();
        assert_eq!(secrets.api_version(), "v1");
        assert!(!secrets.status_subresource);
        assert!(!find(&types, "", "v1", "namespaces").unwrap().namespaced);
    }
}
