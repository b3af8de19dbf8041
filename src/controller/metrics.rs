//! The controller's metrics: reconciles, their failures and durations per kind, and the platform
//! client metrics, all in one registry served at /metrics.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::clients::ClientMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: &'static str,
    /// The error's metric label (credentials_missing, unauthorized, throttled...).
    pub error: &'static str,
}

fn duration_histogram() -> Histogram {
    Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
}

#[derive(Clone)]
pub struct Metrics {
    pub reconciles: Family<KindLabels, Counter>,
    pub failures: Family<ErrorLabels, Counter>,
    pub durations: Family<KindLabels, Histogram, fn() -> Histogram>,
    pub clients: ClientMetrics,
    /// 1 while this replica runs the controllers (always, without leader election).
    pub leader: Gauge,
    /// Objects the controller still has to converge, by kind: changes not yet observed, and
    /// objects still reconciling (waiting for builds, references, retries).
    pub queue_depth: Family<KindLabels, Gauge>,
    pub registry: Arc<Registry>,
}

impl Default for Metrics {
    fn default() -> Self {
        let reconciles = Family::<KindLabels, Counter>::default();
        let failures = Family::<ErrorLabels, Counter>::default();
        let durations = Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        let clients = ClientMetrics::default();
        let mut registry = Registry::default();
        registry.register(
            "converge_reconciles",
            "Reconciles run, by kind",
            reconciles.clone(),
        );
        registry.register(
            "converge_reconcile_failures",
            "Reconciles that failed, by kind and error",
            failures.clone(),
        );
        registry.register(
            "converge_reconcile_duration_seconds",
            "Reconcile duration, by kind",
            durations.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "converge_leader",
            "1 while this replica runs the controllers (holds the Lease)",
            leader.clone(),
        );
        let queue_depth = Family::<KindLabels, Gauge>::default();
        registry.register(
            "converge_queue_depth",
            "Objects not yet converged for their latest generation or still reconciling, by kind",
            queue_depth.clone(),
        );
        clients.register(&mut registry);
        Metrics {
            queue_depth,
            leader,
            reconciles,
            failures,
            durations,
            clients,
            registry: Arc::new(registry),
        }
    }
}

impl Metrics {
    /// The registry in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
