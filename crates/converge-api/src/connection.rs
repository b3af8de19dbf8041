// kube's printcolumn(...) arguments repeat `type_ = ...` by design, which clippy mistakes for
// duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use converge_core::Platform;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::common::conditions::CommonStatus;
use crate::common::schema::{API7_ID, CYCLOID_CANONICAL};

/// A connection to one delivery platform: its endpoint, the Secret holding its credentials, the
/// organisation or cluster to work in, and the request budget every object using it shares.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "converge.dev",
    version = "v1alpha1",
    kind = "PlatformConnection",
    namespaced,
    status = "PlatformConnectionStatus",
    shortname = "cvconn",
    category = "converge",
    doc = "A connection to one delivery platform (Choreo, Cycloid, Frends, API7 Cloud or OpsChain): endpoint, credentials, organisation and request budget.",
    printcolumn(name = "Platform", type_ = "string", json_path = ".status.platform"),
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
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".spec.endpoint"),
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".status.platformVersion",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("[has(self.choreo), has(self.cycloid), has(self.frends), has(self.api7), has(self.opschain)].filter(x, x).size() == 1").message("spec must set exactly one platform block: choreo, cycloid, frends, api7 or opschain"))]
#[x_kube(validation = Rule::new("self.endpoint.startsWith('https://') || self.endpoint.matches('^http://(127\\\\.[0-9.]+|localhost|\\\\[::1\\\\])(:[0-9]+)?(/.*)?$') || (has(self.allowInsecureHttp) && self.allowInsecureHttp)").message("endpoint must use https://; plain http:// is only accepted for loopback addresses or with allowInsecureHttp: true"))]
#[x_kube(validation = Rule::new("!has(self.credentials.type) || self.credentials.type == 'Token' || has(self.opschain)").message("credentials.type Basic is only accepted by OpsChain; the other platforms take a token"))]
#[x_kube(validation = Rule::new("[has(self.choreo), has(self.cycloid), has(self.frends), has(self.api7), has(self.opschain)] == [has(oldSelf.choreo), has(oldSelf.cycloid), has(oldSelf.frends), has(oldSelf.api7), has(oldSelf.opschain)]").message("the platform of a connection cannot change; create a new PlatformConnection instead"))]
#[serde(rename_all = "camelCase")]
pub struct PlatformConnectionSpec {
    /// Base URL of the platform API, for example https://console.choreo.dev/api/v1 or
    /// https://api.cycloid.io. Must be https:// unless it is a loopback address or
    /// allowInsecureHttp is true.
    #[schemars(length(min = 1, max = 2048), regex(pattern = r"^https?://[^\s]+$"))]
    pub endpoint: String,
    /// Accept a plain http:// endpoint that is not on loopback. Credentials then travel
    /// unencrypted: only for isolated test networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_insecure_http: Option<bool>,
    /// Where the credentials are. They are read from the Secret on every use, so a rotated
    /// Secret takes effect without a restart.
    pub credentials: Credentials,
    /// TLS settings for https endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// How many requests per second Converge may send to this platform through this
    /// connection, shared by every object that uses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_budget: Option<RequestBudget>,
    /// Timeout of one HTTP request in seconds (default 30). Frends imports may need more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600))]
    pub timeout_seconds: Option<i32>,
    /// WSO2 Choreo settings. Set exactly one platform block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choreo: Option<ChoreoConnection>,
    /// Cycloid settings. Set exactly one platform block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycloid: Option<CycloidConnection>,
    /// Frends API management settings. Set exactly one platform block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frends: Option<FrendsConnection>,
    /// API7 Cloud settings. Set exactly one platform block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api7: Option<Api7Connection>,
    /// OpsChain settings. Set exactly one platform block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opschain: Option<OpsChainConnection>,
}

impl PlatformConnectionSpec {
    /// The platform this connection's block names; None when it sets none (the CRD's CEL rules
    /// refuse that, but an object may predate them).
    pub fn platform(&self) -> Option<Platform> {
        match (
            &self.choreo,
            &self.cycloid,
            &self.frends,
            &self.api7,
            &self.opschain,
        ) {
            (Some(_), ..) => Some(Platform::Choreo),
            (_, Some(_), ..) => Some(Platform::Cycloid),
            (_, _, Some(_), ..) => Some(Platform::Frends),
            (_, _, _, Some(_), _) => Some(Platform::Api7),
            (_, _, _, _, Some(_)) => Some(Platform::OpsChain),
            (None, None, None, None, None) => None,
        }
    }
}

/// How the platform authenticates requests.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum CredentialType {
    /// `Authorization: Bearer <token>` (every platform).
    #[default]
    Token,
    /// HTTP basic authentication with a username and password (OpsChain only).
    Basic,
}

/// A Secret in the connection's namespace and the keys that hold the credentials.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.type) || self.type == 'Token' || (!has(self.tokenKey))").message("tokenKey is only used with type Token; Basic reads usernameKey and passwordKey"))]
pub struct Credentials {
    /// Name of the Secret, in this connection's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Token (default) or Basic.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<CredentialType>,
    /// Key of the token in the Secret (default "token").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub token_key: Option<String>,
    /// Key of the username in the Secret, for Basic (default "username").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub username_key: Option<String>,
    /// Key of the password in the Secret, for Basic (default "password").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub password_key: Option<String>,
}

/// TLS settings for the platform endpoint. Certificates are always verified.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tls {
    /// A ConfigMap key holding PEM CA certificates to trust in addition to the system roots,
    /// for platforms behind a private CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<crate::common::refs::ConfigMapKeyRef>,
}

/// A token bucket: `requestsPerSecond` refill rate and `burst` capacity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.burst) || !has(self.requestsPerSecond) || self.burst >= self.requestsPerSecond").message("burst must be at least requestsPerSecond"))]
pub struct RequestBudget {
    /// Sustained requests per second (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub requests_per_second: Option<i32>,
    /// Requests that may be sent at once after a quiet period (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000))]
    pub burst: Option<i32>,
}

/// WSO2 Choreo: the organization to work in.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChoreoConnection {
    /// The Choreo organization id (as listed by GET /organizations).
    #[schemars(length(min = 1, max = 128))]
    pub organization_id: String,
}

/// Cycloid: the organization to work in.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CycloidConnection {
    /// The organization canonical, for example "acme".
    #[schemars(length(min = 3, max = 100), regex(pattern = CYCLOID_CANONICAL))]
    pub organization: String,
}

/// Frends API management: nothing beyond the endpoint and token is needed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FrendsConnection {
    /// The agent group that is the tenant's default. API specifications are created there;
    /// deleting a specification from it deletes it permanently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1i64, max = 9_007_199_254_740_991i64))]
    pub default_agent_group_id: Option<i64>,
}

/// API7 Cloud: the organization and the gateway cluster to work in.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Api7Connection {
    /// The organization id, a decimal string (API7 ids overflow JSON numbers).
    #[schemars(length(min = 1, max = 20), regex(pattern = API7_ID))]
    pub organization_id: String,
    /// The gateway cluster id, a decimal string. Sent as X-API7-Cloud-Gateway-Cluster-ID.
    #[schemars(length(min = 1, max = 20), regex(pattern = API7_ID))]
    pub cluster_id: String,
    /// The URL path of "Get Cluster Metrics" (canary analysis), with {cluster_id} and
    /// {metric_type} in it. The docs give none, so the default,
    /// /api/v1/clusters/{cluster_id}/metrics/{metric_type}, is unconfirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 512),
        regex(pattern = r"^/[^?#\s]*\{metric_type\}[^?#\s]*$")
    )]
    pub metrics_path: Option<String>,
}

/// OpsChain: nothing beyond the endpoint and credentials is needed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpsChainConnection {}

/// What Converge last learned about the platform behind this connection.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformConnectionStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Which platform this connection reaches: Choreo, Cycloid, Frends, API7 or OpsChain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The platform's version, where its API reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    /// resourceVersion of the credentials Secret last checked, so a rotation triggers a re-check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_resource_version: Option<String>,
    /// How the calls through this connection fared against its request budget, over the
    /// window of at least 100 calls that ended at the last check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_budget: Option<RequestBudgetStatus>,
}

/// How long calls waited for the connection's request budget.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestBudgetStatus {
    /// True when calls waited 100 ms or more on average: the budget, not the platform, sets
    /// the pace. First reconciles and spec changes then go before drift checks.
    pub saturated: bool,
    /// Calls sent in the window.
    pub calls: i64,
    /// Calls that had to wait for the budget.
    pub waited_calls: i64,
    /// Average wait per call, in milliseconds.
    pub average_wait_milliseconds: i64,
    /// Longest wait, in milliseconds.
    pub max_wait_milliseconds: i64,
    /// When the window began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// When the window ended (the check that wrote this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}
