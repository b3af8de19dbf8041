//! The Component reconciler on the shared engine: each platform block has its own module
//! (`choreo`, `cycloid`) that observes, decides with its pure `plan`, and writes.

use super::crd::{Component, ComponentStatus};
use crate::common::conditions::CommonStatus;
use crate::common::policy::Management;
use crate::engine::{Cx, Failure, Managed, Phase, Watched};

impl Managed for Component {
    const KIND: &'static str = "Component";
    const WATCHES: &'static [Watched] = &[Watched::Project, Watched::ConfigMap];
    type Status = ComponentStatus;

    fn management(&self) -> &Management {
        &self.spec.management
    }

    fn connection_name(&self) -> &str {
        &self.spec.connection_ref.name
    }

    fn platform(&self) -> &'static str {
        if self.spec.cycloid.is_some() {
            "cycloid"
        } else {
            "choreo"
        }
    }

    fn status(&self) -> Option<&ComponentStatus> {
        self.status.as_ref()
    }

    fn common(status: &ComponentStatus) -> &CommonStatus {
        &status.common
    }

    fn common_mut(status: &mut ComponentStatus) -> &mut CommonStatus {
        &mut status.common
    }

    fn platform_id(status: &ComponentStatus) -> Option<&str> {
        status.component_id.as_deref()
    }

    fn platform_object(&self, id: &str) -> String {
        let status = self.status.clone().unwrap_or_default();
        match (&self.spec.choreo, &self.spec.cycloid) {
            (Some(c), _) => format!("Choreo component {:?} (id {id})", c.name),
            (_, Some(_)) => match (status.project_id, status.environment) {
                (Some(p), Some(e)) => format!("Cycloid component {p}/{e}/{id}"),
                _ => format!("Cycloid component {id}"),
            },
            _ => format!("component {id}"),
        }
    }

    fn references(&self) -> Vec<(Watched, String)> {
        let mut refs = vec![(Watched::Project, self.spec.project_ref.name.clone())];
        if let Some(c) = &self.spec.cycloid {
            refs.extend(
                c.pipelines
                    .iter()
                    .filter_map(|p| p.config_from.as_ref())
                    .map(|r| (Watched::ConfigMap, r.name.clone())),
            );
        }
        refs
    }

    async fn converge(&self, cx: &mut Cx<Self>) -> Result<Phase, Failure> {
        let phase = match (&self.spec.choreo, &self.spec.cycloid) {
            (Some(spec), _) => super::choreo::converge(self, spec, cx).await?,
            (None, Some(spec)) => super::cycloid::converge(self, spec, cx).await?,
            (None, None) => {
                return Err(Failure::stalled(
                    crate::common::conditions::reason::INVALID_SPEC,
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

    async fn delete(&self, cx: &mut Cx<Self>) -> Result<(), Failure> {
        // The platform is the one recorded in status' shape, not the spec's, which may be
        // invalid by now; the connection decides the client.
        match &cx.client {
            crate::clients::PlatformClient::Cycloid(_) => super::cycloid::delete(cx).await,
            _ => super::choreo::delete(cx).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
        assert_eq!(c.platform(), "cycloid");
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
        assert_eq!(c.platform(), "choreo");
        assert_eq!(c.connection_name(), "ch");
    }
}
