//! Refuse to start when the CRDs are missing, and say which ones and how to install them.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;

#[derive(Debug, thiserror::Error)]
pub enum CrdCheckError {
    #[error(
        "these Converge CRDs are not installed: {}. Install them with `kubectl apply -f crds/` (or `converge crd | kubectl apply -f -`), or install the Helm chart",
        .0.join(", ")
    )]
    Missing(Vec<String>),
    #[error("these Converge CRDs are installed but not established yet: {}; the apiserver may still be processing them", .0.join(", "))]
    NotEstablished(Vec<String>),
    #[error("these Converge CRDs do not serve version {version}: {}. Apply the CRDs from this release", .names.join(", "))]
    VersionNotServed {
        version: &'static str,
        names: Vec<String>,
    },
    #[error(
        "cannot read CustomResourceDefinitions: {0}. The controller needs get on customresourcedefinitions.apiextensions.k8s.io"
    )]
    Api(#[from] kube::Error),
}

/// Compares the installed CRDs with the ones this binary was built with.
pub async fn ensure_installed(client: &kube::Client) -> Result<(), CrdCheckError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut installed = Vec::new();
    for want in converge_api::crds::all() {
        let name = want.metadata.name.clone().unwrap_or_default();
        installed.push((name.clone(), api.get_opt(&name).await?));
    }
    check(&installed)
}

/// The decision, apart from the I/O: each wanted CRD name with what the apiserver returned.
pub fn check(
    installed: &[(String, Option<CustomResourceDefinition>)],
) -> Result<(), CrdCheckError> {
    let missing: Vec<String> = installed
        .iter()
        .filter(|(_, c)| c.is_none())
        .map(|(n, _)| n.clone())
        .collect();
    if !missing.is_empty() {
        return Err(CrdCheckError::Missing(missing));
    }
    let present = installed
        .iter()
        .filter_map(|(n, c)| c.as_ref().map(|c| (n, c)));
    let not_served: Vec<String> = present
        .clone()
        .filter(|(_, c)| {
            !c.spec
                .versions
                .iter()
                .any(|v| v.name == converge_api::common::VERSION && v.served)
        })
        .map(|(n, _)| n.clone())
        .collect();
    if !not_served.is_empty() {
        return Err(CrdCheckError::VersionNotServed {
            version: converge_api::common::VERSION,
            names: not_served,
        });
    }
    let not_established: Vec<String> = present
        .filter(|(_, c)| {
            !c.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                })
        })
        .map(|(n, _)| n.clone())
        .collect();
    if !not_established.is_empty() {
        return Err(CrdCheckError::NotEstablished(not_established));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        CustomResourceDefinitionCondition, CustomResourceDefinitionStatus,
    };

    fn established(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
        crd.status = Some(CustomResourceDefinitionStatus {
            conditions: Some(vec![CustomResourceDefinitionCondition {
                type_: "Established".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        crd
    }

    fn all_installed() -> Vec<(String, Option<CustomResourceDefinition>)> {
        converge_api::crds::all()
            .into_iter()
            .map(|c| (c.metadata.name.clone().unwrap(), Some(established(c))))
            .collect()
    }

    #[test]
    fn everything_installed_passes() {
        assert!(check(&all_installed()).is_ok());
    }

    #[test]
    fn missing_crds_are_named_with_the_fix() {
        let mut installed = all_installed();
        installed[1].1 = None;
        installed[4].1 = None;
        let err = check(&installed).unwrap_err().to_string();
        assert!(err.contains("projects.converge.dev"), "{err}");
        assert!(err.contains("gatewayapplications.converge.dev"), "{err}");
        assert!(!err.contains("platformconnections"), "{err}");
        assert!(err.contains("kubectl apply -f crds/"), "{err}");
    }

    #[test]
    fn an_unestablished_crd_is_reported() {
        let mut installed = all_installed();
        installed[0].1.as_mut().unwrap().status = None;
        assert!(
            matches!(check(&installed), Err(CrdCheckError::NotEstablished(n)) if n == ["platformconnections.converge.dev"])
        );
    }

    #[test]
    fn a_crd_without_our_version_is_reported() {
        let mut installed = all_installed();
        installed[2].1.as_mut().unwrap().spec.versions[0].name = "v1beta9".into();
        assert!(matches!(
            check(&installed),
            Err(CrdCheckError::VersionNotServed { .. })
        ));
    }
}
