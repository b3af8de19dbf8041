//! Measuring the window of a canary check with the analysis' provider (the I/O half of
//! `analysis`): API7 Cloud's cluster metrics through the application's connection, or
//! instant queries to a Prometheus server. Whatever goes wrong is a fault, never a value.

use crate::gateway::api7::analysis::{Measured, Measurement, Settings, Values, Window};
use converge_api::gateway::{ApiStatus, CanaryAnalysis, PrometheusProvider};
use converge_platforms::api7::{Api7Client, MetricType, MetricsQuery};
use converge_platforms::prometheus;

/// The default queries, over the APISIX Prometheus exporter's metrics.
pub const REQUESTS_QUERY: &str = "sum(increase(apisix_http_status{$selector}[$window]))";
pub const FAILURES_QUERY: &str =
    r#"sum(increase(apisix_http_status{$selector,code=~"5.."}[$window]))"#;
pub const LATENCY_QUERY: &str = r#"histogram_quantile($quantile, sum by (le) (rate(apisix_http_latency_bucket{type="request",$selector}[$window])))"#;

/// Where the measurement goes: the application on API7 (with its API ids) or Prometheus.
pub struct Target<'a> {
    pub api7: &'a Api7Client,
    pub app_id: &'a str,
    pub apis: &'a [ApiStatus],
}

/// Measures window `w` of the canary's traffic.
pub async fn measure(target: &Target<'_>, analysis: &CanaryAnalysis, w: &Window) -> Measured {
    let settings = Settings::of(analysis);
    let result = match (&analysis.provider.api7, &analysis.provider.prometheus) {
        (_, Some(p)) => from_prometheus(p, &settings, w).await,
        (Some(a), None) => from_api7(target, a.api.as_deref(), &settings, w).await,
        (None, None) => Err("analysis.provider names no provider".to_string()),
    };
    Measured {
        step: w.step,
        at: w.end,
        result: match result {
            Ok(v) => Measurement::Values(v),
            Err(e) => Measurement::Fault(e),
        },
    }
}

fn finite(samples: &[f64]) -> impl Iterator<Item = f64> + '_ {
    samples.iter().copied().filter(|x| x.is_finite())
}

/// A count: the sum of the samples; None when there is none to add up.
fn count(samples: &[f64]) -> Option<f64> {
    finite(samples).reduce(|a, b| a + b)
}

/// The worst latency of the window.
fn worst(samples: &[f64]) -> Option<f64> {
    finite(samples).reduce(f64::max)
}

async fn from_api7(
    t: &Target<'_>,
    api: Option<&str>,
    s: &Settings,
    w: &Window,
) -> Result<Values, String> {
    let api_id = match api {
        Some(name) => Some(
            t.apis
                .iter()
                .find(|a| a.name == name)
                .map(|a| a.id.clone())
                .ok_or_else(|| format!("API {name:?} is not one of this application's APIs"))?,
        ),
        None => None,
    };
    let q = MetricsQuery {
        start: w.start,
        end: w.end,
        step: w.seconds(),
        app_id: Some(t.app_id.to_string()),
        api_id,
    };
    let read = |metric: MetricType| {
        let q = q.clone();
        async move {
            let payload = t
                .api7
                .cluster_metrics(metric, &q)
                .await
                .map_err(|e| e.to_string())?;
            prometheus::samples(&payload)
                .map_err(|e| format!("API7 {} metrics: unreadable payload: {e}", metric.as_str()))
        }
    };
    let whose = match api {
        Some(name) => format!("API {name} of application {}", t.app_id),
        None => format!("application {}", t.app_id),
    };
    let requests = count(&read(MetricType::Requests).await?)
        .ok_or_else(|| format!("no data: API7 reported no api-requests for {whose}"))?;
    let failures = count(&read(MetricType::FailureRequests).await?).unwrap_or(0.0);
    let latency_ms = match s.max_latency {
        Some(_) => worst(&read(MetricType::Latency).await?),
        None => None,
    };
    Ok(Values {
        requests,
        failures,
        latency_ms,
    })
}

/// A query with `$selector`, `$window` and `$quantile` filled in.
pub fn fill(query: &str, p: &PrometheusProvider, s: &Settings, w: &Window) -> String {
    let quantile = f64::from(s.percentile) / 100.0;
    query
        .replace("$selector", p.selector.trim().trim_end_matches(','))
        .replace("$window", &format!("{}s", w.seconds()))
        .replace("$quantile", &format!("{quantile}"))
}

async fn from_prometheus(
    p: &PrometheusProvider,
    s: &Settings,
    w: &Window,
) -> Result<Values, String> {
    let queries = p.queries.clone().unwrap_or_default();
    let run = |query: Option<String>, default: &'static str| {
        let promql = fill(query.as_deref().unwrap_or(default), p, s, w);
        async move { prometheus::query(&p.address, &promql, w.end).await }
    };
    let requests =
        count(&run(queries.requests.clone(), REQUESTS_QUERY).await?).ok_or_else(|| {
            format!(
                "no data: the requests query selects nothing at {} (selector {})",
                p.address, p.selector
            )
        })?;
    // No failed request makes no failure series at all: that is zero, not missing data.
    let failures = count(&run(queries.failures.clone(), FAILURES_QUERY).await?).unwrap_or(0.0);
    let latency_ms = match s.max_latency {
        Some(_) => worst(&run(queries.latency.clone(), LATENCY_QUERY).await?),
        None => None,
    };
    Ok(Values {
        requests,
        failures,
        latency_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queries_get_the_selector_window_and_quantile() {
        let a: CanaryAnalysis = serde_json::from_value(json!({
            "provider": {"prometheus": {"address": "http://p:9090", "selector": "route=\"shop\", node=\"v2\","}},
            "latency": {"max": "300ms", "percentile": 95}
        }))
        .unwrap();
        let p = a.provider.prometheus.clone().unwrap();
        let s = Settings::of(&a);
        let t0 = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let w = Window {
            step: 0,
            start: t0,
            end: t0 + jiff::SignedDuration::from_secs(30),
        };
        assert_eq!(
            fill(FAILURES_QUERY, &p, &s, &w),
            r#"sum(increase(apisix_http_status{route="shop", node="v2",code=~"5.."}[30s]))"#
        );
        assert!(fill(LATENCY_QUERY, &p, &s, &w).starts_with("histogram_quantile(0.95, "));
    }

    #[test]
    fn counts_add_up_and_latency_takes_the_worst() {
        assert_eq!(count(&[1.0, f64::NAN, 2.5]), Some(3.5));
        assert_eq!(count(&[f64::NAN]), None);
        assert_eq!(count(&[]), None);
        assert_eq!(worst(&[10.0, 30.0, f64::INFINITY]), Some(30.0));
    }
}
