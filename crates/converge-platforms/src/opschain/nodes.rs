//! Server info, projects, environments and their versioned properties.

use serde_json::{Map, Value};

use super::jsonapi::RequestDocument;
use super::refusals::PropertiesUpdateError;
use super::requests::{NewEnvironment, NewProject, NodeUpdate, PropertiesUpdate};
use super::{Environment, Info, OpsChainClient, Project, Properties, body, segment};
use crate::{Call, ClientError};

fn project_path(project: &str) -> String {
    format!("/api/projects/{}", segment(project))
}

fn environment_path(project: &str, environment: &str) -> String {
    format!(
        "{}/environments/{}",
        project_path(project),
        segment(environment)
    )
}

impl OpsChainClient {
    /// `GET /api/info`: the instance's version. The cheap authenticated call: a wrong
    /// credential answers 401.
    pub async fn info(&self) -> Result<Info, ClientError> {
        self.fetch(Call::get("getInfo", "/api/info")).await
    }

    /// `GET /api/projects`: every project, archived ones included.
    pub async fn list_projects(&self) -> Result<Vec<Project>, ClientError> {
        self.fetch_list(Call::get("listProjects", "/api/projects"))
            .await
    }

    /// `GET /api/projects/{code}`; `None` when no project has this code. An archived project
    /// is returned (its code stays taken): bring it back with `archived: Some(false)`.
    ///
    /// A drift check's client answers from the project list the connection's drift checks
    /// share (one read for all of them, see `shared_reads`); a project not in it is looked up
    /// alone, so a list read moments before a create never hides it.
    pub async fn get_project(&self, code: &str) -> Result<Option<Project>, ClientError> {
        if self.http.shares() {
            let listed = self
                .http
                .shared("listProjects", self.list_projects())
                .await?;
            if let Some(p) = listed.iter().find(|p| p.code == code) {
                return Ok(Some(p.clone()));
            }
        }
        self.fetch_optional(Call::get("getProject", project_path(code)))
            .await
    }

    /// `POST /api/projects`. Never resent: look the code up with `get_project` first. 422
    /// when the code or name is taken (`Code has already been taken`), the code is not
    /// lowercase letters, digits and underscores, or the project type is unknown.
    pub async fn create_project(&self, project: &NewProject) -> Result<Project, ClientError> {
        let call = Call::post("createProject", "/api/projects").never_repeat();
        self.fetch(body(call, &RequestDocument::new(project))).await
    }

    /// `PATCH /api/projects/{code}`: name, description, archived (the code and type never
    /// change). Setting values is idempotent, so it is retried. 422 when the name is taken or
    /// blank; 404 for an unknown project.
    pub async fn update_project(
        &self,
        code: &str,
        update: &NodeUpdate,
    ) -> Result<Project, ClientError> {
        let call = Call::patch("updateProject", project_path(code)).safe_to_repeat();
        self.fetch(body(call, &RequestDocument::new(update))).await
    }

    /// `DELETE /api/projects/{code}`: archives the project with its environments and assets
    /// (OpsChain keeps it, archived). 422 while one of its runs is under way; 404 when there is
    /// no such project (already gone, for a cleanup).
    pub async fn archive_project(&self, code: &str) -> Result<(), ClientError> {
        self.send(Call::delete("archiveProject", project_path(code)))
            .await
    }

    /// `GET /api/projects/{project}/environments`: every environment, archived ones included.
    /// 404 for an unknown project.
    pub async fn list_environments(&self, project: &str) -> Result<Vec<Environment>, ClientError> {
        let path = format!("{}/environments", project_path(project));
        self.fetch_list(Call::get("listEnvironments", path)).await
    }

    /// `GET /api/projects/{project}/environments/{code}`; `None` when the project or the
    /// environment does not exist.
    pub async fn get_environment(
        &self,
        project: &str,
        code: &str,
    ) -> Result<Option<Environment>, ClientError> {
        self.fetch_optional(Call::get("getEnvironment", environment_path(project, code)))
            .await
    }

    /// `POST /api/projects/{project}/environments`. Never resent: look the code up with
    /// `get_environment` first. 422 when the code or name is taken in the project or the code
    /// is invalid; 404 for an unknown project.
    pub async fn create_environment(
        &self,
        project: &str,
        environment: &NewEnvironment,
    ) -> Result<Environment, ClientError> {
        let path = format!("{}/environments", project_path(project));
        let call = Call::post("createEnvironment", path).never_repeat();
        self.fetch(body(call, &RequestDocument::new(environment)))
            .await
    }

    /// `PATCH /api/projects/{project}/environments/{code}`: name, description, archived.
    /// Idempotent, so retried. 422 when the name is taken or blank.
    pub async fn update_environment(
        &self,
        project: &str,
        code: &str,
        update: &NodeUpdate,
    ) -> Result<Environment, ClientError> {
        let call =
            Call::patch("updateEnvironment", environment_path(project, code)).safe_to_repeat();
        self.fetch(body(call, &RequestDocument::new(update))).await
    }

    /// `DELETE /api/projects/{project}/environments/{code}`: archives the environment and its
    /// assets. 404 when it does not exist (already gone, for a cleanup).
    pub async fn archive_environment(&self, project: &str, code: &str) -> Result<(), ClientError> {
        self.send(Call::delete(
            "archiveEnvironment",
            environment_path(project, code),
        ))
        .await
    }

    /// `GET /api/properties/{id}`: the current properties of a project or environment (its
    /// `properties_id`); `None` for an unknown id.
    pub async fn get_properties(&self, id: &str) -> Result<Option<Properties>, ClientError> {
        let path = format!("/api/properties/{}", segment(id));
        self.fetch_optional(Call::get("getProperties", path)).await
    }

    /// `PATCH /api/properties/{id}` with `version`: replaces the properties with `data` if they
    /// are still at `version`, and answers the new version. A change made since is refused as
    /// [`PropertiesUpdateError::VersionMismatch`] (422): read them again and reapply. Not
    /// resent: a lost answer would make the resend a mismatch.
    pub async fn update_properties(
        &self,
        id: &str,
        version: u64,
        data: &Map<String, Value>,
    ) -> Result<Properties, PropertiesUpdateError> {
        let path = format!("/api/properties/{}", segment(id));
        let update = PropertiesUpdate { data, version };
        let call = Call::patch("updateProperties", path).never_repeat();
        self.fetch(body(call, &RequestDocument::new(&update)))
            .await
            .map_err(PropertiesUpdateError::classify)
    }
}
