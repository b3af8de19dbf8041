// kube's printcolumn(...) arguments repeat `type_ = ...` by design, which clippy mistakes for
// duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use converge_core::Platform;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::common::conditions::CommonStatus;
use crate::common::policy::Management;
use crate::common::refs::LocalRef;
use crate::common::schema::Api7Label;
use crate::kind::Kind;

/// An API7 Cloud gateway application.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "converge.dev",
    version = "v1alpha1",
    kind = "GatewayApplication",
    namespaced,
    status = "GatewayApplicationStatus",
    shortname = "cvgw",
    category = "converge",
    doc = "An API7 Cloud gateway application: hosts, path prefix, upstream versions, plugins, APIs, publish state, and a canary release driven step by step.",
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
    printcolumn(
        name = "Platform ID",
        type_ = "string",
        json_path = ".status.applicationId"
    ),
    printcolumn(name = "Canary", type_ = "string", json_path = ".status.canary.phase"),
    printcolumn(
        name = "Weight",
        type_ = "integer",
        json_path = ".status.canary.weight",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("self.upstreams.exists(u, u.version == (has(self.defaultUpstreamVersion) ? self.defaultUpstreamVersion : 'default'))").message("defaultUpstreamVersion must name one of upstreams[].version (it defaults to \"default\")"))]
#[x_kube(validation = Rule::new("!has(self.canary) || self.upstreams.exists(u, u.version == self.canary.upstreamVersion)").message("canary.upstreamVersion must name one of upstreams[].version"))]
#[x_kube(validation = Rule::new("!has(self.canary) || self.canary.upstreamVersion != (has(self.defaultUpstreamVersion) ? self.defaultUpstreamVersion : 'default')").message("canary.upstreamVersion must differ from defaultUpstreamVersion: a canary shifts traffic to another version"))]
#[x_kube(validation = Rule::new("!has(self.canary) || !has(self.canary.analysis) || !has(self.canary.analysis.provider.api7) || !has(self.canary.analysis.provider.api7.api) || (has(self.apis) && self.apis.exists(a, a.name == self.canary.analysis.provider.api7.api))").message("canary.analysis.provider.api7.api must name one of apis[].name"))]
#[serde(rename_all = "camelCase")]
pub struct GatewayApplicationSpec {
    /// The PlatformConnection to use; it must be an api7 connection (it names the cluster).
    pub connection_ref: LocalRef,
    #[serde(flatten)]
    pub management: Management,
    /// Application name in API7 Cloud, unique in the cluster: its natural key.
    #[schemars(length(min = 1, max = 64))]
    pub name: String,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub description: Option<String>,
    /// Host names the application answers on.
    #[schemars(length(min = 1, max = 64), inner(length(min = 1, max = 253)))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub hosts: Vec<String>,
    /// The listening path prefix, for example /orders.
    #[schemars(length(min = 1, max = 4096), regex(pattern = r"^/"))]
    pub path_prefix: String,
    /// HTTP, HTTPS or both (default HTTP).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 2))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub protocols: Vec<Protocol>,
    /// Upstream versions traffic can go to: 1 to 10, each with a unique version name.
    #[schemars(length(min = 1, max = 10))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["version"]))]
    pub upstreams: Vec<UpstreamVersion>,
    /// The upstream version that takes traffic outside a canary (default "default").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub default_upstream_version: Option<String>,
    /// Plugins (policies such as cors or limit-count), by plugin name, as API7 Cloud takes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::common::schema::free_form_object")]
    pub plugins: Option<serde_json::Map<String, serde_json::Value>>,
    /// Labels for classification: up to 32.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub labels: Vec<Api7Label>,
    /// Published applications serve traffic (API7 `active: 0`). Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<bool>,
    /// The application's APIs (routes). APIs not listed here are left alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub apis: Vec<GatewayApi>,
    /// A canary release: shift traffic to another upstream version in steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
}

/// HTTP or HTTPS.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Http,
    Https,
}

/// One upstream version of the application.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamVersion {
    /// Version name, for example v1 or default.
    #[schemars(length(min = 1, max = 64))]
    pub version: String,
    /// http (default) or https to the targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<UpstreamScheme>,
    /// Load balancing: roundrobin (default), consistent_hash, ewma or least_conn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lb_type: Option<LbType>,
    /// Backend targets.
    #[schemars(length(min = 1, max = 64))]
    pub targets: Vec<UpstreamTarget>,
    /// Retries on another target after a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub retries: Option<i32>,
    /// Timeouts in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<UpstreamTimeout>,
}

/// Upstream scheme.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamScheme {
    Http,
    Https,
}

/// Load balancing algorithms.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LbType {
    Roundrobin,
    ConsistentHash,
    Ewma,
    LeastConn,
}

/// A backend target.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamTarget {
    /// Host name or IP address.
    #[schemars(length(min = 1, max = 253))]
    pub host: String,
    /// Port.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Relative weight (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 65535))]
    pub weight: Option<i32>,
}

/// Upstream timeouts in seconds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamTimeout {
    /// Seconds to establish a connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub connect: Option<i32>,
    /// Seconds between two writes of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub send: Option<i32>,
    /// Seconds between two reads of the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub read: Option<i32>,
}

/// An API (route) of the application.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayApi {
    /// API name, unique in the application.
    #[schemars(length(min = 1, max = 64))]
    pub name: String,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub description: Option<String>,
    /// Allowed HTTP methods; empty allows all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 7))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub methods: Vec<crate::apispec::HttpMethod>,
    /// URI paths matched by this API: 1 to 64.
    #[schemars(length(min = 1, max = 64))]
    pub paths: Vec<ApiPath>,
    /// Strip the application's path prefix before forwarding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strip_path_prefix: Option<bool>,
    /// Plugins of this API, by plugin name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::common::schema::free_form_object")]
    pub plugins: Option<serde_json::Map<String, serde_json::Value>>,
    /// Labels: up to 32.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub labels: Vec<Api7Label>,
    /// Rest (default) or WebSocket.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ApiType>,
    /// Published APIs serve traffic. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<bool>,
}

/// A path matched by an API.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiPath {
    /// The path, starting with '/'.
    #[schemars(length(min = 1, max = 4096), regex(pattern = r"^/"))]
    pub path: String,
    /// Prefix (default) or Exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_type: Option<PathType>,
}

/// How a path matches.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum PathType {
    Prefix,
    Exact,
}

/// Kinds of API.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum ApiType {
    Rest,
    WebSocket,
}

/// A canary release by percentage, driven through the declared steps.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.steps.map(s, s.weight).isSorted()").message("canary step weights must not decrease"))]
pub struct Canary {
    /// Name of the canary release in API7 Cloud.
    #[schemars(length(min = 1, max = 64))]
    pub name: String,
    /// The upstream version that receives canary traffic.
    #[schemars(length(min = 1, max = 64))]
    pub upstream_version: String,
    /// Steps: each sets the share of traffic sent to the canary version, then pauses. After the
    /// last step the canary version becomes the default and the release finishes.
    #[schemars(length(min = 1, max = 20))]
    pub steps: Vec<CanaryStep>,
    /// true aborts the release: traffic goes back to the default version and the canary ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<bool>,
    /// Runs an aborted release again: a new value (1, then 2, ...) starts it afresh from its
    /// first step, under the same name. An aborted release never runs again by itself, and
    /// setting abort back to false does not restart it. A new value while the release runs
    /// or after it was promoted changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000000))]
    pub retry: Option<i32>,
    /// Judge each step on measured health before going on: checks run during every step's
    /// pause, and a failed analysis aborts the release (traffic back on the default version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Box<CanaryAnalysis>>,
}

/// The checks that gate every canary step. During each step's pause a check runs every
/// `interval` over the traffic of the last `window`; the step ends with the first passing check
/// at or after the end of its pause, so every step is judged at least once. Each failed check
/// counts toward `failureLimit`, which aborts the release. Metrics that cannot be read are
/// retried and never count as a pass; after `faultTimeout` the canary pauses at its weight.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.latency) || !has(self.latency.percentile) || has(self.provider.prometheus)").message("latency.percentile needs the prometheus provider: API7's latency metric has no percentile"))]
pub struct CanaryAnalysis {
    /// Where the measurements come from.
    pub provider: MetricsProvider,
    /// Time between two checks (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = crate::common::schema::week_duration("analysis.interval"))]
    pub interval: Option<String>,
    /// The traffic a check judges: the last `window` (default: the interval), never from
    /// before the step began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = crate::common::schema::week_duration("analysis.window"))]
    pub window: Option<String>,
    /// Failed requests, as a percentage of all requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_rate: Option<FailureRateCheck>,
    /// Request latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyCheck>,
    /// Requests in the window: fewer fails the check, so an idle canary is never judged
    /// healthy (default minimum 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<RequestsCheck>,
    /// Failed checks that abort the release (default 1: the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub failure_limit: Option<i32>,
    /// How long the provider may fail to answer (errors, throttling, timeouts, no data) before
    /// the canary pauses at its weight with a message (default 5m). It resumes when the
    /// provider answers again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = crate::common::schema::week_duration("analysis.faultTimeout"))]
    pub fault_timeout: Option<String>,
}

/// Exactly one metrics provider.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.api7) != has(self.prometheus)").message("analysis.provider must set exactly one of api7 or prometheus"))]
pub struct MetricsProvider {
    /// API7 Cloud's cluster metrics, through the application's connection. They are per
    /// application (or API), not per upstream version: the check judges all the traffic of
    /// the application while the canary takes its share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api7: Option<Api7MetricsProvider>,
    /// A Prometheus server that scrapes the gateway (the APISIX exporter's metrics by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusProvider>,
}

/// API7 Cloud metrics.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Api7MetricsProvider {
    /// Judge one API of this application only (a name from spec.apis) instead of all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub api: Option<String>,
}

/// A Prometheus server and the canary version's traffic in it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusProvider {
    /// The server's base URL, such as http://prometheus.monitoring:9090. Queried without
    /// credentials.
    #[schemars(length(min = 1, max = 2048), regex(pattern = r"^https?://[^\s]+$"))]
    pub address: String,
    /// PromQL label matchers that select the canary version's requests, such as
    /// `route="checkout", node="10.0.0.12"`. Substituted for `$selector` in the queries.
    #[schemars(length(min = 1, max = 1024))]
    pub selector: String,
    /// Queries replacing the defaults, which read the APISIX Prometheus exporter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queries: Option<PrometheusQueries>,
}

/// PromQL instant queries, each answering one number. `$selector` is replaced by the selector,
/// `$window` by the window in seconds (such as `30s`), `$quantile` by the latency percentile as
/// a fraction (such as `0.99`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusQueries {
    /// Requests in the window. Default
    /// `sum(increase(apisix_http_status{$selector}[$window]))`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub requests: Option<String>,
    /// Failed requests in the window. Default: those answered 5xx,
    /// `sum(increase(apisix_http_status{$selector,code=~"5.."}[$window]))`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub failures: Option<String>,
    /// Latency in milliseconds. Default
    /// `histogram_quantile($quantile, sum by (le) (rate(apisix_http_latency_bucket{type="request",$selector}[$window])))`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub latency: Option<String>,
}

/// The most failures allowed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailureRateCheck {
    /// The highest acceptable failure rate, in percent (0 to 100; 1.5 means 1.5%).
    #[schemars(range(min = 0.0, max = 100.0))]
    pub max: f64,
}

/// The slowest acceptable latency.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LatencyCheck {
    /// The highest acceptable latency, such as 500ms.
    #[schemars(transform = crate::common::schema::week_duration("latency.max"))]
    pub max: String,
    /// The percentile judged, 1 to 100 (default 99). Prometheus only: API7 reports one
    /// latency figure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub percentile: Option<i32>,
}

/// The fewest requests a check needs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestsCheck {
    /// The least number of requests in the window for the check to pass.
    #[schemars(range(min = 0, max = 1000000000))]
    pub min: i64,
}

/// One canary step.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStep {
    /// Percentage of requests sent to the canary version, 1 to 100.
    #[schemars(range(min = 1, max = 100))]
    pub weight: i32,
    /// How long to hold this weight before the next step, such as 30s or 10m. Without it the
    /// next step follows as soon as API7 reports this one in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = crate::common::schema::week_duration("a canary step's pause"))]
    pub pause: Option<String>,
}

/// The platform's view of the application.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayApplicationStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// API7 Cloud application id (a decimal string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// API ids by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apis: Vec<ApiStatus>,
    /// Where the canary release is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryStatus>,
}

/// An API's platform id.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiStatus {
    /// The API's name as declared.
    pub name: String,
    /// API7 Cloud API id (a decimal string).
    pub id: String,
}

/// Where the canary release is. A restarted controller resumes from here.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStatus {
    /// The release this status describes (spec.canary.name when it was written); a release of
    /// another name starts afresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// API7 Cloud canary release id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Progressing, Paused, Promoted or Aborted.
    pub phase: String,
    /// Index of the current step (0-based).
    pub step: i32,
    /// Percentage of traffic currently sent to the canary version.
    pub weight: i32,
    /// When the current step began its pause (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_started_at: Option<String>,
    /// API7 Cloud's state: in_progress, paused or finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The spec.canary.retry this run of the release was started for (or saw last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<i32>,
    /// Where the release stands and what happens next, for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The analysis of this run: each check's latest value and the step it judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisStatus>,
}

/// Where the canary analysis stands. A restarted controller goes on from here.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisStatus {
    /// The step (0-based) whose checks `checks` counts.
    pub step: i32,
    /// Checks run at that step so far (passed or failed).
    pub checks: i32,
    /// Failed checks in this run of the release; failureLimit of them abort it.
    pub failed_checks: i32,
    /// When the provider was last asked (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check_at: Option<String>,
    /// The latest result of each check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<CheckResult>,
    /// Since when the provider has failed to answer (RFC 3339); unset once it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_since: Option<String>,
    /// The provider's last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// The check that aborted the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<CheckResult>,
}

/// One check's latest measurement.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// failureRate, latency or requests.
    pub name: String,
    /// The value measured, with its unit (such as 2.5%, 120ms, 340).
    pub value: String,
    /// The bound it was held to (such as "max 5%" or "min 20").
    pub threshold: String,
    /// Whether the value was within the bound.
    pub passed: bool,
    /// The step (0-based) it judged.
    pub step: i32,
    /// When it was measured (RFC 3339).
    pub measured_at: String,
}

impl Kind for GatewayApplication {
    const KIND: &'static str = "GatewayApplication";
    type Status = GatewayApplicationStatus;

    fn management(&self) -> &Management {
        &self.spec.management
    }
    fn connection_name(&self) -> &str {
        &self.spec.connection_ref.name
    }
    fn platform(&self) -> Option<Platform> {
        // API7 Cloud is the only gateway Converge drives: the spec has no platform block.
        Some(Platform::Api7)
    }
    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
    fn common(status: &Self::Status) -> &CommonStatus {
        &status.common
    }
    fn common_mut(status: &mut Self::Status) -> &mut CommonStatus {
        &mut status.common
    }
    fn platform_id(status: &Self::Status) -> Option<&str> {
        status.application_id.as_deref()
    }
    fn platform_object(&self, id: &str) -> String {
        format!("API7 application {:?} (id {id})", self.spec.name)
    }
}
