//! Applications of the cluster (`/clusters/{cluster_id}/apps`): hosts, path prefix, upstream
//! versions and plugins. (The docs also show an OpenAPI import, without a path: Converge does
//! not use it, see `apispec::api7`.)

use jiff::Timestamp;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::envelope::null_default;
use super::{
    Active, Api7Client, ClientError, EntityStatus, LbType, ListFilter, Protocol, UpstreamScheme,
    check_id,
};

/// What a client sets on an application: the body of a create and of a `PUT`, which replaces
/// the whole application (a field left out takes its default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApplicationSpec {
    /// Unique in the cluster (409 otherwise): the application's natural key. 1..64 characters.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Host names the application answers on: at least one, unique.
    #[serde(deserialize_with = "null_default")]
    pub hosts: Vec<String>,
    /// The listening path prefix, starting with `/`.
    pub path_prefix: String,
    /// HTTP (the platform's default when empty), HTTPS or both.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub protocols: Vec<Protocol>,
    /// 1..10 upstream versions with unique names.
    #[serde(deserialize_with = "null_default")]
    pub upstreams: Vec<UpstreamAndVersion>,
    /// The version that takes traffic outside a canary release; "default" when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_upstream_version: String,
    /// Plugins (policies such as `cors`) by name.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Map::is_empty"
    )]
    pub plugins: Map<String, Value>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub labels: Vec<String>,
    /// Published (0) serves traffic.
    #[serde(default)]
    pub active: Active,
}

/// One upstream version of an application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpstreamAndVersion {
    /// The version name ("default" when empty); canary releases and
    /// `default_upstream_version` refer to it.
    #[serde(default)]
    pub version: String,
    pub upstream: Upstream,
    /// A Client certificate of the cluster presented to the upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_id: Option<String>,
}

/// Where an upstream version's traffic goes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Upstream {
    /// http by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<UpstreamScheme>,
    /// roundrobin by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lb_type: Option<LbType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_key: Option<String>,
    /// Instead of `targets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_discovery: Option<Map<String, Value>>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub targets: Vec<UpstreamTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<UpstreamTimeout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_host_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_id: Option<String>,
    /// Health checks, as the platform takes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Map<String, Value>>,
}

/// A backend target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamTarget {
    pub host: String,
    pub port: u16,
    /// 100 when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

/// Upstream timeouts in seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamTimeout {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<u64>,
}

/// An application as the platform answers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub id: String,
    pub cluster_id: String,
    /// Whether the last change has reached the gateways.
    pub status: EntityStatus,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    /// Server certificates of the cluster covering the application's hosts.
    #[serde(default, deserialize_with = "null_default")]
    pub available_cert_ids: Vec<String>,
    /// The canary releases in progress.
    #[serde(default, deserialize_with = "null_default")]
    pub canary_release_id: Vec<String>,
    /// The upstream versions open (paused or in progress) canary releases hold.
    #[serde(default, deserialize_with = "null_default")]
    pub canary_upstream_version_list: Vec<String>,
    #[serde(flatten)]
    pub spec: ApplicationSpec,
}

/// A partial change: only the fields given are sent and changed; the platform then validates
/// the application whole.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ApplicationPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocols: Option<Vec<Protocol>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstreams: Option<Vec<UpstreamAndVersion>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_upstream_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<Active>,
}

impl ApplicationPatch {
    /// Publishes or unpublishes, changing nothing else.
    pub fn published(published: bool) -> Self {
        ApplicationPatch {
            active: Some(Active::from_published(published)),
            ..Default::default()
        }
    }
}

impl Api7Client {
    fn app_path(&self, app_id: &str) -> Result<String, ClientError> {
        check_id("application id", app_id)?;
        Ok(self.cluster_path(&format!("/apps/{app_id}")))
    }

    /// Every application of the cluster matching `filter`, all pages walked.
    pub async fn list_applications(
        &self,
        filter: &ListFilter,
    ) -> Result<Vec<Application>, ClientError> {
        self.list_all("listApplication", &self.cluster_path("/apps"), filter)
            .await
    }

    /// The application named exactly `name` (the platform's search matches in part and
    /// ignores case; this keeps the exact name only), or None.
    pub async fn find_application_by_name(
        &self,
        name: &str,
    ) -> Result<Option<Application>, ClientError> {
        let found = self.list_applications(&ListFilter::search(name)).await?;
        Ok(found.into_iter().find(|a| a.spec.name == name))
    }

    /// One application. 404 when it is not in the cluster.
    ///
    /// A drift check's client answers from the cluster's application list the connection's
    /// drift checks share (one walk of the pages for all of them, see `shared_reads`); an
    /// application not in it is read alone, so a list read moments before a create never
    /// hides it.
    pub async fn get_application(&self, app_id: &str) -> Result<Application, ClientError> {
        if self.http.shares() {
            let listed = self
                .http
                .shared(
                    "listApplication",
                    self.list_applications(&ListFilter::default()),
                )
                .await?;
            if let Some(app) = listed.iter().find(|a| a.id == app_id) {
                return Ok(app.clone());
            }
        }
        let call = Self::call(Method::GET, "getApplication", &self.app_path(app_id)?);
        self.payload(self.in_cluster(call)).await
    }

    /// Creates an application. Not retried: after an error whose effect is unknown, look it up
    /// with [`Api7Client::find_application_by_name`]. 409 when the name is taken in the
    /// cluster; 400 on a validation failure (a `default_upstream_version` that names no
    /// upstream, bad hosts...) or while the cluster is not ready.
    pub async fn create_application(
        &self,
        spec: &ApplicationSpec,
    ) -> Result<Application, ClientError> {
        let call = Self::call(
            Method::POST,
            "createApplication",
            &self.cluster_path("/apps"),
        )
        .json(spec);
        self.payload(self.in_cluster(call)).await
    }

    /// Replaces the whole application. 409 when renamed to a taken name; 400 when it would drop
    /// an upstream version an open canary release holds.
    pub async fn update_application(
        &self,
        app_id: &str,
        spec: &ApplicationSpec,
    ) -> Result<Application, ClientError> {
        let call = Self::call(Method::PUT, "updateApplication", &self.app_path(app_id)?).json(spec);
        self.payload(self.in_cluster(call)).await
    }

    /// Changes the fields `patch` gives (e.g. [`ApplicationPatch::published`]). Setting fields
    /// to given values can be repeated harmlessly, so it is retried like a `PUT`.
    pub async fn patch_application(
        &self,
        app_id: &str,
        patch: &ApplicationPatch,
    ) -> Result<Application, ClientError> {
        let call = Self::call(Method::PATCH, "patchApplication", &self.app_path(app_id)?)
            .json(patch)
            .safe_to_repeat();
        self.payload(self.in_cluster(call)).await
    }

    /// Deletes an application with its canary releases. Without `cascade` the platform refuses
    /// (400) while the application still has APIs; with it they go too. 404 when already gone
    /// (also after a retry whose first attempt succeeded unseen).
    pub async fn delete_application(&self, app_id: &str, cascade: bool) -> Result<(), ClientError> {
        let call = Self::call(Method::DELETE, "deleteApplication", &self.app_path(app_id)?)
            .query("cascade", cascade);
        self.no_payload(self.in_cluster(call)).await
    }
}
