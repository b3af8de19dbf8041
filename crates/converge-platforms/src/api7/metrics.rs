//! "Get Cluster Metrics": a metric of the cluster's gateways over a time range, optionally for
//! one application or API.
//!
//! The docs give the operation's parameters — `cluster_id` and `metric_type` in the path,
//! `start`, `end` (RFC 3339), `step` (seconds), `app_id`, `api_id`, `instance_id` in the
//! query — and the envelope, but neither its URL path nor the fields of its payload, and no
//! public spec has either. So the path is a setting of the connection
//! (`spec.api7.metricsPath`, default [`DEFAULT_METRICS_PATH`]), and the payload is read as a
//! Prometheus query result (`resultType`, `result`), the shape API7's Prometheus-backed
//! metrics take elsewhere; both are unconfirmed, and the README says so. Each sample is read as
//! the metric over the `step` seconds that end at its time (a count for requests, milliseconds
//! for latency).

use jiff::Timestamp;
use reqwest::Method;
use serde_json::Value;

use super::{Api7Client, ClientError, check_id};

/// The path Converge asks when the connection names none (unconfirmed: the docs give none).
/// `{cluster_id}` and `{metric_type}` are replaced.
pub const DEFAULT_METRICS_PATH: &str = "/api/v1/clusters/{cluster_id}/metrics/{metric_type}";

/// The `metric_type` values the docs list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    /// Requests.
    Requests,
    /// Failed requests: status code 400 and above.
    FailureRequests,
    StatusDist,
    Latency,
    Bandwidth,
    Connections,
    Qps,
}

impl MetricType {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Requests => "api-requests",
            MetricType::FailureRequests => "api-failure-requests",
            MetricType::StatusDist => "api-status-dist",
            MetricType::Latency => "api-latency",
            MetricType::Bandwidth => "api-bandwidth",
            MetricType::Connections => "api-connections",
            MetricType::Qps => "api-qps",
        }
    }
}

/// The documented query parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsQuery {
    pub start: Timestamp,
    pub end: Timestamp,
    /// Resolution in seconds (at least 1).
    pub step: u64,
    pub app_id: Option<String>,
    pub api_id: Option<String>,
}

impl Api7Client {
    /// The path of one metric, from the connection's setting.
    fn metrics_path(&self, metric: MetricType) -> String {
        self.metrics_path
            .replace("{cluster_id}", &self.scope.cluster_id)
            .replace("{metric_type}", metric.as_str())
    }

    /// Get Cluster Metrics: the payload as the platform sends it (see the module doc for how
    /// Converge reads it). A GET, retried like any read.
    pub async fn cluster_metrics(
        &self,
        metric: MetricType,
        q: &MetricsQuery,
    ) -> Result<Value, ClientError> {
        for id in [&q.app_id, &q.api_id].into_iter().flatten() {
            check_id("metrics filter id", id)?;
        }
        let mut call =
            super::Call::new(Method::GET, "getClusterMetrics", self.metrics_path(metric))
                .query("start", q.start.to_string())
                .query("end", q.end.to_string())
                .query("step", q.step.max(1));
        if let Some(app) = &q.app_id {
            call = call.query("app_id", app);
        }
        if let Some(api) = &q.api_id {
            call = call.query("api_id", api);
        }
        self.payload(self.in_cluster(call)).await
    }
}
