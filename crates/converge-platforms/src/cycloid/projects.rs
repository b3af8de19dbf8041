//! The organization, its config repositories, its projects and their environments.

use super::{
    ConfigRepository, CycloidClient, Environment, NewEnvironment, NewProject, Organization,
    Project, UpdateEnvironment, UpdateProject, delete, environment_path, get, post, put, segment,
};
use crate::ClientError;

impl CycloidClient {
    /// `getOrg`: the organization. A cheap authenticated call to check a connection: 401 for
    /// an unknown API key, 403 for a key without access, 404 for an unknown organization.
    pub async fn get_organization(&self) -> Result<Organization, ClientError> {
        self.data(get("getOrg", self.org_path(""))).await
    }

    /// `listConfigRepositories`: every config repository of the organization.
    pub async fn list_config_repositories(&self) -> Result<Vec<ConfigRepository>, ClientError> {
        self.all_pages(
            "listConfigRepositories",
            &self.org_path("/config_repositories"),
            &[],
        )
        .await
    }

    /// `getConfigRepository`: a config repository by canonical, None when there is none.
    pub async fn get_config_repository(
        &self,
        canonical: &str,
    ) -> Result<Option<ConfigRepository>, ClientError> {
        let path = self.org_path(&format!("/config_repositories/{}", segment(canonical)));
        self.optional(get("getConfigRepository", path)).await
    }

    /// `getProjects`: every project of the organization, all pages.
    pub async fn list_projects(&self) -> Result<Vec<Project>, ClientError> {
        self.all_pages("getProjects", &self.org_path("/projects"), &[])
            .await
    }

    /// `getProject`: a project by canonical, None when there is none (the lookup before a
    /// create).
    pub async fn get_project(&self, canonical: &str) -> Result<Option<Project>, ClientError> {
        self.optional(get("getProject", self.project_path(canonical)))
            .await
    }

    /// `createProject` (never resent). 409 when the canonical exists; 422 when a field breaks
    /// its rule or the config repository, owner or team does not exist.
    pub async fn create_project(&self, project: &NewProject) -> Result<Project, ClientError> {
        self.data(post("createProject", self.org_path("/projects"), project))
            .await
    }

    /// `updateProject`: replaces the project's fields (those not sent are cleared). 409 when
    /// `updated_at` is not the project's current one: read it again and redo the change.
    pub async fn update_project(
        &self,
        canonical: &str,
        update: &UpdateProject,
    ) -> Result<Project, ClientError> {
        self.data(put("updateProject", self.project_path(canonical), update))
            .await
    }

    /// `deleteProject`, with its environments, components and pipelines. 404 when it is
    /// already gone.
    pub async fn delete_project(&self, canonical: &str) -> Result<(), ClientError> {
        self.no_content(delete("deleteProject", self.project_path(canonical)))
            .await
    }

    /// `getProjectEnvironments`: every environment of a project, all pages.
    pub async fn list_environments(&self, project: &str) -> Result<Vec<Environment>, ClientError> {
        let path = format!("{}/environments", self.project_path(project));
        self.all_pages("getProjectEnvironments", &path, &[]).await
    }

    /// `getEnvironment`: None when the project or the environment does not exist.
    pub async fn get_environment(
        &self,
        project: &str,
        environment: &str,
    ) -> Result<Option<Environment>, ClientError> {
        let path = self.org_path(&environment_path(project, environment));
        self.optional(get("getEnvironment", path)).await
    }

    /// `createEnvironment` (never resent): 409 when the canonical exists in the project.
    /// Moves the project's `updated_at`.
    pub async fn create_environment(
        &self,
        project: &str,
        environment: &NewEnvironment,
    ) -> Result<Environment, ClientError> {
        let path = format!("{}/environments", self.project_path(project));
        self.data(post("createEnvironment", path, environment))
            .await
    }

    /// `updateEnvironment`: the name and color (a color not sent is cleared). Moves the
    /// project's `updated_at`.
    pub async fn update_environment(
        &self,
        project: &str,
        environment: &str,
        update: &UpdateEnvironment,
    ) -> Result<Environment, ClientError> {
        let path = self.org_path(&environment_path(project, environment));
        self.data(put("updateEnvironment", path, update)).await
    }

    /// `deleteEnvironment`, with its components and pipelines. 404 when it is already gone.
    pub async fn delete_environment(
        &self,
        project: &str,
        environment: &str,
    ) -> Result<(), ClientError> {
        let path = self.org_path(&environment_path(project, environment));
        self.no_content(delete("deleteEnvironment", path)).await
    }

    fn project_path(&self, canonical: &str) -> String {
        self.org_path(&format!("/projects/{}", segment(canonical)))
    }
}
