//! Platform call metrics: a count per platform, operation and outcome, and a latency histogram
//! per platform and operation. Registered once in the controller's registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub platform: &'static str,
    pub operation: &'static str,
    /// The HTTP status, or an error label (timeout, transport, decode).
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub platform: &'static str,
    pub operation: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BudgetLabels {
    pub platform: &'static str,
    /// The PlatformConnection as namespace/name.
    pub connection: String,
    /// `urgent` (first reconciles, spec changes, work in progress) or `drift` (drift checks of
    /// objects at rest, served only while nothing urgent waits).
    pub priority: &'static str,
}

fn wait_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ])
}

#[derive(Clone)]
pub struct ClientMetrics {
    pub requests: Family<CallLabels, Counter>,
    pub latency: Family<OperationLabels, Histogram, fn() -> Histogram>,
    /// Time each call waited for its connection's request budget.
    pub budget_wait: Family<BudgetLabels, Histogram, fn() -> Histogram>,
}

impl Default for ClientMetrics {
    fn default() -> Self {
        ClientMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            budget_wait: Family::new_with_constructor(wait_histogram as fn() -> Histogram),
        }
    }
}

impl ClientMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "converge_platform_requests",
            "HTTP requests to platform APIs, by platform, operation and status",
            self.requests.clone(),
        );
        registry.register(
            "converge_platform_request_duration_seconds",
            "Latency of platform API requests, by platform and operation",
            self.latency.clone(),
        );
        registry.register(
            "converge_platform_budget_wait_seconds",
            "Time platform calls waited for their connection's request budget, by platform, connection and priority (urgent, drift)",
            self.budget_wait.clone(),
        );
    }

    pub(crate) fn budget_waited(
        &self,
        platform: &'static str,
        connection: &str,
        priority: super::budget::Priority,
        waited: std::time::Duration,
    ) {
        self.budget_wait
            .get_or_create(&BudgetLabels {
                platform,
                connection: connection.to_string(),
                priority: priority.label(),
            })
            .observe(waited.as_secs_f64());
    }

    pub(crate) fn observe(
        &self,
        platform: &'static str,
        operation: &'static str,
        status: String,
        seconds: f64,
    ) {
        self.requests
            .get_or_create(&CallLabels {
                platform,
                operation,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&OperationLabels {
                platform,
                operation,
            })
            .observe(seconds);
    }

    /// How many calls of one operation ended with `status` (for tests and benchmarks).
    pub fn count(&self, platform: &'static str, operation: &'static str, status: &str) -> u64 {
        self.requests
            .get_or_create(&CallLabels {
                platform,
                operation,
                status: status.to_string(),
            })
            .get()
    }
}
