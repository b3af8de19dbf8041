//! Project on the engine: which platform block the spec sets decides the module that
//! converges it (`choreo.rs`, `cycloid.rs`, `opschain.rs`).

use crate::clients::PlatformClient;
use crate::common::conditions::CommonStatus;
use crate::common::policy::Management;
use crate::engine::{Cx, Failure, Managed, Phase};

use super::crd::{Project, ProjectStatus};
use super::{choreo, cycloid, opschain};

impl Managed for Project {
    const KIND: &'static str = "Project";
    type Status = ProjectStatus;

    fn management(&self) -> &Management {
        &self.spec.management
    }
    fn connection_name(&self) -> &str {
        &self.spec.connection_ref.name
    }
    fn platform(&self) -> &'static str {
        if self.spec.choreo.is_some() {
            "choreo"
        } else if self.spec.cycloid.is_some() {
            "cycloid"
        } else {
            "opschain"
        }
    }
    fn status(&self) -> Option<&ProjectStatus> {
        self.status.as_ref()
    }
    fn common(status: &ProjectStatus) -> &CommonStatus {
        &status.common
    }
    fn common_mut(status: &mut ProjectStatus) -> &mut CommonStatus {
        &mut status.common
    }
    fn platform_id(status: &ProjectStatus) -> Option<&str> {
        status.project_id.as_deref()
    }
    fn platform_object(&self, id: &str) -> String {
        match (&self.spec.choreo, &self.spec.cycloid, &self.spec.opschain) {
            (Some(c), _, _) => format!("Choreo project {:?} (id {id})", c.name),
            (_, Some(_), _) => format!("Cycloid project {id:?}"),
            (_, _, Some(o)) => format!("OpsChain project {:?} (id {id})", o.code),
            _ => format!("project {id}"),
        }
    }
    /// A kept environment goes once the Components living in it are gone.
    fn waits_for_dependents(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(|s| s.environments.iter().any(|e| e.kept.is_some()))
    }

    async fn converge(&self, cx: &mut Cx<Self>) -> Result<Phase, Failure> {
        let client = cx.client.clone();
        match (
            &client,
            &self.spec.choreo,
            &self.spec.cycloid,
            &self.spec.opschain,
        ) {
            (PlatformClient::Choreo(c), Some(spec), _, _) => {
                choreo::converge(self, spec, c, cx).await
            }
            (PlatformClient::Cycloid(c), _, Some(spec), _) => {
                cycloid::converge(self, spec, c, cx).await
            }
            (PlatformClient::OpsChain(c), _, _, Some(spec)) => {
                opschain::converge(self, spec, c, cx).await
            }
            // The engine checked the connection's platform against `platform()`.
            _ => Err(Failure::stalled(
                crate::common::conditions::reason::INVALID_SPEC,
                "spec must set exactly one platform block: choreo, cycloid or opschain",
            )),
        }
    }

    async fn delete(&self, cx: &mut Cx<Self>) -> Result<(), Failure> {
        let client = cx.client.clone();
        match &client {
            PlatformClient::Choreo(_) => {
                cx.left_in_place("Choreo has no operation to delete a project");
                Ok(())
            }
            PlatformClient::Cycloid(c) => cycloid::delete(c, cx).await,
            PlatformClient::OpsChain(c) => {
                opschain::delete(self.spec.opschain.as_ref(), c, cx).await
            }
            _ => Ok(()),
        }
    }
}
