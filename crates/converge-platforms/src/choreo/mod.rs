//! The WSO2 Choreo client: organizations, projects, components with their builds and
//! deployments, environments, and the (read-only) managed APIs of one organization, over the
//! Choreo API Management API (`/api/v1`, bearer token).
//!
//! Choreo has no update operations and cannot delete a project; creates are never retried
//! (see each one for the lookup a reconciler makes first). Every error body is WSO2's
//! `ErrorDTO`, whose words end up in [`ClientError`] messages.

mod envelope;
mod types;
mod wire_enum;

use std::collections::HashSet;
use std::sync::Arc;

use jiff::Timestamp;

pub use types::{
    Api, ApiStatus, ApiType, ApiVisibility, Build, BuildCreate, BuildStatus, Component,
    ComponentCreate, ComponentStatus, ComponentType, Deployment, DeploymentCreate,
    DeploymentStatus, Environment, EnvironmentType, Organization, Project, ProjectCreate,
};

use super::{Auth, Call, ClientError, ClientMetrics, Http, HttpConfig, Secret};
use envelope::{List, Page};

/// The metric label and error prefix of every call.
const PLATFORM: &str = "choreo";

/// APIs asked for per page. The platform's default is 25; a larger page means fewer calls
/// against the request budget, and a server that caps it lower is still walked correctly.
const API_PAGE_SIZE: usize = 100;

/// A client of one Choreo organization. Clones share the connection, budget and credentials.
#[derive(Clone)]
pub struct ChoreoClient {
    http: Http,
    organization_id: String,
}

impl std::fmt::Debug for ChoreoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChoreoClient")
            .field("endpoint", &self.http.base_url())
            .field("organization_id", &self.organization_id)
            .finish_non_exhaustive()
    }
}

impl ChoreoClient {
    /// This client for a drift check, which may share collection reads ([`Http::sharing`]).
    pub fn sharing(&self, window: std::time::Duration) -> Self {
        ChoreoClient {
            http: self.http.sharing(window),
            ..self.clone()
        }
    }

    /// The HTTP layer (budget, pool, credentials).
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The HTTP settings of a Choreo connection at `endpoint` (e.g.
    /// `https://console.choreo.dev/api/v1`), with the shared defaults; adjust them, then
    /// pass them to [`ChoreoClient::new`].
    pub fn config(endpoint: impl Into<String>) -> HttpConfig {
        HttpConfig::new(PLATFORM, endpoint, envelope::error_message)
    }

    /// A client of the organization `organization_id` (its id or handle, as
    /// `GET /organizations` lists them). The platform label and error reader are always
    /// Choreo's, whatever `config` says. Fails on an unusable endpoint or CA bundle.
    pub fn new(
        mut config: HttpConfig,
        token: Secret,
        organization_id: impl Into<String>,
        metrics: ClientMetrics,
    ) -> Result<Self, ClientError> {
        config.platform = PLATFORM;
        config.error_message = envelope::error_message;
        Ok(ChoreoClient {
            http: Http::new(config, Auth::Bearer(token), metrics)?,
            organization_id: organization_id.into(),
        })
    }

    /// The organization every call is scoped to.
    pub fn organization_id(&self) -> &str {
        &self.organization_id
    }

    /// A rotated token, used from the next request on (clones included).
    pub fn set_token(&self, token: Secret) {
        self.http.set_auth(Auth::Bearer(token));
    }

    fn org_path(&self) -> String {
        format!("/organizations/{}", segment(&self.organization_id))
    }

    fn project_path(&self, project_id: &str) -> String {
        format!("{}/projects/{}", self.org_path(), segment(project_id))
    }

    fn component_path(&self, project_id: &str, component_id: &str) -> String {
        format!(
            "{}/components/{}",
            self.project_path(project_id),
            segment(component_id)
        )
    }

    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        path: String,
    ) -> Result<Vec<T>, ClientError> {
        let page: List<T> = self.http.json(Call::get(operation, path)).await?;
        Ok(page.list)
    }

    /// The organizations the token's user belongs to (not scoped to this client's
    /// organization): how a connection check confirms the organization exists and the token
    /// works. 401 on a missing or rejected token.
    pub async fn list_organizations(&self) -> Result<Vec<Organization>, ClientError> {
        self.list("listOrganizations", "/organizations".to_string())
            .await
    }

    /// A list drift checks may share (see `shared_reads`); others read it fresh.
    async fn shared_list<T>(
        &self,
        operation: &'static str,
        path: String,
    ) -> Result<Arc<Vec<T>>, ClientError>
    where
        T: serde::de::DeserializeOwned + Send + Sync + 'static,
    {
        let key = format!("{operation} {path}");
        self.http.shared(&key, self.list(operation, path)).await
    }

    /// Every project of the organization. 404 when the organization does not exist.
    pub async fn list_projects(&self) -> Result<Arc<Vec<Project>>, ClientError> {
        self.shared_list("listProjects", format!("{}/projects", self.org_path()))
            .await
    }

    /// The project named exactly `name` (names are unique in an organization, case
    /// included): the lookup before [`ChoreoClient::create_project`].
    pub async fn find_project_by_name(&self, name: &str) -> Result<Option<Project>, ClientError> {
        Ok(self
            .list_projects()
            .await?
            .iter()
            .find(|p| p.name == name)
            .cloned())
    }

    /// Creates a project. 409 when the name is taken in the organization, 400 on an invalid
    /// body, 404 when the organization does not exist. Not retried: after an unknown outcome
    /// (timeout, 5xx) look the project up by name before creating again.
    pub async fn create_project(&self, project: &ProjectCreate) -> Result<Project, ClientError> {
        let call =
            Call::post("createProject", format!("{}/projects", self.org_path())).json(project);
        self.http.json(call).await
    }

    /// Every component of a project. 404 when the project does not exist.
    pub async fn list_components(
        &self,
        project_id: &str,
    ) -> Result<Arc<Vec<Component>>, ClientError> {
        self.shared_list(
            "listComponents",
            format!("{}/components", self.project_path(project_id)),
        )
        .await
    }

    /// The component named exactly `name` in a project (names are unique in a project, case
    /// included): the lookup before [`ChoreoClient::create_component`].
    pub async fn find_component_by_name(
        &self,
        project_id: &str,
        name: &str,
    ) -> Result<Option<Component>, ClientError> {
        Ok(self
            .list_components(project_id)
            .await?
            .iter()
            .find(|c| c.name == name)
            .cloned())
    }

    /// Creates a component. 409 when the name is taken in the project, 400 on an invalid body
    /// (a missing field, an unknown type), 404 when the project does not exist. Not retried:
    /// after an unknown outcome look the component up by name before creating again.
    pub async fn create_component(
        &self,
        project_id: &str,
        component: &ComponentCreate,
    ) -> Result<Component, ClientError> {
        let call = Call::post(
            "createComponent",
            format!("{}/components", self.project_path(project_id)),
        )
        .json(component);
        self.http.json(call).await
    }

    /// One component, with its current status. 404 when it (or its project) does not exist.
    pub async fn get_component(
        &self,
        project_id: &str,
        component_id: &str,
    ) -> Result<Component, ClientError> {
        let call = Call::get(
            "getComponent",
            self.component_path(project_id, component_id),
        );
        self.http.json(call).await
    }

    /// Deletes a component with its builds and deployments. 404 when it does not exist, which
    /// is also what a retried delete sees after the first attempt deleted it: cleanup treats
    /// [`ClientError::is_not_found`] as already gone.
    pub async fn delete_component(
        &self,
        project_id: &str,
        component_id: &str,
    ) -> Result<(), ClientError> {
        let call = Call::delete(
            "deleteComponent",
            self.component_path(project_id, component_id),
        );
        self.http.send(call).await.map(|_| ())
    }

    /// The builds of a component (newest first on the platform). 404 when the component
    /// does not exist.
    pub async fn list_builds(
        &self,
        project_id: &str,
        component_id: &str,
    ) -> Result<Vec<Build>, ClientError> {
        self.list(
            "listBuilds",
            format!("{}/builds", self.component_path(project_id, component_id)),
        )
        .await
    }

    /// The newest build of `commit` (full or abbreviated, see [`Build::is_of_commit`]): the
    /// lookup before [`ChoreoClient::create_build`].
    pub async fn find_build_by_commit(
        &self,
        project_id: &str,
        component_id: &str,
        commit: &str,
    ) -> Result<Option<Build>, ClientError> {
        let builds = self.list_builds(project_id, component_id).await?;
        Ok(newest(
            builds.into_iter().filter(|b| b.is_of_commit(commit)),
            |b| b.created_at,
        ))
    }

    /// Triggers a build of the component (of its branch's head when `build` names no commit).
    /// 400 on an invalid commit hash, 404 when the component does not exist. Every call
    /// starts another build and it is never retried: after an unknown outcome look for the
    /// build with [`ChoreoClient::find_build_by_commit`] before triggering again.
    pub async fn create_build(
        &self,
        project_id: &str,
        component_id: &str,
        build: &BuildCreate,
    ) -> Result<Build, ClientError> {
        let call = Call::post(
            "createBuild",
            format!("{}/builds", self.component_path(project_id, component_id)),
        )
        .json(build);
        self.http.json(call).await
    }

    /// The deployments of a component (newest first on the platform), live or not. 404 when
    /// the component does not exist.
    pub async fn list_deployments(
        &self,
        project_id: &str,
        component_id: &str,
    ) -> Result<Vec<Deployment>, ClientError> {
        self.list(
            "listDeployments",
            format!(
                "{}/deployments",
                self.component_path(project_id, component_id)
            ),
        )
        .await
    }

    /// The newest deployment of a build to an environment (by id): the lookup before
    /// [`ChoreoClient::create_deployment`].
    pub async fn find_deployment(
        &self,
        project_id: &str,
        component_id: &str,
        build_id: &str,
        environment_id: &str,
    ) -> Result<Option<Deployment>, ClientError> {
        let deployments = self.list_deployments(project_id, component_id).await?;
        Ok(newest(
            deployments
                .into_iter()
                .filter(|d| d.build_id == build_id && d.environment_id == environment_id),
            |d| d.created_at,
        ))
    }

    /// Promotes a build to an environment (by id; see [`ChoreoClient::resolve_environment`]).
    /// 400 when the build is not this component's, the environment is unknown, or the build's
    /// status is not Success (the platform's only client error here, so read its message);
    /// 404 when the component does not exist. Every call creates another deployment and it is
    /// never retried: after an unknown outcome look with [`ChoreoClient::find_deployment`].
    pub async fn create_deployment(
        &self,
        project_id: &str,
        component_id: &str,
        deployment: &DeploymentCreate,
    ) -> Result<Deployment, ClientError> {
        let call = Call::post(
            "createDeployment",
            format!(
                "{}/deployments",
                self.component_path(project_id, component_id)
            ),
        )
        .json(deployment);
        self.http.json(call).await
    }

    /// The organization's environments (read-only: Choreo manages them).
    pub async fn list_environments(&self) -> Result<Arc<Vec<Environment>>, ClientError> {
        self.shared_list(
            "listEnvironments",
            format!("{}/environments", self.org_path()),
        )
        .await
    }

    /// The environment a manifest names by id or name (see [`Environment::resolve`]); None
    /// when the organization has no such environment.
    pub async fn resolve_environment(&self, key: &str) -> Result<Option<Environment>, ClientError> {
        let environments = self.list_environments().await?;
        Ok(Environment::resolve(&environments, key).cloned())
    }

    /// Every managed API of the organization, walking the pages (`limit`/`offset`) until
    /// `pagination.total` is reached.
    pub async fn list_apis(&self) -> Result<Vec<Api>, ClientError> {
        let path = format!("{}/apis", self.org_path());
        let mut apis = Vec::new();
        let mut seen = HashSet::new();
        let mut offset = 0;
        loop {
            let call = Call::get("listAPIs", path.clone())
                .query("limit", API_PAGE_SIZE)
                .query("offset", offset);
            let page: Page<Api> = self.http.json(call).await?;
            let received = page.list.len();
            offset += received;
            // An API created between two pages shifts the rest by one, repeating one of them.
            apis.extend(page.list.into_iter().filter(|a| seen.insert(a.id.clone())));
            if received == 0 || offset >= page.pagination.total {
                return Ok(apis);
            }
        }
    }

    /// One managed API. 404 when the organization has no API with that id.
    pub async fn get_api(&self, api_id: &str) -> Result<Api, ClientError> {
        let call = Call::get(
            "getAPI",
            format!("{}/apis/{}", self.org_path(), segment(api_id)),
        );
        self.http.json(call).await
    }

    /// The APIs named exactly `name`, of `version` when given. Several versions may share a
    /// name: more than one answer without a version means the manifest must name one.
    pub async fn find_apis(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<Vec<Api>, ClientError> {
        Ok(self
            .list_apis()
            .await?
            .into_iter()
            .filter(|a| a.name == name && version.is_none_or(|v| a.version == v))
            .collect())
    }
}

/// The item created last; on equal (or unknown) times, the one listed first, as the platform
/// lists newest first.
fn newest<T>(
    items: impl Iterator<Item = T>,
    created_at: impl Fn(&T) -> Option<Timestamp>,
) -> Option<T> {
    items.fold(None, |best, item| match best {
        Some(best) if created_at(&best) >= created_at(&item) => Some(best),
        _ => Some(item),
    })
}

/// A path segment with everything but unreserved characters percent-encoded, so an id or
/// handle can never change the path it is put in.
fn segment(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Every decoder of this client over one response body (see `clients::decoders`): the error
/// message, and each response type in the envelope it arrives in. How many accepted the body.
pub fn decode_every_way(body: &[u8]) -> usize {
    use crate::decoders::accepts;
    usize::from(envelope::error_message(400, body).is_some())
        + accepts::<Project>(body)
        + accepts::<Component>(body)
        + accepts::<Build>(body)
        + accepts::<Deployment>(body)
        + accepts::<List<Project>>(body)
        + accepts::<List<Component>>(body)
        + accepts::<List<Environment>>(body)
        + accepts::<List<Organization>>(body)
        + accepts::<List<Build>>(body)
        + accepts::<List<Deployment>>(body)
        + accepts::<Page<Api>>(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_escape_their_place_in_the_path() {
        assert_eq!(segment("acme"), "acme");
        assert_eq!(
            segment("415e10e6-c436-4f40-98c9-48b68e2eff7e"),
            "415e10e6-c436-4f40-98c9-48b68e2eff7e"
        );
        assert_eq!(segment("../a b/ü?"), "..%2Fa%20b%2F%C3%BC%3F");
    }

    #[test]
    fn newest_prefers_the_latest_time_then_the_first_listed() {
        let t = |s: i64| Some(Timestamp::from_second(s).unwrap());
        let items = [("a", t(10)), ("b", t(30)), ("c", t(30)), ("d", None)];
        assert_eq!(newest(items.into_iter(), |i| i.1).map(|i| i.0), Some("b"));
        let untimed = [("x", None), ("y", None)];
        assert_eq!(newest(untimed.into_iter(), |i| i.1).map(|i| i.0), Some("x"));
        assert_eq!(
            newest(std::iter::empty::<(&str, Option<Timestamp>)>(), |i| i.1),
            None
        );
    }
}
