//! The GatewayApplication reconciler: API7 Cloud is its one platform (`api7/`).

use converge_api::gateway::GatewayApplication;
use converge_engine::{Cx, Failure, Phase};

pub const KIND: &str = <GatewayApplication as converge_api::kind::Kind>::KIND;

/// How GatewayApplications converge: the engine's [`converge_engine::Reconciler`] for this kind.
pub struct Reconciler;

impl crate::Reconciled for GatewayApplication {
    type Reconciler = Reconciler;
}

impl converge_engine::Reconciler for Reconciler {
    type Kind = GatewayApplication;

    async fn converge(
        obj: &GatewayApplication,
        cx: &mut Cx<GatewayApplication>,
    ) -> Result<Phase, Failure> {
        super::api7::converge(obj, cx).await
    }

    async fn delete(
        _obj: &GatewayApplication,
        cx: &mut Cx<GatewayApplication>,
    ) -> Result<(), Failure> {
        super::api7::delete(cx).await
    }
}
