//! Workflows (in projects whose type holds them) and their versions.

use super::jsonapi::RequestDocument;
use super::requests::{NewWorkflow, WorkflowUpdate};
use super::{OpsChainClient, Workflow, WorkflowVersion, body, segment};
use crate::{Call, ClientError};

pub(super) fn workflow_path(project: &str, workflow: &str) -> String {
    format!(
        "/api/projects/{}/workflows/{}",
        segment(project),
        segment(workflow)
    )
}

impl OpsChainClient {
    /// `GET /api/projects/{project}/workflows`: every workflow of the project, archived ones
    /// included. 404 for an unknown project; 422 `Unsupported project type` when the
    /// project's type has no workflows.
    pub async fn list_workflows(&self, project: &str) -> Result<Vec<Workflow>, ClientError> {
        let path = format!("/api/projects/{}/workflows", segment(project));
        self.fetch_list(Call::get("listWorkflows", path)).await
    }

    /// `GET /api/projects/{project}/workflows/{code}`; `None` when the project or the workflow
    /// does not exist.
    pub async fn get_workflow(
        &self,
        project: &str,
        code: &str,
    ) -> Result<Option<Workflow>, ClientError> {
        self.fetch_optional(Call::get("getWorkflow", workflow_path(project, code)))
            .await
    }

    /// `POST /api/projects/{project}/workflows`: the workflow and its version 1, published at
    /// once unless `draft`. Never resent: look the code up with `get_workflow` first. 422 when
    /// the code is taken or invalid, the steps do not follow the documented shapes or (when
    /// publishing) target what does not exist, or the project type has no workflows.
    pub async fn create_workflow(
        &self,
        project: &str,
        workflow: &NewWorkflow,
    ) -> Result<Workflow, ClientError> {
        let path = format!("/api/projects/{}/workflows", segment(project));
        let call = Call::post("createWorkflow", path).never_repeat();
        self.fetch(body(call, &RequestDocument::new(workflow)))
            .await
    }

    /// `PATCH /api/projects/{project}/workflows/{code}`. New `steps` rewrite the latest
    /// version while it is a draft, and add a version after a published one, so an update
    /// with steps is never resent; one without steps (name, description, archived, publishing
    /// the latest draft) is idempotent and retried. 422 for invalid steps.
    pub async fn update_workflow(
        &self,
        project: &str,
        code: &str,
        update: &WorkflowUpdate,
    ) -> Result<Workflow, ClientError> {
        let call = Call::patch("updateWorkflow", workflow_path(project, code));
        let call = if update.steps.is_some() {
            call.never_repeat()
        } else {
            call.safe_to_repeat()
        };
        self.fetch(body(call, &RequestDocument::new(update))).await
    }

    /// `DELETE /api/projects/{project}/workflows/{code}`: deletes a workflow that never ran,
    /// archives one that did. 404 when it does not exist (already gone, for a cleanup).
    pub async fn delete_workflow(&self, project: &str, code: &str) -> Result<(), ClientError> {
        self.send(Call::delete("deleteWorkflow", workflow_path(project, code)))
            .await
    }

    /// `GET .../workflows/{code}/versions`: every version, newest first.
    pub async fn list_workflow_versions(
        &self,
        project: &str,
        code: &str,
    ) -> Result<Vec<WorkflowVersion>, ClientError> {
        let path = format!("{}/versions", workflow_path(project, code));
        self.fetch_list(Call::get("listWorkflowVersions", path))
            .await
    }

    /// `GET .../workflows/{code}/versions/{version}`; `None` when the workflow or the version
    /// does not exist.
    pub async fn get_workflow_version(
        &self,
        project: &str,
        code: &str,
        version: u64,
    ) -> Result<Option<WorkflowVersion>, ClientError> {
        let path = format!("{}/versions/{version}", workflow_path(project, code));
        self.fetch_optional(Call::get("getWorkflowVersion", path))
            .await
    }
}
