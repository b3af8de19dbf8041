//! The Workflow reconciler: which platform, then that platform's observe → decide → execute.

use jiff::Timestamp;

use super::{cycloid, opschain};
use converge_api::common::conditions::reason;
use converge_api::workflow::Workflow;
use converge_core::Platform;
use converge_engine::{Cx, Failure, Phase};

/// How Workflows converge: the engine's [`converge_engine::Reconciler`] for this kind.
pub struct Reconciler;

impl crate::Reconciled for Workflow {
    type Reconciler = Reconciler;
}

impl converge_engine::Reconciler for Reconciler {
    type Kind = Workflow;

    async fn converge(obj: &Workflow, cx: &mut Cx<Workflow>) -> Result<Phase, Failure> {
        let now = Timestamp::now();
        // The schedule counts from the object's creation: nothing "missed" before it existed.
        let created = obj
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(now, |t| t.0);
        match (&obj.spec.opschain, &obj.spec.cycloid) {
            (Some(o), None) => opschain::converge(obj, o, now, created, cx).await,
            (None, Some(c)) => cycloid::converge(obj, c, now, created, cx).await,
            _ => Err(Failure::stalled(
                reason::INVALID_SPEC,
                "spec must set exactly one platform block: opschain or cycloid",
            )),
        }
    }

    async fn delete(obj: &Workflow, cx: &mut Cx<Workflow>) -> Result<(), Failure> {
        // Decided by the connection's platform, not the spec: deletion must not need a valid spec.
        match cx.client.platform() {
            Platform::Cycloid => cycloid::delete(obj, cx).await,
            Platform::OpsChain => opschain::delete(obj, cx).await,
            other @ (Platform::Choreo | Platform::Frends | Platform::Api7) => {
                cx.nothing_deleted(format!("{} has no workflows", other.name()));
                Ok(())
            }
        }
    }
}
