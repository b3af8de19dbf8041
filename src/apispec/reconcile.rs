//! The ApiSpec reconciler: read the definition (inline or from its ConfigMap), check it, then
//! hand it to the platform the spec names. Choreo is only observed.

use super::crd::{ApiSpec, ApiSpecStatus, Definition};
use super::document::{self, Document};
use super::{api7, choreo, frends, reason};
use crate::common::conditions::CommonStatus;
use crate::common::policy::Management;
use crate::engine::{Cx, Failure, Managed, Phase, Watched};

impl Managed for ApiSpec {
    const KIND: &'static str = "ApiSpec";
    const WATCHES: &'static [Watched] = &[Watched::ConfigMap];
    type Status = ApiSpecStatus;

    fn management(&self) -> &Management {
        &self.spec.management
    }

    fn connection_name(&self) -> &str {
        &self.spec.connection_ref.name
    }

    fn platform(&self) -> &'static str {
        if self.spec.frends.is_some() {
            "frends"
        } else if self.spec.api7.is_some() {
            "api7"
        } else {
            "choreo"
        }
    }

    fn status(&self) -> Option<&ApiSpecStatus> {
        self.status.as_ref()
    }

    fn common(status: &ApiSpecStatus) -> &CommonStatus {
        &status.common
    }

    fn common_mut(status: &mut ApiSpecStatus) -> &mut CommonStatus {
        &mut status.common
    }

    /// A Choreo API (the one with a lifecycle status) is only observed: it is not an id
    /// Converge may delete, so deletion has nothing to do.
    fn platform_id(status: &ApiSpecStatus) -> Option<&str> {
        if status.lifecycle_status.is_some() {
            None
        } else {
            status.api_id.as_deref()
        }
    }

    fn references(&self) -> Vec<(Watched, String)> {
        self.spec
            .definition
            .as_ref()
            .and_then(|d| d.config_map_key_ref.as_ref())
            .map(|r| vec![(Watched::ConfigMap, r.name.clone())])
            .unwrap_or_default()
    }

    async fn converge(&self, cx: &mut Cx<Self>) -> Result<Phase, Failure> {
        if let Some(c) = &self.spec.choreo {
            return choreo::converge(c, cx).await;
        }
        let doc = definition(self.spec.definition.as_ref(), cx).await?;
        match (&self.spec.frends, &self.spec.api7) {
            (Some(f), _) => frends::converge(self, f, &doc, cx).await,
            (None, Some(a)) => api7::converge(self, a, &doc, cx).await,
            (None, None) => Err(Failure::stalled(
                crate::common::conditions::reason::INVALID_SPEC,
                "spec must set one platform block: frends, api7 or choreo",
            )),
        }
    }

    async fn delete(&self, cx: &mut Cx<Self>) -> Result<(), Failure> {
        match self.platform() {
            "frends" => frends::delete(cx).await,
            "api7" => api7::delete(cx).await,
            _ => Ok(()),
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
