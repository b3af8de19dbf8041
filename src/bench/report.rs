//! The figures a benchmark prints (pure): percentiles and per-object rates.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Serialize, Debug, Default, PartialEq)]
pub struct Report {
    pub objects: usize,
    pub mix: BTreeMap<String, usize>,
    /// Requests per second each sandbox allowed per credential (None: unlimited).
    pub sandbox_rate_limit: Option<u32>,
    /// From the first create until every object was Ready.
    pub seconds_to_all_ready: f64,
    /// From the first create until the apiserver had accepted the last: a floor under the
    /// time to all Ready that the controller does not set.
    pub seconds_to_create_all: f64,
    /// Per object, from its create until it was first seen Ready.
    pub ready_p50_seconds: f64,
    pub ready_p99_seconds: f64,
    /// Platform calls per object while converging, by "PLATFORM METHOD ROUTE".
    pub platform_calls_per_object: BTreeMap<String, f64>,
    pub platform_calls_per_object_total: f64,
    /// Calls the sandboxes answered 429 (rate limit), retried by the controller.
    pub platform_calls_throttled: u64,
    /// Under a rate limit: the least time the calls convergence needed (429s excluded) could
    /// take, each connection having its own budget: max over connections of calls ÷ rate. And
    /// the measured time against it (1.0 is ideal).
    pub ideal_seconds: Option<f64>,
    pub seconds_over_ideal: Option<f64>,
    pub over_ideal_percent: Option<f64>,
    /// Writes the apiserver served for converge.dev objects (status, finalizers) and Events,
    /// per object, the benchmark's own creates excluded.
    pub apiserver_writes_per_object: f64,
    pub events_per_object: f64,
    pub controller_peak_rss_mib: f64,
    pub controller_cpu_seconds: f64,
    pub steady_window_seconds: f64,
    /// At rest, after everything was Ready, scaled to an hour.
    pub steady_platform_calls_per_object_per_hour: f64,
    pub steady_platform_reads_per_object_per_hour: f64,
    pub steady_apiserver_writes_per_object_per_hour: f64,
    /// The objects' drift interval, and the platform reads (GETs) per object in one such
    /// interval at rest: 1.0 means one read per object per drift pass.
    pub drift_interval_seconds: f64,
    pub steady_platform_reads_per_object_per_drift_interval: f64,
    /// The same at rest, every call by "PLATFORM METHOD ROUTE".
    pub steady_platform_calls_per_object_per_drift_interval: BTreeMap<String, f64>,
    /// Deleting the namespace afterwards, with the controller running (None with `--keep`).
    pub teardown: Option<Teardown>,
}

/// The namespace deletion that ends a run: the controller deletes every platform object
/// (children first), then releases the finalizers.
#[derive(Serialize, Debug, Default, PartialEq)]
pub struct Teardown {
    /// Until the namespace was gone; None if it was still there after `--teardown-timeout`.
    pub seconds_to_namespace_gone: Option<f64>,
    /// The controller's peak RSS over the whole run, the deletion included, and its CPU
    /// seconds during the deletion.
    pub controller_peak_rss_mib: f64,
    pub controller_cpu_seconds: f64,
}

/// The `q` quantile (0..1) of `values`, nearest rank.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// `after - before` per key, dropping keys that did not move.
pub fn delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, a)| {
            let d = a.saturating_sub(*before.get(k).unwrap_or(&0));
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// `all - some` per key, dropping keys left at zero.
pub fn subtract(
    all: &BTreeMap<String, u64>,
    some: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    delta(some, all)
}

/// Each platform ("PLATFORM METHOD ROUTE" keys) has its own connection and budget of `rate`
/// calls per second, so the slowest connection sets the least time.
pub fn ideal_seconds(calls: &BTreeMap<String, u64>, rate: f64) -> f64 {
    let mut per_platform: BTreeMap<&str, u64> = BTreeMap::new();
    for (k, v) in calls {
        *per_platform
            .entry(k.split(' ').next().unwrap_or(""))
            .or_default() += v;
    }
    per_platform.values().copied().max().unwrap_or(0) as f64 / rate.max(f64::MIN_POSITIVE)
}

/// Sums `apiserver_request_total` samples of write verbs for one API group and resource kind
/// from the apiserver's Prometheus text. `resource` None sums every resource of the group.
pub fn apiserver_writes(metrics: &str, group: &str, resource: Option<&str>) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter(|l| {
            [
                "\"POST\"",
                "\"PUT\"",
                "\"PATCH\"",
                "\"DELETE\"",
                "\"APPLY\"",
            ]
            .iter()
            .any(|v| l.contains(&format!("verb={v}")))
        })
        .filter(|l| l.contains(&format!("group=\"{group}\"")))
        .filter(|l| resource.is_none_or(|r| l.contains(&format!("resource=\"{r}\""))))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&[3.0], 0.99), 3.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }

    #[test]
    fn delta_keeps_what_moved() {
        let before = BTreeMap::from([("a".to_string(), 2), ("b".to_string(), 5)]);
        let after = BTreeMap::from([("a".into(), 2), ("b".into(), 9), ("c".into(), 1)]);
        assert_eq!(
            delta(&before, &after),
            BTreeMap::from([("b".to_string(), 4), ("c".to_string(), 1)])
        );
    }

    #[test]
    fn the_busiest_connection_sets_the_ideal_time() {
        let calls = BTreeMap::from([
            ("api7 GET /a".to_string(), 30),
            ("api7 POST /b".to_string(), 10),
            ("cycloid GET /c".to_string(), 20),
        ]);
        assert_eq!(ideal_seconds(&calls, 20.0), 2.0);
        assert_eq!(ideal_seconds(&BTreeMap::new(), 20.0), 0.0);
        let throttled = BTreeMap::from([("api7 GET /a".to_string(), 30)]);
        assert_eq!(ideal_seconds(&subtract(&calls, &throttled), 20.0), 1.0);
    }

    #[test]
    fn apiserver_writes_sum_write_verbs_of_a_group() {
        let text = r#"
apiserver_request_total{code="200",component="apiserver",dry_run="",group="converge.dev",resource="projects",scope="resource",subresource="status",verb="APPLY",version="v1alpha1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="converge.dev",resource="projects",scope="resource",subresource="",verb="PATCH",version="v1alpha1"} 3
apiserver_request_total{code="200",component="apiserver",dry_run="",group="converge.dev",resource="projects",scope="resource",subresource="",verb="GET",version="v1alpha1"} 40
apiserver_request_total{code="201",component="apiserver",dry_run="",group="events.k8s.io",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 5
"#;
        assert_eq!(apiserver_writes(text, "converge.dev", None), 10);
        assert_eq!(
            apiserver_writes(text, "converge.dev", Some("components")),
            0
        );
        assert_eq!(apiserver_writes(text, "events.k8s.io", Some("events")), 5);
    }
}
