//! The Component reconciler on the shared engine: each platform block has its own module
//! (`choreo`, `cycloid`) that observes, decides with its pure `plan`, and writes.

use converge_api::component::Component;
use converge_core::Platform;
use converge_engine::{Cx, Failure, Phase};

/// How Components converge: the engine's [`converge_engine::Reconciler`] for this kind.
pub struct Reconciler;

impl crate::Reconciled for Component {
    type Reconciler = Reconciler;
}

impl converge_engine::Reconciler for Reconciler {
    type Kind = Component;

    async fn converge(obj: &Component, cx: &mut Cx<Component>) -> Result<Phase, Failure> {
        let phase = match (&obj.spec.choreo, &obj.spec.cycloid) {
            (Some(spec), _) => super::choreo::converge(obj, spec, cx).await?,
            (None, Some(spec)) => super::cycloid::converge(obj, spec, cx).await?,
            (None, None) => {
                return Err(Failure::stalled(
                    converge_api::common::conditions::reason::INVALID_SPEC,
                    "spec must set exactly one platform block: choreo or cycloid",
                ));
            }
        };
        // Under suspend or ObserveOnly a platform that matches reads as such.
        Ok(match phase {
            Phase::Converged { .. } if !cx.may_write() => cx.held(vec![]),
            other => other,
        })
    }

    async fn delete(_obj: &Component, cx: &mut Cx<Component>) -> Result<(), Failure> {
        // The platform is the one recorded in status' shape, not the spec's, which may be
        // invalid by now; the connection decides the client.
        match cx.client.platform() {
            Platform::Cycloid => super::cycloid::delete(cx).await,
            Platform::Choreo => super::choreo::delete(cx).await,
            other @ (Platform::Frends | Platform::Api7 | Platform::OpsChain) => {
                cx.nothing_deleted(format!("{} has no components", other.name()));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use converge_engine::{Kind, Watched};

    fn component(spec: serde_json::Value) -> Component {
        serde_json::from_value(json!({
            "apiVersion": "converge.dev/v1alpha1", "kind": "Component",
            "metadata": {"name": "c", "namespace": "n"}, "spec": spec
        }))
        .unwrap()
    }

    #[test]
    fn references_name_the_project_and_pipeline_config_maps() {
        let c = component(json!({
            "connectionRef": {"name": "cy"}, "projectRef": {"name": "billing"},
            "cycloid": {"canonical": "api", "name": "API", "environment": "staging",
                "stackRef": "cycloidio:stack-docker", "useCase": "default",
                "pipelines": [{"name": "api-deploy", "configFrom": {"name": "cm", "key": "k"}},
                              {"name": "api-test", "config": "jobs: []"}]}
        }));
        assert_eq!(c.platform(), Some(converge_core::Platform::Cycloid));
        assert_eq!(
            c.references(),
            vec![
                (Watched::Project, "billing".to_string()),
                (Watched::ConfigMap, "cm".to_string())
            ]
        );
        let c = component(json!({
            "connectionRef": {"name": "ch"}, "projectRef": {"name": "shop"},
            "choreo": {"name": "orders", "type": "Service", "repoUrl": "https://x/y"}
        }));
        assert_eq!(c.platform(), Some(converge_core::Platform::Choreo));
        assert_eq!(c.connection_name(), "ch");
    }
}
