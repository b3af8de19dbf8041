//! The Workflow reconciler: which platform, then that platform's observe → decide → execute.

use jiff::Timestamp;

use super::crd::{Workflow, WorkflowStatus};
use super::{exec_cycloid, exec_opschain};
use crate::common::conditions::{CommonStatus, reason};
use crate::common::policy::Management;
use crate::engine::{Cx, Failure, Managed, Phase, Watched};

impl Managed for Workflow {
    const KIND: &'static str = "Workflow";
    const WATCHES: &'static [Watched] = &[Watched::Project, Watched::Component];
    type Status = WorkflowStatus;

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
            "opschain"
        }
    }
    fn status(&self) -> Option<&WorkflowStatus> {
        self.status.as_ref()
    }
    fn common(status: &WorkflowStatus) -> &CommonStatus {
        &status.common
    }
    fn common_mut(status: &mut WorkflowStatus) -> &mut CommonStatus {
        &mut status.common
    }
    fn platform_id(status: &WorkflowStatus) -> Option<&str> {
        status.workflow_id.as_deref()
    }
    fn platform_object(&self, id: &str) -> String {
        let path = self.status.as_ref().and_then(|s| s.platform_path.clone());
        match (self.platform(), path) {
            ("cycloid", Some(p)) => format!("Cycloid job {p} (id {id})"),
            ("cycloid", None) => format!("Cycloid job {id}"),
            (_, Some(p)) => format!("OpsChain workflow {p} (id {id})"),
            (_, None) => format!("OpsChain workflow {id}"),
        }
    }
    fn references(&self) -> Vec<(Watched, String)> {
        let mut refs = vec![(Watched::Project, self.spec.project_ref.name.clone())];
        if let Some(c) = &self.spec.cycloid {
            refs.push((Watched::Component, c.component_ref.name.clone()));
        }
        refs
    }

    async fn converge(&self, cx: &mut Cx<Self>) -> Result<Phase, Failure> {
        let now = Timestamp::now();
        // The schedule counts from the object's creation: nothing "missed" before it existed.
        let created = self
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(now, |t| t.0);
        match (&self.spec.opschain, &self.spec.cycloid) {
            (Some(o), None) => exec_opschain::converge(self, o, now, created, cx).await,
            (None, Some(c)) => exec_cycloid::converge(self, c, now, created, cx).await,
            _ => Err(Failure::stalled(
                reason::INVALID_SPEC,
                "spec must set exactly one platform block: opschain or cycloid",
            )),
        }
    }

    async fn delete(&self, cx: &mut Cx<Self>) -> Result<(), Failure> {
        // Decided by the connection's platform, not the spec: deletion must not need a valid spec.
        match cx.client.platform() {
            "cycloid" => exec_cycloid::delete(self, cx).await,
            _ => exec_opschain::delete(self, cx).await,
        }
    }
}
