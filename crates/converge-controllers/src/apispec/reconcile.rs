//! The ApiSpec reconciler: read the definition (inline or from its ConfigMap), check it, then
//! hand it to the platform the spec names. Choreo is only observed.

use super::document::{self, Document};
use super::{api7, choreo, frends, reason};
use converge_api::apispec::{ApiSpec, Definition};
use converge_core::Platform;
use converge_engine::{Cx, Failure, Phase};

/// How ApiSpecs converge: the engine's [`converge_engine::Reconciler`] for this kind.
pub struct Reconciler;

impl crate::Reconciled for ApiSpec {
    type Reconciler = Reconciler;
}

impl converge_engine::Reconciler for Reconciler {
    type Kind = ApiSpec;

    async fn converge(obj: &ApiSpec, cx: &mut Cx<ApiSpec>) -> Result<Phase, Failure> {
        if let Some(c) = &obj.spec.choreo {
            return choreo::converge(c, cx).await;
        }
        let doc = definition(obj.spec.definition.as_ref(), cx).await?;
        match (&obj.spec.frends, &obj.spec.api7) {
            (Some(f), _) => frends::converge(obj, f, &doc, cx).await,
            (None, Some(a)) => api7::converge(obj, a, &doc, cx).await,
            (None, None) => Err(Failure::stalled(
                converge_api::common::conditions::reason::INVALID_SPEC,
                "spec must set one platform block: frends, api7 or choreo",
            )),
        }
    }

    async fn delete(_obj: &ApiSpec, cx: &mut Cx<ApiSpec>) -> Result<(), Failure> {
        // Decided by the connection's platform, not the spec: deletion must not need a valid spec.
        match cx.client.platform() {
            Platform::Frends => frends::delete(cx).await,
            Platform::Api7 => api7::delete(cx).await,
            // Choreo's API is its component's: it goes with the component.
            Platform::Choreo => Ok(()),
            other @ (Platform::Cycloid | Platform::OpsChain) => {
                cx.nothing_deleted(format!("{} has no API specifications", other.name()));
                Ok(())
            }
        }
    }
}

/// The declared document, checked; waits for a missing ConfigMap or key, stalls on a document
/// no platform could take.
async fn definition(d: Option<&Definition>, cx: &Cx<ApiSpec>) -> Result<Document, Failure> {
    let text = match d {
        Some(Definition {
            inline: Some(text), ..
        }) => text.clone(),
        Some(Definition {
            config_map_key_ref: Some(r),
            ..
        }) => cx.config_map_key(&r.name, &r.key).await?,
        _ => {
            return Err(Failure::stalled(
                reason::INVALID_DEFINITION,
                "definition needs inline or configMapKeyRef: the OpenAPI document to manage",
            ));
        }
    };
    document::parse(&text).map_err(|e| {
        Failure::stalled(
            reason::INVALID_DEFINITION,
            format!("the OpenAPI definition cannot be used: {e}"),
        )
    })
}
