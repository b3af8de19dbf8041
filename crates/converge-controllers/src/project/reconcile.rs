//! Project on the engine: which platform block the spec sets decides the module that
//! converges it (`choreo.rs`, `cycloid.rs`, `opschain.rs`).

use converge_engine::{Cx, Failure, Phase};
use converge_platforms::PlatformClient;

use super::{choreo, cycloid, opschain};
use converge_api::project::Project;

/// How Projects converge: the engine's [`converge_engine::Reconciler`] for this kind.
pub struct Reconciler;

impl crate::Reconciled for Project {
    type Reconciler = Reconciler;
}

impl converge_engine::Reconciler for Reconciler {
    type Kind = Project;

    async fn converge(obj: &Project, cx: &mut Cx<Project>) -> Result<Phase, Failure> {
        let client = cx.client.clone();
        match (
            &client,
            &obj.spec.choreo,
            &obj.spec.cycloid,
            &obj.spec.opschain,
        ) {
            (PlatformClient::Choreo(c), Some(spec), _, _) => {
                choreo::converge(obj, spec, c, cx).await
            }
            (PlatformClient::Cycloid(c), _, Some(spec), _) => {
                cycloid::converge(obj, spec, c, cx).await
            }
            (PlatformClient::OpsChain(c), _, _, Some(spec)) => {
                opschain::converge(obj, spec, c, cx).await
            }
            // The engine checked the connection's platform against `platform()`.
            _ => Err(Failure::stalled(
                converge_api::common::conditions::reason::INVALID_SPEC,
                "spec must set exactly one platform block: choreo, cycloid or opschain",
            )),
        }
    }

    async fn delete(obj: &Project, cx: &mut Cx<Project>) -> Result<(), Failure> {
        let client = cx.client.clone();
        match &client {
            PlatformClient::Choreo(_) => {
                cx.left_in_place("Choreo has no operation to delete a project");
                Ok(())
            }
            PlatformClient::Cycloid(c) => cycloid::delete(c, cx).await,
            PlatformClient::OpsChain(c) => {
                opschain::delete(obj.spec.opschain.as_ref(), c, cx).await
            }
            // A Project lives on Choreo, Cycloid or OpsChain: through another platform's
            // connection there is nothing of it to delete.
            PlatformClient::Frends(_) | PlatformClient::Api7(_) => {
                cx.nothing_deleted(format!("{} has no projects", client.platform().name()));
                Ok(())
            }
        }
    }
}
