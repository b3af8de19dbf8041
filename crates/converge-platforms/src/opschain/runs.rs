//! Workflow runs and their steps: starting a run, finding it again, following it, and
//! continuing, approving or rejecting its waiting steps.

use serde_json::Value;

use super::jsonapi::RequestDocument;
use super::refusals::StepActionError;
use super::requests::{DecisionMessage, NewRun};
use super::workflows::workflow_path;
use super::{OpsChainClient, Run, Step, body, segment};
use crate::{Call, ClientError};

fn runs_path(project: &str, workflow: &str) -> String {
    format!("{}/runs", workflow_path(project, workflow))
}

fn run_path(project: &str, workflow: &str, run: &str) -> String {
    format!("{}/{}", runs_path(project, workflow), segment(run))
}

fn step_path(step: &str) -> String {
    format!("/api/workflow_steps/{}", segment(step))
}

/// The text `filter[metadata_text_cont]` looks for: the value as it appears inside the JSON
/// text of the metadata (escaped, without its quotes).
fn metadata_text(value: &str) -> String {
    let quoted = Value::String(value.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

impl OpsChainClient {
    /// `POST /api/projects/{project}/workflows/{workflow}/runs`: starts a run of a published
    /// version. NEVER resent, whatever happened: a run is not idempotent. Before starting one,
    /// and after any failure, look for it with [`OpsChainClient::find_runs_by_metadata`] using
    /// a unique marker put in `metadata`. 422 for a draft or archived version, an archived
    /// workflow or project; 404 for an unknown version.
    pub async fn create_run(
        &self,
        project: &str,
        workflow: &str,
        run: &NewRun,
    ) -> Result<Run, ClientError> {
        let call = Call::post("createWorkflowRun", runs_path(project, workflow)).never_repeat();
        self.fetch(body(call, &RequestDocument::new(run))).await
    }

    /// `GET .../workflows/{workflow}/runs`: every run of the workflow, oldest first.
    pub async fn list_runs(&self, project: &str, workflow: &str) -> Result<Vec<Run>, ClientError> {
        self.fetch_list(Call::get("listWorkflowRuns", runs_path(project, workflow)))
            .await
    }

    /// The runs of the workflow whose `metadata[key]` is exactly `value`: what a crash-safe
    /// start looks up. OpsChain narrows the list with `filter[metadata_text_cont]` (a
    /// case-insensitive substring of the metadata's JSON text); the exact match is made here.
    pub async fn find_runs_by_metadata(
        &self,
        project: &str,
        workflow: &str,
        key: &str,
        value: &str,
    ) -> Result<Vec<Run>, ClientError> {
        let call = Call::get("findWorkflowRunsByMetadata", runs_path(project, workflow))
            .query("filter[metadata_text_cont]", metadata_text(value));
        let runs: Vec<Run> = self.fetch_list(call).await?;
        Ok(runs
            .into_iter()
            .filter(|r| r.metadata.get(key).and_then(Value::as_str) == Some(value))
            .collect())
    }

    /// `GET .../workflows/{workflow}/runs/{id}`; `None` when there is no such run of this
    /// workflow.
    pub async fn get_run(
        &self,
        project: &str,
        workflow: &str,
        id: &str,
    ) -> Result<Option<Run>, ClientError> {
        self.fetch_optional(Call::get("getWorkflowRun", run_path(project, workflow, id)))
            .await
    }

    /// `DELETE .../workflows/{workflow}/runs/{id}` ("Cancel workflow run (workflow specific)"):
    /// cancels a run that has not ended; one that has is left as it ended. 404 when there is
    /// no such run.
    pub async fn cancel_run(
        &self,
        project: &str,
        workflow: &str,
        id: &str,
    ) -> Result<(), ClientError> {
        self.send(Call::delete(
            "cancelWorkflowRun",
            run_path(project, workflow, id),
        ))
        .await
    }

    /// `GET .../runs/{run}/steps`: every step of the run, the root stage first.
    pub async fn list_run_steps(
        &self,
        project: &str,
        workflow: &str,
        run: &str,
    ) -> Result<Vec<Step>, ClientError> {
        let path = format!("{}/steps", run_path(project, workflow, run));
        self.fetch_list(Call::get("listWorkflowRunSteps", path))
            .await
    }

    /// `GET /api/workflow_steps/{id}`; `None` for an unknown step.
    pub async fn get_step(&self, id: &str) -> Result<Option<Step>, ClientError> {
        self.fetch_optional(Call::get("getWorkflowStep", step_path(id)))
            .await
    }

    /// `POST /api/workflow_steps/{id}/approve`: approves a waiting step that names approvers,
    /// as the authenticated user, with an optional message for the record.
    ///
    /// Never resent: once approved, a resend is refused. That refusal, and every decision on a
    /// step that is not waiting, is [`StepActionError::NotWaiting`] with the step's state:
    /// `Approved` means done (by us or a person), `Rejected` that a person decided otherwise.
    /// 403 when the user is not one of the step's approvers.
    pub async fn approve_step(
        &self,
        id: &str,
        message: Option<&str>,
    ) -> Result<Step, StepActionError> {
        self.decide("approveWorkflowStep", id, "approve", message)
            .await
    }

    /// `POST /api/workflow_steps/{id}/reject`: rejects a waiting step that names approvers;
    /// the run then ends in `error`. Refusals as for [`OpsChainClient::approve_step`].
    pub async fn reject_step(
        &self,
        id: &str,
        message: Option<&str>,
    ) -> Result<Step, StepActionError> {
        self.decide("rejectWorkflowStep", id, "reject", message)
            .await
    }

    /// `POST /api/workflow_steps/{id}/continue`: continues a waiting step that names no
    /// approvers. Refusals as for [`OpsChainClient::approve_step`]; 422 (not `NotWaiting`)
    /// for a step that must be approved instead.
    pub async fn continue_step(
        &self,
        id: &str,
        message: Option<&str>,
    ) -> Result<Step, StepActionError> {
        self.decide("continueWorkflowStep", id, "continue", message)
            .await
    }

    async fn decide(
        &self,
        operation: &'static str,
        id: &str,
        verb: &str,
        message: Option<&str>,
    ) -> Result<Step, StepActionError> {
        let call = Call::post(operation, format!("{}/{verb}", step_path(id))).never_repeat();
        let call = match message {
            Some(message) => body(call, &RequestDocument::new(&DecisionMessage { message })),
            None => call,
        };
        self.fetch(call).await.map_err(StepActionError::classify)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_searched_as_it_appears_in_json_text() {
        assert_eq!(metadata_text("release-42"), "release-42");
        assert_eq!(
            metadata_text("a \"quoted\" \\ value"),
            "a \\\"quoted\\\" \\\\ value"
        );
    }
}
