//! The controller's metrics: the build, the process, reconciles by kind and result, their
//! failures, panics and durations, objects by condition, and the platform client metrics, all
//! in one registry served at /metrics.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use converge_platforms::ClientMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

/// A reconcile's result: success, error (retried with backoff) or panic (contained to its
/// object, which is Stalled).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub kind: &'static str,
    pub result: &'static str,
}

/// Objects of a kind whose condition (Ready, Stalled or Reconciling) is True.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabels {
    pub kind: &'static str,
    pub condition: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    commit: &'static str,
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
    pub reconciles: Family<ResultLabels, Counter>,
    /// Reconciles that panicked, by kind (each contained to its object).
    pub panics: Family<KindLabels, Counter>,
    /// Objects by kind and True condition, sampled from the controllers' caches.
    pub objects: Family<ConditionLabels, Gauge>,
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
        let reconciles = Family::<ResultLabels, Counter>::default();
        let failures = Family::<ErrorLabels, Counter>::default();
        let durations = Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        let clients = ClientMetrics::default();
        let mut registry = Registry::default();
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: crate::version::VERSION,
                commit: crate::version::COMMIT,
            })
            .set(1);
        registry.register(
            "converge_build_info",
            "1, labelled with the version and git commit of this build",
            build,
        );
        registry.register_collector(Box::new(super::process::ProcessCollector));
        registry.register(
            "converge_reconciles",
            "Reconciles run, by kind and result (success, error, panic)",
            reconciles.clone(),
        );
        let panics = Family::<KindLabels, Counter>::default();
        registry.register(
            "converge_reconcile_panics",
            "Reconciles that panicked, by kind; each is contained to its object, which is Stalled",
            panics.clone(),
        );
        let objects = Family::<ConditionLabels, Gauge>::default();
        registry.register(
            "converge_objects",
            "Objects by kind and condition (Ready, Stalled, Reconciling) that is True",
            objects.clone(),
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
            panics,
            objects,
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

/// The conditions `converge_objects` counts.
pub const COUNTED_CONDITIONS: [&str; 3] = [
    converge_api::common::conditions::READY,
    converge_api::common::conditions::STALLED,
    converge_api::common::conditions::RECONCILING,
];

impl Metrics {
    /// Sets `converge_objects{kind}` from the statuses of every object of the kind.
    pub fn count_objects<'a>(
        &self,
        kind: &'static str,
        statuses: impl Iterator<Item = Option<&'a converge_api::common::conditions::CommonStatus>>,
    ) {
        let mut counts = [0i64; COUNTED_CONDITIONS.len()];
        for status in statuses.flatten() {
            for (n, condition) in counts.iter_mut().zip(COUNTED_CONDITIONS) {
                *n += i64::from(status.is_true(condition));
            }
        }
        for (n, condition) in counts.into_iter().zip(COUNTED_CONDITIONS) {
            self.objects
                .get_or_create(&ConditionLabels { kind, condition })
                .set(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_build_info_process_and_object_counts() {
        let m = Metrics::default();
        let ready = converge_api::common::conditions::CommonStatus {
            conditions: vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: "Converged".into(),
                message: String::new(),
                observed_generation: None,
                last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                ),
            }],
            ..Default::default()
        };
        m.count_objects("Project", [Some(&ready), None, Some(&ready)].into_iter());
        let text = m.encode();
        let has = |line: &str| text.lines().any(|l| l.starts_with(line));
        assert!(
            has(&format!(
                "converge_build_info{{version=\"{}\",commit=\"{}\"}} 1",
                crate::version::VERSION,
                crate::version::COMMIT
            )),
            "{text}"
        );
        assert!(
            has("converge_objects{kind=\"Project\",condition=\"Ready\"} 2"),
            "{text}"
        );
        assert!(
            has("converge_objects{kind=\"Project\",condition=\"Stalled\"} 0"),
            "{text}"
        );
        for family in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_virtual_memory_bytes ",
            "process_open_fds ",
            "process_max_fds ",
            "process_start_time_seconds ",
        ] {
            assert!(has(family), "{family} missing:\n{text}");
        }
    }
}
