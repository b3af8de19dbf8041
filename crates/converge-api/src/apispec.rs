// kube's printcolumn(...) arguments repeat `type_ = ...` by design, which clippy mistakes for
// duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use converge_core::Platform;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::common::conditions::CommonStatus;
use crate::common::policy::Management;
use crate::common::refs::{ConfigMapKeyRef, LocalRef};
use crate::common::schema::Api7Label;
use crate::kind::{Kind, Watched};

/// An OpenAPI definition managed on an API platform.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "converge.dev",
    version = "v1alpha1",
    kind = "ApiSpec",
    namespaced,
    status = "ApiSpecStatus",
    shortname = "cvapi",
    category = "converge",
    doc = "An OpenAPI definition: created, updated, published and deployed on Frends; imported as an application on API7 Cloud; observed (read-only) on WSO2 Choreo.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        description = "Why Ready is what it is: Converged, Progressing, WaitingForReference, PlatformRetrying, Suspended, or a Stalled reason",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(name = "Platform ID", type_ = "string", json_path = ".status.apiId"),
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".status.activeVersion"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("[has(self.frends), has(self.api7), has(self.choreo)].filter(x, x).size() == 1").message("spec must set exactly one platform block: frends, api7 or choreo"))]
#[x_kube(validation = Rule::new("[has(self.frends), has(self.api7), has(self.choreo)] == [has(oldSelf.frends), has(oldSelf.api7), has(oldSelf.choreo)]").message("the platform of an ApiSpec cannot change; create a new ApiSpec instead"))]
#[x_kube(validation = Rule::new("has(self.choreo) || has(self.definition)").message("definition is required for frends and api7: it is the OpenAPI document to manage"))]
#[x_kube(validation = Rule::new("!has(self.choreo) || !has(self.definition)").message("choreo APIs are read-only: remove definition, Converge only observes them"))]
#[serde(rename_all = "camelCase")]
pub struct ApiSpecSpec {
    /// The PlatformConnection to use; its platform must match the platform block set here.
    pub connection_ref: LocalRef,
    #[serde(flatten)]
    pub management: Management,
    /// The OpenAPI document (JSON or YAML), inline or from a ConfigMap key. Required for frends
    /// and api7; a change of content updates the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<Definition>,
    /// Frends API management: the specification, its published versions, deployments to agent
    /// groups and passthrough configurations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frends: Option<FrendsApi>,
    /// API7 Cloud: the definition imported as an application in the connection's cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api7: Option<Api7Import>,
    /// WSO2 Choreo: an existing managed API to observe; Choreo APIs are read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choreo: Option<ChoreoApi>,
}

/// Where the OpenAPI document is.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.inline), has(self.configMapKeyRef)].filter(x, x).size() == 1").message("definition needs exactly one of inline or configMapKeyRef"))]
pub struct Definition {
    /// The document itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1048576))]
    pub inline: Option<String>,
    /// A ConfigMap key holding the document. The ConfigMap is watched: editing it updates the
    /// platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<ConfigMapKeyRef>,
}

/// A Frends API specification.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct FrendsApi {
    /// The base path (OpenAPI 2) or server URL (OpenAPI 3) of the specification. Frends never
    /// lets it change after creation, so it is immutable here and the definition must match it.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("frends.basePath is immutable: Frends never changes a specification's base path; create a new ApiSpec"))]
    pub base_path: String,
    /// Publish the active version whenever Converge has changed it, with this description.
    /// Publishing locks the version and makes it deployable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<FrendsPublish>,
    /// Agent groups to deploy a published version to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["agentGroupId"]))]
    pub deployments: Vec<FrendsDeployment>,
    /// Passthrough configurations of the active version: requests forwarded to another server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub passthrough: Vec<FrendsPassthrough>,
}

/// How to publish.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FrendsPublish {
    /// The change description recorded with the published version.
    #[schemars(length(min = 1, max = 4000))]
    pub change_description: String,
}

/// A deployment of a version to an agent group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FrendsDeployment {
    /// The Frends agent group id.
    #[schemars(range(min = 1i64, max = 9_007_199_254_740_991i64))]
    pub agent_group_id: i64,
    /// The version to deploy; defaults to the latest published version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub version: Option<i32>,
}

/// A Frends passthrough configuration.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.isDefault) && self.isDefault) ? (!has(self.path) && !has(self.method)) : (has(self.path) && has(self.method))").message("a passthrough needs path and method, unless isDefault is true, when it must have neither"))]
pub struct FrendsPassthrough {
    /// This configuration applies to every path and method of the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    /// Source API path, as in the specification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048), regex(pattern = r"^/"))]
    pub path: Option<String>,
    /// HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HttpMethod>,
    /// Whether CORS is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors_enabled: Option<bool>,
    /// Origins allowed when CORS is enabled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(min = 1, max = 2048)))]
    pub allowed_origins: Vec<String>,
    /// Where requests are forwarded.
    pub target_url: FrendsTargetUrl,
    /// Headers to add, replace or remove on the way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub headers: Vec<FrendsHeader>,
}

/// HTTP methods.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Put,
    Post,
    Delete,
    Patch,
    Head,
    Options,
}

/// The target of a passthrough.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FrendsTargetUrl {
    /// Target server, for example https://backend.internal.
    #[schemars(length(min = 1, max = 2048), regex(pattern = r"^https?://"))]
    pub server: String,
    /// Base path on the target server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub base_path: Option<String>,
    /// Operation path on the target server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub operation_path: Option<String>,
    /// Query string to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub query: Option<String>,
}

/// A header rule of a passthrough.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FrendsHeader {
    /// What to do with the header.
    pub action: FrendsHeaderAction,
    /// Header name.
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    /// Header value (not used by Remove).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 8192))]
    pub value: Option<String>,
}

/// Header actions of a passthrough.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum FrendsHeaderAction {
    Add,
    Replace,
    Remove,
}

/// The definition imported into API7 Cloud as an application.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Api7Import {
    /// Labels added to the imported application.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub labels: Vec<Api7Label>,
    /// Publish the imported application (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<bool>,
}

/// A Choreo managed API to observe, by id or by name and version.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.apiId) || has(self.name)").message("choreo needs apiId, or name (and optionally version), to find the API"))]
pub struct ChoreoApi {
    /// The API's Choreo id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub api_id: Option<String>,
    /// The API's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub name: Option<String>,
    /// The API's version, when several share a name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub version: Option<String>,
}

/// The platform's view of the API.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiSpecStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// The platform's id: Frends specification id, API7 application id, Choreo API id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_id: Option<String>,
    /// SHA-256 of the definition last written to the platform, to detect content changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition_hash: Option<String>,
    /// Frends: hash of the definition and passthrough settings last published, so the same
    /// content is never published twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_hash: Option<String>,
    /// Frends: the hash being published while a publish call is in flight; a controller
    /// restarted after the call sees activeVersion moved on and does not publish again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_publish: Option<String>,
    /// Frends: the active (editable) version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_version: Option<i32>,
    /// Frends: the latest published version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_version: Option<i32>,
    /// Frends: the deployment Converge requested of each agent group. Frends answers a deploy
    /// with "Deployment started" and reports nothing after, so this says what was requested,
    /// not what runs there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployments: Vec<FrendsDeploymentStatus>,
    /// Choreo: Created, Published, Deprecated or Retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_status: Option<String>,
    /// Choreo: Public, Organization or Project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
}

/// A deployment of a version to an agent group that Converge requested.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FrendsDeploymentStatus {
    /// The agent group.
    pub agent_group_id: i64,
    /// The version requested there.
    pub version: i32,
    /// When Converge requested it (RFC 3339); Frends answered "Deployment started" and does not
    /// report whether it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<String>,
}

impl Kind for ApiSpec {
    const KIND: &'static str = "ApiSpec";
    const REFERRED_AS: Option<Watched> = Some(Watched::ApiSpec);
    const WATCHES: &'static [Watched] = &[Watched::ConfigMap];
    type Status = ApiSpecStatus;

    fn management(&self) -> &Management {
        &self.spec.management
    }

    fn connection_name(&self) -> &str {
        &self.spec.connection_ref.name
    }

    fn platform(&self) -> Option<Platform> {
        match (&self.spec.choreo, &self.spec.frends, &self.spec.api7) {
            (Some(_), _, _) => Some(Platform::Choreo),
            (_, Some(_), _) => Some(Platform::Frends),
            (_, _, Some(_)) => Some(Platform::Api7),
            (None, None, None) => None,
        }
    }

    fn status(&self) -> Option<&ApiSpecStatus> {
        self.status.as_ref()
    }

    fn common(status: &ApiSpecStatus) -> &CommonStatus {
        &status.common
    }

    fn common_mut(status: &mut ApiSpecStatus) -> &mut CommonStatus {
        &mut status.common
    }

    fn platform_object(&self, id: &str) -> String {
        match self.platform() {
            Some(Platform::Frends) => format!("Frends API specification {id}"),
            Some(Platform::Api7) => format!("API7 application {id}"),
            Some(Platform::Choreo) => format!("Choreo API {id}"),
            Some(p @ (Platform::Cycloid | Platform::OpsChain)) => format!("{} {id}", p.name()),
            None => id.to_string(),
        }
    }

    /// A Choreo API (the one with a lifecycle status) is only observed: it is not an id
    /// Converge may delete, so deletion has nothing to do.
    fn platform_id(status: &ApiSpecStatus) -> Option<&str> {
        if status.lifecycle_status.is_some() {
            None
        } else {
            status.api_id.as_deref()
        }
    }

    fn references(&self) -> Vec<(Watched, String)> {
        self.spec
            .definition
            .as_ref()
            .and_then(|d| d.config_map_key_ref.as_ref())
            .map(|r| vec![(Watched::ConfigMap, r.name.clone())])
            .unwrap_or_default()
    }
}
