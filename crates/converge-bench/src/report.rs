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
    /// `--second-wave N`: N more objects created after the steady window, while the first
    /// wave's drift checks run (None without the flag).
    pub second_wave: Option<SecondWave>,
    /// Deleting the namespace afterwards, with the controller running (None with `--keep`).
    pub teardown: Option<Teardown>,
}

/// New objects created while the objects already Ready are drift-checked: how long they took
/// to become Ready, and what share of the request budget the drift checks took meanwhile.
#[derive(Serialize, Debug, Default, PartialEq)]
pub struct SecondWave {
    pub objects: usize,
    /// From the wave's first create until all of its objects were Ready: the window the calls
    /// below were counted in.
    pub seconds_to_all_ready: f64,
    pub seconds_to_create_all: f64,
    /// Per object of the wave, from its create until it was first seen Ready.
    pub ready_p50_seconds: f64,
    pub ready_p99_seconds: f64,
    pub ready_max_seconds: f64,
    /// Calls the sandboxes served in the window (429s included), and those answered 429.
    pub platform_calls: u64,
    pub platform_calls_throttled: u64,
    /// From the controller's `converge_platform_budget_wait_seconds`, by priority label
    /// (`urgent`, `drift`): calls in the window, their share of all, and their average wait for
    /// the budget. Empty when the controller does not label the metric by priority.
    pub budget_by_priority: BTreeMap<String, PriorityCalls>,
    /// The drift checks' share of the calls in the window, per platform (each has its own
    /// connection and budget) and over all.
    pub drift_share_by_platform: BTreeMap<String, f64>,
    pub drift_share: Option<f64>,
    /// Connections whose `status.requestBudget` said `saturated: true` at some point of the
    /// window (polled every second), with the status that showed it.
    pub request_budget_saturated: BTreeMap<String, serde_json::Value>,
    /// RequestBudgetSaturated Events in the namespace by the end of the window, and one's
    /// message.
    pub request_budget_saturated_events: usize,
    pub request_budget_saturated_message: Option<String>,
}

#[derive(Serialize, Debug, Default, PartialEq, Clone, Copy)]
pub struct PriorityCalls {
    pub calls: u64,
    pub share: f64,
    pub average_wait_seconds: f64,
}

/// `converge_platform_budget_wait_seconds` count and sum per (platform, priority), from the
/// controller's Prometheus text. Samples without a priority label are left out.
pub fn budget_waits(metrics: &str) -> BTreeMap<(String, String), (u64, f64)> {
    let mut out: BTreeMap<(String, String), (u64, f64)> = BTreeMap::new();
    for line in metrics.lines() {
        let (is_count, rest) = if let Some(r) =
            line.strip_prefix("converge_platform_budget_wait_seconds_count{")
        {
            (true, r)
        } else if let Some(r) = line.strip_prefix("converge_platform_budget_wait_seconds_sum{") {
            (false, r)
        } else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
        };
        let (Some(platform), Some(priority), Ok(value)) = (
            label("platform"),
            label("priority"),
            value.trim().parse::<f64>(),
        ) else {
            continue;
        };
        let entry = out.entry((platform, priority)).or_default();
        if is_count {
            entry.0 += value as u64;
        } else {
            entry.1 += value;
        }
    }
    out
}

/// What `budget_waits` moved between two scrapes, as calls and average wait per priority, and
/// the drift share per platform and over all.
pub fn priority_calls(
    before: &BTreeMap<(String, String), (u64, f64)>,
    after: &BTreeMap<(String, String), (u64, f64)>,
) -> (
    BTreeMap<String, PriorityCalls>,
    BTreeMap<String, f64>,
    Option<f64>,
) {
    let mut by_priority: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    let mut by_platform: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (key, (count, sum)) in after {
        let (c0, s0) = before.get(key).copied().unwrap_or_default();
        let (count, sum) = (count.saturating_sub(c0), (sum - s0).max(0.0));
        let p = by_priority.entry(key.1.clone()).or_default();
        p.0 += count;
        p.1 += sum;
        let platform = by_platform.entry(key.0.clone()).or_default();
        platform.0 += count;
        if key.1 == "drift" {
            platform.1 += count;
        }
    }
    let total: u64 = by_priority.values().map(|p| p.0).sum();
    let share = |part: u64, of: u64| (of > 0).then(|| part as f64 / of as f64);
    let priorities = by_priority
        .iter()
        .map(|(k, (count, sum))| {
            let calls = PriorityCalls {
                calls: *count,
                share: share(*count, total).unwrap_or(0.0),
                average_wait_seconds: if *count > 0 { sum / *count as f64 } else { 0.0 },
            };
            (k.clone(), calls)
        })
        .collect();
    let platforms = by_platform
        .iter()
        .filter_map(|(k, (all, drift))| Some((k.clone(), share(*drift, *all)?)))
        .collect();
    let drift = by_priority.get("drift").map_or(0, |p| p.0);
    (priorities, platforms, share(drift, total))
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
    fn budget_waits_split_calls_by_priority_and_platform() {
        let scrape = |urgent: u64, drift: u64| {
            format!(
                "converge_platform_budget_wait_seconds_sum{{platform=\"api7\",connection=\"ns/api7\",priority=\"urgent\"}} {}\n\
                 converge_platform_budget_wait_seconds_count{{platform=\"api7\",connection=\"ns/api7\",priority=\"urgent\"}} {urgent}\n\
                 converge_platform_budget_wait_seconds_bucket{{le=\"0.1\",platform=\"api7\",connection=\"ns/api7\",priority=\"drift\"}} 1\n\
                 converge_platform_budget_wait_seconds_sum{{platform=\"api7\",connection=\"ns/api7\",priority=\"drift\"}} {}\n\
                 converge_platform_budget_wait_seconds_count{{platform=\"api7\",connection=\"ns/api7\",priority=\"drift\"}} {drift}\n\
                 converge_platform_budget_wait_seconds_count{{platform=\"frends\",connection=\"ns/frends\",priority=\"urgent\"}} {urgent}\n\
                 converge_platform_budget_wait_seconds_count{{platform=\"cycloid\",connection=\"ns/cycloid\"}} 99\n",
                urgent as f64 * 0.5,
                drift as f64 * 2.0,
            )
        };
        let before = budget_waits(&scrape(10, 10));
        assert_eq!(before.len(), 3, "{before:?}");
        let after = budget_waits(&scrape(40, 30));
        let (priorities, platforms, share) = priority_calls(&before, &after);
        assert_eq!(priorities["urgent"].calls, 60);
        assert_eq!(priorities["drift"].calls, 20);
        assert_eq!(priorities["drift"].share, 0.25);
        assert_eq!(priorities["urgent"].average_wait_seconds, 0.25);
        assert_eq!(priorities["drift"].average_wait_seconds, 2.0);
        assert_eq!(platforms["api7"], 0.4);
        assert_eq!(platforms["frends"], 0.0);
        assert_eq!(share, Some(0.25));
        assert_eq!(priority_calls(&after, &after).2, None);
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
